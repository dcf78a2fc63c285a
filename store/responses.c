/* relaydesk — store: vacation response log and duplicate ids. */
#include "store-private.h"
#include "responses.h"

gboolean
rd_store_response_due (RdStore *store, const char *inbox, const char *sender, const char *handle,
                       gint64 period, gint64 now, gboolean *due, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT sent_at FROM rules_responses WHERE inbox = lower(?1) AND sender = lower(?2) AND handle = ?3", error);
  if (st == NULL)
    return FALSE;
  rd_store_bind_text (st, 1, inbox);
  rd_store_bind_text (st, 2, sender);
  rd_store_bind_text (st, 3, handle);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    *due = now - sqlite3_column_int64 (st, 0) >= period;
  else if (rc == SQLITE_DONE)
    *due = TRUE;
  else
    {
      sqlite3_reset (st);
      rd_store_set_error (store, rc, error, "read response log");
      return FALSE;
    }
  sqlite3_reset (st);
  return TRUE;
}

gboolean
rd_store_response_record (RdStore *store, const char *inbox, const char *sender, const char *handle,
                          gint64 now, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT INTO rules_responses (inbox, sender, handle, sent_at) VALUES (lower(?1), lower(?2), ?3, ?4)"
      " ON CONFLICT (inbox, sender, handle) DO UPDATE SET sent_at = excluded.sent_at", error);
  if (st == NULL)
    return FALSE;
  rd_store_bind_text (st, 1, inbox);
  rd_store_bind_text (st, 2, sender);
  rd_store_bind_text (st, 3, handle);
  sqlite3_bind_int64 (st, 4, now);
  if (!rd_store_step_done (store, st, "record response", error))
    return FALSE;
  return TRUE;
}

gboolean
rd_store_duplicate_seen (RdStore *store, const char *id, gint64 now, gboolean *seen, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT expires_at FROM rules_duplicates WHERE id = ?", error);
  if (st == NULL)
    return FALSE;
  rd_store_bind_text (st, 1, id);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    *seen = sqlite3_column_int64 (st, 0) > now;
  else if (rc == SQLITE_DONE)
    *seen = FALSE;
  else
    {
      sqlite3_reset (st);
      rd_store_set_error (store, rc, error, "read duplicate ids");
      return FALSE;
    }
  sqlite3_reset (st);
  return TRUE;
}

gboolean
rd_store_duplicate_record (RdStore *store, const char *id, gint64 seconds, gint64 now, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store, "DELETE FROM rules_duplicates WHERE expires_at <= ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, now);
  if (!rd_store_step_done (store, st, "expire duplicate ids", error))
    return FALSE;
  st = rd_store_stmt (store,
      "INSERT INTO rules_duplicates (id, expires_at) VALUES (?1, ?2)"
      " ON CONFLICT (id) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)", error);
  if (st == NULL)
    return FALSE;
  rd_store_bind_text (st, 1, id);
  sqlite3_bind_int64 (st, 2, now + seconds);
  if (!rd_store_step_done (store, st, "record duplicate id", error))
    return FALSE;
  return TRUE;
}
