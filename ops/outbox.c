/* relaydesk — ops: operating the outbox and the spool (admin; see ops.h). */
#include "ops-private.h"
#include "agents.h"
#include "mail-format.h"

#include <string.h>

GPtrArray *
rd_ops_outbox_list (RdOps *ops, const RdActor *actor, const char *state, guint limit, GError **error)
{
  RdOutboxState s = RD_OUTBOX_QUEUED;
  if (!rd_ops_need_admin (actor, "the outbox", error) || !rd_ops_need_store (ops, error))
    return NULL;
  if (state && !rd_outbox_state_from_string (state, &s))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad state '%s' (%s)", state, rd_outbox_states_text ());
      return NULL;
    }
  return rd_store_outbox_list (ops->store, state != NULL, s, limit, error);
}

RdOutboxItem *
rd_ops_outbox_show (RdOps *ops, const RdActor *actor, gint64 id, GPtrArray **events, GError **error)
{
  if (!rd_ops_need_admin (actor, "the outbox", error) || !rd_ops_need_store (ops, error))
    return NULL;
  g_autoptr(RdOutboxItem) it = rd_store_outbox_get (ops->store, id, error);
  if (it == NULL)
    return NULL;
  if (events && (*events = rd_store_outbox_events (ops->store, id, error)) == NULL)
    return NULL;
  return g_steal_pointer (&it);
}

gboolean
rd_ops_outbox_retry (RdOps *ops, const RdActor *actor, gint64 id, GError **error)
{
  if (!rd_ops_need_admin (actor, "the outbox", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  g_autofree char *target = g_strdup_printf ("outbox %" G_GINT64_FORMAT, id);
  return rd_store_tx_begin (ops->store, &tx, error) && rd_store_outbox_requeue (ops->store, id, error)
         && rd_store_admin_audit (ops->store, actor->name, "outbox-retry", target, NULL, error)
         && rd_store_tx_commit (&tx, error);
}

gboolean
rd_ops_outbox_drop (RdOps *ops, const RdActor *actor, gint64 id, const char *reason, GError **error)
{
  if (!rd_ops_need_admin (actor, "the outbox", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  g_autofree char *why = reason ? g_strdup (reason) : g_strdup_printf ("dropped by %s", actor->name);
  g_autoptr(GError) local = NULL;
  g_autofree char *target = g_strdup_printf ("outbox %" G_GINT64_FORMAT, id);
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (ops->store, &tx, error))
    return FALSE;
  if (rd_store_outbox_mark_dropped (ops->store, id, "operator", why, &local))
    return rd_store_admin_audit (ops->store, actor->name, "outbox-drop", target, why, error)
           && rd_store_tx_commit (&tx, error);
  if (g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
    {
      /* Exists, in a state that cannot be dropped (sent, sending, dropped)? */
      g_autoptr(RdOutboxItem) it = rd_store_outbox_get (ops->store, id, NULL);
      if (it)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "outbox message %" G_GINT64_FORMAT " is %s: only"
                       " queued or failed messages can be dropped", id, rd_outbox_state_to_string (it->state));
          return FALSE;
        }
    }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

gboolean
rd_ops_outbox_inject (RdOps *ops, const RdActor *actor, RdOutboxKind kind, const char *sender,
                      const char *const *recipients, gint64 ticket, GBytes *raw, guint copies, GArray *ids,
                      GError **error)
{
  if (!rd_ops_need_admin (actor, "the outbox", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  if (recipients == NULL || recipients[0] == NULL || sender == NULL || copies == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "a message needs a sender and recipients");
      return FALSE;
    }
  /* CRLF line ends, as the outbox stores them (the parser's one helper). */
  gsize len = 0;
  const char *p = g_bytes_get_data (raw, &len);
  g_autofree char *text = g_strndup (p, len);
  char *wire = rd_mail_text_crlf (text);
  g_autoptr(GBytes) crlf = g_bytes_new_take (wire, strlen (wire));
  g_autofree char *msgid = rd_peek_message_id (g_bytes_get_data (crlf, NULL), g_bytes_get_size (crlf));
  RdOutboxDraft d = { .kind = kind, .ticket_number = ticket, .sender = sender, .recipients = recipients,
                      .message_id = msgid, .raw = crlf };
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (ops->store, &tx, error))
    return FALSE;
  for (guint i = 0; i < copies; i++)
    {
      gint64 id = 0;
      if (!rd_store_outbox_enqueue (ops->store, &d, &id, error))
        return FALSE;
      g_array_append_val (ids, id);
    }
  return rd_store_tx_commit (&tx, error);
}

RdSpooled *
rd_ops_spool_find (RdOps *ops, const RdActor *actor, const char *message_id, GError **error)
{
  if (!rd_ops_need_admin (actor, "the spool", error) || !rd_ops_need_store (ops, error))
    return NULL;
  return rd_store_spool_find_by_message_id (ops->store, message_id, error);
}

gboolean
rd_ops_spool_counts (RdOps *ops, const RdActor *actor, gint64 counts[RD_SPOOL_STATE_N], GError **error)
{
  if (!rd_ops_need_admin (actor, "the spool", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  return rd_store_spool_counts (ops->store, counts, error);
}
