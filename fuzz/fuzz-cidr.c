/* relaydesk — fuzz target: CIDR blocks (rd_parse_cidr, common/, and the
 * allowlist's rd_allowlist_normalize_cidr / rd_allowlist_add, store/).
 * They read [allowlist] clients and `relaydesk allowlist add` arguments.
 * Checks: a parsed block is 4 or 16 bytes with a prefix in range and no
 * host bits; the normaliser agrees with the parser, and its output parses
 * back to the same block (a round trip); the matcher built from it
 * matches the block's own network address. */
#include "rd-common.h"
#include "allowlist.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 256)
    return 0;
  g_autofree char *text = g_strndup ((const char *) data, size);
  guint8 net[16];
  gsize len = 0;
  guint prefix = 0;
  g_autoptr(GError) error = NULL;
  gboolean ok = rd_parse_cidr (text, net, &len, &prefix, &error);
  g_autoptr(GError) nerror = NULL;
  g_autofree char *norm = rd_allowlist_normalize_cidr (text, &nerror);
  if (!ok)
    {
      g_assert (error != NULL && g_utf8_validate (error->message, -1, NULL));
      g_assert (norm == NULL); /* what the parser refuses, the allowlist does too */
      return 0;
    }
  g_assert (len == 4 || len == 16);
  g_assert (prefix <= len * 8);
  for (guint bit = prefix; bit < len * 8; bit++)
    g_assert ((net[bit / 8] & (0x80 >> (bit % 8))) == 0);
  if (norm != NULL)
    {
      guint8 net2[16];
      gsize len2 = 0;
      guint prefix2 = 0;
      g_assert (rd_parse_cidr (norm, net2, &len2, &prefix2, NULL));
      g_assert (len2 == len && prefix2 == prefix && memcmp (net, net2, len) == 0);
      g_autoptr(RdAllowlist) list = rd_allowlist_new ();
      g_assert (rd_allowlist_add (list, norm, 0, NULL));
      g_assert (rd_allowlist_match (list, net, len, 0));
    }
  return 0;
}
