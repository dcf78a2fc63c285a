/* relaydesk — rules: Sieve "include" (RFC 6609).
 *
 * include [:personal / :global] [:once] [:optional] NAME runs another
 * script, compiled with this one (through RdRulesOptions.loader) into
 * RdRules.scripts: loops and depth are compile errors, the depth is
 * bounded again at run time. return ends the included script; global
 * NAMES shares variables between scripts (with "variables").
 */
#include "sieve-parse.h"
#include "sieve-run.h"
#include "rd-common.h"

#include <string.h>

typedef struct {
  guint script;         /* index into RdRules.scripts */
  gboolean global;      /* :global, else :personal */
  gboolean once;
  gboolean optional;
} IncludeData;

static void
tag_location (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  IncludeData *d = tc->cmd->data;
  d->global = tag->value;
}

static void
tag_once (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  IncludeData *d = tc->cmd->data;
  d->once = TRUE;
}

static void
tag_optional (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  IncludeData *d = tc->cmd->data;
  d->optional = TRUE;
}

/* Compiles script @name (once per location and name for the whole rule
 * set); returns its index. *@missing: an :optional script that is not
 * there. */
static guint
compile_include (SvCompiler *c, const char *name, gboolean global, guint line, guint col, gboolean optional,
                 gboolean *missing)
{
  *missing = FALSE;
  g_autofree char *key = g_strdup_printf ("%c:%s", global ? 'g' : 'p', name);
  gpointer v = g_hash_table_lookup (c->includes, key);
  if (v)
    return GPOINTER_TO_UINT (v) - 1;
  if (g_hash_table_contains (c->in_progress, key))
    {
      SV_ERR (c, line, col, "include: \"%s\" includes itself (loop)", name);
      return 0;
    }
  if (c->include_depth + 1 > c->rules->limits.max_include_depth)
    {
      SV_ERR (c, line, col, "include: nested deeper than the limit (%u)", c->rules->limits.max_include_depth);
      return 0;
    }
  if (c->opts == NULL || c->opts->loader == NULL)
    {
      SV_ERR (c, line, col, "include: no script location configured");
      return 0;
    }
  g_autoptr(GError) e = NULL;
  gsize len = 0;
  g_autofree char *text = c->opts->loader (name, global, c->opts->loader_data, &len, &e);
  if (text == NULL)
    {
      if (optional && g_error_matches (e, RD_ERROR, RD_ERROR_NOT_FOUND))
        {
          *missing = TRUE;
          return 0;
        }
      SV_ERR (c, line, col, "include: %s", e ? e->message : "cannot load script");
      return 0;
    }
  g_hash_table_add (c->in_progress, g_strdup (key));
  g_autofree char *file = g_strdup_printf ("%s%s", global ? "global:" : "", name);
  SvCompiler sub;
  guint index = sv_compile_script (c, file, name, text, len, c->opts, c->diags, c->rules, c->include_depth + 1,
                                   c->includes, c->in_progress, &sub);
  g_clear_error (&sub.first);   /* the parent kept its own first error */
  g_hash_table_remove (c->in_progress, key);
  g_hash_table_insert (c->includes, g_strdup (key), GUINT_TO_POINTER (index + 1));
  return index;
}

static void
compile_include_command (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  IncludeData *d = cmd->data;
  if (!sv_want_one_string (c, n, p, cmd, "a script name"))
    return;
  if (cmd->arg->dynamic)
    SV_ERR (c, cmd->arg->line, cmd->arg->col, "include: the script name must be a constant");
  else if (cmd->arg->len == 0 || strchr (cmd->arg->text, '/') || cmd->arg->text[0] == '.')
    SV_ERR (c, cmd->arg->line, cmd->arg->col, "include: invalid script name \"%s\"", cmd->arg->text);
  else
    {
      gboolean missing = FALSE;
      d->script = compile_include (c, cmd->arg->text, d->global, cmd->arg->line, cmd->arg->col, d->optional, &missing);
      if (missing)
        cmd->run = NULL;
    }
}

static void
run_include (SvRun *x, const SvCmd *c)
{
  const IncludeData *d = c->data;
  if (d->once)
    {
      if (g_hash_table_contains (x->once, GUINT_TO_POINTER (d->script + 1)))
        return;
      g_hash_table_add (x->once, GUINT_TO_POINTER (d->script + 1));
    }
  if (x->include_depth >= x->rules->limits.max_include_depth)
    {
      sv_rt_error (x, c->line, "include nested deeper than the limit");
      return;
    }
  x->include_depth++;
  sv_run_script (x, d->script);
  x->include_depth--;
}

static void
run_return (SvRun *x, const SvCmd *c)
{
  x->returned = TRUE;
}

static void
begin_global (SvCompiler *c, SvNode *n, SvCmd *cmd)
{
  sv_need (c, EXT_VARIABLES, n->line, n->col, "global");
}

/* global NAMES (RFC 6609 3.3): the names are variables shared by every
 * script that declares them; only compile time sees it. */
static void
compile_global (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  if (!sv_want_strings (c, n, p, 0, "variable names", FALSE) || !sv_want_count (c, n, p, 1))
    return;
  for (guint k = 0; k < p->v[0]->strs->len; k++)
    {
      SvRawStr *nm = g_ptr_array_index (p->v[0]->strs, k);
      gboolean numeric = FALSE;
      if (!sv_var_name_ok (nm->text, nm->len, &numeric) || numeric || strchr (nm->text, '.'))
        {
          SV_ERR (c, nm->line, nm->col, "global: invalid variable name \"%s\"", nm->text);
          continue;
        }
      g_autofree char *l = g_ascii_strdown (nm->text, -1);
      if (g_hash_table_contains (c->locals, l))
        SV_ERR (c, nm->line, nm->col, "global: \"%s\" was used as a local variable before", nm->text);
      g_hash_table_add (c->globals_here, g_strdup (l));
      sv_var_slot (c, l);
    }
}

static const SvTagDef include_tags[] = {
  { .name = "personal", .group = SV_GROUP_OWN, .twice = "include: location given twice", .value = FALSE,
    .compile = tag_location },
  { .name = "global", .group = SV_GROUP_OWN, .twice = "include: location given twice", .value = TRUE,
    .compile = tag_location },
  { .name = "once", .compile = tag_once },
  { .name = "optional", .compile = tag_optional },
  { .name = NULL }
};

static const SvCommandDef commands[] = {
  { .name = "include", .ext = EXT_INCLUDE, .tags = include_tags, .data_size = sizeof (IncludeData),
    .compile = compile_include_command, .run = run_include },
  { .name = "return", .ext = EXT_INCLUDE, .compile = sv_compile_no_arguments, .run = run_return },
  { .name = "global", .ext = EXT_INCLUDE, .begin = begin_global, .compile = compile_global },
  { .name = NULL }
};

const SvExtension sv_ext_include = {
  .capability = "include",
  .ext = EXT_INCLUDE,
  .commands = commands,
};
