/* relaydesk — desk internals, shared by desk/ sources only.
 *
 * Processing one spooled message (desk.c) is three steps, each in its own
 * file so that they can grow apart:
 *   threading.c  which existing ticket, if any, the message continues
 *                (decided before the rules, so `followup` and ${ticket.*}
 *                are right);
 *   rules/       what the rules say (a list of actions);
 *   actions.c    carrying the actions out: ticket or follow-up in a queue,
 *                discard, outbound messages queued in the outbox.
 */
#pragma once

#include "desk.h"
#include "spool.h"
#include "tickets.h"
#include "message.h"
#include "rules.h"
#include "rd-common.h"
#include "ticket-ids.h"
#include "auth.h"

/* desk-rules.c: the compiled scripts per inbox. */
typedef struct _RdDeskRules RdDeskRules;

/* Loads the scripts [rules] names. Without @previous any script that
 * fails to compile is an error; with it (a reload), a failing inbox keeps
 * its chain from @previous (stolen from it), the error is logged and
 * counted in @n_failed. */
RdDeskRules *rd_desk_rules_load (RdConfig *config, RdDeskRules *previous, guint *n_failed, GError **error);
void rd_desk_rules_free (RdDeskRules *rules);
/* The chain for @recipient (transfer none). */
RdRules *rd_desk_rules_for (RdDeskRules *rules, const char *recipient);
void rd_desk_rules_limits (RdConfig *config, RdRulesLimits *limits);

struct _RdDesk {
  RdConfig *config;
  RdStore *store;
  RdDeskRules *rules;
  const char *default_queue;
  RdTicketIds *ids;    /* signed ids, reply addresses, subject tags */
  RdParserLimits parse_limits;  /* [parser] group of the config */
  RdAuth *auth;                 /* sender authentication (auth/) */
};

/* What threading found. ticket_number == 0: a new ticket. */
typedef struct {
  gint64 ticket_number;
  char *queue;         /* of the existing ticket */
  char *tag;           /* its subject tag */
  char *reason;        /* "references", "reply-address", "subject-tag", ... for the log */
  /* Set by threading for desk.c/inbound.c (ticket_number stays 0 then): */
  gint64 linked_ticket;   /* a new ticket opened instead of following up on this one */
  char *quarantine;       /* non-NULL: quarantine with this reason (stranger_tag = quarantine) */
  gboolean reopen;        /* the ticket continued was resolved/closed: reopen it */
} RdThreadMatch;

void rd_thread_match_clear (RdThreadMatch *match);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdThreadMatch, rd_thread_match_clear)

/* threading.c. @auth: what sender authentication found (NULL: not
 * known, as for an unverified sender). */
gboolean rd_desk_thread_match (RdDesk *desk, const RdSpooled *spooled, const RdMessage *msg,
                               const RdAuthSummary *auth, RdThreadMatch *match, GError **error);

/* inbound.c: what recording an inbound message on a ticket takes: the
 * store's message draft built from the view (addresses, body hash,
 * attachments), owning what it points to. */
typedef struct {
  RdMessageDraft draft;
  char *requester_name;
  char *requester_addr;
  char *subject;
  char *to;
  char *cc;
  char *hash;
  GArray *attachment_drafts; /* RdAttachmentDraft, pointing into the view */
} RdInboundRecord;

/* @auth (may be NULL) is recorded with the message; it must outlive @r. */
void rd_inbound_record_init (RdInboundRecord *r, const RdSpooled *spooled, const RdMessage *msg,
                             const RdAuthSummary *auth);
void rd_inbound_record_clear (RdInboundRecord *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdInboundRecord, rd_inbound_record_clear)

/* inbound.c: opens @tx and, before threading, handles dedupe and
 * delivery reports about our own mail. @done is TRUE when the spooled
 * message reached its final state here (committed; the rules do not
 * run), or another process finished it meanwhile. */
gboolean rd_desk_inbound_begin (RdDesk *desk, const RdSpooled *spooled, const RdMessage *msg,
                                const RdAuthSummary *auth, RdStoreTx *tx, gboolean *done, GError **error);
/* inbound.c: after the actions put the message on ticket @number (0:
 * none): participants, links, reopening; then commits @tx. */
gboolean rd_desk_inbound_finish (RdDesk *desk, const RdSpooled *spooled, const RdMessage *msg,
                                 const RdThreadMatch *match, gint64 number, RdStoreTx *tx, GError **error);

/* actions.c: carries out @actions; sets @ticket_number (0 when no ticket
 * took the message, e.g. discard). Marks the spooled message's final state
 * in the same transaction as its effects. */
gboolean rd_desk_apply_actions (RdDesk *desk, const RdSpooled *spooled, const RdMessage *msg,
                                const RdThreadMatch *match, GPtrArray *actions,
                                gint64 *ticket_number, GError **error);

/* actions.c: what the rules need from the store while they run
 * (duplicate ids, RFC 7352): checked during evaluation, recorded with the
 * message's effects. */
typedef struct {
  RdStore *store;
  GPtrArray *pending;   /* char* ids to record */
  GArray *seconds;      /* gint64, parallel to @pending */
  GError *error;
} RdDeskDuplicates;

gboolean rd_desk_duplicate_check (gpointer data, const char *id, gint64 seconds, gboolean last);
/* Set by desk.c before rd_desk_apply_actions(): the run-time error of the
 * rules (recorded as the spool state_reason) and the duplicate ids. */
typedef struct {
  const char *rules_error;
  RdDeskDuplicates *duplicates;
  const char *recipient;
  const RdAuthSummary *auth;   /* recorded with the message; NULL: not known */
} RdDeskApplyContext;

gboolean rd_desk_apply_actions_full (RdDesk *desk, const RdSpooled *spooled, const RdMessage *msg,
                                     const RdThreadMatch *match, GPtrArray *actions,
                                     const RdDeskApplyContext *context, gint64 *ticket_number, GError **error);
