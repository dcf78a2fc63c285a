/* relaydesk — desk: what happens to an inbound message around the rules.
 *
 * Before threading (rd_desk_inbound_pre):
 *   - dedupe: the same message delivered twice (two of our recipients in
 *     one transaction, or an MTA retry) has the same Message-ID and the
 *     same body; the second spool row is marked processed as a duplicate
 *     and adds nothing to the ticket;
 *   - delivery reports (RFC 3464) about mail we sent: matched by the
 *     original Message-ID against the outbound messages recorded on
 *     tickets; the report joins that ticket, the outbound message is
 *     marked failed with the status code, and a permanent failure (5.x.x)
 *     puts the recipient on the suppression list. The rules do not run
 *     for these (no autoresponse to a bounce, RFC 3834 2).
 * After the actions (rd_desk_inbound_post): participants, attachments
 * (stored once by hash), the search index, the dedupe hash, links to
 * the ticket a stranger or a closed-ticket follow-up named, reopening.
 * desk.c runs all of it in one transaction with the actions.
 */
#include "desk-private.h"
#include "mail-format.h"
#include "tickets.h"
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
handle_dsn (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, gboolean *handled, GError **error)
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

  GPtrArray *from = rd_message_get_from (msg);
  const RdAddress *fa = from->len ? g_ptr_array_index (from, 0) : NULL;
  const char *subject = rd_message_get_subject (msg);
  RdFollowupDraft f = {
    .ticket_number = number,
    .spool_id = sp->id,
    .message_id = rd_message_get_message_id (msg),
    .from_name = fa && *fa->name ? fa->name : NULL,
    .from_addr = fa ? fa->addr : (*sp->sender ? sp->sender : "MAILER-DAEMON"),
    .subject = subject ? subject : "(delivery report)",
    .body_text = rd_message_get_body_text (msg),
  };
  gint64 row = 0;
  if (!rd_store_ticket_add_message (d->store, &f, &row, error))
    return FALSE;
  /* The body hash makes a second copy of the report a duplicate. */
  g_autofree char *hash = body_hash (sp->raw);
  RdInboundExtra x = { .spool_id = sp->id, .body_hash = hash };
  gint64 same_row = 0;
  if (!rd_store_message_set_inbound_extra (d->store, &x, &same_row, error))
    return FALSE;
  if (!rd_store_message_index (d->store, row, f.subject, f.body_text, f.from_addr, NULL, error))
    return FALSE;
  if (failed)
    {
      if (!rd_store_message_mark_failed (d->store, out_row, failed->status ? failed->status : "5.0.0",
                                         failed->diagnostic, error))
        return FALSE;
      g_autofree char *what = g_strdup_printf ("message %" G_GINT64_FORMAT " %s %s", out_row,
                                               failed->addr ? failed->addr : "",
                                               failed->status ? failed->status : "");
      if (!rd_store_ticket_audit (d->store, number, "system", "delivery-failed", NULL, what, error))
        return FALSE;
    }
  rd_log (RD_LOG_INFO, "desk.dsn", "queue_id=%s ticket=%" G_GINT64_FORMAT " outbound=%" G_GINT64_FORMAT
          " status=%s", sp->queue_id, number, out_row, failed && failed->status ? failed->status : "-");
  *handled = TRUE;
  return TRUE;
}

static gboolean
inbound_pre (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, gboolean *handled, GError **error)
{
  *handled = FALSE;
  const char *mid = rd_message_get_message_id (msg);
  if (mid != NULL)
    {
      g_autofree char *hash = body_hash (sp->raw);
      gint64 row = 0, number = 0;
      if (!rd_store_message_find_duplicate (d->store, mid, hash, &row, &number, error))
        return FALSE;
      if (row != 0)
        {
          g_autofree char *reason = g_strdup_printf ("duplicate of message %" G_GINT64_FORMAT
                                                     " on ticket #%" G_GINT64_FORMAT, row, number);
          if (!rd_store_spool_set_state (d->store, sp->id, RD_SPOOL_PROCESSED, reason, error))
            return FALSE;
          rd_log (RD_LOG_INFO, "desk.duplicate", "queue_id=%s ticket=%" G_GINT64_FORMAT " message=%" G_GINT64_FORMAT,
                  sp->queue_id, number, row);
          *handled = TRUE;
          return TRUE;
        }
    }
  /* A delivery report (RFC 3464, as the parser read it) about one of our
   * outbound messages attaches to that ticket. */
  if (rd_message_get_dsn_original_message_id (msg) != NULL)
    return handle_dsn (d, sp, msg, handled, error);
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

static gboolean
inbound_post (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdThreadMatch *match,
              gint64 number, GError **error)
{
  g_autofree char *hash = body_hash (sp->raw);
  g_autofree char *to = join_addrs (rd_message_get_to (msg));
  g_autofree char *cc = join_addrs (rd_message_get_cc (msg));
  RdInboundExtra x = { .spool_id = sp->id, .body_hash = hash, .to_addrs = to, .cc_addrs = cc };
  gint64 row = 0;
  if (!rd_store_message_set_inbound_extra (d->store, &x, &row, error))
    return FALSE;
  if (row == 0)
    return TRUE; /* the actions did not record it on a ticket */

  GPtrArray *from = rd_message_get_from (msg);
  if (!add_participants (d, sp, number, from, error)
      || !add_participants (d, sp, number, rd_message_get_to (msg), error)
      || !add_participants (d, sp, number, rd_message_get_cc (msg), error))
    return FALSE;

  /* The view's attachments, attached messages as written (parser/). */
  GPtrArray *atts = rd_message_get_attachments (msg);
  g_autoptr(GString) names = g_string_new (NULL);
  for (guint i = 0, stored = 0; i < atts->len && stored < ATTACHMENTS_MAX; i++)
    {
      const RdAttachment *a = g_ptr_array_index (atts, i);
      if (a->content == NULL)
        continue;
      if (!rd_store_attachment_add (d->store, row, stored++, a->filename, a->content_type, a->content, error))
        return FALSE;
      if (a->filename)
        g_string_append_printf (names, "%s%s", names->len ? " " : "", a->filename);
    }
  const RdAddress *fa = from->len ? g_ptr_array_index (from, 0) : NULL;
  g_autofree char *addrs = g_strjoin (" ", fa ? fa->addr : "", fa && fa->name ? fa->name : "",
                                      to ? to : "", cc ? cc : "", NULL);
  if (!rd_store_message_index (d->store, row, rd_message_get_subject (msg), rd_message_get_body_text (msg),
                               addrs, names->len ? names->str : NULL, error))
    return FALSE;

  if (match->ticket_number == 0)
    {
      if (!rd_store_ticket_audit (d->store, number, "system", "created", NULL, sp->queue_id, error))
        return FALSE;
      if (match->linked_ticket)
        {
          if (!rd_store_ticket_link (d->store, number, match->linked_ticket,
                                     match->reason ? match->reason : "linked", error))
            return FALSE;
          g_autofree char *other = g_strdup_printf ("#%" G_GINT64_FORMAT, match->linked_ticket);
          if (!rd_store_ticket_audit (d->store, number, "system", "linked", NULL, other, error))
            return FALSE;
        }
      return TRUE;
    }
  g_autoptr(RdTicket) t = rd_store_ticket_peek (d->store, number, error);
  if (t == NULL)
    return FALSE;
  /* A customer's answer puts a ticket back in the agents' court. */
  if (match->reopen || g_str_equal (t->status, "pending"))
    if (!rd_store_ticket_set (d->store, number, RD_TICKET_FIELD_STATUS, "open", "system", error))
      return FALSE;
  return rd_store_ticket_audit (d->store, number, "system", "followup",
                                match->reason, sp->queue_id, error);
}

void
rd_desk_tx_clear (RdDeskTx *tx)
{
  if (tx->open)
    rd_store_rollback (tx->store);
  tx->open = FALSE;
}

gboolean
rd_desk_tx_commit (RdDeskTx *tx, GError **error)
{
  g_return_val_if_fail (tx->open, FALSE);
  if (!rd_store_commit (tx->store, error))
    return FALSE; /* still open: the cleanup rolls back */
  tx->open = FALSE;
  return TRUE;
}

gboolean
rd_desk_inbound_begin (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, RdDeskTx *tx, gboolean *done,
                       GError **error)
{
  *done = FALSE;
  if (!rd_store_begin (d->store, error))
    return FALSE;
  tx->store = d->store;
  tx->open = TRUE;
  /* Re-read under the write lock: another process may have finished it. */
  g_autoptr(RdSpooled) now = rd_store_spool_get (d->store, sp->id, error);
  if (now == NULL)
    return FALSE;
  if (now->state != RD_SPOOL_NEW)
    {
      *done = TRUE;
      rd_desk_tx_clear (tx);
      return TRUE;
    }
  if (!inbound_pre (d, sp, msg, done, error))
    return FALSE;
  if (*done)
    return rd_desk_tx_commit (tx, error);
  return TRUE;
}

gboolean
rd_desk_inbound_finish (RdDesk *d, const RdSpooled *sp, const RdMessage *msg, const RdThreadMatch *match,
                        gint64 number, RdDeskTx *tx, GError **error)
{
  if (number && !inbound_post (d, sp, msg, match, number, error))
    return FALSE;
  return rd_desk_tx_commit (tx, error);
}
