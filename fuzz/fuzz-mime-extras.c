/* Fuzz target: attachment extraction from untrusted mail
 * (desk/mime-extras.c); delivery reports are the parser's (fuzz-parse). */
#include "mime-extras.h"
#include "message.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean inited;
  if (!inited)
    {
      rd_parser_init ();
      inited = TRUE;
    }
  g_autoptr(GBytes) raw = g_bytes_new (data, size);
  g_autoptr(GPtrArray) atts = rd_mime_extract_attachments (raw);
  g_assert_cmpuint (atts->len, <=, RD_MIME_ATTACHMENTS_MAX);
  return 0;
}
