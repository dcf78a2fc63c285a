/* relaydesk — store: the list of attachments of a ticket message
 * (metadata only: name, type, size, hash), as the parser saw them.
 *
 * Kept apart from the attachment bytes: storing content by hash is the
 * tickets area's job; this list is what `tickets show` prints. Rows live
 * in table message_attachment_meta (migration 0500-parser-attachment-meta),
 * keyed by the message row and the position in the message.
 */
#pragma once

#include "store.h"

G_BEGIN_DECLS

typedef struct {
  char *filename;          /* decoded, NULL when none */
  char *content_type;      /* lower case type/subtype */
  char *disposition;       /* "attachment", "inline" or NULL */
  char *content_id;        /* without brackets, or NULL */
  gint64 size;             /* decoded bytes, -1 for attached messages */
  char *sha256;            /* hex, NULL for attached messages */
  char *embedded_subject;  /* attached message's Subject, or NULL */
} RdAttachmentMeta;

void rd_attachment_meta_free (RdAttachmentMeta *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdAttachmentMeta, rd_attachment_meta_free)

/* Replaces the attachment list of the message recorded from spooled
 * message @spool_id (idempotent: processing again writes the same list).
 * Joins the caller's rd_store_begin() transaction when there is one.
 * RD_ERROR_NOT_FOUND when no message was recorded from @spool_id. */
gboolean rd_store_message_attachments_put (RdStore *store, gint64 spool_id,
                                           const RdAttachmentMeta *const *items, guint n,
                                           GError **error);

/* The list of message row @message_id, in order (RdAttachmentMeta*).
 * (transfer full) */
GPtrArray *rd_store_message_attachments_get (RdStore *store, gint64 message_id, GError **error);

G_END_DECLS
