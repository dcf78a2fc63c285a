/* relaydesk — store: the only place that knows SQL.
 *
 * One RdStore is one database connection. A connection belongs to one
 * thread at a time; open one per thread. Functions speak in relaydesk
 * terms (spool a message, open a ticket); the SQL behind them is written
 * for each backend side by side (store/sql.c), and nothing outside
 * store/ knows which backend runs (DESIGN.md).
 *
 * The headers by entity: spool.h (received messages), spool-writer.h
 * (group commit), tickets.h (tickets, their messages, attachments,
 * search), outbox.h (outbound mail and its states, the suppression
 * list), allowlist.h, responses.h (vacation log, duplicate ids), model.h
 * (the words of the model: statuses, priorities, states).
 *
 * On-disk layout (SQLite, the embedded default): DATA_DIR/relaydesk.db
 * (+ -wal, -shm); WAL with synchronous=FULL, so a COMMIT that returned is
 * on disk. The schema is created and migrated by rd_store_open();
 * migrations are named and recorded in table schema_migrations, so they
 * run once each, in order.
 */
#pragma once

#include <glib.h>
#include "model.h"

G_BEGIN_DECLS

typedef struct _RdStore RdStore;

/* Opens (creating DATA_DIR and the database if needed) and migrates.
 * Errors: RD_ERROR_TEMPORARY (busy, I/O), RD_ERROR_DISK_FULL, RD_ERROR_FAILED.
 * (transfer full) */
RdStore *rd_store_open (const char *data_dir, GError **error);
/* Opens an existing database (RD_ERROR_NOT_FOUND when there is none, so
 * a mistyped --data-dir is reported instead of creating an empty one),
 * migrating it when needed. For the CLI against a live database. */
RdStore *rd_store_open_existing (const char *data_dir, GError **error);
/* This connection's commits hold work that can be redone from what is
 * already durable (the desk's processing of a spooled message): they do
 * not wait for the disk themselves. They still reach it in order, with the
 * next durable commit of any connection (the spool's, before a 250; the
 * outbox's, before mail leaves) or checkpoint; a crash of the machine
 * in between loses them whole, and the spool has them processed again. */
gboolean rd_store_redoable_commits (RdStore *store, GError **error);
void rd_store_free (RdStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdStore, rd_store_free)

/* What the store is (the database file), for messages. */
const char *rd_store_get_path (RdStore *store);
/* "sqlite" (later also "postgresql"). */
const char *rd_store_get_backend (RdStore *store);
/* Names of the migrations applied, in order. (transfer full) */
GStrv rd_store_list_migrations (RdStore *store, GError **error);

/* ---- transactions --------------------------------------------------- */

/* A transaction that rolls back unless committed:
 *
 *   g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
 *   if (!rd_store_tx_begin (store, &tx, error)) return FALSE;
 *   ... store calls ...
 *   return rd_store_tx_commit (&tx, error);   // an early return rolls back
 *
 * Every store function joins the transaction open on its connection.
 * Transactions nest: the outermost is BEGIN (a write transaction), inner
 * ones are SAVEPOINTs, so a layer can group its own work inside a
 * caller's transaction and still roll back only its own part. They must
 * end in the reverse order of their beginning. */
typedef struct {
  RdStore *store;
  guint level;   /* the nesting level this one opened; 0: not open */
} RdStoreTx;

#define RD_STORE_TX_INIT { NULL, 0 }

gboolean rd_store_tx_begin (RdStore *store, RdStoreTx *tx, GError **error);
gboolean rd_store_tx_commit (RdStoreTx *tx, GError **error);
/* Rolls back when still open; does nothing otherwise. */
void rd_store_tx_rollback (RdStoreTx *tx);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdStoreTx, rd_store_tx_rollback)

G_END_DECLS
