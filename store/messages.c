/* relaydesk — store: the message writer and the attachments (see
 * tickets.h): every message reaches a ticket through write_message(),
 * which records it, stores its attachments once by hash, indexes it for
 * search, touches the ticket and audits it in one transaction. */
#include "store-private.h"
#include "tickets.h"

#include <string.h>

/* The search index addresses at most this many messages per ticket (the
 * rowid layout, RD_FTS_ORDINAL_BITS); later ones are stored, not indexed. */
#define FTS_ORDINAL_MAX ((G_GINT64_CONSTANT (1) << RD_FTS_ORDINAL_BITS) - 1)
#define ATTACHMENTS_MAX 1000

void
rd_stored_attachment_free (RdStoredAttachment *a)
{
  if (a == NULL)
    return;
  g_free (a->filename);
  g_free (a->content_type);
  g_free (a->sha256);
  g_free (a);
}

gboolean
rd_store_blob_put (RdStore *store, GBytes *data, char **sha256, GError **error)
{
  gsize len = 0;
  const guint8 *p = data ? g_bytes_get_data (data, &len) : NULL;
  g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, p ? p : (const guint8 *) "", len);
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_BLOB_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, sha);
  rd_db_bind_int64 (st, 2, (gint64) len);
  rd_db_bind_blob (st, 3, p, len);
  if (!rd_store_step_done (store, st, "store attachment", error))
    return FALSE;
  *sha256 = g_steal_pointer (&sha);
  return TRUE;
}

static gboolean
attachment_add (RdStore *store, gint64 message_row, guint position, const RdAttachmentDraft *a, GError **error)
{
  g_autofree char *sha = NULL;
  if (!rd_store_blob_put (store, a->data, &sha, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_ATTACHMENT_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, message_row);
  rd_db_bind_int64 (st, 2, position);
  rd_db_bind_text (st, 3, a->filename);
  rd_db_bind_text (st, 4, a->content_type ? a->content_type : "application/octet-stream");
  rd_db_bind_text (st, 5, sha);
  return rd_store_step_done (store, st, "link attachment", error);
}

/* Adds the message to the search index: subject, body, addresses,
 * attachment names. */
static gboolean
index_message (RdStore *store, gint64 number, gint64 message_row, const RdMessageDraft *d, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_MESSAGE_ORDINAL, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, number);
  rd_db_bind_int64 (st, 2, message_row);
  gint64 ordinal = 0;
  if (!rd_store_step_int (store, st, "index message", &ordinal, error))
    return FALSE;
  if (ordinal > FTS_ORDINAL_MAX || number > (G_MAXINT64 >> RD_FTS_ORDINAL_BITS))
    return TRUE; /* beyond what the index addresses: searchable no more */
  g_autofree char *addrs = g_strjoin (" ", d->from_addr ? d->from_addr : "", d->from_name ? d->from_name : "",
                                      d->to_addrs ? d->to_addrs : "", d->cc_addrs ? d->cc_addrs : "", NULL);
  g_autoptr(GString) names = g_string_new (NULL);
  for (guint i = 0; i < d->n_attachments; i++)
    if (d->attachments[i].filename)
      g_string_append_printf (names, "%s%s", names->len ? " " : "", d->attachments[i].filename);
  st = rd_store_stmt (store, RD_SQL_FTS_INSERT, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, (number << RD_FTS_ORDINAL_BITS) | ordinal);
  rd_db_bind_text (st, 2, d->subject);
  rd_db_bind_text (st, 3, d->body_text);
  rd_db_bind_text (st, 4, addrs);
  rd_db_bind_text (st, 5, names->len ? names->str : NULL);
  rd_db_bind_int64 (st, 6, message_row);
  return rd_store_step_done (store, st, "index message", error);
}

static const char *
default_action (const RdMessageDraft *d)
{
  switch (d->direction)
    {
    case RD_MESSAGE_OUTBOUND: return "reply";
    case RD_MESSAGE_NOTE: return "note";
    case RD_MESSAGE_INBOUND:
    default: return "followup";
    }
}

/* The writer, inside the caller's transaction. */
static gboolean
write_message (RdStore *store, gint64 number, const RdMessageDraft *d, const char *action,
               gint64 *message_row, GError **error)
{
  g_return_val_if_fail (d->direction < RD_MESSAGE_DIRECTION_N, FALSE);
  /* First: RD_ERROR_NOT_FOUND for a ticket that is not there. */
  if (!rd_store_ticket_touch (store, number, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_MESSAGE_INSERT, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, number);
  rd_db_bind_id (st, 2, d->spool_id);
  rd_db_bind_text (st, 3, rd_message_direction_to_string (d->direction));
  rd_db_bind_text (st, 4, d->message_id);
  rd_db_bind_text (st, 5, d->from_name);
  rd_db_bind_text (st, 6, d->from_addr);
  rd_db_bind_text (st, 7, d->subject);
  rd_db_bind_text (st, 8, d->body_text);
  rd_db_bind_int64 (st, 9, rd_store_now ());
  rd_db_bind_text (st, 10, d->to_addrs);
  rd_db_bind_text (st, 11, d->cc_addrs);
  rd_db_bind_text (st, 12, d->author);
  rd_db_bind_id (st, 13, d->outbox_id);
  rd_db_bind_text (st, 14, d->direction == RD_MESSAGE_OUTBOUND && d->outbox_id > 0
                   ? rd_outbox_state_to_string (RD_OUTBOX_QUEUED) : NULL);
  rd_db_bind_text (st, 15, d->body_hash);
  if (d->auth)
    {
      rd_db_bind_text (st, 16, rd_auth_result_to_string (d->auth->spf));
      rd_db_bind_text (st, 17, rd_auth_result_to_string (d->auth->dkim));
      rd_db_bind_text (st, 18, rd_auth_result_to_string (d->auth->dmarc));
      rd_db_bind_text (st, 19, d->auth->from_domain[0] ? d->auth->from_domain : NULL);
      rd_db_bind_int64 (st, 20, d->auth->verified ? 1 : 0);
    }
  else
    for (int i = 16; i <= 20; i++)
      rd_db_bind_null (st, i);
  if (!rd_store_step_row (store, st, "record message", error, "record message: no id"))
    return FALSE;
  gint64 row = rd_db_col_int64 (st, 0);
  rd_db_reset (st);

  for (guint i = 0; i < MIN (d->n_attachments, ATTACHMENTS_MAX); i++)
    if (!attachment_add (store, row, i, &d->attachments[i], error))
      return FALSE;
  if (!index_message (store, number, row, d, error))
    return FALSE;
  if (d->spool_id > 0 && !rd_store_spool_mark_processed (store, d->spool_id, error))
    return FALSE;
  g_autofree char *detail = d->audit_detail ? NULL : g_strdup_printf ("message %" G_GINT64_FORMAT, row);
  const char *actor = d->author ? d->author : "system";
  if (!rd_store_audit (store, number, actor, action, d->audit_old, d->audit_detail ? d->audit_detail : detail, error))
    return FALSE;
  if (message_row)
    *message_row = row;
  return TRUE;
}

gboolean
rd_store_message_find_by_spool (RdStore *store, gint64 spool_id, gint64 *message_row, gint64 *ticket_number,
                                GError **error)
{
  *message_row = *ticket_number = 0;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_MESSAGE_BY_SPOOL, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, spool_id);
  gboolean found = FALSE;
  if (!rd_store_step_maybe (store, st, "find message", &found, error))
    return FALSE;
  if (found)
    {
      *message_row = rd_db_col_int64 (st, 0);
      *ticket_number = rd_db_col_int64 (st, 1);
      rd_db_reset (st);
    }
  return TRUE;
}

gboolean
rd_store_ticket_open (RdStore *store, const RdTicketDraft *t, const RdMessageDraft *first, gint64 *number,
                      gint64 *message_row, GError **error)
{
  g_return_val_if_fail (t->queue && t->requester_addr && first, FALSE);
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  /* Idempotence: a spooled message already recorded keeps its ticket. */
  if (first->spool_id > 0)
    {
      gint64 row = 0, num = 0;
      if (!rd_store_message_find_by_spool (store, first->spool_id, &row, &num, error))
        return FALSE;
      if (row)
        {
          /* Recorded before: the spooled message is done either way. */
          *number = num;
          if (message_row)
            *message_row = row;
          return rd_store_spool_mark_processed (store, first->spool_id, error) && rd_store_tx_commit (&tx, error);
        }
    }
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_TICKET_INSERT, error);
  if (st == NULL)
    return FALSE;
  gint64 now = rd_store_now ();
  rd_db_bind_text (st, 1, t->queue);
  rd_db_bind_text (st, 2, t->subject ? t->subject : "");
  rd_db_bind_text (st, 3, t->requester_name);
  rd_db_bind_text (st, 4, t->requester_addr);
  rd_db_bind_int64 (st, 5, now);
  if (!rd_store_step_row (store, st, "open ticket", error, "open ticket: no number"))
    return FALSE;
  gint64 num = rd_db_col_int64 (st, 0);
  rd_db_reset (st);
  if (!write_message (store, num, first, first->audit_action ? first->audit_action : "created", message_row,
                      error))
    return FALSE;
  if (!rd_store_tx_commit (&tx, error))
    return FALSE;
  *number = num;
  return TRUE;
}

gboolean
rd_store_ticket_add_message (RdStore *store, gint64 number, const RdMessageDraft *d, gint64 *message_row,
                             GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  if (d->spool_id > 0)
    {
      gint64 row = 0, num = 0;
      if (!rd_store_message_find_by_spool (store, d->spool_id, &row, &num, error))
        return FALSE;
      if (row)
        {
          if (message_row)
            *message_row = row;
          return rd_store_spool_mark_processed (store, d->spool_id, error) && rd_store_tx_commit (&tx, error);
        }
    }
  if (!write_message (store, number, d, d->audit_action ? d->audit_action : default_action (d), message_row,
                      error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_store_message_set_delivery (RdStore *store, gint64 message_row, RdOutboxState state, const char *code,
                               const char *detail, const char *actor, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_MESSAGE_SET_DELIVERY, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, message_row);
  rd_db_bind_text (st, 2, rd_outbox_state_to_string (state));
  rd_db_bind_text (st, 3, code);
  rd_store_bind_bounded (st, 4, detail, 1000);
  if (!rd_store_step_row (store, st, "record delivery", error,
                          "no outbound message %" G_GINT64_FORMAT, message_row))
    return FALSE;
  gint64 number = rd_db_col_int64 (st, 0);
  rd_db_reset (st);
  if (state == RD_OUTBOX_FAILED || state == RD_OUTBOX_DROPPED)
    {
      g_autofree char *what = g_strdup_printf ("message %" G_GINT64_FORMAT "%s%s", message_row,
                                               code ? " " : "", code ? code : "");
      if (!rd_store_audit (store, number, actor,
                           state == RD_OUTBOX_FAILED ? "delivery-failed" : "delivery-dropped", NULL, what, error))
        return FALSE;
    }
  return rd_store_tx_commit (&tx, error);
}

/* ---- looking messages up ------------------------------------------------------ */

static gboolean
find_message (RdStore *store, RdDbStmt *st, gint64 *message_row, gint64 *ticket_number, const char *what,
              GError **error)
{
  gboolean found = FALSE;
  if (!rd_store_step_maybe (store, st, what, &found, error))
    return FALSE;
  if (found)
    {
      *message_row = rd_db_col_int64 (st, 0);
      *ticket_number = rd_db_col_int64 (st, 1);
      rd_db_reset (st);
    }
  return TRUE;
}

gboolean
rd_store_message_find_duplicate (RdStore *store, const char *message_id, const char *body_hash,
                                 gint64 *message_row, gint64 *ticket_number, GError **error)
{
  *message_row = *ticket_number = 0;
  if (message_id == NULL || body_hash == NULL)
    return TRUE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_MESSAGE_FIND_DUPLICATE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, message_id);
  rd_db_bind_text (st, 2, body_hash);
  return find_message (store, st, message_row, ticket_number, "find duplicate", error);
}

gboolean
rd_store_message_find_outbound (RdStore *store, const char *message_id, gint64 *message_row,
                                gint64 *ticket_number, GError **error)
{
  *message_row = *ticket_number = 0;
  if (message_id == NULL)
    return TRUE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_MESSAGE_FIND_OUTBOUND, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, message_id);
  return find_message (store, st, message_row, ticket_number, "find outbound message", error);
}

GPtrArray *
rd_store_ticket_message_ids (RdStore *store, gint64 number, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_TICKET_MESSAGE_IDS, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, number);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  if (!rd_store_collect_strings (store, st, "read message ids", out, error))
    return NULL;
  return g_steal_pointer (&out);
}

/* ---- attachments ------------------------------------------------------------------ */

/* The columns of RD_SQL_TICKET_ATTACHMENTS and RD_SQL_ATTACHMENT_GET. */
static RdStoredAttachment *
attachment_from_row (RdDbStmt *st)
{
  RdStoredAttachment *a = g_new0 (RdStoredAttachment, 1);
  a->id = rd_db_col_int64 (st, 0);
  a->message_row = rd_db_col_int64 (st, 1);
  a->filename = rd_db_col_strdup (st, 2);
  a->content_type = rd_db_col_strdup (st, 3);
  a->sha256 = rd_db_col_strdup (st, 4);
  a->size = rd_db_col_int64 (st, 5);
  return a;
}

GPtrArray *
rd_store_ticket_attachments (RdStore *store, gint64 number, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_TICKET_ATTACHMENTS, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, number);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_stored_attachment_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    g_ptr_array_add (out, attachment_from_row (st));
  if (!rd_store_rows_done (store, st, rc, "read attachments", error))
    return NULL;
  return g_steal_pointer (&out);
}

RdStoredAttachment *
rd_store_attachment_get (RdStore *store, gint64 id, gint64 *ticket_number, GBytes **data, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_ATTACHMENT_GET, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, id);
  if (!rd_store_step_row (store, st, "read attachment", error, "no attachment %" G_GINT64_FORMAT, id))
    return NULL;
  RdStoredAttachment *a = attachment_from_row (st);
  if (ticket_number)
    *ticket_number = rd_db_col_int64 (st, 6);
  if (data)
    *data = rd_db_col_bytes (st, 7);
  rd_db_reset (st);
  return a;
}
