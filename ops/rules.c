/* relaydesk — ops: tools for rule authors (see ops.h). Scripts compile
 * exactly as serve compiles them (desk/desk-rules.c), so `rules check`
 * cannot accept what serve refuses. */
#include "ops-private.h"
#include "desk.h"
#include "auth.h"

#include <string.h>

void
rd_rules_test_result_clear (RdRulesTestResult *r)
{
  g_clear_pointer (&r->actions, g_ptr_array_unref);
  g_clear_pointer (&r->runtime_error, g_free);
  g_clear_pointer (&r->queue, g_free);
  g_clear_pointer (&r->tag, g_free);
}

gboolean
rd_ops_rules_check (RdOps *ops, const RdActor *actor, const char *path, const char *global_dir,
                    GPtrArray *diagnostics, GError **error)
{
  if (!rd_ops_need_admin (actor, "rules", error))
    return FALSE;
  g_autoptr(RdRules) rules = rd_desk_rules_compile_file (ops->config, path, global_dir, NULL, diagnostics, error);
  return rules != NULL;
}

/* In-memory duplicate tracking for one run (RFC 7352). */
static gboolean
memory_duplicate (gpointer data, const char *id, gint64 seconds, gboolean last)
{
  GHashTable *seen = data;
  if (g_hash_table_contains (seen, id))
    return TRUE;
  g_hash_table_add (seen, g_strdup (id));
  return FALSE;
}

/* What threading says for the message: given by the caller, or found in
 * the store (read only), or a new ticket. */
/* What the dry run assumes about sender authentication (RdRulesTest). */
static void
test_auth (RdOps *ops, const RdRulesTest *t, const RdMessage *msg, RdAuthSummary *auth)
{
  memset (auth, 0, sizeof *auth);
  const char *id = rd_config_get_string (ops->config, "auth", "authserv_id", NULL);
  g_autofree char *ours = g_ascii_strdown (id ? id : rd_config_get_hostname (ops->config), -1);
  GPtrArray *headers = rd_message_get_headers (msg);
  for (guint i = 0; i < headers->len && !t->authenticated; i++)
    {
      const RdHeader *h = g_ptr_array_index (headers, i);
      g_autofree char *hid = NULL;
      if (g_ascii_strcasecmp (h->name, RD_AUTH_RESULTS_HEADER) == 0
          && rd_auth_results_parse (h->value, &hid, auth) && g_strcmp0 (hid, ours) == 0)
        return;
    }
  memset (auth, 0, sizeof *auth);
  if (!t->authenticated)
    return;
  GPtrArray *from = rd_message_get_from (msg);
  const RdAddress *a = from->len ? g_ptr_array_index (from, 0) : NULL;
  const char *at = a && a->addr ? strrchr (a->addr, '@') : NULL;
  g_autofree char *dom = at ? g_ascii_strdown (at + 1, -1) : g_strdup ("");
  g_strlcpy (auth->from_domain, dom, sizeof auth->from_domain);
  auth->dmarc = auth->dkim = RD_AUTH_PASS;
  auth->verified = TRUE;
}

static gboolean
preview_ticket (RdOps *ops, const RdRulesTest *t, const RdMessage *msg, const char *sender,
                const RdAuthSummary *auth, RdRulesTestResult *r, GError **error)
{
  if (t->followup || t->ticket_number)
    {
      r->followup = t->followup;
      r->ticket_number = t->ticket_number;
      r->queue = g_strdup (t->ticket_queue);
      r->tag = g_strdup (t->ticket_tag);
      return TRUE;
    }
  if (ops->store == NULL)
    {
      /* No database yet: the message would open an empty desk's first
       * ticket, so ${ticket.*} are filled as they would be then. */
      r->ticket_number = 1;
      r->tag = g_strdup_printf ("[%s #1]", rd_config_get_string (ops->config, "desk", "subject_tag_prefix",
                                                               RD_DEFAULT_SUBJECT_TAG_PREFIX));
      return TRUE;
    }
  if (!rd_desk_thread_preview (ops->config, ops->store, msg, sender, t->recipient, auth, &r->ticket_number,
                               &r->queue, &r->tag, error))
    return FALSE;
  r->followup = r->ticket_number > 0;
  if (r->followup)
    return TRUE;
  if (!rd_store_ticket_next_number (ops->store, &r->ticket_number, error))
    return FALSE;
  RdTicketIds *ids = rd_ops_ids (ops, error);
  if (ids == NULL)
    return FALSE;
  r->tag = rd_ticket_ids_subject_tag (ids, r->ticket_number);
  return TRUE;
}

gboolean
rd_ops_rules_test (RdOps *ops, const RdActor *actor, const RdRulesTest *t, RdRulesTestResult *r,
                   GPtrArray *diagnostics, GError **error)
{
  memset (r, 0, sizeof *r);
  if (!rd_ops_need_admin (actor, "rules", error))
    return FALSE;
  g_autoptr(GError) cerr = NULL;
  g_autoptr(RdRules) rules = t->script_text
      ? rd_desk_rules_compile_text (ops->config, t->script_path ? t->script_path : "script", t->script_text,
                                    strlen (t->script_text), NULL, t->global_dir, t->extensions, diagnostics, &cerr)
      : rd_desk_rules_compile_file (ops->config, t->script_path, t->global_dir, t->extensions, diagnostics, &cerr);
  if (rules == NULL)
    {
      if (!g_error_matches (cerr, RD_ERROR, RD_ERROR_INVALID_DATA))
        {
          g_propagate_error (error, g_steal_pointer (&cerr));
          return FALSE;
        }
      return TRUE; /* compiled stays FALSE: the diagnostics say why */
    }
  r->compiled = TRUE;
  rd_parser_init ();
  g_autoptr(RdMessage) msg = rd_message_parse (t->message, error);
  if (msg == NULL)
    return FALSE;
  const char *sender = t->sender ? t->sender : "";
  if (!strcmp (sender, "<>"))
    sender = "";
  RdAuthSummary auth;
  test_auth (ops, t, msg, &auth);
  if (!preview_ticket (ops, t, msg, sender, &auth, r, error))
    return FALSE;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  RdEnvelope env = {
    .sender = sender,
    .recipient = t->recipient ? t->recipient : "",
    .followup = r->followup,
    .ticket_number = r->followup ? r->ticket_number : 0,
    .ticket_queue = r->followup ? r->queue : NULL,
    .ticket_tag = r->followup ? r->tag : NULL,
    .now = t->now,
    .defer_ticket_vars = !r->followup && r->ticket_number > 0,
    .duplicate = memory_duplicate,
    .duplicate_data = seen,
    .auth = &auth,
  };
  g_autoptr(GError) rerr = NULL;
  r->actions = rd_rules_evaluate (rules, msg, &env, &rerr);
  if (r->actions == NULL)
    {
      /* RFC 5228 2.10.6: a run-time error falls back to the implicit keep. */
      r->runtime_error = g_strdup (rerr ? rerr->message : "unknown");
      r->actions = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_action_free);
      RdAction *keep = g_new0 (RdAction, 1);
      keep->type = RD_ACTION_KEEP;
      g_ptr_array_add (r->actions, keep);
    }
  if (env.defer_ticket_vars)
    {
      /* A new ticket: its queue is the first fileinto's, else the default. */
      const char *queue = rd_config_get_string (ops->config, "desk", "default_queue", RD_DEFAULT_QUEUE);
      for (guint i = 0; i < r->actions->len; i++)
        {
          const RdAction *a = g_ptr_array_index (r->actions, i);
          if (a->type == RD_ACTION_FILEINTO)
            {
              queue = a->mailbox;
              break;
            }
        }
      g_free (r->queue);
      r->queue = g_strdup (queue);
      for (guint i = 0; i < r->actions->len; i++)
        rd_action_expand_ticket (g_ptr_array_index (r->actions, i), r->ticket_number, r->queue, r->tag);
    }
  return TRUE;
}
