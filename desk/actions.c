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

#include <gmime/gmime.h>
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
rfc5322_date (gint64 t)
{
  static const char *const wd[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (t);
  return g_strdup_printf ("%s, %02d %s %04d %02d:%02d:%02d +0000", wd[g_date_time_get_day_of_week (dt) - 1],
                          g_date_time_get_day_of_month (dt), mo[g_date_time_get_month (dt) - 1],
                          g_date_time_get_year (dt), g_date_time_get_hour (dt), g_date_time_get_minute (dt),
                          g_date_time_get_second (dt));
}

/* A header value safe for the wire: RFC 2047-encoded when not ASCII, no
 * line breaks (a script's text must not inject headers). */
static char *
header_text (const char *text)
{
  g_autofree char *flat = g_strdup (text ? text : "");
  for (char *p = flat; *p; p++)
    if (*p == '\r' || *p == '\n')
      *p = ' ';
  for (const char *p = flat; *p; p++)
    if ((guchar) *p >= 0x80)
      return g_mime_utils_header_encode_text (NULL, flat, "utf-8");
  return g_steal_pointer (&flat);
}

/* Text with every line ending CRLF, dot lines untouched (the relay does
 * the SMTP dot-stuffing). */
static void
append_crlf_text (GString *out, const char *text)
{
  for (const char *p = text ? text : ""; *p; p++)
    {
      if (*p == '\n' && (p == text || p[-1] != '\r'))
        g_string_append_c (out, '\r');
      g_string_append_c (out, *p);
    }
  if (out->len < 2 || strcmp (out->str + out->len - 2, "\r\n") != 0)
    g_string_append (out, "\r\n");
}

static char *
new_message_id (RdDesk *d)
{
  g_autofree char *uuid = g_uuid_string_random ();
  return g_strdup_printf ("rd-%s@%s", uuid, rd_config_get_hostname (d->config));
}

/* In-Reply-To and References of a reply to @msg (RFC 5322 3.6.4). */
static void
append_thread_headers (GString *out, const RdMessage *msg)
{
  const char *mid = rd_message_get_message_id (msg);
  const char *const *refs = rd_message_get_references (msg);
  if (mid && *mid)
    g_string_append_printf (out, "In-Reply-To: <%s>\r\n", mid);
  GString *r = g_string_new (NULL);
  for (guint i = 0; refs[i] && i < 20; i++)
    g_string_append_printf (r, "%s<%s>", r->len ? " " : "", refs[i]);
  if (r->len == 0 && rd_message_get_in_reply_to (msg))
    g_string_append_printf (r, "<%s>", rd_message_get_in_reply_to (msg));
  if (mid && *mid)
    g_string_append_printf (r, "%s<%s>", r->len ? " " : "", mid);
  if (r->len)
    g_string_append_printf (out, "References: %s\r\n", r->str);
  g_string_free (r, TRUE);
}

static GBytes *
compose_vacation (RdDesk *d, const RdMessage *msg, const RdAction *a, const char *message_id)
{
  GString *m = g_string_new (NULL);
  g_autofree char *from = header_text (a->from_header ? a->from_header : a->from);
  g_autofree char *subject = header_text (a->subject);
  g_autofree char *date = rfc5322_date (g_get_real_time () / G_USEC_PER_SEC);
  g_string_append_printf (m, "From: %s\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n",
                          from, a->address, subject, date, message_id);
  append_thread_headers (m, msg);
  /* RFC 3834 5: an automatic response; RFC 5230 5.x: no loops. */
  g_string_append (m, "Auto-Submitted: auto-replied\r\n");
  g_string_append (m, "X-Auto-Response-Suppress: All\r\n");
  g_string_append (m, "MIME-Version: 1.0\r\n");
  if (a->mime)
    {
      /* :mime: the reason is a MIME entity, headers included (RFC 5230 4.4). */
      append_crlf_text (m, a->reason);
    }
  else
    {
      g_string_append (m, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
      append_crlf_text (m, a->reason);
    }
  return g_string_free_to_bytes (m);
}

/* RFC 5429 2.1: a rejection after the message was accepted is sent as an
 * MDN (RFC 8098) to the envelope sender, from the null return path. */
static GBytes *
compose_reject (RdDesk *d, const RdMessage *msg, const char *to, const char *recipient, const char *reason,
                const char *message_id)
{
  GString *m = g_string_new (NULL);
  g_autofree char *date = rfc5322_date (g_get_real_time () / G_USEC_PER_SEC);
  const char *orig_subject = rd_message_get_subject (msg);
  g_autofree char *subject = header_text (orig_subject ? orig_subject : "");
  g_autofree char *boundary = g_uuid_string_random ();
  const char *host = rd_config_get_hostname (d->config);
  g_string_append_printf (m, "From: <MAILER-DAEMON@%s>\r\nTo: <%s>\r\nSubject: Rejected: %s\r\nDate: %s\r\n"
                             "Message-ID: <%s>\r\n", host, to, subject, date, message_id);
  append_thread_headers (m, msg);
  g_string_append_printf (m, "Auto-Submitted: auto-replied (rejected)\r\nMIME-Version: 1.0\r\n"
                             "Content-Type: multipart/report; report-type=disposition-notification;\r\n"
                             " boundary=\"%s\"\r\n\r\n", boundary);
  g_string_append_printf (m, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
                          boundary);
  g_string_append_printf (m, "Your message to <%s> was rejected:\r\n\r\n", recipient);
  append_crlf_text (m, reason);
  g_string_append_printf (m, "\r\n--%s\r\nContent-Type: message/disposition-notification\r\n\r\n"
                             "Reporting-UA: %s; relaydesk\r\nFinal-Recipient: rfc822; %s\r\n", boundary, host, recipient);
  if (rd_message_get_message_id (msg))
    g_string_append_printf (m, "Original-Message-ID: <%s>\r\n", rd_message_get_message_id (msg));
  g_string_append (m, "Disposition: automatic-action/MDN-sent-automatically; deleted\r\n");
  g_string_append_printf (m, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
  gsize len;
  const char *raw = g_bytes_get_data (rd_message_get_raw (msg), &len);
  const char *end = g_strstr_len (raw, (gssize) len, "\r\n\r\n");
  g_string_append_len (m, raw, end ? (gssize) (end - raw) + 2 : (gssize) MIN (len, 64 * 1024));
  g_string_append_printf (m, "\r\n--%s--\r\n", boundary);
  return g_string_free_to_bytes (m);
}

static gboolean
queue_outbound (RdDesk *d, RdOutboxKind kind, gint64 ticket, const char *sender, const char *to,
                const char *message_id, GBytes *raw, GError **error)
{
  g_autofree char *why = NULL;
  gboolean suppressed = FALSE;
  if (!rd_store_suppression_check (d->store, to, &suppressed, &why, error))
    return FALSE;
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
      rd_inbound_record_init (&rec, sp, msg);
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
  RdDeskApplyContext ctx = { NULL, NULL, sp->recipients->len ? g_ptr_array_index (sp->recipients, 0) : "" };
  return rd_desk_apply_actions_full (d, sp, msg, match, actions, &ctx, ticket_number, error);
}
