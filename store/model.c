/* relaydesk — store: the words of the ticket model (see model.h). */
#include "model.h"

#include <string.h>

#define WORD_(e, s) s,
#define TEXT_(e, s) ", " s

static const char *const ticket_statuses[] = { RD_TICKET_STATUSES (WORD_) };
static const char *const ticket_priorities[] = { RD_TICKET_PRIORITIES (WORD_) };
static const char *const message_directions[] = { RD_MESSAGE_DIRECTIONS (WORD_) };
static const char *const spool_states[] = { RD_SPOOL_STATES (WORD_) };
static const char *const outbox_states[] = { RD_OUTBOX_STATES (WORD_) };
static const char *const outbox_kinds[] = { RD_OUTBOX_KINDS (WORD_) };
static const char *const auth_results[] = { RD_AUTH_RESULTS (WORD_) };

static const char *
word (const char *const *words, guint n, guint v)
{
  return v < n ? words[v] : "unknown";
}

static gboolean
parse (const char *const *words, guint n, const char *s, guint *out)
{
  for (guint i = 0; s && i < n; i++)
    if (strcmp (words[i], s) == 0)
      {
        *out = i;
        return TRUE;
      }
  return FALSE;
}

#define DEFINE_WORDS(Type, prefix, table)                                      \
  const char *prefix##_to_string (Type v)                                      \
  {                                                                            \
    return word (table, G_N_ELEMENTS (table), (guint) v);                      \
  }                                                                            \
  gboolean prefix##_from_string (const char *s, Type *out)                     \
  {                                                                            \
    guint v = 0;                                                               \
    if (!parse (table, G_N_ELEMENTS (table), s, &v))                           \
      return FALSE;                                                            \
    *out = (Type) v;                                                           \
    return TRUE;                                                               \
  }

DEFINE_WORDS (RdTicketStatus, rd_ticket_status, ticket_statuses)
DEFINE_WORDS (RdTicketPriority, rd_ticket_priority, ticket_priorities)
DEFINE_WORDS (RdMessageDirection, rd_message_direction, message_directions)
DEFINE_WORDS (RdSpoolState, rd_spool_state, spool_states)
DEFINE_WORDS (RdOutboxState, rd_outbox_state, outbox_states)
DEFINE_WORDS (RdOutboxKind, rd_outbox_kind, outbox_kinds)
DEFINE_WORDS (RdAuthResult, rd_auth_result, auth_results)

/* ", new, open, ..." without the leading ", ". */
const char *
rd_ticket_statuses_text (void)
{
  return &(RD_TICKET_STATUSES (TEXT_))[2];
}

const char *
rd_ticket_priorities_text (void)
{
  return &(RD_TICKET_PRIORITIES (TEXT_))[2];
}

const char *
rd_outbox_states_text (void)
{
  return &(RD_OUTBOX_STATES (TEXT_))[2];
}

gboolean
rd_ticket_status_is_done (RdTicketStatus v)
{
  return v == RD_TICKET_STATUS_RESOLVED || v == RD_TICKET_STATUS_CLOSED;
}
