/* relaydesk — store: tickets and their messages. */
#include "store-private.h"

void
rd_ticket_message_free (RdTicketMessage *m)
{
  if (m == NULL)
    return;
  g_free (m->direction);
  g_free (m->message_id);
  g_free (m->from_name);
  g_free (m->from_addr);
  g_free (m->subject);
  g_free (m->body_text);
  g_free (m->to_addrs);
  g_free (m->cc_addrs);
  g_free (m->author);
  g_free (m->delivery_status);
  g_free (m->delivery_code);
  g_free (m);
}

void
rd_ticket_free (RdTicket *t)
{
  if (t == NULL)
    return;
  g_free (t->queue);
  g_free (t->status);
  g_free (t->priority);
  g_free (t->assignee);
  g_free (t->subject);
  g_free (t->requester_name);
  g_free (t->requester_addr);
  if (t->messages)
    g_ptr_array_unref (t->messages);
  g_strfreev (t->tags);
  if (t->participants)
    g_ptr_array_unref (t->participants);
  if (t->links)
    g_array_unref (t->links);
  g_free (t);
}

gboolean
rd_store_ticket_touch (RdStore *store, gint64 number, gint64 now, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store, "UPDATE tickets SET updated_at = ? WHERE number = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, now);
  sqlite3_bind_int64 (st, 2, number);
  if (!rd_store_step_done (store, st, "touch ticket", error))
    return FALSE;
  if (sqlite3_changes (store->db) != 1)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no ticket #%" G_GINT64_FORMAT, number);
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_store_spool_mark_processed (RdStore *store, gint64 spool_id, gint64 now, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "UPDATE spool SET state = 'processed', state_reason = NULL, processed_at = ? WHERE id = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, now);
  sqlite3_bind_int64 (st, 2, spool_id);
  return rd_store_step_done (store, st, "mark spool processed", error);
}

gboolean
rd_store_ticket_open (RdStore *store, const RdTicketDraft *d, gint64 *number, GError **error)
{
  g_return_val_if_fail (d->queue && d->requester_addr, FALSE);
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;

  /* Idempotence: a spooled message already recorded keeps its ticket. */
  if (d->spool_id > 0)
    {
      sqlite3_stmt *st = rd_store_stmt (store,
          "SELECT ticket_number FROM messages WHERE spool_id = ?", error);
      if (st == NULL)
        return FALSE;
      sqlite3_bind_int64 (st, 1, d->spool_id);
      if (sqlite3_step (st) == SQLITE_ROW)
        {
          *number = sqlite3_column_int64 (st, 0);
          sqlite3_reset (st);
          return TRUE; /* rolls back the empty transaction */
        }
      sqlite3_reset (st);
    }

  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *subject = d->subject ? d->subject : "";
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT INTO tickets (queue, subject, requester_name, requester_addr,"
      " created_at, updated_at) VALUES (?,?,?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  rd_store_bind_text (st, 1, d->queue);
  rd_store_bind_text (st, 2, subject);
  rd_store_bind_text (st, 3, d->requester_name);
  rd_store_bind_text (st, 4, d->requester_addr);
  sqlite3_bind_int64 (st, 5, now);
  sqlite3_bind_int64 (st, 6, now);
  if (!rd_store_step_done (store, st, "insert ticket", error))
    return FALSE;
  gint64 num = sqlite3_last_insert_rowid (store->db);

  st = rd_store_stmt (store,
      "INSERT INTO messages (ticket_number, spool_id, direction, message_id,"
      " from_name, from_addr, subject, body_text, created_at)"
      " VALUES (?,?,'inbound',?,?,?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, num);
  if (d->spool_id > 0)
    sqlite3_bind_int64 (st, 2, d->spool_id);
  else
    sqlite3_bind_null (st, 2);
  rd_store_bind_text (st, 3, d->message_id);
  rd_store_bind_text (st, 4, d->requester_name);
  rd_store_bind_text (st, 5, d->requester_addr);
  rd_store_bind_text (st, 6, subject);
  rd_store_bind_text (st, 7, d->body_text);
  sqlite3_bind_int64 (st, 8, now);
  if (!rd_store_step_done (store, st, "insert message", error))
    return FALSE;

  if (d->spool_id > 0 && !rd_store_spool_mark_processed (store, d->spool_id, now, error))
    return FALSE;
  if (!rd_store_tx_commit (&tx, error))
    return FALSE;
  *number = num;
  return TRUE;
}

gboolean
rd_store_ticket_add_message (RdStore *store, const RdFollowupDraft *d, gint64 *message_row, GError **error)
{
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  if (d->spool_id > 0)
    {
      sqlite3_stmt *st = rd_store_stmt (store, "SELECT id FROM messages WHERE spool_id = ?", error);
      if (st == NULL)
        return FALSE;
      sqlite3_bind_int64 (st, 1, d->spool_id);
      if (sqlite3_step (st) == SQLITE_ROW)
        {
          if (message_row)
            *message_row = sqlite3_column_int64 (st, 0);
          sqlite3_reset (st);
          return TRUE;
        }
      sqlite3_reset (st);
    }
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT INTO messages (ticket_number, spool_id, direction, message_id,"
      " from_name, from_addr, subject, body_text, created_at)"
      " VALUES (?,?,'inbound',?,?,?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, d->ticket_number);
  if (d->spool_id > 0)
    sqlite3_bind_int64 (st, 2, d->spool_id);
  else
    sqlite3_bind_null (st, 2);
  rd_store_bind_text (st, 3, d->message_id);
  rd_store_bind_text (st, 4, d->from_name);
  rd_store_bind_text (st, 5, d->from_addr);
  rd_store_bind_text (st, 6, d->subject);
  rd_store_bind_text (st, 7, d->body_text);
  sqlite3_bind_int64 (st, 8, now);
  if (!rd_store_step_done (store, st, "insert follow-up", error))
    return FALSE;
  gint64 row = sqlite3_last_insert_rowid (store->db);
  if (!rd_store_ticket_touch (store, d->ticket_number, now, error))
    return FALSE;
  if (d->spool_id > 0 && !rd_store_spool_mark_processed (store, d->spool_id, now, error))
    return FALSE;
  if (!rd_store_tx_commit (&tx, error))
    return FALSE;
  if (message_row)
    *message_row = row;
  return TRUE;
}

RdTicket *
rd_store_ticket_from_row (sqlite3_stmt *st)
{
  RdTicket *t = g_new0 (RdTicket, 1);
  t->number = sqlite3_column_int64 (st, 0);
  t->queue = rd_store_col_strdup (st, 1);
  t->status = rd_store_col_strdup (st, 2);
  t->priority = rd_store_col_strdup (st, 3);
  t->assignee = rd_store_col_strdup (st, 4);
  t->subject = rd_store_col_strdup (st, 5);
  t->requester_name = rd_store_col_strdup (st, 6);
  t->requester_addr = rd_store_col_strdup (st, 7);
  t->created_at = sqlite3_column_int64 (st, 8);
  t->updated_at = sqlite3_column_int64 (st, 9);
  t->message_count = (guint) sqlite3_column_int64 (st, 10);
  return t;
}

GPtrArray *
rd_store_tickets_list (RdStore *store, const RdTicketFilter *f, GError **error)
{
  static const RdTicketFilter none = { 0 };
  if (f == NULL)
    f = &none;
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT " TICKET_COLUMNS " FROM tickets t"
      " WHERE (?1 IS NULL OR t.queue = ?1) AND (?2 IS NULL OR t.status = ?2)"
      " ORDER BY t.number DESC LIMIT ?3 OFFSET ?4", error);
  if (st == NULL)
    return NULL;
  rd_store_bind_text (st, 1, f->queue);
  rd_store_bind_text (st, 2, f->status);
  sqlite3_bind_int (st, 3, f->limit ? (int) f->limit : 50);
  sqlite3_bind_int (st, 4, (int) f->offset);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_ticket_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (out, rd_store_ticket_from_row (st));
  if (!rd_store_rows_done (store, st, rc, "list tickets", error))
    return NULL;
  return g_steal_pointer (&out);
}

RdTicket *
rd_store_ticket_get (RdStore *store, gint64 number, GError **error)
{
  g_autoptr(RdTicket) t = rd_store_ticket_read (store, number, TRUE, error);
  if (t == NULL)
    return NULL;
  t->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_ticket_message_free);
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT id, spool_id, direction, message_id, from_name, from_addr, subject,"
      " body_text, created_at, to_addrs, cc_addrs, author, delivery_status, delivery_code"
      " FROM messages WHERE ticket_number = ? ORDER BY id", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, number);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      RdTicketMessage *m = g_new0 (RdTicketMessage, 1);
      m->id = sqlite3_column_int64 (st, 0);
      m->spool_id = sqlite3_column_int64 (st, 1);
      m->direction = rd_store_col_strdup (st, 2);
      m->message_id = rd_store_col_strdup (st, 3);
      m->from_name = rd_store_col_strdup (st, 4);
      m->from_addr = rd_store_col_strdup (st, 5);
      m->subject = rd_store_col_strdup (st, 6);
      m->body_text = rd_store_col_strdup (st, 7);
      m->created_at = sqlite3_column_int64 (st, 8);
      m->to_addrs = rd_store_col_strdup (st, 9);
      m->cc_addrs = rd_store_col_strdup (st, 10);
      m->author = rd_store_col_strdup (st, 11);
      m->delivery_status = rd_store_col_strdup (st, 12);
      m->delivery_code = rd_store_col_strdup (st, 13);
      g_ptr_array_add (t->messages, m);
    }
  if (!rd_store_rows_done (store, st, rc, "read messages", error))
    return NULL;
  return g_steal_pointer (&t);
}
