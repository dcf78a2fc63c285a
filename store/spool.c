/* relaydesk — store: the spool of received messages (see spool.h). */
#include "store-private.h"
#include "spool.h"

#include <string.h>

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
  g_free (m->auth_results);
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
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  gint64 now = rd_store_now ();
  g_autoptr(GPtrArray) qids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < n; i++)
    {
      RdSpoolItem *it = items[i];
      g_return_val_if_fail (it->raw != NULL && it->recipients->len > 0, FALSE);
      gsize len = 0;
      const char *raw = g_bytes_get_data (it->raw, &len);
      g_autofree char *msgid = rd_peek_message_id (raw, len);
      char *qid = new_queue_id ();
      g_ptr_array_add (qids, qid);
      RdDbStmt *st = rd_store_stmt (store, RD_SQL_SPOOL_INSERT, error);
      if (st == NULL)
        return FALSE;
      rd_db_bind_text (st, 1, qid);
      rd_db_bind_int64 (st, 2, now);
      rd_db_bind_text (st, 3, it->sender ? it->sender : "");
      rd_db_bind_text (st, 4, it->client_addr);
      rd_db_bind_text (st, 5, it->helo);
      rd_db_bind_text (st, 6, it->protocol);
      rd_db_bind_text (st, 7, msgid);
      rd_db_bind_int64 (st, 8, (gint64) len);
      rd_db_bind_blob (st, 9, raw, len);
      if (!rd_store_step_row (store, st, "spool message", error, "spool message: no id"))
        return FALSE;
      gint64 id = rd_db_col_int64 (st, 0);
      rd_db_reset (st);
      g_array_append_val (ids, id);
      for (guint r = 0; r < it->recipients->len; r++)
        {
          st = rd_store_stmt (store, RD_SQL_SPOOL_INSERT_RECIPIENT, error);
          if (st == NULL)
            return FALSE;
          rd_db_bind_int64 (st, 1, id);
          rd_db_bind_int64 (st, 2, r);
          rd_db_bind_text (st, 3, g_ptr_array_index (it->recipients, r));
          if (!rd_store_step_done (store, st, "spool recipient", error))
            return FALSE;
        }
    }
  if (!rd_store_tx_commit (&tx, error))
    {
      g_prefix_error (error, "commit: ");
      return FALSE;
    }
  /* Only now, after the commit: on failure the items stay as they were. */
  for (guint i = 0; i < n; i++)
    {
      g_free (items[i]->queue_id);
      items[i]->queue_id = g_strdup (g_ptr_array_index (qids, i));
      items[i]->spool_id = g_array_index (ids, gint64, i);
    }
  return TRUE;
}

GArray *
rd_store_spool_pending (RdStore *store, guint limit, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SPOOL_PENDING, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, limit);
  return rd_store_collect_int64 (store, st, "list pending", error);
}

static gint
compare_id (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

GArray *
rd_store_spool_claim (RdStore *store, guint limit, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SPOOL_CLAIM, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, limit);
  rd_db_bind_text (st, 2, store->node);
  rd_db_bind_int64 (st, 3, rd_store_now ());
  rd_db_bind_int64 (st, 4, store->lease_seconds);
  GArray *ids = rd_store_collect_int64 (store, st, "claim pending", error);
  if (ids)
    g_array_sort (ids, compare_id); /* oldest first: an original before its follow-up */
  return ids;
}

/* Reads the row @st is on (RD_SQL_SPOOL_GET's columns) and resets @st. */
static RdSpooled *
spooled_from_row (RdStore *store, RdDbStmt *st, GError **error)
{
  g_autoptr(RdSpooled) m = g_new0 (RdSpooled, 1);
  m->id = rd_db_col_int64 (st, 0);
  m->queue_id = rd_db_col_strdup (st, 1);
  m->received_at = rd_db_col_int64 (st, 2);
  m->sender = rd_db_col_strdup (st, 3);
  m->client_addr = rd_db_col_strdup (st, 4);
  m->helo = rd_db_col_strdup (st, 5);
  m->protocol = rd_db_col_strdup (st, 6);
  m->message_id = rd_db_col_strdup (st, 7);
  m->raw = rd_db_col_bytes (st, 8);
  if (!rd_spool_state_from_string (rd_db_col_text (st, 9), &m->state))
    m->state = RD_SPOOL_NEW;
  m->state_reason = rd_db_col_strdup (st, 10);
  m->auth_results = rd_db_col_strdup (st, 11);
  rd_db_reset (st);
  m->recipients = g_ptr_array_new_with_free_func (g_free);
  RdDbStmt *rs = rd_store_stmt (store, RD_SQL_SPOOL_RECIPIENTS, error);
  if (rs == NULL)
    return NULL;
  rd_db_bind_int64 (rs, 1, m->id);
  if (!rd_store_collect_strings (store, rs, "read recipients", m->recipients, error))
    return NULL;
  return g_steal_pointer (&m);
}

RdSpooled *
rd_store_spool_get (RdStore *store, gint64 id, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SPOOL_GET, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, id);
  if (!rd_store_step_row (store, st, "read spool", error, "no spooled message %" G_GINT64_FORMAT, id))
    return NULL;
  return spooled_from_row (store, st, error);
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
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SPOOL_FIND_BY_MESSAGE_ID, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_text (st, 1, id);
  if (!rd_store_step_row (store, st, "find spool", error, "no spooled message with Message-ID <%s>", id))
    return NULL;
  return spooled_from_row (store, st, error);
}

gboolean
rd_store_spool_set_state (RdStore *store, gint64 id, RdSpoolState state, const char *reason, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SPOOL_SET_STATE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, rd_spool_state_to_string (state));
  rd_db_bind_text (st, 2, reason);
  rd_db_bind_id (st, 3, state == RD_SPOOL_NEW ? 0 : rd_store_now ());
  rd_db_bind_int64 (st, 4, id);
  if (!rd_store_step_done (store, st, "set spool state", error))
    return FALSE;
  if (rd_store_changes (store) == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no spooled message %" G_GINT64_FORMAT, id);
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_store_spool_set_auth (RdStore *store, gint64 id, const char *auth_results, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SPOOL_SET_AUTH, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, auth_results);
  rd_db_bind_int64 (st, 2, id);
  return rd_store_step_done (store, st, "record authentication results", error);
}

gboolean
rd_store_spool_mark_processed (RdStore *store, gint64 spool_id, GError **error)
{
  return rd_store_spool_set_state (store, spool_id, RD_SPOOL_PROCESSED, NULL, error);
}

gboolean
rd_store_spool_counts (RdStore *store, gint64 counts[RD_SPOOL_STATE_N], GError **error)
{
  memset (counts, 0, RD_SPOOL_STATE_N * sizeof (gint64));
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SPOOL_COUNTS, error);
  if (st == NULL)
    return FALSE;
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdSpoolState s;
      if (rd_spool_state_from_string (rd_db_col_text (st, 0), &s))
        counts[s] = rd_db_col_int64 (st, 1);
    }
  return rd_store_rows_done (store, st, rc, "count spool", error);
}
