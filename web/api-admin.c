/* relaydesk — web: the administrators' endpoints: the allowlist, the
 * outbox, the spool's quarantine, relay check, and the rule playground
 * (docs/api.md). Every route is RD_ROUTE_ADMIN, and each operation
 * checks the actor again (ops/). */
#include "web-private.h"
#include "ops-web.h"
#include "relay.h"

#include <stdio.h>
#include <string.h>

static guint
query_limit (RdWebJob *job, guint dflt)
{
  guint64 n = dflt;
  const char *s = rd_web_query (job, "limit");
  if (s && !g_ascii_string_to_unsigned (s, 10, 1, 1000, &n, NULL))
    n = dflt;
  return (guint) n;
}

/* ---- the allowlist --------------------------------------------------------------- */

static void
allowlist_list (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = rd_ops_allowlist_list (ctx->ops, &job->actor, &error);
  rd_web_json_list (job, SOUP_STATUS_OK, "entries", items, (RdWebJsonItemFunc) rd_json_allowlist_item, error);
}

static void
allowlist_add (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  RdAllowlistRequest req = {
    .cidr = rd_web_member_str (o, "cidr"),
    .staging = rd_web_member_bool (o, "staging") == 1,
    .application = rd_web_member_str (o, "application"),
    .admin_name = rd_web_member_str (o, "admin_name"),
    .admin_email = rd_web_member_str (o, "admin_email"),
    .location = rd_web_member_str (o, "location"),
    .note = rd_web_member_str (o, "note"),
  };
  gint64 days = rd_web_member_int (o, "days", 0);
  const char *expires = rd_web_member_str (o, "expires_at");
  if (days < 0 || days > 36500)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "days is a number of days");
      return;
    }
  if (days > 0)
    req.expires_at = g_get_real_time () / G_USEC_PER_SEC + days * 86400;
  if (expires && *expires)
    {
      g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (expires, utc);
      if (dt == NULL)
        {
          rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "expires_at is an ISO 8601 time");
          return;
        }
      req.expires_at = g_date_time_to_unix (dt);
    }
  g_autoptr(GError) error = NULL;
  RdAllowlistEntry *e = rd_ops_allowlist_add (ctx->ops, &job->actor, &req, &error);
  if (e == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  RdAllowlistItem item = { e, FALSE, FALSE };
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "entry");
  rd_json_allowlist_item (b, &item);
  json_builder_end_object (b);
  rd_allowlist_entry_free (e);
  rd_web_json (job, SOUP_STATUS_CREATED, b);
}

static void
allowlist_remove (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  if (!rd_ops_allowlist_remove (ctx->ops, &job->actor, g_ptr_array_index (job->params, 0), &error))
    rd_web_fail (job, error);
  else
    rd_web_ok (job);
}

/* ---- the outbox ------------------------------------------------------------------- */

static void
outbox_item_json (JsonBuilder *b, gconstpointer it)
{
  rd_json_outbox_item (b, it, NULL, FALSE);
}

static void
outbox_list (RdWebCtx *ctx, RdWebJob *job)
{
  const char *state = rd_web_query (job, "state");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = rd_ops_outbox_list (ctx->ops, &job->actor, state && *state ? state : NULL,
                                                   query_limit (job, 100), &error);
  rd_web_json_list (job, SOUP_STATUS_OK, "items", items, outbox_item_json, error);
}

static void
outbox_show_id (RdWebCtx *ctx, RdWebJob *job, gint64 id, gboolean full)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *events = NULL;
  g_autoptr(RdOutboxItem) it = rd_ops_outbox_show (ctx->ops, &job->actor, id, &events, &error);
  if (it == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "item");
  rd_json_outbox_item (b, it, full ? events : NULL, full);
  json_builder_end_object (b);
  if (events)
    g_ptr_array_unref (events);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
outbox_show (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 id;
  if (rd_web_param_number (job, 0, &id))
    outbox_show_id (ctx, job, id, TRUE);
}

static void
outbox_retry (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 id;
  if (!rd_web_param_number (job, 0, &id))
    return;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_outbox_retry (ctx->ops, &job->actor, id, &error))
    rd_web_fail (job, error);
  else
    outbox_show_id (ctx, job, id, FALSE);
}

static void
outbox_drop (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 id;
  if (!rd_web_param_number (job, 0, &id))
    return;
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_outbox_drop (ctx->ops, &job->actor, id, rd_web_member_str (o, "reason"), &error))
    rd_web_fail (job, error);
  else
    outbox_show_id (ctx, job, id, FALSE);
}

/* ---- the quarantine ------------------------------------------------------------------ */

static void
quarantine_list (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = rd_ops_spool_quarantine (ctx->ops, &job->actor, query_limit (job, 100), &error);
  rd_web_json_list (job, SOUP_STATUS_OK, "messages", list, (RdWebJsonItemFunc) rd_json_spool_summary, error);
}

static void
spool_raw (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 id;
  if (!rd_web_param_number (job, 0, &id))
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdSpooled) m = rd_ops_spool_get (ctx->ops, &job->actor, id, &error);
  if (m == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autofree char *disp = g_strdup_printf ("attachment; filename=\"spool-%" G_GINT64_FORMAT ".eml\"", id);
  rd_web_header (job, "Content-Disposition", disp);
  rd_web_header (job, "Content-Security-Policy", "sandbox; default-src 'none'");
  rd_web_body (job, SOUP_STATUS_OK, "text/plain; charset=utf-8", g_bytes_ref (m->raw));
}

static void
spool_reprocess (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 id;
  if (!rd_web_param_number (job, 0, &id))
    return;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_spool_reprocess (ctx->ops, &job->actor, id, &error))
    rd_web_fail (job, error);
  else
    rd_web_ok (job);
}

/* ---- relay check ----------------------------------------------------------------------- */

/* Runs the CLI's check (it connects: a pool thread may wait on the
 * network, never the loop) and turns its lines into steps:
 * "✓ NAME detail (1.2 ms)" / "✗ ...", "  → hint". */
static void
relay_check (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  const char *url = rd_web_member_str (o, "url");
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream (&text, &len);
  if (out == NULL)
    {
      rd_web_error (job, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "internal error");
      return;
    }
  gboolean ok = rd_relay_check_run (rd_web_config (job->web), url && *url ? url : NULL, NULL, NULL, NULL, out);
  fclose (out);
  g_autofree char *output = text;
  g_auto(GStrv) lines = g_strsplit (output ? output : "", "\n", -1);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_bool (b, "ok", ok);
  json_builder_set_member_name (b, "steps");
  json_builder_begin_array (b);
  gboolean open = FALSE;
  for (guint i = 0; lines[i]; i++)
    {
      const char *l = lines[i];
      gboolean pass = g_str_has_prefix (l, "✓ "), failed = g_str_has_prefix (l, "✗ ");
      if (pass || failed)
        {
          if (open)
            {
              rd_json_add_str (b, "hint", NULL);
              json_builder_end_object (b);
            }
          const char *rest = l + strlen ("✓ ");
          g_auto(GStrv) parts = g_strsplit (rest, " ", 2);
          json_builder_begin_object (b);
          rd_json_add_str (b, "name", parts[0]);
          rd_json_add_bool (b, "ok", pass);
          rd_json_add_str (b, "detail", parts[0] && parts[1] ? g_strstrip (parts[1]) : "");
          open = TRUE;
        }
      else if (open && g_str_has_prefix (l, "  → "))
        {
          rd_json_add_str (b, "hint", l + strlen ("  → "));
          json_builder_end_object (b);
          open = FALSE;
        }
    }
  if (open)
    {
      rd_json_add_str (b, "hint", NULL);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  rd_json_add_str (b, "output", output);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

/* ---- rules ------------------------------------------------------------------------------ */

static void
add_diagnostics (JsonBuilder *b, GPtrArray *diags)
{
  json_builder_set_member_name (b, "diagnostics");
  json_builder_begin_array (b);
  for (guint i = 0; diags && i < diags->len; i++)
    rd_json_rules_diagnostic (b, g_ptr_array_index (diags, i));
  json_builder_end_array (b);
}

static void
add_versions (JsonBuilder *b, GPtrArray *versions)
{
  json_builder_set_member_name (b, "versions");
  json_builder_begin_array (b);
  for (guint i = 0; versions && i < versions->len; i++)
    rd_json_rule_version (b, g_ptr_array_index (versions, i));
  json_builder_end_array (b);
}

static void
rules_list (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GPtrArray) scripts = rd_ops_rules_scripts (ctx->ops, &job->actor, &dir, &error);
  if (scripts == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_str (b, "script_dir", dir);
  json_builder_set_member_name (b, "scripts");
  json_builder_begin_array (b);
  for (guint i = 0; i < scripts->len; i++)
    rd_json_rule_script (b, g_ptr_array_index (scripts, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
rules_get (RdWebCtx *ctx, RdWebJob *job)
{
  const char *name = g_ptr_array_index (job->params, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr(RdRuleScript) s = rd_ops_rules_read (ctx->ops, &job->actor, name, &text, &error);
  g_autoptr(GPtrArray) versions = s ? rd_ops_rules_versions (ctx->ops, &job->actor, name, &error) : NULL;
  if (versions == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_str (b, "name", s->name);
  rd_json_add_str (b, "role", s->role);
  rd_json_add_str (b, "text", text);
  add_versions (b, versions);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
rules_versions (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) versions = rd_ops_rules_versions (ctx->ops, &job->actor, g_ptr_array_index (job->params, 0),
                                                         &error);
  rd_web_json_list (job, SOUP_STATUS_OK, "versions", versions, (RdWebJsonItemFunc) rd_json_rule_version, error);
}

static void
rules_check (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  const char *text = rd_web_member_str (o, "text");
  if (text == NULL)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "text is required");
      return;
    }
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  g_autoptr(GError) error = NULL;
  gboolean ok = rd_ops_rules_check_text (ctx->ops, &job->actor, rd_web_member_str (o, "name"), text, diags, &error);
  if (!ok && !g_error_matches (error, RD_ERROR, RD_ERROR_INVALID_DATA))
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_bool (b, "ok", ok);
  add_diagnostics (b, diags);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
rules_test (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  const char *text = rd_web_member_str (o, "text");
  gint64 number = rd_web_member_int (o, "ticket", 0);
  gint64 row = rd_web_member_int (o, "message", 0);
  if (text == NULL || number <= 0)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "text and ticket (a ticket number) are required");
      return;
    }
  g_autoptr(GError) error = NULL;
  g_autoptr(RdSpooled) sp = rd_ops_message_spooled (ctx->ops, &job->actor, number, &row, &error);
  if (sp == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  /* The envelope it came with, unless the request gives one. */
  const char *sender = rd_web_member_str (o, "sender");
  const char *recipient = rd_web_member_str (o, "recipient");
  if (sender == NULL)
    sender = sp->sender;
  if (recipient == NULL && sp->recipients && sp->recipients->len)
    recipient = g_ptr_array_index (sp->recipients, 0);
  g_autofree char *dir = NULL;
  g_autoptr(GPtrArray) none = rd_ops_rules_scripts (ctx->ops, &job->actor, &dir, NULL);
  const char *name = rd_web_member_str (o, "name");
  g_autofree char *path = g_build_filename (dir ? dir : ".", name && *name ? name : "playground.sieve", NULL);
  RdRulesTest t = {
    .script_path = path,
    .script_text = text,
    .message = sp->raw,
    .sender = sender,
    .recipient = recipient,
  };
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  g_auto(RdRulesTestResult) r = { 0 };
  if (!rd_ops_rules_test (ctx->ops, &job->actor, &t, &r, diags, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_bool (b, "compiled", r.compiled);
  rd_json_add_int (b, "message", row);
  add_diagnostics (b, diags);
  g_autoptr(GString) lines = g_string_new (NULL);
  if (r.compiled && r.actions)
    rd_rules_format_actions (r.actions, r.runtime_error != NULL, lines);
  json_builder_set_member_name (b, "actions");
  json_builder_begin_array (b);
  g_auto(GStrv) ls = g_strsplit (lines->str, "\n", -1);
  for (guint i = 0; ls[i]; i++)
    {
      if (*ls[i] == '\0')
        continue;
      g_auto(GStrv) w = g_strsplit (ls[i], " ", 2);
      json_builder_begin_object (b);
      rd_json_add_str (b, "type", w[0]);
      rd_json_add_str (b, "text", ls[i]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  rd_json_add_str (b, "actions_text", lines->str);
  rd_json_add_str (b, "runtime_error", r.runtime_error);
  json_builder_set_member_name (b, "ticket");
  json_builder_begin_object (b);
  rd_json_add_int (b, "number", r.ticket_number);
  rd_json_add_bool (b, "followup", r.followup);
  rd_json_add_str (b, "queue", r.queue);
  rd_json_add_str (b, "tag", r.tag);
  json_builder_end_object (b);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
rules_reload_after (RdWeb *web, RdWebJob *job)
{
  if (job->status == SOUP_STATUS_OK)
    rd_web_rules_reload (web);
}

static void
rules_save_text (RdWebCtx *ctx, RdWebJob *job, const char *name, const char *text)
{
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  g_autoptr(GError) error = NULL;
  gint64 version = 0;
  if (!rd_ops_rules_save (ctx->ops, &job->actor, name, text, diags, &version, &error))
    {
      if (g_error_matches (error, RD_ERROR, RD_ERROR_INVALID_DATA))
        {
          g_autoptr(JsonBuilder) b = json_builder_new ();
          json_builder_begin_object (b);
          rd_json_add_str (b, "error", "the script does not compile; nothing was changed");
          rd_json_add_str (b, "code", "invalid_script");
          add_diagnostics (b, diags);
          json_builder_end_object (b);
          rd_web_json (job, SOUP_STATUS_UNPROCESSABLE_ENTITY, b);
        }
      else
        rd_web_fail (job, error);
      return;
    }
  job->after = rules_reload_after;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_bool (b, "ok", TRUE);
  rd_json_add_int (b, "version", version);
  add_diagnostics (b, diags);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
rules_put (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  const char *text = rd_web_member_str (o, "text");
  if (text == NULL)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "text is required");
      return;
    }
  rules_save_text (ctx, job, g_ptr_array_index (job->params, 0), text);
}

static void
rules_restore (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  const char *name = g_ptr_array_index (job->params, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(RdRuleVersion) v = NULL;
  v = rd_ops_rules_version (ctx->ops, &job->actor, rd_web_member_int (o, "version", 0), &error);
  if (v == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  if (g_strcmp0 (v->script, name) != 0)
    {
      rd_web_error (job, SOUP_STATUS_NOT_FOUND, "not_found", "no such version of this script");
      return;
    }
  rules_save_text (ctx, job, name, v->body);
}

const RdRoute rd_web_admin_routes[] = {
  { "GET", "/api/v1/allowlist", RD_ROUTE_ADMIN, allowlist_list },
  { "POST", "/api/v1/allowlist", RD_ROUTE_ADMIN, allowlist_add },
  { "DELETE", "/api/v1/allowlist/{*}", RD_ROUTE_ADMIN, allowlist_remove },
  { "GET", "/api/v1/outbox", RD_ROUTE_ADMIN, outbox_list },
  { "GET", "/api/v1/outbox/{}", RD_ROUTE_ADMIN, outbox_show },
  { "POST", "/api/v1/outbox/{}/retry", RD_ROUTE_ADMIN, outbox_retry },
  { "POST", "/api/v1/outbox/{}/drop", RD_ROUTE_ADMIN, outbox_drop },
  { "GET", "/api/v1/spool/quarantine", RD_ROUTE_ADMIN, quarantine_list },
  { "GET", "/api/v1/spool/{}/raw", RD_ROUTE_ADMIN, spool_raw },
  { "POST", "/api/v1/spool/{}/reprocess", RD_ROUTE_ADMIN, spool_reprocess },
  { "POST", "/api/v1/relay/check", RD_ROUTE_ADMIN, relay_check },
  { "GET", "/api/v1/rules", RD_ROUTE_ADMIN, rules_list },
  { "POST", "/api/v1/rules/check", RD_ROUTE_ADMIN, rules_check },
  { "POST", "/api/v1/rules/test", RD_ROUTE_ADMIN, rules_test },
  { "GET", "/api/v1/rules/{*}/versions", RD_ROUTE_ADMIN, rules_versions },
  { "POST", "/api/v1/rules/{*}/restore", RD_ROUTE_ADMIN, rules_restore },
  { "GET", "/api/v1/rules/{*}", RD_ROUTE_ADMIN, rules_get },
  { "PUT", "/api/v1/rules/{*}", RD_ROUTE_ADMIN, rules_put },
  { NULL, NULL, 0, NULL }
};
