/* relaydesk — desk: carrying out the actions of the rules (DESIGN.md):
 * keep / fileinto -> ticket (or follow-up) in a queue; discard -> no
 * ticket, the spooled message marked discarded. */
#include "desk-private.h"
#include "message-attachments.h"

/* The parser's attachment list as store rows (metadata only). */
static gboolean
record_attachments (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, GError **error)
{
  GPtrArray *atts = rd_message_get_attachments (msg);
  if (atts->len == 0)
    return TRUE;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < atts->len; i++)
    {
      const RdAttachment *a = g_ptr_array_index (atts, i);
      RdAttachmentMeta *m = g_new0 (RdAttachmentMeta, 1);
      /* borrowed strings: the view outlives this call */
      m->filename = a->filename;
      m->content_type = a->content_type;
      m->disposition = a->disposition;
      m->content_id = a->content_id;
      m->size = a->size;
      m->sha256 = a->sha256;
      m->embedded_subject = a->embedded_subject;
      g_ptr_array_add (rows, m);
    }
  return rd_store_message_attachments_put (d->store, sp->id, (const RdAttachmentMeta *const *) rows->pdata,
                                           rows->len, error);
}

gboolean
rd_desk_apply_actions (RdDesk *d, const RdSpooled *sp, const RdMessage *msg,
                       const RdThreadMatch *match, GPtrArray *actions,
                       gint64 *ticket_number, GError **error)
{
  const char *queue = match->ticket_number ? match->queue : d->default_queue;
  gboolean keep = FALSE;
  for (guint i = 0; i < actions->len; i++)
    {
      RdAction *a = g_ptr_array_index (actions, i);
      if (a->type == RD_ACTION_KEEP)
        keep = TRUE;
      else if (a->type == RD_ACTION_FILEINTO)
        {
          keep = TRUE;
          queue = a->mailbox;
        }
    }
  *ticket_number = 0;
  if (!keep)
    return rd_store_spool_set_state (d->store, sp->id, RD_SPOOL_DISCARDED, "rules: discard", error);

  GPtrArray *from = rd_message_get_from (msg);
  const RdAddress *req = from->len ? g_ptr_array_index (from, 0) : NULL;
  const char *addr = req && *req->addr ? req->addr : (*sp->sender ? sp->sender : "unknown");
  const char *name = req && *req->name ? req->name : NULL;
  const char *subject = rd_message_get_subject (msg);
  if (subject == NULL || *subject == '\0')
    subject = "(no subject)";

  if (match->ticket_number)
    {
      RdFollowupDraft f = {
        .ticket_number = match->ticket_number,
        .spool_id = sp->id,
        .message_id = rd_message_get_message_id (msg),
        .from_name = name,
        .from_addr = addr,
        .subject = subject,
        .body_text = rd_message_get_body_text (msg),
      };
      /* the message and its attachment list in one transaction */
      if (!rd_store_begin (d->store, error))
        return FALSE;
      if (!rd_store_ticket_add_message (d->store, &f, NULL, error) || !record_attachments (d, sp, msg, error)
          || !rd_store_commit (d->store, error))
        {
          rd_store_rollback (d->store);
          return FALSE;
        }
      *ticket_number = match->ticket_number;
      return TRUE;
    }
  RdTicketDraft draft = {
    .queue = queue,
    .subject = subject,
    .requester_name = name,
    .requester_addr = addr,
    .spool_id = sp->id,
    .message_id = rd_message_get_message_id (msg),
    .body_text = rd_message_get_body_text (msg),
  };
  if (!rd_store_begin (d->store, error))
    return FALSE;
  if (!rd_store_ticket_open (d->store, &draft, ticket_number, error) || !record_attachments (d, sp, msg, error)
      || !rd_store_commit (d->store, error))
    {
      rd_store_rollback (d->store);
      return FALSE;
    }
  return TRUE;
}
