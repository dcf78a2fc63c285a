/* relaydesk — desk: threading, which ticket a message continues.
 *
 * Decided before the rules run, so `followup` and ${ticket.*} are right.
 * In this order (ticket-ids.h has the formats):
 *   1. In-Reply-To / References naming a Message-ID we signed for a
 *      ticket (newest reference first);
 *   2. a recipient (envelope, To, Cc) that is a ticket's signed reply
 *      address;
 *   3. the subject tag "[RD #N]" AND the sender (From) is a participant
 *      of ticket N.
 *    The From domain must also pass DMARC (auth/: aligned SPF or DKIM),
 *    or anyone could write as a participant: [desk] subject_tag_auth =
 *    dmarc-pass (default); allow-none also accepts a domain that
 *    publishes no DMARC policy, any accepts every domain (both logged).
 * A subject tag from anyone else does not attach: [desk] stranger_tag =
 * "new" (default) opens a new ticket linked to N, "quarantine" holds the
 * message. A follow-up to a resolved or closed ticket reopens it or opens
 * a new linked ticket: [queue.NAME] closed_followup, else [desk]
 * closed_followup, "reopen" (default) or "new".
 * Unsigned Message-IDs (the customer's own, or forged ones) never thread:
 * that is what keeps strangers out of other people's tickets.
 */
#include "desk-private.h"
#include "tickets.h"

#include <string.h>

#define REFERENCES_CHECKED_MAX 64

void
rd_thread_match_clear (RdThreadMatch *m)
{
  g_clear_pointer (&m->queue, g_free);
  g_clear_pointer (&m->tag, g_free);
  g_clear_pointer (&m->reason, g_free);
  g_clear_pointer (&m->quarantine, g_free);
  m->ticket_number = 0;
  m->linked_ticket = 0;
  m->reopen = FALSE;
}

/* Ticket @number when it exists; NULL (and no error) when it does not. */
static gboolean
existing_ticket (RdDesk *d, gint64 number, RdTicket **out, GError **error)
{
  g_autoptr(GError) local = NULL;
  *out = rd_store_ticket_peek (d->store, number, &local);
  if (*out != NULL)
    return TRUE;
  if (g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

static const char *
closed_policy (RdDesk *d, const char *queue)
{
  g_autofree char *group = g_strdup_printf ("queue.%s", queue);
  const char *v = rd_config_get_string (d->config, group, "closed_followup", NULL);
  return v ? v : rd_config_get_string (d->config, "desk", "closed_followup", "reopen");
}

static gboolean
by_references (RdDesk *d, const RdMessage *msg, gint64 *number)
{
  const char *const *refs = rd_message_get_references (msg);
  const char *irt = rd_message_get_in_reply_to (msg);
  if (irt && rd_ticket_ids_check_message_id (d->ids, irt, number))
    return TRUE;
  guint n = g_strv_length ((char **) refs);
  /* Newest first; a cap on how many we look at. */
  for (guint i = 0; i < n && i < REFERENCES_CHECKED_MAX; i++)
    if (rd_ticket_ids_check_message_id (d->ids, refs[n - 1 - i], number))
      return TRUE;
  return FALSE;
}

static gboolean
by_reply_address (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, gint64 *number)
{
  for (guint i = 0; i < sp->recipients->len; i++)
    if (rd_ticket_ids_check_reply_address (d->ids, g_ptr_array_index (sp->recipients, i), number))
      return TRUE;
  GPtrArray *lists[] = { rd_message_get_to (msg), rd_message_get_cc (msg) };
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    for (guint i = 0; i < lists[l]->len; i++)
      {
        const RdAddress *a = g_ptr_array_index (lists[l], i);
        if (rd_ticket_ids_check_reply_address (d->ids, a->addr, number))
          return TRUE;
      }
  return FALSE;
}

static gboolean thread_match (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdAuthSummary *auth,
                              RdThreadMatch *match, GError **error);

/* Whether the From address @addr of a participant is authenticated
 * enough for the subject-tag rule ([desk] subject_tag_auth). */
static gboolean
subject_tag_sender_ok (RdDesk *d, const RdSpooled *sp, const RdAuthSummary *auth, const char *addr)
{
  const char *at = addr ? strrchr (addr, '@') : NULL;
  gboolean same_domain = auth && at && g_ascii_strcasecmp (at + 1, auth->from_domain) == 0;
  if (same_domain && auth->verified)
    return TRUE;
  const char *policy = rd_config_get_string (d->config, "desk", "subject_tag_auth", "dmarc-pass");
  gboolean ok = g_strcmp0 (policy, "any") == 0
                || (g_strcmp0 (policy, "allow-none") == 0 && same_domain && auth->dmarc == RD_AUTH_NONE);
  g_autofree char *who = rd_log_escape (addr ? addr : "", -1, 256);
  rd_log (ok ? RD_LOG_INFO : RD_LOG_WARN, "desk.subject_tag_unverified",
          "queue_id=%s from=%s dmarc=%s policy=%s action=%s", sp->queue_id, who,
          auth ? rd_auth_result_to_string (auth->dmarc) : "unknown", policy, ok ? "attach" : "stranger");
  return ok;
}

gboolean
rd_desk_thread_match (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdAuthSummary *auth,
                      RdThreadMatch *match, GError **error)
{
  if (!thread_match (d, sp, msg, auth, match, error))
    return FALSE;
  if (match->ticket_number || match->linked_ticket || match->quarantine)
    rd_log (RD_LOG_INFO, "desk.thread", "queue_id=%s ticket=%" G_GINT64_FORMAT " linked=%" G_GINT64_FORMAT
            " reason=%s reopen=%s quarantine=%s", sp->queue_id, match->ticket_number, match->linked_ticket,
            match->reason ? match->reason : "-", match->reopen ? "yes" : "no", match->quarantine ? "yes" : "no");
  return TRUE;
}

static gboolean
thread_match (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdAuthSummary *auth,
              RdThreadMatch *match, GError **error)
{
  rd_thread_match_clear (match);
  gint64 number = 0;
  const char *reason = NULL;
  if (by_references (d, msg, &number))
    reason = "references";
  else if (by_reply_address (d, sp, msg, &number))
    reason = "reply-address";

  g_autoptr(RdTicket) t = NULL;
  if (reason && !existing_ticket (d, number, &t, error))
    return FALSE;
  if (reason && t == NULL)
    reason = NULL; /* signed for a ticket that is gone: treat as new */

  if (reason == NULL && rd_ticket_ids_parse_subject_tag (d->ids, rd_message_get_subject (msg), &number))
    {
      if (!existing_ticket (d, number, &t, error))
        return FALSE;
      if (t != NULL)
        {
          GPtrArray *from = rd_message_get_from (msg);
          const RdAddress *a = from->len ? g_ptr_array_index (from, 0) : NULL;
          gboolean participant = FALSE;
          if (a && !rd_store_ticket_is_participant (d->store, number, a->addr, &participant, error))
            return FALSE;
          if (participant && subject_tag_sender_ok (d, sp, auth, a->addr))
            reason = "subject-tag";
          else
            {
              /* A stranger naming someone else's ticket (or a participant's
               * address from a domain that did not authenticate it). */
              const char *policy = rd_config_get_string (d->config, "desk", "stranger_tag", "new");
              if (g_strcmp0 (policy, "quarantine") == 0)
                match->quarantine = g_strdup_printf ("subject tag of ticket #%" G_GINT64_FORMAT
                                                     " from a non-participant", number);
              else
                {
                  match->linked_ticket = number;
                  match->reason = g_strdup ("subject-tag-stranger");
                }
              return TRUE;
            }
        }
    }
  if (reason == NULL)
    return TRUE;

  if (rd_ticket_status_is_done (t->status))
    {
      if (g_strcmp0 (closed_policy (d, t->queue), "new") == 0)
        {
          match->linked_ticket = t->number;
          match->reason = g_strdup_printf ("%s-closed-new", reason);
          return TRUE;
        }
      match->reopen = TRUE;
    }
  match->ticket_number = t->number;
  match->queue = g_strdup (t->queue);
  match->tag = rd_ticket_ids_subject_tag (d->ids, t->number);
  match->reason = g_strdup (reason);
  return TRUE;
}

gboolean
rd_desk_thread_preview (RdConfig *config, RdStore *store, const RdMessage *msg, const char *sender,
                        const char *recipient, const RdAuthSummary *auth, gint64 *number, char **queue, char **tag,
                        GError **error)
{
  *number = 0;
  *queue = *tag = NULL;
  g_autoptr(RdTicketIds) ids = rd_ticket_ids_new (config, store, error);
  if (ids == NULL)
    return FALSE;
  RdDesk d = { .config = config, .store = store, .ids = ids,
               .default_queue = rd_config_get_string (config, "desk", "default_queue", RD_DEFAULT_QUEUE) };
  g_autoptr(GPtrArray) rcpts = g_ptr_array_new ();
  if (recipient && *recipient)
    g_ptr_array_add (rcpts, (gpointer) recipient);
  RdSpooled sp = { .queue_id = (char *) "preview", .sender = (char *) (sender ? sender : ""),
                   .recipients = rcpts, .raw = rd_message_get_raw (msg) };
  g_auto(RdThreadMatch) match = { 0 };
  if (!thread_match (&d, &sp, msg, auth, &match, error))
    return FALSE;
  *number = match.ticket_number;
  *queue = g_steal_pointer (&match.queue);
  *tag = g_steal_pointer (&match.tag);
  return TRUE;
}
