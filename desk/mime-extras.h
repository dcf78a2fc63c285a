/* relaydesk — desk: the attachments as the tickets store them: every part
 * with a filename or an "attachment" disposition, non-text leaves, and
 * message/rfc822 parts kept whole as written (the parser view leaves
 * attached messages' bytes out), read from the raw message with GMime.
 * Delivery reports come from the parser view (rd_message_get_dsn_*).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RD_MIME_ATTACHMENTS_MAX 100

typedef struct {
  char *filename;       /* decoded; NULL when none */
  char *content_type;   /* "type/subtype", lower case */
  GBytes *data;         /* decoded content (message parts: as written) */
} RdMimeAttachment;

void rd_mime_attachment_free (RdMimeAttachment *a);

/* Attachments of @raw in document order: parts with a filename or an
 * "attachment" disposition, non-text leaves, and message/rfc822 parts
 * (kept whole, not descended into). At most RD_MIME_ATTACHMENTS_MAX.
 * (transfer full) */
GPtrArray *rd_mime_extract_attachments (GBytes *raw);


G_END_DECLS
