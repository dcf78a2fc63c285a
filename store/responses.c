/* relaydesk — store: vacation response log and duplicate ids (see
 * responses.h). */
#include "store-private.h"
#include "responses.h"

gboolean
rd_store_response_due (RdStore *store, const char *inbox, const char *sender, const char *handle,
                       gint64 period, gint64 now, gboolean *due, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_RESPONSE_LAST, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, inbox);
  rd_db_bind_text (st, 2, sender);
  rd_db_bind_text (st, 3, handle);
  gboolean found = FALSE;
  if (!rd_store_step_maybe (store, st, "read response log", &found, error))
    return FALSE;
  *due = TRUE;
  if (found)
    {
      *due = now - rd_db_col_int64 (st, 0) >= period;
      rd_db_reset (st);
    }
  return TRUE;
}

gboolean
rd_store_response_record (RdStore *store, const char *inbox, const char *sender, const char *handle,
                          gint64 now, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_RESPONSE_RECORD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, inbox);
  rd_db_bind_text (st, 2, sender);
  rd_db_bind_text (st, 3, handle);
  rd_db_bind_int64 (st, 4, now);
  return rd_store_step_done (store, st, "record response", error);
}

gboolean
rd_store_duplicate_seen (RdStore *store, const char *id, gint64 now, gboolean *seen, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_DUPLICATE_GET, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, id);
  gboolean found = FALSE;
  if (!rd_store_step_maybe (store, st, "read duplicate ids", &found, error))
    return FALSE;
  *seen = FALSE;
  if (found)
    {
      *seen = rd_db_col_int64 (st, 0) > now;
      rd_db_reset (st);
    }
  return TRUE;
}

gboolean
rd_store_duplicate_record (RdStore *store, const char *id, gint64 seconds, gint64 now, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_DUPLICATE_EXPIRE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, now);
  if (!rd_store_step_done (store, st, "expire duplicate ids", error))
    return FALSE;
  st = rd_store_stmt (store, RD_SQL_DUPLICATE_RECORD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, id);
  rd_db_bind_int64 (st, 2, now + seconds);
  return rd_store_step_done (store, st, "record duplicate id", error);
}
