/* relaydesk — desk: carrying out the actions of the rules (DESIGN.md):
 * keep / fileinto -> ticket (or follow-up) in a queue; discard -> no
 * ticket, the spooled message marked discarded. */
#include "desk-private.h"

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
      if (!rd_store_ticket_add_message (d->store, &f, NULL, error))
        return FALSE;
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
  return rd_store_ticket_open (d->store, &draft, ticket_number, error);
}
