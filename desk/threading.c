/* relaydesk — desk: threading, which ticket a message continues.
 *
 * This version threads nothing: every message opens a new ticket. The
 * tickets stage replaces it with signed Message-IDs, reply addresses and
 * subject tags checked against participants.
 */
#include "desk-private.h"

void
rd_thread_match_clear (RdThreadMatch *m)
{
  g_clear_pointer (&m->queue, g_free);
  g_clear_pointer (&m->tag, g_free);
  g_clear_pointer (&m->reason, g_free);
  m->ticket_number = 0;
}

gboolean
rd_desk_thread_match (RdDesk *desk, const RdSpooled *spooled, const RdMessage *msg,
                      RdThreadMatch *match, GError **error)
{
  match->ticket_number = 0;
  return TRUE;
}
