/* The ticket model in the store (store/tickets.h): tags, audit, status
 * values, participants, dedupe look-up, attachments stored once, search
 * with FTS syntax taken literally, list filters. */
#include "tickets.h"
#include "rd-common.h"

#include <string.h>

typedef struct {
  char *dir;
  RdStore *store;
} Fixture;

static gint64
open_ticket (RdStore *store, const char *queue, const char *subject, const char *from, const char *body)
{
  RdTicketDraft d = { .queue = queue, .subject = subject, .requester_addr = from, .body_text = body,
                      .message_id = subject };
  gint64 n = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_open (store, &d, &n, &error));
  g_assert_no_error (error);
  /* The desk indexes what it records. */
  g_autoptr(RdTicket) t = rd_store_ticket_get (store, n, &error);
  g_assert_no_error (error);
  const RdTicketMessage *m = g_ptr_array_index (t->messages, 0);
  g_assert_true (rd_store_message_index (store, m->id, subject, body, from, NULL, &error));
  g_assert_no_error (error);
  return n;
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("rd-model-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = rd_store_open (f->dir, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  rd_store_free (f->store);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->dir);
}

static void
test_fields_and_audit (Fixture *f, gconstpointer data)
{
  gint64 n = open_ticket (f->store, "inbox", "Hello", "a@example.org", "body");
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_set (f->store, n, RD_TICKET_FIELD_STATUS, "pending", "ann", &error));
  g_assert_true (rd_store_ticket_set (f->store, n, RD_TICKET_FIELD_STATUS, "pending", "ann", &error));
  g_assert_true (rd_store_ticket_set (f->store, n, RD_TICKET_FIELD_ASSIGNEE, "bob", "ann", &error));
  g_assert_true (rd_store_ticket_set (f->store, n, RD_TICKET_FIELD_PRIORITY, "high", "ann", &error));
  g_assert_no_error (error);
  g_assert_false (rd_store_ticket_set (f->store, n, RD_TICKET_FIELD_STATUS, "asleep", "ann", &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_false (rd_store_ticket_set (f->store, 999, RD_TICKET_FIELD_STATUS, "open", "ann", &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_autoptr(GPtrArray) audit = rd_store_ticket_audit_list (f->store, n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (audit->len, ==, 3); /* the no-op change is not recorded */
  const RdAuditEntry *e = g_ptr_array_index (audit, 0);
  g_assert_cmpstr (e->actor, ==, "ann");
  g_assert_cmpstr (e->action, ==, "status");
  g_assert_cmpstr (e->old_value, ==, "new");
  g_assert_cmpstr (e->new_value, ==, "pending");
  g_autoptr(RdTicket) t = rd_store_ticket_peek (f->store, n, &error);
  g_assert_cmpstr (t->assignee, ==, "bob");
  g_assert_cmpstr (t->priority, ==, "high");
}

static void
test_tags (Fixture *f, gconstpointer data)
{
  gint64 n = open_ticket (f->store, "inbox", "Hello", "a@example.org", "body");
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_tag (f->store, n, "VIP", TRUE, "ann", &error));
  g_assert_true (rd_store_ticket_tag (f->store, n, "billing:eu", TRUE, "ann", &error));
  g_assert_true (rd_store_ticket_tag (f->store, n, "vip", TRUE, "ann", &error));
  g_assert_no_error (error);
  const char *bad[] = { "", "with space", "semi;colon", "x'y", NULL };
  for (guint i = 0; bad[i]; i++)
    {
      g_assert_false (rd_store_ticket_tag (f->store, n, bad[i], TRUE, "ann", &error));
      g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
      g_clear_error (&error);
    }
  g_autoptr(RdTicket) t = rd_store_ticket_peek (f->store, n, &error);
  g_assert_cmpuint (g_strv_length (t->tags), ==, 2);
  g_assert_cmpstr (t->tags[0], ==, "billing:eu");
  g_assert_cmpstr (t->tags[1], ==, "vip");
  g_assert_true (rd_store_ticket_tag (f->store, n, "vip", FALSE, "ann", &error));
  RdTicketQuery q = { .tag = "billing:eu" };
  g_autoptr(GPtrArray) l = rd_store_tickets_query (f->store, &q, &error);
  g_assert_cmpuint (l->len, ==, 1);
  for (int i = 0; i < RD_TICKET_TAGS_MAX; i++)
    {
      g_autofree char *tag = g_strdup_printf ("t%d", i);
      gboolean ok = rd_store_ticket_tag (f->store, n, tag, TRUE, "ann", &error);
      if (!ok)
        {
          g_assert_error (error, RD_ERROR, RD_ERROR_LIMIT);
          g_clear_error (&error);
        }
    }
  g_autoptr(RdTicket) t2 = rd_store_ticket_peek (f->store, n, &error);
  g_assert_cmpuint (g_strv_length (t2->tags), ==, RD_TICKET_TAGS_MAX);
}

static void
test_participants (Fixture *f, gconstpointer data)
{
  gint64 n = open_ticket (f->store, "inbox", "Hello", "a@example.org", "body");
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_add_participant (f->store, n, "Alice@Example.ORG", "Alice", &error));
  gboolean found = FALSE;
  g_assert_true (rd_store_ticket_is_participant (f->store, n, "alice@example.org", &found, &error));
  g_assert_true (found);
  g_assert_true (rd_store_ticket_is_participant (f->store, n, "mallory@example.org", &found, &error));
  g_assert_false (found);
  for (int i = 0; i < RD_TICKET_PARTICIPANTS_MAX + 10; i++)
    {
      g_autofree char *a = g_strdup_printf ("p%d@example.org", i);
      g_assert_true (rd_store_ticket_add_participant (f->store, n, a, NULL, &error));
    }
  g_autoptr(RdTicket) t = rd_store_ticket_get (f->store, n, &error);
  g_assert_cmpuint (t->participants->len, ==, RD_TICKET_PARTICIPANTS_MAX);
}

static void
test_duplicates_and_outbound (Fixture *f, gconstpointer data)
{
  gint64 n = open_ticket (f->store, "inbox", "dup@x", "a@example.org", "body");
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicket) t = rd_store_ticket_get (f->store, n, &error);
  gint64 row = ((RdTicketMessage *) g_ptr_array_index (t->messages, 0))->id;
  gint64 r = 0, tn = 0;
  g_assert_true (rd_store_message_find_duplicate (f->store, "dup@x", "h1", &r, &tn, &error));
  g_assert_cmpint (r, ==, 0); /* no hash recorded yet */
  RdAgentMessageDraft d = { .ticket_number = n, .direction = "outbound", .author = "ann",
                            .message_id = "rd-1-x@y", .subject = "Re", .body_text = "hi" };
  gint64 out = 0;
  g_assert_true (rd_store_message_add_agent (f->store, &d, &out, &error));
  g_assert_no_error (error);
  g_assert_true (rd_store_message_find_outbound (f->store, "rd-1-x@y", &r, &tn, &error));
  g_assert_cmpint (r, ==, out);
  g_assert_cmpint (tn, ==, n);
  g_assert_true (rd_store_message_find_outbound (f->store, "dup@x", &r, &tn, &error));
  g_assert_cmpint (r, ==, 0); /* inbound ids are not ours */
  g_assert_true (rd_store_message_mark_failed (f->store, out, "5.1.1", "user unknown", &error));
  g_autoptr(RdTicket) t2 = rd_store_ticket_get (f->store, n, &error);
  const RdTicketMessage *m = g_ptr_array_index (t2->messages, 1);
  g_assert_cmpstr (m->delivery_status, ==, "failed");
  g_assert_cmpstr (m->delivery_code, ==, "5.1.1");
  (void) row;
}

static void
test_attachments_once (Fixture *f, gconstpointer data)
{
  gint64 n1 = open_ticket (f->store, "inbox", "a", "a@example.org", "body");
  gint64 n2 = open_ticket (f->store, "inbox", "b", "b@example.org", "body");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data1 = g_bytes_new_static ("PDFDATA\0\1\2", 10);
  g_autoptr(RdTicket) t1 = rd_store_ticket_get (f->store, n1, &error);
  g_autoptr(RdTicket) t2 = rd_store_ticket_get (f->store, n2, &error);
  gint64 m1 = ((RdTicketMessage *) g_ptr_array_index (t1->messages, 0))->id;
  gint64 m2 = ((RdTicketMessage *) g_ptr_array_index (t2->messages, 0))->id;
  g_assert_true (rd_store_attachment_add (f->store, m1, 0, "a.pdf", "application/pdf", data1, &error));
  g_assert_true (rd_store_attachment_add (f->store, m2, 0, "b.pdf", "application/pdf", data1, &error));
  g_assert_no_error (error);
  g_autoptr(GPtrArray) l = rd_store_ticket_attachments (f->store, n2, &error);
  g_assert_cmpuint (l->len, ==, 1);
  const RdStoredAttachment *a = g_ptr_array_index (l, 0);
  g_assert_cmpstr (a->filename, ==, "b.pdf");
  g_assert_cmpint (a->size, ==, 10);
  g_autoptr(GBytes) back = NULL;
  g_autoptr(RdStoredAttachment) got = rd_store_attachment_get (f->store, a->id, &back, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, data1));
  g_assert_null (rd_store_attachment_get (f->store, 999, NULL, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
}

static void
test_search_literal (Fixture *f, gconstpointer data)
{
  open_ticket (f->store, "inbox", "Printer", "a@example.org", "paper jam in tray two");
  open_ticket (f->store, "inbox", "VPN", "b@example.org", "tunnel \"quoted\" OR NEAR(x)");
  g_autoptr(GError) error = NULL;
  const struct { const char *q; guint hits; } cases[] = {
    { "jam", 1 }, { "paper tray", 1 }, { "paper vpn", 0 }, { "b@example.org", 1 },
    { "\"quoted\"", 1 }, { "OR", 1 }, { "NEAR(x)", 1 }, { "\"", 0 }, { "*", 0 }, { "a:b", 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) r = rd_store_tickets_search (f->store, cases[i].q, 50, 0, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (r->len, ==, cases[i].hits);
    }
  g_assert_null (rd_store_tickets_search (f->store, "   ", 50, 0, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
}

static void
test_query_filters (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  for (int i = 0; i < 30; i++)
    {
      gint64 n = open_ticket (f->store, i % 3 ? "inbox" : "billing", "s", "a@example.org", "b");
      if (i % 5 == 0)
        g_assert_true (rd_store_ticket_set (f->store, n, RD_TICKET_FIELD_ASSIGNEE, "ann", "x", &error));
    }
  RdTicketQuery q = { .queue = "billing" };
  g_autoptr(GPtrArray) a = rd_store_tickets_query (f->store, &q, &error);
  g_assert_cmpuint (a->len, ==, 10);
  RdTicketQuery q2 = { .assignee = "ann", .sort = RD_TICKET_SORT_CREATED, .limit = 2, .offset = 1 };
  g_autoptr(GPtrArray) b = rd_store_tickets_query (f->store, &q2, &error);
  g_assert_cmpuint (b->len, ==, 2);
  g_assert_cmpint (((RdTicket *) g_ptr_array_index (b, 0))->number, ==, 6);
  RdTicketQuery q3 = { .assignee = "-", .queue = "billing" };
  g_autoptr(GPtrArray) c = rd_store_tickets_query (f->store, &q3, &error);
  g_assert_cmpuint (c->len, ==, 8); /* tickets 1 and 16 are assigned */
  RdTicketQuery q4 = { .since = G_MAXINT32 };
  g_autoptr(GPtrArray) d = rd_store_tickets_query (f->store, &q4, &error);
  g_assert_cmpuint (d->len, ==, 0);
  g_assert_no_error (error);
}

static void
test_nested_transactions (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_begin (f->store, &error));
  gint64 a = open_ticket (f->store, "inbox", "outer", "a@example.org", "x");
  g_assert_true (rd_store_begin (f->store, &error));
  open_ticket (f->store, "inbox", "inner-undone", "b@example.org", "x");
  rd_store_rollback (f->store);
  g_assert_true (rd_store_begin (f->store, &error));
  gint64 c = open_ticket (f->store, "inbox", "inner-kept", "c@example.org", "x");
  g_assert_true (rd_store_commit (f->store, &error));
  g_assert_true (rd_store_commit (f->store, &error));
  g_assert_no_error (error);
  RdTicketQuery q = { .sort = RD_TICKET_SORT_CREATED };
  g_autoptr(GPtrArray) l = rd_store_tickets_query (f->store, &q, &error);
  g_assert_cmpuint (l->len, ==, 2);
  g_assert_cmpstr (((RdTicket *) g_ptr_array_index (l, 0))->subject, ==, "outer");
  g_assert_cmpstr (((RdTicket *) g_ptr_array_index (l, 1))->subject, ==, "inner-kept");
  (void) a;
  (void) c;
  /* And a plain transaction afterwards still works. */
  g_assert_true (rd_store_begin (f->store, &error));
  open_ticket (f->store, "inbox", "after", "d@example.org", "x");
  rd_store_rollback (f->store);
  g_autoptr(GPtrArray) l2 = rd_store_tickets_query (f->store, &q, &error);
  g_assert_cmpuint (l2->len, ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, setup, fn, teardown)
  ADD ("/ticket-model/fields-audit", test_fields_and_audit);
  ADD ("/ticket-model/tags", test_tags);
  ADD ("/ticket-model/participants", test_participants);
  ADD ("/ticket-model/duplicates-outbound", test_duplicates_and_outbound);
  ADD ("/ticket-model/attachments", test_attachments_once);
  ADD ("/ticket-model/search", test_search_literal);
  ADD ("/ticket-model/query", test_query_filters);
  ADD ("/ticket-model/nested-transactions", test_nested_transactions);
  return g_test_run ();
}
