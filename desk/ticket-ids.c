/* relaydesk — desk: signed Message-IDs, reply addresses, subject tags
 * (formats at the top of ticket-ids.h). */
#include "ticket-ids.h"
#include "tickets.h"
#include "rd-common.h"

#include <string.h>
#include <sys/random.h>

#define MAC_BYTES 10          /* 80 bits: 16 base32 characters */
#define MAC_CHARS 16
#define NONCE_CHARS 8
#define NUMBER_DIGITS_MAX 18

struct _RdTicketIds {
  RdConfig *config;
  GBytes *secret;
  char *prefix;
  char *hostname;
  char *reply_address;   /* [desk] reply_address */
  char *from_name;
};

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* RFC 4648 base32 (lower case, no padding) of @len bytes. */
static void
base32 (const guint8 *in, gsize len, char *out, gsize out_chars)
{
  guint64 acc = 0;
  int bits = 0;
  gsize o = 0;
  for (gsize i = 0; i < len && o < out_chars; i++)
    {
      acc = (acc << 8) | in[i];
      bits += 8;
      while (bits >= 5 && o < out_chars)
        {
          out[o++] = b32[(acc >> (bits - 5)) & 31];
          bits -= 5;
        }
    }
  if (bits > 0 && o < out_chars)
    out[o++] = b32[(acc << (5 - bits)) & 31];
  out[o] = '\0';
}

static void
mac (RdTicketIds *ids, const char *data, char out[MAC_CHARS + 1])
{
  gsize klen;
  const guint8 *key = g_bytes_get_data (ids->secret, &klen);
  g_autoptr(GHmac) h = g_hmac_new (G_CHECKSUM_SHA256, key, klen);
  g_hmac_update (h, (const guchar *) data, -1);
  guint8 digest[32];
  gsize dlen = sizeof digest;
  g_hmac_get_digest (h, digest, &dlen);
  base32 (digest, MAC_BYTES, out, MAC_CHARS);
}

/* Constant-time comparison of two MAC strings (case-insensitive: some
 * systems fold case of local parts). */
static gboolean
mac_equal (const char *a, const char *b, gsize n)
{
  guint8 diff = 0;
  for (gsize i = 0; i < n; i++)
    diff |= (guint8) (g_ascii_tolower (a[i]) ^ g_ascii_tolower (b[i]));
  return diff == 0;
}

RdTicketIds *
rd_ticket_ids_new (RdConfig *config, RdStore *store, GError **error)
{
  g_autoptr(GBytes) secret = rd_store_desk_secret (store, error);
  if (secret == NULL)
    return NULL;
  RdTicketIds *ids = g_new0 (RdTicketIds, 1);
  ids->config = config;
  ids->secret = g_steal_pointer (&secret);
  ids->prefix = g_strdup (rd_config_get_string (config, "desk", "subject_tag_prefix",
                                                RD_DEFAULT_SUBJECT_TAG_PREFIX));
  ids->hostname = g_strdup (rd_config_get_hostname (config));
  const char *ra = rd_config_get_string (config, "desk", "reply_address", NULL);
  ids->reply_address = ra ? g_strdup (ra) : g_strdup_printf ("support@%s", ids->hostname);
  ids->from_name = g_strdup (rd_config_get_string (config, "desk", "from_name", "Support"));
  return ids;
}

void
rd_ticket_ids_free (RdTicketIds *ids)
{
  if (ids == NULL)
    return;
  g_bytes_unref (ids->secret);
  g_free (ids->prefix);
  g_free (ids->hostname);
  g_free (ids->reply_address);
  g_free (ids->from_name);
  g_free (ids);
}

char *
rd_ticket_ids_new_message_id (RdTicketIds *ids, gint64 number)
{
  guint8 rnd[5];
  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    {
      /* Uniqueness, not secrecy, is what the nonce is for. */
      guint32 r = g_random_int ();
      memcpy (rnd, &r, 4);
      rnd[4] = (guint8) g_get_monotonic_time ();
    }
  char nonce[NONCE_CHARS + 1];
  base32 (rnd, sizeof rnd, nonce, NONCE_CHARS);
  g_autofree char *data = g_strdup_printf ("msgid:%" G_GINT64_FORMAT ":%s", number, nonce);
  char m[MAC_CHARS + 1];
  mac (ids, data, m);
  return g_strdup_printf ("rd-%" G_GINT64_FORMAT "-%s-%s@%s", number, nonce, m, ids->hostname);
}

/* Parses "<digits>" at *p, moving past them. */
static gboolean
take_number (const char **p, gint64 *number)
{
  const char *s = *p;
  gsize n = 0;
  while (g_ascii_isdigit (s[n]))
    n++;
  if (n == 0 || n > NUMBER_DIGITS_MAX || s[0] == '0')
    return FALSE;
  g_autofree char *digits = g_strndup (s, n);
  *number = g_ascii_strtoll (digits, NULL, 10);
  *p = s + n;
  return *number > 0;
}

gboolean
rd_ticket_ids_check_message_id (RdTicketIds *ids, const char *message_id, gint64 *number)
{
  if (message_id == NULL)
    return FALSE;
  const char *p = message_id;
  if (*p == '<')
    p++;
  if (g_ascii_strncasecmp (p, "rd-", 3) != 0)
    return FALSE;
  p += 3;
  gint64 n = 0;
  if (!take_number (&p, &n) || *p++ != '-')
    return FALSE;
  const char *nonce = p;
  for (int i = 0; i < NONCE_CHARS; i++)
    if (!g_ascii_isalnum (nonce[i]))
      return FALSE;
  p += NONCE_CHARS;
  if (*p++ != '-')
    return FALSE;
  const char *given = p;
  for (int i = 0; i < MAC_CHARS; i++)
    if (!g_ascii_isalnum (given[i]))
      return FALSE;
  if (given[MAC_CHARS] != '@')
    return FALSE;
  g_autofree char *nonce_lc = g_ascii_strdown (nonce, NONCE_CHARS);
  g_autofree char *data = g_strdup_printf ("msgid:%" G_GINT64_FORMAT ":%s", n, nonce_lc);
  char m[MAC_CHARS + 1];
  mac (ids, data, m);
  if (!mac_equal (m, given, MAC_CHARS))
    return FALSE;
  *number = n;
  return TRUE;
}

static char *
queue_key (RdTicketIds *ids, const char *queue, const char *key)
{
  if (queue == NULL)
    return NULL;
  g_autofree char *group = g_strdup_printf ("queue.%s", queue);
  const char *v = rd_config_get_string (ids->config, group, key, NULL);
  return v ? g_strdup (v) : NULL;
}

const char *
rd_ticket_ids_from_address (RdTicketIds *ids, const char *queue)
{
  g_autofree char *group = queue ? g_strdup_printf ("queue.%s", queue) : NULL;
  const char *v = group ? rd_config_get_string (ids->config, group, "reply_address", NULL) : NULL;
  return v ? v : ids->reply_address;
}

const char *
rd_ticket_ids_from_name (RdTicketIds *ids, const char *queue)
{
  g_autofree char *group = queue ? g_strdup_printf ("queue.%s", queue) : NULL;
  const char *v = group ? rd_config_get_string (ids->config, group, "from_name", NULL) : NULL;
  return v ? v : ids->from_name;
}

char *
rd_ticket_ids_reply_address (RdTicketIds *ids, const char *queue, gint64 number)
{
  g_autofree char *own = queue_key (ids, queue, "reply_address");
  const char *base = own ? own : ids->reply_address;
  g_autofree char *local = NULL, *domain = NULL;
  if (!rd_address_split (base, &local, &domain))
    {
      local = g_strdup ("support");
      domain = g_strdup (ids->hostname);
    }
  g_autofree char *data = g_strdup_printf ("reply:%" G_GINT64_FORMAT, number);
  char m[MAC_CHARS + 1];
  mac (ids, data, m);
  return g_strdup_printf ("%s+%" G_GINT64_FORMAT "-%s@%s", local, number, m, domain);
}

gboolean
rd_ticket_ids_check_reply_address (RdTicketIds *ids, const char *addr, gint64 *number)
{
  g_autofree char *local = NULL;
  if (!rd_address_split (addr, &local, NULL))
    return FALSE;
  /* The token is the last "+detail" (RFC 5233 subaddress). */
  const char *plus = strrchr (local, '+');
  if (plus == NULL)
    return FALSE;
  const char *p = plus + 1;
  gint64 n = 0;
  if (!take_number (&p, &n) || *p++ != '-' || strlen (p) != MAC_CHARS)
    return FALSE;
  g_autofree char *data = g_strdup_printf ("reply:%" G_GINT64_FORMAT, n);
  char m[MAC_CHARS + 1];
  mac (ids, data, m);
  if (!mac_equal (m, p, MAC_CHARS))
    return FALSE;
  *number = n;
  return TRUE;
}

char *
rd_ticket_ids_subject_tag (RdTicketIds *ids, gint64 number)
{
  return g_strdup_printf ("[%s #%" G_GINT64_FORMAT "]", ids->prefix, number);
}

gboolean
rd_ticket_ids_parse_subject_tag (RdTicketIds *ids, const char *subject, gint64 *number)
{
  if (subject == NULL)
    return FALSE;
  gsize plen = strlen (ids->prefix);
  for (const char *p = strchr (subject, '['); p; p = strchr (p + 1, '['))
    {
      const char *q = p + 1;
      while (*q == ' ')
        q++;
      if (g_ascii_strncasecmp (q, ids->prefix, plen) != 0)
        continue;
      q += plen;
      while (*q == ' ')
        q++;
      if (*q++ != '#')
        continue;
      gint64 n = 0;
      if (!take_number (&q, &n))
        continue;
      while (*q == ' ')
        q++;
      if (*q != ']')
        continue;
      *number = n;
      return TRUE;
    }
  return FALSE;
}

static gboolean
same_mailbox_base (const char *addr, const char *base)
{
  g_autofree char *al = NULL, *ad = NULL, *bl = NULL, *bd = NULL;
  if (!rd_address_split (addr, &al, &ad) || !rd_address_split (base, &bl, &bd))
    return FALSE;
  if (g_ascii_strcasecmp (ad, bd) != 0)
    return FALSE;
  /* support@ and support+anything@ are both ours. */
  char *plus = strchr (al, '+');
  if (plus)
    *plus = '\0';
  return g_ascii_strcasecmp (al, bl) == 0;
}

gboolean
rd_ticket_ids_is_own_address (RdTicketIds *ids, const char *addr)
{
  if (addr == NULL || *addr == '\0')
    return FALSE;
  if (same_mailbox_base (addr, ids->reply_address))
    return TRUE;
  g_auto(GStrv) own = rd_config_get_list (ids->config, "desk", "own_addresses");
  for (guint i = 0; own && own[i]; i++)
    if (same_mailbox_base (addr, g_strstrip (own[i])))
      return TRUE;
  g_auto(GStrv) queues = rd_config_get_list (ids->config, "desk", "queues");
  for (guint i = 0; queues && queues[i]; i++)
    {
      g_autofree char *ra = queue_key (ids, g_strstrip (queues[i]), "reply_address");
      if (ra && same_mailbox_base (addr, ra))
        return TRUE;
    }
  return FALSE;
}
