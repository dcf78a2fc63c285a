/* relaydesk — store: connection, errors, transactions, migrations. */
#include "store-private.h"

#include <errno.h>
#include <string.h>
#include <stdarg.h>
#include <glib/gstdio.h>

#define RD_DB_FILE "relaydesk.db"
#define RD_BUSY_TIMEOUT_MS 10000

void
rd_store_set_error (RdStore *store, int rc, GError **error, const char *what)
{
  int prim = rc & 0xff;
  RdError code;
  switch (prim)
    {
    case SQLITE_FULL:
      code = RD_ERROR_DISK_FULL;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      code = RD_ERROR_TEMPORARY;
      break;
    default:
      code = RD_ERROR_FAILED;
    }
  const char *msg = store && store->db ? sqlite3_errmsg (store->db) : sqlite3_errstr (rc);
  g_set_error (error, RD_ERROR, code, "%s: %s (sqlite %d)", what, msg, rc);
}

sqlite3_stmt *
rd_store_stmt (RdStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *st = g_hash_table_lookup (store->stmts, sql);
  if (st != NULL)
    {
      sqlite3_reset (st);
      sqlite3_clear_bindings (st);
      return st;
    }
  int rc = sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  if (rc != SQLITE_OK)
    {
      rd_store_set_error (store, rc, error, "prepare");
      return NULL;
    }
  g_hash_table_insert (store->stmts, (gpointer) sql, st);
  return st;
}

gboolean
rd_store_step_done (RdStore *store, sqlite3_stmt *st, const char *what, GError **error)
{
  int rc = sqlite3_step (st);
  sqlite3_reset (st);
  if (rc != SQLITE_DONE)
    {
      rd_store_set_error (store, rc, error, what);
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_store_step_row (RdStore *store, sqlite3_stmt *st, const char *what, GError **error,
                   const char *not_found_fmt, ...)
{
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    return TRUE;
  sqlite3_reset (st);
  if (rc == SQLITE_DONE)
    {
      va_list ap;
      va_start (ap, not_found_fmt);
      g_autofree char *msg = g_strdup_vprintf (not_found_fmt, ap);
      va_end (ap);
      g_set_error_literal (error, RD_ERROR, RD_ERROR_NOT_FOUND, msg);
    }
  else
    rd_store_set_error (store, rc, error, what);
  return FALSE;
}

gboolean
rd_store_rows_done (RdStore *store, sqlite3_stmt *st, int rc, const char *what, GError **error)
{
  sqlite3_reset (st);
  if (rc != SQLITE_DONE)
    {
      rd_store_set_error (store, rc, error, what);
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_store_exec (RdStore *store, const char *sql, GError **error)
{
  char *errmsg = NULL;
  int rc = sqlite3_exec (store->db, sql, NULL, NULL, &errmsg);
  if (rc != SQLITE_OK)
    {
      rd_store_set_error (store, rc, error, errmsg ? errmsg : "exec");
      sqlite3_free (errmsg);
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_store_tx_begin (RdStore *store, RdStoreTx *tx, GError **error)
{
  tx->store = store;
  tx->active = FALSE;
  tx->joined = !sqlite3_get_autocommit (store->db);
  if (tx->joined)
    return TRUE; /* inside the caller's rd_store_begin(): it commits */
  /* IMMEDIATE: take the write lock now, so a busy database is seen here
   * (and waited for by the busy timeout), not at COMMIT. */
  if (!rd_store_exec (store, "BEGIN IMMEDIATE", error))
    return FALSE;
  tx->active = TRUE;
  return TRUE;
}

gboolean
rd_store_tx_commit (RdStoreTx *tx, GError **error)
{
  if (tx->joined)
    return TRUE;
  g_return_val_if_fail (tx->active, FALSE);
  if (!rd_store_exec (tx->store, "COMMIT", error))
    return FALSE; /* still active: tx_end rolls back */
  tx->active = FALSE;
  return TRUE;
}

void
rd_store_tx_end (RdStoreTx *tx)
{
  if (tx->store != NULL && tx->active)
    {
      sqlite3_exec (tx->store->db, "ROLLBACK", NULL, NULL, NULL);
      tx->active = FALSE;
    }
}

/* rd_store_begin() nests: the outermost call is BEGIN IMMEDIATE, inner
 * ones are SAVEPOINTs, so a layer that groups its own work (the desk's
 * actions) can run inside a caller's transaction (the desk's processing
 * of one message) and still roll back only its own part. */
gboolean
rd_store_begin (RdStore *store, GError **error)
{
  if (sqlite3_get_autocommit (store->db))
    store->depth = 0; /* whatever was open has ended (COMMIT elsewhere) */
  else if (store->depth == 0)
    store->depth = 1; /* opened by rd_store_tx_begin: nest in it */
  if (store->depth == 0)
    {
      if (!rd_store_exec (store, "BEGIN IMMEDIATE", error))
        return FALSE;
      store->depth = 1;
      return TRUE;
    }
  g_autofree char *sql = g_strdup_printf ("SAVEPOINT rd_%u", store->depth);
  if (!rd_store_exec (store, sql, error))
    return FALSE;
  store->depth++;
  return TRUE;
}

gboolean
rd_store_commit (RdStore *store, GError **error)
{
  if (store->depth <= 1)
    {
      if (!rd_store_exec (store, "COMMIT", error))
        return FALSE;
      store->depth = 0;
      return TRUE;
    }
  g_autofree char *sql = g_strdup_printf ("RELEASE rd_%u", store->depth - 1);
  if (!rd_store_exec (store, sql, error))
    return FALSE;
  store->depth--;
  return TRUE;
}

void
rd_store_rollback (RdStore *store)
{
  if (store->depth > 1)
    {
      g_autofree char *sql = g_strdup_printf ("ROLLBACK TO rd_%u; RELEASE rd_%u", store->depth - 1, store->depth - 1);
      sqlite3_exec (store->db, sql, NULL, NULL, NULL);
      store->depth--;
      return;
    }
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  store->depth = 0;
}

char *
rd_store_col_strdup (sqlite3_stmt *st, int col)
{
  const unsigned char *t = sqlite3_column_text (st, col);
  return t ? g_strdup ((const char *) t) : NULL;
}

void
rd_store_bind_text (sqlite3_stmt *st, int idx, const char *text)
{
  if (text == NULL)
    sqlite3_bind_null (st, idx);
  else
    sqlite3_bind_text (st, idx, text, -1, SQLITE_TRANSIENT);
}

static void
stmt_finalize (gpointer p)
{
  sqlite3_finalize (p);
}

static RdStore *
store_connect (const char *data_dir, gboolean create, GError **error)
{
  if (create && g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      int e = errno;
      g_set_error (error, RD_ERROR, e == ENOSPC ? RD_ERROR_DISK_FULL : RD_ERROR_FAILED,
                   "cannot create data directory %s: %s", data_dir, g_strerror (e));
      return NULL;
    }
  g_autoptr(RdStore) store = g_new0 (RdStore, 1);
  store->path = g_build_filename (data_dir, RD_DB_FILE, NULL);
  store->stmts = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, stmt_finalize);
  if (!create && !g_file_test (store->path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND,
                   "no relaydesk database at %s (is --data-dir right?)", store->path);
      return NULL;
    }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2 (store->path, &store->db, flags, NULL);
  if (rc != SQLITE_OK)
    {
      rd_store_set_error (store, rc, error, store->path);
      return NULL;
    }
  sqlite3_extended_result_codes (store->db, 1);
  sqlite3_busy_timeout (store->db, RD_BUSY_TIMEOUT_MS);
  /* Durability contract (DESIGN.md): WAL + synchronous=FULL, so a COMMIT
   * that returned is on disk. */
  if (!rd_store_exec (store,
                      "PRAGMA journal_mode=WAL;"
                      "PRAGMA synchronous=FULL;"
                      "PRAGMA foreign_keys=ON;"
                      "PRAGMA temp_store=MEMORY;",
                      error))
    return NULL;
  return g_steal_pointer (&store);
}

static gboolean
store_migrate (RdStore *store, GError **error)
{
  if (!rd_store_exec (store,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
                      error))
    return FALSE;
  for (const RdStoreMigration *m = rd_store_migrations; m->name; m++)
    {
      g_auto(RdStoreTx) tx = { 0 };
      if (!rd_store_tx_begin (store, &tx, error))
        return FALSE;
      sqlite3_stmt *st = rd_store_stmt (store, "SELECT 1 FROM schema_migrations WHERE name = ?", error);
      if (st == NULL)
        return FALSE;
      sqlite3_bind_text (st, 1, m->name, -1, SQLITE_STATIC);
      gboolean done = sqlite3_step (st) == SQLITE_ROW;
      sqlite3_reset (st);
      if (done)
        continue; /* tx rolls back: nothing written */
      if (!rd_store_exec (store, m->sql, error))
        {
          g_prefix_error (error, "migration %s: ", m->name);
          return FALSE;
        }
      st = rd_store_stmt (store, "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", error);
      if (st == NULL)
        return FALSE;
      sqlite3_bind_text (st, 1, m->name, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (st, 2, g_get_real_time () / G_USEC_PER_SEC);
      if (!rd_store_step_done (store, st, "record migration", error))
        return FALSE;
      if (!rd_store_tx_commit (&tx, error))
        return FALSE;
      rd_log (RD_LOG_INFO, "store.migrate", "name=%s path=%s", m->name, store->path);
    }
  return TRUE;
}

RdStore *
rd_store_open (const char *data_dir, GError **error)
{
  g_autoptr(RdStore) store = store_connect (data_dir, TRUE, error);
  if (store == NULL)
    return NULL;
  if (!store_migrate (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

RdStore *
rd_store_open_existing (const char *data_dir, GError **error)
{
  g_autoptr(RdStore) store = store_connect (data_dir, FALSE, error);
  if (store == NULL)
    return NULL;
  /* Refuse a database that lacks a migration we know: the daemon that
   * migrates it has not run yet. */
  guint known = 0;
  for (const RdStoreMigration *m = rd_store_migrations; m->name; m++)
    known++;
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT count(*) FROM schema_migrations", NULL);
  gint64 have = (st && sqlite3_step (st) == SQLITE_ROW) ? sqlite3_column_int64 (st, 0) : -1;
  if (st)
    sqlite3_reset (st);
  if (have < (gint64) known)
    {
      /* Migrating is safe and idempotent; do it rather than fail. */
      if (!store_migrate (store, error))
        return NULL;
    }
  return g_steal_pointer (&store);
}

void
rd_store_free (RdStore *store)
{
  if (store == NULL)
    return;
  if (store->stmts)
    g_hash_table_unref (store->stmts);
  if (store->db)
    sqlite3_close_v2 (store->db);
  g_free (store->path);
  g_free (store);
}

const char *
rd_store_get_path (RdStore *store)
{
  return store->path;
}

GStrv
rd_store_list_migrations (RdStore *store, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT name FROM schema_migrations ORDER BY name", error);
  if (st == NULL)
    return NULL;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_strv_builder_add (b, (const char *) sqlite3_column_text (st, 0));
  if (!rd_store_rows_done (store, st, rc, "list migrations", error))
    return NULL;
  return g_strv_builder_end (b);
}
