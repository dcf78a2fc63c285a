/* relaydesk — store: figures, write probe, backup, verification (see
 * maintenance.h). */
#include "maintenance.h"
#include "store-private.h"
#include "spool.h"
#include "outbox.h"

#include <errno.h>
#include <string.h>

gboolean
rd_store_stats (RdStore *store, RdStoreStats *stats, GError **error)
{
  memset (stats, 0, sizeof *stats);
  if (!rd_store_spool_counts (store, stats->spool, error)
      || !rd_store_outbox_counts (store, stats->outbox, error))
    return FALSE;
  const struct { RdSql q; gint64 *out; const char *what; } firsts[] = {
    { RD_SQL_SPOOL_OLDEST_NEW, &stats->spool_oldest_new, "oldest unprocessed message" },
    { RD_SQL_OUTBOX_OLDEST_WAITING, &stats->outbox_oldest_waiting, "oldest waiting outbox row" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (firsts); i++)
    {
      RdDbStmt *st = rd_store_stmt (store, firsts[i].q, error);
      gboolean found = FALSE;
      if (st == NULL || !rd_store_step_maybe (store, st, firsts[i].what, &found, error))
        return FALSE;
      if (found)
        {
          *firsts[i].out = rd_db_col_is_null (st, 0) ? 0 : rd_db_col_int64 (st, 0);
          rd_db_reset (st);
        }
    }
  return TRUE;
}

gboolean
rd_store_probe_write (RdStore *store, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_HEALTH_PROBE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, rd_store_now ());
  if (!rd_store_step_done (store, st, "write probe", error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_store_backup (RdStore *store, const char *dest_path, GError **error)
{
  if (rd_store_dialect (store) != RD_SQL_SQLITE)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED,
                   "relaydesk backup copies SQLite databases; back up %s with its own tools (pg_dump, or "
                   "pg_basebackup with WAL archiving: docs/scale-out.md)",
                   rd_store_get_backend (store));
      return FALSE;
    }
  if (g_file_test (dest_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFLICT, "%s exists already", dest_path);
      return FALSE;
    }
  return rd_sqlite_backup (store->db, dest_path, error);
}

/* Words for what integrity_check reports. The messages are SQLite's
 * ("row 3 missing from index spool_pending", "Page 7: btreeInitPage()
 * returns error code 11", "*** in database main ***"); each gets a
 * sentence saying what it means for relaydesk. */
static char *
describe_integrity (const char *line)
{
  if (g_str_has_prefix (line, "*** in database"))
    return NULL;
  if (strstr (line, "missing from index") || strstr (line, "wrong # of entries in index")
      || strstr (line, "non-unique entry in index"))
    return g_strdup_printf ("an index disagrees with its table (%s): the data is there, the index "
                            "must be rebuilt (sqlite3 relaydesk.db 'REINDEX')", line);
  if (g_str_has_prefix (line, "Page ") || g_str_has_prefix (line, "On tree page")
      || strstr (line, "never used") || strstr (line, "freelist"))
    return g_strdup_printf ("the database file is damaged (%s): restore the last backup "
                            "(relaydesk restore) or salvage with sqlite3 '.recover'", line);
  if (g_str_has_prefix (line, "NULL value in") || g_str_has_prefix (line, "CHECK constraint failed"))
    return g_strdup_printf ("a row breaks a rule of the schema (%s)", line);
  return g_strdup_printf ("integrity check: %s", line);
}

gboolean
rd_store_verify (RdStore *store, GPtrArray *problems, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_INTEGRITY_CHECK, error);
  if (st == NULL)
    return FALSE;
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      const char *line = rd_db_col_text (st, 0);
      if (line == NULL || g_str_equal (line, "ok"))
        continue;
      /* One row may hold several lines. */
      g_auto(GStrv) lines = g_strsplit (line, "\n", -1);
      for (guint i = 0; lines[i]; i++)
        {
          char *p = *lines[i] ? describe_integrity (lines[i]) : NULL;
          if (p)
            g_ptr_array_add (problems, p);
        }
    }
  if (!rd_store_rows_done (store, st, rc, "integrity check", error))
    return FALSE;

  st = rd_store_stmt (store, RD_SQL_FOREIGN_KEY_CHECK, error);
  if (st == NULL)
    return FALSE;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      const char *table = rd_db_col_text (st, 0);
      const char *parent = rd_db_col_text (st, 2);
      if (rd_db_col_is_null (st, 1))
        g_ptr_array_add (problems, g_strdup_printf ("table %s: a row refers to a row of %s that does not exist",
                                                    table, parent));
      else
        g_ptr_array_add (problems, g_strdup_printf ("table %s, row %" G_GINT64_FORMAT ": refers to a row of %s "
                                                    "that does not exist", table, rd_db_col_int64 (st, 1), parent));
    }
  if (!rd_store_rows_done (store, st, rc, "foreign key check", error))
    return FALSE;

  /* Every migration this program knows must be recorded: a database
   * from a newer relaydesk, or one whose migrations were cut short,
   * shows here. */
  g_auto(GStrv) applied = rd_store_list_migrations (store, error);
  if (applied == NULL)
    return FALSE;
  for (const RdStoreMigration *m = rd_store_migrations (store); m->name; m++)
    if (!g_strv_contains ((const char *const *) applied, m->name))
      g_ptr_array_add (problems, g_strdup_printf ("migration %s was never applied: open the store once with "
                                                  "this version (relaydesk serve migrates it)", m->name));
  for (guint i = 0; applied[i]; i++)
    {
      gboolean known = FALSE;
      for (const RdStoreMigration *m = rd_store_migrations (store); m->name && !known; m++)
        known = g_str_equal (m->name, applied[i]);
      if (!known)
        g_ptr_array_add (problems, g_strdup_printf ("migration %s is not one this version knows: the database "
                                                    "was written by a newer relaydesk", applied[i]));
    }
  return TRUE;
}
