/* relaydesk — store: the outbox and its states (see outbox.h). */
#include "store-private.h"
#include "outbox.h"
#include "tickets.h"

#include <string.h>

void
rd_outbox_item_free (RdOutboxItem *it)
{
  if (it == NULL)
    return;
  g_free (it->sender);
  g_free (it->message_id);
  if (it->raw)
    g_bytes_unref (it->raw);
  if (it->recipients)
    g_ptr_array_unref (it->recipients);
  g_free (it->last_error);
  g_free (it->relay_reply);
  g_free (it);
}

void
rd_outbox_event_free (RdOutboxEvent *ev)
{
  if (ev == NULL)
    return;
  g_free (ev->event);
  g_free (ev->detail);
  g_free (ev);
}

/* ---- producers ------------------------------------------------------------ */

gboolean
rd_store_outbox_enqueue (RdStore *store, const RdOutboxDraft *d, gint64 *id, GError **error)
{
  g_return_val_if_fail (d->raw != NULL && d->recipients != NULL && d->recipients[0] != NULL, FALSE);
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  gsize len;
  const void *raw = g_bytes_get_data (d->raw, &len);
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_INSERT, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, rd_outbox_kind_to_string (d->kind));
  rd_db_bind_id (st, 2, d->ticket_number);
  rd_db_bind_text (st, 3, d->sender ? d->sender : "");
  rd_db_bind_text (st, 4, d->message_id);
  rd_db_bind_blob (st, 5, raw, len);
  rd_db_bind_int64 (st, 6, rd_store_now ());
  if (!rd_store_step_row (store, st, "queue outbound message", error, "queue outbound message: no id"))
    return FALSE;
  gint64 row = rd_db_col_int64 (st, 0);
  rd_db_reset (st);
  for (guint i = 0; d->recipients[i]; i++)
    {
      st = rd_store_stmt (store, RD_SQL_OUTBOX_INSERT_RECIPIENT, error);
      if (st == NULL)
        return FALSE;
      rd_db_bind_int64 (st, 1, row);
      rd_db_bind_int64 (st, 2, i);
      rd_db_bind_text (st, 3, d->recipients[i]);
      if (!rd_store_step_done (store, st, "queue outbound recipient", error))
        return FALSE;
    }
  if (!rd_store_tx_commit (&tx, error))
    return FALSE;
  if (id)
    *id = row;
  return TRUE;
}

gboolean
rd_store_suppression_add (RdStore *store, const char *address, const char *reason, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SUPPRESSION_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, address);
  rd_db_bind_text (st, 2, reason);
  rd_db_bind_int64 (st, 3, rd_store_now ());
  return rd_store_step_done (store, st, "add suppression", error);
}

gboolean
rd_store_suppression_check (RdStore *store, const char *address, gboolean *found, char **reason, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SUPPRESSION_CHECK, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, address);
  if (!rd_store_step_maybe (store, st, "check suppression list", found, error))
    return FALSE;
  if (*found)
    {
      if (reason)
        *reason = rd_db_col_strdup (st, 0);
      rd_db_reset (st);
    }
  return TRUE;
}

/* ---- reading ------------------------------------------------------------------ */

/* The columns of RD_SQL_OUTBOX_GET and RD_SQL_OUTBOX_LIST. */
static RdOutboxItem *
item_from_row (RdDbStmt *st)
{
  RdOutboxItem *it = g_new0 (RdOutboxItem, 1);
  it->id = rd_db_col_int64 (st, 0);
  if (!rd_outbox_kind_from_string (rd_db_col_text (st, 1), &it->kind))
    it->kind = RD_OUTBOX_NOTIFICATION;
  it->ticket_number = rd_db_col_int64 (st, 2);
  it->sender = rd_db_col_strdup (st, 3);
  it->message_id = rd_db_col_strdup (st, 4);
  if (!rd_outbox_state_from_string (rd_db_col_text (st, 5), &it->state))
    it->state = RD_OUTBOX_FAILED;
  it->attempts = (guint) rd_db_col_int64 (st, 6);
  it->last_error = rd_db_col_strdup (st, 7);
  it->relay_reply = rd_db_col_strdup (st, 8);
  it->created_at = rd_db_col_int64 (st, 9);
  it->next_attempt_at = rd_db_col_int64 (st, 10);
  it->sent_at = rd_db_col_int64 (st, 11);
  it->lifetime_from = rd_db_col_int64 (st, 12);
  it->recipients = g_ptr_array_new_with_free_func (g_free);
  return it;
}

static gboolean
load_recipients (RdStore *store, RdOutboxItem *it, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_RECIPIENTS, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, it->id);
  return rd_store_collect_strings (store, st, "read outbox recipients", it->recipients, error);
}

RdOutboxItem *
rd_store_outbox_get (RdStore *store, gint64 id, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_GET, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, id);
  if (!rd_store_step_row (store, st, "read outbox message", error, "no outbox message %" G_GINT64_FORMAT, id))
    return NULL;
  g_autoptr(RdOutboxItem) it = item_from_row (st);
  it->raw = rd_db_col_bytes (st, 13);
  rd_db_reset (st);
  if (!load_recipients (store, it, error))
    return NULL;
  return g_steal_pointer (&it);
}

GPtrArray *
rd_store_outbox_list (RdStore *store, gboolean has_state, RdOutboxState state, guint limit, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_LIST, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_text (st, 1, has_state ? rd_outbox_state_to_string (state) : NULL);
  rd_db_bind_int64 (st, 2, limit == 0 ? 100 : MIN (limit, 100000));
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_outbox_item_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    g_ptr_array_add (items, item_from_row (st));
  if (!rd_store_rows_done (store, st, rc, "list outbox", error))
    return NULL;
  for (guint i = 0; i < items->len; i++)
    if (!load_recipients (store, g_ptr_array_index (items, i), error))
      return NULL;
  return g_steal_pointer (&items);
}

GPtrArray *
rd_store_outbox_events (RdStore *store, gint64 id, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_EVENTS, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, id);
  g_autoptr(GPtrArray) evs = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_outbox_event_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdOutboxEvent *ev = g_new0 (RdOutboxEvent, 1);
      ev->at = rd_db_col_int64 (st, 0);
      ev->event = rd_db_col_strdup (st, 1);
      ev->detail = rd_db_col_strdup (st, 2);
      g_ptr_array_add (evs, ev);
    }
  if (!rd_store_rows_done (store, st, rc, "read outbox events", error))
    return NULL;
  return g_steal_pointer (&evs);
}

gboolean
rd_store_outbox_counts (RdStore *store, gint64 counts[RD_OUTBOX_STATE_N], GError **error)
{
  memset (counts, 0, RD_OUTBOX_STATE_N * sizeof (gint64));
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_COUNTS, error);
  if (st == NULL)
    return FALSE;
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdOutboxState s;
      if (rd_outbox_state_from_string (rd_db_col_text (st, 0), &s))
        counts[s] = rd_db_col_int64 (st, 1);
    }
  return rd_store_rows_done (store, st, rc, "count outbox", error);
}

/* ---- the worker --------------------------------------------------------------- */

gboolean
rd_store_outbox_add_event (RdStore *store, gint64 id, const char *event, const char *detail, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_EVENT_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, id);
  rd_db_bind_int64 (st, 2, rd_store_now ());
  rd_db_bind_text (st, 3, event);
  rd_store_bind_bounded (st, 4, detail, RD_OUTBOX_TEXT_MAX);
  return rd_store_step_done (store, st, "record outbox event", error);
}

static gboolean recover_rows (RdStore *store, const char *node, guint *n, GError **error);

gboolean
rd_store_outbox_recover (RdStore *store, guint *n, GError **error)
{
  return recover_rows (store, store->node, n, error);
}

/* Rows left 'sending' are queued again: those of @node (a process that
 * stopped: this one at start) and, with PostgreSQL, every row whose
 * lease ran out (a node that died). */
static gboolean
recover_rows (RdStore *store, const char *node, guint *n, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_RECOVER_EVENTS, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, rd_store_now ());
  rd_db_bind_text (st, 2, node);
  if (!rd_store_step_done (store, st, "recover outbox", error))
    return FALSE;
  st = rd_store_stmt (store, RD_SQL_OUTBOX_RECOVER, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, rd_store_now ());
  rd_db_bind_text (st, 2, node);
  if (!rd_store_step_done (store, st, "recover outbox", error))
    return FALSE;
  if (n)
    *n = (guint) rd_store_changes (store);
  return rd_store_tx_commit (&tx, error);
}

GArray *
rd_store_outbox_due (RdStore *store, gint64 now, guint limit, GError **error)
{
  /* Several nodes: take over the rows of a node whose lease ran out
   * (none of this process: "" is no node's name). */
  if (rd_store_dialect (store) == RD_SQL_POSTGRES)
    {
      guint taken = 0;
      if (!recover_rows (store, "", &taken, error))
        return NULL;
      if (taken)
        rd_log (RD_LOG_WARN, "outbox.takeover", "rows=%u note=\"their node's lease ran out\"", taken);
    }
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_DUE, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, now);
  rd_db_bind_int64 (st, 2, MIN (limit, 10000));
  return rd_store_collect_int64 (store, st, "list due outbox rows", error);
}

/* Runs one state change of the row (@q, bound: $1 id, $2 now, $3 text,
 * $4 reply, $5 time) and its event; RD_ERROR_NOT_FOUND when the row is
 * not in a state that allows it. */
static gboolean
transition (RdStore *store, RdSql q, gint64 id, const char *text, const char *reply, gint64 t,
            const char *event, const char *detail, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, q, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, id);
  rd_db_bind_int64 (st, 2, rd_store_now ());
  rd_store_bind_bounded (st, 3, text, RD_OUTBOX_TEXT_MAX);
  rd_store_bind_bounded (st, 4, reply, RD_OUTBOX_TEXT_MAX);
  rd_db_bind_int64 (st, 5, t);
  rd_db_bind_int64 (st, 6, store->lease_seconds);
  rd_db_bind_text (st, 7, store->node);
  if (!rd_store_step_done (store, st, event, error))
    return FALSE;
  if (rd_store_changes (store) == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND,
                   "outbox message %" G_GINT64_FORMAT " is not in a state that allows %s", id, event);
      return FALSE;
    }
  return rd_store_outbox_add_event (store, id, event, detail, error);
}

/* The ticket's record of the message follows the row (its delivery
 * state), and a failure or drop is noted on the ticket through the
 * message writer, so that the agent sees that the requester did not get
 * the message. */
static gboolean
follow_on_ticket (RdStore *store, gint64 id, RdOutboxState state, const char *detail, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_TICKET_OF, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, id);
  gboolean found = FALSE;
  if (!rd_store_step_maybe (store, st, "read outbox row", &found, error))
    return FALSE;
  if (!found)
    return TRUE; /* not about a ticket */
  gint64 ticket = rd_db_col_int64 (st, 0);
  g_autofree char *msgid = rd_db_col_strdup (st, 1);
  gint64 message_row = rd_db_col_int64 (st, 2);
  rd_db_reset (st);
  if (message_row > 0
      && !rd_store_message_set_delivery (store, message_row, state, NULL, detail, "relay", error))
    return FALSE;
  if (state != RD_OUTBOX_FAILED && state != RD_OUTBOX_DROPPED)
    return TRUE;
  const char *what = rd_outbox_state_to_string (state);
  g_autofree char *subject = g_strdup_printf ("Outbound message %s", what);
  g_autofree char *body = g_strdup_printf ("Outbound message %" G_GINT64_FORMAT " (Message-ID <%s>) %s: %s",
                                           id, msgid ? msgid : "none", what, detail ? detail : "");
  g_autofree char *audit = g_strdup_printf ("outbox %" G_GINT64_FORMAT, id);
  RdMessageDraft note = {
    .direction = RD_MESSAGE_NOTE,
    .from_name = "relaydesk relay",
    .author = "relay",
    .subject = subject,
    .body_text = body,
    .audit_action = state == RD_OUTBOX_FAILED ? "outbound-failed" : "outbound-dropped",
    .audit_detail = audit,
  };
  return rd_store_ticket_add_message (store, ticket, &note, NULL, error);
}

/* One state change in its own transaction: the row, its event and, for
 * the states an agent must see (@follow), the ticket's record of it. */
static gboolean
change_state (RdStore *store, RdSql q, gint64 id, const char *text, const char *reply, gint64 t,
              const char *event, const char *detail, gboolean follow, RdOutboxState state, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error)
      || !transition (store, q, id, text, reply, t, event, detail, error)
      || (follow && !follow_on_ticket (store, id, state, detail, error)))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_store_outbox_mark_sending (RdStore *store, gint64 id, GError **error)
{
  return change_state (store, RD_SQL_OUTBOX_MARK_SENDING, id, NULL, NULL, 0, "sending", NULL, FALSE,
                       RD_OUTBOX_SENDING, error);
}

gboolean
rd_store_outbox_mark_sent (RdStore *store, gint64 id, const char *relay_reply, GError **error)
{
  return change_state (store, RD_SQL_OUTBOX_MARK_SENT, id, NULL, relay_reply, 0, "sent", relay_reply, TRUE,
                       RD_OUTBOX_SENT, error);
}

gboolean
rd_store_outbox_mark_retry (RdStore *store, gint64 id, const char *error_text, const char *relay_reply,
                            gint64 next_attempt_at, GError **error)
{
  return change_state (store, RD_SQL_OUTBOX_MARK_RETRY, id, error_text, relay_reply, next_attempt_at, "deferred",
                       error_text, FALSE, RD_OUTBOX_QUEUED, error);
}

gboolean
rd_store_outbox_mark_failed (RdStore *store, gint64 id, const char *error_text, const char *relay_reply,
                             GError **error)
{
  return change_state (store, RD_SQL_OUTBOX_MARK_FAILED, id, error_text, relay_reply, 0, "failed", error_text, TRUE,
                       RD_OUTBOX_FAILED, error);
}

gboolean
rd_store_outbox_mark_dropped (RdStore *store, gint64 id, const char *who, const char *reason, GError **error)
{
  g_autofree char *detail = g_strdup_printf ("by %s: %s", who, reason);
  RdSql q = !strcmp (who, "operator") ? RD_SQL_OUTBOX_DROP_BY_OPERATOR : RD_SQL_OUTBOX_DROP_BY_GUARD;
  return change_state (store, q, id, detail, NULL, 0, "dropped", detail, TRUE, RD_OUTBOX_DROPPED, error);
}

gboolean
rd_store_outbox_requeue (RdStore *store, gint64 id, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  if (transition (store, RD_SQL_OUTBOX_REQUEUE, id, NULL, NULL, 0, "retry", "by operator", &local))
    {
      RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_TICKET_OF, error);
      if (st == NULL)
        return FALSE;
      rd_db_bind_int64 (st, 1, id);
      gboolean found = FALSE;
      if (!rd_store_step_maybe (store, st, "read outbox row", &found, error))
        return FALSE;
      gint64 message_row = found ? rd_db_col_int64 (st, 2) : 0;
      if (found)
        rd_db_reset (st);
      if (message_row > 0
          && !rd_store_message_set_delivery (store, message_row, RD_OUTBOX_QUEUED, NULL, "retry by operator",
                                             "operator", error))
        return FALSE;
      return rd_store_tx_commit (&tx, error);
    }
  if (!g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_autoptr(RdOutboxItem) it = rd_store_outbox_get (store, id, error);
  if (it == NULL)
    return FALSE;
  g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "outbox message %" G_GINT64_FORMAT " is %s: %s", id,
               rd_outbox_state_to_string (it->state),
               it->state == RD_OUTBOX_SENT ? "the relay accepted it, sending it again would duplicate it"
                                           : "the worker is sending it right now");
  return FALSE;
}

gint64
rd_store_outbox_sent_count (RdStore *store, const char *address, gint64 since, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_SENT_COUNT, error);
  if (st == NULL)
    return -1;
  rd_db_bind_text (st, 1, address);
  rd_db_bind_int64 (st, 2, since);
  gint64 n = -1;
  if (!rd_store_step_int (store, st, "count sent messages", &n, error))
    return -1;
  return n;
}

gboolean
rd_store_outbox_has_message_id (RdStore *store, const char *message_id, gboolean *found, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_HAS_MESSAGE_ID, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, message_id);
  if (!rd_store_step_maybe (store, st, "look up outbox message id", found, error))
    return FALSE;
  rd_db_reset (st);
  return TRUE;
}

GArray *
rd_store_outbox_attempts_since (RdStore *store, gint64 since, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_OUTBOX_ATTEMPTS_SINCE, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, since);
  return rd_store_collect_int64 (store, st, "read recent attempts", error);
}

char *
rd_store_relay_installation_id (RdStore *store, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_INSTALLATION_ID, error);
  if (st == NULL)
    return NULL;
  if (!rd_store_step_row (store, st, "read installation id", error, "no installation id in the database"))
    return NULL;
  char *v = rd_db_col_strdup (st, 0);
  rd_db_reset (st);
  return v;
}
