/* The ticket model in the store (store/tickets.h): the one message
 * writer (index, audit, touch, attachments once), the one attribute
 * setter, tags, participants, dedupe look-ups, delivery states, search
 * with FTS syntax taken literally, list filters, nested transactions. */
#include "tickets.h"
#include "outbox.h"
#include "rd-common.h"
#include "../pg/store-location.h"

#include <string.h>

typedef struct {
  char *dir;
  RdStore *store;
} Fixture;

static gint64
open_ticket (RdStore *store, const char *queue, const char *subject, const char *from, const char *body)
{
  RdTicketDraft d = { .queue = queue, .subject = subject, .requester_addr = from };
  RdMessageDraft m = { .direction = RD_MESSAGE_INBOUND, .message_id = subject, .from_addr = from,
                       .subject = subject, .body_text = body };
  gint64 n = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_open (store, &d, &m, &n, NULL, &error));
  g_assert_no_error (error);
  return n;
}

static guint
count_actions (RdStore *store, gint64 n, const char *action)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) audit = rd_store_ticket_audit_list (store, n, &error);
  g_assert_no_error (error);
  guint k = 0;
  for (guint i = 0; i < audit->len; i++)
    if (!g_strcmp0 (((RdAuditEntry *) g_ptr_array_index (audit, i))->action, action))
      k++;
  return k;
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("rd-model-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *loc = rd_test_store_location (f->dir);
  f->store = rd_store_open (loc, &error);
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
  g_assert_cmpuint (audit->len, ==, 4); /* created + 3: the no-op change is not recorded */
  g_assert_cmpstr (((RdAuditEntry *) g_ptr_array_index (audit, 0))->action, ==, "created");
  const RdAuditEntry *e = g_ptr_array_index (audit, 1);
  g_assert_cmpstr (e->actor, ==, "ann");
  g_assert_cmpstr (e->action, ==, "status");
  g_assert_cmpstr (e->old_value, ==, "new");
  g_assert_cmpstr (e->new_value, ==, "pending");
  g_autoptr(RdTicket) t = rd_store_ticket_peek (f->store, n, &error);
  g_assert_cmpstr (t->assignee, ==, "bob");
  g_assert_cmpint (t->priority, ==, RD_TICKET_PRIORITY_HIGH);
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
  RdMessageDraft d = { .direction = RD_MESSAGE_OUTBOUND, .author = "ann", .message_id = "rd-1-x@y",
                       .subject = "Re", .body_text = "hi" };
  gint64 out = 0;
  g_assert_true (rd_store_ticket_add_message (f->store, n, &d, &out, &error));
  g_assert_no_error (error);
  g_assert_true (rd_store_message_find_outbound (f->store, "rd-1-x@y", &r, &tn, &error));
  g_assert_cmpint (r, ==, out);
  g_assert_cmpint (tn, ==, n);
  g_assert_true (rd_store_message_find_outbound (f->store, "dup@x", &r, &tn, &error));
  g_assert_cmpint (r, ==, 0); /* inbound ids are not ours */
  g_assert_true (rd_store_message_set_delivery (f->store, out, RD_OUTBOX_FAILED, "5.1.1", "user unknown", "system",
                                                &error));
  g_autoptr(RdTicket) t2 = rd_store_ticket_get (f->store, n, &error);
  const RdTicketMessage *m = g_ptr_array_index (t2->messages, 1);
  g_assert_true (m->has_delivery);
  g_assert_cmpint (m->delivery, ==, RD_OUTBOX_FAILED);
  g_assert_cmpstr (m->delivery_code, ==, "5.1.1");
  g_assert_cmpuint (count_actions (f->store, n, "delivery-failed"), ==, 1);
  /* An inbound message is not an outbound one. */
  g_assert_false (rd_store_message_set_delivery (f->store, row, RD_OUTBOX_FAILED, NULL, NULL, "system", &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  (void) row;
}

static void
test_attachments_once (Fixture *f, gconstpointer data)
{
  gint64 n1 = open_ticket (f->store, "inbox", "a", "a@example.org", "body");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data1 = g_bytes_new_static ("PDFDATA\0\1\2", 10);
  RdAttachmentDraft att[] = { { "a.pdf", "application/pdf", data1 }, { "again.pdf", NULL, data1 } };
  RdTicketDraft td = { .queue = "inbox", .subject = "b", .requester_addr = "b@example.org" };
  RdMessageDraft md = { .direction = RD_MESSAGE_INBOUND, .from_addr = "b@example.org", .subject = "b",
                        .body_text = "x", .attachments = att, .n_attachments = 2 };
  gint64 n2 = 0;
  g_assert_true (rd_store_ticket_open (f->store, &td, &md, &n2, NULL, &error));
  RdMessageDraft md3 = md;
  md3.n_attachments = 1;
  g_assert_true (rd_store_ticket_add_message (f->store, n1, &md3, NULL, &error));
  g_assert_no_error (error);
  g_autoptr(GPtrArray) l = rd_store_ticket_attachments (f->store, n2, &error);
  g_assert_cmpuint (l->len, ==, 2);
  const RdStoredAttachment *a = g_ptr_array_index (l, 0);
  g_assert_cmpstr (a->filename, ==, "a.pdf");
  g_assert_cmpint (a->size, ==, 10);
  g_assert_cmpstr (((RdStoredAttachment *) g_ptr_array_index (l, 1))->content_type, ==, "application/octet-stream");
  g_autoptr(GBytes) back = NULL;
  gint64 on = 0;
  g_autoptr(RdStoredAttachment) got = rd_store_attachment_get (f->store, a->id, &on, &back, &error);
  g_assert_no_error (error);
  g_assert_cmpint (on, ==, n2);
  g_assert_true (g_bytes_equal (back, data1));
  g_assert_null (rd_store_attachment_get (f->store, 999, NULL, NULL, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* Stored once: three links, one blob; and the names are searchable. */
  g_autoptr(GPtrArray) l1 = rd_store_ticket_attachments (f->store, n1, &error);
  g_assert_cmpuint (l1->len, ==, 1);
  g_assert_cmpstr (((RdStoredAttachment *) g_ptr_array_index (l1, 0))->sha256, ==, a->sha256);
  g_autoptr(GPtrArray) hits = rd_store_tickets_search (f->store, "again.pdf", 50, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
}

/* Every message goes through the one writer: indexed, audited, the
 * ticket touched, the spooled message marked processed; so does the
 * relay's failure note (which once skipped index and audit). */
static void
test_message_writer (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 n = open_ticket (f->store, "inbox", "Printer", "a@example.org", "first");
  RdMessageDraft note = { .direction = RD_MESSAGE_NOTE, .author = "ann", .subject = "(note)",
                          .body_text = "ask about zebrastripes" };
  gint64 row = 0;
  g_assert_true (rd_store_ticket_add_message (f->store, n, &note, &row, &error));
  g_assert_no_error (error);
  g_autoptr(GPtrArray) hit = rd_store_tickets_search (f->store, "zebrastripes", 50, 0, &error);
  g_assert_cmpuint (hit->len, ==, 1);
  g_assert_cmpuint (count_actions (f->store, n, "note"), ==, 1);
  /* An outbound reply with its outbox row, then the relay fails it. */
  const char *rcpt[] = { "a@example.org", NULL };
  g_autoptr(GBytes) raw = g_bytes_new_static ("Subject: x\r\n\r\nhi\r\n", 19);
  RdOutboxDraft od = { .kind = RD_OUTBOX_REPLY, .ticket_number = n, .sender = "s@x", .recipients = rcpt,
                       .message_id = "m1@x", .raw = raw };
  gint64 ob = 0;
  g_assert_true (rd_store_outbox_enqueue (f->store, &od, &ob, &error));
  RdMessageDraft reply = { .direction = RD_MESSAGE_OUTBOUND, .author = "ann", .message_id = "m1@x",
                           .subject = "Re: Printer", .body_text = "try again", .outbox_id = ob };
  g_assert_true (rd_store_ticket_add_message (f->store, n, &reply, &row, &error));
  g_assert_true (rd_store_outbox_mark_sending (f->store, ob, &error));
  g_assert_true (rd_store_outbox_mark_failed (f->store, ob, "550 5.1.1 no such user", NULL, &error));
  g_assert_no_error (error);
  g_autoptr(RdTicket) t = rd_store_ticket_get (f->store, n, &error);
  g_assert_cmpuint (t->messages->len, ==, 4);
  const RdTicketMessage *r = g_ptr_array_index (t->messages, 2);
  g_assert_cmpint (r->delivery, ==, RD_OUTBOX_FAILED);
  const RdTicketMessage *fn = g_ptr_array_index (t->messages, 3);
  g_assert_cmpint (fn->direction, ==, RD_MESSAGE_NOTE);
  g_assert_cmpstr (fn->author, ==, "relay");
  g_assert_cmpuint (count_actions (f->store, n, "outbound-failed"), ==, 1);
  g_autoptr(GPtrArray) hit2 = rd_store_tickets_search (f->store, "no such user", 50, 0, &error);
  g_assert_cmpuint (hit2->len, ==, 1);
  g_assert_cmpuint (t->message_count, ==, 4);
  /* A message for a ticket that does not exist. */
  g_assert_false (rd_store_ticket_add_message (f->store, 999, &note, NULL, &error));
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
  RdStoreTx outer = RD_STORE_TX_INIT, inner = RD_STORE_TX_INIT;
  g_assert_true (rd_store_tx_begin (f->store, &outer, &error));
  gint64 a = open_ticket (f->store, "inbox", "outer", "a@example.org", "x");
  g_assert_true (rd_store_tx_begin (f->store, &inner, &error));
  open_ticket (f->store, "inbox", "inner-undone", "b@example.org", "x");
  rd_store_tx_rollback (&inner);
  rd_store_tx_rollback (&inner); /* twice: nothing more */
  {
    g_auto(RdStoreTx) scoped = RD_STORE_TX_INIT;
    g_assert_true (rd_store_tx_begin (f->store, &scoped, &error));
    open_ticket (f->store, "inbox", "scoped-undone", "b@example.org", "x");
    /* leaves the scope without commit: rolled back */
  }
  g_assert_true (rd_store_tx_begin (f->store, &inner, &error));
  gint64 c = open_ticket (f->store, "inbox", "inner-kept", "c@example.org", "x");
  g_assert_true (rd_store_tx_commit (&inner, &error));
  g_assert_true (rd_store_tx_commit (&outer, &error));
  g_assert_no_error (error);
  RdTicketQuery q = { .sort = RD_TICKET_SORT_CREATED };
  g_autoptr(GPtrArray) l = rd_store_tickets_query (f->store, &q, &error);
  g_assert_cmpuint (l->len, ==, 2);
  g_assert_cmpstr (((RdTicket *) g_ptr_array_index (l, 0))->subject, ==, "outer");
  g_assert_cmpstr (((RdTicket *) g_ptr_array_index (l, 1))->subject, ==, "inner-kept");
  (void) a;
  (void) c;
  /* And a plain transaction afterwards still works. */
  RdStoreTx after = RD_STORE_TX_INIT;
  g_assert_true (rd_store_tx_begin (f->store, &after, &error));
  open_ticket (f->store, "inbox", "after", "d@example.org", "x");
  rd_store_tx_rollback (&after);
  g_autoptr(GPtrArray) l2 = rd_store_tickets_query (f->store, &q, &error);
  g_assert_cmpuint (l2->len, ==, 2);
}

/* PostgreSQL: a new ticket is announced to every listener (the web
 * desk's live list on any node) when its transaction commits, not
 * before. */
static void
test_new_ticket_notified (Fixture *f, gconstpointer data)
{
  if (!rd_test_store_is_pg ())
    {
      g_test_skip ("PostgreSQL only (SQLite: one process)");
      return;
    }
  g_autofree char *loc = rd_test_store_location (f->dir);
  PGconn *c = PQconnectdb (loc);
  g_assert_cmpint (PQstatus (c), ==, CONNECTION_OK);
  PQclear (PQexec (c, "LISTEN relaydesk_ticket"));
  g_autoptr(GError) error = NULL;
  RdStoreTx tx = RD_STORE_TX_INIT;
  g_assert_true (rd_store_tx_begin (f->store, &tx, &error));
  gint64 n = open_ticket (f->store, "support", "announced", "a@example.org", "x");
  g_usleep (100 * 1000);
  PQconsumeInput (c);
  g_assert_null (PQnotifies (c));                /* not before the commit */
  g_assert_true (rd_store_tx_commit (&tx, &error));
  PGnotify *note = NULL;
  for (guint i = 0; i < 100 && note == NULL; i++)
    {
      g_usleep (10 * 1000);
      PQconsumeInput (c);
      note = PQnotifies (c);
    }
  g_assert_nonnull (note);
  g_autofree char *want = g_strdup_printf ("%" G_GINT64_FORMAT, n);
  g_assert_cmpstr (note->extra, ==, want);
  PQfreemem (note);
  PQfinish (c);
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
  ADD ("/ticket-model/message-writer", test_message_writer);
  ADD ("/ticket-model/search", test_search_literal);
  ADD ("/ticket-model/query", test_query_filters);
  ADD ("/ticket-model/nested-transactions", test_nested_transactions);
  ADD ("/ticket-model/new-ticket-notified", test_new_ticket_notified);
  return g_test_run ();
}
