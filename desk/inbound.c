/* relaydesk — desk: what happens to an inbound message around the rules.
 *
 * Before threading (rd_desk_inbound_pre):
 *   - dedupe: the same message delivered twice (two of our recipients in
 *     one transaction, or an MTA retry) has the same Message-ID and the
 *     same body; the second spool row is marked processed as a duplicate
 *     and adds nothing to the ticket; so is a spooled message processed
 *     again whose message is on a ticket already;
 *   - delivery reports (RFC 3464) about mail we sent: matched by the
 *     original Message-ID against the outbound messages recorded on
 *     tickets; the report joins that ticket, the outbound message is
 *     marked failed with the status code, and a permanent failure (5.x.x)
 *     puts the recipient on the suppression list. The rules do not run
 *     for these (no autoresponse to a bounce, RFC 3834 2).
 * The message itself is recorded by the actions through the store's one
 * message writer, from the record built here (rd_inbound_record_init:
 * addresses, body hash, attachments stored once by hash, indexed).
 * After the actions (inbound_post): participants, links to the ticket a
 * stranger or a closed-ticket follow-up named, reopening. desk.c runs
 * all of it in one transaction with the actions.
 */
#include "desk-private.h"
#include "mail-format.h"
#include "outbox.h"

#include <string.h>

#define ADDR_LIST_MAX 4096
#define ATTACHMENTS_MAX 100   /* stored per message */

/* Hex SHA-256 of the body (everything after the header block), so that
 * trace headers added by each delivery do not make copies differ.
 * (transfer full) */
static char *
body_hash (GBytes *raw)
{
  gsize len, body = 0;
  const char *p = g_bytes_get_data (raw, &len);
  if (p)
    rd_mail_header_length (p, len, &body);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) (p ? p + body : ""), len - body);
}

static char *
join_addrs (GPtrArray *list)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 0; i < list->len && s->len < ADDR_LIST_MAX; i++)
    {
      const RdAddress *a = g_ptr_array_index (list, i);
      if (s->len)
        g_string_append (s, ", ");
      g_string_append (s, a->addr);
    }
  return s->len ? g_string_free (g_steal_pointer (&s), FALSE) : NULL;
}

static gboolean
is_envelope_recipient (const RdSpooled *sp, const char *addr)
{
  for (guint i = 0; i < sp->recipients->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (sp->recipients, i), addr) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
handle_dsn (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdAuthSummary *auth, gboolean *handled,
            GError **error)
{
  gint64 out_row = 0, number = 0;
  GPtrArray *recipients = rd_message_get_dsn_recipients (msg);
  if (!rd_store_message_find_outbound (d->store, rd_message_get_dsn_original_message_id (msg),
                                       &out_row, &number, error))
    return FALSE;
  if (out_row == 0)
    return TRUE; /* not about our mail: an ordinary message */

  const RdDsnRecipient *failed = NULL;
  for (guint i = 0; i < recipients->len; i++)
    {
      const RdDsnRecipient *r = g_ptr_array_index (recipients, i);
      if (g_strcmp0 (r->action, "failed") != 0 && !(r->status && r->status[0] == '5'))
        continue;
      if (failed == NULL)
        failed = r;
      /* RFC 3463 3: class 5 is a permanent failure. */
      if (r->addr && r->status && r->status[0] == '5')
        {
          g_autofree char *reason = g_strdup_printf ("dsn %s for ticket #%" G_GINT64_FORMAT, r->status, number);
          if (!rd_store_suppression_add (d->store, r->addr, reason, error))
            return FALSE;
          g_autofree char *who = rd_log_escape (r->addr, -1, 128);
          rd_log (RD_LOG_INFO, "desk.suppress", "queue_id=%s addr=%s status=%s", sp->queue_id, who, r->status);
        }
    }

  /* The report joins the ticket as an inbound message (its body hash
   * makes a second copy of the report a duplicate). */
  g_auto(RdInboundRecord) rec = { 0 };
  rd_inbound_record_init (&rec, sp, msg, auth);
  if (rd_message_get_subject (msg) == NULL)
    rec.draft.subject = "(delivery report)";
  if (rd_message_get_from (msg)->len == 0)
    rec.draft.from_addr = *sp->sender ? sp->sender : "MAILER-DAEMON";
  rec.draft.audit_action = "delivery-report";
  if (!rd_store_ticket_add_message (d->store, number, &rec.draft, NULL, error))
    return FALSE;
  if (failed && !rd_store_message_set_delivery (d->store, out_row, RD_OUTBOX_FAILED,
                                                failed->status ? failed->status : "5.0.0", failed->diagnostic,
                                                "system", error))
    return FALSE;
  rd_log (RD_LOG_INFO, "desk.dsn", "queue_id=%s ticket=%" G_GINT64_FORMAT " outbound=%" G_GINT64_FORMAT
          " status=%s", sp->queue_id, number, out_row, failed && failed->status ? failed->status : "-");
  *handled = TRUE;
  return TRUE;
}

static gboolean
inbound_pre (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdAuthSummary *auth, gboolean *handled,
             GError **error)
{
  *handled = FALSE;
  /* This very spooled message already on a ticket: processed before and
   * set back to new (spool.h: "to reprocess"). Its effects were committed
   * with it; running the actions again would double them, and the
   * store's idempotent writer would leave the row new for ever
   * (rd_desk_process_pending would never end). Only the state is missing. */
  gint64 row = 0, number = 0;
  if (!rd_store_message_find_by_spool (d->store, sp->id, &row, &number, error))
    return FALSE;
  gboolean again = row != 0;
  const char *mid = rd_message_get_message_id (msg);
  if (!again && mid != NULL)
    {
      g_autofree char *hash = body_hash (sp->raw);
      if (!rd_store_message_find_duplicate (d->store, mid, hash, &row, &number, error))
        return FALSE;
    }
  if (row != 0)
    {
      g_autofree char *reason = g_strdup_printf ("%s message %" G_GINT64_FORMAT " on ticket #%" G_GINT64_FORMAT,
                                                 again ? "already recorded as" : "duplicate of", row, number);
      if (!rd_store_spool_set_state (d->store, sp->id, RD_SPOOL_PROCESSED, reason, error))
        return FALSE;
      rd_log (RD_LOG_INFO, "desk.duplicate", "queue_id=%s ticket=%" G_GINT64_FORMAT " message=%" G_GINT64_FORMAT
              " again=%s", sp->queue_id, number, row, again ? "yes" : "no");
      *handled = TRUE;
      return TRUE;
    }
  /* A delivery report (RFC 3464, as the parser read it) about one of our
   * outbound messages attaches to that ticket. */
  if (rd_message_get_dsn_original_message_id (msg) != NULL)
    return handle_dsn (d, sp, msg, auth, handled, error);
  return TRUE;
}

static gboolean
add_participants (RdDesk *d, const RdSpooled *sp, gint64 number, GPtrArray *list, GError **error)
{
  for (guint i = 0; i < list->len; i++)
    {
      const RdAddress *a = g_ptr_array_index (list, i);
      if (a->addr == NULL || strchr (a->addr, '@') == NULL)
        continue;
      /* Our own addresses are not participants: the inbox the mail came
       * to, reply addresses, [desk] own_addresses. */
      if (rd_ticket_ids_is_own_address (d->ids, a->addr) || is_envelope_recipient (sp, a->addr))
        continue;
      if (!rd_store_ticket_add_participant (d->store, number, a->addr, a->name, error))
        return FALSE;
    }
  return TRUE;
}

void
rd_inbound_record_init (RdInboundRecord *r, const RdSpooled *sp, const RdMessage *msg, const RdAuthSummary *auth)
{
  memset (r, 0, sizeof *r);
  GPtrArray *from = rd_message_get_from (msg);
  const RdAddress *fa = from->len ? g_ptr_array_index (from, 0) : NULL;
  r->requester_addr = g_strdup (fa && *fa->addr ? fa->addr : (*sp->sender ? sp->sender : "unknown"));
  r->requester_name = fa && *fa->name ? g_strdup (fa->name) : NULL;
  const char *subject = rd_message_get_subject (msg);
  r->subject = g_strdup (subject && *subject ? subject : "(no subject)");
  r->to = join_addrs (rd_message_get_to (msg));
  r->cc = join_addrs (rd_message_get_cc (msg));
  r->hash = body_hash (sp->raw);
  /* The view's attachments, attached messages as written (parser/). */
  GPtrArray *atts = rd_message_get_attachments (msg);
  r->attachment_drafts = g_array_new (FALSE, TRUE, sizeof (RdAttachmentDraft));
  for (guint i = 0; i < atts->len && r->attachment_drafts->len < ATTACHMENTS_MAX; i++)
    {
      const RdAttachment *a = g_ptr_array_index (atts, i);
      if (a->content == NULL)
        continue;
      RdAttachmentDraft ad = { a->filename, a->content_type, a->content };
      g_array_append_val (r->attachment_drafts, ad);
    }
  r->draft = (RdMessageDraft) {
    .direction = RD_MESSAGE_INBOUND,
    .spool_id = sp->id,
    .message_id = rd_message_get_message_id (msg),
    .from_name = r->requester_name,
    .from_addr = r->requester_addr,
    .to_addrs = r->to,
    .cc_addrs = r->cc,
    .subject = r->subject,
    .body_text = rd_message_get_body_text (msg),
    .body_hash = r->hash,
    .attachments = (const RdAttachmentDraft *) (gpointer) r->attachment_drafts->data,
    .n_attachments = r->attachment_drafts->len,
    .audit_detail = sp->queue_id,
    .auth = auth,
  };
}

void
rd_inbound_record_clear (RdInboundRecord *r)
{
  g_clear_pointer (&r->requester_name, g_free);
  g_clear_pointer (&r->requester_addr, g_free);
  g_clear_pointer (&r->subject, g_free);
  g_clear_pointer (&r->to, g_free);
  g_clear_pointer (&r->cc, g_free);
  g_clear_pointer (&r->hash, g_free);
  g_clear_pointer (&r->attachment_drafts, g_array_unref);
}

static gboolean
inbound_post (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdThreadMatch *match,
              gint64 number, GError **error)
{
  gint64 row = 0, on = 0;
  if (!rd_store_message_find_by_spool (d->store, sp->id, &row, &on, error))
    return FALSE;
  if (row == 0)
    return TRUE; /* the actions did not record it on a ticket */

  if (!add_participants (d, sp, number, rd_message_get_from (msg), error)
      || !add_participants (d, sp, number, rd_message_get_to (msg), error)
      || !add_participants (d, sp, number, rd_message_get_cc (msg), error))
    return FALSE;

  if (match->ticket_number == 0)
    {
      if (match->linked_ticket
          && !rd_store_ticket_link (d->store, number, match->linked_ticket, match->reason ? match->reason : "linked",
                                    "system", error))
        return FALSE;
      return TRUE;
    }
  g_autoptr(RdTicket) t = rd_store_ticket_peek (d->store, number, error);
  if (t == NULL)
    return FALSE;
  /* A customer's answer puts a ticket back in the agents' court. */
  if (match->reopen || t->status == RD_TICKET_STATUS_PENDING)
    if (!rd_store_ticket_set (d->store, number, RD_TICKET_FIELD_STATUS, "open", "system", error))
      return FALSE;
  return TRUE;
}

gboolean
rd_desk_inbound_begin (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdAuthSummary *auth,
                       RdStoreTx *tx, gboolean *done, GError **error)
{
  *done = FALSE;
  if (!rd_store_tx_begin (d->store, tx, error))
    return FALSE;
  /* Re-read under the write lock: another process may have finished it. */
  g_autoptr(RdSpooled) now = rd_store_spool_get (d->store, sp->id, error);
  if (now == NULL)
    return FALSE;
  if (now->state != RD_SPOOL_NEW)
    {
      *done = TRUE;
      rd_store_tx_rollback (tx);
      return TRUE;
    }
  if (!inbound_pre (d, sp, msg, auth, done, error))
    return FALSE;
  if (*done)
    return rd_store_tx_commit (tx, error);
  return TRUE;
}

gboolean
rd_desk_inbound_finish (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdThreadMatch *match,
                        gint64 number, RdStoreTx *tx, GError **error)
{
  if (number && !inbound_post (d, sp, msg, match, number, error))
    return FALSE;
  return rd_store_tx_commit (tx, error);
}
