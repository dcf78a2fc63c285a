/* relaydesk — store: the SQLite driver (the embedded default).
 *
 * One RdDb is one sqlite3 connection in WAL mode with synchronous=FULL
 * (a COMMIT that returned is on disk: the durability contract in
 * DESIGN.md), foreign keys on, a busy timeout. SQLite's errors become
 * RD_ERROR codes here, at the module's edge: SQLITE_FULL is
 * RD_ERROR_DISK_FULL, and so is an I/O error whose system call failed
 * with ENOSPC or EDQUOT (growing the WAL index or the WAL on a full
 * filesystem is an IOERR, not SQLITE_FULL); BUSY, LOCKED, other IOERR,
 * CANTOPEN, NOMEM and PROTOCOL are RD_ERROR_TEMPORARY; anything else is
 * RD_ERROR_FAILED.
 *
 * Waiting for a locked database is counted (rd-metrics.h): a statement
 * that finds the lock taken (relaydesk_sqlite_busy_total), each retry
 * while it waits (..._busy_retries_total) and each wait that gave up
 * (..._busy_errors_total), so an operator sees the CLI or a checkpoint
 * holding up the daemon before it turns into 451s.
 */
#include "db.h"
#include "rd-common.h"
#include "rd-metrics.h"

#include <sqlite3.h>
#include <errno.h>
#include <string.h>

#define BUSY_TIMEOUT_MS 10000

typedef struct {
  RdDb base;
  sqlite3 *db;
  sqlite3_stmt *data_version;   /* PRAGMA data_version, prepared once */
  guint busy_poll_us;
  guint busy_max_us;
  gint64 busy_since;            /* monotonic µs: when the current wait began */
} SqliteDb;

typedef struct {
  RdDbStmt base;
  sqlite3_stmt *st;
} SqliteStmt;

#define DB(d) (((SqliteDb *) (d))->db)
#define ST(s) (((SqliteStmt *) (s))->st)

static void
set_error (sqlite3 *db, int rc, GError **error)
{
  RdError code;
  if ((rc & 0xff) == SQLITE_BUSY)
    rd_metric_inc (RD_METRIC_SQLITE_BUSY_ERRORS);
  switch (rc & 0xff)
    {
    case SQLITE_FULL:
      code = RD_ERROR_DISK_FULL;
      break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      if (db && (sqlite3_system_errno (db) == ENOSPC || sqlite3_system_errno (db) == EDQUOT))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_DISK_FULL, "%s: %s (sqlite %d)", sqlite3_errmsg (db),
                       g_strerror (sqlite3_system_errno (db)), rc);
          return;
        }
      code = RD_ERROR_TEMPORARY;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      code = RD_ERROR_TEMPORARY;
      break;
    default:
      code = RD_ERROR_FAILED;
    }
  g_set_error (error, RD_ERROR, code, "%s (sqlite %d)", db ? sqlite3_errmsg (db) : sqlite3_errstr (rc), rc);
}

static void
drv_close (RdDb *d)
{
  sqlite3_finalize (((SqliteDb *) d)->data_version);
  sqlite3_close_v2 (DB (d));
  g_free (d);
}

/* The statements are written with $N parameters (the dialect shared with
 * PostgreSQL); SQLite's own numbered form is ?N, so $ followed by a digit
 * outside quotes becomes ?. */
static char *
translate_params (const char *sql)
{
  char *out = g_strdup (sql);
  char quote = 0;
  for (char *p = out; *p; p++)
    {
      if (quote)
        {
          if (*p == quote)
            quote = 0;
        }
      else if (*p == '\'' || *p == '"')
        quote = *p;
      else if (*p == '$' && g_ascii_isdigit (p[1]))
        *p = '?';
    }
  return out;
}

static RdDbStmt *
drv_prepare (RdDb *d, const char *sql, GError **error)
{
  g_autofree char *text = translate_params (sql);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v3 (DB (d), text, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  if (rc != SQLITE_OK)
    {
      set_error (DB (d), rc, error);
      g_prefix_error (error, "prepare: ");
      return NULL;
    }
  SqliteStmt *s = g_new0 (SqliteStmt, 1);
  s->base.db = d;
  s->st = st;
  return &s->base;
}

static void
drv_finalize (RdDbStmt *s)
{
  sqlite3_finalize (ST (s));
  g_free (s);
}

static void
drv_reset (RdDbStmt *s)
{
  sqlite3_reset (ST (s));
  sqlite3_clear_bindings (ST (s));
}

static void
drv_bind_null (RdDbStmt *s, int idx)
{
  sqlite3_bind_null (ST (s), idx);
}

static void
drv_bind_int64 (RdDbStmt *s, int idx, gint64 v)
{
  sqlite3_bind_int64 (ST (s), idx, v);
}

static void
drv_bind_text (RdDbStmt *s, int idx, const char *text)
{
  sqlite3_bind_text (ST (s), idx, text, -1, SQLITE_TRANSIENT);
}

static void
drv_bind_blob (RdDbStmt *s, int idx, const void *data, gsize len)
{
  sqlite3_bind_blob64 (ST (s), idx, data, len, SQLITE_STATIC);
}

static RdDbStep
drv_step (RdDbStmt *s, GError **error)
{
  int rc = sqlite3_step (ST (s));
  if (rc == SQLITE_ROW)
    return RD_DB_ROW;
  if (rc == SQLITE_DONE)
    return RD_DB_DONE;
  set_error (DB (s->db), rc, error);
  sqlite3_reset (ST (s));
  return RD_DB_ERROR;
}

static gboolean
drv_col_is_null (RdDbStmt *s, int col)
{
  return sqlite3_column_type (ST (s), col) == SQLITE_NULL;
}

static gint64
drv_col_int64 (RdDbStmt *s, int col)
{
  return sqlite3_column_int64 (ST (s), col);
}

static const char *
drv_col_text (RdDbStmt *s, int col)
{
  return (const char *) sqlite3_column_text (ST (s), col);
}

static const void *
drv_col_blob (RdDbStmt *s, int col, gsize *len)
{
  const void *p = sqlite3_column_blob (ST (s), col);
  *len = (gsize) sqlite3_column_bytes (ST (s), col);
  return p;
}

static gint64
drv_changes (RdDb *d)
{
  return sqlite3_changes64 (DB (d));
}

static gboolean
drv_exec (RdDb *d, const char *script, GError **error)
{
  char *errmsg = NULL;
  int rc = sqlite3_exec (DB (d), script, NULL, NULL, &errmsg);
  if (rc != SQLITE_OK)
    {
      set_error (DB (d), rc, error);
      if (errmsg)
        g_prefix_error (error, "%s: ", errmsg);
      sqlite3_free (errmsg);
      return FALSE;
    }
  return TRUE;
}

static gboolean
drv_in_transaction (RdDb *d)
{
  return !sqlite3_get_autocommit (DB (d));
}

static const RdDbDriver sqlite_driver = {
  .name = "sqlite",
  .dialect = RD_SQL_SQLITE,
  .close = drv_close,
  .prepare = drv_prepare,
  .finalize = drv_finalize,
  .reset = drv_reset,
  .bind_null = drv_bind_null,
  .bind_int64 = drv_bind_int64,
  .bind_text = drv_bind_text,
  .bind_blob = drv_bind_blob,
  .step = drv_step,
  .col_is_null = drv_col_is_null,
  .col_int64 = drv_col_int64,
  .col_text = drv_col_text,
  .col_blob = drv_col_blob,
  .changes = drv_changes,
  .exec = drv_exec,
  .in_transaction = drv_in_transaction,
  /* IMMEDIATE: take the write lock now, so a busy database is seen here
   * (and waited for by the busy timeout), not at COMMIT. */
  .begin_sql = "BEGIN IMMEDIATE",
};

/* SQLite's own busy handler (sqlite3_busy_timeout) with the same steps,
 * counted: sleeps of 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 ms, then
 * 100 ms each, for at most BUSY_TIMEOUT_MS in all. */
static int
busy_wait (void *data, int count)
{
  static const guint8 delays[] = { 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 };
  static const guint16 totals[] = { 0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228 };
  guint n = G_N_ELEMENTS (delays);
  guint delay, prior;
  if ((guint) count < n)
    {
      delay = delays[count];
      prior = totals[count];
    }
  else
    {
      delay = delays[n - 1];
      prior = totals[n - 1] + delay * ((guint) count - (n - 1));
    }
  if (prior >= BUSY_TIMEOUT_MS)
    return 0;
  if (prior + delay > BUSY_TIMEOUT_MS)
    delay = BUSY_TIMEOUT_MS - prior;
  rd_metric_inc (count == 0 ? RD_METRIC_SQLITE_BUSY : RD_METRIC_SQLITE_BUSY_RETRIES);
  g_usleep ((gulong) delay * 1000);
  return 1;
}

RdDb *
rd_sqlite_open (const char *path, gboolean create, GError **error)
{
  SqliteDb *d = g_new0 (SqliteDb, 1);
  d->base.driver = &sqlite_driver;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2 (path, &d->db, flags, NULL);
  if (rc != SQLITE_OK)
    {
      set_error (d->db, rc, error);
      g_prefix_error (error, "%s: ", path);
      drv_close (&d->base);
      return NULL;
    }
  sqlite3_extended_result_codes (d->db, 1);
  sqlite3_busy_handler (d->db, busy_wait, d);
  if (!drv_exec (&d->base,
                 "PRAGMA journal_mode=WAL;"
                 "PRAGMA synchronous=FULL;"
                 "PRAGMA foreign_keys=ON;"
                 "PRAGMA temp_store=MEMORY;",
                 error))
    {
      g_prefix_error (error, "%s: ", path);
      drv_close (&d->base);
      return NULL;
    }
  return &d->base;
}

gint64
rd_sqlite_data_version (RdDb *d)
{
  g_return_val_if_fail (d->driver == &sqlite_driver, -1);
  SqliteDb *s = (SqliteDb *) d;
  if (s->data_version == NULL
      && sqlite3_prepare_v3 (s->db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT, &s->data_version,
                             NULL) != SQLITE_OK)
    return -1;
  gint64 v = sqlite3_step (s->data_version) == SQLITE_ROW ? sqlite3_column_int64 (s->data_version, 0) : -1;
  sqlite3_reset (s->data_version);
  return v;
}

/* SQLite's default busy handler sleeps in growing steps (up to 100 ms),
 * so a writer that commits a message at a time (the desk worker) would
 * keep the group-commit writer — and every SMTP session waiting for its
 * 250 — asleep far longer than the lock is held. The spool writer polls
 * instead: accepting mail goes first, processing follows. */
static int
busy_poll (void *data, int count)
{
  SqliteDb *d = data;
  /* The budget is wall-clock time: each sleep lasts longer than asked
   * (timer slack, a loaded machine), and counting sleeps made a 10 s
   * budget last 15 s and more. */
  gint64 now = g_get_monotonic_time ();
  if (count == 0)
    d->busy_since = now;
  else if (now - d->busy_since >= d->busy_max_us)
    return 0;
  rd_metric_inc (count == 0 ? RD_METRIC_SQLITE_BUSY : RD_METRIC_SQLITE_BUSY_RETRIES);
  g_usleep (d->busy_poll_us);
  return 1;
}

void
rd_sqlite_tune_writer (RdDb *d, guint poll_us, guint max_us, guint autocheckpoint_pages)
{
  g_return_if_fail (d->driver == &sqlite_driver);
  SqliteDb *s = (SqliteDb *) d;
  s->busy_poll_us = MAX (poll_us, 1);
  s->busy_max_us = max_us;
  sqlite3_busy_handler (s->db, busy_poll, s);
  sqlite3_wal_autocheckpoint (s->db, (int) autocheckpoint_pages);
}

gboolean
rd_sqlite_backup (RdDb *d, const char *dest_path, GError **error)
{
  g_return_val_if_fail (d->driver == &sqlite_driver, FALSE);
  sqlite3 *dest = NULL;
  int rc = sqlite3_open_v2 (dest_path, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE,
                            NULL);
  if (rc != SQLITE_OK)
    {
      set_error (dest, rc, error);
      g_prefix_error (error, "%s: ", dest_path);
      sqlite3_close_v2 (dest);
      return FALSE;
    }
  sqlite3_busy_handler (dest, busy_wait, NULL);
  /* The copy is a plain rollback-journal file with full syncs: one file
   * to carry away; it turns WAL again when relaydesk opens it. */
  sqlite3_exec (dest, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
  sqlite3_backup *b = sqlite3_backup_init (dest, "main", DB (d), "main");
  if (b == NULL)
    {
      set_error (dest, sqlite3_errcode (dest), error);
      g_prefix_error (error, "backup to %s: ", dest_path);
      sqlite3_close_v2 (dest);
      return FALSE;
    }
  /* -1: every page in one step, under one read transaction of the
   * source. In WAL mode readers do not block writers, so the daemon goes
   * on accepting mail meanwhile; a stepwise copy would restart whenever
   * another connection wrote. A busy source (a checkpoint holding it) is
   * waited for. */
  do
    {
      rc = sqlite3_backup_step (b, -1);
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        g_usleep (10 * 1000);
    }
  while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  int frc = sqlite3_backup_finish (b);
  if (rc != SQLITE_DONE || frc != SQLITE_OK)
    {
      set_error (dest, rc != SQLITE_DONE ? rc : frc, error);
      g_prefix_error (error, "backup to %s: ", dest_path);
      sqlite3_close_v2 (dest);
      return FALSE;
    }
  /* The copy checks itself before it is called a backup. */
  sqlite3_stmt *st = NULL;
  GString *problems = g_string_new (NULL);
  if (sqlite3_prepare_v2 (dest, "PRAGMA integrity_check(10)", -1, &st, NULL) == SQLITE_OK)
    {
      while (sqlite3_step (st) == SQLITE_ROW)
        {
          const char *line = (const char *) sqlite3_column_text (st, 0);
          if (line && strcmp (line, "ok") != 0)
            g_string_append_printf (problems, "%s%s", problems->len ? "; " : "", line);
        }
      sqlite3_finalize (st);
    }
  else
    g_string_append (problems, sqlite3_errmsg (dest));
  rc = sqlite3_close_v2 (dest);
  if (problems->len > 0 || rc != SQLITE_OK)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "backup to %s: the copy fails its check: %s", dest_path,
                   problems->len ? problems->str : sqlite3_errstr (rc));
      g_string_free (problems, TRUE);
      return FALSE;
    }
  g_string_free (problems, TRUE);
  return TRUE;
}
