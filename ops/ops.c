/* relaydesk — ops: the context, authorization, and the ticket operations
 * (see ops.h). */
#include "ops-private.h"

#include <string.h>

#define NOTE_MAX (1024 * 1024)

RdOps *
rd_ops_new (RdConfig *config, RdStore *store, GError **error)
{
  RdOps *ops = g_new0 (RdOps, 1);
  ops->config = config;
  ops->store = store;
  return ops;
}

void
rd_ops_free (RdOps *ops)
{
  if (ops == NULL)
    return;
  rd_ticket_ids_free (ops->ids);
  g_free (ops);
}

RdConfig *
rd_ops_get_config (RdOps *ops)
{
  return ops->config;
}

RdStore *
rd_ops_get_store (RdOps *ops)
{
  return ops->store;
}

gboolean
rd_ops_need_store (RdOps *ops, GError **error)
{
  if (ops->store)
    return TRUE;
  g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no database (is --data-dir right?)");
  return FALSE;
}

RdTicketIds *
rd_ops_ids (RdOps *ops, GError **error)
{
  if (ops->ids == NULL && rd_ops_need_store (ops, error))
    ops->ids = rd_ticket_ids_new (ops->config, ops->store, error);
  return ops->ids;
}

gboolean
rd_actor_sees_queue (const RdActor *actor, const char *queue)
{
  return actor->queues == NULL || (queue && g_strv_contains (actor->queues, queue));
}

gboolean
rd_ops_need_admin (const RdActor *actor, const char *what, GError **error)
{
  if (actor->admin)
    return TRUE;
  g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "%s needs an administrator", what);
  return FALSE;
}

/* The ticket, when the actor may see it; a ticket of another queue is
 * "not found" for them, as a missing one is. */
static RdTicket *
visible_ticket (RdOps *ops, const RdActor *actor, gint64 number, gboolean full, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return NULL;
  g_autoptr(RdTicket) t = full ? rd_store_ticket_get (ops->store, number, error)
                               : rd_store_ticket_peek (ops->store, number, error);
  if (t == NULL)
    return NULL;
  if (!rd_actor_sees_queue (actor, t->queue))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no ticket #%" G_GINT64_FORMAT, number);
      return NULL;
    }
  return g_steal_pointer (&t);
}

gboolean
rd_ops_check_ticket (RdOps *ops, const RdActor *actor, gint64 number, GError **error)
{
  g_autoptr(RdTicket) t = visible_ticket (ops, actor, number, FALSE, error);
  return t != NULL;
}

/* ---- reading ---------------------------------------------------------- */

GPtrArray *
rd_ops_tickets_list (RdOps *ops, const RdActor *actor, const RdTicketQuery *q, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return NULL;
  if (q->queue && !rd_actor_sees_queue (actor, q->queue))
    return g_ptr_array_new_with_free_func ((GDestroyNotify) rd_ticket_free);
  RdTicketQuery mine = *q;
  mine.queues = actor->queues;
  return rd_store_tickets_query (ops->store, &mine, error);
}

GPtrArray *
rd_ops_tickets_search (RdOps *ops, const RdActor *actor, const char *query, guint limit, guint offset,
                       GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return NULL;
  /* An agent of some queues: only their matches, so that search leaks no
   * other queue's ticket (the store skips the others by queue). */
  return rd_store_tickets_search_queues (ops->store, query, actor->queues, limit, offset, error);
}

void
rd_ticket_view_free (RdTicketView *v)
{
  if (v == NULL)
    return;
  rd_ticket_free (v->ticket);
  if (v->attachments)
    g_ptr_array_unref (v->attachments);
  if (v->audit)
    g_ptr_array_unref (v->audit);
  g_free (v->subject_tag);
  g_free (v->reply_address);
  g_free (v);
}

RdTicketView *
rd_ops_ticket_view (RdOps *ops, const RdActor *actor, gint64 number, GError **error)
{
  g_autoptr(RdTicketView) v = g_new0 (RdTicketView, 1);
  v->ticket = visible_ticket (ops, actor, number, TRUE, error);
  if (v->ticket == NULL)
    return NULL;
  v->attachments = rd_store_ticket_attachments (ops->store, number, error);
  if (v->attachments == NULL)
    return NULL;
  v->audit = rd_store_ticket_audit_list (ops->store, number, error);
  if (v->audit == NULL)
    return NULL;
  RdTicketIds *ids = rd_ops_ids (ops, error);
  if (ids == NULL)
    return NULL;
  v->subject_tag = rd_ticket_ids_subject_tag (ids, number);
  v->reply_address = rd_ticket_ids_reply_address (ids, v->ticket->queue, number);
  return g_steal_pointer (&v);
}

RdTicket *
rd_ops_ticket_peek (RdOps *ops, const RdActor *actor, gint64 number, GError **error)
{
  return visible_ticket (ops, actor, number, FALSE, error);
}

char *
rd_ops_fold_quoted (const char *body, guint *folded)
{
  *folded = 0;
  if (body == NULL)
    return NULL;
  gsize cut = rd_text_quote_split (body);
  for (const char *p = body + cut; *p;)
    {
      const char *nl = strchr (p, '\n');
      gsize len = nl ? (gsize) (nl - p) : strlen (p);
      for (gsize i = 0; i < len; i++)
        if (!g_ascii_isspace (p[i]))
          {
            (*folded)++;
            break;
          }
      p = nl ? nl + 1 : p + len;
    }
  g_autofree char *kept = g_strndup (body, cut);
  return g_strdup (g_strchomp (kept));
}

/* ---- writing ------------------------------------------------------------- */

gboolean
rd_ops_reply (RdOps *ops, const RdActor *actor, const RdReplyDraft *draft, RdReplyResult *result, GError **error)
{
  if (!rd_ops_check_ticket (ops, actor, draft->ticket_number, error))
    return FALSE;
  RdReplyDraft d = *draft;
  d.author = actor->name;
  return rd_desk_reply (ops->config, ops->store, &d, result, error);
}

gboolean
rd_ops_note (RdOps *ops, const RdActor *actor, gint64 number, const char *text, gint64 *message_row,
             GError **error)
{
  if (!rd_ops_check_ticket (ops, actor, number, error))
    return FALSE;
  g_autofree char *trimmed = g_strstrip (g_strdup (text ? text : ""));
  if (*trimmed == '\0' || strlen (text) > NOTE_MAX || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "note text is empty, longer than %d bytes or not UTF-8",
                   NOTE_MAX);
      return FALSE;
    }
  RdMessageDraft d = {
    .direction = RD_MESSAGE_NOTE,
    .author = actor->name,
    .from_name = actor->name,
    .subject = "(note)",
    .body_text = text,
  };
  return rd_store_ticket_add_message (ops->store, number, &d, message_row, error);
}

gboolean
rd_ops_ticket_set (RdOps *ops, const RdActor *actor, gint64 number, RdTicketField field, const char *value,
                   GError **error)
{
  if (!rd_ops_check_ticket (ops, actor, number, error))
    return FALSE;
  if (field == RD_TICKET_FIELD_ASSIGNEE && value && (g_str_equal (value, "-") || g_str_equal (value, "none")))
    value = NULL;
  if (field == RD_TICKET_FIELD_QUEUE && value && !rd_actor_sees_queue (actor, value))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "not a member of queue '%s'", value);
      return FALSE;
    }
  return rd_store_ticket_set (ops->store, number, field, value, actor->name, error);
}

gboolean
rd_ops_ticket_tags (RdOps *ops, const RdActor *actor, gint64 number, const char *const *add,
                    const char *const *remove, GError **error)
{
  if (!rd_ops_check_ticket (ops, actor, number, error))
    return FALSE;
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (ops->store, &tx, error))
    return FALSE;
  for (guint i = 0; add && add[i]; i++)
    if (!rd_store_ticket_tag (ops->store, number, add[i], TRUE, actor->name, error))
      return FALSE;
  for (guint i = 0; remove && remove[i]; i++)
    if (!rd_store_ticket_tag (ops->store, number, remove[i], FALSE, actor->name, error))
      return FALSE;
  return rd_store_tx_commit (&tx, error);
}

RdStoredAttachment *
rd_ops_attachment_get (RdOps *ops, const RdActor *actor, gint64 id, GBytes **data, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return NULL;
  gint64 number = 0;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(RdStoredAttachment) a = rd_store_attachment_get (ops->store, id, &number, &bytes, error);
  if (a == NULL)
    return NULL;
  g_autoptr(GError) local = NULL;
  if (!rd_ops_check_ticket (ops, actor, number, &local))
    {
      if (g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
        g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no attachment %" G_GINT64_FORMAT, id);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (data)
    *data = g_steal_pointer (&bytes);
  return g_steal_pointer (&a);
}
