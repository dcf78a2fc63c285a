/* Agent replies (desk/reply.h): recipients, the suppression list, the
 * outbox row and the ticket's record in one transaction, and the
 * message itself, read back with the parser view (headers and text, not
 * bytes: how mail is composed may change). */
#include "mail-format.h"
#include "desk-fixture.h"

#include <string.h>

static const RdTicketMessage *
message_at (const RdTicket *t, guint i)
{
  g_assert_cmpuint (i, <, t->messages->len);
  return g_ptr_array_index (t->messages, i);
}

/* Ticket 1: alice's "Printer broken", Cc bob and carol. */
static gint64
alice_ticket (DeskFixture *f)
{
  return desk_new_ticket (f, "Alice Example <alice@example.org>", "bob@example.org, Carol <carol@example.org>",
                          "Printer broken", "a1@example.org");
}

static void
reply_fails (DeskFixture *f, const RdReplyDraft *d, gint code)
{
  g_auto(RdReplyResult) r = { 0 };
  g_autoptr(GError) error = NULL;
  gint64 outbox = desk_sql_count (f, "outbox"), messages = desk_sql_count (f, "messages");
  gint64 audit = desk_sql_count (f, "ticket_audit");
  g_assert_false (rd_desk_reply (f->config, f->store, d, &r, &error));
  g_assert_error (error, RD_ERROR, code);
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, outbox);
  g_assert_cmpint (desk_sql_count (f, "messages"), ==, messages);
  g_assert_cmpint (desk_sql_count (f, "ticket_audit"), ==, audit);
}

/* The reply to the requester: what is queued, what is recorded, and the
 * message's headers. */
static void
test_reply (DeskFixture *f, gconstpointer data)
{
  gint64 n = alice_ticket (f);
  g_auto(RdReplyResult) r = { 0 };
  const char *body = "Hello Alice,\n\nwe are sending a technician.\nGrüße, the desk\n";
  desk_reply (f, n, body, &r);
  g_autofree char *rcpts = desk_strv_sorted (r.recipients);
  g_assert_cmpstr (rcpts, ==, "alice@example.org");
  g_assert_cmpuint (r.suppressed->len, ==, 0);
  g_assert_cmpstr (r.subject, ==, "Re: Printer broken [RD #1]");
  gint64 signed_for = 0;
  g_assert_true (rd_ticket_ids_check_message_id (f->ids, r.message_id, &signed_for));
  g_assert_cmpint (signed_for, ==, n);

  /* The outbox row. */
  g_autoptr(RdOutboxItem) item = NULL;
  g_autoptr(RdMessage) m = desk_outbox_message (f, r.outbox_id, &item);
  g_assert_cmpint (item->kind, ==, RD_OUTBOX_REPLY);
  g_assert_cmpint (item->state, ==, RD_OUTBOX_QUEUED);
  g_assert_cmpint (item->ticket_number, ==, n);
  g_assert_cmpstr (item->sender, ==, "support@desk.test");
  g_assert_cmpstr (item->message_id, ==, r.message_id);
  g_autofree char *env_rcpts = desk_strv_sorted (item->recipients);
  g_assert_cmpstr (env_rcpts, ==, "alice@example.org");

  /* The message. */
  GPtrArray *from = rd_message_get_from (m);
  g_assert_cmpuint (from->len, ==, 1);
  g_assert_cmpstr (((RdAddress *) g_ptr_array_index (from, 0))->addr, ==, "support@desk.test");
  g_assert_cmpstr (((RdAddress *) g_ptr_array_index (from, 0))->name, ==, "Support");
  GPtrArray *reply_to = rd_message_get_reply_to (m);
  g_assert_cmpuint (reply_to->len, ==, 1);
  gint64 via = 0;
  g_assert_true (rd_ticket_ids_check_reply_address (f->ids, ((RdAddress *) g_ptr_array_index (reply_to, 0))->addr, &via));
  g_assert_cmpint (via, ==, n);
  GPtrArray *to = rd_message_get_to (m);
  g_assert_cmpuint (to->len, ==, 1);
  g_assert_cmpstr (((RdAddress *) g_ptr_array_index (to, 0))->addr, ==, "alice@example.org");
  g_assert_cmpstr (((RdAddress *) g_ptr_array_index (to, 0))->name, ==, "Alice Example");
  g_assert_cmpuint (rd_message_get_cc (m)->len, ==, 0);
  g_assert_cmpstr (rd_message_get_subject (m), ==, r.subject);
  g_assert_cmpstr (rd_message_get_message_id (m), ==, r.message_id);
  g_assert_cmpstr (rd_message_get_in_reply_to (m), ==, "a1@example.org");
  const char *const *refs = rd_message_get_references (m);
  g_assert_cmpuint (g_strv_length ((char **) refs), ==, 1);
  g_assert_cmpstr (refs[0], ==, "a1@example.org");
  g_assert_cmpstr (rd_message_get_body_content_type (m), ==, "text/plain");
  /* The charset is the composer's choice (GMime picks iso-8859-1 for
   * this text, docs/tickets.md says UTF-8); the decoded text is what
   * counts here. */
  g_autofree char *text = g_strstrip (g_strdup (rd_message_get_body_text (m)));
  g_autofree char *want = g_strstrip (g_strdup (body));
  g_assert_cmpstr (text, ==, want);
  gint64 when = 0;
  g_assert_true (rd_message_get_date (m, &when));

  /* The ticket's record of it, and new -> open. */
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpuint (t->messages->len, ==, 2);
  const RdTicketMessage *out = message_at (t, 1);
  g_assert_cmpint (out->id, ==, r.message_row);
  g_assert_cmpint (out->direction, ==, RD_MESSAGE_OUTBOUND);
  g_assert_cmpstr (out->message_id, ==, r.message_id);
  g_assert_cmpint (out->outbox_id, ==, r.outbox_id);
  g_assert_true (out->has_delivery);
  g_assert_cmpint (out->delivery, ==, RD_OUTBOX_QUEUED);
  g_assert_cmpstr (out->author, ==, "agent1");
  g_assert_cmpstr (out->body_text, ==, body);
  g_assert_cmpstr (out->subject, ==, r.subject);
  g_assert_cmpint (t->status, ==, RD_TICKET_STATUS_OPEN);
  g_assert_cmpuint (desk_audit_count (f, n, "agent1", "status", "new", "open"), ==, 1);
  g_assert_cmpuint (desk_audit_count (f, n, "agent1", "reply", NULL, NULL), ==, 1);

  /* A second reply answers the newest message (the first reply); the
   * status stays. */
  g_auto(RdReplyResult) r2 = { 0 };
  desk_reply (f, n, "Any news?", &r2);
  g_assert_cmpstr (r2.message_id, !=, r.message_id);
  g_autoptr(RdMessage) m2 = desk_outbox_message (f, r2.outbox_id, NULL);
  g_assert_cmpstr (rd_message_get_in_reply_to (m2), ==, r.message_id);
  refs = rd_message_get_references (m2);
  g_assert_cmpuint (g_strv_length ((char **) refs), ==, 2);
  g_assert_cmpstr (refs[0], ==, "a1@example.org");
  g_assert_cmpstr (refs[1], ==, r.message_id);
  g_assert_cmpstr (rd_message_get_subject (m2), ==, "Re: Printer broken [RD #1]");
  g_assert_cmpuint (desk_audit_count (f, n, NULL, "status", NULL, NULL), ==, 1);
}

/* reply_all: the participants too (Cc), never our own addresses. */
static void
test_reply_all (DeskFixture *f, gconstpointer data)
{
  gint64 n = alice_ticket (f);
  g_autoptr(GError) error = NULL;
  /* Our own addresses on the list (as an older version might have left
   * them): still never a recipient. */
  g_autofree char *reply_addr = rd_ticket_ids_reply_address (f->ids, "inbox", n);
  const char *own[] = { "billing@desk.test", "support@desk.test", reply_addr };
  for (guint i = 0; i < G_N_ELEMENTS (own); i++)
    {
      g_assert_true (rd_store_ticket_add_participant (f->store, n, own[i], NULL, &error));
      g_assert_no_error (error);
    }
  RdReplyDraft d = { .ticket_number = n, .body = "To all of you.", .author = "agent1", .reply_all = TRUE };
  g_auto(RdReplyResult) r = { 0 };
  desk_reply_draft (f, &d, &r);
  g_autofree char *rcpts = desk_strv_sorted (r.recipients);
  g_assert_cmpstr (rcpts, ==, "alice@example.org,bob@example.org,carol@example.org");
  g_assert_cmpuint (r.suppressed->len, ==, 0);
  g_autoptr(RdOutboxItem) item = NULL;
  g_autoptr(RdMessage) m = desk_outbox_message (f, r.outbox_id, &item);
  g_autofree char *env_rcpts = desk_strv_sorted (item->recipients);
  g_assert_cmpstr (env_rcpts, ==, rcpts);
  g_autofree char *to = desk_addr_list (rd_message_get_to (m));
  g_autofree char *cc = desk_addr_list (rd_message_get_cc (m));
  g_assert_cmpstr (to, ==, "alice@example.org");
  g_assert_cmpstr (cc, ==, "bob@example.org,carol@example.org");
}

/* Suppressed addresses are left out and reported; when nobody is left
 * the reply is refused and nothing is written. */
static void
test_suppressed (DeskFixture *f, gconstpointer data)
{
  gint64 n = alice_ticket (f);
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_suppression_add (f->store, "BOB@example.org", "dsn 5.1.1", &error));
  g_assert_no_error (error);
  RdReplyDraft all = { .ticket_number = n, .body = "To all of you.", .author = "agent1", .reply_all = TRUE };
  g_auto(RdReplyResult) r = { 0 };
  desk_reply_draft (f, &all, &r);
  g_autofree char *rcpts = desk_strv_sorted (r.recipients);
  g_assert_cmpstr (rcpts, ==, "alice@example.org,carol@example.org");
  g_autofree char *sup = desk_strv_sorted (r.suppressed);
  g_assert_cmpstr (sup, ==, "bob@example.org");
  g_autoptr(RdOutboxItem) item = NULL;
  g_autoptr(RdMessage) m = desk_outbox_message (f, r.outbox_id, &item);
  g_autofree char *env_rcpts = desk_strv_sorted (item->recipients);
  g_assert_cmpstr (env_rcpts, ==, rcpts);
  g_autofree char *cc = desk_addr_list (rd_message_get_cc (m));
  g_assert_cmpstr (cc, ==, "carol@example.org");

  /* The requester suppressed too: a plain reply has nobody left. */
  g_assert_true (rd_store_suppression_add (f->store, "alice@example.org", "dsn 5.1.1", &error));
  g_assert_no_error (error);
  RdReplyDraft one = { .ticket_number = n, .body = "Hello?", .author = "agent1" };
  reply_fails (f, &one, RD_ERROR_INVALID_DATA);
  g_assert_true (rd_store_suppression_add (f->store, "carol@example.org", "dsn 5.1.1", &error));
  reply_fails (f, &all, RD_ERROR_INVALID_DATA);
}

/* Empty, blank and non-UTF-8 texts are refused, an unknown ticket is
 * not found; nothing is written. */
static void
test_bad_input (DeskFixture *f, gconstpointer data)
{
  gint64 n = alice_ticket (f);
  const char *bodies[] = { NULL, "", " \n\t\r\n", "caf\xe9" };
  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      RdReplyDraft d = { .ticket_number = n, .body = bodies[i], .author = "agent1" };
      reply_fails (f, &d, RD_ERROR_INVALID_DATA);
    }
  RdReplyDraft missing = { .ticket_number = n + 1, .body = "Hello", .author = "agent1" };
  reply_fails (f, &missing, RD_ERROR_NOT_FOUND);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpint (t->status, ==, RD_TICKET_STATUS_NEW);
}

/* References keep the newest ids within RD_MAIL_REFERENCES_MAX bytes,
 * the oldest dropped; In-Reply-To is the newest message. */
static void
test_references_capped (DeskFixture *f, gconstpointer data)
{
  gint64 n = alice_ticket (f);
  for (guint i = 0; i < 30; i++)
    {
      g_autofree char *mid = g_strdup_printf ("followup-%02u-0123456789abcdefghijklmnopqrstuvwxyz-0123456789@mail.example.org", i);
      g_autoptr(GBytes) raw = desk_mail_simple ("alice@example.org", "support@desk.test", "Re: Printer broken [RD #1]",
                                                mid, NULL, "And another thing.");
      g_assert_cmpint (desk_deliver (f, "alice@example.org", "support@desk.test", raw, NULL), ==, n);
    }
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) thread = rd_store_ticket_message_ids (f->store, n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thread->len, ==, 31);

  g_auto(RdReplyResult) r = { 0 };
  desk_reply (f, n, "Thanks for all the details.", &r);
  g_autoptr(RdMessage) m = desk_outbox_message (f, r.outbox_id, NULL);
  const char *newest = g_ptr_array_index (thread, thread->len - 1);
  g_assert_cmpstr (rd_message_get_in_reply_to (m), ==, newest);
  const char *const *refs = rd_message_get_references (m);
  guint k = g_strv_length ((char **) refs);
  g_assert_cmpuint (k, >, 1);
  g_assert_cmpuint (k, <, thread->len);
  /* A suffix of the thread, in order. */
  gsize bytes = 0;
  for (guint i = 0; i < k; i++)
    {
      g_assert_cmpstr (refs[i], ==, g_ptr_array_index (thread, thread->len - k + i));
      bytes += strlen (refs[i]) + 2 + (i ? 1 : 0);   /* "<id>", a space between */
    }
  g_assert_cmpstr (refs[0], !=, "a1@example.org");
  g_assert_cmpuint (bytes, <=, RD_MAIL_REFERENCES_MAX);
  /* ... and no more dropped than needed: one more id (" <id>") would
   * not fit, give or take a byte (reply.c counts a separator per id). */
  const char *next_older = g_ptr_array_index (thread, thread->len - k - 1);
  g_assert_cmpuint (bytes + strlen (next_older) + 3, >=, RD_MAIL_REFERENCES_MAX);
}

/* The subject carries the ticket's tag once, with one "Re:". */
static void
test_subject (DeskFixture *f, gconstpointer data)
{
  gint64 a = desk_new_ticket (f, "alice@example.org", NULL, "Re: RE: Printer broken", "a1@example.org");
  /* Ticket 2's first message already names its (future) number. */
  gint64 b = desk_new_ticket (f, "bob@example.org", NULL, "AW: Drucker [RD #2]", "b1@example.org");
  g_assert_cmpint (b, ==, 2);
  struct { gint64 number; const char *subject; } cases[] = {
    { a, "Re: Printer broken [RD #1]" },
    { b, "Re: Drucker [RD #2]" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(RdReplyResult) r = { 0 };
      desk_reply (f, cases[i].number, "Noted.", &r);
      g_autoptr(RdMessage) m = desk_outbox_message (f, r.outbox_id, NULL);
      g_assert_cmpstr (r.subject, ==, cases[i].subject);
      g_assert_cmpstr (rd_message_get_subject (m), ==, cases[i].subject);
    }
}

/* set_status: the status after replying, instead of open; a status the
 * model does not have rolls the whole reply back. */
static void
test_set_status (DeskFixture *f, gconstpointer data)
{
  gint64 n = alice_ticket (f);
  RdReplyDraft bad = { .ticket_number = n, .body = "Waiting for you.", .author = "agent1", .set_status = "waiting" };
  reply_fails (f, &bad, RD_ERROR_INVALID_DATA);
  RdReplyDraft d = { .ticket_number = n, .body = "Waiting for you.", .author = "agent1", .set_status = "pending" };
  g_auto(RdReplyResult) r = { 0 };
  desk_reply_draft (f, &d, &r);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpint (t->status, ==, RD_TICKET_STATUS_PENDING);
  g_assert_cmpuint (desk_audit_count (f, n, "agent1", "status", "new", "pending"), ==, 1);
  g_assert_cmpuint (desk_audit_count (f, n, NULL, "status", NULL, NULL), ==, 1);
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 1);
  /* Only a new ticket becomes open by a reply: pending stays. */
  g_auto(RdReplyResult) r2 = { 0 };
  desk_reply (f, n, "Still waiting.", &r2);
  g_autoptr(RdTicket) t2 = desk_ticket (f, n);
  g_assert_cmpint (t2->status, ==, RD_TICKET_STATUS_PENDING);
  g_assert_cmpuint (desk_audit_count (f, n, NULL, "status", NULL, NULL), ==, 1);
}

/* A ticket in a queue with its own address: From, Reply-To and the
 * envelope sender are the queue's. */
static void
test_queue_address (DeskFixture *f, gconstpointer data)
{
  gint64 n = alice_ticket (f);
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_set (f->store, n, RD_TICKET_FIELD_QUEUE, "billing", "agent1", &error));
  g_assert_no_error (error);
  g_auto(RdReplyResult) r = { 0 };
  desk_reply (f, n, "About your invoice.", &r);
  g_autoptr(RdOutboxItem) item = NULL;
  g_autoptr(RdMessage) m = desk_outbox_message (f, r.outbox_id, &item);
  g_assert_cmpstr (item->sender, ==, "billing@desk.test");
  GPtrArray *from = rd_message_get_from (m);
  g_assert_cmpstr (((RdAddress *) g_ptr_array_index (from, 0))->addr, ==, "billing@desk.test");
  g_assert_cmpstr (((RdAddress *) g_ptr_array_index (from, 0))->name, ==, "Billing");
  const char *reply_to = ((RdAddress *) g_ptr_array_index (rd_message_get_reply_to (m), 0))->addr;
  g_assert_true (g_str_has_prefix (reply_to, "billing+1-"));
  gint64 via = 0;
  g_assert_true (rd_ticket_ids_check_reply_address (f->ids, reply_to, &via));
  g_assert_cmpint (via, ==, n);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
#define ADD(name, fn) DESK_TEST_ADD (name, fn, NULL)
  ADD ("/reply/requester", test_reply);
  ADD ("/reply/reply-all", test_reply_all);
  ADD ("/reply/suppressed", test_suppressed);
  ADD ("/reply/bad-input", test_bad_input);
  ADD ("/reply/references-capped", test_references_capped);
  ADD ("/reply/subject", test_subject);
  ADD ("/reply/set-status", test_set_status);
  ADD ("/reply/queue-address", test_queue_address);
  return g_test_run ();
}
