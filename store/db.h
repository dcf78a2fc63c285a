/* relaydesk — store internals: the database driver interface.
 *
 * The entity code of store/ (what a ticket, a spooled message, an outbox
 * row is) is written once against this interface; each backend is one
 * driver in a folder of its own (store/sqlite/, store/postgres/). The SQL
 * itself is in store/sql.c, one row per statement with the dialects side
 * by side. Private to store/: nothing outside knows which backend runs.
 *
 * Parameters are written $1, $2, ... in every dialect (the SQLite driver
 * reads them as ?1, ?2). A statement is stepped row by row; text and
 * blob columns stay valid until the next step or reset of the statement.
 */
#pragma once

#include <glib.h>
#include "sql.h"

G_BEGIN_DECLS

typedef struct _RdDb RdDb;
typedef struct _RdDbStmt RdDbStmt;
typedef struct _RdDbDriver RdDbDriver;

typedef enum {
  RD_DB_ERROR = -1,
  RD_DB_DONE = 0,
  RD_DB_ROW = 1,
} RdDbStep;

struct _RdDbDriver {
  const char *name;                 /* "sqlite", "postgresql" */
  RdSqlDialect dialect;
  void (*close) (RdDb *db);
  /* Prepares @sql (a statement of this driver's dialect). */
  RdDbStmt *(*prepare) (RdDb *db, const char *sql, GError **error);
  void (*finalize) (RdDbStmt *st);
  void (*reset) (RdDbStmt *st);      /* and clears the bindings */
  void (*bind_null) (RdDbStmt *st, int idx);
  void (*bind_int64) (RdDbStmt *st, int idx, gint64 v);
  void (*bind_text) (RdDbStmt *st, int idx, const char *text);   /* copied */
  void (*bind_blob) (RdDbStmt *st, int idx, const void *data, gsize len); /* not copied: valid until reset */
  RdDbStep (*step) (RdDbStmt *st, GError **error);
  gboolean (*col_is_null) (RdDbStmt *st, int col);
  gint64 (*col_int64) (RdDbStmt *st, int col);
  const char *(*col_text) (RdDbStmt *st, int col);
  const void *(*col_blob) (RdDbStmt *st, int col, gsize *len);
  /* Rows changed by the last statement stepped to its end. */
  gint64 (*changes) (RdDb *db);
  /* Runs a script of statements without results (migrations, pragmas). */
  gboolean (*exec) (RdDb *db, const char *script, GError **error);
  /* TRUE while a transaction is open on the connection. */
  gboolean (*in_transaction) (RdDb *db);
  /* The statement that opens a write transaction (SQLite: BEGIN
   * IMMEDIATE, so a busy database shows here, not at COMMIT). */
  const char *begin_sql;
};

/* Every driver's connection starts with this. */
struct _RdDb {
  const RdDbDriver *driver;
};

/* Every driver's statement starts with this. */
struct _RdDbStmt {
  RdDb *db;
};

static inline void rd_db_reset (RdDbStmt *st) { st->db->driver->reset (st); }
static inline void rd_db_bind_null (RdDbStmt *st, int idx) { st->db->driver->bind_null (st, idx); }
static inline void rd_db_bind_int64 (RdDbStmt *st, int idx, gint64 v) { st->db->driver->bind_int64 (st, idx, v); }
/* NULL binds SQL NULL. */
static inline void
rd_db_bind_text (RdDbStmt *st, int idx, const char *text)
{
  if (text == NULL)
    st->db->driver->bind_null (st, idx);
  else
    st->db->driver->bind_text (st, idx, text);
}
static inline void
rd_db_bind_blob (RdDbStmt *st, int idx, const void *data, gsize len)
{
  st->db->driver->bind_blob (st, idx, data ? data : "", len);
}
/* 0 binds SQL NULL (ids: "none"). */
static inline void
rd_db_bind_id (RdDbStmt *st, int idx, gint64 id)
{
  if (id > 0)
    st->db->driver->bind_int64 (st, idx, id);
  else
    st->db->driver->bind_null (st, idx);
}
static inline RdDbStep rd_db_step (RdDbStmt *st, GError **error) { return st->db->driver->step (st, error); }
static inline gboolean rd_db_col_is_null (RdDbStmt *st, int col) { return st->db->driver->col_is_null (st, col); }
static inline gint64 rd_db_col_int64 (RdDbStmt *st, int col) { return st->db->driver->col_int64 (st, col); }
static inline const char *rd_db_col_text (RdDbStmt *st, int col) { return st->db->driver->col_text (st, col); }
static inline const void *rd_db_col_blob (RdDbStmt *st, int col, gsize *len) { return st->db->driver->col_blob (st, col, len); }
/* A copy of a text column, NULL for SQL NULL. (transfer full) */
static inline char *rd_db_col_strdup (RdDbStmt *st, int col) { return g_strdup (rd_db_col_text (st, col)); }
/* A blob column as bytes (empty for NULL). (transfer full) */
GBytes *rd_db_col_bytes (RdDbStmt *st, int col);

/* ---- the SQLite driver (store/sqlite/) ------------------------------- */

/* Opens (with @create, creating) the database file @path: WAL,
 * synchronous=FULL, foreign keys on, a busy timeout. */
RdDb *rd_sqlite_open (const char *path, gboolean create, GError **error);
/* SQLite only: the connection's data_version (PRAGMA data_version), which
 * changes when another connection committed: a cheap "did anything
 * change" before reading a counter. -1 when unknown. */
gint64 rd_sqlite_data_version (RdDb *db);
/* SQLite only: how the group-commit writer waits for the write lock
 * (polling every @poll_us for at most @max_us) and its checkpoint
 * threshold in pages. */
void rd_sqlite_tune_writer (RdDb *db, guint poll_us, guint max_us, guint autocheckpoint_pages);
/* SQLite only: copies the database into the new file @dest_path with the
 * online backup API in one step (one read transaction: a consistent
 * snapshot while others write), fsyncs it and checks the copy
 * (integrity_check). */
gboolean rd_sqlite_backup (RdDb *db, const char *dest_path, GError **error);

/* ---- the PostgreSQL driver (store/postgres/) -------------------------- */

/* TRUE when @location is a postgresql:// (or postgres://) URL. */
gboolean rd_pg_is_url (const char *location);
/* @url with its password hidden, for messages. (transfer full) */
char *rd_pg_display_url (const char *url);
/* The driver's entry points are weak: NULL in a program linked without
 * store/postgres/driver.c (rd_store_pg_dep), which then has no
 * PostgreSQL (rd_store_backend_available). */
/* Connects to @url (a libpq connection URI). RD_ERROR_TEMPORARY when the
 * server cannot be reached. */
RdDb *rd_pg_open (const char *url, GError **error) __attribute__ ((weak));
/* PostgreSQL only: changes whenever an allowlist change was notified
 * (LISTEN relaydesk_allowlist) or the connection was made again; -1 when
 * unknown (inside a transaction, not connected). */
gint64 rd_pg_data_version (RdDb *db) __attribute__ ((weak));
/* PostgreSQL only: LISTENs on @channel (once per connection) and waits up
 * to @timeout_ms for a notification (on any channel this connection
 * listens on): @notified says whether one came. */
gboolean rd_pg_wait_notification (RdDb *db, const char *channel, guint timeout_ms, gboolean *notified,
                                  GError **error) __attribute__ ((weak));

G_END_DECLS
