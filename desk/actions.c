/* relaydesk — desk: carrying out the actions of the rules (DESIGN.md):
 *   keep / fileinto -> ticket (or follow-up) in a queue, flags as tags;
 *   discard         -> no ticket, the spooled message marked discarded;
 *   redirect        -> the message queued in the outbox to the new address;
 *   reject          -> a rejection notice (RFC 5429 2.1, an MDN) queued;
 *   vacation        -> an autoresponse queued (RFC 5230, RFC 3834), once
 *                      per sender and period according to the response log;
 *   ticket          -> priority, assignee, status, tags on the ticket.
 * Everything for one message happens in one transaction, so processing
 * it again after a crash neither loses nor doubles an effect.
 */
#include "desk-private.h"
#include "outbox.h"
#include "responses.h"
#include "ticket-attrs.h"
#include "mail-format.h"

#include <string.h>

/* ---- duplicate (RFC 7352) -------------------------------------------- */

gboolean
rd_desk_duplicate_check (gpointer data, const char *id, gint64 seconds, gboolean last)
{
  RdDeskDuplicates *d = data;
  gboolean seen = FALSE;
  for (guint i = 0; i < d->pending->len; i++)
    if (!strcmp (g_ptr_array_index (d->pending, i), id))
      seen = TRUE;
  if (!seen && d->error == NULL)
    rd_store_duplicate_seen (d->store, id, g_get_real_time () / G_USEC_PER_SEC, &seen, &d->error);
  /* :last (RFC 7352 3.3): a duplicate does not extend the period. */
  if (!(seen && last) && d->pending->len < 64)
    {
      g_ptr_array_add (d->pending, g_strdup (id));
      g_array_append_val (d->seconds, seconds);
    }
  return seen;
}

/* ---- composing outbound messages ---------------------------------------- */

static char *
new_message_id (RdDesk *d)
{
  g_autofree char *uuid = g_uuid_string_random ();
  return g_strdup_printf ("rd-%s@%s", uuid, rd_config_get_hostname (d->config));
}

/* An autoresponse (RFC 5230, RFC 3834 section 5: Auto-Submitted, and
 * In-Reply-To/References of the message it answers). */
static GBytes *
compose_vacation (RdDesk *d, const RdMessage *msg, const RdAction *a, const char *message_id)
{
  g_autoptr(RdMailDraft) m = rd_mail_draft_new ();
  /* :from as the script wrote it ("Name <addr>"): its display name is
   * kept when its address is the one the rules chose. */
  const char *name = NULL;
  g_autoptr(GPtrArray) from = rd_mail_address_list_parse (a->from_header);
  if (from->len && a->from && g_ascii_strcasecmp (((RdAddress *) g_ptr_array_index (from, 0))->addr, a->from) == 0)
    name = ((RdAddress *) g_ptr_array_index (from, 0))->name;
  rd_mail_draft_set_from (m, name, a->from);
  rd_mail_draft_add_to (m, NULL, a->address);
  rd_mail_draft_set_subject (m, a->subject);
  rd_mail_draft_set_message_id (m, message_id);
  rd_mail_draft_set_parent (m, msg);
  rd_mail_draft_add_header (m, "Auto-Submitted", "auto-replied");
  rd_mail_draft_add_header (m, "X-Auto-Response-Suppress", "All");
  if (a->mime)
    rd_mail_draft_set_mime_entity (m, a->reason); /* headers included (RFC 5230 4.4) */
  else
    rd_mail_draft_set_text (m, a->reason);
  return rd_mail_draft_to_bytes (m);
}

/* RFC 5429 2.1: a rejection after the message was accepted is sent as an
 * MDN (RFC 8098) to the envelope sender, from the null return path. */
static GBytes *
compose_reject (RdDesk *d, const RdMessage *msg, const char *to, const char *recipient, const char *reason,
                const char *message_id)
{
  const char *host = rd_config_get_hostname (d->config);
  g_autoptr(RdMailDraft) m = rd_mail_draft_new ();
  g_autofree char *daemon = g_strdup_printf ("MAILER-DAEMON@%s", host);
  rd_mail_draft_set_from (m, NULL, daemon);
  rd_mail_draft_add_to (m, NULL, to);
  const char *orig_subject = rd_message_get_subject (msg);
  g_autofree char *subject = g_strconcat ("Rejected: ", orig_subject ? orig_subject : "", NULL);
  rd_mail_draft_set_subject (m, subject);
  rd_mail_draft_set_message_id (m, message_id);
  rd_mail_draft_set_parent (m, msg);
  rd_mail_draft_add_header (m, "Auto-Submitted", "auto-replied (rejected)");
  g_autofree char *text = g_strdup_printf ("Your message to <%s> was rejected:\n\n%s", recipient, reason ? reason : "");
  rd_mail_draft_set_text (m, text);
  g_autofree char *ua = g_strdup_printf ("%s; relaydesk", host);
  RdMailMdn mdn = {
    .reporting_ua = ua,
    .final_recipient = recipient,
    .original_message_id = rd_message_get_message_id (msg),
    .disposition = "automatic-action/MDN-sent-automatically; deleted",
    .original = rd_message_get_raw (msg),
  };
  rd_mail_draft_set_mdn (m, &mdn);
  return rd_mail_draft_to_bytes (m);
}

static gboolean
queue_outbound (RdDesk *d, RdOutboxKind kind, gint64 ticket, const char *sender, const char *to,
                const char *message_id, GBytes *raw, GError **error)
{
  g_autofree char *why = NULL;
  if (rd_store_suppression_check (d->store, to, &why, NULL))
    {
      g_autofree char *a = rd_log_escape (to, -1, 256);
      rd_log (RD_LOG_INFO, "desk.outbound-suppressed", "kind=%s to=%s reason=\"%s\"", rd_outbox_kind_to_string (kind), a,
              why ? why : "");
      return TRUE;
    }
  const char *rcpts[2] = { to, NULL };
  RdOutboxDraft draft = { kind, ticket, sender, rcpts, message_id, raw };
  return rd_store_outbox_enqueue (d->store, &draft, NULL, error);
}

/* The default :handle (RFC 5230 4.2): derived from what makes two vacation
 * actions "the same". */
static char *
default_handle (const RdAction *a)
{
  g_autofree char *k = g_strdup_printf ("%s\n%s\n%s", a->subject ? a->subject : "", a->from ? a->from : "",
                                        a->reason ? a->reason : "");
  return g_compute_checksum_for_string (G_CHECKSUM_SHA1, k, -1);
}

static gboolean
do_vacation (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdAction *a, const char *inbox,
             gint64 ticket, GError **error)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *handle = a->handle ? g_strdup (a->handle) : default_handle (a);
  gboolean due = TRUE;
  if (!rd_store_response_due (d->store, inbox, a->address, handle, a->period, now, &due, error))
    return FALSE;
  g_autofree char *to = rd_log_escape (a->address, -1, 256);
  if (!due)
    {
      rd_log (RD_LOG_INFO, "desk.vacation", "queue_id=%s to=%s result=suppressed reason=response-log", sp->queue_id, to);
      return TRUE;
    }
  /* An acknowledgement of a ticket gets a Message-ID signed for it, as an
   * agent's reply does: an answer to it (In-Reply-To) continues the ticket
   * by threading rule 1 (docs/tickets.md) from any address, instead of
   * relying on the subject tag and the sender being a participant. */
  g_autofree char *mid = ticket > 0 ? rd_ticket_ids_new_message_id (d->ids, ticket) : new_message_id (d);
  g_autoptr(GBytes) raw = compose_vacation (d, msg, a, mid);
  /* RFC 3834 3.3: the envelope sender of an automatic response is null. */
  if (!queue_outbound (d, RD_OUTBOX_AUTOREPLY, ticket, "", a->address, mid, raw, error)
      || !rd_store_response_record (d->store, inbox, a->address, handle, now, error))
    return FALSE;
  rd_log (RD_LOG_INFO, "desk.vacation", "queue_id=%s to=%s result=queued", sp->queue_id, to);
  return TRUE;
}

static gboolean
apply_in_tx (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdThreadMatch *match, GPtrArray *actions,
             const RdDeskApplyContext *ctx, gint64 *ticket_number, GError **error)
{
  const char *queue = match->ticket_number ? match->queue : d->default_queue;
  gboolean keep = FALSE;
  RdAction *ticket_attrs = NULL;
  g_autoptr(GPtrArray) tags = g_ptr_array_new ();
  const RdAction *reject = NULL;
  for (guint i = 0; i < actions->len; i++)
    {
      RdAction *a = g_ptr_array_index (actions, i);
      if (a->type == RD_ACTION_KEEP || (a->type == RD_ACTION_FILEINTO && !keep))
        {
          /* One message is one ticket: the first place it is stored
           * decides the queue (keep: the default queue). */
          if (!keep && a->type == RD_ACTION_FILEINTO)
            queue = a->mailbox;
          keep = TRUE;
        }
      if ((a->type == RD_ACTION_KEEP || a->type == RD_ACTION_FILEINTO) && a->flags)
        for (guint k = 0; a->flags[k]; k++)
          g_ptr_array_add (tags, a->flags[k]);
      if (a->type == RD_ACTION_TICKET)
        ticket_attrs = a;
      if (a->type == RD_ACTION_REJECT)
        reject = a;
    }
  *ticket_number = 0;
  const char *inbox = ctx->recipient;
  if (match->ticket_number)
    queue = match->queue;

  if (keep)
    {
      GPtrArray *from = rd_message_get_from (msg);
      const RdAddress *req = from->len ? g_ptr_array_index (from, 0) : NULL;
      const char *addr = req && *req->addr ? req->addr : (*sp->sender ? sp->sender : "unknown");
      const char *name = req && *req->name ? req->name : NULL;
      const char *subject = rd_message_get_subject (msg);
      if (subject == NULL || *subject == '\0')
        subject = "(no subject)";
      if (match->ticket_number)
        {
          RdFollowupDraft f = {
            .ticket_number = match->ticket_number,
            .spool_id = sp->id,
            .message_id = rd_message_get_message_id (msg),
            .from_name = name,
            .from_addr = addr,
            .subject = subject,
            .body_text = rd_message_get_body_text (msg),
          };
          if (!rd_store_ticket_add_message (d->store, &f, NULL, error))
            return FALSE;
          *ticket_number = match->ticket_number;
        }
      else
        {
          RdTicketDraft draft = {
            .queue = queue,
            .subject = subject,
            .requester_name = name,
            .requester_addr = addr,
            .spool_id = sp->id,
            .message_id = rd_message_get_message_id (msg),
            .body_text = rd_message_get_body_text (msg),
          };
          if (!rd_store_ticket_open (d->store, &draft, ticket_number, error))
            return FALSE;
        }
      if (ticket_attrs && ticket_attrs->tags)
        for (guint k = 0; ticket_attrs->tags[k]; k++)
          g_ptr_array_add (tags, ticket_attrs->tags[k]);
      if (ticket_attrs || tags->len)
        {
          g_ptr_array_add (tags, NULL);
          if (!rd_store_ticket_set_attrs (d->store, *ticket_number, ticket_attrs ? ticket_attrs->priority : NULL,
                                          ticket_attrs ? ticket_attrs->assign : NULL,
                                          ticket_attrs ? ticket_attrs->status : NULL,
                                          (const char *const *) tags->pdata, error))
            return FALSE;
        }
      if (ctx->rules_error)
        {
          /* Recorded on the message: the spool row keeps the reason. */
          g_autofree char *reason = g_strdup_printf ("rules runtime error, implicit keep: %s", ctx->rules_error);
          if (!rd_store_spool_set_state (d->store, sp->id, RD_SPOOL_PROCESSED, reason, error))
            return FALSE;
        }
    }
  else
    {
      const char *why = reject ? "rules: reject" : "rules: discard";
      for (guint i = 0; i < actions->len && !reject; i++)
        if (((RdAction *) g_ptr_array_index (actions, i))->type == RD_ACTION_REDIRECT)
          why = "rules: redirect";
      if (!rd_store_spool_set_state (d->store, sp->id, RD_SPOOL_DISCARDED, why, error))
        return FALSE;
    }

  /* ${ticket.*} in texts, now that the ticket exists. */
  const char *tag_now = match->ticket_number ? match->tag : NULL;
  g_autofree char *new_tag = NULL;
  if (*ticket_number && !match->ticket_number)
    tag_now = new_tag = rd_ticket_ids_subject_tag (d->ids, *ticket_number);
  for (guint i = 0; i < actions->len; i++)
    {
      RdAction *a = g_ptr_array_index (actions, i);
      rd_action_expand_ticket (a, *ticket_number, *ticket_number ? queue : NULL, tag_now);
      switch (a->type)
        {
        case RD_ACTION_REDIRECT:
          {
            /* RFC 5228 4.2: the message unchanged, the envelope sender kept. */
            const char *mid = rd_message_get_message_id (msg);
            if (!queue_outbound (d, RD_OUTBOX_REDIRECT, *ticket_number, sp->sender, a->address, mid,
                                 rd_message_get_raw (msg), error))
              return FALSE;
            break;
          }
        case RD_ACTION_REJECT:
          {
            if (*sp->sender == '\0')
              {
                rd_log (RD_LOG_INFO, "desk.reject", "queue_id=%s result=no-notice reason=null-sender", sp->queue_id);
                break;
              }
            g_autofree char *mid = new_message_id (d);
            g_autoptr(GBytes) notice = compose_reject (d, msg, sp->sender, inbox, a->reason, mid);
            if (!queue_outbound (d, RD_OUTBOX_REJECT, *ticket_number, "", sp->sender, mid, notice, error))
              return FALSE;
            break;
          }
        case RD_ACTION_VACATION:
          if (!do_vacation (d, sp, msg, a, inbox, *ticket_number, error))
            return FALSE;
          break;
        case RD_ACTION_VACATION_SUPPRESSED:
          rd_log (RD_LOG_INFO, "desk.vacation", "queue_id=%s result=suppressed reason=%s", sp->queue_id, a->reason);
          break;
        default:
          break;
        }
    }

  if (ctx->duplicates)
    {
      gint64 now = g_get_real_time () / G_USEC_PER_SEC;
      for (guint i = 0; i < ctx->duplicates->pending->len; i++)
        if (!rd_store_duplicate_record (d->store, g_ptr_array_index (ctx->duplicates->pending, i),
                                        g_array_index (ctx->duplicates->seconds, gint64, i), now, error))
          return FALSE;
    }
  return TRUE;
}

gboolean
rd_desk_apply_actions_full (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdThreadMatch *match,
                            GPtrArray *actions, const RdDeskApplyContext *ctx, gint64 *ticket_number, GError **error)
{
  if (!rd_store_begin (d->store, error))
    return FALSE;
  if (!apply_in_tx (d, sp, msg, match, actions, ctx, ticket_number, error))
    {
      rd_store_rollback (d->store);
      *ticket_number = 0;
      return FALSE;
    }
  if (!rd_store_commit (d->store, error))
    {
      *ticket_number = 0;
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_desk_apply_actions (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdThreadMatch *match,
                       GPtrArray *actions, gint64 *ticket_number, GError **error)
{
  RdDeskApplyContext ctx = { NULL, NULL, sp->recipients->len ? g_ptr_array_index (sp->recipients, 0) : "" };
  return rd_desk_apply_actions_full (d, sp, msg, match, actions, &ctx, ticket_number, error);
}
