/* relaydesk — desk: which Sieve scripts run for which inbox ([rules] in
 * relaydesk.conf, docs/rules.md).
 *
 *   [rules]
 *   script_dir = /etc/relaydesk/sieve     relative paths below resolve here
 *   before = global-before.sieve          runs first for every inbox
 *   after = global-after.sieve            runs last for every inbox
 *   default = default.sieve               inboxes without their own script
 *   scripts = support@example.org=support.sieve; sales@example.org=sales.sieve
 *   global_dir = /etc/relaydesk/sieve/global   include :global
 *   max_script_size, max_nesting, max_actions, max_redirects,
 *   max_string_length, max_regex_size, max_regex_input, max_include_depth
 *
 * Each inbox gets one chain before + its script (or default) + after,
 * compiled once. With no [rules] at all every message takes the implicit
 * keep (a ticket in the default queue).
 */
#include "desk-private.h"
#include "rd-metrics.h"

#include <string.h>

struct _RdDeskRules {
  GHashTable *inboxes;   /* lower-case address -> RdRules* */
  RdRules *fallback;     /* inboxes without a script of their own */
};

typedef struct {
  char *personal_dir;
  char *global_dir;
} Dirs;

static char *
load_include (const char *name, gboolean global, gpointer data, gsize *len, GError **error)
{
  Dirs *d = data;
  const char *dir = global ? d->global_dir : d->personal_dir;
  g_autofree char *file = g_str_has_suffix (name, ".sieve") ? g_strdup (name) : g_strconcat (name, ".sieve", NULL);
  g_autofree char *path = g_build_filename (dir, file, NULL);
  char *text = NULL;
  g_autoptr(GError) e = NULL;
  if (!g_file_get_contents (path, &text, len, &e))
    {
      g_set_error (error, RD_ERROR, g_error_matches (e, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? RD_ERROR_NOT_FOUND
                   : RD_ERROR_CONFIG, "%s", e->message);
      return NULL;
    }
  return text;
}

static char *
resolve (const char *dir, const char *path)
{
  return g_path_is_absolute (path) ? g_strdup (path) : g_build_filename (dir, path, NULL);
}

/* The folder of :global includes: [rules] global_dir (below script_dir),
 * default script_dir/global; script_dir defaults to the config's folder. */
char *
rd_desk_rules_script_dir (RdConfig *config)
{
  const char *cfg_path = rd_config_get_path (config);
  g_autofree char *cfg_dir = cfg_path ? g_path_get_dirname (cfg_path) : g_get_current_dir ();
  const char *sd = rd_config_get_string (config, "rules", "script_dir", NULL);
  return sd ? resolve (cfg_dir, sd) : g_strdup (cfg_dir);
}

static char *
config_global_dir (RdConfig *config)
{
  g_autofree char *script_dir = rd_desk_rules_script_dir (config);
  const char *gd = rd_config_get_string (config, "rules", "global_dir", NULL);
  return gd ? resolve (script_dir, gd) : g_build_filename (script_dir, "global", NULL);
}

RdRules *
rd_desk_rules_compile_text (RdConfig *config, const char *name, const char *text, gsize len,
                            const char *personal_dir, const char *global_dir, const char *const *extensions,
                            GPtrArray *diagnostics, GError **error)
{
  RdRulesLimits limits;
  rd_desk_rules_limits (config, &limits);
  g_autofree char *gd = global_dir ? g_strdup (global_dir) : config_global_dir (config);
  g_autofree char *pd = personal_dir ? g_strdup (personal_dir) : g_path_get_dirname (name);
  Dirs dirs = { pd, gd };
  RdRulesOptions opts = { &limits, extensions, load_include, &dirs };
  return rd_rules_compile (name, text, len, &opts, diagnostics, error);
}

RdRules *
rd_desk_rules_compile_file (RdConfig *config, const char *path, const char *global_dir,
                            const char *const *extensions, GPtrArray *diagnostics, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, error))
    {
      g_prefix_error (error, "rules: ");
      return NULL;
    }
  return rd_desk_rules_compile_text (config, path, text, len, NULL, global_dir, extensions, diagnostics, error);
}

/* Compiles one script file as serve does; every diagnostic is logged. */
static RdRules *
compile_file (RdConfig *config, const char *path, const char *global_dir, GError **error)
{
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  RdRules *r = rd_desk_rules_compile_file (config, path, global_dir, NULL, diags, error);
  for (guint i = 0; i < diags->len; i++)
    {
      RdRulesDiagnostic *d = g_ptr_array_index (diags, i);
      g_autofree char *file = rd_log_escape (d->file, -1, 256);
      g_autofree char *msg = rd_log_escape (d->message, -1, 256);
      rd_log (d->warning ? RD_LOG_WARN : RD_LOG_ERROR, "rules.compile", "file=%s line=%u col=%u level=%s message=%s",
              file, d->line, d->col, d->warning ? "warning" : "error", msg);
    }
  return r;
}

void
rd_desk_rules_limits (RdConfig *config, RdRulesLimits *l)
{
  rd_rules_limits_init (l);
  l->max_script_size = rd_config_get_size (config, "rules", "max_script_size", l->max_script_size);
  l->max_nesting = (guint) CLAMP (rd_config_get_int (config, "rules", "max_nesting", l->max_nesting), 1, 1024);
  l->max_actions = (guint) CLAMP (rd_config_get_int (config, "rules", "max_actions", l->max_actions), 1, 10000);
  l->max_redirects = (guint) CLAMP (rd_config_get_int (config, "rules", "max_redirects", l->max_redirects), 0, 1000);
  l->max_string_length = rd_config_get_size (config, "rules", "max_string_length", l->max_string_length);
  l->max_regex_size = rd_config_get_size (config, "rules", "max_regex_size", l->max_regex_size);
  l->max_regex_input = rd_config_get_size (config, "rules", "max_regex_input", l->max_regex_input);
  l->max_include_depth = (guint) CLAMP (rd_config_get_int (config, "rules", "max_include_depth", l->max_include_depth), 0, 64);
}

/* before + @main_path + after, or NULL with @error. */
static RdRules *
compile_chain (RdConfig *config, const char *before, const char *main_path, const char *after,
               const char *global_dir, GError **error)
{
  RdRules *b = NULL, *m = NULL, *a = NULL;
  if (before && (b = compile_file (config, before, global_dir, error)) == NULL)
    return NULL;
  if (main_path && (m = compile_file (config, main_path, global_dir, error)) == NULL)
    {
      rd_rules_free (b);
      return NULL;
    }
  if (after && (a = compile_file (config, after, global_dir, error)) == NULL)
    {
      rd_rules_free (b);
      rd_rules_free (m);
      return NULL;
    }
  if (b == NULL && m == NULL && a == NULL)
    return rd_rules_new_empty ();
  return rd_rules_chain (b, m, a);
}

void
rd_desk_rules_free (RdDeskRules *r)
{
  if (r == NULL)
    return;
  g_hash_table_unref (r->inboxes);
  rd_rules_free (r->fallback);
  g_free (r);
}

RdDeskRules *
rd_desk_rules_load (RdConfig *config, RdDeskRules *previous, guint *n_failed, GError **error)
{
  guint failed = 0;
  g_autofree char *script_dir = rd_desk_rules_script_dir (config);
  g_autofree char *global_dir = config_global_dir (config);
  const char *v;
  g_autofree char *before = (v = rd_config_get_string (config, "rules", "before", NULL)) ? resolve (script_dir, v) : NULL;
  g_autofree char *after = (v = rd_config_get_string (config, "rules", "after", NULL)) ? resolve (script_dir, v) : NULL;
  g_autofree char *deflt = (v = rd_config_get_string (config, "rules", "default", NULL)) ? resolve (script_dir, v) : NULL;

  RdDeskRules *r = g_new0 (RdDeskRules, 1);
  r->inboxes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) rd_rules_free);
  GError *first = NULL;

  g_autoptr(GError) e = NULL;
  r->fallback = compile_chain (config, before, deflt, after, global_dir, &e);
  if (r->fallback == NULL)
    {
      if (previous && previous->fallback)
        {
          rd_log (RD_LOG_ERROR, "rules.reload", "inbox=(default) result=kept-previous");
          r->fallback = g_steal_pointer (&previous->fallback);
        }
      if (first == NULL)
        first = g_steal_pointer (&e);
      g_clear_error (&e);
      failed++;
    }

  g_auto(GStrv) scripts = rd_config_get_list (config, "rules", "scripts");
  for (guint i = 0; scripts && scripts[i]; i++)
    {
      const char *eq = strchr (scripts[i], '=');
      if (eq == NULL || eq == scripts[i] || eq[1] == '\0')
        {
          if (first == NULL)
            first = g_error_new (RD_ERROR, RD_ERROR_CONFIG, "[rules] scripts: expected ADDRESS=FILE, got \"%s\"", scripts[i]);
          failed++;
          continue;
        }
      g_autofree char *addr = g_ascii_strdown (scripts[i], eq - scripts[i]);
      g_strstrip (addr);
      g_autofree char *file = g_strstrip (g_strdup (eq + 1));
      g_autofree char *path = resolve (script_dir, file);
      RdRules *chain = compile_chain (config, before, path, after, global_dir, &e);
      if (chain == NULL)
        {
          /* A script that fails to compile never replaces a working one. */
          RdRules *old = NULL;
          gpointer key = NULL;
          if (previous && g_hash_table_steal_extended (previous->inboxes, addr, &key, (gpointer *) &old))
            {
              g_free (key);
              g_hash_table_insert (r->inboxes, g_strdup (addr), old);
              rd_log (RD_LOG_ERROR, "rules.reload", "inbox=%s result=kept-previous", addr);
            }
          if (first == NULL)
            first = g_steal_pointer (&e);
          g_clear_error (&e);
          failed++;
          continue;
        }
      g_hash_table_replace (r->inboxes, g_strdup (addr), chain);
    }
  if (failed)
    rd_metric_add (RD_METRIC_SIEVE_ERRORS, failed, "compile");
  if (first && previous == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%s", first->message);
      g_error_free (first);
      rd_desk_rules_free (r);
      return NULL;
    }
  if (first)
    {
      g_autofree char *m = rd_log_escape (first->message, -1, 512);
      rd_log (RD_LOG_ERROR, "rules.reload", "error=%s", m);
      g_error_free (first);
    }
  if (r->fallback == NULL)
    r->fallback = rd_rules_new_empty ();
  if (n_failed)
    *n_failed = failed;
  rd_log (RD_LOG_INFO, "rules.load", "inboxes=%u before=%s after=%s default=%s", g_hash_table_size (r->inboxes),
          before ? "yes" : "no", after ? "yes" : "no", deflt ? "yes" : "no");
  return r;
}

RdRules *
rd_desk_rules_for (RdDeskRules *r, const char *recipient)
{
  if (recipient && *recipient)
    {
      g_autofree char *l = g_ascii_strdown (recipient, -1);
      RdRules *x = g_hash_table_lookup (r->inboxes, l);
      if (x)
        return x;
    }
  return r->fallback;
}
