/* relaydesk — store: the outbox, worker and operator side (outbox-worker.h). */
#include "store-private.h"
#include "outbox-worker.h"

#include <string.h>

static const char *kind_names[] = { "reply", "autoreply", "redirect", "reject", "notification" };
static const char *state_names[] = { "queued", "sending", "sent", "failed", "dropped" };

/* Stored texts (errors, relay replies) come partly from the network:
 * bounded when stored. */
#define RD_OUTBOX_TEXT_MAX 2000

gboolean
rd_outbox_kind_from_string (const char *text, RdOutboxKind *kind)
{
  for (guint i = 0; text && i < G_N_ELEMENTS (kind_names); i++)
    if (!strcmp (text, kind_names[i]))
      {
        *kind = (RdOutboxKind) i;
        return TRUE;
      }
  return FALSE;
}

void
rd_outbox_item_free (RdOutboxItem *item)
{
  if (item == NULL)
    return;
  g_free (item->sender);
  g_free (item->message_id);
  if (item->raw)
    g_bytes_unref (item->raw);
  if (item->recipients)
    g_ptr_array_unref (item->recipients);
  g_free (item->state);
  g_free (item->last_error);
  g_free (item->relay_reply);
  g_free (item);
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

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static void
bind_bounded (sqlite3_stmt *st, int idx, const char *text)
{
  if (text == NULL)
    sqlite3_bind_null (st, idx);
  else
    {
      gsize len = strlen (text);
      if (len > RD_OUTBOX_TEXT_MAX)
        {
          len = RD_OUTBOX_TEXT_MAX;
          /* do not cut a UTF-8 sequence in half */
          while (len > 0 && ((guchar) text[len] & 0xC0) == 0x80)
            len--;
        }
      sqlite3_bind_text (st, idx, text, (int) len, SQLITE_TRANSIENT);
    }
}

gboolean
rd_store_outbox_add_event (RdStore *store, gint64 id, const char *event, const char *detail, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT INTO outbox_events (outbox_id, at, event, detail) VALUES (?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, id);
  sqlite3_bind_int64 (st, 2, now_s ());
  sqlite3_bind_text (st, 3, event, -1, SQLITE_STATIC);
  bind_bounded (st, 4, detail);
  return rd_store_step_done (store, st, "record outbox event", error);
}

gboolean
rd_store_outbox_recover (RdStore *store, guint *n, GError **error)
{
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT INTO outbox_events (outbox_id, at, event, detail)"
      " SELECT id, ?1, 'recovered', 'was sending when the previous process stopped; queued again'"
      " FROM outbox WHERE state = 'sending'", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, now_s ());
  if (!rd_store_step_done (store, st, "recover outbox", error))
    return FALSE;
  st = rd_store_stmt (store,
      "UPDATE outbox SET state = 'queued', next_attempt_at = ?1 WHERE state = 'sending'", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, now_s ());
  if (!rd_store_step_done (store, st, "recover outbox", error))
    return FALSE;
  if (n)
    *n = (guint) sqlite3_changes (store->db);
  return rd_store_tx_commit (&tx, error);
}

GArray *
rd_store_outbox_due (RdStore *store, gint64 now, guint limit, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= ?"
      " ORDER BY next_attempt_at, id LIMIT ?", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, now);
  sqlite3_bind_int (st, 2, (int) MIN (limit, 10000));
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (st, 0);
      g_array_append_val (ids, id);
    }
  sqlite3_reset (st);
  if (rc != SQLITE_DONE)
    {
      g_array_unref (ids);
      rd_store_set_error (store, rc, error, "list due outbox rows");
      return NULL;
    }
  return ids;
}

#define ITEM_COLUMNS "id, kind, ticket_number, sender, message_id, state, attempts, last_error," \
                     " relay_reply, created_at, next_attempt_at, sent_at, coalesce(lifetime_from, created_at)"

static RdOutboxItem *
item_from_row (sqlite3_stmt *st)
{
  RdOutboxItem *it = g_new0 (RdOutboxItem, 1);
  it->id = sqlite3_column_int64 (st, 0);
  g_autofree char *kind = rd_store_col_strdup (st, 1);
  if (!rd_outbox_kind_from_string (kind, &it->kind))
    it->kind = RD_OUTBOX_NOTIFICATION;
  it->ticket_number = sqlite3_column_int64 (st, 2);
  it->sender = rd_store_col_strdup (st, 3);
  it->message_id = rd_store_col_strdup (st, 4);
  it->state = rd_store_col_strdup (st, 5);
  it->attempts = (guint) sqlite3_column_int (st, 6);
  it->last_error = rd_store_col_strdup (st, 7);
  it->relay_reply = rd_store_col_strdup (st, 8);
  it->created_at = sqlite3_column_int64 (st, 9);
  it->next_attempt_at = sqlite3_column_int64 (st, 10);
  it->sent_at = sqlite3_column_int64 (st, 11);
  it->lifetime_from = sqlite3_column_int64 (st, 12);
  it->recipients = g_ptr_array_new_with_free_func (g_free);
  return it;
}

static gboolean
load_recipients (RdStore *store, RdOutboxItem *it, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT address FROM outbox_recipients WHERE outbox_id = ? ORDER BY position", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, it->id);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (it->recipients, rd_store_col_strdup (st, 0));
  if (!rd_store_rows_done (store, st, rc, "read outbox recipients", error))
    return FALSE;
  return TRUE;
}

RdOutboxItem *
rd_store_outbox_get (RdStore *store, gint64 id, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT " ITEM_COLUMNS ", raw FROM outbox WHERE id = ?", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, id);
  if (!rd_store_step_row (store, st, "read outbox message", error, "no outbox message %" G_GINT64_FORMAT, id))
    return NULL;
  g_autoptr(RdOutboxItem) it = item_from_row (st);
  it->raw = g_bytes_new (sqlite3_column_blob (st, 13), (gsize) sqlite3_column_bytes (st, 13));
  sqlite3_reset (st);
  if (!load_recipients (store, it, error))
    return NULL;
  return g_steal_pointer (&it);
}

GPtrArray *
rd_store_outbox_list (RdStore *store, const char *state, guint limit, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT " ITEM_COLUMNS " FROM outbox WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2", error);
  if (st == NULL)
    return NULL;
  rd_store_bind_text (st, 1, state);
  sqlite3_bind_int (st, 2, limit == 0 ? 100 : (int) MIN (limit, 100000));
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_outbox_item_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
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
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT at, event, detail FROM outbox_events WHERE outbox_id = ? ORDER BY id", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, id);
  g_autoptr(GPtrArray) evs = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_outbox_event_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      RdOutboxEvent *ev = g_new0 (RdOutboxEvent, 1);
      ev->at = sqlite3_column_int64 (st, 0);
      ev->event = rd_store_col_strdup (st, 1);
      ev->detail = rd_store_col_strdup (st, 2);
      g_ptr_array_add (evs, ev);
    }
  if (!rd_store_rows_done (store, st, rc, "read outbox events", error))
    return NULL;
  return g_steal_pointer (&evs);
}

/* Runs one UPDATE of the row (bound: ?1 id, ?2 now, ?3 text, ?4 reply,
 * ?5 time) and its event in one transaction; RD_ERROR_NOT_FOUND when the
 * UPDATE's state condition matched nothing. */
static gboolean
transition (RdStore *store, const char *sql, gint64 id, const char *text, const char *reply,
            gint64 t, const char *event, const char *detail, GError **error)
{
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  sqlite3_stmt *st = rd_store_stmt (store, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, id);
  sqlite3_bind_int64 (st, 2, now_s ());
  if (sqlite3_bind_parameter_count (st) >= 3)
    bind_bounded (st, 3, text);
  if (sqlite3_bind_parameter_count (st) >= 4)
    bind_bounded (st, 4, reply);
  if (sqlite3_bind_parameter_count (st) >= 5)
    sqlite3_bind_int64 (st, 5, t);
  if (!rd_store_step_done (store, st, event, error))
    return FALSE;
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND,
                   "outbox message %" G_GINT64_FORMAT " is not in a state that allows %s", id, event);
      return FALSE;
    }
  if (!rd_store_outbox_add_event (store, id, event, detail, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

/* A failure or drop is recorded on the ticket as an internal note, so
 * that the agent sees that the requester did not get the message. */
static gboolean
note_on_ticket (RdStore *store, gint64 id, const char *what, const char *why, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT ticket_number, message_id FROM outbox WHERE id = ? AND ticket_number IS NOT NULL", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, id);
  if (sqlite3_step (st) != SQLITE_ROW)
    {
      sqlite3_reset (st);
      return TRUE;
    }
  gint64 ticket = sqlite3_column_int64 (st, 0);
  g_autofree char *msgid = rd_store_col_strdup (st, 1);
  sqlite3_reset (st);
  g_autofree char *body = g_strdup_printf ("Outbound message %" G_GINT64_FORMAT " (Message-ID <%s>) %s: %s",
                                           id, msgid ? msgid : "none", what, why ? why : "");
  st = rd_store_stmt (store,
      "INSERT INTO messages (ticket_number, direction, from_name, subject, body_text, created_at)"
      " VALUES (?, 'note', 'relaydesk relay', ?, ?, ?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, ticket);
  g_autofree char *subject = g_strdup_printf ("Outbound message %s", what);
  rd_store_bind_text (st, 2, subject);
  bind_bounded (st, 3, body);
  sqlite3_bind_int64 (st, 4, now_s ());
  if (!rd_store_step_done (store, st, "note delivery failure on ticket", error))
    return FALSE;
  st = rd_store_stmt (store, "UPDATE tickets SET updated_at = ?2 WHERE number = ?1", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, ticket);
  sqlite3_bind_int64 (st, 2, now_s ());
  return rd_store_step_done (store, st, "touch ticket", error);
}

gboolean
rd_store_outbox_mark_sending (RdStore *store, gint64 id, GError **error)
{
  return transition (store,
      "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?1 AND state = 'queued' AND ?2 > 0",
      id, NULL, NULL, 0, "sending", NULL, error);
}

/* The ticket's record of an outbound message (messages.outbox_id) follows
 * the outbox row, so an agent sees on the ticket whether a reply went out. */
static gboolean
set_message_delivery (RdStore *store, gint64 outbox_id, const char *status, const char *detail, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "UPDATE messages SET delivery_status = ?2, delivery_detail = ?3 WHERE outbox_id = ?1", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, outbox_id);
  sqlite3_bind_text (st, 2, status, -1, SQLITE_STATIC);
  rd_store_bind_text (st, 3, detail);
  return rd_store_step_done (store, st, "record delivery on the ticket", error);
}

gboolean
rd_store_outbox_mark_sent (RdStore *store, gint64 id, const char *relay_reply, GError **error)
{
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  /* ?3 unused (error text): kept NULL */
  if (!transition (store,
      "UPDATE outbox SET state = 'sent', sent_at = ?2, relay_reply = ?4, last_error = ?3"
      " WHERE id = ?1 AND state = 'sending'",
      id, NULL, relay_reply, 0, "sent", relay_reply, error))
    return FALSE;
  if (!set_message_delivery (store, id, "sent", relay_reply, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_store_outbox_mark_retry (RdStore *store, gint64 id, const char *error_text, const char *relay_reply,
                            gint64 next_attempt_at, GError **error)
{
  return transition (store,
      "UPDATE outbox SET state = 'queued', last_error = ?3, relay_reply = ?4, next_attempt_at = ?5"
      " WHERE id = ?1 AND state = 'sending' AND ?2 > 0",
      id, error_text, relay_reply, next_attempt_at, "deferred", error_text, error);
}

gboolean
rd_store_outbox_mark_failed (RdStore *store, gint64 id, const char *error_text, const char *relay_reply,
                             GError **error)
{
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  if (!transition (store,
      "UPDATE outbox SET state = 'failed', last_error = ?3, relay_reply = ?4"
      " WHERE id = ?1 AND state IN ('sending','queued') AND ?2 > 0",
      id, error_text, relay_reply, 0, "failed", error_text, error))
    return FALSE;
  if (!note_on_ticket (store, id, "failed", error_text, error)
      || !set_message_delivery (store, id, "failed", error_text, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_store_outbox_mark_dropped (RdStore *store, gint64 id, const char *who, const char *reason, GError **error)
{
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  g_autofree char *detail = g_strdup_printf ("by %s: %s", who, reason);
  const char *sql = !strcmp (who, "operator")
      ? "UPDATE outbox SET state = 'dropped', last_error = ?3 WHERE id = ?1 AND state IN ('queued','failed') AND ?2 > 0"
      : "UPDATE outbox SET state = 'dropped', last_error = ?3 WHERE id = ?1 AND state IN ('queued','sending') AND ?2 > 0";
  if (!transition (store, sql, id, detail, NULL, 0, "dropped", detail, error))
    return FALSE;
  if (!note_on_ticket (store, id, "dropped", detail, error)
      || !set_message_delivery (store, id, "dropped", detail, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_store_outbox_requeue (RdStore *store, gint64 id, GError **error)
{
  g_autoptr(GError) local = NULL;
  if (transition (store,
      "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, lifetime_from = ?2"
      " WHERE id = ?1 AND state IN ('failed','dropped','queued')",
      id, NULL, NULL, 0, "retry", "by operator", &local))
    return TRUE;
  if (g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
    {
      g_autoptr(RdOutboxItem) it = rd_store_outbox_get (store, id, error);
      if (it == NULL)
        return FALSE;
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                   "outbox message %" G_GINT64_FORMAT " is %s: %s", id, it->state,
                   !strcmp (it->state, "sent") ? "the relay accepted it, sending it again would duplicate it"
                                               : "the worker is sending it right now");
      return FALSE;
    }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

gint64
rd_store_outbox_sent_count (RdStore *store, const char *address, gint64 since, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT count(*) FROM outbox_recipients r JOIN outbox o ON o.id = r.outbox_id"
      " WHERE r.address = ?1 COLLATE NOCASE AND o.state = 'sent' AND o.sent_at >= ?2", error);
  if (st == NULL)
    return -1;
  sqlite3_bind_text (st, 1, address, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 2, since);
  int rc = sqlite3_step (st);
  gint64 n = rc == SQLITE_ROW ? sqlite3_column_int64 (st, 0) : -1;
  sqlite3_reset (st);
  if (rc != SQLITE_ROW)
    rd_store_set_error (store, rc, error, "count sent messages");
  return n;
}

gboolean
rd_store_outbox_has_message_id (RdStore *store, const char *message_id, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT 1 FROM outbox WHERE message_id = ? AND kind != 'redirect' LIMIT 1", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, message_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  sqlite3_reset (st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    rd_store_set_error (store, rc, error, "look up outbox message id");
  return rc == SQLITE_ROW;
}

GArray *
rd_store_outbox_attempts_since (RdStore *store, gint64 since, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT at FROM outbox_events WHERE event = 'sending' AND at >= ? ORDER BY id LIMIT 100000", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, since);
  GArray *times = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      gint64 t = sqlite3_column_int64 (st, 0);
      g_array_append_val (times, t);
    }
  sqlite3_reset (st);
  if (rc != SQLITE_DONE)
    {
      g_array_unref (times);
      rd_store_set_error (store, rc, error, "read recent attempts");
      return NULL;
    }
  return times;
}

gboolean
rd_store_outbox_counts (RdStore *store, gint64 counts[5], GError **error)
{
  memset (counts, 0, 5 * sizeof (gint64));
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT state, count(*) FROM outbox GROUP BY state", error);
  if (st == NULL)
    return FALSE;
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      const char *s = (const char *) sqlite3_column_text (st, 0);
      for (guint i = 0; s && i < G_N_ELEMENTS (state_names); i++)
        if (!strcmp (s, state_names[i]))
          counts[i] = sqlite3_column_int64 (st, 1);
    }
  if (!rd_store_rows_done (store, st, rc, "count outbox", error))
    return FALSE;
  return TRUE;
}

char *
rd_store_relay_installation_id (RdStore *store, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT value FROM relay_settings WHERE key = 'installation_id'", error);
  if (st == NULL)
    return NULL;
  int rc = sqlite3_step (st);
  char *v = rc == SQLITE_ROW ? rd_store_col_strdup (st, 0) : NULL;
  sqlite3_reset (st);
  if (v == NULL)
    g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "no installation id in the database");
  return v;
}
