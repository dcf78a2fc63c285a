/* Tests for relay/smtp-client.c against the loopback server of
 * smtp-fake.c: what the relay sees on the wire (the exact transcript),
 * how each answer is classified (OK / TEMPFAIL / PERMFAIL, path problem),
 * the reply and queue id kept, connection reuse and timeouts. */
#include "smtp-client.h"
#include "smtp-fake.h"
#include "rd-common.h"

#include <string.h>

typedef struct {
  FakeSmtp *fs;
  RdConfig *config;
  RdSmtpClient *client;
  GSocket *refusing;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->fs = fake_smtp_new ();
  f->config = rd_config_new_default ();
  g_autofree char *url = fake_smtp_url (f->fs);
  rd_config_set_string (f->config, "relay", "url", url);
  rd_config_set_string (f->config, "relay", "starttls", "opportunistic");
  rd_config_set_string (f->config, "relay", "helo_name", "relaydesk.test");
  /* Generous: only the timeout cases wait for it. */
  rd_config_set_string (f->config, "relay", "timeout", "20");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->client, rd_smtp_client_free);
  g_clear_pointer (&f->fs, fake_smtp_free);
  g_clear_pointer (&f->config, rd_config_free);
  g_clear_object (&f->refusing);
}

/* The client, made from [relay] as the daemon makes it. */
static RdSmtpClient *
client (Fixture *f)
{
  if (f->client == NULL)
    {
      g_autoptr(GError) error = NULL;
      RdSmtpClientOptions o;
      g_assert_true (rd_smtp_client_options_load (f->config, NULL, NULL, &o, &error));
      g_assert_no_error (error);
      f->client = rd_smtp_client_new (&o, &error);
      g_assert_no_error (error);
      rd_smtp_client_options_clear (&o);
    }
  return f->client;
}

static const char *const one_rcpt[] = { "alice@example.net", NULL };
/* The simple message, and what the relay sees of it: the session up to
 * each command, the transaction. */
#define SIMPLE_BODY "Subject: hello\r\n\r\nHello.\r\n"
static const char *const simple_body = SIMPLE_BODY;
#define UP_TO_MAIL "EHLO relaydesk.test\r\nMAIL FROM:<desk@desk.example>\r\n"
#define UP_TO_RCPT UP_TO_MAIL "RCPT TO:<alice@example.net>\r\n"
#define UP_TO_DATA UP_TO_RCPT "DATA\r\n"
#define WHOLE_MESSAGE SIMPLE_BODY ".\r\n"
#define TRANSACTION "MAIL FROM:<desk@desk.example>\r\nRCPT TO:<alice@example.net>\r\nDATA\r\n" WHOLE_MESSAGE

static void
send_one (Fixture *f, const char *sender, const char *const *rcpts, const char *body, RdSmtpOutcome *o)
{
  g_autoptr(GBytes) data = g_bytes_new_static (body, strlen (body));
  rd_smtp_client_send (client (f), sender, rcpts, data, o);
  g_test_message ("status=%d code=%u path_problem=%d reply=%s error=%s", o->status, o->code,
                  o->path_problem, o->reply, o->error);
}

/* The transcript of connection @n once the client has said QUIT. */
static char *
final_transcript (Fixture *f, guint n)
{
  g_clear_pointer (&f->client, rd_smtp_client_free);
  fake_smtp_wait_closed (f->fs, n + 1);
  return fake_smtp_transcript (f->fs, n);
}

/* @t is @sent, then at most the QUIT with which libcurl may leave. */
static void
assert_sent_then_quit (const char *t, const char *sent)
{
  g_assert_true (g_str_has_prefix (t, sent));
  const char *rest = t + strlen (sent);
  if (rest[0] != '\0')
    g_assert_cmpstr (rest, ==, "QUIT\r\n");
}

#define ASSERT_OUTCOME(o, st, c, path) do {           \
    g_assert_cmpint ((o)->status, ==, (st));          \
    g_assert_cmpuint ((o)->code, ==, (c));            \
    g_assert_cmpint ((o)->path_problem, ==, (path));  \
  } while (0)

/* Sends the simple message; the relay takes it, with @queue_id (NULL:
 * a reply without one). */
static void
send_ok (Fixture *f, const char *queue_id)
{
  RdSmtpOutcome o;
  send_one (f, "desk@desk.example", one_rcpt, simple_body, &o);
  ASSERT_OUTCOME (&o, RD_SMTP_OK, 250, FALSE);
  g_assert_null (o.error);
  g_assert_cmpstr (o.queue_id, ==, queue_id);
  rd_smtp_outcome_clear (&o);
}

/* Sends the simple message; the path to the relay fails (@code, an error
 * starting with @error) before the relay saw @never. Returns the
 * transcript once the connection is over. (transfer full) */
static char *
send_path_failure (Fixture *f, guint code, const char *error, const char *never)
{
  RdSmtpOutcome o;
  send_one (f, "desk@desk.example", one_rcpt, simple_body, &o);
  ASSERT_OUTCOME (&o, RD_SMTP_TEMPFAIL, code, TRUE);
  g_assert_true (g_str_has_prefix (o.error, error));
  g_assert_null (o.queue_id);
  rd_smtp_outcome_clear (&o);
  char *t = final_transcript (f, 0);
  g_assert_null (strstr (t, never));
  return t;
}

/* ---- a message accepted ---------------------------------------------- */

static void
test_send (Fixture *f, gconstpointer data)
{
  fake_smtp_on (f->fs, ".", FAKE_REPLY, "250 2.0.0 Ok: queued as ABC123");
  const char *const rcpts[] = { "alice@example.net", "bob@example.org", NULL };
  /* RFC 5321 4.5.2: a line starting with "." goes out with one more. */
  const char *body = "Subject: dots\r\n\r\nfirst\r\n.single\r\n..double\r\n.\r\nlast\r\n";
  RdSmtpOutcome o;
  send_one (f, "desk@desk.example", rcpts, body, &o);
  ASSERT_OUTCOME (&o, RD_SMTP_OK, 250, FALSE);
  g_assert_cmpstr (o.reply, ==, "250 2.0.0 Ok: queued as ABC123");
  g_assert_cmpstr (o.queue_id, ==, "ABC123");
  g_assert_null (o.error);
  rd_smtp_outcome_clear (&o);
  g_assert_cmpuint (rd_smtp_client_connections (f->client), ==, 1);

  g_autofree char *t = final_transcript (f, 0);
  g_assert_cmpstr (t, ==,
      "EHLO relaydesk.test\r\n"
      "MAIL FROM:<desk@desk.example>\r\n"
      "RCPT TO:<alice@example.net>\r\n"
      "RCPT TO:<bob@example.org>\r\n"
      "DATA\r\n"
      "Subject: dots\r\n"
      "\r\n"
      "first\r\n"
      "..single\r\n"
      "...double\r\n"
      "..\r\n"
      "last\r\n"
      ".\r\n"
      "QUIT\r\n");
  g_assert_cmpuint (fake_smtp_connections (f->fs), ==, 1);
}

/* Sender "" is the null path <>; a message without a final line end gets
 * one before the "." (RFC 5321 4.1.1.4); no queue id in the reply: none. */
static void
test_null_sender (Fixture *f, gconstpointer data)
{
  fake_smtp_on (f->fs, ".", FAKE_REPLY, "250-2.0.0 first line\n250 2.0.0 Ok, no id here");
  RdSmtpOutcome o;
  send_one (f, "", one_rcpt, "Subject: x\r\n\r\nno line end", &o);
  ASSERT_OUTCOME (&o, RD_SMTP_OK, 250, FALSE);
  g_assert_cmpstr (o.reply, ==, "250-2.0.0 first line / 250 2.0.0 Ok, no id here");
  g_assert_null (o.queue_id);
  rd_smtp_outcome_clear (&o);
  g_autofree char *t = final_transcript (f, 0);
  g_assert_cmpstr (t, ==,
      "EHLO relaydesk.test\r\n"
      "MAIL FROM:<>\r\n"
      "RCPT TO:<alice@example.net>\r\n"
      "DATA\r\n"
      "Subject: x\r\n"
      "\r\n"
      "no line end\r\n"
      ".\r\n"
      "QUIT\r\n");
}

/* A message bigger than libcurl's upload buffer, full of lines that need
 * dot-stuffing, including at the buffer's edges: it arrives whole. */
static void
test_large (Fixture *f, gconstpointer data)
{
  GString *body = g_string_new ("Subject: big\r\n\r\n");
  GString *expect = g_string_new (body->str);
  for (guint i = 0; i < 40000; i++)
    {
      g_string_append_printf (body, ".%u\r\n", i);
      g_string_append_printf (expect, "..%u\r\n", i);
    }
  RdSmtpOutcome o;
  send_one (f, "desk@desk.example", one_rcpt, body->str, &o);
  ASSERT_OUTCOME (&o, RD_SMTP_OK, 250, FALSE);
  rd_smtp_outcome_clear (&o);
  g_autofree char *t = final_transcript (f, 0);
  const char *data_start = strstr (t, "DATA\r\n");
  g_assert_nonnull (data_start);
  g_string_append (expect, ".\r\nQUIT\r\n");
  g_assert_cmpuint (strlen (data_start + 6), ==, expect->len);
  g_assert_true (!strcmp (data_start + 6, expect->str));
  g_string_free (body, TRUE);
  g_string_free (expect, TRUE);
}

/* AUTH PLAIN (RFC 4954) with [relay] username and password. */
static void
test_auth (Fixture *f, gconstpointer data)
{
  rd_config_set_string (f->config, "relay", "username", "desk");
  rd_config_set_string (f->config, "relay", "password", "s3cret");
  fake_smtp_on (f->fs, "EHLO", FAKE_REPLY, "250-fake.test\n250 AUTH PLAIN");
  send_ok (f, NULL);
  g_autofree char *t = final_transcript (f, 0);
  /* base64 ("\0desk\0s3cret") */
  g_assert_true (g_str_has_prefix (t, "EHLO relaydesk.test\r\nAUTH PLAIN\r\nAGRlc2sAczNjcmV0\r\n"
                                      "MAIL FROM:<desk@desk.example>\r\n"));
}

/* Credentials refused: the path's problem (every message would fail
 * alike), never the message's. */
static void
test_auth_refused (Fixture *f, gconstpointer data)
{
  rd_config_set_string (f->config, "relay", "username", "desk");
  rd_config_set_string (f->config, "relay", "password", "wrong");
  fake_smtp_on (f->fs, "EHLO", FAKE_REPLY, "250-fake.test\n250 AUTH PLAIN");
  fake_smtp_on (f->fs, "AUTH-LINE", FAKE_REPLY, "535 5.7.8 Error: authentication failed");
  g_autofree char *t = send_path_failure (f, 535, "relay answered 535 to AUTH: 535 5.7.8 Error: authentication failed",
                                          "MAIL");
}

/* One recipient of two refused for good: the message fails as a whole
 * before DATA (no partial delivery the outbox could not record). */
static void
test_one_rcpt_refused (Fixture *f, gconstpointer data)
{
  fake_smtp_on (f->fs, "RCPT", FAKE_REPLY, "250 2.1.5 Ok");
  fake_smtp_on (f->fs, "RCPT", FAKE_REPLY, "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown");
  const char *const rcpts[] = { "alice@example.net", "nobody@example.org", NULL };
  RdSmtpOutcome o;
  send_one (f, "desk@desk.example", rcpts, simple_body, &o);
  ASSERT_OUTCOME (&o, RD_SMTP_PERMFAIL, 550, FALSE);
  g_assert_cmpstr (o.reply, ==, "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown");
  rd_smtp_outcome_clear (&o);
  fake_smtp_wait_closed (f->fs, 1);
  g_autofree char *t = fake_smtp_transcript (f->fs, 0);
  g_assert_null (strstr (t, "DATA"));
}

/* ---- refusals: one table, one case each ------------------------------ */

typedef struct {
  const char *event;        /* what the fake server refuses */
  const char *reply;
  FakeAction action;
  RdSmtpStatus status;
  guint code;
  gboolean path_problem;
  const char *error;        /* the outcome's error, exactly */
  const char *sent;         /* the transcript before the client gave up */
} Refusal;

static const Refusal refusals[] = {
  { "MAIL", "451 4.3.0 Error: queue file write error", FAKE_REPLY, RD_SMTP_TEMPFAIL, 451, FALSE,
    "relay answered 451 to MAIL FROM: 451 4.3.0 Error: queue file write error",
    UP_TO_MAIL },
  { "RCPT", "450 4.2.0 <alice@example.net>: Recipient address rejected: Greylisted", FAKE_REPLY, RD_SMTP_TEMPFAIL, 450, FALSE,
    "relay answered 450 to RCPT TO: 450 4.2.0 <alice@example.net>: Recipient address rejected: Greylisted",
    UP_TO_RCPT },
  { "DATA", "451 4.3.0 Try again later", FAKE_REPLY, RD_SMTP_TEMPFAIL, 451, FALSE,
    "relay answered 451 to DATA: 451 4.3.0 Try again later",
    UP_TO_DATA },
  { ".", "452 4.3.1 Insufficient system storage", FAKE_REPLY, RD_SMTP_TEMPFAIL, 452, FALSE,
    "relay answered 452 to end of data: 452 4.3.1 Insufficient system storage",
    UP_TO_DATA WHOLE_MESSAGE },
  { "MAIL", "553 5.7.1 <desk@desk.example>: Sender address rejected: not owned by user", FAKE_REPLY, RD_SMTP_PERMFAIL, 553, FALSE,
    "relay answered 553 to MAIL FROM: 553 5.7.1 <desk@desk.example>: Sender address rejected: not owned by user",
    UP_TO_MAIL },
  { "RCPT", "550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown", FAKE_REPLY, RD_SMTP_PERMFAIL, 550, FALSE,
    "relay answered 550 to RCPT TO: 550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown",
    UP_TO_RCPT },
  { "DATA", "554 5.5.1 Error: no valid recipients", FAKE_REPLY, RD_SMTP_PERMFAIL, 554, FALSE,
    "relay answered 554 to DATA: 554 5.5.1 Error: no valid recipients",
    UP_TO_DATA },
  { ".", "554 5.7.1 Message rejected as spam", FAKE_REPLY, RD_SMTP_PERMFAIL, 554, FALSE,
    "relay answered 554 to end of data: 554 5.7.1 Message rejected as spam",
    UP_TO_DATA WHOLE_MESSAGE },
  /* The relay refuses us, not the message (Postfix checks the client at
   * RCPT): a path problem, never the message's permanent failure. */
  { "RCPT", "554 5.7.1 <alice@example.net>: Relay access denied", FAKE_REPLY, RD_SMTP_TEMPFAIL, 554, TRUE,
    "relay answered 554 to RCPT TO: 554 5.7.1 <alice@example.net>: Relay access denied",
    UP_TO_RCPT },
  /* 421 is the service closing the channel (RFC 5321 3.8), whatever
   * command it answers: the relay's problem. */
  { "MAIL", "421 4.7.0 fake.test Error: too many errors", FAKE_REPLY_CLOSE, RD_SMTP_TEMPFAIL, 421, TRUE,
    "relay answered 421 to MAIL FROM: 421 4.7.0 fake.test Error: too many errors",
    UP_TO_MAIL },
  { "CONNECT", "554 5.7.1 fake.test: no SMTP service for you", FAKE_REPLY, RD_SMTP_TEMPFAIL, 554, TRUE,
    "relay answered 554 to greeting: 554 5.7.1 fake.test: no SMTP service for you",
    "" },
  { "EHLO", "421 4.3.2 Service shutting down", FAKE_REPLY_CLOSE, RD_SMTP_TEMPFAIL, 421, TRUE,
    "relay answered 421 to EHLO: 421 4.3.2 Service shutting down",
    "EHLO relaydesk.test\r\n" },
};

static void
test_refusal (Fixture *f, gconstpointer data)
{
  const Refusal *r = data;
  fake_smtp_on (f->fs, r->event, r->action, r->reply);
  RdSmtpOutcome o;
  send_one (f, "desk@desk.example", one_rcpt, simple_body, &o);
  ASSERT_OUTCOME (&o, r->status, r->code, r->path_problem);
  g_assert_cmpstr (o.reply, ==, r->reply);
  g_assert_cmpstr (o.error, ==, r->error);
  g_assert_null (o.queue_id);
  rd_smtp_outcome_clear (&o);
  /* After a failure the client starts afresh: the connection is gone
   * (it may have said QUIT first; nothing else). */
  fake_smtp_wait_closed (f->fs, 1);
  g_autofree char *t = fake_smtp_transcript (f->fs, 0);
  assert_sent_then_quit (t, r->sent);

  /* and the next message opens a new connection that works */
  send_ok (f, NULL);
  g_assert_cmpuint (fake_smtp_connections (f->fs), ==, 2);
}

/* A relay without ESMTP: libcurl falls back to HELO (RFC 5321 3.2). */
static void
test_helo_fallback (Fixture *f, gconstpointer data)
{
  fake_smtp_on (f->fs, "EHLO", FAKE_REPLY, "502 5.5.2 Error: command not recognized");
  send_ok (f, NULL);
  g_autofree char *t = final_transcript (f, 0);
  g_assert_true (g_str_has_prefix (t, "EHLO relaydesk.test\r\nHELO relaydesk.test\r\nMAIL FROM:<desk@desk.example>\r\n"));
}

/* ---- the path to the relay ------------------------------------------- */

static void
test_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *url = fake_smtp_refusing_url (&f->refusing);
  rd_config_set_string (f->config, "relay", "url", url);
  RdSmtpOutcome o;
  send_one (f, "desk@desk.example", one_rcpt, simple_body, &o);
  ASSERT_OUTCOME (&o, RD_SMTP_TEMPFAIL, 0, TRUE);
  g_assert_cmpstr (o.reply, ==, "");
  g_assert_true (g_str_has_prefix (o.error, "Couldn't connect to server ("));
  rd_smtp_outcome_clear (&o);
  g_assert_cmpuint (rd_smtp_client_connections (f->client), ==, 0);
}

/* STARTTLS required and not offered: nothing is sent in clear. */
static void
test_starttls_required (Fixture *f, gconstpointer data)
{
  rd_config_set_string (f->config, "relay", "starttls", "required");
  g_autofree char *t = send_path_failure (f, 250, "Requested SSL level failed (", "MAIL");
}

/* The connection breaks in the middle of the message, or after it before
 * the relay answered: the message may or may not be with the relay; it
 * is sent again (a duplicate rather than a loss, RFC 5321 6.1). */
static void
test_closed_mid_data (Fixture *f, gconstpointer data)
{
  const char *event = data;
  fake_smtp_on (f->fs, event, FAKE_CLOSE, NULL);
  RdSmtpOutcome o;
  send_one (f, "desk@desk.example", one_rcpt, simple_body, &o);
  g_assert_cmpint (o.status, ==, RD_SMTP_TEMPFAIL);
  g_assert_true (o.path_problem);
  g_assert_nonnull (o.error);
  g_assert_null (o.queue_id);
  rd_smtp_outcome_clear (&o);
  g_autofree char *t = fake_smtp_transcript (f->fs, 0);
  g_assert_true (g_str_has_prefix (t, UP_TO_DATA "Subject: hello\r\n"));
}

/* ---- connection reuse ------------------------------------------------- */

static void
test_reuse (Fixture *f, gconstpointer data)
{
  fake_smtp_on (f->fs, ".", FAKE_REPLY, "250 2.0.0 Ok: queued as ONE");
  fake_smtp_on (f->fs, ".", FAKE_REPLY, "250 2.0.0 Ok: queued as TWO");
  send_ok (f, "ONE");
  const char *const other[] = { "bob@example.org", NULL };
  RdSmtpOutcome o;
  send_one (f, "", other, "Subject: two\r\n\r\nTwo.\r\n", &o);
  ASSERT_OUTCOME (&o, RD_SMTP_OK, 250, FALSE);
  g_assert_cmpstr (o.queue_id, ==, "TWO");
  rd_smtp_outcome_clear (&o);
  g_assert_cmpuint (rd_smtp_client_connections (f->client), ==, 1);
  g_assert_cmpuint (fake_smtp_connections (f->fs), ==, 1);
  /* The second transaction follows the first on the same session. */
  g_autofree char *t = final_transcript (f, 0);
  g_assert_cmpstr (t, ==,
      "EHLO relaydesk.test\r\n"
      TRANSACTION
      "MAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
      "Subject: two\r\n\r\nTwo.\r\n.\r\n"
      "QUIT\r\n");
}

static void
test_no_reuse (Fixture *f, gconstpointer data)
{
  rd_config_set_string (f->config, "relay", "reuse_connection", "false");
  send_ok (f, NULL);
  send_ok (f, NULL);
  g_assert_cmpuint (rd_smtp_client_connections (f->client), ==, 2);
  fake_smtp_wait_closed (f->fs, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *t = fake_smtp_transcript (f->fs, i);
      g_assert_cmpstr (t, ==,
          "EHLO relaydesk.test\r\n"
          TRANSACTION
          "QUIT\r\n");
    }
}

/* The relay closes the idle connection between two messages (its own
 * timeout, a restart): the next message goes on a new connection. */
static void
test_reconnect (Fixture *f, gconstpointer data)
{
  fake_smtp_on (f->fs, ".", FAKE_REPLY_CLOSE, "250 2.0.0 Ok: queued as ONE");
  fake_smtp_on (f->fs, ".", FAKE_REPLY, "250 2.0.0 Ok: queued as TWO");
  send_ok (f, "ONE");
  fake_smtp_wait_closed (f->fs, 1);

  send_ok (f, "TWO");
  g_assert_cmpuint (rd_smtp_client_connections (f->client), ==, 2);
  g_autofree char *t0 = fake_smtp_transcript (f->fs, 0);
  g_assert_cmpstr (t0, ==, "EHLO relaydesk.test\r\n" TRANSACTION);
  g_autofree char *t1 = final_transcript (f, 1);
  g_assert_cmpstr (t1, ==, "EHLO relaydesk.test\r\n" TRANSACTION "QUIT\r\n");
}

/* ---- TLS: implicit (smtps://) and STARTTLS, verification always on ---- */

/* Replaces the fixture's server by one with TLS, trusted through
 * [relay] ca_file. */
static void
use_tls (Fixture *f, FakeTls tls)
{
  fake_smtp_free (f->fs);
  f->fs = fake_smtp_new_tls (tls);
  g_autofree char *url = fake_smtp_url (f->fs);
  rd_config_set_string (f->config, "relay", "url", url);
  rd_config_set_string (f->config, "relay", "ca_file", fake_smtp_ca_file (f->fs));
}


static void
test_tls_implicit (Fixture *f, gconstpointer data)
{
  use_tls (f, FAKE_TLS_IMPLICIT);
  fake_smtp_on (f->fs, ".", FAKE_REPLY, "250 2.0.0 Ok: queued as TLS1");
  send_ok (f, "TLS1");
  g_autofree char *t = final_transcript (f, 0);
  g_assert_cmpstr (t, ==, "EHLO relaydesk.test\r\n" TRANSACTION "QUIT\r\n");
}

/* starttls = required: EHLO, STARTTLS, then EHLO again over TLS (RFC
 * 3207 4.2) before the transaction. */
static void
test_tls_starttls (Fixture *f, gconstpointer data)
{
  use_tls (f, FAKE_TLS_STARTTLS);
  rd_config_set_string (f->config, "relay", "starttls", "required");
  send_ok (f, NULL);
  g_autofree char *t = final_transcript (f, 0);
  g_assert_cmpstr (t, ==, "EHLO relaydesk.test\r\nSTARTTLS\r\nEHLO relaydesk.test\r\n" TRANSACTION "QUIT\r\n");
}

/* STARTTLS offered but refused by the relay: with starttls = required
 * nothing goes in clear. */
static void
test_tls_starttls_refused (Fixture *f, gconstpointer data)
{
  use_tls (f, FAKE_TLS_STARTTLS);
  rd_config_set_string (f->config, "relay", "starttls", "required");
  fake_smtp_on (f->fs, "STARTTLS", FAKE_REPLY, "454 4.7.0 TLS not available due to local problem");
  g_autofree char *t = send_path_failure (
      f, 454, "relay answered 454 to STARTTLS: 454 4.7.0 TLS not available due to local problem", "MAIL");
  assert_sent_then_quit (t, "EHLO relaydesk.test\r\nSTARTTLS\r\n");
}

/* A certificate we do not trust, or one for another name: the path's
 * problem, and not one byte of the message is sent. */
static void
test_tls_untrusted (Fixture *f, gconstpointer data)
{
  const char *how = data;
  use_tls (f, !strcmp (how, "starttls") ? FAKE_TLS_STARTTLS : FAKE_TLS_IMPLICIT);
  g_autoptr(FakeSmtp) other = NULL;
  if (!strcmp (how, "name"))
    {
      /* trusted, but the URL names localhost and it is made for 127.0.0.1 */
      g_autofree char *url = fake_smtp_url (f->fs);
      g_autofree char *by_name = g_strconcat ("smtps://localhost", strrchr (url, ':'), NULL);
      rd_config_set_string (f->config, "relay", "url", by_name);
    }
  else
    {
      other = fake_smtp_new_tls (FAKE_TLS_IMPLICIT);
      rd_config_set_string (f->config, "relay", "ca_file", fake_smtp_ca_file (other));
    }
  gboolean starttls = !strcmp (how, "starttls");
  /* (with STARTTLS the last reply is the 220 to it) */
  g_autofree char *t = send_path_failure (f, starttls ? 220 : 0, "SSL peer certificate or SSH remote key was not OK (",
                                          "MAIL");
  g_assert_cmpstr (t, ==, starttls ? "EHLO relaydesk.test\r\nSTARTTLS\r\n" : "");
}

/* ---- timeouts ---------------------------------------------------------- */

/* A relay that never answers (the greeting, or the end of the message):
 * the client gives up after [relay] timeout. */
static void
test_timeout (Fixture *f, gconstpointer data)
{
  const char *event = data;
  rd_config_set_string (f->config, "relay", "timeout", "1");
  fake_smtp_on (f->fs, event, FAKE_HANG, NULL);
  RdSmtpOutcome o;
  gint64 t0 = g_get_monotonic_time ();
  send_one (f, "desk@desk.example", one_rcpt, simple_body, &o);
  gint64 elapsed = g_get_monotonic_time () - t0;
  g_assert_cmpint (o.status, ==, RD_SMTP_TEMPFAIL);
  g_assert_true (o.path_problem);
  g_assert_true (g_str_has_prefix (o.error, "Timeout was reached ("));
  rd_smtp_outcome_clear (&o);
  /* it did wait (at least most of the second), and not for long */
  g_assert_cmpint (elapsed, >=, G_USEC_PER_SEC / 2);
  g_assert_cmpint (elapsed, <, 10 * G_USEC_PER_SEC);
  fake_smtp_wait_closed (f->fs, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
#define ADD(path, fn, data) g_test_add (path, Fixture, data, setup, fn, teardown)
  ADD ("/relay/smtp-client/send", test_send, NULL);
  ADD ("/relay/smtp-client/null-sender", test_null_sender, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (refusals); i++)
    {
      const Refusal *r = &refusals[i];
      g_autofree char *path = g_strdup_printf ("/relay/smtp-client/refusal/%u-%s-%s", r->code,
                                               !strcmp (r->event, ".") ? "end-of-data" : r->event,
                                               r->status == RD_SMTP_OK ? "ok"
                                               : r->status == RD_SMTP_PERMFAIL ? "permfail" : "tempfail");
      ADD (path, test_refusal, r);
    }
  ADD ("/relay/smtp-client/large", test_large, NULL);
  ADD ("/relay/smtp-client/auth", test_auth, NULL);
  ADD ("/relay/smtp-client/auth-refused", test_auth_refused, NULL);
  ADD ("/relay/smtp-client/one-rcpt-refused", test_one_rcpt_refused, NULL);
  ADD ("/relay/smtp-client/helo-fallback", test_helo_fallback, NULL);
  ADD ("/relay/smtp-client/connection-refused", test_refused, NULL);
  ADD ("/relay/smtp-client/starttls-required", test_starttls_required, NULL);
  ADD ("/relay/smtp-client/closed-mid-data", test_closed_mid_data, "BODY");
  ADD ("/relay/smtp-client/closed-before-reply", test_closed_mid_data, ".");
  ADD ("/relay/smtp-client/reuse", test_reuse, NULL);
  ADD ("/relay/smtp-client/no-reuse", test_no_reuse, NULL);
  ADD ("/relay/smtp-client/reconnect", test_reconnect, NULL);
  ADD ("/relay/smtp-client/tls/implicit", test_tls_implicit, NULL);
  ADD ("/relay/smtp-client/tls/starttls", test_tls_starttls, NULL);
  ADD ("/relay/smtp-client/tls/starttls-refused", test_tls_starttls_refused, NULL);
  ADD ("/relay/smtp-client/tls/untrusted", test_tls_untrusted, "ca");
  ADD ("/relay/smtp-client/tls/untrusted-starttls", test_tls_untrusted, "starttls");
  ADD ("/relay/smtp-client/tls/wrong-name", test_tls_untrusted, "name");
  ADD ("/relay/smtp-client/timeout-greeting", test_timeout, "CONNECT");
  ADD ("/relay/smtp-client/timeout-end-of-data", test_timeout, ".");
#undef ADD
  return g_test_run ();
}
