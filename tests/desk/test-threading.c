/* Threading (docs/tickets.md "Threading"): which ticket an inbound
 * message continues, driven through rd_desk_process() on a real store. */
#include "desk-fixture.h"

#include <string.h>

/* The Message-ID of the newest outbound message the desk queued. */
static char *
last_outbox_message_id (DeskFixture *f)
{
  g_autoptr(GPtrArray) out = desk_outbox (f);
  g_assert_cmpuint (out->len, >, 0);
  const RdOutboxItem *item = g_ptr_array_index (out, out->len - 1);
  g_autoptr(RdMessage) m = desk_outbox_message (f, item->id, NULL);
  g_assert_cmpstr (rd_message_get_message_id (m), ==, item->message_id);
  return g_strdup (rd_message_get_message_id (m));
}

static guint
message_count (DeskFixture *f, gint64 number)
{
  g_autoptr(RdTicket) t = desk_ticket (f, number);
  return t->message_count;
}

/* The audit line of the newest follow-up says how it was threaded. */
static void
assert_followup_reason (DeskFixture *f, gint64 number, const char *reason)
{
  g_assert_cmpuint (desk_audit_count (f, number, "system", "followup", reason, NULL), ==, 1);
}

/* In-Reply-To or References naming our signed Message-ID (from an agent
 * reply) join the ticket, whoever sends them. */
static void
test_references (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  g_auto(RdReplyResult) r = { 0 };
  desk_reply (f, n, "Have you tried turning it off and on?", &r);
  g_autofree char *ours = last_outbox_message_id (f);
  g_assert_cmpstr (ours, ==, r.message_id);

  /* In-Reply-To, from someone who is not a participant, no subject tag. */
  g_autofree char *irt = g_strdup_printf ("In-Reply-To: <%s>", ours);
  g_autoptr(GBytes) m1 = desk_mail_simple ("zed@other.test", "support@desk.test", "Re: your answer", "z1@other.test",
                                           irt, "It works now.");
  g_assert_cmpint (desk_deliver (f, "zed@other.test", "support@desk.test", m1, NULL), ==, n);
  assert_followup_reason (f, n, "references");

  /* References only, ours not the newest entry. */
  g_autofree char *refs = g_strdup_printf ("References: <a1@example.org> <%s> <x9@other.test>", ours);
  g_autoptr(GBytes) m2 = desk_mail_simple ("yan@other.test", "support@desk.test", "Re: x", "y1@other.test", refs,
                                           "Me too.");
  g_assert_cmpint (desk_deliver (f, "yan@other.test", "support@desk.test", m2, NULL), ==, n);

  g_assert_cmpuint (desk_ticket_count (f), ==, 1);
  g_assert_cmpuint (message_count (f, n), ==, 4);
  g_assert_cmpuint (desk_audit_count (f, n, "system", "followup", "references", NULL), ==, 2);
}

/* The Message-ID of an acknowledgement (vacation for a new ticket) is
 * signed for the ticket as well. */
static void
test_references_acknowledgement (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  g_autoptr(RdOutboxItem) ack = desk_outbox_only (f);
  g_assert_cmpint (ack->kind, ==, RD_OUTBOX_AUTOREPLY);
  g_autofree char *ours = last_outbox_message_id (f);
  gint64 signed_for = 0;
  g_assert_true (rd_ticket_ids_check_message_id (f->ids, ours, &signed_for));
  g_assert_cmpint (signed_for, ==, n);

  g_autofree char *irt = g_strdup_printf ("In-Reply-To: <%s>\nReferences: <a1@example.org> <%s>", ours, ours);
  g_autoptr(GBytes) m = desk_mail_simple ("alice.private@home.test", "support@desk.test", "Re: Received",
                                          "a2@home.test", irt, "Any news?");
  g_assert_cmpint (desk_deliver (f, "alice.private@home.test", "support@desk.test", m, NULL), ==, n);
  g_assert_cmpuint (desk_ticket_count (f), ==, 1);
  g_assert_cmpuint (message_count (f, n), ==, 2);
  /* A follow-up gets no second acknowledgement. */
  g_autoptr(GPtrArray) out = desk_outbox (f);
  g_assert_cmpuint (out->len, ==, 1);
}

/* Ids that merely look like ours, and the customer's own ids, never
 * thread, nor do ours for a ticket that is not there: each of these
 * opens a new ticket. */
static void
test_forged_ids (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  g_auto(RdReplyResult) r = { 0 };
  desk_reply (f, n, "On it.", &r);
  /* Another ticket's number with this id's nonce and mac. */
  g_autofree char *other_ticket = g_strdup (r.message_id);
  g_assert_true (g_str_has_prefix (other_ticket, "rd-1-"));
  other_ticket[3] = '2';
  /* The mac changed in its last character. */
  g_autofree char *bad_mac = g_strdup (r.message_id);
  char *at = strchr (bad_mac, '@');
  at[-1] = at[-1] == 'a' ? 'b' : 'a';
  /* Signed, but for a ticket that does not exist (any more). */
  g_autofree char *gone = rd_ticket_ids_new_message_id (f->ids, 99);
  const char *ids[] = {
    "a1@example.org",                               /* the customer's own first message */
    other_ticket, bad_mac,
    "rd-1-aaaaaaaa-aaaaaaaaaaaaaaaa@desk.test",     /* the shape of ours, unsigned */
    gone,
  };
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *hdr = g_strdup_printf ("In-Reply-To: <%s>\nReferences: <%s>", ids[i], ids[i]);
      g_autofree char *mid = g_strdup_printf ("forged%u@evil.test", i);
      g_autoptr(GBytes) m = desk_mail_simple ("mallory@evil.test", "support@desk.test", "Re: Printer broken", mid,
                                              hdr, "Let me in.");
      gint64 got = desk_deliver (f, "mallory@evil.test", "support@desk.test", m, NULL);
      g_assert_cmpint (got, ==, n + 1 + i);
    }
  g_assert_cmpuint (desk_ticket_count (f), ==, 1 + G_N_ELEMENTS (ids));
  g_assert_cmpuint (message_count (f, n), ==, 2);
}

/* Mail to the ticket's signed reply address (the Reply-To of our reply)
 * joins it, as envelope recipient or in Cc; a forged one does not. */
static void
test_reply_address (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  g_auto(RdReplyResult) r = { 0 };
  desk_reply (f, n, "On it.", &r);
  g_autoptr(RdMessage) reply = desk_outbox_message (f, r.outbox_id, NULL);
  GPtrArray *reply_to = rd_message_get_reply_to (reply);
  g_assert_cmpuint (reply_to->len, ==, 1);
  const char *addr = ((const RdAddress *) g_ptr_array_index (reply_to, 0))->addr;
  g_assert_true (g_str_has_prefix (addr, "support+1-"));

  /* Envelope recipient and To, from a stranger, a subject without tag. */
  g_autoptr(GBytes) m1 = desk_mail_simple ("zed@other.test", addr, "Hello", "z1@other.test", NULL, "Hi.");
  g_assert_cmpint (desk_deliver (f, "zed@other.test", addr, m1, NULL), ==, n);
  assert_followup_reason (f, n, "reply-address");

  /* Only in Cc; the envelope names the plain inbox. */
  g_autofree char *cc = g_strdup_printf ("Cc: %s", addr);
  g_autoptr(GBytes) m2 = desk_mail_simple ("yan@other.test", "support@desk.test", "Hello", "y1@other.test", cc, "Hi.");
  g_assert_cmpint (desk_deliver (f, "yan@other.test", "support@desk.test", m2, NULL), ==, n);
  g_assert_cmpuint (desk_audit_count (f, n, "system", "followup", "reply-address", NULL), ==, 2);

  /* The same address with another ticket number: not signed. */
  g_autofree char *forged = g_strdup (addr);
  forged[strlen ("support+")] = '2';
  g_autoptr(GBytes) m3 = desk_mail_simple ("mallory@evil.test", forged, "Hello", "m1@evil.test", NULL, "Hi.");
  g_assert_cmpint (desk_deliver (f, "mallory@evil.test", forged, m3, NULL), ==, n + 1);
  g_assert_cmpuint (message_count (f, n), ==, 4);
}

/* The subject tag joins for a participant (From, or Cc of an earlier
 * message); a stranger's tagged message opens a new ticket linked to the
 * one it named. */
static void
test_subject_tag (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", "bob@example.org", "Printer broken", "a1@example.org");
  g_autoptr(GBytes) m1 = desk_mail_simple ("alice@example.org", "support@desk.test", "Re: Printer broken [RD #1]",
                                           "a2@example.org", NULL, "Still broken.");
  g_assert_cmpint (desk_deliver (f, "alice@example.org", "support@desk.test", m1, NULL), ==, n);
  assert_followup_reason (f, n, "subject-tag");
  g_autoptr(GBytes) m2 = desk_mail_simple ("Bob <BOB@example.org>", "support@desk.test", "AW: [rd #1] printer",
                                           "b1@example.org", NULL, "Mine too.");
  g_assert_cmpint (desk_deliver (f, "bob@example.org", "support@desk.test", m2, NULL), ==, n);
  g_assert_cmpuint (message_count (f, n), ==, 3);

  g_autoptr(GBytes) m3 = desk_mail_simple ("eve@evil.test", "support@desk.test", "Re: Printer broken [RD #1]",
                                           "e1@evil.test", NULL, "Add me.");
  gint64 linked = desk_deliver (f, "eve@evil.test", "support@desk.test", m3, NULL);
  g_assert_cmpint (linked, ==, n + 1);
  g_assert_cmpuint (message_count (f, n), ==, 3);
  g_autoptr(RdTicket) t = desk_ticket (f, linked);
  g_assert_cmpstr (t->requester_addr, ==, "eve@evil.test");
  g_assert_cmpuint (t->links->len, ==, 1);
  g_assert_cmpint (g_array_index (t->links, gint64, 0), ==, n);
  g_autoptr(RdTicket) orig = desk_ticket (f, n);
  g_assert_cmpuint (orig->links->len, ==, 1);
  g_assert_cmpint (g_array_index (orig->links, gint64, 0), ==, linked);
  g_assert_cmpuint (desk_audit_count (f, linked, "system", "linked", NULL, "#1"), ==, 1);
  /* The stranger did not become a participant of the ticket named. */
  g_autofree char *parts = desk_strv_sorted (orig->participants);
  g_assert_cmpstr (parts, ==, "alice@example.org,bob@example.org");
}

/* [desk] stranger_tag = quarantine: the stranger's message is held,
 * with the reason on its spool row. */
static void
test_stranger_quarantine (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  g_autoptr(GBytes) m = desk_mail_simple ("eve@evil.test", "support@desk.test", "Re: Printer broken [RD #1]",
                                          "e1@evil.test", NULL, "Add me.");
  gint64 spool_id = 0;
  g_assert_cmpint (desk_deliver (f, "eve@evil.test", "support@desk.test", m, &spool_id), ==, 0);
  g_autoptr(RdSpooled) sp = desk_spooled (f, spool_id);
  g_assert_cmpint (sp->state, ==, RD_SPOOL_QUARANTINED);
  g_assert_cmpstr (sp->state_reason, ==, "subject tag of ticket #1 from a non-participant");
  g_assert_true (g_bytes_equal (sp->raw, m));
  g_assert_cmpuint (desk_ticket_count (f), ==, 1);
  g_assert_cmpuint (message_count (f, n), ==, 1);
  /* A participant's tagged message still joins. */
  g_autoptr(GBytes) m2 = desk_mail_simple ("alice@example.org", "support@desk.test", "Re: [RD #1]", "a2@example.org",
                                           NULL, "Hello?");
  g_assert_cmpint (desk_deliver (f, "alice@example.org", "support@desk.test", m2, NULL), ==, n);
}

static gint64
followup_by_tag (DeskFixture *f, gint64 number, const char *message_id)
{
  g_autofree char *subject = g_strdup_printf ("Re: Printer broken [RD #%" G_GINT64_FORMAT "]", number);
  g_autoptr(GBytes) m = desk_mail_simple ("alice@example.org", "support@desk.test", subject, message_id, NULL,
                                          "It broke again.");
  return desk_deliver (f, "alice@example.org", "support@desk.test", m, NULL);
}

/* A follow-up to a closed or resolved ticket reopens it (the default). */
static void
test_closed_reopens (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  const char *done[] = { "closed", "resolved" };
  for (guint i = 0; i < G_N_ELEMENTS (done); i++)
    {
      desk_set_status (f, n, done[i]);
      g_autofree char *mid = g_strdup_printf ("again%u@example.org", i);
      g_assert_cmpint (followup_by_tag (f, n, mid), ==, n);
      g_autoptr(RdTicket) t = desk_ticket (f, n);
      g_assert_cmpint (t->status, ==, RD_TICKET_STATUS_OPEN);
      g_assert_cmpuint (t->message_count, ==, 2 + i);
      g_assert_cmpuint (desk_audit_count (f, n, "system", "status", done[i], "open"), ==, 1);
    }
  g_assert_cmpuint (desk_ticket_count (f), ==, 1);
}

/* closed_followup = new: the follow-up opens a new ticket linked to the
 * closed one, which stays closed. */
static void
assert_closed_new (DeskFixture *f, gint64 n)
{
  guint before = desk_ticket_count (f);
  desk_set_status (f, n, "closed");
  gint64 got = followup_by_tag (f, n, "late@example.org");
  g_assert_cmpint (got, !=, n);
  g_assert_cmpuint (desk_ticket_count (f), ==, before + 1);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpint (t->status, ==, RD_TICKET_STATUS_CLOSED);
  g_assert_cmpuint (t->message_count, ==, 1);
  g_autoptr(RdTicket) fresh = desk_ticket (f, got);
  g_assert_cmpint (fresh->status, ==, RD_TICKET_STATUS_NEW);
  g_assert_cmpuint (fresh->links->len, ==, 1);
  g_assert_cmpint (g_array_index (fresh->links, gint64, 0), ==, n);
  g_autofree char *to = g_strdup_printf ("#%" G_GINT64_FORMAT, n);
  g_assert_cmpuint (desk_audit_count (f, got, "system", "linked", NULL, to), ==, 1);
}

static void
test_closed_new_global (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  assert_closed_new (f, n);
}

/* [queue.billing] closed_followup = new, [desk] the default (reopen). */
static void
test_closed_new_per_queue (DeskFixture *f, gconstpointer data)
{
  gint64 inbox = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  gint64 billing = desk_new_ticket (f, "alice@example.org", NULL, "Invoice", "a2@example.org");
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_set (f->store, billing, RD_TICKET_FIELD_QUEUE, "billing", "agent1", &error));
  g_assert_no_error (error);
  assert_closed_new (f, billing);

  desk_set_status (f, inbox, "closed");
  g_assert_cmpint (followup_by_tag (f, inbox, "a4@example.org"), ==, inbox);
  g_autoptr(RdTicket) t = desk_ticket (f, inbox);
  g_assert_cmpint (t->status, ==, RD_TICKET_STATUS_OPEN);
}

/* The customer's answer on a pending ticket makes it open again. */
static void
test_pending_opens (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  desk_set_status (f, n, "pending");
  g_assert_cmpint (followup_by_tag (f, n, "a2@example.org"), ==, n);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpint (t->status, ==, RD_TICKET_STATUS_OPEN);
  g_assert_cmpuint (desk_audit_count (f, n, "system", "status", "pending", "open"), ==, 1);
  /* An open ticket's follow-up changes no status. */
  g_assert_cmpint (followup_by_tag (f, n, "a3@example.org"), ==, n);
  g_assert_cmpuint (desk_audit_count (f, n, NULL, "status", NULL, NULL), ==, 2);
}

/* What can change when a message is looked at. */
typedef struct {
  gint64 tickets;
  gint64 audit;
  gint64 messages;
  gint64 links;
  gint64 spool[RD_SPOOL_STATE_N];
} Snapshot;

static void
snapshot (DeskFixture *f, Snapshot *s)
{
  s->tickets = desk_ticket_count (f);
  s->audit = desk_sql_count (f, "ticket_audit");
  s->messages = desk_sql_count (f, "messages");
  s->links = desk_sql_count (f, "ticket_links");
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_spool_counts (f->store, s->spool, &error));
  g_assert_no_error (error);
}

/* rd_desk_thread_preview answers as processing does, and writes
 * nothing. */
static void
test_preview (DeskFixture *f, gconstpointer data)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  g_auto(RdReplyResult) r = { 0 };
  desk_reply (f, n, "On it.", &r);
  g_autofree char *irt = g_strdup_printf ("In-Reply-To: <%s>", r.message_id);
  struct {
    const char *from, *subject, *mid, *extra;
    gint64 expect;   /* the ticket continued; 0: a new one */
  } cases[] = {
    { "zed@other.test", "Re: On it", "p1@other.test", irt, 1 },
    { "alice@example.org", "Re: [RD #1]", "p2@example.org", NULL, 1 },
    { "eve@evil.test", "Re: [RD #1]", "p3@evil.test", NULL, 0 },   /* stranger: new, linked */
    { "carol@example.org", "A new question", "p4@example.org", NULL, 0 },
    { "carol@example.org", "About [RD #99]", "p5@example.org", NULL, 0 },  /* no such ticket */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) raw = desk_mail_simple (cases[i].from, "support@desk.test", cases[i].subject, cases[i].mid,
                                                cases[i].extra, "Text.");
      g_autoptr(GError) error = NULL;
      g_autoptr(RdMessage) msg = rd_message_parse (raw, &error);
      g_assert_no_error (error);
      Snapshot before, after;
      snapshot (f, &before);
      gint64 number = -1;
      g_autofree char *queue = NULL, *tag = NULL;
      g_assert_true (rd_desk_thread_preview (f->config, f->store, msg, cases[i].from, "support@desk.test", NULL, &number,
                                             &queue, &tag, &error));
      g_assert_no_error (error);
      snapshot (f, &after);
      g_assert_cmpmem (&before, sizeof before, &after, sizeof after);
      g_assert_cmpint (number, ==, cases[i].expect);
      if (number)
        {
          g_assert_cmpstr (queue, ==, "inbox");
          g_assert_cmpstr (tag, ==, "[RD #1]");
        }
      else
        {
          g_assert_null (queue);
          g_assert_null (tag);
        }
      gint64 next = 0;
      g_assert_true (rd_store_ticket_next_number (f->store, &next, &error));
      gint64 got = desk_deliver (f, cases[i].from, "support@desk.test", raw, NULL);
      g_assert_cmpint (got, ==, number ? number : next);
    }
  /* A closed ticket under closed_followup = new: a new ticket. */
  desk_set_status (f, n, "closed");
  rd_config_set_string (f->config, "desk", "closed_followup", "new");
  g_autoptr(GBytes) raw = desk_mail_simple ("alice@example.org", "support@desk.test", "Re: [RD #1]", "p6@example.org",
                                            NULL, "Text.");
  g_autoptr(RdMessage) msg = rd_message_parse (raw, NULL);
  gint64 number = -1;
  g_autofree char *queue = NULL, *tag = NULL;
  g_assert_true (rd_desk_thread_preview (f->config, f->store, msg, "alice@example.org", "support@desk.test", NULL,
                                         &number, &queue, &tag, NULL));
  g_assert_cmpint (number, ==, 0);
  g_assert_cmpint (desk_deliver (f, "alice@example.org", "support@desk.test", raw, NULL), !=, n);
}

/* The subject-tag rule needs a participant whose From domain passed
 * DMARC ([desk] subject_tag_auth = dmarc-pass, the default; the fixture
 * says "any" for the tests of the rule's other half). */
static void
test_subject_tag_needs_dmarc (DeskFixture *f, gconstpointer data)
{
  desk_new_ticket (f, "alice@example.org", NULL, "Printer broken", "a1@example.org");
  rd_config_set_string (f->config, "desk", "subject_tag_auth", "dmarc-pass");
  g_autoptr(GBytes) raw = desk_mail_simple ("alice@example.org", "support@desk.test", "Re: [RD #1]", "d1@example.org",
                                            NULL, "Text.");
  g_autoptr(RdMessage) msg = rd_message_parse (raw, NULL);
  RdAuthSummary pass = { .spf = RD_AUTH_NONE, .dkim = RD_AUTH_PASS, .dmarc = RD_AUTH_PASS,
                         .from_domain = "example.org", .verified = TRUE };
  RdAuthSummary other = pass;   /* verified, but for another domain than the From address */
  g_strlcpy (other.from_domain, "example.com", sizeof other.from_domain);
  RdAuthSummary fail = { .spf = RD_AUTH_NONE, .dkim = RD_AUTH_FAIL, .dmarc = RD_AUTH_FAIL,
                         .from_domain = "example.org", .verified = FALSE };
  RdAuthSummary none = { .spf = RD_AUTH_NONE, .dkim = RD_AUTH_NONE, .dmarc = RD_AUTH_NONE,
                         .from_domain = "example.org", .verified = FALSE };
  struct {
    const char *policy;
    const RdAuthSummary *auth;
    gint64 expect;
  } cases[] = {
    { "dmarc-pass", &pass, 1 },
    { "dmarc-pass", NULL, 0 },
    { "dmarc-pass", &other, 0 },
    { "dmarc-pass", &fail, 0 },
    { "dmarc-pass", &none, 0 },
    { "allow-none", &none, 1 },
    { "allow-none", &fail, 0 },
    { "any", &fail, 1 },
    { "any", NULL, 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      rd_config_set_string (f->config, "desk", "subject_tag_auth", cases[i].policy);
      gint64 number = -1;
      g_autofree char *queue = NULL, *tag = NULL;
      g_autoptr(GError) error = NULL;
      g_assert_true (rd_desk_thread_preview (f->config, f->store, msg, "alice@example.org", "support@desk.test",
                                             cases[i].auth, &number, &queue, &tag, &error));
      g_assert_no_error (error);
      g_assert_cmpint (number, ==, cases[i].expect);
    }
}

static const DeskSetup quarantine = { "[desk]\nstranger_tag = quarantine\n", NULL };
static const DeskSetup closed_new = { "[desk]\nclosed_followup = new\n", NULL };
static const DeskSetup billing_closed_new = { "[queue.billing]\nclosed_followup = new\n", NULL };
static const DeskSetup acknowledge = {
  NULL,
  "require [\"vacation\", \"vnd.relaydesk.ticket\", \"variables\"];\n"
  "if not followup {\n"
  "  vacation :subject \"Received ${ticket.tag}\" \"We have your request.\";\n"
  "}\n",
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
#define ADD DESK_TEST_ADD
  ADD ("/threading/references", test_references, NULL);
  ADD ("/threading/references-acknowledgement", test_references_acknowledgement, &acknowledge);
  ADD ("/threading/forged-ids", test_forged_ids, NULL);
  ADD ("/threading/reply-address", test_reply_address, NULL);
  ADD ("/threading/subject-tag", test_subject_tag, NULL);
  ADD ("/threading/stranger-quarantine", test_stranger_quarantine, &quarantine);
  ADD ("/threading/closed-reopens", test_closed_reopens, NULL);
  ADD ("/threading/closed-new", test_closed_new_global, &closed_new);
  ADD ("/threading/closed-new-per-queue", test_closed_new_per_queue, &billing_closed_new);
  ADD ("/threading/pending-opens", test_pending_opens, NULL);
  ADD ("/threading/preview", test_preview, NULL);
  ADD ("/threading/subject-tag-needs-dmarc", test_subject_tag_needs_dmarc, NULL);
  return g_test_run ();
}
