/* relaydesk — store: the outbox of messages waiting for the relay, and
 * its states.
 *
 * Every outbound message (agent reply, autoresponse, redirect, reject
 * notice, notification) is a row here first (rd_store_outbox_enqueue);
 * the relay worker sends it and marks it sent only after the relay's 250
 * (DESIGN.md). A row moves
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
 * outbox_events row and moves the delivery state of the ticket's record
 * of the message (tickets.h rd_store_message_set_delivery); failures and
 * drops also add a note to the ticket through the ticket's message writer.
 */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

#define RD_OUTBOX_TEXT_MAX 1000   /* bytes kept of an error text or relay reply */

/* ---- producers ---------------------------------------------------------- */

typedef struct {
  RdOutboxKind kind;
  gint64 ticket_number;    /* 0 when not about a ticket */
  const char *sender;      /* envelope MAIL FROM; "" for <> */
  const char *const *recipients; /* NULL-terminated */
  const char *message_id;  /* of the outbound message, no brackets */
  GBytes *raw;             /* the complete message, CRLF line ends */
} RdOutboxDraft;

/* Queues one message; sets @id. */
gboolean rd_store_outbox_enqueue (RdStore *store, const RdOutboxDraft *draft, gint64 *id, GError **error);

/* The suppression list: addresses no outbound path may send to (filled
 * from permanent delivery failures; every outbound path checks it). */
gboolean rd_store_suppression_add (RdStore *store, const char *address, const char *reason, GError **error);
/* Sets @found when @address (compared case-insensitively) is suppressed;
 * @reason gets the recorded reason (transfer full) when given. FALSE only
 * on a storage error. */
gboolean rd_store_suppression_check (RdStore *store, const char *address, gboolean *found, char **reason,
                                     GError **error);

/* ---- reading ------------------------------------------------------------- */

typedef struct {
  gint64 id;
  RdOutboxKind kind;
  gint64 ticket_number;  /* 0: none */
  char *sender;          /* "" for <> */
  char *message_id;
  GBytes *raw;           /* NULL when listed without bodies */
  GPtrArray *recipients; /* char* */
  RdOutboxState state;
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

/* One row with its body and recipients; RD_ERROR_NOT_FOUND when absent. */
RdOutboxItem *rd_store_outbox_get (RdStore *store, gint64 id, GError **error);
/* Rows, newest first, without bodies; all states unless @has_state.
 * Capped at @limit (0: 100). (transfer full: RdOutboxItem*) */
GPtrArray *rd_store_outbox_list (RdStore *store, gboolean has_state, RdOutboxState state, guint limit,
                                 GError **error);
/* The row's history, oldest first. (transfer full: RdOutboxEvent*) */
GPtrArray *rd_store_outbox_events (RdStore *store, gint64 id, GError **error);
/* Rows per state, indexed by RdOutboxState. */
gboolean rd_store_outbox_counts (RdStore *store, gint64 counts[RD_OUTBOX_STATE_N], GError **error);

/* ---- the worker ------------------------------------------------------------ */

/* Start-up recovery: rows left 'sending' by a process that died go back
 * to 'queued', due now. @n gets how many. */
gboolean rd_store_outbox_recover (RdStore *store, guint *n, GError **error);
/* A node stopping cleanly: its rows still 'sending' go back to 'queued'
 * now (@n: how many; PostgreSQL; SQLite recovers at the next start). */
gboolean rd_store_outbox_release (RdStore *store, guint *n, GError **error);
/* Ids of up to @limit rows in state 'queued' due at @now, oldest due
 * first. (transfer full: GArray of gint64) */
GArray *rd_store_outbox_due (RdStore *store, gint64 now, guint limit, GError **error);
/* Adds a line to the row's history. */
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
 * @who is "guard" (from queued/sending) or "operator" (from queued/failed). */
gboolean rd_store_outbox_mark_dropped (RdStore *store, gint64 id, const char *who,
                                       const char *reason, GError **error);
/* Operator retry: failed/dropped/queued -> queued, due now, with a fresh
 * lifetime. Refuses sent and sending rows (RD_ERROR_INVALID_DATA): a sent
 * row was accepted by the relay and must not go twice. */
gboolean rd_store_outbox_requeue (RdStore *store, gint64 id, GError **error);

/* Messages sent to @address (case-insensitive) since @since (unix s):
 * what the per-recipient caps count. -1 on error. */
gint64 rd_store_outbox_sent_count (RdStore *store, const char *address, gint64 since, GError **error);
/* rd_store_outbox_mark_sending under the per-recipient caps, atomic
 * across nodes: for each of @recipients (NULL-terminated; PostgreSQL: a
 * transaction lock on each, taken in sorted order) counts the messages
 * sent to it in the last hour and day plus those being sent now (other
 * rows in 'sending'), and claims row @id only when every count is under
 * its cap (0: no cap). Over a cap: TRUE, row untouched, @over set to the
 * reason (transfer full). RD_ERROR_NOT_FOUND when the row is no longer
 * queued. */
gboolean rd_store_outbox_claim_capped (RdStore *store, gint64 id, const char *const *recipients,
                                       guint per_hour, guint per_day, char **over, GError **error);
/* Sets @found when a row of the outbox (any state) that we composed (not
 * a redirect, which keeps the original's Message-ID) has Message-ID
 * @message_id (no brackets). FALSE only on a storage error. */
gboolean rd_store_outbox_has_message_id (RdStore *store, const char *message_id, gboolean *found,
                                         GError **error);
/* Times (unix s, oldest first) of the attempts made since @since, from
 * the history: seeds the rate limit after a restart. (transfer full:
 * GArray of gint64) */
GArray *rd_store_outbox_attempts_since (RdStore *store, gint64 since, GError **error);

/* This installation's id (random, made by the migration): the value of
 * the X-Relaydesk-Loop header of everything we send. (transfer full) */
char *rd_store_relay_installation_id (RdStore *store, GError **error);

G_END_DECLS
