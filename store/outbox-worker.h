/* relaydesk — store: the outbox, worker and operator side.
 *
 * The producer side is outbox.h. A row moves
 *
 *   queued --claim--> sending --250--> sent
 *      ^                 |---4xx/connection--> queued (next_attempt_at later)
 *      |                 |---5xx or lifetime over--> failed
 *      |                 `---guard--> dropped
 *      `--- operator retry (failed/dropped) ; operator drop (queued/failed)
 *
 * 'sending' is set, durably, right before the relay is given the message,
 * and 'sent' right after its 250. A process that dies in between leaves
 * the row 'sending'; rd_store_outbox_recover() puts it back to 'queued' at
 * the next start (at-least-once: the relay may have accepted it, see
 * docs/relay.md "The duplicate window"). Every transition writes an
 * outbox_events row; failures and drops also add a note to the ticket.
 */
#pragma once

#include <glib.h>
#include "store.h"
#include "outbox.h"

G_BEGIN_DECLS

/* Parses "reply", "autoreply", ...; FALSE when unknown. */
gboolean rd_outbox_kind_from_string (const char *text, RdOutboxKind *kind);

typedef struct {
  gint64 id;
  RdOutboxKind kind;
  gint64 ticket_number;  /* 0: none */
  char *sender;          /* "" for <> */
  char *message_id;
  GBytes *raw;           /* NULL when listed without bodies */
  GPtrArray *recipients; /* char* */
  char *state;           /* queued, sending, sent, failed, dropped */
  guint attempts;
  char *last_error;
  char *relay_reply;
  gint64 created_at;
  gint64 next_attempt_at;
  gint64 sent_at;        /* 0: not sent */
  gint64 lifetime_from;  /* start of the retry lifetime */
} RdOutboxItem;

void rd_outbox_item_free (RdOutboxItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdOutboxItem, rd_outbox_item_free)

typedef struct {
  gint64 at;
  char *event;
  char *detail;
} RdOutboxEvent;

void rd_outbox_event_free (RdOutboxEvent *ev);

/* Start-up recovery: rows left 'sending' by a process that died go back
 * to 'queued', due now. @n gets how many. */
gboolean rd_store_outbox_recover (RdStore *store, guint *n, GError **error);

/* Ids of up to @limit rows in state 'queued' due at @now, oldest due
 * first. (transfer full: GArray of gint64) */
GArray *rd_store_outbox_due (RdStore *store, gint64 now, guint limit, GError **error);

/* One row with its body and recipients; RD_ERROR_NOT_FOUND when absent. */
RdOutboxItem *rd_store_outbox_get (RdStore *store, gint64 id, GError **error);

/* Rows, newest first, without bodies; @state NULL for all. Capped at
 * @limit (0: 100). (transfer full: RdOutboxItem*) */
GPtrArray *rd_store_outbox_list (RdStore *store, const char *state, guint limit, GError **error);

/* The row's history, oldest first. (transfer full: RdOutboxEvent*) */
GPtrArray *rd_store_outbox_events (RdStore *store, gint64 id, GError **error);
gboolean rd_store_outbox_add_event (RdStore *store, gint64 id, const char *event,
                                    const char *detail, GError **error);

/* queued -> sending, counting the attempt. RD_ERROR_NOT_FOUND when the
 * row is no longer queued (an operator dropped it meanwhile). */
gboolean rd_store_outbox_mark_sending (RdStore *store, gint64 id, GError **error);
/* sending -> sent, keeping the relay's final reply text. */
gboolean rd_store_outbox_mark_sent (RdStore *store, gint64 id, const char *relay_reply, GError **error);
/* sending -> queued, due at @next_attempt_at. */
gboolean rd_store_outbox_mark_retry (RdStore *store, gint64 id, const char *error_text,
                                     const char *relay_reply, gint64 next_attempt_at, GError **error);
/* sending/queued -> failed; notes it on the ticket. */
gboolean rd_store_outbox_mark_failed (RdStore *store, gint64 id, const char *error_text,
                                      const char *relay_reply, GError **error);
/* queued/sending/failed -> dropped with @reason; notes it on the ticket.
 * @who is "guard" or "operator". */
gboolean rd_store_outbox_mark_dropped (RdStore *store, gint64 id, const char *who,
                                       const char *reason, GError **error);
/* Operator retry: failed/dropped/queued -> queued, due now, with a fresh
 * lifetime. Refuses sent and sending rows (RD_ERROR_INVALID_DATA): a sent
 * row was accepted by the relay and must not go twice. */
gboolean rd_store_outbox_requeue (RdStore *store, gint64 id, GError **error);

/* Messages sent to @address (case-insensitive) since @since (unix s):
 * what the per-recipient caps count. -1 on error. */
gint64 rd_store_outbox_sent_count (RdStore *store, const char *address, gint64 since, GError **error);

/* TRUE when a row of the outbox (any state) that we composed (not a
 * redirect, which keeps the original's Message-ID) has Message-ID
 * @message_id (no brackets). FALSE with @error on storage errors. */
gboolean rd_store_outbox_has_message_id (RdStore *store, const char *message_id, GError **error);

/* Times (unix s, oldest first) of the attempts made since @since, from
 * the history: seeds the rate limit after a restart. (transfer full:
 * GArray of gint64) */
GArray *rd_store_outbox_attempts_since (RdStore *store, gint64 since, GError **error);

/* Rows per state: queued, sending, sent, failed, dropped. */
gboolean rd_store_outbox_counts (RdStore *store, gint64 counts[5], GError **error);

/* This installation's id (random, made by the migration): the value of
 * the X-Relaydesk-Loop header of everything we send. (transfer full) */
char *rd_store_relay_installation_id (RdStore *store, GError **error);

G_END_DECLS
