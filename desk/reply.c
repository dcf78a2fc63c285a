/* relaydesk — desk: agent replies (see reply.h for the message built). */
#include "reply.h"
#include "ticket-ids.h"
#include "tickets.h"
#include "outbox.h"
#include "mail-format.h"
#include "rd-common.h"

#include <string.h>

void
rd_reply_result_clear (RdReplyResult *r)
{
  g_clear_pointer (&r->message_id, g_free);
  g_clear_pointer (&r->recipients, g_ptr_array_unref);
  g_clear_pointer (&r->suppressed, g_ptr_array_unref);
  g_clear_pointer (&r->subject, g_free);
}

/* "Re: <subject without our tag> [RD #N]". (transfer full) */
static char *
reply_subject (const char *subject, const char *tag)
{
  const char *s = subject ? subject : "";
  while (g_ascii_strncasecmp (s, "Re:", 3) == 0 || g_ascii_strncasecmp (s, "Aw:", 3) == 0)
    {
      s += 3;
      while (*s == ' ')
        s++;
    }
  if (strstr (s, tag))
    return g_strdup_printf ("Re: %s", s);
  return g_strdup_printf ("Re: %s %s", s, tag);
}

static gboolean
add_recipient (RdStore *store, const char *addr, RdReplyResult *r, GError **error)
{
  GPtrArray *seen[] = { r->recipients, r->suppressed };
  for (guint l = 0; l < G_N_ELEMENTS (seen); l++)
    for (guint i = 0; i < seen[l]->len; i++)
      if (g_ascii_strcasecmp (g_ptr_array_index (seen[l], i), addr) == 0)
        return TRUE;
  gboolean suppressed = FALSE;
  if (!rd_store_suppression_check (store, addr, &suppressed, NULL, error))
    return FALSE;
  g_ptr_array_add (suppressed ? r->suppressed : r->recipients, g_strdup (addr));
  return TRUE;
}

gboolean
rd_desk_reply (RdConfig *config, RdStore *store, const RdReplyDraft *d, RdReplyResult *r, GError **error)
{
  memset (r, 0, sizeof *r);
  r->recipients = g_ptr_array_new_with_free_func (g_free);
  r->suppressed = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *trimmed = g_strstrip (g_strdup (d->body ? d->body : ""));
  if (*trimmed == '\0' || strlen (d->body) > RD_REPLY_BODY_MAX || !g_utf8_validate (d->body, -1, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "reply text is empty, too long or not UTF-8");
      return FALSE;
    }
  g_autoptr(RdTicketIds) ids = rd_ticket_ids_new (config, store, error);
  if (ids == NULL)
    return FALSE;
  g_autoptr(RdTicket) t = rd_store_ticket_get (store, d->ticket_number, error);
  if (t == NULL)
    return FALSE;

  if (!add_recipient (store, t->requester_addr, r, error))
    return FALSE;
  if (d->reply_all)
    for (guint i = 0; i < t->participants->len; i++)
      {
        const char *p = g_ptr_array_index (t->participants, i);
        if (!rd_ticket_ids_is_own_address (ids, p) && !add_recipient (store, p, r, error))
          return FALSE;
      }
  if (r->recipients->len == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                   "every recipient of ticket #%" G_GINT64_FORMAT " is on the suppression list", t->number);
      return FALSE;
    }

  g_autofree char *tag = rd_ticket_ids_subject_tag (ids, t->number);
  r->subject = reply_subject (t->subject, tag);
  r->message_id = rd_ticket_ids_new_message_id (ids, t->number);
  g_autofree char *reply_to = rd_ticket_ids_reply_address (ids, t->queue, t->number);
  const char *from = rd_ticket_ids_from_address (ids, t->queue);
  const char *from_name = rd_ticket_ids_from_name (ids, t->queue);
  g_autoptr(GPtrArray) thread_ids = rd_store_ticket_message_ids (store, t->number, error);
  if (thread_ids == NULL)
    return FALSE;

  g_autoptr(RdMailDraft) m = rd_mail_draft_new ();
  rd_mail_draft_set_from (m, from_name, from);
  rd_mail_draft_set_reply_to (m, from_name, reply_to);
  for (guint i = 0; i < r->recipients->len; i++)
    {
      const char *a = g_ptr_array_index (r->recipients, i);
      if (g_ascii_strcasecmp (a, t->requester_addr) == 0)
        rd_mail_draft_add_to (m, t->requester_name, a);
      else
        rd_mail_draft_add_cc (m, NULL, a);
    }
  rd_mail_draft_set_subject (m, r->subject);
  rd_mail_draft_set_message_id (m, r->message_id);
  if (thread_ids->len)
    {
      /* In-Reply-To the newest message of the thread, References all of
       * them (the oldest dropped when too long, RFC 5322 3.6.4). */
      rd_mail_draft_set_in_reply_to (m, g_ptr_array_index (thread_ids, thread_ids->len - 1));
      rd_mail_draft_set_references (m, (const char *const *) thread_ids->pdata, thread_ids->len);
    }
  rd_mail_draft_set_text (m, d->body);
  for (guint i = 0; i < d->n_attachments; i++)
    rd_mail_draft_add_attachment (m, d->attachments[i].filename, d->attachments[i].content_type,
                                  d->attachments[i].data);
  g_autoptr(GBytes) raw = rd_mail_draft_to_bytes (m);

  g_autoptr(GString) to = g_string_new (NULL);
  g_ptr_array_add (r->recipients, NULL);
  for (guint i = 0; r->recipients->pdata[i]; i++)
    g_string_append_printf (to, "%s%s", to->len ? ", " : "", (const char *) r->recipients->pdata[i]);

  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  RdOutboxDraft od = {
    .kind = RD_OUTBOX_REPLY,
    .ticket_number = t->number,
    .sender = from,
    .recipients = (const char *const *) r->recipients->pdata,
    .message_id = r->message_id,
    .raw = raw,
  };
  RdMessageDraft md = {
    .direction = RD_MESSAGE_OUTBOUND,
    .author = d->author,
    .message_id = r->message_id,
    .from_name = from_name,
    .from_addr = from,
    .to_addrs = to->str,
    .subject = r->subject,
    .body_text = d->body,
    .attachments = d->attachments,
    .n_attachments = d->n_attachments,
  };
  gboolean ok = rd_store_outbox_enqueue (store, &od, &r->outbox_id, error);
  md.outbox_id = r->outbox_id;
  ok = ok && rd_store_ticket_add_message (store, t->number, &md, &r->message_row, error);
  if (ok && d->set_status)
    ok = rd_store_ticket_set (store, t->number, RD_TICKET_FIELD_STATUS, d->set_status, d->author, error);
  if (ok && t->status == RD_TICKET_STATUS_NEW && d->set_status == NULL)
    ok = rd_store_ticket_set (store, t->number, RD_TICKET_FIELD_STATUS, "open", d->author, error);
  g_ptr_array_remove_index (r->recipients, r->recipients->len - 1);
  return ok && rd_store_tx_commit (&tx, error);
}
