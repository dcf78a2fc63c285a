/* relaydesk — store: attachment lists of ticket messages. */
#include "message-attachments.h"
#include "store-private.h"

/* A message lists at most this many attachments (the parser caps parts
 * too; this keeps one row set bounded whatever the caller passes). */
#define MAX_ATTACHMENTS 1000

void
rd_attachment_meta_free (RdAttachmentMeta *a)
{
  if (a == NULL)
    return;
  g_free (a->filename);
  g_free (a->content_type);
  g_free (a->disposition);
  g_free (a->content_id);
  g_free (a->sha256);
  g_free (a->embedded_subject);
  g_free (a);
}

gboolean
rd_store_message_attachments_put (RdStore *store, gint64 spool_id, const RdAttachmentMeta *const *items,
                                  guint n, GError **error)
{
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT id FROM messages WHERE spool_id = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, spool_id);
  int rc = sqlite3_step (st);
  gint64 message_id = rc == SQLITE_ROW ? sqlite3_column_int64 (st, 0) : 0;
  sqlite3_reset (st);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no message recorded from spool id %" G_GINT64_FORMAT,
                     spool_id);
      else
        rd_store_set_error (store, rc, error, "find message");
      return FALSE;
    }
  st = rd_store_stmt (store, "DELETE FROM message_attachment_meta WHERE message_id = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, message_id);
  rc = sqlite3_step (st);
  sqlite3_reset (st);
  if (rc != SQLITE_DONE)
    {
      rd_store_set_error (store, rc, error, "clear attachment list");
      return FALSE;
    }
  for (guint i = 0; i < n && i < MAX_ATTACHMENTS; i++)
    {
      const RdAttachmentMeta *a = items[i];
      st = rd_store_stmt (store,
          "INSERT INTO message_attachment_meta (message_id, position, filename, content_type,"
          " disposition, content_id, size, sha256, embedded_subject) VALUES (?,?,?,?,?,?,?,?,?)", error);
      if (st == NULL)
        return FALSE;
      sqlite3_bind_int64 (st, 1, message_id);
      sqlite3_bind_int (st, 2, (int) i);
      rd_store_bind_text (st, 3, a->filename);
      rd_store_bind_text (st, 4, a->content_type ? a->content_type : "application/octet-stream");
      rd_store_bind_text (st, 5, a->disposition);
      rd_store_bind_text (st, 6, a->content_id);
      if (a->size >= 0)
        sqlite3_bind_int64 (st, 7, a->size);
      else
        sqlite3_bind_null (st, 7);
      rd_store_bind_text (st, 8, a->sha256);
      rd_store_bind_text (st, 9, a->embedded_subject);
      rc = sqlite3_step (st);
      sqlite3_reset (st);
      if (rc != SQLITE_DONE)
        {
          rd_store_set_error (store, rc, error, "insert attachment");
          return FALSE;
        }
    }
  return rd_store_tx_commit (&tx, error);
}

GPtrArray *
rd_store_message_attachments_get (RdStore *store, gint64 message_id, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT filename, content_type, disposition, content_id, size, sha256, embedded_subject"
      " FROM message_attachment_meta WHERE message_id = ? ORDER BY position", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, message_id);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_attachment_meta_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      RdAttachmentMeta *a = g_new0 (RdAttachmentMeta, 1);
      a->filename = rd_store_col_strdup (st, 0);
      a->content_type = rd_store_col_strdup (st, 1);
      a->disposition = rd_store_col_strdup (st, 2);
      a->content_id = rd_store_col_strdup (st, 3);
      a->size = sqlite3_column_type (st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64 (st, 4);
      a->sha256 = rd_store_col_strdup (st, 5);
      a->embedded_subject = rd_store_col_strdup (st, 6);
      g_ptr_array_add (out, a);
    }
  sqlite3_reset (st);
  if (rc != SQLITE_DONE)
    {
      rd_store_set_error (store, rc, error, "read attachment list");
      return NULL;
    }
  return g_steal_pointer (&out);
}
