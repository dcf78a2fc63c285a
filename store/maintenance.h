/* relaydesk — store: what operating the store needs (ops/ and /metrics):
 * the figures an operator watches, a write probe, a consistent copy of a
 * running database and a check that says what is wrong.
 */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

typedef struct {
  gint64 spool[RD_SPOOL_STATE_N];      /* messages per state */
  gint64 spool_oldest_new;             /* received_at of the oldest 'new', 0: none */
  gint64 outbox[RD_OUTBOX_STATE_N];    /* rows per state */
  gint64 outbox_oldest_waiting;        /* created_at of the oldest queued/sending, 0: none */
} RdStoreStats;

/* Reads the figures (a few counting queries; cheap enough for a scrape). */
gboolean rd_store_stats (RdStore *store, RdStoreStats *stats, GError **error);

/* Writes one row in its own transaction and commits it: TRUE when the
 * database takes writes now (readiness). */
gboolean rd_store_probe_write (RdStore *store, GError **error);

/* Copies the database to the new file @dest_path (which must not exist)
 * while other connections go on writing: SQLite's online backup API in
 * one step, so the copy is one consistent snapshot (every transaction
 * committed before it began, none after). The copy is checked with
 * integrity_check before this returns. Other backends: RD_ERROR_FAILED
 * naming their own tool. */
gboolean rd_store_backup (RdStore *store, const char *dest_path, GError **error);

/* Checks the database: page and index integrity, foreign keys, the
 * migrations. Each problem found is appended to @problems in words
 * ("table messages, row 12: refers to a row of tickets that does not
 * exist"). TRUE when the check ran (problems or not); FALSE when it
 * could not run. */
gboolean rd_store_verify (RdStore *store, GPtrArray *problems, GError **error);

/* Copies every table of @src into the empty PostgreSQL store @dst in one
 * transaction (ids kept, sequences moved past them, the search index
 * built), then reads every table back and compares its row count and a
 * SHA-256 of its rows with the source; appends one line per table
 * ("tickets  1200 rows  sha256 ...") to @report. RD_ERROR_CONFLICT when
 * @dst holds data already. */
gboolean rd_store_copy (RdStore *src, RdStore *dst, GPtrArray *report, GError **error);

G_END_DECLS
