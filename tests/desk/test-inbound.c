/* Inbound mail around the rules (desk/inbound.c, docs/tickets.md "Dedupe",
 * "Bounces", "Storage and search"): duplicates, delivery reports about
 * our own mail, participants, attachments, garbage, idempotence. */
#include "desk-fixture.h"

#include <string.h>

/* A real RFC 3464 report: multipart/report; report-type=delivery-status
 * with a human part, message/delivery-status and the original's header. */
static GBytes *
make_dsn (const char *message_id, const char *status_fields, const char *original_mid)
{
  g_autofree char *text = g_strdup_printf (
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
    "To: support@desk.test\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "Message-ID: <%s>\n"
    "Auto-Submitted: auto-replied\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn-b\"\n"
    "\n"
    "--dsn-b\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "Your message could not be delivered.\n"
    "\n"
    "--dsn-b\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx.example.org\n"
    "\n"
    "%s"
    "\n"
    "--dsn-b\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "From: Support <support@desk.test>\n"
    "To: alice@example.org\n"
    "Subject: Re: Printer broken [RD #1]\n"
    "Message-ID: <%s>\n"
    "\n"
    "--dsn-b--\n", message_id, status_fields, original_mid);
  return desk_mail (text);
}

static const RdTicketMessage *
message_at (const RdTicket *t, guint i)
{
  g_assert_cmpuint (i, <, t->messages->len);
  return g_ptr_array_index (t->messages, i);
}

/* The same message twice (a trace header more on the second copy): one
 * entry; the second spool row processed as a duplicate. The same
 * Message-ID with another body is another message. */
static void
test_duplicate (DeskFixture *f, gconstpointer data)
{
  g_autoptr(GBytes) first = desk_mail_simple ("alice@example.org", "support@desk.test", "Printer broken",
                                              "a1@example.org", NULL, "It is broken.");
  gint64 spool1 = 0, spool2 = 0;
  gint64 n = desk_deliver (f, "alice@example.org", "support@desk.test", first, &spool1);
  g_autofree char *text = g_strdup_printf ("Received: from mx2.example.org by desk.test; Mon, 1 Jan 2024 10:00:05 +0000\r\n%.*s",
                                           (int) g_bytes_get_size (first), (const char *) g_bytes_get_data (first, NULL));
  g_autoptr(GBytes) second = g_bytes_new (text, strlen (text));
  desk_deliver (f, "alice@example.org", "helpdesk@desk.test", second, &spool2);

  g_assert_cmpuint (desk_ticket_count (f), ==, 1);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpuint (t->message_count, ==, 1);
  g_autoptr(RdSpooled) sp1 = desk_spooled (f, spool1);
  g_assert_cmpint (sp1->state, ==, RD_SPOOL_PROCESSED);
  g_assert_null (sp1->state_reason);
  g_autoptr(RdSpooled) sp2 = desk_spooled (f, spool2);
  g_assert_cmpint (sp2->state, ==, RD_SPOOL_PROCESSED);
  g_autofree char *reason = g_strdup_printf ("duplicate of message %" G_GINT64_FORMAT " on ticket #%" G_GINT64_FORMAT,
                                             message_at (t, 0)->id, n);
  g_assert_cmpstr (sp2->state_reason, ==, reason);
  g_assert_true (g_bytes_equal (sp2->raw, second));

  g_autoptr(GBytes) other = desk_mail_simple ("alice@example.org", "support@desk.test", "Printer broken",
                                              "a1@example.org", NULL, "Now the scanner too.");
  g_assert_cmpint (desk_deliver (f, "alice@example.org", "support@desk.test", other, NULL), ==, n + 1);
  g_assert_cmpuint (desk_ticket_count (f), ==, 2);
}

/* Ticket 1 from alice (Cc bob) and an agent's reply to it, whose
 * Message-ID is returned; the rules redirect a copy of every message
 * they see and acknowledge it: three outbox rows. (transfer full) */
static char *
ticket_with_reply (DeskFixture *f)
{
  gint64 n = desk_new_ticket (f, "alice@example.org", "bob@example.org", "Printer broken", "a1@example.org");
  g_assert_cmpint (n, ==, 1);
  g_auto(RdReplyResult) r = { 0 };
  desk_reply (f, n, "We are looking into it.", &r);
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 3);
  return g_steal_pointer (&r.message_id);
}

/* A delivery report from <> to the inbox; the ticket it went to. */
static gint64
deliver_report (DeskFixture *f, const char *message_id, const char *status_fields, const char *original_mid,
                gint64 *spool_id)
{
  g_autoptr(GBytes) dsn = make_dsn (message_id, status_fields, original_mid);
  return desk_deliver (f, "", "support@desk.test", dsn, spool_id);
}

/* A permanent failure about our reply: the report joins the ticket, the
 * reply is failed with the status, the recipient suppressed; the rules
 * do not run for it. */
static void
test_dsn_permanent (DeskFixture *f, gconstpointer data)
{
  g_autofree char *reply = ticket_with_reply (f);
  static const char status[] = "Final-Recipient: rfc822; alice@example.org\n"
                               "Action: failed\nStatus: 5.1.1\n"
                               "Diagnostic-Code: smtp; 550 5.1.1 <alice@example.org>: user unknown\n";
  gint64 spool_id = 0;
  deliver_report (f, "dsn1@mx.example.org", status, reply, &spool_id);
  g_assert_cmpuint (desk_ticket_count (f), ==, 1);
  g_autoptr(RdTicket) t = desk_ticket (f, 1);
  g_assert_cmpuint (t->messages->len, ==, 3);
  const RdTicketMessage *out = message_at (t, 1), *report = message_at (t, 2);
  g_assert_cmpint (out->direction, ==, RD_MESSAGE_OUTBOUND);
  g_assert_cmpstr (out->message_id, ==, reply);
  g_assert_true (out->has_delivery);
  g_assert_cmpint (out->delivery, ==, RD_OUTBOX_FAILED);
  g_assert_cmpstr (out->delivery_code, ==, "5.1.1");
  g_assert_cmpint (report->direction, ==, RD_MESSAGE_INBOUND);
  g_assert_cmpint (report->spool_id, ==, spool_id);
  g_assert_cmpstr (report->message_id, ==, "dsn1@mx.example.org");
  g_assert_cmpuint (desk_audit_count (f, 1, "system", "delivery-report", NULL, NULL), ==, 1);
  g_autoptr(RdSpooled) sp = desk_spooled (f, spool_id);
  g_assert_cmpint (sp->state, ==, RD_SPOOL_PROCESSED);

  gboolean found = FALSE;
  g_autofree char *why = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_suppression_check (f->store, "Alice@Example.org", &found, &why, &error));
  g_assert_true (found);
  g_assert_nonnull (strstr (why, "5.1.1"));
  g_assert_cmpint (desk_sql_count (f, "suppressions"), ==, 1);
  /* No copy, no acknowledgement: the rules did not run. */
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 3);
  /* The report's sender is not a participant. */
  g_autofree char *parts = desk_strv_sorted (t->participants);
  g_assert_cmpstr (parts, ==, "alice@example.org,bob@example.org");

  /* The same report again: a duplicate, nothing more. */
  deliver_report (f, "dsn1@mx.example.org", status, reply, NULL);
  g_autoptr(RdTicket) again = desk_ticket (f, 1);
  g_assert_cmpuint (again->message_count, ==, 3);
}

/* A temporary failure (4.x.x) marks the message failed; nobody is
 * suppressed. */
static void
test_dsn_temporary (DeskFixture *f, gconstpointer data)
{
  g_autofree char *reply = ticket_with_reply (f);
  deliver_report (f, "dsn2@mx.example.org",
                  "Final-Recipient: rfc822; alice@example.org\nAction: failed\nStatus: 4.4.1 (timeout)\n", reply, NULL);
  g_autoptr(RdTicket) t = desk_ticket (f, 1);
  g_assert_cmpuint (t->messages->len, ==, 3);
  g_assert_cmpint (message_at (t, 1)->delivery, ==, RD_OUTBOX_FAILED);
  g_assert_cmpstr (message_at (t, 1)->delivery_code, ==, "4.4.1");
  g_assert_cmpint (desk_sql_count (f, "suppressions"), ==, 0);
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 3);
}

/* Free-text bounces (no RFC 3464 report) in the wording of the MTAs that
 * send them: the failed recipient and code come from the text, the
 * original from the copy of its header; the same one path as a report:
 * the reply is marked failed, a permanent failure suppressed. %s is the
 * original's Message-ID. */
static const struct {
  const char *name;
  const char *text;
  const char *code;
  gboolean suppressed;
} free_text_bounces[] = {
  { "qmail",
    "From: MAILER-DAEMON@mx.example.org\nTo: support@desk.test\nSubject: failure notice\n"
    "Message-ID: <fb1@mx.example.org>\n\n"
    "Hi. This is the qmail-send program at mx.example.org.\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
    "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
    "<alice@example.org>:\n192.0.2.25 does not like recipient.\n"
    "Remote host said: 550 5.1.1 <alice@example.org>: Recipient address rejected: User unknown\n"
    "Giving up on 192.0.2.25.\n\n--- Below this line is a copy of the message.\n\n"
    "Return-Path: <support@desk.test>\nFrom: Support <support@desk.test>\nTo: alice@example.org\n"
    "Message-ID: <%s>\nSubject: Re: Printer broken\n\nWe are looking into it.\n",
    "5.1.1", TRUE },
  { "exim",
    "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: support@desk.test\n"
    "Subject: Mail delivery failed: returning message to sender\nMessage-ID: <fb2@mx.example.org>\n\n"
    "This message was created automatically by mail delivery software.\n\n"
    "A message that you sent could not be delivered to one or more of its\n"
    "recipients. This is a permanent error. The following address(es) failed:\n\n"
    "  alice@example.org\n    host mx.example.org [192.0.2.20]\n"
    "    SMTP error from remote mail server after RCPT TO:<alice@example.org>:\n"
    "    550 5.2.1 Mailbox disabled\n\n"
    "------ This is a copy of the message, including all the headers. ------\n\n"
    "From: Support <support@desk.test>\nTo: alice@example.org\nMessage-ID: <%s>\n\nhello\n",
    "5.2.1", TRUE },
  { "exchange",
    "From: postmaster@example.org\nTo: support@desk.test\nSubject: Undeliverable: Re: Printer broken\n"
    "Message-ID: <fb3@example.org>\nContent-Type: text/plain; charset=us-ascii\n\n"
    "Delivery has failed to these recipients or groups:\n\n"
    "alice@example.org\nThe e-mail address you entered couldn't be found.\n\n"
    "Diagnostic information for administrators:\n\nGenerating server: EX1.example.org\n\n"
    "alice@example.org\n#550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup ##\n\n"
    "Original message headers:\n\n"
    "From: Support <support@desk.test>\nTo: <alice@example.org>\nMessage-ID: <%s>\n",
    "5.1.10", TRUE },
  { "gmail-delay",
    "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nTo: support@desk.test\n"
    "Subject: Delivery Status Notification (Delay)\nMessage-ID: <fb4@google.com>\n\n"
    "This is an automatically generated Delivery Status Notification\n\n"
    "THIS IS A WARNING MESSAGE ONLY.\n\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\n"
    "Delivery to the following recipient has been delayed:\n\n     alice@example.org\n\n"
    "Message will be retried for 2 more day(s)\n\n----- Original message -----\n\n"
    "From: Support <support@desk.test>\nTo: alice@example.org\nMessage-ID: <%s>\n\nhello\n",
    NULL, FALSE },
};

/* The fixture reads its DeskSetup first. */
typedef struct {
  DeskSetup setup;
  guint index;
} FreeTextCase;

static void
test_dsn_free_text (DeskFixture *f, gconstpointer data)
{
  guint i = ((const FreeTextCase *) data)->index;
  g_autofree char *reply = ticket_with_reply (f);
  g_autofree char *text = g_strdup_printf (free_text_bounces[i].text, reply);
  g_autoptr(GBytes) raw = desk_mail (text);
  desk_deliver (f, "", "support@desk.test", raw, NULL);
  g_assert_cmpuint (desk_ticket_count (f), ==, 1);
  g_autoptr(RdTicket) t = desk_ticket (f, 1);
  g_assert_cmpuint (t->messages->len, ==, 3); /* the bounce joined the ticket */
  const RdTicketMessage *out = message_at (t, 1);
  g_assert_cmpstr (out->message_id, ==, reply);
  if (free_text_bounces[i].code)
    {
      g_assert_cmpint (out->delivery, ==, RD_OUTBOX_FAILED);
      g_assert_cmpstr (out->delivery_code, ==, free_text_bounces[i].code);
    }
  else
    g_assert_cmpint (out->delivery, ==, RD_OUTBOX_QUEUED); /* a delay changes nothing */
  g_assert_cmpint (desk_sql_count (f, "suppressions"), ==, free_text_bounces[i].suppressed ? 1 : 0);
  /* the rules did not run: no copy, no acknowledgement */
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 3);
}

/* A report about mail we did not send is an ordinary message. */
static void
test_dsn_unknown (DeskFixture *f, gconstpointer data)
{
  g_autofree char *reply = ticket_with_reply (f);
  gint64 n = deliver_report (f, "dsn3@mx.example.org",
                             "Final-Recipient: rfc822; zed@example.org\nAction: failed\nStatus: 5.1.1\n",
                             "not-ours@example.org", NULL);
  g_assert_cmpint (n, ==, 2);
  g_autoptr(RdTicket) t = desk_ticket (f, 1);
  g_assert_cmpint (message_at (t, 1)->delivery, ==, RD_OUTBOX_QUEUED);
  g_assert_cmpint (desk_sql_count (f, "suppressions"), ==, 0);
  /* The rules ran: the copy went out (no acknowledgement to <>). */
  g_assert_cmpint (desk_sql_count (f, "outbox"), ==, 4);
}

/* Participants: From/To/Cc of inbound mail, minus our own addresses
 * (own_addresses, the queues' addresses, signed reply addresses) and
 * the envelope recipient. */
static void
test_participants (DeskFixture *f, gconstpointer data)
{
  g_autoptr(GBytes) m1 = desk_mail ("From: Alice <Alice@Example.org>\n"
                                    "To: intake@corp.test, Bob <bob@example.org>\n"
                                    "Cc: billing@desk.test, carol@example.org, SUPPORT@desk.test\n"
                                    "Subject: Printer broken\n"
                                    "Message-ID: <a1@example.org>\n"
                                    "\n"
                                    "Broken.\n");
  gint64 n = desk_deliver (f, "alice@example.org", "intake@corp.test", m1, NULL);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_autofree char *parts = desk_strv_sorted (t->participants);
  g_assert_cmpstr (parts, ==, "alice@example.org,bob@example.org,carol@example.org");
  g_assert_cmpstr (t->requester_addr, ==, "Alice@Example.org");
  g_assert_cmpstr (t->requester_name, ==, "Alice");

  /* carol writes to the signed reply address, Cc dan: dan joins, the
   * reply address does not. */
  g_autofree char *reply_addr = rd_ticket_ids_reply_address (f->ids, "inbox", n);
  g_autofree char *text = g_strdup_printf ("From: carol@example.org\nTo: %s\nCc: Dan <dan@example.org>\n"
                                           "Subject: Re: Printer broken\nMessage-ID: <c1@example.org>\n\nMine too.\n",
                                           reply_addr);
  g_autoptr(GBytes) m2 = desk_mail (text);
  g_assert_cmpint (desk_deliver (f, "carol@example.org", reply_addr, m2, NULL), ==, n);
  g_autoptr(RdTicket) t2 = desk_ticket (f, n);
  g_autofree char *parts2 = desk_strv_sorted (t2->participants);
  g_assert_cmpstr (parts2, ==, "alice@example.org,bob@example.org,carol@example.org,dan@example.org");
  g_assert_cmpstr (t2->requester_addr, ==, "Alice@Example.org");
}

static GBytes *
mail_with_attachments (const char *from, const char *message_id, const char *const *names,
                       const char *const *contents)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_string_append_printf (s, "From: %s\nTo: support@desk.test\nSubject: Files\nMessage-ID: <%s>\nMIME-Version: 1.0\n"
                             "Content-Type: multipart/mixed; boundary=\"mix\"\n\n"
                             "--mix\nContent-Type: text/plain; charset=utf-8\n\nSee the files.\n", from, message_id);
  for (guint i = 0; names[i]; i++)
    {
      g_autofree char *b64 = g_base64_encode ((const guchar *) contents[i], strlen (contents[i]));
      g_string_append_printf (s, "--mix\nContent-Type: application/octet-stream\n"
                                 "Content-Disposition: attachment; filename=\"%s\"\n"
                                 "Content-Transfer-Encoding: base64\n\n%s\n", names[i], b64);
    }
  g_string_append (s, "--mix--\n");
  return desk_mail (s->str);
}

static GArray *
search (DeskFixture *f, const char *words)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hits = rd_store_tickets_search (f->store, words, 50, 0, &error);
  g_assert_no_error (error);
  GArray *numbers = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < hits->len; i++)
    g_array_append_val (numbers, ((RdTicket *) g_ptr_array_index (hits, i))->number);
  return numbers;
}

/* The same file in two messages is stored once; file names are
 * searchable. */
static void
test_attachments (DeskFixture *f, gconstpointer data)
{
  static const char report[] = "%PDF-1.4 quarterly numbers, the same bytes twice";
  static const char notes[] = "notes that only bob sends";
  const char *names1[] = { "quarterly-report.pdf", NULL }, *contents1[] = { report, NULL };
  const char *names2[] = { "quarterly-report.pdf", "zebra-notes.txt", NULL }, *contents2[] = { report, notes, NULL };
  g_autoptr(GBytes) m1 = mail_with_attachments ("alice@example.org", "a1@example.org", names1, contents1);
  g_autoptr(GBytes) m2 = mail_with_attachments ("bob@example.org", "b1@example.org", names2, contents2);
  gint64 n1 = desk_deliver (f, "alice@example.org", "support@desk.test", m1, NULL);
  gint64 n2 = desk_deliver (f, "bob@example.org", "support@desk.test", m2, NULL);
  g_assert_cmpint (n1, ==, 1);
  g_assert_cmpint (n2, ==, 2);

  g_assert_cmpint (desk_sql_count (f, "attachment_blobs"), ==, 2);
  g_assert_cmpint (desk_sql_count (f, "message_attachments"), ==, 3);
  g_autofree char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, report, -1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) a1 = rd_store_ticket_attachments (f->store, n1, &error);
  g_autoptr(GPtrArray) a2 = rd_store_ticket_attachments (f->store, n2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (a1->len, ==, 1);
  g_assert_cmpuint (a2->len, ==, 2);
  const RdStoredAttachment *s1 = g_ptr_array_index (a1, 0);
  g_assert_cmpstr (s1->filename, ==, "quarterly-report.pdf");
  g_assert_cmpstr (s1->sha256, ==, sha);
  g_assert_cmpint (s1->size, ==, (gint64) strlen (report));
  g_autofree char *names = NULL;
  {
    g_autoptr(GPtrArray) v = g_ptr_array_new ();
    for (guint i = 0; i < a2->len; i++)
      g_ptr_array_add (v, ((RdStoredAttachment *) g_ptr_array_index (a2, i))->filename);
    names = desk_strv_sorted (v);
  }
  g_assert_cmpstr (names, ==, "quarterly-report.pdf,zebra-notes.txt");
  for (guint i = 0; i < a2->len; i++)
    {
      const RdStoredAttachment *s = g_ptr_array_index (a2, i);
      g_autoptr(GBytes) bytes = NULL;
      gint64 on = 0;
      g_autoptr(RdStoredAttachment) got = rd_store_attachment_get (f->store, s->id, &on, &bytes, &error);
      g_assert_no_error (error);
      g_assert_cmpint (on, ==, n2);
      const char *want = g_str_equal (s->filename, "zebra-notes.txt") ? notes : report;
      g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), want, strlen (want));
    }

  g_autoptr(GArray) q = search (f, "quarterly");
  g_assert_cmpuint (q->len, ==, 2);
  g_autoptr(GArray) z = search (f, "zebra");
  g_assert_cmpuint (z->len, ==, 1);
  g_assert_cmpint (g_array_index (z, gint64, 0), ==, n2);
  g_autoptr(GArray) none = search (f, "numbers");   /* in the bytes, not the names */
  g_assert_cmpuint (none->len, ==, 0);
}

/* What cannot be parsed is quarantined with the reason, never lost;
 * junk that parses becomes a ticket like any message. */
static void
test_garbage (DeskFixture *f, gconstpointer data)
{
  g_autoptr(GBytes) junk = g_bytes_new_static (":::\r\n", 5);
  gint64 spool_id = 0;
  g_assert_cmpint (desk_deliver (f, "x@example.org", "support@desk.test", junk, &spool_id), ==, 0);
  g_autoptr(RdSpooled) sp = desk_spooled (f, spool_id);
  g_assert_cmpint (sp->state, ==, RD_SPOOL_QUARANTINED);
  g_assert_cmpstr (sp->state_reason, ==, "parse: not a message: no header block found");
  g_assert_true (g_bytes_equal (sp->raw, junk));

  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_assert_cmpint (desk_deliver (f, "y@example.org", "support@desk.test", empty, &spool_id), ==, 0);
  g_autoptr(RdSpooled) sp2 = desk_spooled (f, spool_id);
  g_assert_cmpint (sp2->state, ==, RD_SPOOL_QUARANTINED);
  g_assert_cmpstr (sp2->state_reason, ==, "parse: empty message");
  g_assert_cmpuint (desk_ticket_count (f), ==, 0);

  static const char binary[] = "\x01\x02\xff\xfe binary junk";
  g_autoptr(GBytes) bin = g_bytes_new_static (binary, sizeof binary - 1);
  gint64 n = desk_deliver (f, "z@example.org", "support@desk.test", bin, &spool_id);
  g_assert_cmpint (n, ==, 1);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpstr (t->requester_addr, ==, "z@example.org");
  g_assert_cmpstr (t->subject, ==, "(no subject)");

  /* Nothing is left waiting. */
  gint64 counts[RD_SPOOL_STATE_N];
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_spool_counts (f->store, counts, &error));
  g_assert_cmpint (counts[RD_SPOOL_NEW], ==, 0);
  g_assert_cmpint (counts[RD_SPOOL_QUARANTINED], ==, 2);
  g_assert_cmpint (counts[RD_SPOOL_PROCESSED], ==, 1);
}

/* Processing a spool id again changes nothing; neither does processing
 * it once more from scratch (its state set back to new, as spool.h
 * offers "to reprocess"): no second ticket, message, copy or
 * acknowledgement, and the row reaches a final state again (else
 * rd_desk_process_pending() would pick it up forever). With and without
 * a Message-ID (dedupe must not call it a duplicate of itself). */
static void
test_idempotent (DeskFixture *f, gconstpointer data)
{
  const char *ids[] = { NULL, "a1@example.org" };
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *from = g_strdup_printf ("user%u@example.org", i);
      g_autoptr(GBytes) raw = desk_mail_simple (from, "support@desk.test", "Printer broken", ids[i], NULL,
                                                "Processed twice.");
      gint64 spool_id = 0;
      gint64 n = desk_deliver (f, from, "support@desk.test", raw, &spool_id);
      g_assert_cmpint (n, ==, i + 1);
      gint64 outbox = desk_sql_count (f, "outbox"), audit = desk_sql_count (f, "ticket_audit");
      gint64 messages = desk_sql_count (f, "messages");
      g_assert_cmpint (outbox, ==, 2 * (i + 1));   /* the acknowledgement and the copy */

      g_autoptr(GError) error = NULL;
      gint64 again = -1;
      g_assert_true (rd_desk_process (f->desk, spool_id, &again, &error));
      g_assert_no_error (error);
      g_assert_cmpint (again, ==, 0);
      g_assert_cmpint (desk_sql_count (f, "outbox"), ==, outbox);
      g_assert_cmpint (desk_sql_count (f, "ticket_audit"), ==, audit);
      g_assert_cmpint (desk_sql_count (f, "messages"), ==, messages);

      g_assert_true (rd_store_spool_set_state (f->store, spool_id, RD_SPOOL_NEW, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (rd_desk_process (f->desk, spool_id, &again, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (desk_ticket_count (f), ==, i + 1);
      g_assert_cmpint (desk_sql_count (f, "messages"), ==, messages);
      g_assert_cmpint (desk_sql_count (f, "outbox"), ==, outbox);
      g_autoptr(RdTicket) t = desk_ticket (f, n);
      g_autoptr(RdSpooled) sp = desk_spooled (f, spool_id);
      g_assert_cmpint (sp->state, ==, RD_SPOOL_PROCESSED);
      g_autofree char *reason = g_strdup_printf ("already recorded as message %" G_GINT64_FORMAT " on ticket #%"
                                                 G_GINT64_FORMAT, message_at (t, 0)->id, n);
      g_assert_cmpstr (sp->state_reason, ==, reason);
      g_autoptr(GArray) pending = rd_store_spool_pending (f->store, 10, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (pending->len, ==, 0);
    }
}

static const DeskSetup copy_everything = {
  NULL,
  "require [\"copy\", \"vacation\"];\n"
  "redirect :copy \"archive@elsewhere.test\";\n"
  "vacation :subject \"Received\" \"We have your message.\";\n",
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_ERROR);
#define ADD DESK_TEST_ADD
  ADD ("/inbound/duplicate", test_duplicate, NULL);
  ADD ("/inbound/dsn-permanent", test_dsn_permanent, &copy_everything);
  ADD ("/inbound/dsn-temporary", test_dsn_temporary, &copy_everything);
  ADD ("/inbound/dsn-unknown", test_dsn_unknown, &copy_everything);
  static FreeTextCase cases[G_N_ELEMENTS (free_text_bounces)];
  for (guint i = 0; i < G_N_ELEMENTS (free_text_bounces); i++)
    {
      cases[i].setup = copy_everything;
      cases[i].index = i;
      g_autofree char *path = g_strdup_printf ("/inbound/dsn-free-text/%s", free_text_bounces[i].name);
      ADD (path, test_dsn_free_text, &cases[i]);
    }
  ADD ("/inbound/participants", test_participants, NULL);
  ADD ("/inbound/attachments", test_attachments, NULL);
  ADD ("/inbound/garbage", test_garbage, NULL);
  ADD ("/inbound/idempotent", test_idempotent, &copy_everything);
  return g_test_run ();
}
