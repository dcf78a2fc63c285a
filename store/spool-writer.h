/* relaydesk — store: the group-commit spool writer.
 *
 * One thread with its own connection takes spool requests from any number
 * of sessions and commits all that are waiting in ONE transaction, so that
 * concurrent sessions share a single fsync (group commit, DESIGN.md). Each
 * request's callback runs in the GMainContext it was submitted from, after
 * the commit returned (or failed): that is when the SMTP 250 may be sent.
 */
#pragma once

#include <glib.h>
#include "spool.h"

G_BEGIN_DECLS

typedef struct _RdSpoolWriter RdSpoolWriter;

/* @item is returned (with queue_id/spool_id filled on success);
 * @error is NULL on success. Runs in the submitter's main context. */
typedef void (*RdSpoolDoneFunc) (RdSpoolItem *item, const GError *error, gpointer user_data);
/* Called in the writer thread after each successful commit (e.g. to wake
 * the processing worker). */
typedef void (*RdSpoolCommittedFunc) (guint n_items, gpointer user_data);

/* Opens its own connection to @data_dir. (transfer full) */
RdSpoolWriter *rd_spool_writer_new (const char *data_dir, guint max_batch,
                                    RdSpoolCommittedFunc committed, gpointer committed_data,
                                    GError **error);
/* Takes ownership of @item. @done runs later in the thread-default main
 * context of the caller. */
void rd_spool_writer_submit (RdSpoolWriter *writer, RdSpoolItem *item,
                             RdSpoolDoneFunc done, gpointer user_data);
/* Commits what is queued, stops the thread, closes. */
void rd_spool_writer_free (RdSpoolWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdSpoolWriter, rd_spool_writer_free)

/* Statistics: commits done and items committed so far. */
void rd_spool_writer_get_stats (RdSpoolWriter *writer, guint64 *commits, guint64 *items);

G_END_DECLS
