/* relaydesk — receiver: the SMTP server session, as a pure state machine.
 *
 * No I/O here: the server feeds received bytes in with
 * rd_smtp_session_feed() and gets reply bytes out through the write
 * callback. A complete message is handed to the submit callback; the
 * session then reads no further input until rd_smtp_session_stored()
 * reports the outcome of the durable commit (so the 250 follows the
 * commit, DESIGN.md), which also makes transcript tests trivial: feed lines,
 * compare replies, in any chunking down to one byte at a time.
 *
 * TLS is the server's business too: the session only says "start TLS now"
 * (starttls callback, after its 220 went out and with every byte that
 * followed the STARTTLS line thrown away, CVE-2011-0411) and is told when
 * the handshake is done (rd_smtp_session_set_tls(), which resets the
 * session as RFC 3207 §4.2 requires).
 */
#pragma once

#include <glib.h>
#include "spool.h"

G_BEGIN_DECLS

typedef struct _RdSmtpSession RdSmtpSession;

/* Settings of a session; every limit is a named setting of [smtp]
 * (docs/receiver.md). Strings and lists are borrowed: they must outlive
 * the session (the server owns them). */
typedef struct {
  const char *hostname;       /* banner and EHLO name */
  guint64 max_message_size;   /* octets; SIZE and DATA/BDAT limit (0: 25 MiB) */
  guint max_recipients;       /* per transaction (0: 100) */
  guint max_errors;           /* per session before 421 (0: no limit) */
  gboolean strict_bare_lf;    /* refuse every bare LF (550 5.5.2 + close) */
  gboolean tls_available;     /* offer STARTTLS */
  gboolean tls_required;      /* 530 5.7.0 to MAIL before TLS */
  /* Accepted recipients: "user@domain" or "domain" / "@domain" entries;
   * NULL or empty accepts every recipient. Plus-addressing is stripped
   * before matching; postmaster is always accepted (RFC 5321 §4.5.1). */
  const char *const *accept_recipients;
} RdSmtpLimits;

typedef struct {
  /* Bytes to send to the client. */
  void (*write) (RdSmtpSession *session, const char *data, gsize len, gpointer user_data);
  /* A complete message (transfer full). Call rd_smtp_session_stored()
   * when it is committed or has failed. */
  void (*submit) (RdSmtpSession *session, RdSpoolItem *item, gpointer user_data);
  /* The session is over: flush pending output and close. */
  void (*close) (RdSmtpSession *session, gpointer user_data);
  /* The 220 to STARTTLS was written: begin the TLS handshake. Call
   * rd_smtp_session_set_tls() once it succeeded. May be NULL when
   * tls_available is FALSE. */
  void (*starttls) (RdSmtpSession *session, gpointer user_data);
} RdSmtpSessionCallbacks;

/* What the session waits for, so that the server can apply the matching
 * timeout (RFC 5321 §4.5.3.2). */
typedef enum {
  RD_SMTP_WAIT_IDLE,      /* next command, no transaction open */
  RD_SMTP_WAIT_COMMAND,   /* next command inside a transaction */
  RD_SMTP_WAIT_DATA,      /* message data (DATA block or BDAT chunk) */
  RD_SMTP_WAIT_REJECTED,  /* a refused client: QUIT, soon */
  RD_SMTP_WAIT_NOTHING,   /* storing, TLS handshake, closed: no client timeout */
} RdSmtpWait;

/* @limits is copied. (transfer full) */
RdSmtpSession *rd_smtp_session_new (const RdSmtpLimits *limits, const char *client_addr,
                                    const RdSmtpSessionCallbacks *callbacks, gpointer user_data);
void rd_smtp_session_free (RdSmtpSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdSmtpSession, rd_smtp_session_free)

/* Sends the 220 banner. */
void rd_smtp_session_start (RdSmtpSession *session);
/* Instead of the banner: refuses the client (RFC 5321 §3.1): "554 5.7.1
 * @text", then 503 to every command until QUIT. @text is one line. */
void rd_smtp_session_start_rejected (RdSmtpSession *session, const char *text);
/* Instead of the banner: writes @line (one reply line, without CRLF,
 * e.g. "421 4.7.0 ... too many connections") and closes; @result is the
 * session log's result. Not counted as a rejection: the caller counts. */
void rd_smtp_session_start_refused (RdSmtpSession *session, const char *line, const char *result);
/* Input from the client, in any chunking. */
void rd_smtp_session_feed (RdSmtpSession *session, const char *data, gsize len);
/* Outcome of a submitted message: @queue_id on success, else @error
 * (RD_ERROR_DISK_FULL -> 452 4.3.1, anything else -> 451 4.3.0). */
void rd_smtp_session_stored (RdSmtpSession *session, const char *queue_id, const GError *error);
/* TLS is up (@version such as "TLSv1.3"). After STARTTLS this resets the
 * session to the state after the banner (RFC 3207 §4.2); for implicit TLS
 * call it before rd_smtp_session_start(). */
void rd_smtp_session_set_tls (RdSmtpSession *session, const char *version);
/* The client went away (EOF or error). */
void rd_smtp_session_disconnected (RdSmtpSession *session);
/* The server's timer for the current wait ran out: 421 4.4.2 and close. */
void rd_smtp_session_timeout (RdSmtpSession *session);
/* The server is shutting down: 421 4.3.2 and close. */
void rd_smtp_session_shutdown (RdSmtpSession *session);
RdSmtpWait rd_smtp_session_get_wait (RdSmtpSession *session);
gboolean rd_smtp_session_is_closed (RdSmtpSession *session);
const char *rd_smtp_session_get_id (RdSmtpSession *session);

/* The recipient policy alone (also used by tests): TRUE when @addr is
 * accepted by @accept (see RdSmtpLimits.accept_recipients). */
gboolean rd_smtp_recipient_accepted (const char *const *accept, const char *addr);

G_END_DECLS
