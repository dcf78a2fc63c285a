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
#include "message.h"
#include "rules.h"
#include "rd-common.h"

struct _RdDesk {
  RdConfig *config;
  RdStore *store;
  RdRules *rules;
  const char *default_queue;
  RdParserLimits parse_limits;  /* [parser] group of the config */
};

/* What threading found. ticket_number == 0: a new ticket. */
typedef struct {
  gint64 ticket_number;
  char *queue;         /* of the existing ticket */
  char *tag;           /* its subject tag */
  char *reason;        /* "references", "reply-address", "subject-tag", ... for the log */
} RdThreadMatch;

void rd_thread_match_clear (RdThreadMatch *match);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdThreadMatch, rd_thread_match_clear)

/* threading.c */
gboolean rd_desk_thread_match (RdDesk *desk, const RdSpooled *spooled, const RdMessage *msg,
                               RdThreadMatch *match, GError **error);

/* actions.c: carries out @actions; sets @ticket_number (0 when no ticket
 * took the message, e.g. discard). Marks the spooled message's final state
 * in the same transaction as its effects. */
gboolean rd_desk_apply_actions (RdDesk *desk, const RdSpooled *spooled, const RdMessage *msg,
                                const RdThreadMatch *match, GPtrArray *actions,
                                gint64 *ticket_number, GError **error);
