/* relaydesk — store: the outbox (producer side). */
#include "store-private.h"
#include "outbox.h"

static const char *kind_names[] = { "reply", "autoreply", "redirect", "reject", "notification" };

const char *
rd_outbox_kind_to_string (RdOutboxKind kind)
{
  g_return_val_if_fail (kind <= RD_OUTBOX_NOTIFICATION, "unknown");
  return kind_names[kind];
}

gboolean
rd_store_outbox_enqueue (RdStore *store, const RdOutboxDraft *d, gint64 *id, GError **error)
{
  g_return_val_if_fail (d->raw != NULL && d->recipients != NULL && d->recipients[0] != NULL, FALSE);
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  gsize len;
  const void *raw = g_bytes_get_data (d->raw, &len);
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT INTO outbox (kind, ticket_number, sender, message_id, raw, created_at, next_attempt_at)"
      " VALUES (?,?,?,?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  sqlite3_bind_text (st, 1, rd_outbox_kind_to_string (d->kind), -1, SQLITE_STATIC);
  if (d->ticket_number > 0)
    sqlite3_bind_int64 (st, 2, d->ticket_number);
  else
    sqlite3_bind_null (st, 2);
  sqlite3_bind_text (st, 3, d->sender ? d->sender : "", -1, SQLITE_STATIC);
  rd_store_bind_text (st, 4, d->message_id);
  sqlite3_bind_blob64 (st, 5, raw, len, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 6, now);
  sqlite3_bind_int64 (st, 7, now);
  if (!rd_store_step_done (store, st, "queue outbound message", error))
    return FALSE;
  gint64 row = sqlite3_last_insert_rowid (store->db);
  for (guint i = 0; d->recipients[i]; i++)
    {
      st = rd_store_stmt (store,
          "INSERT INTO outbox_recipients (outbox_id, position, address) VALUES (?,?,?)", error);
      if (st == NULL)
        return FALSE;
      sqlite3_bind_int64 (st, 1, row);
      sqlite3_bind_int (st, 2, (int) i);
      sqlite3_bind_text (st, 3, d->recipients[i], -1, SQLITE_STATIC);
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
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT INTO suppressions (address, reason, created_at) VALUES (lower(?1), ?2, ?3)"
      " ON CONFLICT (address) DO UPDATE SET reason = excluded.reason", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, address, -1, SQLITE_STATIC);
  rd_store_bind_text (st, 2, reason);
  sqlite3_bind_int64 (st, 3, g_get_real_time () / G_USEC_PER_SEC);
  if (!rd_store_step_done (store, st, "add suppression", error))
    return FALSE;
  return TRUE;
}

gboolean
rd_store_suppression_check (RdStore *store, const char *address, char **reason, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT reason FROM suppressions WHERE address = lower(?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, address, -1, SQLITE_STATIC);
  gboolean found = sqlite3_step (st) == SQLITE_ROW;
  if (found && reason)
    *reason = rd_store_col_strdup (st, 0);
  sqlite3_reset (st);
  return found;
}
