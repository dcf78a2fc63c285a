/* Signed Message-IDs, reply addresses and subject tags (desk/ticket-ids.h). */
#include "ticket-ids.h"
#include "tickets.h"
#include "rd-common.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *dir;
  RdConfig *config;
  RdStore *store;
  RdTicketIds *ids;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("rd-ids-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *conf = g_build_filename (f->dir, "relaydesk.conf", NULL);
  const char *text = data ? data
    : "[relaydesk]\nhostname = desk.test\n[desk]\nreply_address = help@desk.test\nown_addresses = billing@desk.test\n";
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  f->config = rd_config_load (conf, &error);
  g_assert_no_error (error);
  g_autofree char *data_dir = g_build_filename (f->dir, "data", NULL);
  f->store = rd_store_open (data_dir, &error);
  g_assert_no_error (error);
  f->ids = rd_ticket_ids_new (f->config, f->store, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  rd_ticket_ids_free (f->ids);
  rd_store_free (f->store);
  rd_config_free (f->config);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->dir);
}

static void
test_message_id_roundtrip (Fixture *f, gconstpointer data)
{
  g_autofree char *id = rd_ticket_ids_new_message_id (f->ids, 42);
  g_assert_true (g_str_has_prefix (id, "rd-42-"));
  g_assert_true (g_str_has_suffix (id, "@desk.test"));
  gint64 n = 0;
  g_assert_true (rd_ticket_ids_check_message_id (f->ids, id, &n));
  g_assert_cmpint (n, ==, 42);
  g_autofree char *bracketed = g_strdup_printf ("<%s>", id);
  g_assert_true (rd_ticket_ids_check_message_id (f->ids, bracketed, &n));
  /* Case folded by some MTA: still ours. */
  g_autofree char *upper = g_ascii_strup (id, -1);
  g_assert_true (rd_ticket_ids_check_message_id (f->ids, upper, &n));
  /* Two ids for one ticket differ (nonce). */
  g_autofree char *id2 = rd_ticket_ids_new_message_id (f->ids, 42);
  g_assert_cmpstr (id, !=, id2);
}

static void
test_message_id_forged (Fixture *f, gconstpointer data)
{
  g_autofree char *id = rd_ticket_ids_new_message_id (f->ids, 42);
  gint64 n = 0;
  /* Another ticket number with the same nonce and mac. */
  g_autofree char *other = g_strdup (id);
  other[3] = '7';
  g_assert_false (rd_ticket_ids_check_message_id (f->ids, other, &n));
  /* One mac character changed. */
  g_autofree char *flipped = g_strdup (id);
  char *at = strchr (flipped, '@');
  at[-1] = at[-1] == 'a' ? 'b' : 'a';
  g_assert_false (rd_ticket_ids_check_message_id (f->ids, flipped, &n));
  const char *junk[] = { "", "rd-", "rd-42", "rd-42-abcdefgh-", "rd-0-abcdefgh-abcdefghijklmnop@x",
                         "rd-42-abcdefgh-abcdefghijklmnop@x", "rd-99999999999999999999-a-b@x",
                         "someone@example.org", NULL };
  for (guint i = 0; junk[i]; i++)
    g_assert_false (rd_ticket_ids_check_message_id (f->ids, junk[i], &n));
  g_assert_false (rd_ticket_ids_check_message_id (f->ids, NULL, &n));
}

static void
test_secret_is_per_installation (Fixture *f, gconstpointer data)
{
  g_autofree char *id = rd_ticket_ids_new_message_id (f->ids, 5);
  /* Same store: same secret after reopening. */
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicketIds) again = rd_ticket_ids_new (f->config, f->store, &error);
  g_assert_no_error (error);
  gint64 n = 0;
  g_assert_true (rd_ticket_ids_check_message_id (again, id, &n));
  /* Another installation does not accept it. */
  g_autofree char *dir2 = g_build_filename (f->dir, "other", NULL);
  g_autoptr(RdStore) store2 = rd_store_open (dir2, &error);
  g_assert_no_error (error);
  g_autoptr(RdTicketIds) ids2 = rd_ticket_ids_new (f->config, store2, &error);
  g_assert_no_error (error);
  g_assert_false (rd_ticket_ids_check_message_id (ids2, id, &n));
}

static void
test_reply_address (Fixture *f, gconstpointer data)
{
  g_autofree char *addr = rd_ticket_ids_reply_address (f->ids, "inbox", 7);
  g_assert_true (g_str_has_prefix (addr, "help+7-"));
  g_assert_true (g_str_has_suffix (addr, "@desk.test"));
  gint64 n = 0;
  g_assert_true (rd_ticket_ids_check_reply_address (f->ids, addr, &n));
  g_assert_cmpint (n, ==, 7);
  g_autofree char *forged = g_strdup (addr);
  forged[5] = '8';
  g_assert_false (rd_ticket_ids_check_reply_address (f->ids, forged, &n));
  g_assert_false (rd_ticket_ids_check_reply_address (f->ids, "help+7@desk.test", &n));
  g_assert_false (rd_ticket_ids_check_reply_address (f->ids, "help@desk.test", &n));
  g_assert_true (rd_ticket_ids_is_own_address (f->ids, addr));
  g_assert_true (rd_ticket_ids_is_own_address (f->ids, "HELP@desk.test"));
  g_assert_true (rd_ticket_ids_is_own_address (f->ids, "billing@desk.test"));
  g_assert_false (rd_ticket_ids_is_own_address (f->ids, "help@other.test"));
  g_assert_false (rd_ticket_ids_is_own_address (f->ids, "alice@example.org"));
}

static void
test_subject_tag (Fixture *f, gconstpointer data)
{
  g_autofree char *tag = rd_ticket_ids_subject_tag (f->ids, 12);
  g_assert_cmpstr (tag, ==, "[RD #12]");
  gint64 n = 0;
  g_assert_true (rd_ticket_ids_parse_subject_tag (f->ids, "Re: Printer [RD #12]", &n));
  g_assert_cmpint (n, ==, 12);
  g_assert_true (rd_ticket_ids_parse_subject_tag (f->ids, "AW: [rd#13] x", &n));
  g_assert_cmpint (n, ==, 13);
  g_assert_true (rd_ticket_ids_parse_subject_tag (f->ids, "[ticket] [RD #14 ]", &n));
  g_assert_cmpint (n, ==, 14);
  const char *no[] = { "", "RD #12", "[RD 12]", "[RD #]", "[RD #0]", "[RDX #12]", "[RD #12", "[XY #12]", NULL };
  for (guint i = 0; no[i]; i++)
    g_assert_false (rd_ticket_ids_parse_subject_tag (f->ids, no[i], &n));
  g_assert_false (rd_ticket_ids_parse_subject_tag (f->ids, NULL, &n));
}

static void
test_custom_prefix (Fixture *f, gconstpointer data)
{
  g_autofree char *tag = rd_ticket_ids_subject_tag (f->ids, 3);
  g_assert_cmpstr (tag, ==, "[Acme Help #3]");
  gint64 n = 0;
  g_assert_true (rd_ticket_ids_parse_subject_tag (f->ids, "Re: [Acme Help #3] hi", &n));
  g_assert_false (rd_ticket_ids_parse_subject_tag (f->ids, "Re: [RD #3] hi", &n));
  g_assert_cmpstr (rd_ticket_ids_from_address (f->ids, "billing"), ==, "money@desk.test");
  g_assert_cmpstr (rd_ticket_ids_from_name (f->ids, "billing"), ==, "Billing");
  g_autofree char *ra = rd_ticket_ids_reply_address (f->ids, "billing", 3);
  g_assert_true (g_str_has_prefix (ra, "money+3-"));
  g_assert_true (rd_ticket_ids_is_own_address (f->ids, "money@desk.test"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
#define ADD(name, fn, data) g_test_add (name, Fixture, data, setup, fn, teardown)
  ADD ("/ticket-ids/message-id", test_message_id_roundtrip, NULL);
  ADD ("/ticket-ids/message-id-forged", test_message_id_forged, NULL);
  ADD ("/ticket-ids/secret", test_secret_is_per_installation, NULL);
  ADD ("/ticket-ids/reply-address", test_reply_address, NULL);
  ADD ("/ticket-ids/subject-tag", test_subject_tag, NULL);
  ADD ("/ticket-ids/custom-prefix", test_custom_prefix,
       "[relaydesk]\nhostname = desk.test\n[desk]\nsubject_tag_prefix = Acme Help\nqueues = billing\n"
       "[queue.billing]\nreply_address = money@desk.test\nfrom_name = Billing\n");
  return g_test_run ();
}
