/* The rules' actions carried out by the desk (desk/actions.c, DESIGN.md
 * "Rules: Sieve"): a Sieve script installed as [rules] default, messages
 * spooled and processed on a real store. */
#include "desk-fixture.h"
#include "responses.h"

#include <string.h>

static gint64
deliver_simple (DeskFixture *f, const char *from, const char *subject, const char *message_id, gint64 *spool_id)
{
  g_autoptr(GBytes) raw = desk_mail_simple (from, "support@desk.test", subject, message_id, NULL, "Hello.");
  return desk_deliver (f, from, "support@desk.test", raw, spool_id);
}

/* deliver_simple with what the desk logged meanwhile in @log. */
static gint64
deliver_logged (DeskFixture *f, const char *subject, gint64 *spool_id, char **log)
{
  desk_log_capture_begin ();
  gint64 n = deliver_simple (f, "alice@example.org", subject, "a1@example.org", spool_id);
  *log = desk_log_capture_end ();
  return n;
}

static void
assert_spool (DeskFixture *f, gint64 spool_id, RdSpoolState state, const char *reason)
{
  g_autoptr(RdSpooled) sp = desk_spooled (f, spool_id);
  g_assert_cmpstr (rd_spool_state_to_string (sp->state), ==, rd_spool_state_to_string (state));
  g_assert_cmpstr (sp->state_reason, ==, reason);
}

static void
assert_queue (DeskFixture *f, gint64 number, const char *queue)
{
  g_autoptr(RdTicket) t = desk_ticket (f, number);
  g_assert_cmpstr (t->queue, ==, queue);
}

/* keep, implicit keep and fileinto: a ticket in the queue; a follow-up
 * stays in its ticket's queue whatever fileinto says. */
static void
test_keep_fileinto (DeskFixture *f, gconstpointer data)
{
  gint64 spool_id = 0;
  gint64 a = deliver_simple (f, "alice@example.org", "Invoice 42 wrong", "a1@example.org", &spool_id);
  g_assert_cmpint (a, ==, 1);
  assert_queue (f, a, "billing");
  assert_spool (f, spool_id, RD_SPOOL_PROCESSED, NULL);
  gint64 b = deliver_simple (f, "bob@example.org", "Printer", "b1@example.org", NULL);
  assert_queue (f, b, "inbox");
  gint64 c = deliver_simple (f, "carol@example.org", "keep me", "c1@example.org", NULL);
  assert_queue (f, c, "inbox");
  /* bob's follow-up mentions an invoice: still his ticket, in inbox. */
  gint64 d = deliver_simple (f, "bob@example.org", "Re: Printer [RD #2] and my invoice", "b2@example.org", NULL);
  g_assert_cmpint (d, ==, b);
  assert_queue (f, b, "inbox");
  g_assert_cmpuint (desk_ticket_count (f), ==, 3);
}

/* discard: no ticket; the spooled message stays, marked discarded. */
static void
test_discard (DeskFixture *f, gconstpointer data)
{
  gint64 spool_id = 0;
  g_assert_cmpint (deliver_simple (f, "spammer@spam.test", "Cheap pills", "s1@spam.test", &spool_id), ==, 0);
  assert_spool (f, spool_id, RD_SPOOL_DISCARDED, "rules: discard");
  g_autoptr(RdSpooled) sp = desk_spooled (f, spool_id);
  g_assert_nonnull (sp->raw);
  g_assert_cmpuint (desk_ticket_count (f), ==, 0);
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 0);
}

/* redirect: the original bytes to the new address with the envelope
 * sender kept (RFC 5228 4.2); without :copy no ticket, with :copy both. */
static void
test_redirect (DeskFixture *f, gconstpointer data)
{
  g_autoptr(GBytes) raw = desk_mail_simple ("Alice <alice@example.org>", "support@desk.test", "Server down",
                                            "a1@example.org", "X-Custom: kept as is", "It is down.");
  gint64 spool_id = 0;
  g_assert_cmpint (desk_deliver (f, "bounces+alice@example.org", "support@desk.test", raw, &spool_id), ==, 0);
  assert_spool (f, spool_id, RD_SPOOL_DISCARDED, "rules: redirect");
  g_assert_cmpuint (desk_ticket_count (f), ==, 0);
  {
    g_autoptr(RdOutboxItem) item = desk_outbox_only (f);
    g_assert_cmpint (item->kind, ==, RD_OUTBOX_REDIRECT);
    g_assert_cmpint (item->state, ==, RD_OUTBOX_QUEUED);
    g_assert_cmpstr (item->sender, ==, "bounces+alice@example.org");
    g_assert_cmpuint (item->recipients->len, ==, 1);
    g_assert_cmpstr (g_ptr_array_index (item->recipients, 0), ==, "oncall@elsewhere.test");
    g_assert_cmpstr (item->message_id, ==, "a1@example.org");
    g_assert_true (g_bytes_equal (item->raw, raw));
    g_assert_cmpint (item->ticket_number, ==, 0);
  }

  g_autoptr(GBytes) copy = desk_mail_simple ("bob@example.org", "support@desk.test", "copy: disk full", "b1@example.org",
                                             NULL, "Full.");
  gint64 n = desk_deliver (f, "bob@example.org", "support@desk.test", copy, &spool_id);
  g_assert_cmpint (n, ==, 1);
  assert_spool (f, spool_id, RD_SPOOL_PROCESSED, NULL);
  g_autoptr(GPtrArray) out = desk_outbox (f);
  g_assert_cmpuint (out->len, ==, 2);
  const RdOutboxItem *item = g_ptr_array_index (out, 1);
  g_assert_cmpint (item->kind, ==, RD_OUTBOX_REDIRECT);
  g_assert_cmpint (item->ticket_number, ==, n);
  g_assert_cmpstr (item->sender, ==, "bob@example.org");
  g_assert_true (g_bytes_equal (item->raw, copy));
}

/* reject: an MDN (RFC 5429 2.1) to the envelope sender from <>; none
 * for a null sender. No ticket either way. */
static void
test_reject (DeskFixture *f, gconstpointer data)
{
  gint64 spool_id = 0;
  g_autoptr(GBytes) raw = desk_mail_simple ("alice@example.org", "support@desk.test", "Buy now", "a1@example.org", NULL,
                                            "Offer.");
  g_assert_cmpint (desk_deliver (f, "bounces@example.org", "support@desk.test", raw, &spool_id), ==, 0);
  assert_spool (f, spool_id, RD_SPOOL_DISCARDED, "rules: reject");
  g_assert_cmpuint (desk_ticket_count (f), ==, 0);
  g_autoptr(RdOutboxItem) item = desk_outbox_only (f);
  g_assert_cmpint (item->kind, ==, RD_OUTBOX_REJECT);
  g_assert_cmpstr (item->sender, ==, "");
  g_assert_cmpuint (item->recipients->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (item->recipients, 0), ==, "bounces@example.org");
  g_autoptr(RdMessage) m = desk_outbox_message (f, item->id, NULL);
  g_assert_cmpstr (rd_message_get_message_id (m), ==, item->message_id);
  g_autofree char *to = desk_addr_list (rd_message_get_to (m));
  g_assert_cmpstr (to, ==, "bounces@example.org");
  g_autofree char *from = desk_addr_list (rd_message_get_from (m));
  g_assert_cmpstr (from, ==, "mailer-daemon@desk.test");
  g_assert_cmpstr (rd_message_get_in_reply_to (m), ==, "a1@example.org");
  g_assert_true (g_str_has_prefix (rd_message_get_auto_submitted (m), "auto-replied"));
  /* multipart/report: the text, the MDN, the rejected message's header. */
  GPtrArray *parts = rd_message_get_attachments (m);
  g_assert_cmpuint (parts->len, ==, 2);
  const RdAttachment *mdn = g_ptr_array_index (parts, 0), *orig = g_ptr_array_index (parts, 1);
  g_assert_cmpstr (mdn->content_type, ==, "message/disposition-notification");
  g_assert_cmpstr (orig->content_type, ==, "text/rfc822-headers");
  g_autofree char *orig_text = g_strndup (g_bytes_get_data (orig->content, NULL), g_bytes_get_size (orig->content));
  g_assert_nonnull (strstr (orig_text, "Message-ID: <a1@example.org>"));
  g_assert_null (strstr (orig_text, "Offer."));
  g_assert_nonnull (strstr (rd_message_get_body_text (m), "We take no offers."));
  g_assert_cmpstr (rd_message_get_subject (m), ==, "Rejected: Buy now");

  /* From <>: no notice (never to the null sender). */
  g_autoptr(GBytes) raw2 = desk_mail_simple ("daemon@example.org", "support@desk.test", "Buy now", "d1@example.org",
                                             NULL, "Offer.");
  g_assert_cmpint (desk_deliver (f, "", "support@desk.test", raw2, &spool_id), ==, 0);
  assert_spool (f, spool_id, RD_SPOOL_DISCARDED, "rules: reject");
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 1);
}

/* vacation: one autoresponse per sender and period (the response log),
 * RFC 3834 headers, a Message-ID signed for the ticket, ${ticket.*}
 * expanded after the ticket was opened. */
static void
test_vacation (DeskFixture *f, gconstpointer data)
{
  gint64 n = deliver_simple (f, "alice@example.org", "Printer broken", "a1@example.org", NULL);
  g_assert_cmpint (n, ==, 1);
  {
    g_autoptr(RdOutboxItem) item = desk_outbox_only (f);
    g_assert_cmpint (item->kind, ==, RD_OUTBOX_AUTOREPLY);
    g_assert_cmpint (item->ticket_number, ==, n);
    g_assert_cmpstr (item->sender, ==, "");
    g_assert_cmpuint (item->recipients->len, ==, 1);
    g_assert_cmpstr (g_ptr_array_index (item->recipients, 0), ==, "alice@example.org");
    g_autoptr(RdMessage) m = desk_outbox_message (f, item->id, NULL);
    g_assert_cmpstr (rd_message_get_auto_submitted (m), ==, "auto-replied");
    g_assert_cmpstr (rd_message_get_subject (m), ==, "Ticket 1 received [RD #1]");
    g_assert_cmpstr (rd_message_get_in_reply_to (m), ==, "a1@example.org");
    const char *mid = rd_message_get_message_id (m);
    g_assert_cmpstr (mid, ==, item->message_id);
    gint64 signed_for = 0;
    g_assert_true (rd_ticket_ids_check_message_id (f->ids, mid, &signed_for));
    g_assert_cmpint (signed_for, ==, n);
    g_autofree char *to = desk_addr_list (rd_message_get_to (m));
    g_assert_cmpstr (to, ==, "alice@example.org");
    g_autofree char *from = desk_addr_list (rd_message_get_from (m));
    g_assert_cmpstr (from, ==, "support@desk.test");
    g_assert_nonnull (strstr (rd_message_get_body_text (m), "Your request is ticket 1 ([RD #1])."));
  }

  /* alice again, a new ticket: within the period, no second response. */
  gint64 n2 = deliver_simple (f, "alice@example.org", "Another thing", "a2@example.org", NULL);
  g_assert_cmpint (n2, ==, 2);
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 1);
  gboolean due = TRUE;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_response_due (f->store, "support@desk.test", "ALICE@example.org", "ack", 86400, now, &due,
                                        &error));
  g_assert_false (due);
  g_assert_true (rd_store_response_due (f->store, "support@desk.test", "alice@example.org", "ack", 86400,
                                        now + 86400 + 60, &due, &error));
  g_assert_true (due);

  /* bob gets his own, with his ticket's number. */
  gint64 n3 = deliver_simple (f, "bob@example.org", "Help", "b1@example.org", NULL);
  g_autoptr(GPtrArray) out = desk_outbox (f);
  g_assert_cmpuint (out->len, ==, 2);
  const RdOutboxItem *item = g_ptr_array_index (out, 1);
  g_assert_cmpint (item->ticket_number, ==, n3);
  g_assert_cmpstr (g_ptr_array_index (item->recipients, 0), ==, "bob@example.org");
  g_autoptr(RdMessage) m = desk_outbox_message (f, item->id, NULL);
  g_assert_cmpstr (rd_message_get_subject (m), ==, "Ticket 3 received [RD #3]");

  /* A suppressed address gets none (every outbound path checks). */
  g_assert_true (rd_store_suppression_add (f->store, "carol@example.org", "test", &error));
  g_assert_no_error (error);
  g_assert_cmpint (deliver_simple (f, "carol@example.org", "Help", "c1@example.org", NULL), ==, 4);
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 2);
}

/* vnd.relaydesk.ticket and imap4flags: set on the ticket through the
 * store's setter, audited with actor "rules". */
static void
test_ticket_attributes (DeskFixture *f, gconstpointer data)
{
  gint64 n = deliver_simple (f, "ceo@bigcorp.test", "Everything is down", "c1@bigcorp.test", NULL);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpint (t->priority, ==, RD_TICKET_PRIORITY_URGENT);
  g_assert_cmpstr (t->assignee, ==, "team-lead");
  g_assert_cmpint (t->status, ==, RD_TICKET_STATUS_PENDING);
  g_autofree char *tags = g_strjoinv (",", t->tags);
  g_assert_cmpstr (tags, ==, "$escalated,vip");
  g_assert_cmpuint (desk_audit_count (f, n, "rules", "priority", "normal", "urgent"), ==, 1);
  g_assert_cmpuint (desk_audit_count (f, n, "rules", "assignee", NULL, "team-lead"), ==, 1);
  g_assert_cmpuint (desk_audit_count (f, n, "rules", "status", "new", "pending"), ==, 1);
  g_assert_cmpuint (desk_audit_count (f, n, "rules", "tag-add", NULL, "vip"), ==, 1);
  g_assert_cmpuint (desk_audit_count (f, n, "rules", "tag-add", NULL, "$escalated"), ==, 1);
  g_assert_cmpuint (desk_audit_count (f, n, "rules", NULL, NULL, NULL), ==, 5);

  /* Someone else: the default attributes, nothing by the rules. */
  gint64 m = deliver_simple (f, "joe@small.test", "Question", "j1@small.test", NULL);
  g_autoptr(RdTicket) u = desk_ticket (f, m);
  g_assert_cmpint (u->priority, ==, RD_TICKET_PRIORITY_NORMAL);
  g_assert_null (u->assignee);
  g_assert_cmpint (u->status, ==, RD_TICKET_STATUS_NEW);
  g_assert_cmpuint (g_strv_length (u->tags), ==, 0);
  g_assert_cmpuint (desk_audit_count (f, m, "rules", NULL, NULL, NULL), ==, 0);
}

/* A value the model does not take (a tag with a space, an assignee
 * longer than the limit) is skipped with a log line; the rest is set and
 * the message is on its ticket. */
static void
test_invalid_attribute (DeskFixture *f, gconstpointer data)
{
  gint64 spool_id = 0;
  g_autofree char *log = NULL;
  gint64 n = deliver_logged (f, "Hello", &spool_id, &log);
  g_assert_cmpint (n, ==, 1);
  assert_spool (f, spool_id, RD_SPOOL_PROCESSED, NULL);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpuint (t->message_count, ==, 1);
  g_assert_cmpint (t->priority, ==, RD_TICKET_PRIORITY_HIGH);
  g_assert_null (t->assignee);
  g_autofree char *tags = g_strjoinv (",", t->tags);
  g_assert_cmpstr (tags, ==, "good");
  g_assert_cmpuint (desk_audit_count (f, n, "rules", NULL, NULL, NULL), ==, 2);
  /* One line per value skipped. */
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);
  guint skipped = 0;
  for (guint i = 0; lines[i]; i++)
    if (strstr (lines[i], " warn desk.rules-attribute ") && strstr (lines[i], "ticket=1 "))
      skipped++;
  g_assert_cmpuint (skipped, ==, 2);
}

/* A Sieve run-time error (here an expanded status the model does not
 * allow): the implicit keep (RFC 5228 2.10.6), nothing of what the
 * script did before, the reason on the spool row. */
static void
test_runtime_error (DeskFixture *f, gconstpointer data)
{
  gint64 spool_id = 0;
  g_autofree char *log = NULL;
  gint64 n = deliver_logged (f, "Invoice", &spool_id, &log);
  g_assert_cmpint (n, ==, 1);
  g_autoptr(RdSpooled) sp = desk_spooled (f, spool_id);
  g_assert_cmpint (sp->state, ==, RD_SPOOL_PROCESSED);
  g_assert_cmpstr (sp->state_reason, ==, "rules runtime error, implicit keep: line 4: ticket: invalid status");
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpstr (t->queue, ==, "inbox");
  g_assert_cmpint (t->status, ==, RD_TICKET_STATUS_NEW);
  g_assert_cmpint (t->priority, ==, RD_TICKET_PRIORITY_NORMAL);
  g_assert_cmpuint (t->message_count, ==, 1);
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 0);
  g_assert_nonnull (strstr (log, " desk.rules "));
  g_assert_nonnull (strstr (log, "action=implicit-keep"));
}

static const DeskSetup keep_fileinto = {
  NULL,
  "require \"fileinto\";\n"
  "if header :contains \"subject\" \"invoice\" { fileinto \"billing\"; }\n"
  "elsif header :contains \"subject\" \"keep\" { keep; }\n",
};
static const DeskSetup discard = { NULL, "discard;\n" };
static const DeskSetup redirect = {
  NULL,
  "require \"copy\";\n"
  "if header :contains \"subject\" \"copy:\" { redirect :copy \"oncall@elsewhere.test\"; }\n"
  "else { redirect \"oncall@elsewhere.test\"; }\n",
};
static const DeskSetup reject = { NULL, "require \"reject\";\nreject \"We take no offers.\";\n" };
static const DeskSetup vacation = {
  NULL,
  "require [\"vacation\", \"variables\", \"vnd.relaydesk.ticket\"];\n"
  "if not followup {\n"
  "  vacation :days 1 :handle \"ack\" :subject \"Ticket ${ticket.number} received ${ticket.tag}\"\n"
  "    \"Your request is ticket ${ticket.number} (${ticket.tag}).\";\n"
  "}\n",
};
static const DeskSetup attributes = {
  NULL,
  "require [\"vnd.relaydesk.ticket\", \"imap4flags\"];\n"
  "if address :domain :is \"from\" \"bigcorp.test\" {\n"
  "  ticket :priority \"high\" :status \"pending\" :tags [\"vip\"];\n"
  "  ticket :priority \"urgent\" :assign \"team-lead\";\n"
  "  addflag \"$Escalated\";\n"
  "}\n",
};
/* 330 characters: over RD_TICKET_ASSIGNEE_MAX. */
#define LONG_NAME "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
static const DeskSetup invalid_attribute = {
  NULL,
  "require [\"vnd.relaydesk.ticket\"];\n"
  "ticket :priority \"high\" :assign \"" LONG_NAME LONG_NAME LONG_NAME "\" :tags [\"bad tag\", \"good\"];\n",
};
static const DeskSetup runtime_error = {
  NULL,
  "require [\"vnd.relaydesk.ticket\", \"variables\", \"fileinto\"];\n"
  "fileinto \"billing\";\n"
  "set \"s\" \"bogus\";\n"
  "ticket :priority \"high\" :status \"${s}\";\n",
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
  G_STATIC_ASSERT (3 * (sizeof LONG_NAME - 1) > RD_TICKET_ASSIGNEE_MAX);
#define ADD DESK_TEST_ADD
  ADD ("/actions/keep-fileinto", test_keep_fileinto, &keep_fileinto);
  ADD ("/actions/discard", test_discard, &discard);
  ADD ("/actions/redirect", test_redirect, &redirect);
  ADD ("/actions/reject", test_reject, &reject);
  ADD ("/actions/vacation", test_vacation, &vacation);
  ADD ("/actions/ticket-attributes", test_ticket_attributes, &attributes);
  ADD ("/actions/invalid-attribute", test_invalid_attribute, &invalid_attribute);
  ADD ("/actions/runtime-error", test_runtime_error, &runtime_error);
  return g_test_run ();
}
