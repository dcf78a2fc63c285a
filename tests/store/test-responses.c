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
  return g_test_run ();
}
