/* Transcript tests of the SMTP session state machine: client packets ->
 * the exact replies expected. Every transcript runs twice: each packet
 * whole, and one byte at a time; both must give the same replies and
 * store the same messages. The storage completes after each feed, so
 * pipelined commands queued behind a message are answered after its 250.
 */
#include "smtp-session.h"
#include "rd-common.h"

#include <string.h>

#define HOST "mx.test"

typedef struct {
  const char *send;    /* one client packet */
  const char *expect;  /* all the replies it causes, CRLF-separated */
} Step;

typedef struct {
  GString *out;
  GPtrArray *stored;       /* RdSpoolItem* */
  RdSpoolItem *pending;
  gboolean closed;
  gboolean starttls;
  guint queue_counter;
  int fail_mode;           /* 0 ok, 1 temporary, 2 disk full */
} Harness;

static void
h_write (RdSmtpSession *s, const char *data, gsize len, gpointer user_data)
{
  Harness *h = user_data;
  g_assert_false (h->closed);
  g_string_append_len (h->out, data, len);
}

static void
h_submit (RdSmtpSession *s, RdSpoolItem *item, gpointer user_data)
{
  Harness *h = user_data;
  g_assert_null (h->pending);
  h->pending = item;
}

static void
h_close (RdSmtpSession *s, gpointer user_data)
{
  Harness *h = user_data;
  h->closed = TRUE;
}

static void
h_starttls (RdSmtpSession *s, gpointer user_data)
{
  Harness *h = user_data;
  h->starttls = TRUE;
}

static const RdSmtpSessionCallbacks callbacks = { h_write, h_submit, h_close, h_starttls };

static void
complete_one (Harness *h, RdSmtpSession *s)
{
  RdSpoolItem *item = g_steal_pointer (&h->pending);
  if (h->fail_mode == 0)
    {
      item->queue_id = g_strdup_printf ("Q%u", ++h->queue_counter);
      g_ptr_array_add (h->stored, item);
      rd_smtp_session_stored (s, item->queue_id, NULL);
      return;
    }
  g_autoptr(GError) error = g_error_new_literal (RD_ERROR, h->fail_mode == 2 ? RD_ERROR_DISK_FULL
                                                                           : RD_ERROR_TEMPORARY,
                                                 "simulated");
  rd_smtp_session_stored (s, NULL, error);
  rd_spool_item_free (item);
}

/* Completing one message may let the session reach the next one. */
static void
complete_storage (Harness *h, RdSmtpSession *s)
{
  while (h->pending != NULL)
    complete_one (h, s);
}

/* RFC 3463 code on every reply but the greeting and HELO/EHLO answers
 * (RFC 2034 §3) and the 354 intermediate reply (RFC 3463 has no class 3). */
static void
check_enhanced_codes (const char *out)
{
  g_auto(GStrv) lines = g_strsplit (out, "\r\n", -1);
  g_autoptr(GRegex) code = g_regex_new ("^[245][0-9][0-9][ -][245]\\.[0-9]{1,3}\\.[0-9]{1,3} ", 0, 0, NULL);
  for (guint i = 0; lines[i]; i++)
    {
      const char *l = lines[i];
      if (*l == '\0' || g_str_has_prefix (l, "220 " HOST " ESMTP") || g_str_has_prefix (l, "250-")
          || !strcmp (l, "250 " HOST) || !strcmp (l, "250 CHUNKING")
          || !strcmp (l, "354 End data with <CR><LF>.<CR><LF>"))
        continue;
      if (!g_regex_match (code, l, 0, NULL))
        g_error ("reply without enhanced status code: %s", l);
    }
}

/* Runs @steps; returns the harness (stored items) for further checks. */
static Harness *
run (const RdSmtpLimits *limits, const Step *steps, gboolean bytewise, gboolean rejected, int fail_mode,
     gboolean expect_closed)
{
  Harness *h = g_new0 (Harness, 1);
  h->out = g_string_new (NULL);
  h->stored = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_spool_item_free);
  h->fail_mode = fail_mode;
  RdSmtpSession *s = rd_smtp_session_new (limits, "192.0.2.1", &callbacks, h);
  if (rejected)
    rd_smtp_session_start_rejected (s, "Access denied: ask relay-admin@example.org");
  else
    rd_smtp_session_start (s);
  g_string_set_size (h->out, 0);
  for (guint i = 0; steps[i].send; i++)
    {
      g_string_set_size (h->out, 0);
      gsize len = strlen (steps[i].send);
      if (bytewise)
        {
          for (gsize j = 0; j < len && !h->starttls; j++)
            {
              rd_smtp_session_feed (s, steps[i].send + j, 1);
              complete_storage (h, s);
            }
        }
      else
        {
          rd_smtp_session_feed (s, steps[i].send, len);
          complete_storage (h, s);
        }
      if (h->starttls)
        {
          /* The rest of this packet was plaintext after STARTTLS: it
           * would reach the TLS layer, never the session. */
          h->starttls = FALSE;
          rd_smtp_session_set_tls (s, "TLSv1.3");
        }
      if (g_strcmp0 (h->out->str, steps[i].expect) != 0)
        g_error ("step %u (%s): sent %s\nexpected: %s\ngot:      %s", i, bytewise ? "bytewise" : "whole",
                 rd_log_escape (steps[i].send, -1, 300), rd_log_escape (steps[i].expect, -1, 600),
                 rd_log_escape (h->out->str, -1, 600));
      check_enhanced_codes (h->out->str);
    }
  g_assert_cmpint (h->closed, ==, expect_closed);
  g_assert_cmpint (rd_smtp_session_is_closed (s), ==, expect_closed);
  rd_smtp_session_free (s);
  return h;
}

static void
harness_free (Harness *h)
{
  g_string_free (h->out, TRUE);
  g_ptr_array_unref (h->stored);
  g_assert_null (h->pending);
  g_free (h);
}

static const RdSmtpLimits default_limits = {
  .hostname = HOST, .max_message_size = 1024 * 1024, .max_recipients = 100, .max_errors = 10,
  .tls_available = TRUE,
};

/* Runs whole and bytewise; both must store the same messages. Returns
 * the bytewise harness. */
static Harness *
run2 (const RdSmtpLimits *limits, const Step *steps, gboolean rejected, int fail_mode, gboolean expect_closed)
{
  Harness *a = run (limits, steps, FALSE, rejected, fail_mode, expect_closed);
  Harness *b = run (limits, steps, TRUE, rejected, fail_mode, expect_closed);
  g_assert_cmpuint (a->stored->len, ==, b->stored->len);
  for (guint i = 0; i < a->stored->len; i++)
    {
      RdSpoolItem *x = g_ptr_array_index (a->stored, i);
      RdSpoolItem *y = g_ptr_array_index (b->stored, i);
      g_assert_true (g_bytes_equal (x->raw, y->raw));
      g_assert_cmpstr (x->sender, ==, y->sender);
      g_assert_cmpuint (x->recipients->len, ==, y->recipients->len);
    }
  harness_free (a);
  return b;
}

static void
assert_raw (RdSpoolItem *item, const char *expected)
{
  gsize len = 0;
  const char *raw = g_bytes_get_data (item->raw, &len);
  g_autofree char *got = g_strndup (raw, len);
  g_assert_cmpstr (got, ==, expected);
}

/* ---- the transcripts ------------------------------------------------- */

#define EHLO_REPLY "250-" HOST "\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n250-8BITMIME\r\n" \
  "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250 CHUNKING\r\n"
#define EHLO_REPLY_TLS "250-" HOST "\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n250-8BITMIME\r\n" \
  "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"

/* The session relay users are taught, exactly as typed into telnet. */
static void
test_telnet_session (void)
{
  const Step steps[] = {
    { "helo nic.in\r\n", "250 " HOST "\r\n" },
    { "mail from: testid@gov.in\r\n", "250 2.1.0 Ok\r\n" },
    { "rcpt to: abc.xyz@gov.in, abcd.wxyz@gov.in\r\n", "250 2.1.5 Ok: 2 recipients\r\n" },
    { "data\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n" },
    { "subject: TEST MAIL\r\n", "" },
    { "This is Test Mail from RELAY\r\n", "" },
    { ".\r\n", "250 2.0.0 Ok: message Q1 accepted\r\n" },
    { "quit\r\n", "221 2.0.0 Bye\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&default_limits, steps, FALSE, 0, TRUE);
  g_assert_cmpuint (h->stored->len, ==, 1);
  RdSpoolItem *it = g_ptr_array_index (h->stored, 0);
  g_assert_cmpstr (it->sender, ==, "testid@gov.in");
  g_assert_cmpuint (it->recipients->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (it->recipients, 0), ==, "abc.xyz@gov.in");
  g_assert_cmpstr (g_ptr_array_index (it->recipients, 1), ==, "abcd.wxyz@gov.in");
  g_assert_cmpstr (it->protocol, ==, "SMTP");
  g_assert_cmpstr (it->helo, ==, "nic.in");
  assert_raw (it, "subject: TEST MAIL\r\nThis is Test Mail from RELAY\r\n");
  harness_free (h);
}

static void
test_ehlo_extensions (void)
{
  const Step steps[] = {
    { "EHLO client.example\r\n", EHLO_REPLY },
    { "eHlO again\r\n", EHLO_REPLY },
    { "HELO plain\r\n", "250 " HOST "\r\n" },
    { "VRFY someone\r\n", "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n" },
    { "NOOP\r\n", "250 2.0.0 Ok\r\n" },
    { "RSET\r\n", "250 2.0.0 Ok\r\n" },
    { "QUIT\r\n", "221 2.0.0 Bye\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, steps, FALSE, 0, TRUE));
}

static void
test_pipelining (void)
{
  const Step steps[] = {
    { "EHLO c\r\nMAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<x@y.example>\r\n"
      "RCPT TO:<z@y.example>\r\nDATA\r\n",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
      "354 End data with <CR><LF>.<CR><LF>\r\n" },
    { "Subject: one\r\n\r\nbody\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<q@y.example>\r\nDATA\r\nSubject: two\r\n"
      "\r\n..dot\r\n.\r\nNOOP\r\nQUIT\r\n",
      "250 2.0.0 Ok: message Q1 accepted\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
      "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: message Q2 accepted\r\n"
      "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&default_limits, steps, FALSE, 0, TRUE);
  g_assert_cmpuint (h->stored->len, ==, 2);
  assert_raw (g_ptr_array_index (h->stored, 0), "Subject: one\r\n\r\nbody\r\n");
  assert_raw (g_ptr_array_index (h->stored, 1), "Subject: two\r\n\r\n.dot\r\n");
  g_assert_cmpstr (((RdSpoolItem *) g_ptr_array_index (h->stored, 1))->sender, ==, "");
  g_assert_cmpstr (((RdSpoolItem *) g_ptr_array_index (h->stored, 0))->protocol, ==, "ESMTP");
  harness_free (h);
}

/* CVE-2011-0411: commands after STARTTLS in the same packet are dropped,
 * and the session starts over after the handshake (RFC 3207 §4.2). */
static void
test_starttls_injection (void)
{
  const Step steps[] = {
    { "EHLO c\r\nMAIL FROM:<early@b.example>\r\n", EHLO_REPLY "250 2.1.0 Ok\r\n" },
    { "STARTTLS\r\n", "503 5.5.1 Error: STARTTLS inside a transaction\r\n" },
    { "RSET\r\n", "250 2.0.0 Ok\r\n" },
    { "STARTTLS\r\nMAIL FROM:<evil@b.example>\r\nRCPT TO:<x@y.example>\r\n", "220 2.0.0 Ready to start TLS\r\n" },
    { "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: send HELO/EHLO first\r\n" },
    { "EHLO c\r\n", EHLO_REPLY_TLS },
    { "STARTTLS\r\n", "503 5.5.1 Error: TLS already active\r\n" },
    { "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\nhi\r\n.\r\n",
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
      "250 2.0.0 Ok: message Q1 accepted\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&default_limits, steps, FALSE, 0, FALSE);
  g_assert_cmpuint (h->stored->len, ==, 1);
  g_assert_cmpstr (((RdSpoolItem *) g_ptr_array_index (h->stored, 0))->protocol, ==, "ESMTPS");
  g_assert_cmpstr (((RdSpoolItem *) g_ptr_array_index (h->stored, 0))->sender, ==, "a@b.example");
  harness_free (h);
}

static void
test_starttls_unavailable (void)
{
  RdSmtpLimits l = default_limits;
  l.tls_available = FALSE;
  const Step steps[] = {
    { "EHLO c\r\n", EHLO_REPLY_TLS },
    { "STARTTLS\r\n", "502 5.5.1 Error: command not implemented\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&l, steps, FALSE, 0, FALSE));
}

static void
test_tls_required (void)
{
  RdSmtpLimits l = default_limits;
  l.tls_required = TRUE;
  const Step steps[] = {
    { "EHLO c\r\n", EHLO_REPLY },
    { "MAIL FROM:<a@b.example>\r\n", "530 5.7.0 Must issue a STARTTLS command first\r\n" },
    { "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n" },
    { "EHLO c\r\nMAIL FROM:<a@b.example>\r\n", EHLO_REPLY_TLS "250 2.1.0 Ok\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&l, steps, FALSE, 0, FALSE));
}

/* Bare-LF lines (curl uploading a Unix file, netcat) are stored as CRLF;
 * the message still ends only at CRLF.CRLF. */
static void
test_bare_lf_data (void)
{
  const Step steps[] = {
    { "helo x\nmail from:<a@b.example>\nrcpt to:<c@d.example>\ndata\n",
      "250 " HOST "\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" },
    { "Subject: lf\n\nline one\n.not stuffed after LF\r\n..stuffed\nlast\r\n.\r\n",
      "250 2.0.0 Ok: message Q1 accepted\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&default_limits, steps, FALSE, 0, FALSE);
  assert_raw (g_ptr_array_index (h->stored, 0), "Subject: lf\r\n\r\nline one\r\n.not stuffed after LF\r\n.stuffed\r\nlast\r\n");
  harness_free (h);
}

/* What netcat without -C sends: works up to the lone ".", which gets a
 * clear 550 and the connection closed; nothing after it is read. */
static void
test_smuggling_lone_dot_lf (void)
{
  const Step steps[] = {
    { "helo x\nmail from: a@b.example\nrcpt to: c@d.example\ndata\n",
      "250 " HOST "\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" },
    { "hello\n.\nmail from:<smuggled@evil.example>\nrcpt to:<x@d.example>\ndata\nevil\n.\n",
      "550 5.5.2 Error: bare <LF> near '.' is not allowed: end the message with <CR><LF>.<CR><LF> (netcat needs -C)\r\n" },
    { "QUIT\r\n", "" },
    { NULL, NULL }
  };
  Harness *h = run2 (&default_limits, steps, FALSE, 0, TRUE);
  g_assert_cmpuint (h->stored->len, ==, 0);
  harness_free (h);
}

/* <LF>.<CR><LF> and <CR><LF>.<CR>x: the smuggling variants. */
static void
test_smuggling_variants (void)
{
  const Step lf_dot_crlf[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" },
    { "text\n.\r\nMAIL FROM:<s@evil.example>\r\n",
      "550 5.5.2 Error: bare <LF> near '.' is not allowed: end the message with <CR><LF>.<CR><LF> (netcat needs -C)\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, lf_dot_crlf, FALSE, 0, TRUE));
  const Step dot_cr[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" },
    { "text\r\n.\rMAIL FROM:<s@evil.example>\r\n",
      "550 5.5.2 Error: bare <CR> near '.' is not allowed: end the message with <CR><LF>.<CR><LF> (netcat needs -C)\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, dot_cr, FALSE, 0, TRUE));
  /* A bare CR inside a line is data, not an ending. */
  const Step cr_inside[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" },
    { "a\r.\rb\r\n.\r\n", "250 2.0.0 Ok: message Q1 accepted\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&default_limits, cr_inside, FALSE, 0, FALSE);
  assert_raw (g_ptr_array_index (h->stored, 0), "a\r.\rb\r\n");
  harness_free (h);
}

static void
test_strict_bare_lf (void)
{
  RdSmtpLimits l = default_limits;
  l.strict_bare_lf = TRUE;
  const Step cmd[] = {
    { "helo x\n", "550 5.5.2 Error: bare <LF> received, lines must end with <CR><LF> (netcat needs -C)\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&l, cmd, FALSE, 0, TRUE));
  const Step data[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" },
    { "ok\r\nbare\n.\r\n", "550 5.5.2 Error: bare <LF> received, lines must end with <CR><LF> (netcat needs -C)\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&l, data, FALSE, 0, TRUE);
  g_assert_cmpuint (h->stored->len, ==, 0);
  harness_free (h);
  /* inside BDAT chunks too: a bare LF in the first or a later chunk, a
   * CR ending one chunk and its LF starting the next is no bare LF */
  const Step bdat_ok[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 4\r\nab\r\r",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 4 octets received\r\n" },
    { "BDAT 3 LAST\r\n\ncd", "250 2.0.0 Ok: message Q1 accepted\r\n" },
    { NULL, NULL }
  };
  h = run2 (&l, bdat_ok, FALSE, 0, FALSE);
  assert_raw (g_ptr_array_index (h->stored, 0), "ab\r\r\ncd");
  harness_free (h);
  const Step bdat_first[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 9 LAST\r\nSubject:\nx",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
      "550 5.5.2 Error: bare <LF> received, lines must end with <CR><LF> (netcat needs -C)\r\n" },
    { NULL, NULL }
  };
  h = run2 (&l, bdat_first, FALSE, 0, TRUE);
  g_assert_cmpuint (h->stored->len, ==, 0);
  harness_free (h);
  const Step bdat_later[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 4\r\nab\r\n",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 4 octets received\r\n" },
    { "BDAT 3 LAST\r\nc\nd",
      "550 5.5.2 Error: bare <LF> received, lines must end with <CR><LF> (netcat needs -C)\r\n" },
    { NULL, NULL }
  };
  h = run2 (&l, bdat_later, FALSE, 0, TRUE);
  g_assert_cmpuint (h->stored->len, ==, 0);
  harness_free (h);
}

/* A PROXY protocol header reaching the session came from an address not
 * in [smtp] proxy_trusted (the server takes trusted ones before the
 * session starts): refused and closed, never read as an address. */
static void
test_proxy_untrusted (void)
{
  const Step v1[] = {
    { "PROXY TCP4 192.0.2.66 198.51.100.1 51234 25\r\nEHLO x\r\n",
      "554 5.7.0 Error: PROXY protocol header from an address not in [smtp] proxy_trusted\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&default_limits, v1, FALSE, 0, TRUE);
  harness_free (h);
  const Step later[] = {
    { "EHLO x\r\n", EHLO_REPLY },
    { "proxy TCP6 ::1 ::1 1 2\r\n",
      "554 5.7.0 Error: PROXY protocol header from an address not in [smtp] proxy_trusted\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, later, FALSE, 0, TRUE));
}

/* Over a limit: the server's 421 line instead of the banner, then closed. */
static void
test_start_refused (void)
{
  Harness h = { 0 };
  h.out = g_string_new (NULL);
  h.stored = g_ptr_array_new ();
  RdSmtpSession *s = rd_smtp_session_new (&default_limits, "192.0.2.1", &callbacks, &h);
  rd_smtp_session_start_refused (s, "421 4.7.0 mx.test Error: too many connections, try again later", "total_limit");
  g_assert_cmpstr (h.out->str, ==, "421 4.7.0 mx.test Error: too many connections, try again later\r\n");
  g_assert_true (h.closed);
  g_assert_true (rd_smtp_session_is_closed (s));
  rd_smtp_session_feed (s, "EHLO x\r\n", 8); /* nothing more is answered */
  g_assert_cmpstr (h.out->str, ==, "421 4.7.0 mx.test Error: too many connections, try again later\r\n");
  rd_smtp_session_free (s);
  g_string_free (h.out, TRUE);
  g_ptr_array_unref (h.stored);
}

static void
test_line_limits (void)
{
  g_autofree char *x600 = g_strnfill (600, 'x');
  g_autofree char *x505 = g_strnfill (510 - 5, 'x');
  g_autofree char *long_line = g_strdup_printf ("NOOP %s\r\n", x600);
  g_autofree char *exact = g_strdup_printf ("NOOP %s\r\n", x505);
  const Step steps[] = {
    { long_line, "500 5.5.2 Error: line too long\r\n" },
    { exact, "250 2.0.0 Ok\r\n" },
    { "NOOP\r\n", "250 2.0.0 Ok\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, steps, FALSE, 0, FALSE));
  g_autofree char *endless = g_strnfill (5000, 'y');
  const Step unterminated[] = {
    { endless, "500 5.5.2 Error: line too long, closing connection\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, unterminated, FALSE, 0, TRUE));
}

static void
test_errors (void)
{
  RdSmtpLimits l = default_limits;
  l.max_errors = 4;
  const Step steps[] = {
    { "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: send HELO/EHLO first\r\n" },
    { "EHLO\r\n", "501 5.5.4 Syntax: EHLO hostname\r\n" },
    { "HELO x\r\nRCPT TO:<a@b.example>\r\n", "250 " HOST "\r\n503 5.5.1 Error: need MAIL command\r\n" },
    { "FOO bar\r\nNOOP\r\n", "500 5.5.2 Error: command not recognized\r\n421 4.7.0 " HOST " Error: too many errors\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&l, steps, FALSE, 0, TRUE));
  const Step seq[] = {
    { "EHLO x\r\nDATA\r\nMAIL FROM:<a@b.example>\r\nDATA\r\nMAIL FROM:<a@b.example>\r\n",
      EHLO_REPLY "503 5.5.1 Error: need MAIL command\r\n250 2.1.0 Ok\r\n503 5.5.1 Error: need RCPT command\r\n"
      "503 5.5.1 Error: nested MAIL command\r\n" },
    { "MAIL FROM:bad\r\nRSET\r\nMAIL FROM:<a@b.example> FOO=1\r\n",
      "503 5.5.1 Error: nested MAIL command\r\n250 2.0.0 Ok\r\n555 5.5.4 Unsupported parameter \"FOO=1\"\r\n" },
    { "MAIL FROM:<no-at>\r\nMAIL TO:<x@y.example>\r\n",
      "501 5.1.7 Bad sender address syntax\r\n501 5.5.4 Syntax: MAIL FROM:<address>\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, seq, FALSE, 0, FALSE));
}

static void
test_size_limit (void)
{
  RdSmtpLimits l = default_limits;
  l.max_message_size = 100;
  g_autofree char *a60 = g_strnfill (60, 'a');
  g_autofree char *big = g_strdup_printf ("%s\r\n%s\r\n.\r\n", a60, a60);
  g_autofree char *chunk = g_strnfill (101, 'z');
  const Step steps[] = {
    { "EHLO x\r\n", "250-" HOST "\r\n250-PIPELINING\r\n250-SIZE 100\r\n250-8BITMIME\r\n"
                    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250 CHUNKING\r\n" },
    { "MAIL FROM:<a@b.example> SIZE=101\r\n", "552 5.3.4 Message size exceeds fixed limit of 100 octets\r\n" },
    { "MAIL FROM:<a@b.example> SIZE=100\r\nRCPT TO:<c@d.example>\r\nDATA\r\n",
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" },
    { big, "552 5.3.4 Message size exceeds fixed limit of 100 octets\r\n" },
    { "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 101 LAST\r\n",
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n" },
    { chunk, "552 5.3.4 Message size exceeds fixed limit of 100 octets\r\n" },
    { "NOOP\r\n", "250 2.0.0 Ok\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&l, steps, FALSE, 0, FALSE);
  g_assert_cmpuint (h->stored->len, ==, 0);
  harness_free (h);
}

static void
test_recipients_policy (void)
{
  const char *const accept[] = { "support@desk.example", "help.example", "@other.example", NULL };
  RdSmtpLimits l = default_limits;
  l.accept_recipients = accept;
  const Step steps[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\n", EHLO_REPLY "250 2.1.0 Ok\r\n" },
    { "RCPT TO:<support@desk.example>\r\n", "250 2.1.5 Ok\r\n" },
    { "RCPT TO:<Support+billing@DESK.example>\r\n", "250 2.1.5 Ok\r\n" },
    { "RCPT TO:<anyone@help.example>\r\nRCPT TO:<x@other.example>\r\n", "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n" },
    { "RCPT TO:<sales@desk.example>\r\n",
      "550 5.1.1 <sales@desk.example>: Recipient address rejected: User unknown\r\n" },
    { "RCPT TO:<support@desk.example>, <nobody@elsewhere.example>\r\n",
      "550 5.1.1 <nobody@elsewhere.example>: Recipient address rejected: User unknown\r\n" },
    { "RCPT TO:<postmaster@anything.example>\r\nRCPT TO:<Postmaster>\r\n", "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n" },
    { "RCPT TO:<>\r\nRCPT TO:<a@b.example> NOTIFY=NEVER\r\n",
      "501 5.1.3 Bad recipient address syntax\r\n555 5.5.4 Unsupported parameter \"NOTIFY=NEVER\"\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&l, steps, FALSE, 0, FALSE));
  g_assert_true (rd_smtp_recipient_accepted (NULL, "whoever@wherever.example"));
  g_assert_false (rd_smtp_recipient_accepted (accept, "support@desk.example.evil"));
  g_assert_false (rd_smtp_recipient_accepted (accept, "+x@desk.example"));
}

static void
test_recipient_limit (void)
{
  RdSmtpLimits l = default_limits;
  GString *rcpts = g_string_new (NULL);
  GString *expect = g_string_new ("250 2.1.0 Ok\r\n");
  for (guint i = 0; i < 101; i++)
    {
      g_string_append_printf (rcpts, "RCPT TO:<r%u@d.example>\r\n", i);
      g_string_append (expect, i < 100 ? "250 2.1.5 Ok\r\n" : "452 4.5.3 Error: too many recipients\r\n");
    }
  g_string_prepend (rcpts, "MAIL FROM:<a@b.example>\r\n");
  const Step steps[] = {
    { "EHLO x\r\n", EHLO_REPLY },
    { rcpts->str, expect->str },
    { "DATA\r\nx\r\n.\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: message Q1 accepted\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&l, steps, FALSE, 0, FALSE);
  g_assert_cmpuint (((RdSpoolItem *) g_ptr_array_index (h->stored, 0))->recipients->len, ==, 100);
  harness_free (h);
  g_string_free (rcpts, TRUE);
  g_string_free (expect, TRUE);
}

static void
test_bdat (void)
{
  const Step steps[] = {
    { "EHLO x\r\nBDAT 5\r\nHELO!", EHLO_REPLY "503 5.5.1 Error: need MAIL command\r\n" },
    { "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 12\r\nSubject: x\n\r",
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 13 octets received\r\n" },
    { "DATA\r\n", "503 5.5.1 Error: DATA after BDAT\r\n" },
    { "BDAT 8 LAST\r\n\n.\r\nbody", "250 2.0.0 Ok: message Q1 accepted\r\n" },
    { "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 3\r\nabcBDAT 0 LAST\r\nNOOP\r\n",
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 3 octets received\r\n"
      "250 2.0.0 Ok: message Q2 accepted\r\n250 2.0.0 Ok\r\n" },
    { "BDAT x\r\n", "501 5.5.4 Syntax: BDAT size [LAST], closing connection\r\n" },
    { NULL, NULL }
  };
  Harness *h = run2 (&default_limits, steps, FALSE, 0, TRUE);
  g_assert_cmpuint (h->stored->len, ==, 2);
  /* Octets as sent, bare LF stored as CRLF, no dot-unstuffing. */
  assert_raw (g_ptr_array_index (h->stored, 0), "Subject: x\r\n\r\n.\r\nbody");
  assert_raw (g_ptr_array_index (h->stored, 1), "abc");
  harness_free (h);
}

/* A client not on the allowlist: 554 at connect, 503 to everything but
 * QUIT (RFC 5321 §3.1). */
static void
test_rejected_client (void)
{
  const Step steps[] = {
    { "EHLO x\r\n", "503 5.7.1 Error: access denied, send QUIT\r\n" },
    { "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nFOO\r\n",
      "503 5.7.1 Error: access denied, send QUIT\r\n503 5.7.1 Error: access denied, send QUIT\r\n"
      "503 5.7.1 Error: access denied, send QUIT\r\n503 5.7.1 Error: access denied, send QUIT\r\n" },
    { "quit\r\n", "221 2.0.0 Bye\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, steps, TRUE, 0, TRUE));
}

static void
test_storage_failures (void)
{
  const Step steps[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
      "451 4.3.0 Local error in processing, try again later\r\n250 2.0.0 Ok\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, steps, FALSE, 1, FALSE));
  const Step full[] = {
    { "EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nx\r\n.\r\n",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
      "452 4.3.1 Insufficient system storage, try again later\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, full, FALSE, 2, FALSE));
}

static void
test_utf8 (void)
{
  const Step steps[] = {
    { "EHLO x\r\nMAIL FROM:<pelé@exemple.example> SMTPUTF8\r\nRCPT TO:<δοκιμή@παράδειγμα.example>\r\n",
      EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n" },
    { "RCPT TO:<bad\xff@x.example>\r\n", "501 5.1.3 Bad recipient address syntax\r\n" },
    { NULL, NULL }
  };
  harness_free (run2 (&default_limits, steps, FALSE, 0, FALSE));
}

typedef struct {
  GString *out;
  gboolean closed;
} Simple;

static void s_write (RdSmtpSession *s, const char *d, gsize n, gpointer u) { g_string_append_len (((Simple *) u)->out, d, n); }
static void s_submit (RdSmtpSession *s, RdSpoolItem *i, gpointer u) { rd_spool_item_free (i); }
static void s_close (RdSmtpSession *s, gpointer u) { ((Simple *) u)->closed = TRUE; }

static void
test_timeouts_and_waits (void)
{
  static const RdSmtpSessionCallbacks cb = { s_write, s_submit, s_close, NULL };
  Simple u = { g_string_new (NULL), FALSE };
  RdSmtpSession *s = rd_smtp_session_new (&default_limits, "192.0.2.9", &cb, &u);
  rd_smtp_session_start (s);
  g_assert_cmpint (rd_smtp_session_get_wait (s), ==, RD_SMTP_WAIT_IDLE);
#define FEED(text) rd_smtp_session_feed (s, text, strlen (text))
  FEED ("EHLO x\r\nMAIL FROM:<a@b.example>\r\n");
  g_assert_cmpint (rd_smtp_session_get_wait (s), ==, RD_SMTP_WAIT_COMMAND);
  FEED ("RCPT TO:<c@d.example>\r\nDATA\r\n");
  g_assert_cmpint (rd_smtp_session_get_wait (s), ==, RD_SMTP_WAIT_DATA);
  g_string_set_size (u.out, 0);
  rd_smtp_session_timeout (s);
  g_assert_cmpstr (u.out->str, ==, "421 4.4.2 " HOST " Error: timeout exceeded\r\n");
  g_assert_true (u.closed);
  g_assert_cmpint (rd_smtp_session_get_wait (s), ==, RD_SMTP_WAIT_NOTHING);
  rd_smtp_session_free (s);

  u.closed = FALSE;
  g_string_set_size (u.out, 0);
  s = rd_smtp_session_new (&default_limits, "192.0.2.9", &cb, &u);
  rd_smtp_session_start_rejected (s, "no");
  g_assert_cmpint (rd_smtp_session_get_wait (s), ==, RD_SMTP_WAIT_REJECTED);
  rd_smtp_session_shutdown (s);
  g_assert_true (g_str_has_suffix (u.out->str, "421 4.3.2 " HOST " Service shutting down, closing connection\r\n"));
  rd_smtp_session_free (s);
  g_string_free (u.out, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_ERROR);
  g_test_add_func ("/smtp-session/telnet-session", test_telnet_session);
  g_test_add_func ("/smtp-session/ehlo-extensions", test_ehlo_extensions);
  g_test_add_func ("/smtp-session/pipelining", test_pipelining);
  g_test_add_func ("/smtp-session/starttls-injection", test_starttls_injection);
  g_test_add_func ("/smtp-session/starttls-unavailable", test_starttls_unavailable);
  g_test_add_func ("/smtp-session/tls-required", test_tls_required);
  g_test_add_func ("/smtp-session/bare-lf-data", test_bare_lf_data);
  g_test_add_func ("/smtp-session/smuggling-lone-dot-lf", test_smuggling_lone_dot_lf);
  g_test_add_func ("/smtp-session/smuggling-variants", test_smuggling_variants);
  g_test_add_func ("/smtp-session/strict-bare-lf", test_strict_bare_lf);
  g_test_add_func ("/smtp-session/line-limits", test_line_limits);
  g_test_add_func ("/smtp-session/errors", test_errors);
  g_test_add_func ("/smtp-session/size-limit", test_size_limit);
  g_test_add_func ("/smtp-session/recipients-policy", test_recipients_policy);
  g_test_add_func ("/smtp-session/recipient-limit", test_recipient_limit);
  g_test_add_func ("/smtp-session/bdat", test_bdat);
  g_test_add_func ("/smtp-session/proxy-untrusted", test_proxy_untrusted);
  g_test_add_func ("/smtp-session/start-refused", test_start_refused);
  g_test_add_func ("/smtp-session/rejected-client", test_rejected_client);
  g_test_add_func ("/smtp-session/storage-failures", test_storage_failures);
  g_test_add_func ("/smtp-session/utf8", test_utf8);
  g_test_add_func ("/smtp-session/timeouts-and-waits", test_timeouts_and_waits);
  return g_test_run ();
}
