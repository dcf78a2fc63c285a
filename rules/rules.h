/* relaydesk — rules: Sieve scripts turned into actions.
 *
 * Input: the parsed view of a message and its envelope. Output: a list of
 * actions. No I/O happens here (DESIGN.md); desk/ carries the actions out.
 */
#pragma once

#include <glib.h>
#include "message.h"

G_BEGIN_DECLS

typedef enum {
  RD_ACTION_KEEP,      /* ticket in the default queue */
  RD_ACTION_FILEINTO,  /* ticket in queue @mailbox */
  RD_ACTION_DISCARD,
} RdActionType;

typedef struct {
  RdActionType type;
  char *mailbox;       /* FILEINTO */
} RdAction;

/* What the rules see besides the message: the envelope and what
 * threading decided (before the rules run). */
typedef struct {
  const char *sender;              /* envelope MAIL FROM, "" for <> */
  const char *recipient;           /* the inbox address the script runs for */
  gboolean followup;               /* continues an existing ticket */
  gint64 ticket_number;            /* the ticket continued, or 0 */
  const char *ticket_queue;        /* its queue, or NULL */
  const char *ticket_tag;          /* its subject tag, e.g. "[RD #42]", or NULL */
} RdEnvelope;

void rd_action_free (RdAction *action);

typedef struct _RdRules RdRules;

/* A rule set with no script: every message takes the implicit keep
 * (RFC 5228 2.10.2). (transfer full) */
RdRules *rd_rules_new_empty (void);
void rd_rules_free (RdRules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdRules, rd_rules_free)

/* Evaluates @rules for one message. Returns RdAction* (transfer full). */
GPtrArray *rd_rules_evaluate (RdRules *rules, const RdMessage *msg,
                              const RdEnvelope *envelope, GError **error);

G_END_DECLS
