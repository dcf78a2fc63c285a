/* relaydesk — store: the words of the ticket model, defined once.
 *
 * Ticket statuses and priorities, message directions, spool and outbox
 * states, outbox kinds and the results of sender authentication. Each list below is the one definition: the
 * schema's CHECK constraints are built from it (store/schema-*.c expand
 * @TICKET_STATUSES@ and friends), the store validates with it, the CLI,
 * the HTTP API and Sieve's vnd.relaydesk.ticket (rules/) accept exactly
 * these words. Values are stored as these lower-case words.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RD_TICKET_STATUSES(X) \
  X (NEW, "new") X (OPEN, "open") X (PENDING, "pending") X (RESOLVED, "resolved") X (CLOSED, "closed")
#define RD_TICKET_PRIORITIES(X) \
  X (LOW, "low") X (NORMAL, "normal") X (HIGH, "high") X (URGENT, "urgent")
#define RD_MESSAGE_DIRECTIONS(X) \
  X (INBOUND, "inbound") X (OUTBOUND, "outbound") X (NOTE, "note")
#define RD_SPOOL_STATES(X) \
  X (NEW, "new") X (PROCESSED, "processed") X (DISCARDED, "discarded") X (QUARANTINED, "quarantined")
#define RD_OUTBOX_STATES(X) \
  X (QUEUED, "queued") X (SENDING, "sending") X (SENT, "sent") X (FAILED, "failed") X (DROPPED, "dropped")
/* RFC 8601 section 2.7 result words of SPF, DKIM and DMARC. */
#define RD_AUTH_RESULTS(X) \
  X (NONE, "none") X (PASS, "pass") X (FAIL, "fail") X (SOFTFAIL, "softfail") X (NEUTRAL, "neutral") \
  X (TEMPERROR, "temperror") X (PERMERROR, "permerror") X (POLICY, "policy")
#define RD_OUTBOX_KINDS(X) \
  X (REPLY, "reply") X (AUTOREPLY, "autoreply") X (REDIRECT, "redirect") X (REJECT, "reject") \
  X (NOTIFICATION, "notification")

#define RD_MODEL_ENUM_TICKET_STATUS_(e, s) RD_TICKET_STATUS_##e,
#define RD_MODEL_ENUM_TICKET_PRIORITY_(e, s) RD_TICKET_PRIORITY_##e,
#define RD_MODEL_ENUM_MESSAGE_(e, s) RD_MESSAGE_##e,
#define RD_MODEL_ENUM_SPOOL_(e, s) RD_SPOOL_##e,
#define RD_MODEL_ENUM_OUTBOX_STATE_(e, s) RD_OUTBOX_##e,
#define RD_MODEL_ENUM_OUTBOX_KIND_(e, s) RD_OUTBOX_##e,
#define RD_MODEL_ENUM_AUTH_(e, s) RD_AUTH_##e,

typedef enum { RD_TICKET_STATUSES (RD_MODEL_ENUM_TICKET_STATUS_) RD_TICKET_STATUS_N } RdTicketStatus;
typedef enum { RD_TICKET_PRIORITIES (RD_MODEL_ENUM_TICKET_PRIORITY_) RD_TICKET_PRIORITY_N } RdTicketPriority;
/* new: not yet seen by an agent; pending: waiting for the customer (an
 * answer from them reopens it); resolved/closed: done (a later message
 * reopens it or opens a linked ticket, per queue). */
typedef enum { RD_MESSAGE_DIRECTIONS (RD_MODEL_ENUM_MESSAGE_) RD_MESSAGE_DIRECTION_N } RdMessageDirection;
typedef enum { RD_SPOOL_STATES (RD_MODEL_ENUM_SPOOL_) RD_SPOOL_STATE_N } RdSpoolState;
typedef enum { RD_OUTBOX_STATES (RD_MODEL_ENUM_OUTBOX_STATE_) RD_OUTBOX_STATE_N } RdOutboxState;
typedef enum { RD_OUTBOX_KINDS (RD_MODEL_ENUM_OUTBOX_KIND_) RD_OUTBOX_KIND_N } RdOutboxKind;
typedef enum { RD_AUTH_RESULTS (RD_MODEL_ENUM_AUTH_) RD_AUTH_RESULT_N } RdAuthResult;

/* What sender authentication (auth/) found for one inbound message, as
 * recorded with it: the SPF result of the envelope sender (or HELO), the
 * best DKIM result, the DMARC result of the From domain, and whether that
 * domain is verified (DMARC pass: an aligned SPF or DKIM pass). A plain
 * value: copy it freely. */
#define RD_AUTH_DOMAIN_MAX 256
typedef struct {
  RdAuthResult spf;
  RdAuthResult dkim;
  RdAuthResult dmarc;
  char from_domain[RD_AUTH_DOMAIN_MAX];   /* lower case; "" when none */
  char dmarc_policy[16];                  /* the domain's p=: "none", "quarantine", "reject"; "" */
  gboolean verified;
} RdAuthSummary;

/* The stored word of each value ("unknown" out of range). */
const char *rd_ticket_status_to_string (RdTicketStatus v);
const char *rd_ticket_priority_to_string (RdTicketPriority v);
const char *rd_message_direction_to_string (RdMessageDirection v);
const char *rd_spool_state_to_string (RdSpoolState v);
const char *rd_outbox_state_to_string (RdOutboxState v);
const char *rd_outbox_kind_to_string (RdOutboxKind v);
const char *rd_auth_result_to_string (RdAuthResult v);

/* Parses a word (exactly as stored, lower case); FALSE when unknown. */
gboolean rd_ticket_status_from_string (const char *s, RdTicketStatus *out);
gboolean rd_ticket_priority_from_string (const char *s, RdTicketPriority *out);
gboolean rd_message_direction_from_string (const char *s, RdMessageDirection *out);
gboolean rd_spool_state_from_string (const char *s, RdSpoolState *out);
gboolean rd_outbox_state_from_string (const char *s, RdOutboxState *out);
gboolean rd_outbox_kind_from_string (const char *s, RdOutboxKind *out);
gboolean rd_auth_result_from_string (const char *s, RdAuthResult *out);

/* The words of a list joined with ", " for messages ("new, open, ...").
 * (transfer none) */
const char *rd_ticket_statuses_text (void);
const char *rd_ticket_priorities_text (void);
const char *rd_outbox_states_text (void);

/* TRUE for a status in which the ticket counts as done (resolved, closed). */
gboolean rd_ticket_status_is_done (RdTicketStatus v);

G_END_DECLS
