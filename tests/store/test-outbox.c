/* Tests for store/outbox-worker.c: the row life cycle the worker and the
 * operator drive, crash recovery, the counts the caps use. */
#include "outbox.h"
#include "rd-common.h"
#include "../pg/store-location.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *dir;
  RdStore *store;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("rd-outbox-XXXXXX", NULL);
  g_autofree char *loc = rd_test_store_location (f->dir);
  f->store = rd_store_open (loc, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  rd_store_free (f->store);
  const char *names[] = { "relaydesk.db", "relaydesk.db-wal", "relaydesk.db-shm", NULL };
  for (guint i = 0; names[i]; i++)
    {
      g_autofree char *p = g_build_filename (f->dir, names[i], NULL);
      g_unlink (p);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

static gint64
enqueue (Fixture *f, RdOutboxKind kind, const char *to)
{
  const char *rcpts[] = { to, NULL };
  const char *msg = "Subject: x\r\n\r\nbody\r\n";
  g_autoptr(GBytes) raw = g_bytes_new_static (msg, strlen (msg));
  RdOutboxDraft d = { .kind = kind, .sender = "s@desk.example", .recipients = rcpts, .message_id = "m@x", .raw = raw };
  gint64 id = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_outbox_enqueue (f->store, &d, &id, &error));
  g_assert_no_error (error);
  return id;
}

static char *
state_of (Fixture *f, gint64 id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdOutboxItem) it = rd_store_outbox_get (f->store, id, &error);
  g_assert_no_error (error);
  return g_strdup (rd_outbox_state_to_string (it->state));
}

#define ASSERT_STATE(f, id, s) do { g_autofree char *st_ = state_of (f, id); g_assert_cmpstr (st_, ==, s); } while (0)

static void
test_lifecycle (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 a = enqueue (f, RD_OUTBOX_REPLY, "a@example.net");
  gint64 b = enqueue (f, RD_OUTBOX_AUTOREPLY, "b@example.net");
  g_autoptr(GArray) due = rd_store_outbox_due (f->store, now + 1, 10, &error);
  g_assert_cmpuint (due->len, ==, 2);
  g_assert_cmpint (g_array_index (due, gint64, 0), ==, a);

  /* sending, then a crash: recovery queues it again */
  g_assert_true (rd_store_outbox_mark_sending (f->store, a, &error));
  ASSERT_STATE (f, a, "sending");
  guint n = 0;
  g_assert_true (rd_store_outbox_recover (f->store, &n, &error));
  g_assert_cmpuint (n, ==, 1);
  ASSERT_STATE (f, a, "queued");

  /* sending -> sent with the reply */
  g_assert_true (rd_store_outbox_mark_sending (f->store, a, &error));
  g_assert_true (rd_store_outbox_mark_sent (f->store, a, "250 2.0.0 Ok: queued as ABC", &error));
  g_autoptr(RdOutboxItem) it = rd_store_outbox_get (f->store, a, &error);
  g_assert_cmpint (it->state, ==, RD_OUTBOX_SENT);
  g_assert_cmpstr (it->relay_reply, ==, "250 2.0.0 Ok: queued as ABC");
  g_assert_cmpuint (it->attempts, ==, 2);
  g_assert_cmpint (it->sent_at, >=, now);
  /* a sent row is never sent again, nor sent twice */
  g_assert_false (rd_store_outbox_mark_sending (f->store, a, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (rd_store_outbox_requeue (f->store, a, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_false (rd_store_outbox_mark_dropped (f->store, a, "operator", "no", &error));
  g_clear_error (&error);

  /* deferred: not due before its time */
  g_assert_true (rd_store_outbox_mark_sending (f->store, b, &error));
  g_assert_true (rd_store_outbox_mark_retry (f->store, b, "451 later", "451 later", now + 600, &error));
  g_clear_pointer (&due, g_array_unref);
  due = rd_store_outbox_due (f->store, now + 1, 10, &error);
  g_assert_cmpuint (due->len, ==, 0);
  g_clear_pointer (&due, g_array_unref);
  due = rd_store_outbox_due (f->store, now + 601, 10, &error);
  g_assert_cmpuint (due->len, ==, 1);

  /* operator: drop, then retry with a fresh lifetime */
  g_assert_true (rd_store_outbox_mark_dropped (f->store, b, "operator", "test", &error));
  ASSERT_STATE (f, b, "dropped");
  g_assert_true (rd_store_outbox_requeue (f->store, b, &error));
  ASSERT_STATE (f, b, "queued");
  g_assert_true (rd_store_outbox_mark_sending (f->store, b, &error));
  /* the operator cannot drop what the worker is sending */
  g_assert_false (rd_store_outbox_mark_dropped (f->store, b, "operator", "test", &error));
  g_clear_error (&error);
  g_assert_true (rd_store_outbox_mark_failed (f->store, b, "550 no", "550 no", &error));
  ASSERT_STATE (f, b, "failed");

  g_autoptr(GPtrArray) evs = rd_store_outbox_events (f->store, b, &error);
  GString *seq = g_string_new (NULL);
  for (guint i = 0; i < evs->len; i++)
    g_string_append_printf (seq, "%s ", ((RdOutboxEvent *) g_ptr_array_index (evs, i))->event);
  g_assert_cmpstr (seq->str, ==, "sending deferred dropped retry sending failed ");
  g_string_free (seq, TRUE);

  gint64 counts[RD_OUTBOX_STATE_N];
  g_assert_true (rd_store_outbox_counts (f->store, counts, &error));
  g_assert_cmpint (counts[RD_OUTBOX_SENT], ==, 1);
  g_assert_cmpint (counts[RD_OUTBOX_FAILED], ==, 1);
  g_autoptr(GPtrArray) list = rd_store_outbox_list (f->store, TRUE, RD_OUTBOX_FAILED, 0, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_null (((RdOutboxItem *) g_ptr_array_index (list, 0))->raw);
}

static void
test_sent_count (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  for (guint i = 0; i < 3; i++)
    {
      gint64 id = enqueue (f, RD_OUTBOX_AUTOREPLY, i == 1 ? "Storm@Example.NET" : "storm@example.net");
      g_assert_true (rd_store_outbox_mark_sending (f->store, id, &error));
      g_assert_true (rd_store_outbox_mark_sent (f->store, id, "250 ok", &error));
    }
  enqueue (f, RD_OUTBOX_AUTOREPLY, "storm@example.net"); /* queued: not counted */
  g_assert_cmpint (rd_store_outbox_sent_count (f->store, "STORM@example.net", now - 3600, &error), ==, 3);
  g_assert_cmpint (rd_store_outbox_sent_count (f->store, "storm@example.net", now + 10, &error), ==, 0);
  g_assert_cmpint (rd_store_outbox_sent_count (f->store, "other@example.net", 0, &error), ==, 0);
}

static void
test_kinds (void)
{
  RdOutboxKind k;
  for (RdOutboxKind i = RD_OUTBOX_REPLY; i <= RD_OUTBOX_NOTIFICATION; i++)
    {
      g_assert_true (rd_outbox_kind_from_string (rd_outbox_kind_to_string (i), &k));
      g_assert_cmpint (k, ==, i);
    }
  g_assert_false (rd_outbox_kind_from_string ("bogus", &k));
  g_assert_false (rd_outbox_kind_from_string (NULL, &k));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
  g_test_add ("/relay/outbox/lifecycle", Fixture, NULL, setup, test_lifecycle, teardown);
  g_test_add ("/relay/outbox/sent-count", Fixture, NULL, setup, test_sent_count, teardown);
  g_test_add_func ("/relay/outbox/kinds", test_kinds);
  return g_test_run ();
}
