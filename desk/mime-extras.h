/* relaydesk — desk: what the tickets need from a message that the parser
 * view (parser/message.h) does not carry yet: the decoded bytes of
 * attachments and the fields of a delivery status notification (RFC 3464).
 *
 * Read straight from rd_message_get_raw() with GMime, kept apart here so
 * that it can be switched to the view once the view has these fields.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RD_MIME_ATTACHMENTS_MAX 100
#define RD_DSN_RECIPIENTS_MAX 100

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

typedef struct {
  char *recipient;      /* Final-Recipient addr-spec (the "rfc822;" type stripped) */
  char *action;         /* failed, delayed, delivered, relayed, expanded (lower case) */
  char *status;         /* "5.1.1" */
  char *diagnostic;     /* Diagnostic-Code, bounded */
} RdDsnRecipient;

typedef struct {
  char *original_message_id;  /* of the message the report is about, no brackets */
  GPtrArray *recipients;      /* RdDsnRecipient* */
} RdDsn;

void rd_dsn_free (RdDsn *dsn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdDsn, rd_dsn_free)

/* NULL unless @raw is a multipart/report; report-type=delivery-status
 * with a message/delivery-status part (RFC 3464 2, RFC 6522).
 * (transfer full) */
RdDsn *rd_dsn_parse (GBytes *raw);

G_END_DECLS
