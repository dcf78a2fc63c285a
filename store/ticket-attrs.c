/* relaydesk — store: ticket attributes set by the rules. */
#include "store-private.h"
#include "ticket-attrs.h"

gboolean
rd_store_ticket_set_attrs (RdStore *store, gint64 number, const char *priority, const char *assignee,
                           const char *status, const char *const *tags, GError **error)
{
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  sqlite3_stmt *st = rd_store_stmt (store,
      "UPDATE tickets SET priority = COALESCE(?1, priority), assignee = COALESCE(?2, assignee),"
      " status = COALESCE(?3, status), updated_at = ?4 WHERE number = ?5", error);
  if (st == NULL)
    return FALSE;
  rd_store_bind_text (st, 1, priority);
  rd_store_bind_text (st, 2, assignee);
  rd_store_bind_text (st, 3, status);
  sqlite3_bind_int64 (st, 4, g_get_real_time () / G_USEC_PER_SEC);
  sqlite3_bind_int64 (st, 5, number);
  if (!rd_store_step_done (store, st, "set ticket attributes", error))
    return FALSE;
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no ticket %" G_GINT64_FORMAT, number);
      return FALSE;
    }
  for (guint i = 0; tags && tags[i]; i++)
    {
      st = rd_store_stmt (store, "INSERT OR IGNORE INTO ticket_tags (ticket_number, tag) VALUES (?, ?)", error);
      if (st == NULL)
        return FALSE;
      sqlite3_bind_int64 (st, 1, number);
      rd_store_bind_text (st, 2, tags[i]);
      if (!rd_store_step_done (store, st, "add ticket tag", error))
        return FALSE;
    }
  return rd_store_tx_commit (&tx, error);
}

GStrv
rd_store_ticket_get_tags (RdStore *store, gint64 number, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT tag FROM ticket_tags WHERE ticket_number = ? ORDER BY tag", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, number);
  GPtrArray *out = g_ptr_array_new ();
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (out, rd_store_col_strdup (st, 0));
  sqlite3_reset (st);
  if (rc != SQLITE_DONE)
    {
      g_ptr_array_set_free_func (out, g_free);
      g_ptr_array_unref (out);
      rd_store_set_error (store, rc, error, "read ticket tags");
      return NULL;
    }
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}
