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
#include "rd-metrics.h"
#include "outbox.h"
#include "responses.h"
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

/* Queues one message for @to unless @to is on the suppression list;
 * @queued (may be NULL) says which. */
static gboolean
queue_outbound (RdDesk *d, RdOutboxKind kind, gint64 ticket, const char *sender, const char *to,
                const char *message_id, GBytes *raw, gboolean *queued, GError **error)
{
  g_autofree char *why = NULL;
  gboolean suppressed = FALSE;
  if (queued)
    *queued = FALSE;
  if (!rd_store_suppression_check (d->store, to, &suppressed, &why, error))
    return FALSE;
  if (queued)
    *queued = !suppressed;
  if (suppressed)
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
      rd_metric_inc (RD_METRIC_VACATION, "suppressed");
      return TRUE;
    }
  /* An acknowledgement of a ticket gets a Message-ID signed for it, as an
   * agent's reply does: an answer to it (In-Reply-To) continues the ticket
   * by threading rule 1 (docs/tickets.md) from any address, instead of
   * relying on the subject tag and the sender being a participant. */
  g_autofree char *mid = ticket > 0 ? rd_ticket_ids_new_message_id (d->ids, ticket) : new_message_id (d);
  g_autoptr(GBytes) raw = compose_vacation (d, msg, a, mid);
  /* RFC 3834 3.3: the envelope sender of an automatic response is null. */
  gboolean queued = FALSE;
  if (!queue_outbound (d, RD_OUTBOX_AUTOREPLY, ticket, "", a->address, mid, raw, &queued, error)
      || !rd_store_response_record (d->store, inbox, a->address, handle, now, error))
    return FALSE;
  rd_metric_inc (RD_METRIC_VACATION, queued ? "sent" : "suppressed");
  if (queued)
    rd_log (RD_LOG_INFO, "desk.vacation", "queue_id=%s to=%s result=queued", sp->queue_id, to);
  return TRUE;
}

/* What the rules set on the ticket, through the store's one attribute
 * setter (validated, audited as "rules"). A value the model does not
 * allow is logged and skipped: the message stays on its ticket. */
static gboolean
set_ticket_attrs (RdDesk *d, const RdSpooled *sp, gint64 number, const RdAction *attrs, GPtrArray *tags,
                  GError **error)
{
  struct { RdTicketField field; const char *value; } sets[] = {
    { RD_TICKET_FIELD_PRIORITY, attrs ? attrs->priority : NULL },
    { RD_TICKET_FIELD_ASSIGNEE, attrs ? attrs->assign : NULL },
    { RD_TICKET_FIELD_STATUS, attrs ? attrs->status : NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (sets) + tags->len; i++)
    {
      g_autoptr(GError) local = NULL;
      gboolean ok;
      if (i < G_N_ELEMENTS (sets))
        {
          if (sets[i].value == NULL)
            continue;
          ok = rd_store_ticket_set (d->store, number, sets[i].field, sets[i].value, "rules", &local);
        }
      else
        ok = rd_store_ticket_tag (d->store, number, g_ptr_array_index (tags, i - G_N_ELEMENTS (sets)), TRUE,
                                  "rules", &local);
      if (ok)
        continue;
      if (!g_error_matches (local, RD_ERROR, RD_ERROR_INVALID_DATA) && !g_error_matches (local, RD_ERROR, RD_ERROR_LIMIT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      g_autofree char *m = rd_log_escape (local->message, -1, 256);
      rd_log (RD_LOG_WARN, "desk.rules-attribute", "queue_id=%s ticket=%" G_GINT64_FORMAT " error=%s",
              sp->queue_id, number, m);
    }
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
      g_auto(RdInboundRecord) rec = { 0 };
      rd_inbound_record_init (&rec, sp, msg, ctx->auth);
      if (match->ticket_number)
        {
          rec.draft.audit_old = match->reason;
          if (!rd_store_ticket_add_message (d->store, match->ticket_number, &rec.draft, NULL, error))
            return FALSE;
          *ticket_number = match->ticket_number;
        }
      else
        {
          RdTicketDraft draft = {
            .queue = queue,
            .subject = rec.subject,
            .requester_name = rec.requester_name,
            .requester_addr = rec.requester_addr,
          };
          if (!rd_store_ticket_open (d->store, &draft, &rec.draft, ticket_number, NULL, error))
            return FALSE;
        }
      /* vnd.relaydesk.ticket and imap4flags: through the store's one
       * attribute setter, validated and audited as set by the rules. */
      if (ticket_attrs && ticket_attrs->tags)
        for (guint k = 0; ticket_attrs->tags[k]; k++)
          g_ptr_array_add (tags, ticket_attrs->tags[k]);
      if (!set_ticket_attrs (d, sp, *ticket_number, ticket_attrs, tags, error))
        return FALSE;
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
            /* RFC 5228 4.2: the message unchanged (the bytes received, not
             * the view's with our Authentication-Results), the envelope
             * sender kept. */
            const char *mid = rd_message_get_message_id (msg);
            if (!queue_outbound (d, RD_OUTBOX_REDIRECT, *ticket_number, sp->sender, a->address, mid,
                                 sp->raw, NULL, error))
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
            if (!queue_outbound (d, RD_OUTBOX_REJECT, *ticket_number, "", sp->sender, mid, notice, NULL, error))
              return FALSE;
            break;
          }
        case RD_ACTION_VACATION:
          if (!do_vacation (d, sp, msg, a, inbox, *ticket_number, error))
            return FALSE;
          break;
        case RD_ACTION_VACATION_SUPPRESSED:
          rd_log (RD_LOG_INFO, "desk.vacation", "queue_id=%s result=suppressed reason=%s", sp->queue_id, a->reason);
          rd_metric_inc (RD_METRIC_VACATION, "suppressed");
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
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (d->store, &tx, error)
      || !apply_in_tx (d, sp, msg, match, actions, ctx, ticket_number, error)
      || !rd_store_tx_commit (&tx, error))
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
  RdDeskApplyContext ctx = { NULL, NULL, sp->recipients->len ? g_ptr_array_index (sp->recipients, 0) : "", NULL };
  return rd_desk_apply_actions_full (d, sp, msg, match, actions, &ctx, ticket_number, error);
}
