/* relaydesk — store: connection, statements, transactions, migrations. */
#include "store-private.h"

#include <errno.h>
#include <string.h>
#include <stdarg.h>
#include <glib/gstdio.h>

#define RD_DB_FILE "relaydesk.db"

gint64
rd_store_now (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

GBytes *
rd_db_col_bytes (RdDbStmt *st, int col)
{
  gsize len = 0;
  const void *p = rd_db_col_blob (st, col, &len);
  return g_bytes_new (p, p ? len : 0);
}

RdSqlDialect
rd_store_dialect (RdStore *store)
{
  return store->db->driver->dialect;
}

RdDbStmt *
rd_store_stmt (RdStore *store, RdSql q, GError **error)
{
  g_return_val_if_fail (q < RD_SQL_N, NULL);
  RdDbStmt *st = store->stmts[q];
  if (st != NULL)
    {
      rd_db_reset (st);
      return st;
    }
  st = store->db->driver->prepare (store->db, rd_sql_text (q, rd_store_dialect (store)), error);
  if (st == NULL)
    {
      g_prefix_error (error, "%s: ", rd_sql_name (q));
      return NULL;
    }
  store->stmts[q] = st;
  return st;
}

RdDbStmt *
rd_store_prepare (RdStore *store, const char *sql, GError **error)
{
  return store->db->driver->prepare (store->db, sql, error);
}

void
rd_store_stmt_free (RdDbStmt *st)
{
  if (st)
    st->db->driver->finalize (st);
}

gboolean
rd_store_exec (RdStore *store, const char *sql, GError **error)
{
  return store->db->driver->exec (store->db, sql, error);
}

gint64
rd_store_changes (RdStore *store)
{
  return store->db->driver->changes (store->db);
}

gboolean
rd_store_step_done (RdStore *store, RdDbStmt *st, const char *what, GError **error)
{
  RdDbStep rc = rd_db_step (st, error);
  rd_db_reset (st);
  if (rc == RD_DB_DONE)
    return TRUE;
  if (rc == RD_DB_ROW)
    g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "unexpected row");
  g_prefix_error (error, "%s: ", what);
  return FALSE;
}

gboolean
rd_store_step_row (RdStore *store, RdDbStmt *st, const char *what, GError **error,
                   const char *not_found_fmt, ...)
{
  RdDbStep rc = rd_db_step (st, error);
  if (rc == RD_DB_ROW)
    return TRUE;
  rd_db_reset (st);
  if (rc == RD_DB_DONE)
    {
      va_list ap;
      va_start (ap, not_found_fmt);
      g_autofree char *msg = g_strdup_vprintf (not_found_fmt, ap);
      va_end (ap);
      g_set_error_literal (error, RD_ERROR, RD_ERROR_NOT_FOUND, msg);
    }
  else
    g_prefix_error (error, "%s: ", what);
  return FALSE;
}

gboolean
rd_store_step_maybe (RdStore *store, RdDbStmt *st, const char *what, gboolean *found, GError **error)
{
  RdDbStep rc = rd_db_step (st, error);
  *found = rc == RD_DB_ROW;
  if (rc == RD_DB_ERROR)
    {
      rd_db_reset (st);
      g_prefix_error (error, "%s: ", what);
      return FALSE;
    }
  if (rc == RD_DB_DONE)
    rd_db_reset (st);
  return TRUE;
}

gboolean
rd_store_rows_done (RdStore *store, RdDbStmt *st, RdDbStep rc, const char *what, GError **error)
{
  rd_db_reset (st);
  if (rc == RD_DB_ERROR)
    {
      g_prefix_error (error, "%s: ", what);
      return FALSE;
    }
  return TRUE;
}

GArray *
rd_store_collect_int64 (RdStore *store, RdDbStmt *st, const char *what, GError **error)
{
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (gint64));
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      gint64 v = rd_db_col_int64 (st, 0);
      g_array_append_val (out, v);
    }
  if (!rd_store_rows_done (store, st, rc, what, error))
    return NULL;
  return g_steal_pointer (&out);
}

gboolean
rd_store_collect_strings (RdStore *store, RdDbStmt *st, const char *what, GPtrArray *out, GError **error)
{
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    g_ptr_array_add (out, rd_db_col_strdup (st, 0));
  return rd_store_rows_done (store, st, rc, what, error);
}

gboolean
rd_store_step_int (RdStore *store, RdDbStmt *st, const char *what, gint64 *value, GError **error)
{
  if (!rd_store_step_row (store, st, what, error, "%s: no result", what))
    return FALSE;
  *value = rd_db_col_int64 (st, 0);
  rd_db_reset (st);
  return TRUE;
}

void
rd_store_bind_bounded (RdDbStmt *st, int idx, const char *text, gsize max)
{
  if (text == NULL || strlen (text) <= max)
    {
      rd_db_bind_text (st, idx, text);
      return;
    }
  gsize len = max;
  /* do not cut a UTF-8 sequence in half */
  while (len > 0 && ((guchar) text[len] & 0xC0) == 0x80)
    len--;
  g_autofree char *cut = g_strndup (text, len);
  rd_db_bind_text (st, idx, cut);
}

/* ---- transactions ------------------------------------------------------ */

gboolean
rd_store_tx_begin (RdStore *store, RdStoreTx *tx, GError **error)
{
  tx->store = store;
  tx->level = 0;
  if (!store->db->driver->in_transaction (store->db))
    store->depth = 0; /* whatever was open has ended */
  if (store->depth == 0)
    {
      if (!rd_store_exec (store, store->db->driver->begin_sql, error))
        return FALSE;
    }
  else
    {
      g_autofree char *sql = g_strdup_printf ("SAVEPOINT rd_%u", store->depth);
      if (!rd_store_exec (store, sql, error))
        return FALSE;
    }
  tx->level = ++store->depth;
  return TRUE;
}

gboolean
rd_store_tx_commit (RdStoreTx *tx, GError **error)
{
  RdStore *store = tx->store;
  g_return_val_if_fail (tx->level > 0 && tx->level == store->depth, FALSE);
  if (tx->level == 1)
    {
      if (!rd_store_exec (store, "COMMIT", error))
        return FALSE; /* still open: the cleanup rolls back */
    }
  else
    {
      g_autofree char *sql = g_strdup_printf ("RELEASE rd_%u", tx->level - 1);
      if (!rd_store_exec (store, sql, error))
        return FALSE;
    }
  store->depth--;
  tx->level = 0;
  return TRUE;
}

void
rd_store_tx_rollback (RdStoreTx *tx)
{
  RdStore *store = tx->store;
  if (store == NULL || tx->level == 0)
    return;
  g_warn_if_fail (tx->level == store->depth);
  if (tx->level == 1)
    {
      if (store->db->driver->in_transaction (store->db))
        rd_store_exec (store, "ROLLBACK", NULL);
    }
  else
    {
      g_autofree char *sql = g_strdup_printf ("ROLLBACK TO rd_%u; RELEASE rd_%u", tx->level - 1, tx->level - 1);
      rd_store_exec (store, sql, NULL);
    }
  store->depth = tx->level - 1;
  tx->level = 0;
}

/* ---- migrations ------------------------------------------------------------ */

#define QUOTED_(e, s) "'" s "',"

/* The quoted words of a model.h list without the last comma. */
static char *
quoted (const char *list)
{
  return g_strndup (list, strlen (list) - 1);
}

/* Expands the @WORDS@ placeholders of a migration (store-private.h). */
static char *
expand_migration (const char *sql)
{
  g_autofree char *st = quoted (RD_TICKET_STATUSES (QUOTED_));
  g_autofree char *pr = quoted (RD_TICKET_PRIORITIES (QUOTED_));
  g_autofree char *md = quoted (RD_MESSAGE_DIRECTIONS (QUOTED_));
  g_autofree char *sp = quoted (RD_SPOOL_STATES (QUOTED_));
  g_autofree char *os = quoted (RD_OUTBOX_STATES (QUOTED_));
  g_autofree char *ok = quoted (RD_OUTBOX_KINDS (QUOTED_));
  g_autofree char *ar = quoted (RD_AUTH_RESULTS (QUOTED_));
  const struct { const char *name; const char *value; } words[] = {
    { "@TICKET_STATUSES@", st }, { "@TICKET_PRIORITIES@", pr }, { "@MESSAGE_DIRECTIONS@", md },
    { "@SPOOL_STATES@", sp }, { "@OUTBOX_STATES@", os }, { "@OUTBOX_KINDS@", ok },
    { "@AUTH_RESULTS@", ar },
  };
  g_autoptr(GString) s = g_string_new (sql);
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    g_string_replace (s, words[i].name, words[i].value, 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static const RdStoreMigration *
migrations (RdStore *store)
{
  return rd_sqlite_migrations;
}

static gboolean
store_migrate (RdStore *store, GError **error)
{
  if (!rd_store_exec (store,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
                      error))
    return FALSE;
  for (const RdStoreMigration *m = migrations (store); m->name; m++)
    {
      g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
      if (!rd_store_tx_begin (store, &tx, error))
        return FALSE;
      RdDbStmt *st = rd_store_stmt (store, RD_SQL_MIGRATION_DONE, error);
      if (st == NULL)
        return FALSE;
      rd_db_bind_text (st, 1, m->name);
      gboolean done = FALSE;
      if (!rd_store_step_maybe (store, st, "read migrations", &done, error))
        return FALSE;
      rd_db_reset (st);
      if (done)
        continue; /* tx rolls back: nothing written */
      g_autofree char *sql = expand_migration (m->sql);
      if (!rd_store_exec (store, sql, error))
        {
          g_prefix_error (error, "migration %s: ", m->name);
          return FALSE;
        }
      st = rd_store_stmt (store, RD_SQL_MIGRATION_RECORD, error);
      if (st == NULL)
        return FALSE;
      rd_db_bind_text (st, 1, m->name);
      rd_db_bind_int64 (st, 2, rd_store_now ());
      if (!rd_store_step_done (store, st, "record migration", error))
        return FALSE;
      if (!rd_store_tx_commit (&tx, error))
        return FALSE;
      rd_log (RD_LOG_INFO, "store.migrate", "name=%s path=%s", m->name, store->path);
    }
  return TRUE;
}

/* ---- opening ------------------------------------------------------------------ */

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
  if (!create && !g_file_test (store->path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND,
                   "no relaydesk database at %s (is --data-dir right?)", store->path);
      return NULL;
    }
  store->db = rd_sqlite_open (store->path, create, error);
  if (store->db == NULL)
    return NULL;
  return g_steal_pointer (&store);
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
  /* Migrate a database that lacks a migration we know (the daemon that
   * migrates it has not run yet): safe and idempotent. */
  gint64 known = 0, have = -1;
  for (const RdStoreMigration *m = migrations (store); m->name; m++)
    known++;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_MIGRATION_COUNT, NULL);
  if (st == NULL || !rd_store_step_int (store, st, "count migrations", &have, NULL))
    have = -1;
  if (have < known && !store_migrate (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

gboolean
rd_store_redoable_commits (RdStore *store, GError **error)
{
  /* SQLite WAL: synchronous=NORMAL fsyncs the log only at checkpoints,
   * and a later synchronous=FULL commit's fsync of the log carries every
   * frame before it. PostgreSQL: synchronous_commit=off, the same
   * ordering guarantee. */
  return rd_store_exec (store, rd_sql_text (RD_SQL_SESSION_REDOABLE_COMMITS, rd_store_dialect (store)), error);
}

void
rd_store_free (RdStore *store)
{
  if (store == NULL)
    return;
  for (guint i = 0; i < RD_SQL_N; i++)
    rd_store_stmt_free (store->stmts[i]);
  if (store->db)
    store->db->driver->close (store->db);
  g_free (store->path);
  g_free (store);
}

const char *
rd_store_get_path (RdStore *store)
{
  return store->path;
}

const char *
rd_store_get_backend (RdStore *store)
{
  return store->db->driver->name;
}

GStrv
rd_store_list_migrations (RdStore *store, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_MIGRATION_LIST, error);
  if (st == NULL)
    return NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  if (!rd_store_collect_strings (store, st, "list migrations", out, error))
    return NULL;
  g_ptr_array_add (out, NULL);
  g_ptr_array_set_free_func (out, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}
