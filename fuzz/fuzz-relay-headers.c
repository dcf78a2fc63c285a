/* Fuzz target: the header scanner the relay uses (parser/mail-format.h:
 * loop marker, Auto-Submitted), the address classes of the guard, and the
 * relay URL splitter. */
#include "guard.h"
#include "mail-format.h"
#include "smtp-client.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static RdRelayGuard *guard;
  if (guard == NULL)
    {
      RdConfig *config = rd_config_new_default ();
      guard = rd_relay_guard_new (config, "0123456789abcdef01234567");
      rd_config_free (config);
    }
  const char *raw = (const char *) data;
  g_free (rd_mail_header_get (raw, size, "Auto-Submitted"));
  (void) rd_relay_is_own_loop (raw, (gssize) size, "0123456789abcdef01234567");
  /* the first line as an address and as a relay URL */
  const char *nl = memchr (raw, '\n', size);
  g_autofree char *line = g_strndup (raw, nl ? (gsize) (nl - raw) : size);
  (void) rd_relay_guard_address_reason (guard, line);
  g_autofree char *host = NULL;
  guint16 port = 0;
  gboolean tls = FALSE;
  (void) rd_smtp_client_url_split (line, &tls, &host, &port, NULL);
  return 0;
}
