/* relaydesk — store: drafts, saved views, uploads, rule versions, queue
 * counts, the spool by state (see workspace.h). */
#include "store-private.h"
#include "workspace.h"
#include "agents.h"

#include <string.h>

/* ---- drafts ------------------------------------------------------------------ */

gboolean
rd_store_draft_put (RdStore *store, gint64 agent_id, gint64 number, const char *body, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_DRAFT_PUT, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, agent_id);
  rd_db_bind_int64 (st, 2, number);
  rd_db_bind_text (st, 3, body);
  rd_db_bind_int64 (st, 4, rd_store_now ());
  return rd_store_step_done (store, st, "save draft", error);
}

char *
rd_store_draft_get (RdStore *store, gint64 agent_id, gint64 number, gint64 *updated_at, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_DRAFT_GET, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, agent_id);
  rd_db_bind_int64 (st, 2, number);
  gboolean found = FALSE;
  if (!rd_store_step_maybe (store, st, "read draft", &found, error) || !found)
    return NULL;
  char *body = rd_db_col_strdup (st, 0);
  if (updated_at)
    *updated_at = rd_db_col_int64 (st, 1);
  rd_db_reset (st);
  return body;
}

gboolean
rd_store_draft_delete (RdStore *store, gint64 agent_id, gint64 number, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_DRAFT_DELETE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, agent_id);
  rd_db_bind_int64 (st, 2, number);
  return rd_store_step_done (store, st, "delete draft", error);
}

/* ---- saved views ---------------------------------------------------------------- */

void
rd_saved_view_free (RdSavedView *v)
{
  if (v == NULL)
    return;
  g_free (v->name);
  g_free (v->filters);
  g_free (v);
}

gboolean
rd_store_view_put (RdStore *store, gint64 agent_id, const char *name, const char *filters, gint64 *id,
                   GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_VIEW_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, agent_id);
  rd_db_bind_text (st, 2, name);
  rd_db_bind_text (st, 3, filters);
  rd_db_bind_int64 (st, 4, rd_store_now ());
  return rd_store_step_int (store, st, "save view", id, error);
}

GPtrArray *
rd_store_views_list (RdStore *store, gint64 agent_id, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_VIEW_LIST, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, agent_id);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_saved_view_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdSavedView *v = g_new0 (RdSavedView, 1);
      v->id = rd_db_col_int64 (st, 0);
      v->name = rd_db_col_strdup (st, 1);
      v->filters = rd_db_col_strdup (st, 2);
      v->created_at = rd_db_col_int64 (st, 3);
      g_ptr_array_add (out, v);
    }
  if (!rd_store_rows_done (store, st, rc, "list views", error))
    return NULL;
  return g_steal_pointer (&out);
}

gboolean
rd_store_view_delete (RdStore *store, gint64 agent_id, gint64 id, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_VIEW_DELETE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, id);
  rd_db_bind_int64 (st, 2, agent_id);
  if (!rd_store_step_done (store, st, "delete view", error))
    return FALSE;
  if (rd_store_changes (store) != 1)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no view %" G_GINT64_FORMAT, id);
      return FALSE;
    }
  return TRUE;
}

/* ---- uploads ---------------------------------------------------------------- */

gboolean
rd_store_upload_add (RdStore *store, gint64 agent_id, const char *filename, const char *content_type,
                     GBytes *data, gint64 *id, char **sha256, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  g_autofree char *sha = NULL;
  if (!rd_store_blob_put (store, data, &sha, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_UPLOAD_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, agent_id);
  rd_db_bind_text (st, 2, filename);
  rd_db_bind_text (st, 3, content_type);
  rd_db_bind_text (st, 4, sha);
  rd_db_bind_int64 (st, 5, rd_store_now ());
  if (!rd_store_step_int (store, st, "add upload", id, error) || !rd_store_tx_commit (&tx, error))
    return FALSE;
  if (sha256)
    *sha256 = g_steal_pointer (&sha);
  return TRUE;
}

RdStoredAttachment *
rd_store_upload_get (RdStore *store, gint64 agent_id, gint64 id, GBytes **data, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_UPLOAD_GET, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, id);
  rd_db_bind_int64 (st, 2, agent_id);
  if (!rd_store_step_row (store, st, "read upload", error, "no upload %" G_GINT64_FORMAT, id))
    return NULL;
  RdStoredAttachment *a = g_new0 (RdStoredAttachment, 1);
  a->id = rd_db_col_int64 (st, 0);
  a->filename = rd_db_col_strdup (st, 1);
  a->content_type = rd_db_col_strdup (st, 2);
  a->sha256 = rd_db_col_strdup (st, 3);
  a->size = rd_db_col_int64 (st, 4);
  if (data)
    *data = rd_db_col_bytes (st, 5);
  rd_db_reset (st);
  return a;
}

/* ---- rule versions ------------------------------------------------------------ */

void
rd_rule_version_free (RdRuleVersion *v)
{
  if (v == NULL)
    return;
  g_free (v->script);
  g_free (v->saved_by);
  g_free (v->body);
  g_free (v);
}

gboolean
rd_store_rule_version_add (RdStore *store, const char *script, const char *body, const char *actor, gint64 *id,
                           GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_RULE_VERSION_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, script);
  rd_db_bind_text (st, 2, body);
  rd_db_bind_int64 (st, 3, rd_store_now ());
  rd_db_bind_text (st, 4, actor ? actor : "system");
  if (!rd_store_step_int (store, st, "save rule version", id, error))
    return FALSE;
  g_autofree char *detail = g_strdup_printf ("version %" G_GINT64_FORMAT, *id);
  if (!rd_store_admin_audit (store, actor, "rules-save", script, detail, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

GPtrArray *
rd_store_rule_versions_list (RdStore *store, const char *script, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_RULE_VERSION_LIST, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_text (st, 1, script);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rule_version_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdRuleVersion *v = g_new0 (RdRuleVersion, 1);
      v->id = rd_db_col_int64 (st, 0);
      v->script = rd_db_col_strdup (st, 1);
      v->saved_at = rd_db_col_int64 (st, 2);
      v->saved_by = rd_db_col_strdup (st, 3);
      v->size = rd_db_col_int64 (st, 4);
      g_ptr_array_add (out, v);
    }
  if (!rd_store_rows_done (store, st, rc, "list rule versions", error))
    return NULL;
  return g_steal_pointer (&out);
}

RdRuleVersion *
rd_store_rule_version_get (RdStore *store, gint64 id, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_RULE_VERSION_GET, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, id);
  if (!rd_store_step_row (store, st, "read rule version", error, "no rule version %" G_GINT64_FORMAT, id))
    return NULL;
  RdRuleVersion *v = g_new0 (RdRuleVersion, 1);
  v->id = rd_db_col_int64 (st, 0);
  v->script = rd_db_col_strdup (st, 1);
  v->saved_at = rd_db_col_int64 (st, 2);
  v->saved_by = rd_db_col_strdup (st, 3);
  v->body = rd_db_col_strdup (st, 4);
  v->size = v->body ? (gint64) strlen (v->body) : 0;
  rd_db_reset (st);
  return v;
}

/* ---- counts ------------------------------------------------------------------ */

void
rd_queue_count_free (RdQueueCount *c)
{
  if (c == NULL)
    return;
  g_free (c->queue);
  g_free (c);
}

GPtrArray *
rd_store_queue_counts (RdStore *store, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_QUEUE_COUNTS, error);
  if (st == NULL)
    return NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_queue_count_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdQueueCount *c = g_new0 (RdQueueCount, 1);
      c->queue = rd_db_col_strdup (st, 0);
      if (!rd_ticket_status_from_string (rd_db_col_text (st, 1), &c->status))
        c->status = RD_TICKET_STATUS_OPEN;
      c->count = rd_db_col_int64 (st, 2);
      g_ptr_array_add (out, c);
    }
  if (!rd_store_rows_done (store, st, rc, "read queue counts", error))
    return NULL;
  return g_steal_pointer (&out);
}

/* ---- the spool by state -------------------------------------------------------- */

void
rd_spool_summary_free (RdSpoolSummary *s)
{
  if (s == NULL)
    return;
  g_free (s->queue_id);
  g_free (s->sender);
  g_free (s->client_addr);
  g_free (s->message_id);
  g_free (s->reason);
  g_free (s);
}

GPtrArray *
rd_store_spool_list_state (RdStore *store, RdSpoolState state, guint limit, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SPOOL_LIST_STATE, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_text (st, 1, rd_spool_state_to_string (state));
  rd_db_bind_int64 (st, 2, limit ? MIN (limit, 1000) : 100);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_spool_summary_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdSpoolSummary *s = g_new0 (RdSpoolSummary, 1);
      s->id = rd_db_col_int64 (st, 0);
      s->queue_id = rd_db_col_strdup (st, 1);
      s->received_at = rd_db_col_int64 (st, 2);
      s->sender = rd_db_col_strdup (st, 3);
      s->client_addr = rd_db_col_strdup (st, 4);
      s->message_id = rd_db_col_strdup (st, 5);
      s->reason = rd_db_col_strdup (st, 6);
      s->size = rd_db_col_int64 (st, 7);
      g_ptr_array_add (out, s);
    }
  if (!rd_store_rows_done (store, st, rc, "list spool", error))
    return NULL;
  return g_steal_pointer (&out);
}
