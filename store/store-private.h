/* relaydesk — store internals shared by the store/ source files only. */
#pragma once

#include <sqlite3.h>
#include "store.h"
#include "rd-common.h"

struct _RdStore {
  sqlite3 *db;
  char *path;
  GHashTable *stmts; /* const char* sql -> sqlite3_stmt*, cached */
  /* allowlist.c: the change counter as last read, and the data_version
   * it was read at (rd_store_allowlist_version). */
  gint64 allowlist_data_version;
  gint64 allowlist_version;
  gboolean allowlist_version_known;
  guint depth;       /* rd_store_begin() nesting: 1 = BEGIN, more = SAVEPOINTs */
};

/* Converts the connection's last error into a GError (at the module edge):
 * SQLITE_FULL -> RD_ERROR_DISK_FULL; BUSY/LOCKED/IOERR/CANTOPEN ->
 * RD_ERROR_TEMPORARY; anything else -> RD_ERROR_FAILED. */
void rd_store_set_error (RdStore *store, int rc, GError **error, const char *what);

/* A cached prepared statement, reset and with bindings cleared. The SQL
 * must be a string literal (the pointer is the cache key). */
sqlite3_stmt *rd_store_stmt (RdStore *store, const char *sql, GError **error);
gboolean rd_store_exec (RdStore *store, const char *sql, GError **error);
/* Steps @st, which must not return rows, and resets it; on failure sets
 * @error with @what as context. */
gboolean rd_store_step_done (RdStore *store, sqlite3_stmt *st, const char *what, GError **error);
/* Steps @st for exactly one row: TRUE with the row to read (the caller
 * resets @st); FALSE with @st reset and RD_ERROR_NOT_FOUND (message from
 * @not_found_fmt) when there is none, or the database error. */
gboolean rd_store_step_row (RdStore *store, sqlite3_stmt *st, const char *what, GError **error,
                            const char *not_found_fmt, ...) G_GNUC_PRINTF (5, 6);
/* Ends a row loop: resets @st and turns a last step result @rc other
 * than SQLITE_DONE into @error. */
gboolean rd_store_rows_done (RdStore *store, sqlite3_stmt *st, int rc, const char *what, GError **error);

/* A transaction that rolls back unless committed. Inside a transaction
 * the caller opened with rd_store_begin() it joins that one instead
 * (commit and rollback are then the caller's). */
typedef struct {
  RdStore *store;
  gboolean active;
  gboolean joined;
} RdStoreTx;

gboolean rd_store_tx_begin (RdStore *store, RdStoreTx *tx, GError **error);
gboolean rd_store_tx_commit (RdStoreTx *tx, GError **error);
void rd_store_tx_end (RdStoreTx *tx); /* rolls back if still active */
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdStoreTx, rd_store_tx_end)

/* Column helpers. */
char *rd_store_col_strdup (sqlite3_stmt *st, int col);
void rd_store_bind_text (sqlite3_stmt *st, int idx, const char *text);

/* The migrations, in order: { name, sql }. Append only. */
typedef struct {
  const char *name;
  const char *sql;
} RdStoreMigration;

extern const RdStoreMigration rd_store_migrations[];

/* Tickets (tickets.c, ticket-model.c). */
#define RD_TICKET_COLUMNS "t.number, t.queue, t.status, t.priority, t.assignee, t.subject," \
  " t.requester_name, t.requester_addr, t.created_at, t.updated_at," \
  " (SELECT count(*) FROM messages m WHERE m.ticket_number = t.number)"
#define TICKET_COLUMNS RD_TICKET_COLUMNS
RdTicket *rd_store_ticket_from_row (sqlite3_stmt *st);
/* Fills tags (and with @full participants and links). */
gboolean rd_store_ticket_fill_model (RdStore *store, RdTicket *t, gboolean full, GError **error);
/* Sets a ticket's updated_at; RD_ERROR_NOT_FOUND when there is none. */
gboolean rd_store_ticket_touch (RdStore *store, gint64 number, gint64 now, GError **error);
/* Marks a spooled message processed (inside the caller's transaction). */
gboolean rd_store_spool_mark_processed (RdStore *store, gint64 spool_id, gint64 now, GError **error);
/* One ticket row with its model filled (see fill_model), without its
 * messages; RD_ERROR_NOT_FOUND when absent. */
RdTicket *rd_store_ticket_read (RdStore *store, gint64 number, gboolean full, GError **error);
