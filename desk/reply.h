/* relaydesk — desk: agent replies, composed and queued for the relay.
 *
 * One RFC 5322 message per reply: From the queue's address, Reply-To the
 * ticket's signed reply address, To the requester (and, with reply-all,
 * Cc the other participants), minus suppressed addresses; a signed
 * Message-ID, In-Reply-To the newest message of the thread, References
 * the thread's ids capped at RD_MAIL_REFERENCES_MAX bytes with the
 * oldest trimmed (RFC 5322 3.6.4, parser/mail-format.h composes it), and
 * the subject tag. It is queued with
 * rd_store_outbox_enqueue and recorded on the ticket as 'outbound' in the
 * same transaction. This is the operation the CLI (and later the web API)
 * calls.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "store.h"
#include "tickets.h"

G_BEGIN_DECLS

#define RD_REPLY_BODY_MAX (1024 * 1024)

typedef struct {
  gint64 ticket_number;
  const char *body;          /* UTF-8 text */
  const char *author;        /* the agent, for the audit log */
  gboolean reply_all;        /* Cc the other participants */
  const char *set_status;    /* status after replying (e.g. "pending"), or NULL */
  const RdAttachmentDraft *attachments;   /* sent after the text, recorded on the ticket */
  guint n_attachments;
} RdReplyDraft;

typedef struct {
  char *message_id;          /* no brackets */
  gint64 outbox_id;
  gint64 message_row;
  GPtrArray *recipients;     /* char*, the addresses queued */
  GPtrArray *suppressed;     /* char*, left out because suppressed */
  char *subject;
} RdReplyResult;

void rd_reply_result_clear (RdReplyResult *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdReplyResult, rd_reply_result_clear)

/* Errors: RD_ERROR_NOT_FOUND (no ticket), RD_ERROR_INVALID_DATA (empty
 * body, every recipient suppressed), storage errors. */
gboolean rd_desk_reply (RdConfig *config, RdStore *store, const RdReplyDraft *draft, RdReplyResult *result,
                        GError **error);

G_END_DECLS
