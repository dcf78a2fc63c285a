/* relaydesk — store: the spool of received messages.
 *
 * A message is spooled with its envelope in one transaction; the COMMIT
 * (WAL, synchronous=FULL) is the durability point behind the SMTP 250.
 */
#include "store-private.h"

#include <string.h>

static const char *state_names[] = { "new", "processed", "discarded", "quarantined" };

const char *
rd_spool_state_to_string (RdSpoolState state)
{
  g_return_val_if_fail (state <= RD_SPOOL_QUARANTINED, "unknown");
  return state_names[state];
}

static RdSpoolState
state_from_string (const char *s)
{
  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    if (s && strcmp (s, state_names[i]) == 0)
      return (RdSpoolState) i;
  return RD_SPOOL_NEW;
}

RdSpoolItem *
rd_spool_item_new (void)
{
  RdSpoolItem *it = g_new0 (RdSpoolItem, 1);
  it->recipients = g_ptr_array_new_with_free_func (g_free);
  return it;
}

void
rd_spool_item_free (RdSpoolItem *it)
{
  if (it == NULL)
    return;
  g_free (it->sender);
  g_ptr_array_unref (it->recipients);
  g_free (it->client_addr);
  g_free (it->helo);
  g_free (it->protocol);
  if (it->raw)
    g_bytes_unref (it->raw);
  g_free (it->queue_id);
  g_free (it);
}

void
rd_spooled_free (RdSpooled *m)
{
  if (m == NULL)
    return;
  g_free (m->queue_id);
  g_free (m->sender);
  if (m->recipients)
    g_ptr_array_unref (m->recipients);
  g_free (m->client_addr);
  g_free (m->helo);
  g_free (m->protocol);
  g_free (m->message_id);
  if (m->raw)
    g_bytes_unref (m->raw);
  g_free (m->state_reason);
  g_free (m);
}

/* Queue ids: 10 hex digits of microseconds plus 6 random hex digits —
 * sortable by time, unique across the daemon and `deliver` processes. */
static char *
new_queue_id (void)
{
  static gint64 last;
  static GMutex lock;
  g_mutex_lock (&lock);
  gint64 now = g_get_real_time ();
  if (now <= last)
    now = last + 1;
  last = now;
  g_mutex_unlock (&lock);
  return g_strdup_printf ("%010" G_GINT64_MODIFIER "X%06X",
                          now & G_GINT64_CONSTANT (0xFFFFFFFFFF),
                          g_random_int () & 0xFFFFFF);
}

gboolean
rd_store_spool_put (RdStore *store, RdSpoolItem **items, guint n, GError **error)
{
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  for (guint i = 0; i < n; i++)
    {
      RdSpoolItem *it = items[i];
      g_return_val_if_fail (it->raw != NULL && it->recipients->len > 0, FALSE);
      gsize len = 0;
      const char *raw = g_bytes_get_data (it->raw, &len);
      g_autofree char *msgid = rd_peek_message_id (raw, len);
      g_autofree char *qid = new_queue_id ();
      sqlite3_stmt *st = rd_store_stmt (store,
          "INSERT INTO spool (queue_id, received_at, sender, client_addr, helo,"
          " protocol, message_id, size, raw) VALUES (?,?,?,?,?,?,?,?,?)", error);
      if (st == NULL)
        return FALSE;
      sqlite3_bind_text (st, 1, qid, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (st, 2, now);
      sqlite3_bind_text (st, 3, it->sender ? it->sender : "", -1, SQLITE_STATIC);
      rd_store_bind_text (st, 4, it->client_addr);
      rd_store_bind_text (st, 5, it->helo);
      rd_store_bind_text (st, 6, it->protocol);
      rd_store_bind_text (st, 7, msgid);
      sqlite3_bind_int64 (st, 8, (sqlite3_int64) len);
      sqlite3_bind_blob64 (st, 9, raw, len, SQLITE_STATIC);
      if (!rd_store_step_done (store, st, "spool message", error))
        return FALSE;
      gint64 id = sqlite3_last_insert_rowid (store->db);
      for (guint r = 0; r < it->recipients->len; r++)
        {
          st = rd_store_stmt (store,
              "INSERT INTO spool_recipients (spool_id, position, address) VALUES (?,?,?)", error);
          if (st == NULL)
            return FALSE;
          sqlite3_bind_int64 (st, 1, id);
          sqlite3_bind_int (st, 2, (int) r);
          sqlite3_bind_text (st, 3, g_ptr_array_index (it->recipients, r), -1, SQLITE_STATIC);
          if (!rd_store_step_done (store, st, "spool recipient", error))
            return FALSE;
        }
      g_free (it->queue_id);
      it->queue_id = g_steal_pointer (&qid);
      it->spool_id = id;
    }
  if (!rd_store_tx_commit (&tx, error))
    {
      g_prefix_error (error, "commit: ");
      return FALSE;
    }
  return TRUE;
}

GArray *
rd_store_spool_pending (RdStore *store, guint limit, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT id FROM spool WHERE state = 'new' ORDER BY id LIMIT ?", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int (st, 1, (int) limit);
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (st, 0);
      g_array_append_val (ids, id);
    }
  if (!rd_store_rows_done (store, st, rc, "list pending", error))
    return NULL;
  return g_steal_pointer (&ids);
}

static RdSpooled *
spooled_from_row (RdStore *store, sqlite3_stmt *st, GError **error)
{
  g_autoptr(RdSpooled) m = g_new0 (RdSpooled, 1);
  m->id = sqlite3_column_int64 (st, 0);
  m->queue_id = rd_store_col_strdup (st, 1);
  m->received_at = sqlite3_column_int64 (st, 2);
  m->sender = rd_store_col_strdup (st, 3);
  m->client_addr = rd_store_col_strdup (st, 4);
  m->helo = rd_store_col_strdup (st, 5);
  m->protocol = rd_store_col_strdup (st, 6);
  m->message_id = rd_store_col_strdup (st, 7);
  m->raw = g_bytes_new (sqlite3_column_blob (st, 8), sqlite3_column_bytes (st, 8));
  m->state = state_from_string ((const char *) sqlite3_column_text (st, 9));
  m->state_reason = rd_store_col_strdup (st, 10);
  m->recipients = g_ptr_array_new_with_free_func (g_free);
  sqlite3_stmt *rs = rd_store_stmt (store,
      "SELECT address FROM spool_recipients WHERE spool_id = ? ORDER BY position", error);
  if (rs == NULL)
    return NULL;
  sqlite3_bind_int64 (rs, 1, m->id);
  int rc;
  while ((rc = sqlite3_step (rs)) == SQLITE_ROW)
    g_ptr_array_add (m->recipients, rd_store_col_strdup (rs, 0));
  if (!rd_store_rows_done (store, rs, rc, "read recipients", error))
    return NULL;
  return g_steal_pointer (&m);
}

#define SPOOL_COLUMNS "id, queue_id, received_at, sender, client_addr, helo, protocol," \
                      " message_id, raw, state, state_reason"

RdSpooled *
rd_store_spool_get (RdStore *store, gint64 id, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT " SPOOL_COLUMNS " FROM spool WHERE id = ?", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, id);
  if (!rd_store_step_row (store, st, "read spool", error, "no spooled message %" G_GINT64_FORMAT, id))
    return NULL;
  RdSpooled *m = spooled_from_row (store, st, error);
  sqlite3_reset (st);
  return m;
}

RdSpooled *
rd_store_spool_find_by_message_id (RdStore *store, const char *message_id, GError **error)
{
  g_autofree char *id = rd_msgid_normalize (message_id);
  if (id == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "empty Message-ID");
      return NULL;
    }
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT " SPOOL_COLUMNS " FROM spool WHERE message_id = ? ORDER BY id DESC LIMIT 1", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (st);
      if (rc == SQLITE_DONE)
        g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND,
                     "no spooled message with Message-ID <%s>", id);
      else
        rd_store_set_error (store, rc, error, "find spool");
      return NULL;
    }
  RdSpooled *m = spooled_from_row (store, st, error);
  sqlite3_reset (st);
  return m;
}

gboolean
rd_store_spool_set_state (RdStore *store, gint64 id, RdSpoolState state,
                          const char *reason, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "UPDATE spool SET state = ?, state_reason = ?, processed_at = ? WHERE id = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, rd_spool_state_to_string (state), -1, SQLITE_STATIC);
  rd_store_bind_text (st, 2, reason);
  if (state == RD_SPOOL_NEW)
    sqlite3_bind_null (st, 3);
  else
    sqlite3_bind_int64 (st, 3, g_get_real_time () / G_USEC_PER_SEC);
  sqlite3_bind_int64 (st, 4, id);
  if (!rd_store_step_done (store, st, "set spool state", error))
    return FALSE;
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no spooled message %" G_GINT64_FORMAT, id);
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_store_spool_counts (RdStore *store, gint64 counts[4], GError **error)
{
  memset (counts, 0, 4 * sizeof (gint64));
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT state, count(*) FROM spool GROUP BY state", error);
  if (st == NULL)
    return FALSE;
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    counts[state_from_string ((const char *) sqlite3_column_text (st, 0))] = sqlite3_column_int64 (st, 1);
  if (!rd_store_rows_done (store, st, rc, "count spool", error))
    return FALSE;
  return TRUE;
}
