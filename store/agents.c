/* relaydesk — store: agents, sessions, API tokens, the administration
 * audit log (see agents.h). */
#include "store-private.h"
#include "agents.h"

#include <string.h>

void
rd_agent_free (RdAgent *a)
{
  if (a == NULL)
    return;
  g_free (a->email);
  g_free (a->name);
  g_strfreev (a->queues);
  if (a->password_hash)
    memset (a->password_hash, 0, strlen (a->password_hash));
  g_free (a->password_hash);
  g_free (a->totp_secret);
  g_free (a);
}

void
rd_api_token_free (RdApiToken *t)
{
  if (t == NULL)
    return;
  g_free (t->email);
  g_free (t->label);
  g_free (t);
}

void
rd_admin_audit_entry_free (RdAdminAuditEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->actor);
  g_free (e->action);
  g_free (e->target);
  g_free (e->detail);
  g_free (e);
}

/* The columns of AGENT_COLUMNS (sql.c). */
static RdAgent *
agent_from_row (RdDbStmt *st)
{
  RdAgent *a = g_new0 (RdAgent, 1);
  a->id = rd_db_col_int64 (st, 0);
  a->email = rd_db_col_strdup (st, 1);
  a->name = rd_db_col_strdup (st, 2);
  a->admin = g_strcmp0 (rd_db_col_text (st, 3), "admin") == 0;
  a->password_hash = rd_db_col_strdup (st, 4);
  a->totp_secret = rd_db_col_strdup (st, 5);
  a->created_at = rd_db_col_int64 (st, 6);
  return a;
}

static gboolean
fill_queues (RdStore *store, RdAgent *a, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_QUEUES, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, a->id);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  if (!rd_store_collect_strings (store, st, "read agent queues", out, error))
    return FALSE;
  g_ptr_array_add (out, NULL);
  g_ptr_array_set_free_func (out, NULL);
  g_strfreev (a->queues);
  a->queues = (GStrv) g_ptr_array_free (g_steal_pointer (&out), FALSE);
  return TRUE;
}

static RdAgent *
agent_read (RdStore *store, RdSql q, gint64 id, const char *email, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, q, error);
  if (st == NULL)
    return NULL;
  if (email)
    rd_db_bind_text (st, 1, email);
  else
    rd_db_bind_int64 (st, 1, id);
  if (!rd_store_step_row (store, st, "read agent", error, "no agent %s", email ? email : "with that id"))
    return NULL;
  g_autoptr(RdAgent) a = agent_from_row (st);
  rd_db_reset (st);
  if (!fill_queues (store, a, error))
    return NULL;
  return g_steal_pointer (&a);
}

RdAgent *
rd_store_agent_get (RdStore *store, gint64 id, GError **error)
{
  return agent_read (store, RD_SQL_AGENT_GET, id, NULL, error);
}

RdAgent *
rd_store_agent_get_by_email (RdStore *store, const char *email, GError **error)
{
  return agent_read (store, RD_SQL_AGENT_GET_BY_EMAIL, 0, email ? email : "", error);
}

GPtrArray *
rd_store_agents_list (RdStore *store, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_LIST, error);
  if (st == NULL)
    return NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_agent_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    g_ptr_array_add (out, agent_from_row (st));
  if (!rd_store_rows_done (store, st, rc, "list agents", error))
    return NULL;
  for (guint i = 0; i < out->len; i++)
    if (!fill_queues (store, g_ptr_array_index (out, i), error))
      return NULL;
  return g_steal_pointer (&out);
}

static gboolean
set_queues (RdStore *store, gint64 id, const char *const *queues, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_QUEUES_CLEAR, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, id);
  if (!rd_store_step_done (store, st, "clear agent queues", error))
    return FALSE;
  for (guint i = 0; queues && queues[i]; i++)
    {
      st = rd_store_stmt (store, RD_SQL_AGENT_QUEUE_ADD, error);
      if (st == NULL)
        return FALSE;
      rd_db_bind_int64 (st, 1, id);
      rd_db_bind_text (st, 2, queues[i]);
      if (!rd_store_step_done (store, st, "add agent queue", error))
        return FALSE;
    }
  return TRUE;
}

gboolean
rd_store_admin_audit (RdStore *store, const char *actor, const char *action, const char *target,
                      const char *detail, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_ADMIN_AUDIT_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, rd_store_now ());
  rd_db_bind_text (st, 2, actor ? actor : "system");
  rd_db_bind_text (st, 3, action);
  rd_db_bind_text (st, 4, target);
  rd_store_bind_bounded (st, 5, detail, 4096);
  return rd_store_step_done (store, st, "audit", error);
}

gboolean
rd_store_agent_add (RdStore *store, RdAgent *a, const char *actor, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  g_autoptr(GError) local = NULL;
  g_autoptr(RdAgent) old = rd_store_agent_get_by_email (store, a->email, &local);
  if (old)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFLICT, "agent %s exists already", a->email);
      return FALSE;
    }
  if (!g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, a->email);
  rd_db_bind_text (st, 2, a->name);
  rd_db_bind_text (st, 3, a->admin ? "admin" : "agent");
  rd_db_bind_text (st, 4, a->password_hash);
  rd_db_bind_int64 (st, 5, rd_store_now ());
  if (!rd_store_step_int (store, st, "add agent", &a->id, error))
    return FALSE;
  g_autofree char *queues = a->queues ? g_strjoinv (",", a->queues) : g_strdup ("");
  g_autofree char *detail = g_strdup_printf ("role=%s queues=%s", a->admin ? "admin" : "agent", queues);
  if (!set_queues (store, a->id, (const char *const *) a->queues, error)
      || !rd_store_admin_audit (store, actor, "agent-add", a->email, detail, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

/* Runs one "UPDATE agents SET x = $2, updated_at = $3 WHERE id = $1". */
static gboolean
agent_set (RdStore *store, RdSql q, gint64 id, const char *value, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, q, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, id);
  rd_db_bind_text (st, 2, value);
  rd_db_bind_int64 (st, 3, rd_store_now ());
  if (!rd_store_step_done (store, st, "update agent", error))
    return FALSE;
  if (rd_store_changes (store) != 1)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no such agent");
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_store_agent_update (RdStore *store, gint64 id, const char *name, int admin, const char *const *queues,
                       const char *actor, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  g_autoptr(RdAgent) a = rd_store_agent_get (store, id, error);
  if (a == NULL)
    return FALSE;
  g_autoptr(GString) detail = g_string_new (NULL);
  if (name && !agent_set (store, RD_SQL_AGENT_SET_NAME, id, name, error))
    return FALSE;
  if (name)
    g_string_append_printf (detail, "name=%s ", name);
  if (admin >= 0 && !agent_set (store, RD_SQL_AGENT_SET_ROLE, id, admin ? "admin" : "agent", error))
    return FALSE;
  if (admin >= 0)
    g_string_append_printf (detail, "role=%s ", admin ? "admin" : "agent");
  if (queues)
    {
      if (!set_queues (store, id, queues, error))
        return FALSE;
      g_autofree char *q = g_strjoinv (",", (GStrv) queues);
      g_string_append_printf (detail, "queues=%s", q);
    }
  if (!rd_store_admin_audit (store, actor, "agent-update", a->email, g_strchomp (detail->str), error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_store_agent_set_password (RdStore *store, gint64 id, const char *hash, const char *keep_session,
                             const char *actor, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  g_autoptr(RdAgent) a = rd_store_agent_get (store, id, error);
  if (a == NULL || !agent_set (store, RD_SQL_AGENT_SET_PASSWORD, id, hash, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_SESSIONS_REMOVE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, id);
  rd_db_bind_text (st, 2, keep_session);
  if (!rd_store_step_done (store, st, "end sessions", error)
      || !rd_store_admin_audit (store, actor, "agent-password", a->email, NULL, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_store_agent_set_totp (RdStore *store, gint64 id, const char *secret, const char *actor, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  g_autoptr(RdAgent) a = rd_store_agent_get (store, id, error);
  if (a == NULL || !agent_set (store, RD_SQL_AGENT_SET_TOTP, id, secret, error)
      || !rd_store_admin_audit (store, actor, "agent-totp", a->email, secret ? "enabled" : "disabled", error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_store_agent_remove (RdStore *store, gint64 id, const char *actor, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  g_autoptr(RdAgent) a = rd_store_agent_get (store, id, error);
  if (a == NULL)
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_REMOVE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, id);
  if (!rd_store_step_done (store, st, "remove agent", error)
      || !rd_store_admin_audit (store, actor, "agent-remove", a->email, NULL, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

/* ---- sessions ---------------------------------------------------------------- */

gboolean
rd_store_session_add (RdStore *store, gint64 agent_id, const char *token_hash, const char *csrf,
                      gint64 expires_at, const char *client_addr, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_SESSION_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, token_hash);
  rd_db_bind_int64 (st, 2, agent_id);
  rd_db_bind_text (st, 3, csrf);
  rd_db_bind_int64 (st, 4, rd_store_now ());
  rd_db_bind_int64 (st, 5, expires_at);
  rd_store_bind_bounded (st, 6, client_addr, 64);
  return rd_store_step_done (store, st, "add session", error);
}

RdAgent *
rd_store_session_agent (RdStore *store, const char *token_hash, char **csrf, gint64 *expires_at, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_SESSION_GET, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_text (st, 1, token_hash);
  rd_db_bind_int64 (st, 2, rd_store_now ());
  if (!rd_store_step_row (store, st, "read session", error, "no session"))
    return NULL;
  gint64 id = rd_db_col_int64 (st, 0);
  if (csrf)
    *csrf = rd_db_col_strdup (st, 1);
  if (expires_at)
    *expires_at = rd_db_col_int64 (st, 2);
  rd_db_reset (st);
  return rd_store_agent_get (store, id, error);
}

gboolean
rd_store_session_remove (RdStore *store, const char *token_hash, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_SESSION_REMOVE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, token_hash);
  return rd_store_step_done (store, st, "remove session", error);
}

gboolean
rd_store_sessions_expire (RdStore *store, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_SESSIONS_EXPIRE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, rd_store_now ());
  return rd_store_step_done (store, st, "expire sessions", error);
}

/* ---- API tokens ---------------------------------------------------------------- */

gboolean
rd_store_token_add (RdStore *store, gint64 agent_id, const char *label, const char *token_hash, const char *actor,
                    gint64 *id, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  g_autoptr(RdAgent) a = rd_store_agent_get (store, agent_id, error);
  if (a == NULL)
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_TOKEN_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, agent_id);
  rd_db_bind_text (st, 2, label);
  rd_db_bind_text (st, 3, token_hash);
  rd_db_bind_int64 (st, 4, rd_store_now ());
  if (!rd_store_step_int (store, st, "add token", id, error))
    return FALSE;
  g_autofree char *detail = g_strdup_printf ("token %" G_GINT64_FORMAT " label=%s", *id, label);
  if (!rd_store_admin_audit (store, actor, "token-add", a->email, detail, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

RdAgent *
rd_store_token_agent (RdStore *store, const char *token_hash, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_TOKEN_GET, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_text (st, 1, token_hash);
  if (!rd_store_step_row (store, st, "read token", error, "no such token"))
    return NULL;
  gint64 token_id = rd_db_col_int64 (st, 0);
  gint64 agent_id = rd_db_col_int64 (st, 1);
  gint64 last_used = rd_db_col_int64 (st, 2);
  rd_db_reset (st);
  /* When it was last used, to the hour: one write per token and hour,
   * not one per request. Best effort: a busy database skips it. */
  gint64 now = rd_store_now ();
  if (last_used < now - 3600)
    {
      RdDbStmt *up = rd_store_stmt (store, RD_SQL_AGENT_TOKEN_USED, NULL);
      if (up)
        {
          rd_db_bind_int64 (up, 1, token_id);
          rd_db_bind_int64 (up, 2, now);
          rd_store_step_done (store, up, "token used", NULL);
        }
    }
  return rd_store_agent_get (store, agent_id, error);
}

GPtrArray *
rd_store_tokens_list (RdStore *store, gint64 agent_id, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_TOKEN_LIST, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, agent_id);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_api_token_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdApiToken *t = g_new0 (RdApiToken, 1);
      t->id = rd_db_col_int64 (st, 0);
      t->email = rd_db_col_strdup (st, 1);
      t->label = rd_db_col_strdup (st, 2);
      t->created_at = rd_db_col_int64 (st, 3);
      t->last_used_at = rd_db_col_int64 (st, 4);
      t->revoked_at = rd_db_col_int64 (st, 5);
      g_ptr_array_add (out, t);
    }
  if (!rd_store_rows_done (store, st, rc, "list tokens", error))
    return NULL;
  return g_steal_pointer (&out);
}

gboolean
rd_store_token_revoke (RdStore *store, gint64 id, const char *actor, GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AGENT_TOKEN_REVOKE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, id);
  rd_db_bind_int64 (st, 2, rd_store_now ());
  if (!rd_store_step_done (store, st, "revoke token", error))
    return FALSE;
  if (rd_store_changes (store) != 1)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no live token %" G_GINT64_FORMAT, id);
      return FALSE;
    }
  g_autofree char *target = g_strdup_printf ("token %" G_GINT64_FORMAT, id);
  if (!rd_store_admin_audit (store, actor, "token-revoke", target, NULL, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

GPtrArray *
rd_store_admin_audit_list (RdStore *store, guint limit, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_ADMIN_AUDIT_LIST, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, limit ? limit : 100);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_admin_audit_entry_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdAdminAuditEntry *e = g_new0 (RdAdminAuditEntry, 1);
      e->id = rd_db_col_int64 (st, 0);
      e->at = rd_db_col_int64 (st, 1);
      e->actor = rd_db_col_strdup (st, 2);
      e->action = rd_db_col_strdup (st, 3);
      e->target = rd_db_col_strdup (st, 4);
      e->detail = rd_db_col_strdup (st, 5);
      g_ptr_array_add (out, e);
    }
  if (!rd_store_rows_done (store, st, rc, "read audit", error))
    return NULL;
  return g_steal_pointer (&out);
}
