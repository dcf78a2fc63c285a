/* relaydesk — store: the outbox of messages waiting for the relay.
 *
 * Every outbound message (agent reply, autoresponse, redirect, reject
 * notice, notification) is a row here first; the relay worker sends it and
 * marks it sent only after the relay's 250 (DESIGN.md). This header is the
 * producer side; the relay stage adds the worker side (claim, mark sent,
 * retry) in this file.
 */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

typedef enum {
  RD_OUTBOX_REPLY,         /* agent reply */
  RD_OUTBOX_AUTOREPLY,     /* acknowledgement / vacation (RFC 3834) */
  RD_OUTBOX_REDIRECT,      /* Sieve redirect */
  RD_OUTBOX_REJECT,        /* Sieve reject notice */
  RD_OUTBOX_NOTIFICATION,  /* anything else relaydesk generates */
} RdOutboxKind;

const char *rd_outbox_kind_to_string (RdOutboxKind kind);

typedef struct {
  RdOutboxKind kind;
  gint64 ticket_number;    /* 0 when not about a ticket */
  const char *sender;      /* envelope MAIL FROM; "" for <> */
  const char *const *recipients; /* NULL-terminated */
  const char *message_id;  /* of the outbound message, no brackets */
  GBytes *raw;             /* the complete message, CRLF line ends */
} RdOutboxDraft;

/* Queues one message; sets @id. Atomic on its own, or part of the
 * caller's transaction when called inside one (rd_store_begin). */
gboolean rd_store_outbox_enqueue (RdStore *store, const RdOutboxDraft *draft, gint64 *id, GError **error);

/* The suppression list: addresses no outbound path may send to (filled
 * from permanent delivery failures; every outbound path checks it). */
gboolean rd_store_suppression_add (RdStore *store, const char *address, const char *reason, GError **error);
/* TRUE when @address (compared case-insensitively) is suppressed; @reason
 * gets the recorded reason (transfer full) when given. */
gboolean rd_store_suppression_check (RdStore *store, const char *address, char **reason, GError **error);

G_END_DECLS
