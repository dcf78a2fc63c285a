/* relaydesk tests — a scriptable SMTP server on 127.0.0.1 for the relay
 * tests (smtp-client, outbox worker).
 *
 * One thread accepts on 127.0.0.1 (an ephemeral port) and serves one
 * connection at a time, line by line, in plain SMTP (RFC 5321). Every
 * event has a default reply (a server that accepts everything); a test
 * queues other answers per event with fake_smtp_on(), each used once, in
 * order, before the defaults apply again. Events:
 *
 *   "CONNECT"  the greeting            "EHLO" / "HELO"
 *   "MAIL"  "RCPT"  "DATA"  "AUTH"  "STARTTLS"  "RSET"  "NOOP"  "QUIT"
 *   (any other command is answered 502)
 *   "BODY"     the first line of the message after the 354 (only its
 *              action counts: FAKE_CLOSE there closes mid-DATA)
 *   "."        the end of the message (the reply to the end of DATA)
 *   "AUTH-LINE"  a SASL response after a 334 (the default AUTH answer)
 *
 * The bytes each connection received are kept exactly (CRLF included; as
 * decrypted, under TLS) in its transcript, written before the server answers them: once the client
 * has its answer, the transcript holds the line that was answered.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  FAKE_REPLY,        /* answer with the reply */
  FAKE_REPLY_CLOSE,  /* answer, then close the connection */
  FAKE_CLOSE,        /* close the connection without an answer */
  FAKE_HANG,         /* never answer: read (and keep) what comes until the client gives up */
} FakeAction;

typedef enum {
  FAKE_TLS_NONE,      /* plain SMTP, no STARTTLS offered */
  FAKE_TLS_IMPLICIT,  /* smtps: TLS from the first byte (RFC 8314) */
  FAKE_TLS_STARTTLS,  /* STARTTLS offered and accepted (RFC 3207) */
} FakeTls;

typedef struct _FakeSmtp FakeSmtp;

/* Starts a plain server. (transfer full) */
FakeSmtp *fake_smtp_new (void);
/* Starts a server with TLS, with a self-signed certificate for 127.0.0.1
 * made for it (fake_smtp_ca_file()). (transfer full) */
FakeSmtp *fake_smtp_new_tls (FakeTls tls);
/* Stops the server (a hanging connection is cut) and frees it. */
void fake_smtp_free (FakeSmtp *fs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeSmtp, fake_smtp_free)

/* "smtp://127.0.0.1:PORT" ("smtps://" for implicit TLS). (transfer full) */
char *fake_smtp_url (FakeSmtp *fs);
/* The PEM file of the server's certificate, to trust it; NULL for a
 * plain server. (transfer none) */
const char *fake_smtp_ca_file (FakeSmtp *fs);

/* Queues the answer to the next @event; @reply is one or more reply lines
 * separated by "\n" (CRLF is added), NULL for FAKE_CLOSE and FAKE_HANG. */
void fake_smtp_on (FakeSmtp *fs, const char *event, FakeAction action, const char *reply);

/* Connections accepted so far. */
guint fake_smtp_connections (FakeSmtp *fs);
/* The bytes connection @n (0: the first) received so far, or NULL when
 * there is no such connection. (transfer full) */
char *fake_smtp_transcript (FakeSmtp *fs, guint n);
/* Blocks until @n connections are over, closed by either side. When the
 * server closes one, it is over only once the client's side has received
 * the close (the client's kernel acknowledged the FIN), so a client that
 * looks at its idle connection afterwards finds it closed. Fails the test
 * after 10 s. */
void fake_smtp_wait_closed (FakeSmtp *fs, guint n);

/* The server stops before answering the next @event (the command has
 * been read and recorded) until fake_smtp_release(): a test looks at the
 * client's side while the client waits for that answer. */
void fake_smtp_hold (FakeSmtp *fs, const char *event);
/* Blocks until the server is stopped by fake_smtp_hold(); fails the test
 * after 10 s. */
void fake_smtp_wait_held (FakeSmtp *fs);
void fake_smtp_release (FakeSmtp *fs);

/* An smtp:// URL on 127.0.0.1 where connections are refused: a port bound
 * by @keep (which the caller unrefs when done) and not listening, so that
 * nothing else can take it meanwhile. (transfer full) */
char *fake_smtp_refusing_url (GSocket **keep);

G_END_DECLS
