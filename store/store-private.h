/* relaydesk — store internals shared by the store/ source files only. */
#pragma once

#include "store.h"
#include "tickets.h"
#include "db.h"
#include "rd-common.h"

struct _RdStore {
  RdDb *db;
  char *path;                    /* what the store is, for messages (file path) */
  RdDbStmt *stmts[RD_SQL_N];     /* prepared statements, cached by id */
  guint depth;                   /* open transaction levels: 1 = BEGIN, more = SAVEPOINTs */
  /* allowlist.c: the change counter as last read, and the data_version
   * it was read at (rd_store_allowlist_version). */
  gint64 allowlist_data_version;
  gint64 allowlist_version;
  gboolean allowlist_version_known;
  /* Claims (spool processing, outbox sending) are leases of this many
   * seconds, held by this node (PostgreSQL; SQLite has one writer). */
  guint lease_seconds;
  char *node;
};

/* A cached prepared statement for @q, reset and with bindings cleared. */
RdDbStmt *rd_store_stmt (RdStore *store, RdSql q, GError **error);
/* An uncached statement from text built at run time (the caller frees
 * it with rd_store_stmt_free); the text is in the backend's dialect. */
RdDbStmt *rd_store_prepare (RdStore *store, const char *sql, GError **error);
void rd_store_stmt_free (RdDbStmt *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdDbStmt, rd_store_stmt_free)
gboolean rd_store_exec (RdStore *store, const char *sql, GError **error);
/* Rows changed by the last statement. */
gint64 rd_store_changes (RdStore *store);
/* The dialect of the running backend (for SQL built at run time). */
RdSqlDialect rd_store_dialect (RdStore *store);

/* Steps @st, which must not return rows, and resets it; on failure sets
 * @error with @what as context. */
gboolean rd_store_step_done (RdStore *store, RdDbStmt *st, const char *what, GError **error);
/* Steps @st for exactly one row: TRUE with the row to read (the caller
 * resets @st); FALSE with @st reset and RD_ERROR_NOT_FOUND (message from
 * @not_found_fmt) when there is none, or the database error. */
gboolean rd_store_step_row (RdStore *store, RdDbStmt *st, const char *what, GError **error,
                            const char *not_found_fmt, ...) G_GNUC_PRINTF (5, 6);
/* Steps @st for at most one row: TRUE with @found telling whether there
 * is one (then the caller reads and resets @st). */
gboolean rd_store_step_maybe (RdStore *store, RdDbStmt *st, const char *what, gboolean *found, GError **error);
/* Ends a row loop `while ((rc = rd_db_step (st, error)) == RD_DB_ROW)`:
 * resets @st; when the last step failed (@rc RD_DB_ERROR, @error set by
 * it) prefixes @what and returns FALSE. */
gboolean rd_store_rows_done (RdStore *store, RdDbStmt *st, RdDbStep rc, const char *what, GError **error);
/* The first column of every row of @st, as integers (transfer full:
 * GArray of gint64) or appended as strings to @out. */
GArray *rd_store_collect_int64 (RdStore *store, RdDbStmt *st, const char *what, GError **error);
gboolean rd_store_collect_strings (RdStore *store, RdDbStmt *st, const char *what, GPtrArray *out,
                                   GError **error);
/* A single integer from a one-row statement (count(*), ...). */
gboolean rd_store_step_int (RdStore *store, RdDbStmt *st, const char *what, gint64 *value, GError **error);

/* Binds text cut to @max bytes (never inside a UTF-8 sequence): for
 * error texts and replies that come from outside. */
void rd_store_bind_bounded (RdDbStmt *st, int idx, const char *text, gsize max);

/* Migrations: { name, sql }, in order. @sql may use @TICKET_STATUSES@,
 * @TICKET_PRIORITIES@, @MESSAGE_DIRECTIONS@, @SPOOL_STATES@,
 * @OUTBOX_STATES@ and @OUTBOX_KINDS@, which expand to the quoted words of
 * store/model.h ('new','open',...). Append only. */
typedef struct _RdStoreMigration {
  const char *name;
  const char *sql;
} RdStoreMigration;

/* The migrations of the SQLite schema, in order, NULL-terminated. */
extern const RdStoreMigration rd_sqlite_migrations[];
/* The migrations of the PostgreSQL schema, same names, NULL-terminated. */
extern const RdStoreMigration rd_pg_migrations[];
/* The migrations of @store's backend. */
const RdStoreMigration *rd_store_migrations (RdStore *store);

/* The current time, unix seconds. */
gint64 rd_store_now (void);

/* ---- tickets (tickets.c, messages.c) ------------------------------- */

/* The columns rd_store_ticket_from_row() reads, in order. */
RdTicket *rd_store_ticket_from_row (RdDbStmt *st);
/* Fills tags (and with @full participants and links). */
gboolean rd_store_ticket_fill_model (RdStore *store, RdTicket *t, gboolean full, GError **error);
/* One ticket row with its model filled (see fill_model), without its
 * messages; RD_ERROR_NOT_FOUND when absent. */
RdTicket *rd_store_ticket_read (RdStore *store, gint64 number, gboolean full, GError **error);
/* Sets a ticket's updated_at; RD_ERROR_NOT_FOUND when there is none. */
gboolean rd_store_ticket_touch (RdStore *store, gint64 number, GError **error);
/* One line of the ticket's audit log (inside the writer's transaction). */
gboolean rd_store_audit (RdStore *store, gint64 number, const char *actor, const char *action,
                         const char *old_value, const char *new_value, GError **error);
/* Marks a spooled message processed (inside the caller's transaction). */
gboolean rd_store_spool_mark_processed (RdStore *store, gint64 spool_id, GError **error);

/* Stores @data once by its SHA-256 (attachment_blobs); @sha256 gets the
 * hex digest. (messages.c) */
gboolean rd_store_blob_put (RdStore *store, GBytes *data, char **sha256, GError **error);
