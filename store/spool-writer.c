/* relaydesk — store: the group-commit spool writer (see spool-writer.h). */
#include "spool-writer.h"
#include "spool.h"
#include "store-private.h"
#include "rd-common.h"
#include "rd-metrics.h"

/* Waiting for the write lock (SQLite): poll every BUSY_POLL_US, for at
 * most BUSY_MAX_US (store/sqlite/driver.c says why). */
#define BUSY_POLL_US 250
#define BUSY_MAX_US (10 * G_USEC_PER_SEC)
/* Checkpoints (copying the WAL into the database, with an fsync) are
 * left to the other connections, whose commits come after the 250 (the
 * desk worker commits after every message); this one only steps in when
 * the WAL grows large, as a backstop. With 64 KiB messages the default
 * (1000 pages) made every ~60th batch wait for a checkpoint. */
#define WRITER_AUTOCHECKPOINT_PAGES 16384

typedef struct {
  RdSpoolItem *item;
  RdSpoolDoneFunc done;
  gpointer user_data;
  GMainContext *context;
  GError *error;
} Job;

struct _RdSpoolWriter {
  RdStore *store;
  GThread *thread;
  GAsyncQueue *queue;
  guint max_batch;
  RdSpoolCommittedFunc committed;
  gpointer committed_data;
  guint64 commits;
  guint64 items;
};

/* A job with item == NULL tells the thread to stop. */

static gboolean
job_finish (gpointer data)
{
  Job *job = data;
  job->done (job->item, job->error, job->user_data);
  g_clear_error (&job->error);
  g_main_context_unref (job->context);
  g_free (job);
  return G_SOURCE_REMOVE;
}

static gpointer
writer_thread (gpointer data)
{
  RdSpoolWriter *w = data;
  g_autoptr(GPtrArray) batch = g_ptr_array_new ();
  g_autofree RdSpoolItem **items = g_new0 (RdSpoolItem *, w->max_batch);
  gboolean stop = FALSE;
  while (!stop)
    {
      Job *job = g_async_queue_pop (w->queue);
      g_ptr_array_set_size (batch, 0);
      if (job->item == NULL)
        {
          g_free (job);
          break;
        }
      g_ptr_array_add (batch, job);
      /* Everything already waiting joins this commit. */
      while (batch->len < w->max_batch && (job = g_async_queue_try_pop (w->queue)) != NULL)
        {
          if (job->item == NULL)
            {
              g_free (job);
              stop = TRUE;
              break;
            }
          g_ptr_array_add (batch, job);
        }
      for (guint i = 0; i < batch->len; i++)
        items[i] = ((Job *) g_ptr_array_index (batch, i))->item;
      g_autoptr(GError) error = NULL;
      gboolean ok = rd_store_spool_put (w->store, items, batch->len, &error);
      if (ok)
        {
          w->commits++;
          w->items += batch->len;
          rd_metric_inc (RD_METRIC_SPOOL_COMMITS);
          rd_metric_observe (RD_METRIC_SPOOL_COMMIT_MESSAGES, batch->len);
          if (w->committed)
            w->committed (batch->len, w->committed_data);
        }
      else
        {
          rd_metric_inc (RD_METRIC_SPOOL_COMMIT_FAILURES);
          rd_log (RD_LOG_ERROR, "spool.commit", "items=%u error=\"%s\"", batch->len, error->message);
        }
      for (guint i = 0; i < batch->len; i++)
        {
          Job *j = g_ptr_array_index (batch, i);
          if (!ok)
            j->error = g_error_copy (error);
          g_main_context_invoke (j->context, job_finish, j);
        }
    }
  return NULL;
}

RdSpoolWriter *
rd_spool_writer_new (const char *data_dir, guint max_batch,
                     RdSpoolCommittedFunc committed, gpointer committed_data, GError **error)
{
  RdStore *store = rd_store_open (data_dir, error);
  if (store == NULL)
    return NULL;
  if (rd_store_dialect (store) == RD_SQL_SQLITE)
    rd_sqlite_tune_writer (store->db, BUSY_POLL_US, BUSY_MAX_US, WRITER_AUTOCHECKPOINT_PAGES);
  RdSpoolWriter *w = g_new0 (RdSpoolWriter, 1);
  w->store = store;
  w->max_batch = max_batch ? max_batch : 256;
  w->committed = committed;
  w->committed_data = committed_data;
  w->queue = g_async_queue_new ();
  w->thread = g_thread_new ("spool-writer", writer_thread, w);
  return w;
}

void
rd_spool_writer_submit (RdSpoolWriter *w, RdSpoolItem *item, RdSpoolDoneFunc done, gpointer user_data)
{
  g_return_if_fail (item != NULL);
  Job *job = g_new0 (Job, 1);
  job->item = item;
  job->done = done;
  job->user_data = user_data;
  job->context = g_main_context_ref_thread_default ();
  g_async_queue_push (w->queue, job);
}

void
rd_spool_writer_free (RdSpoolWriter *w)
{
  if (w == NULL)
    return;
  g_async_queue_push (w->queue, g_new0 (Job, 1));
  g_thread_join (w->thread);
  /* The group-commit ratio: messages per durable commit. */
  rd_log (RD_LOG_INFO, "spool.stats", "commits=%" G_GUINT64_FORMAT " items=%" G_GUINT64_FORMAT,
          w->commits, w->items);
  g_async_queue_unref (w->queue);
  rd_store_free (w->store);
  g_free (w);
}

void
rd_spool_writer_get_stats (RdSpoolWriter *w, guint64 *commits, guint64 *items)
{
  if (commits)
    *commits = w->commits;
  if (items)
    *items = w->items;
}
