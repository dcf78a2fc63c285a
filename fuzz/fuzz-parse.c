/* relaydesk — fuzz target: raw bytes -> the parsed message view.
 * Walks every field of the view so each accessor's data is touched. */
#include "message.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  rd_parser_init ();
  g_autoptr(GBytes) raw = g_bytes_new (data, size);
  RdParserLimits limits;
  rd_parser_limits_init (&limits);
  g_autoptr(RdMessage) m = rd_message_parse_with_limits (raw, &limits, NULL);
  if (m == NULL)
    return 0;
  gsize total = 0;
  const char *strs[] = {
    rd_message_get_subject (m), rd_message_get_message_id (m), rd_message_get_in_reply_to (m),
    rd_message_get_body_source (m), rd_message_get_body_text (m), rd_message_get_body_new_text (m),
    rd_message_get_body_quoted (m), rd_message_get_auto_submitted (m), rd_message_get_precedence (m),
    rd_message_get_list_id (m), rd_message_get_dsn_original_message_id (m),
  };
  for (guint i = 0; i < G_N_ELEMENTS (strs); i++)
    if (strs[i])
      {
        g_assert (g_utf8_validate (strs[i], -1, NULL));
        total += strlen (strs[i]);
      }
  if (rd_message_get_body_text (m))
    g_assert (strlen (rd_message_get_body_new_text (m)) + strlen (rd_message_get_body_quoted (m))
              == strlen (rd_message_get_body_text (m)));
  GPtrArray *lists[] = { rd_message_get_from (m), rd_message_get_to (m), rd_message_get_cc (m),
                         rd_message_get_reply_to (m), rd_message_get_sender (m) };
  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    for (guint j = 0; j < lists[i]->len; j++)
      {
        RdAddress *a = g_ptr_array_index (lists[i], j);
        g_assert (g_utf8_validate (a->name, -1, NULL) && g_utf8_validate (a->addr, -1, NULL));
      }
  GPtrArray *atts = rd_message_get_attachments (m);
  for (guint i = 0; i < atts->len; i++)
    {
      RdAttachment *a = g_ptr_array_index (atts, i);
      g_assert (a->content_type != NULL);
      if (a->filename)
        g_assert (g_utf8_validate (a->filename, -1, NULL));
      if (a->size >= 0)
        g_assert (a->content == NULL || (gint64) g_bytes_get_size (a->content) == a->size);
      if (a->content && g_bytes_get_size (a->content) > 0)
        {
          /* touch both ends: attached messages are slices of the input */
          gsize n = 0;
          const guint8 *b = g_bytes_get_data (a->content, &n);
          total += b[0] + b[n - 1];
        }
    }
  for (const char *const *r = rd_message_get_references (m); *r; r++)
    total += strlen (*r);
  GPtrArray *w = rd_message_get_warnings (m);
  g_assert (w->len <= 100);
  return total == (gsize) -1;
}
