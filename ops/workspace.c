/* relaydesk — ops: counts, drafts, views, uploads, the quarantine and
 * rule scripts (see ops-web.h). */
#include "ops-private.h"
#include "ops-web.h"
#include "desk.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <unistd.h>

#define DRAFT_MAX (1024 * 1024)
#define VIEW_NAME_MAX 100

GPtrArray *
rd_ops_queue_counts (RdOps *ops, const RdActor *actor, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return NULL;
  g_autoptr(GPtrArray) all = rd_store_queue_counts (ops->store, error);
  if (all == NULL)
    return NULL;
  for (guint i = all->len; i-- > 0;)
    if (!rd_actor_sees_queue (actor, ((RdQueueCount *) g_ptr_array_index (all, i))->queue))
      g_ptr_array_remove_index (all, i);
  return g_steal_pointer (&all);
}

gboolean
rd_ops_tickets_count (RdOps *ops, const RdActor *actor, const RdTicketQuery *q, gint64 cap, gint64 *count,
                      gboolean *capped, GError **error)
{
  *count = 0;
  if (capped)
    *capped = FALSE;
  if (!rd_ops_need_store (ops, error))
    return FALSE;
  if (q->queue && !rd_actor_sees_queue (actor, q->queue))
    return TRUE;
  RdTicketQuery mine = *q;
  mine.queues = actor->queues;
  if (q->assignee || q->tag || q->has_priority || q->requester || q->since > 0)
    return rd_store_tickets_count (ops->store, &mine, cap, count, capped, error);
  /* Queues and status only: the counters kept by triggers (a few rows),
   * exact at any size, instead of counting index entries. */
  g_autoptr(GPtrArray) counts = rd_store_queue_counts (ops->store, error);
  if (counts == NULL)
    return FALSE;
  for (guint i = 0; i < counts->len; i++)
    {
      const RdQueueCount *c = g_ptr_array_index (counts, i);
      if ((q->queue && g_strcmp0 (q->queue, c->queue) != 0) || !rd_actor_sees_queue (actor, c->queue)
          || (q->has_status && q->status != c->status))
        continue;
      *count += c->count;
    }
  return TRUE;
}

/* ---- drafts -------------------------------------------------------------------------- */

char *
rd_ops_draft_get (RdOps *ops, const RdActor *actor, gint64 agent_id, gint64 number, gint64 *updated_at,
                  GError **error)
{
  if (!rd_ops_check_ticket (ops, actor, number, error))
    return NULL;
  return rd_store_draft_get (ops->store, agent_id, number, updated_at, error);
}

gboolean
rd_ops_draft_put (RdOps *ops, const RdActor *actor, gint64 agent_id, gint64 number, const char *text,
                  GError **error)
{
  if (text == NULL || strlen (text) > DRAFT_MAX || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "a draft is UTF-8 text of at most %d bytes", DRAFT_MAX);
      return FALSE;
    }
  return rd_ops_check_ticket (ops, actor, number, error)
         && rd_store_draft_put (ops->store, agent_id, number, text, error);
}

gboolean
rd_ops_draft_delete (RdOps *ops, const RdActor *actor, gint64 agent_id, gint64 number, GError **error)
{
  return rd_ops_check_ticket (ops, actor, number, error) && rd_store_draft_delete (ops->store, agent_id, number, error);
}

/* ---- views and uploads ---------------------------------------------------------------- */

GPtrArray *
rd_ops_views_list (RdOps *ops, gint64 agent_id, GError **error)
{
  return rd_ops_need_store (ops, error) ? rd_store_views_list (ops->store, agent_id, error) : NULL;
}

gboolean
rd_ops_view_put (RdOps *ops, gint64 agent_id, const char *name, const char *filters, gint64 *id, GError **error)
{
  if (name == NULL || *name == '\0' || strlen (name) > VIEW_NAME_MAX || !g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "a view's name has 1 to %d bytes", VIEW_NAME_MAX);
      return FALSE;
    }
  return rd_ops_need_store (ops, error) && rd_store_view_put (ops->store, agent_id, name, filters, id, error);
}

gboolean
rd_ops_view_delete (RdOps *ops, gint64 agent_id, gint64 id, GError **error)
{
  return rd_ops_need_store (ops, error) && rd_store_view_delete (ops->store, agent_id, id, error);
}

gboolean
rd_ops_upload_add (RdOps *ops, gint64 agent_id, const char *filename, const char *content_type, GBytes *data,
                   guint64 max, gint64 *id, char **sha256, GError **error)
{
  if (g_bytes_get_size (data) > max)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "the file is larger than %" G_GUINT64_FORMAT " bytes", max);
      return FALSE;
    }
  return rd_ops_need_store (ops, error)
         && rd_store_upload_add (ops->store, agent_id, filename, content_type, data, id, sha256, error);
}

RdStoredAttachment *
rd_ops_upload_get (RdOps *ops, gint64 agent_id, gint64 id, GBytes **data, GError **error)
{
  return rd_ops_need_store (ops, error) ? rd_store_upload_get (ops->store, agent_id, id, data, error) : NULL;
}

RdSpooled *
rd_ops_message_spooled (RdOps *ops, const RdActor *actor, gint64 number, gint64 *message_row, GError **error)
{
  g_autoptr(RdTicketView) v = rd_ops_ticket_view (ops, actor, number, error);
  if (v == NULL)
    return NULL;
  for (guint i = 0; i < v->ticket->messages->len; i++)
    {
      RdTicketMessage *m = g_ptr_array_index (v->ticket->messages, i);
      if ((*message_row && m->id != *message_row) || m->spool_id <= 0)
        continue;
      RdSpooled *sp = rd_store_spool_get (ops->store, m->spool_id, error);
      if (sp)
        *message_row = m->id;
      return sp;
    }
  g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no stored message %" G_GINT64_FORMAT " on ticket #%" G_GINT64_FORMAT,
               *message_row, number);
  return NULL;
}

/* ---- the spool ------------------------------------------------------------------------- */

GPtrArray *
rd_ops_spool_quarantine (RdOps *ops, const RdActor *actor, guint limit, GError **error)
{
  if (!rd_ops_need_admin (actor, "the quarantine", error) || !rd_ops_need_store (ops, error))
    return NULL;
  return rd_store_spool_list_state (ops->store, RD_SPOOL_QUARANTINED, limit, error);
}

RdSpooled *
rd_ops_spool_get (RdOps *ops, const RdActor *actor, gint64 id, GError **error)
{
  if (!rd_ops_need_admin (actor, "the spool", error) || !rd_ops_need_store (ops, error))
    return NULL;
  return rd_store_spool_get (ops->store, id, error);
}

gboolean
rd_ops_spool_reprocess (RdOps *ops, const RdActor *actor, gint64 id, GError **error)
{
  g_autoptr(RdSpooled) m = rd_ops_spool_get (ops, actor, id, error);
  if (m == NULL)
    return FALSE;
  if (m->state != RD_SPOOL_QUARANTINED && m->state != RD_SPOOL_DISCARDED)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "spooled message %" G_GINT64_FORMAT " is %s, not quarantined",
                   id, rd_spool_state_to_string (m->state));
      return FALSE;
    }
  g_autofree char *why = g_strdup_printf ("reprocess by %s", actor->name ? actor->name : "admin");
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (ops->store, &tx, error) || !rd_store_spool_set_state (ops->store, id, RD_SPOOL_NEW, why, error))
    return FALSE;
  g_autofree char *target = g_strdup_printf ("spool %" G_GINT64_FORMAT, id);
  if (!rd_store_admin_audit (ops->store, actor->name, "spool-reprocess", target, m->state_reason, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

GPtrArray *
rd_ops_admin_audit (RdOps *ops, const RdActor *actor, guint limit, GError **error)
{
  if (!rd_ops_need_admin (actor, "the audit log", error) || !rd_ops_need_store (ops, error))
    return NULL;
  return rd_store_admin_audit_list (ops->store, limit, error);
}

/* ---- rule scripts ------------------------------------------------------------------------ */

void
rd_rule_script_free (RdRuleScript *s)
{
  if (s == NULL)
    return;
  g_free (s->name);
  g_free (s->path);
  g_free (s->role);
  g_free (s->inbox);
  g_free (s);
}

static void
add_script (GPtrArray *out, const char *script_dir, const char *name, const char *role, const char *inbox)
{
  RdRuleScript *s = g_new0 (RdRuleScript, 1);
  s->name = g_strdup (name);
  s->path = g_path_is_absolute (name) ? g_strdup (name) : g_build_filename (script_dir, name, NULL);
  s->role = g_strdup (role);
  s->inbox = g_strdup (inbox);
  GStatBuf st;
  s->exists = g_stat (s->path, &st) == 0;
  s->size = s->exists ? (gint64) st.st_size : 0;
  g_ptr_array_add (out, s);
}

GPtrArray *
rd_ops_rules_scripts (RdOps *ops, const RdActor *actor, char **script_dir, GError **error)
{
  if (!rd_ops_need_admin (actor, "rules", error))
    return NULL;
  g_autofree char *dir = rd_desk_rules_script_dir (ops->config);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rule_script_free);
  static const char *const roles[] = { "before", "default", "after" };
  for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
    {
      const char *v = rd_config_get_string (ops->config, "rules", roles[i], NULL);
      if (v && *v)
        add_script (out, dir, v, roles[i], NULL);
    }
  g_auto(GStrv) scripts = rd_config_get_list (ops->config, "rules", "scripts");
  for (guint i = 0; scripts && scripts[i]; i++)
    {
      const char *eq = strchr (scripts[i], '=');
      if (eq == NULL || eq == scripts[i] || eq[1] == '\0')
        continue;
      g_autofree char *inbox = g_strstrip (g_strndup (scripts[i], (gsize) (eq - scripts[i])));
      g_autofree char *file = g_strstrip (g_strdup (eq + 1));
      add_script (out, dir, file, "inbox", inbox);
    }
  if (script_dir)
    *script_dir = g_steal_pointer (&dir);
  return g_steal_pointer (&out);
}

RdRuleScript *
rd_ops_rules_read (RdOps *ops, const RdActor *actor, const char *name, char **text, GError **error)
{
  g_autoptr(GPtrArray) all = rd_ops_rules_scripts (ops, actor, NULL, error);
  if (all == NULL)
    return NULL;
  for (guint i = 0; i < all->len; i++)
    {
      RdRuleScript *s = g_ptr_array_index (all, i);
      if (g_strcmp0 (s->name, name) != 0)
        continue;
      if (text)
        {
          gsize len = 0;
          g_autoptr(GError) local = NULL;
          if (!g_file_get_contents (s->path, text, &len, &local))
            *text = g_strdup ("");
        }
      return g_ptr_array_steal_index (all, i);
    }
  g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no rule script '%s' in [rules]", name ? name : "");
  return NULL;
}

gboolean
rd_ops_rules_check_text (RdOps *ops, const RdActor *actor, const char *name, const char *text,
                         GPtrArray *diagnostics, GError **error)
{
  if (!rd_ops_need_admin (actor, "rules", error))
    return FALSE;
  g_autofree char *dir = rd_desk_rules_script_dir (ops->config);
  g_autofree char *path = name && *name ? (g_path_is_absolute (name) ? g_strdup (name)
                                                                     : g_build_filename (dir, name, NULL))
                                        : g_build_filename (dir, "playground.sieve", NULL);
  g_autofree char *personal = g_path_get_dirname (path);
  g_autoptr(GError) local = NULL;
  g_autoptr(RdRules) rules = rd_desk_rules_compile_text (ops->config, name && *name ? name : "playground.sieve",
                                                         text ? text : "", text ? strlen (text) : 0, personal, NULL,
                                                         NULL, diagnostics, &local);
  if (rules == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "%s", local ? local->message : "the script does not compile");
      return FALSE;
    }
  return TRUE;
}

/* Writes @text to @path through a temporary file renamed over it. */
static gboolean
write_atomically (const char *path, const char *text, GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d", path, (int) getpid ());
  g_autoptr(GError) local = NULL;
  if (!g_file_set_contents_full (tmp, text, -1, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0640,
                                 &local))
    {
      /* Most often serve's user may not write [rules] script_dir. */
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "cannot write %s: %s ([rules] script_dir must be writable by "
                   "serve's user to save scripts here)", path, local->message);
      return FALSE;
    }
  if (g_rename (tmp, path) != 0)
    {
      int e = errno;
      g_unlink (tmp);
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "cannot replace %s: %s", path, g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_ops_rules_save (RdOps *ops, const RdActor *actor, const char *name, const char *text, GPtrArray *diagnostics,
                   gint64 *version, GError **error)
{
  g_autoptr(RdRuleScript) s = rd_ops_rules_read (ops, actor, name, NULL, error);
  if (s == NULL || !rd_ops_need_store (ops, error))
    return FALSE;
  guint64 max = rd_config_get_size (ops->config, "rules", "max_script_size", 1024 * 1024);
  if (text == NULL || strlen (text) > max || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "a script is UTF-8 of at most [rules] max_script_size bytes");
      return FALSE;
    }
  /* A script that does not compile never replaces a working one. */
  if (!rd_ops_rules_check_text (ops, actor, name, text, diagnostics, error))
    return FALSE;
  if (!rd_store_rule_version_add (ops->store, name, text, actor->name, version, error))
    return FALSE;
  return write_atomically (s->path, text, error);
}

GPtrArray *
rd_ops_rules_versions (RdOps *ops, const RdActor *actor, const char *name, GError **error)
{
  g_autoptr(RdRuleScript) s = rd_ops_rules_read (ops, actor, name, NULL, error);
  if (s == NULL || !rd_ops_need_store (ops, error))
    return NULL;
  return rd_store_rule_versions_list (ops->store, name, error);
}

RdRuleVersion *
rd_ops_rules_version (RdOps *ops, const RdActor *actor, gint64 id, GError **error)
{
  if (!rd_ops_need_admin (actor, "rules", error) || !rd_ops_need_store (ops, error))
    return NULL;
  return rd_store_rule_version_get (ops->store, id, error);
}
