/* relaydesk — the rules' state in the store: the vacation response log
 * and duplicate ids (store/responses.h). What the rules set on tickets
 * goes through the one attribute setter (test-tickets.c, and the desk's
 * tests for the rules path). */
#include "responses.h"
#include "rd-common.h"
#include "../pg/store-location.h"

#include <glib/gstdio.h>

static RdStore *
open_tmp (char **dir)
{
  g_autoptr(GError) e = NULL;
  *dir = g_dir_make_tmp ("rd-rules-store-XXXXXX", &e);
  g_assert_no_error (e);
  g_autofree char *loc = rd_test_store_location (*dir);
  RdStore *s = rd_store_open (loc, &e);
  g_assert_no_error (e);
  return s;
}

static void
remove_tmp (char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)))
    {
      g_autofree char *p = g_build_filename (dir, n, NULL);
      g_remove (p);
    }
  g_rmdir (dir);
  g_free (dir);
}

static void
test_responses (void)
{
  char *dir;
  RdStore *s = open_tmp (&dir);
  g_autoptr(GError) e = NULL;
  gboolean due = FALSE;
  g_assert_true (rd_store_response_due (s, "Support@example.org", "a@b.example", "h", 86400, 1000, &due, &e));
  g_assert_true (due);
  g_assert_true (rd_store_response_record (s, "support@example.org", "A@B.example", "h", 1000, &e));
  /* Same sender (any case), same handle, within the period: not due. */
  g_assert_true (rd_store_response_due (s, "support@example.org", "a@b.EXAMPLE", "h", 86400, 1000 + 3600, &due, &e));
  g_assert_false (due);
  /* Another handle, another sender: due. */
  g_assert_true (rd_store_response_due (s, "support@example.org", "a@b.example", "other", 86400, 1001, &due, &e));
  g_assert_true (due);
  g_assert_true (rd_store_response_due (s, "support@example.org", "c@b.example", "h", 86400, 1001, &due, &e));
  g_assert_true (due);
  /* After the period, and with :seconds 0 at once (RFC 6131). */
  g_assert_true (rd_store_response_due (s, "support@example.org", "a@b.example", "h", 86400, 1000 + 86400, &due, &e));
  g_assert_true (due);
  g_assert_true (rd_store_response_due (s, "support@example.org", "a@b.example", "h", 0, 1000, &due, &e));
  g_assert_true (due);
  g_assert_no_error (e);
  rd_store_free (s);
  remove_tmp (dir);
}

/* Two nodes answering the same sender at once: the second one's check
 * waits for the first one's transaction and then sees its reply
 * (PostgreSQL: a transaction lock on inbox, sender and handle; SQLite:
 * the write lock). One acknowledgement, whatever node answers. */
typedef struct {
  const char *loc;
  gboolean due;
  gint done;
} Second;

static gpointer
second_node (gpointer data)
{
  Second *sec = data;
  g_autoptr(GError) e = NULL;
  g_autoptr(RdStore) b = rd_store_open (sec->loc, &e);
  g_assert_no_error (e);
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  g_assert_true (rd_store_tx_begin (b, &tx, &e));
  g_assert_true (rd_store_response_due (b, "support@example.org", "a@b.example", "h", 86400, 2000, &sec->due, &e));
  if (sec->due)
    g_assert_true (rd_store_response_record (b, "support@example.org", "a@b.example", "h", 2000, &e));
  g_assert_true (rd_store_tx_commit (&tx, &e));
  g_atomic_int_set (&sec->done, 1);
  return NULL;
}

static void
test_responses_two_nodes (void)
{
  char *dir;
  RdStore *a = open_tmp (&dir);
  g_autofree char *loc = rd_test_store_location (dir);
  g_autoptr(GError) e = NULL;
  RdStoreTx tx = RD_STORE_TX_INIT;
  g_assert_true (rd_store_tx_begin (a, &tx, &e));
  gboolean due = FALSE;
  g_assert_true (rd_store_response_due (a, "support@example.org", "a@b.example", "h", 86400, 2000, &due, &e));
  g_assert_true (due);
  Second sec = { loc, TRUE, 0 };
  GThread *t = g_thread_new ("second-node", second_node, &sec);
  g_usleep (300 * 1000);
  g_assert_cmpint (g_atomic_int_get (&sec.done), ==, 0);   /* it waits for us */
  g_assert_true (rd_store_response_record (a, "support@example.org", "a@b.example", "h", 2000, &e));
  g_assert_true (rd_store_tx_commit (&tx, &e));
  g_thread_join (t);
  g_assert_false (sec.due);                                 /* and then sees our reply */
  g_assert_no_error (e);
  rd_store_free (a);
  remove_tmp (dir);
}

static void
test_duplicates (void)
{
  char *dir;
  RdStore *s = open_tmp (&dir);
  g_autoptr(GError) e = NULL;
  gboolean seen = TRUE;
  g_assert_true (rd_store_duplicate_seen (s, "id1", 100, &seen, &e));
  g_assert_false (seen);
  g_assert_true (rd_store_duplicate_record (s, "id1", 60, 100, &e));
  g_assert_true (rd_store_duplicate_seen (s, "id1", 159, &seen, &e));
  g_assert_true (seen);
  g_assert_true (rd_store_duplicate_seen (s, "id1", 160, &seen, &e));
  g_assert_false (seen);
  g_assert_no_error (e);
  rd_store_free (s);
  remove_tmp (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
  g_test_add_func ("/rules-store/responses", test_responses);
  g_test_add_func ("/rules-store/duplicates", test_duplicates);
  g_test_add_func ("/rules-store/responses-two-nodes", test_responses_two_nodes);
  return g_test_run ();
}
