/* relaydesk — receiver: the SMTP server session, as a pure state machine.
 *
 * No I/O here: the server feeds received bytes in with
 * rd_smtp_session_feed() and gets reply bytes out through the write
 * callback. A complete message is handed to the submit callback; the
 * session then reads no further input until rd_smtp_session_stored()
 * reports the outcome of the durable commit (so the 250 follows the
 * commit, DESIGN.md), which also makes transcript tests trivial: feed lines,
 * compare replies, in any chunking down to one byte at a time.
 */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

typedef struct _RdSmtpSession RdSmtpSession;

typedef struct {
  const char *hostname;       /* banner and EHLO name */
  guint64 max_message_size;   /* octets; SIZE and DATA limit */
  guint max_recipients;       /* per transaction */
  guint max_errors;           /* per session before 421 */
} RdSmtpLimits;

typedef struct {
  /* Bytes to send to the client. */
  void (*write) (RdSmtpSession *session, const char *data, gsize len, gpointer user_data);
  /* A complete message (transfer full). Call rd_smtp_session_stored()
   * when it is committed or has failed. */
  void (*submit) (RdSmtpSession *session, RdSpoolItem *item, gpointer user_data);
  /* The session is over: flush pending output and close. */
  void (*close) (RdSmtpSession *session, gpointer user_data);
} RdSmtpSessionCallbacks;

/* @limits is copied. (transfer full) */
RdSmtpSession *rd_smtp_session_new (const RdSmtpLimits *limits, const char *client_addr,
                                    const RdSmtpSessionCallbacks *callbacks, gpointer user_data);
void rd_smtp_session_free (RdSmtpSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdSmtpSession, rd_smtp_session_free)

/* Sends the 220 banner. */
void rd_smtp_session_start (RdSmtpSession *session);
/* Input from the client, in any chunking. */
void rd_smtp_session_feed (RdSmtpSession *session, const char *data, gsize len);
/* Outcome of a submitted message: @queue_id on success, else @error
 * (RD_ERROR_DISK_FULL -> 452 4.3.1, anything else -> 451 4.3.0). */
void rd_smtp_session_stored (RdSmtpSession *session, const char *queue_id, const GError *error);
/* The client went away (EOF or error). */
void rd_smtp_session_disconnected (RdSmtpSession *session);
gboolean rd_smtp_session_is_closed (RdSmtpSession *session);
const char *rd_smtp_session_get_id (RdSmtpSession *session);

G_END_DECLS
