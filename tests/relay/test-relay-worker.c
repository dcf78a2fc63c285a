/* Tests for relay/outbox-worker.c end to end: rows in a real temporary
 * store, the outbox worker (RdRelayOutbox and its thread), and the
 * loopback relay of smtp-fake.c. Each row's state, attempts, error,
 * relay reply and history are asserted, with what the relay saw. */
#include "relay.h"
#include "outbox.h"
#include "tickets.h"
#include "smtp-fake.h"
#include "rd-common.h"
#include "../pg/store-location.h"

#include <string.h>

typedef struct {
  char *dir;
  FakeSmtp *fs;
  RdConfig *config;
  RdStore *store;          /* the test's own connection, as the CLI's */
  RdRelayOutbox *ob;
  GSocket *refusing;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("rd-relay-worker-XXXXXX", &error);
  g_assert_no_error (error);
  f->fs = fake_smtp_new ();
  f->config = rd_config_new_default ();
  g_autofree char *url = fake_smtp_url (f->fs);
  rd_config_set_string (f->config, "relaydesk", "data_dir", f->dir);
  rd_config_set_string (f->config, "relay", "url", url);
  rd_config_set_string (f->config, "relay", "starttls", "opportunistic");
  rd_config_set_string (f->config, "relay", "helo_name", "relaydesk.test");
  rd_config_set_string (f->config, "relay", "timeout", "20");
  rd_config_set_string (f->config, "relay", "retry_base", "2m");
  g_autofree char *loc = rd_test_store_location (f->dir);
  if (rd_test_store_is_pg ())
    rd_config_set_string (f->config, "store", "url", loc);
  f->store = rd_store_open (loc, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->ob, rd_relay_outbox_free);
  g_clear_pointer (&f->store, rd_store_free);
  g_clear_pointer (&f->fs, fake_smtp_free);
  g_clear_pointer (&f->config, rd_config_free);
  g_clear_object (&f->refusing);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
  g_free (f->dir);
}

/* The outbox as serve makes it, from the fixture's config. */
static RdRelayOutbox *
outbox (Fixture *f)
{
  if (f->ob == NULL)
    {
      g_autoptr(GError) error = NULL;
      f->ob = rd_relay_outbox_new (f->config, NULL, NULL, &error);
      g_assert_no_error (error);
    }
  return f->ob;
}

static void
run_once (Fixture *f, RdRelayRound *round)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_relay_outbox_run_once (outbox (f), 0, round, &error));
  g_assert_no_error (error);
}

#define ASSERT_ROUND(r, s, d, fl, dr, path) do {      \
    g_assert_cmpuint ((r)->sent, ==, (s));            \
    g_assert_cmpuint ((r)->deferred, ==, (d));        \
    g_assert_cmpuint ((r)->failed, ==, (fl));         \
    g_assert_cmpuint ((r)->dropped, ==, (dr));        \
    g_assert_cmpint ((r)->path_problem, ==, (path));  \
  } while (0)

static gint64
open_ticket (Fixture *f)
{
  RdTicketDraft d = { .queue = "inbox", .subject = "Help", .requester_addr = "alice@example.net" };
  RdMessageDraft m = { .direction = RD_MESSAGE_INBOUND, .message_id = "q1@example.net",
                       .from_addr = "alice@example.net", .subject = "Help", .body_text = "Please help." };
  gint64 n = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_open (f->store, &d, &m, &n, NULL, &error));
  g_assert_no_error (error);
  return n;
}

static const char *const reply_body =
    "Message-ID: <r1@desk.example>\r\nSubject: Re: Help\r\n\r\nHere you go.\r\n.\r\nDesk\r\n";

static gint64
enqueue (Fixture *f, RdOutboxKind kind, gint64 ticket, const char *sender, const char *to, const char *body)
{
  const char *rcpts[] = { to, NULL };
  g_autoptr(GBytes) raw = g_bytes_new_static (body, strlen (body));
  g_autofree char *msgid = rd_peek_message_id (body, strlen (body));
  RdOutboxDraft d = { .kind = kind, .ticket_number = ticket, .sender = sender, .recipients = rcpts,
                      .message_id = msgid, .raw = raw };
  gint64 id = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_outbox_enqueue (f->store, &d, &id, &error));
  g_assert_no_error (error);
  return id;
}

static RdOutboxItem *
item (Fixture *f, gint64 id)
{
  g_autoptr(GError) error = NULL;
  RdOutboxItem *it = rd_store_outbox_get (f->store, id, &error);
  g_assert_no_error (error);
  return it;
}

/* The row's history: "event event ...". (transfer full) */
static char *
events (Fixture *f, gint64 id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) evs = rd_store_outbox_events (f->store, id, &error);
  g_assert_no_error (error);
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < evs->len; i++)
    g_string_append_printf (s, "%s%s", i ? " " : "", ((RdOutboxEvent *) g_ptr_array_index (evs, i))->event);
  return g_string_free (s, FALSE);
}

#define ASSERT_EVENTS(f, id, text) do { g_autofree char *e_ = events (f, id); g_assert_cmpstr (e_, ==, text); } while (0)

/* The ticket's notes: "subject: body" lines. (transfer full) */
static char *
notes (Fixture *f, gint64 ticket)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicket) t = rd_store_ticket_get (f->store, ticket, &error);
  g_assert_no_error (error);
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < t->messages->len; i++)
    {
      const RdTicketMessage *m = g_ptr_array_index (t->messages, i);
      if (m->direction == RD_MESSAGE_NOTE)
        g_string_append_printf (s, "%s: %s\n", m->subject, m->body_text);
    }
  return g_string_free (s, FALSE);
}

static char *
loop_header (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = rd_store_relay_installation_id (f->store, &error);
  g_assert_no_error (error);
  return g_strdup_printf ("X-Relaydesk-Loop: %s\r\n", id);
}

/* ---- sent ------------------------------------------------------------- */

/* The row is 'sending' while the relay has the message and becomes
 * 'sent', with the relay's reply, only after its 250 (DESIGN.md). Runs
 * the worker thread as serve does. */
static void
test_sent_after_250 (Fixture *f, gconstpointer data)
{
  gint64 ticket = open_ticket (f);
  gint64 id = enqueue (f, RD_OUTBOX_REPLY, ticket, "desk@desk.example", "alice@example.net", reply_body);
  gint64 t0 = g_get_real_time () / G_USEC_PER_SEC;
  fake_smtp_on (f->fs, ".", FAKE_REPLY, "250 2.0.0 Ok: queued as Q1");
  fake_smtp_hold (f->fs, ".");

  RdRelayWorker *w = rd_relay_worker_start (outbox (f));
  f->ob = NULL; /* the worker owns it now */
  fake_smtp_wait_held (f->fs);
  {
    /* the whole message is with the relay, which has not answered yet */
    g_autoptr(RdOutboxItem) it = item (f, id);
    g_assert_cmpint (it->state, ==, RD_OUTBOX_SENDING);
    g_assert_cmpuint (it->attempts, ==, 1);
    g_assert_null (it->relay_reply);
    g_assert_cmpint (it->sent_at, ==, 0);
  }
  fake_smtp_release (f->fs);
  rd_relay_worker_stop (w); /* finishes the message at hand */

  g_autoptr(RdOutboxItem) it = item (f, id);
  g_assert_cmpint (it->state, ==, RD_OUTBOX_SENT);
  g_assert_cmpstr (it->relay_reply, ==, "250 2.0.0 Ok: queued as Q1");
  g_assert_null (it->last_error);
  g_assert_cmpuint (it->attempts, ==, 1);
  g_assert_cmpint (it->sent_at, >=, t0);
  ASSERT_EVENTS (f, id, "sending sent");
  g_autofree char *n = notes (f, ticket);
  g_assert_cmpstr (n, ==, "");

  fake_smtp_wait_closed (f->fs, 1);
  g_autofree char *loop = loop_header (f);
  g_autofree char *expect = g_strconcat (
      "EHLO relaydesk.test\r\n"
      "MAIL FROM:<desk@desk.example>\r\n"
      "RCPT TO:<alice@example.net>\r\n"
      "DATA\r\n",
      loop,
      "Message-ID: <r1@desk.example>\r\nSubject: Re: Help\r\n\r\nHere you go.\r\n..\r\nDesk\r\n"
      ".\r\n"
      "QUIT\r\n", NULL);
  g_autofree char *t = fake_smtp_transcript (f->fs, 0);
  g_assert_cmpstr (t, ==, expect);
}

/* Consecutive rows share one connection; automatic mail goes out with
 * <> and Auto-Submitted (the guard, RFC 3834); a refused recipient is
 * left out and noted while the others get the message. */
static void
test_one_connection (Fixture *f, gconstpointer data)
{
  gint64 a = enqueue (f, RD_OUTBOX_REPLY, 0, "desk@desk.example", "alice@example.net", reply_body);
  const char *ack = "Message-ID: <ack1@desk.example>\r\nSubject: [#1] received\r\n\r\nThanks.\r\n";
  gint64 b = enqueue (f, RD_OUTBOX_AUTOREPLY, 0, "desk@desk.example", "bob@example.org", ack);
  const char *rcpts[] = { "postmaster@example.org", "carol@example.org", NULL };
  g_autoptr(GBytes) raw = g_bytes_new_static (reply_body, strlen (reply_body));
  RdOutboxDraft d = { .kind = RD_OUTBOX_REPLY, .sender = "desk@desk.example", .recipients = rcpts,
                      .message_id = "r2@desk.example", .raw = raw };
  gint64 c = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_outbox_enqueue (f->store, &d, &c, &error));
  g_assert_no_error (error);

  RdRelayRound round;
  run_once (f, &round);
  ASSERT_ROUND (&round, 3, 0, 0, 0, FALSE);
  g_assert_cmpuint (rd_relay_outbox_connections (f->ob), ==, 1);
  g_assert_cmpuint (fake_smtp_connections (f->fs), ==, 1);
  ASSERT_EVENTS (f, a, "sending sent");
  ASSERT_EVENTS (f, b, "guard sending sent");
  ASSERT_EVENTS (f, c, "skipped sending sent");
  g_autoptr(GPtrArray) evb = rd_store_outbox_events (f->store, b, &error);
  g_assert_cmpstr (((RdOutboxEvent *) g_ptr_array_index (evb, 0))->detail, ==,
                   "envelope sender <desk@desk.example> replaced by <> (automatic mail, RFC 3834)");
  g_autoptr(GPtrArray) evc = rd_store_outbox_events (f->store, c, &error);
  g_assert_cmpstr (((RdOutboxEvent *) g_ptr_array_index (evc, 0))->detail, ==, "postmaster@example.org: postmaster");

  g_autofree char *loop = loop_header (f);
  g_autofree char *expect = g_strconcat (
      "EHLO relaydesk.test\r\n"
      "MAIL FROM:<desk@desk.example>\r\nRCPT TO:<alice@example.net>\r\nDATA\r\n", loop,
      "Message-ID: <r1@desk.example>\r\nSubject: Re: Help\r\n\r\nHere you go.\r\n..\r\nDesk\r\n.\r\n"
      "MAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n", loop,
      "Auto-Submitted: auto-replied\r\n"
      "Message-ID: <ack1@desk.example>\r\nSubject: [#1] received\r\n\r\nThanks.\r\n.\r\n"
      "MAIL FROM:<desk@desk.example>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n", loop,
      "Message-ID: <r1@desk.example>\r\nSubject: Re: Help\r\n\r\nHere you go.\r\n..\r\nDesk\r\n.\r\n",
      NULL);
  g_autofree char *t = fake_smtp_transcript (f->fs, 0);
  g_assert_cmpstr (t, ==, expect);
}

/* ---- deferred, failed, dropped ------------------------------------------ */

/* A 4xx defers the row with backoff (retry_base 2m: the first retry
 * 60-120 s later) and counts the attempt; the next row still goes. */
static void
test_deferred (Fixture *f, gconstpointer data)
{
  gint64 a = enqueue (f, RD_OUTBOX_REPLY, 0, "desk@desk.example", "alice@example.net", reply_body);
  gint64 b = enqueue (f, RD_OUTBOX_REPLY, 0, "desk@desk.example", "bob@example.org", reply_body);
  fake_smtp_on (f->fs, ".", FAKE_REPLY, "451 4.3.0 Error: queue file write error");
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;
  RdRelayRound round;
  run_once (f, &round);
  gint64 after = g_get_real_time () / G_USEC_PER_SEC;
  ASSERT_ROUND (&round, 1, 1, 0, 0, FALSE);

  g_autoptr(RdOutboxItem) it = item (f, a);
  g_assert_cmpint (it->state, ==, RD_OUTBOX_QUEUED);
  g_assert_cmpuint (it->attempts, ==, 1);
  g_assert_cmpstr (it->last_error, ==, "relay answered 451 to end of data: 451 4.3.0 Error: queue file write error");
  g_assert_cmpstr (it->relay_reply, ==, "451 4.3.0 Error: queue file write error");
  g_assert_cmpint (it->next_attempt_at, >=, before + 60);
  g_assert_cmpint (it->next_attempt_at, <=, after + 120);
  ASSERT_EVENTS (f, a, "sending deferred");
  ASSERT_EVENTS (f, b, "sending sent");

  /* not due again before its time: the next round leaves it alone */
  run_once (f, &round);
  ASSERT_ROUND (&round, 0, 0, 0, 0, FALSE);
  g_autoptr(RdOutboxItem) again = item (f, a);
  g_assert_cmpuint (again->attempts, ==, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) due = rd_store_outbox_due (f->store, it->next_attempt_at, 10, &error);
  g_assert_cmpuint (due->len, ==, 1);
  g_assert_cmpint (g_array_index (due, gint64, 0), ==, a);
  /* after a failure the client starts afresh: the 451 cost one connection */
  g_assert_cmpuint (rd_relay_outbox_connections (f->ob), ==, 2);
}

/* A 5xx fails the row at once and notes it on the ticket. */
static void
test_failed (Fixture *f, gconstpointer data)
{
  gint64 ticket = open_ticket (f);
  gint64 id = enqueue (f, RD_OUTBOX_REPLY, ticket, "desk@desk.example", "alice@example.net", reply_body);
  fake_smtp_on (f->fs, "RCPT", FAKE_REPLY, "550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown");
  RdRelayRound round;
  run_once (f, &round);
  ASSERT_ROUND (&round, 0, 0, 1, 0, FALSE);

  const char *error_text =
      "relay answered 550 to RCPT TO: 550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown";
  g_autoptr(RdOutboxItem) it = item (f, id);
  g_assert_cmpint (it->state, ==, RD_OUTBOX_FAILED);
  g_assert_cmpuint (it->attempts, ==, 1);
  g_assert_cmpstr (it->last_error, ==, error_text);
  g_assert_cmpstr (it->relay_reply, ==, "550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown");
  ASSERT_EVENTS (f, id, "sending failed");
  g_autofree char *n = notes (f, ticket);
  g_autofree char *expect = g_strdup_printf ("Outbound message failed: Outbound message %" G_GINT64_FORMAT
                                             " (Message-ID <r1@desk.example>) failed: %s\n", id, error_text);
  g_assert_cmpstr (n, ==, expect);
  g_autofree char *t = fake_smtp_transcript (f->fs, 0);
  g_assert_null (strstr (t, "DATA"));

  /* failed for good: later rounds leave it */
  run_once (f, &round);
  ASSERT_ROUND (&round, 0, 0, 0, 0, FALSE);
}

/* Nothing goes to MAILER-DAEMON or <> (RFC 3834 2): the guard drops the
 * rows before any connection, with a note on the ticket. */
static void
test_dropped (Fixture *f, gconstpointer data)
{
  gint64 ticket = open_ticket (f);
  gint64 a = enqueue (f, RD_OUTBOX_REPLY, ticket, "desk@desk.example", "MAILER-DAEMON@example.net", reply_body);
  const char *ack = "Message-ID: <ack1@desk.example>\r\nSubject: received\r\n\r\nThanks.\r\n";
  gint64 b = enqueue (f, RD_OUTBOX_AUTOREPLY, 0, "desk@desk.example", "", ack);
  RdRelayRound round;
  run_once (f, &round);
  ASSERT_ROUND (&round, 0, 0, 0, 2, FALSE);
  g_assert_cmpuint (rd_relay_outbox_connections (f->ob), ==, 0);
  g_assert_cmpuint (fake_smtp_connections (f->fs), ==, 0);

  g_autoptr(RdOutboxItem) ia = item (f, a);
  g_assert_cmpint (ia->state, ==, RD_OUTBOX_DROPPED);
  g_assert_cmpuint (ia->attempts, ==, 0);
  g_assert_cmpstr (ia->last_error, ==,
                   "by guard: no recipient may get this message: MAILER-DAEMON@example.net: mailer-daemon");
  g_autoptr(RdOutboxItem) ib = item (f, b);
  g_assert_cmpint (ib->state, ==, RD_OUTBOX_DROPPED);
  g_assert_cmpstr (ib->last_error, ==, "by guard: no recipient may get this message: <>: null-sender");
  ASSERT_EVENTS (f, a, "dropped");
  ASSERT_EVENTS (f, b, "dropped");
  g_autofree char *n = notes (f, ticket);
  g_autofree char *expect = g_strdup_printf (
      "Outbound message dropped: Outbound message %" G_GINT64_FORMAT " (Message-ID <r1@desk.example>) dropped: "
      "by guard: no recipient may get this message: MAILER-DAEMON@example.net: mailer-daemon\n", a);
  g_assert_cmpstr (n, ==, expect);
}

/* ---- recovery and lifetime -------------------------------------------- */

/* A row left 'sending' by a process that died is not sent by a round
 * (the other process might still be at it) until recover() queues it. */
static void
test_recover (Fixture *f, gconstpointer data)
{
  gint64 id = enqueue (f, RD_OUTBOX_REPLY, 0, "desk@desk.example", "alice@example.net", reply_body);
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_outbox_mark_sending (f->store, id, &error));
  g_assert_no_error (error);

  RdRelayRound round;
  run_once (f, &round);
  ASSERT_ROUND (&round, 0, 0, 0, 0, FALSE);
  g_assert_cmpuint (fake_smtp_connections (f->fs), ==, 0);

  guint n = 0;
  g_assert_true (rd_relay_outbox_recover (outbox (f), &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  {
    g_autoptr(RdOutboxItem) it = item (f, id);
    g_assert_cmpint (it->state, ==, RD_OUTBOX_QUEUED);
  }
  run_once (f, &round);
  ASSERT_ROUND (&round, 1, 0, 0, 0, FALSE);
  g_autoptr(RdOutboxItem) it = item (f, id);
  g_assert_cmpint (it->state, ==, RD_OUTBOX_SENT);
  g_assert_cmpuint (it->attempts, ==, 2);
  ASSERT_EVENTS (f, id, "sending recovered sending sent");
  /* nothing left to recover */
  g_assert_true (rd_relay_outbox_recover (f->ob, &n, &error));
  g_assert_cmpuint (n, ==, 0);
}

/* A temporary failure after [relay] lifetime is over fails the row. */
static void
test_lifetime_over (Fixture *f, gconstpointer data)
{
  rd_config_set_string (f->config, "relay", "lifetime", "0");
  gint64 ticket = open_ticket (f);
  gint64 id = enqueue (f, RD_OUTBOX_REPLY, ticket, "desk@desk.example", "alice@example.net", reply_body);
  fake_smtp_on (f->fs, "MAIL", FAKE_REPLY, "451 4.3.0 Try again later");
  RdRelayRound round;
  run_once (f, &round);
  ASSERT_ROUND (&round, 0, 0, 1, 0, FALSE);
  g_autoptr(RdOutboxItem) it = item (f, id);
  g_assert_cmpint (it->state, ==, RD_OUTBOX_FAILED);
  g_assert_cmpuint (it->attempts, ==, 1);
  g_test_message ("last_error=%s", it->last_error);
  g_assert_true (g_str_has_prefix (it->last_error, "gave up after 1 attempts over "));
  g_assert_true (g_str_has_suffix (it->last_error,
                                   " s (lifetime): relay answered 451 to MAIL FROM: 451 4.3.0 Try again later"));
  g_assert_cmpstr (it->relay_reply, ==, "451 4.3.0 Try again later");
  ASSERT_EVENTS (f, id, "sending failed");
  g_autofree char *n = notes (f, ticket);
  g_assert_true (g_str_has_prefix (n, "Outbound message failed: "));
  g_assert_nonnull (strstr (n, "(lifetime): relay answered 451"));
}

/* ---- the path to the relay --------------------------------------------- */

/* The relay is unreachable, or closes the channel (421): the row is
 * deferred, the round stops without burning the other rows' attempts,
 * and the queue pauses. */
static void
test_path_problem (Fixture *f, gconstpointer data)
{
  const char *how = data;
  const char *error_prefix;
  if (!strcmp (how, "refused"))
    {
      g_autofree char *url = fake_smtp_refusing_url (&f->refusing);
      rd_config_set_string (f->config, "relay", "url", url);
      error_prefix = "Couldn't connect to server (";
    }
  else
    {
      fake_smtp_on (f->fs, "MAIL", FAKE_REPLY_CLOSE, "421 4.7.0 fake.test Error: too many errors");
      error_prefix = "relay answered 421 to MAIL FROM: 421 4.7.0 fake.test Error: too many errors";
    }
  gint64 a = enqueue (f, RD_OUTBOX_REPLY, 0, "desk@desk.example", "alice@example.net", reply_body);
  gint64 b = enqueue (f, RD_OUTBOX_REPLY, 0, "desk@desk.example", "bob@example.org", reply_body);
  RdRelayRound round;
  run_once (f, &round);
  ASSERT_ROUND (&round, 0, 1, 0, 0, TRUE);
  g_autoptr(RdOutboxItem) ia = item (f, a);
  g_assert_cmpint (ia->state, ==, RD_OUTBOX_QUEUED);
  g_assert_cmpuint (ia->attempts, ==, 1);
  g_assert_true (g_str_has_prefix (ia->last_error, error_prefix));
  g_autoptr(RdOutboxItem) ib = item (f, b);
  g_assert_cmpint (ib->state, ==, RD_OUTBOX_QUEUED);
  g_assert_cmpuint (ib->attempts, ==, 0);
  ASSERT_EVENTS (f, b, "");

  /* paused: the next round tries nothing */
  guint conns = fake_smtp_connections (f->fs);
  run_once (f, &round);
  ASSERT_ROUND (&round, 0, 0, 0, 0, TRUE);
  g_autoptr(RdOutboxItem) ib2 = item (f, b);
  g_assert_cmpuint (ib2->attempts, ==, 0);
  g_assert_cmpuint (fake_smtp_connections (f->fs), ==, conns);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_ERROR);
#define ADD(path, fn, data) g_test_add (path, Fixture, data, setup, fn, teardown)
  ADD ("/relay/worker/sent-after-250", test_sent_after_250, NULL);
  ADD ("/relay/worker/one-connection", test_one_connection, NULL);
  ADD ("/relay/worker/deferred", test_deferred, NULL);
  ADD ("/relay/worker/failed", test_failed, NULL);
  ADD ("/relay/worker/dropped", test_dropped, NULL);
  ADD ("/relay/worker/recover", test_recover, NULL);
  ADD ("/relay/worker/lifetime-over", test_lifetime_over, NULL);
  ADD ("/relay/worker/path-problem/refused", test_path_problem, "refused");
  ADD ("/relay/worker/path-problem/421", test_path_problem, "421");
#undef ADD
  return g_test_run ();
}
