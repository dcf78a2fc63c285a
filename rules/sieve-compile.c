/* relaydesk — rules: the Sieve compiler (the validator).
 *
 * The generic command tree of the parser (sieve-parse.h) -> the
 * validated, typed form of sieve-private.h. Commands, tests and tags are
 * looked up in the table (sieve-table.c); the generic checks (capability,
 * tags and their groups, tags after positional arguments, blocks and
 * tests where none belong) are done here, the rest by each entry's
 * compile function. Errors carry FILE:LINE:COL; the validator reports
 * every error it finds.
 */
#include "sieve-parse.h"
#include "rd-common.h"

#include <string.h>
#include <stdarg.h>

/* ---- diagnostics ------------------------------------------------------ */

void
sv_diag (SvCompiler *c, gboolean warning, guint line, guint col, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (!warning)
    {
      c->n_errors++;
      if (c->first == NULL)
        c->first = g_error_new (RD_ERROR, RD_ERROR_INVALID_DATA, "%s:%u:%u: %s", c->file, line, col, msg);
    }
  if (c->diags)
    {
      RdRulesDiagnostic *d = g_new0 (RdRulesDiagnostic, 1);
      d->file = g_strdup (c->file);
      d->line = line;
      d->col = col;
      d->warning = warning;
      d->message = msg;
      g_ptr_array_add (c->diags, d);
    }
  else
    g_free (msg);
}

void
rd_rules_diagnostic_free (RdRulesDiagnostic *d)
{
  if (d == NULL)
    return;
  g_free (d->file);
  g_free (d->message);
  g_free (d);
}

/* ---- the compiled form ----------------------------------------------------- */

void
sv_test_free (SvTest *t)
{
  if (t == NULL)
    return;
  sv_strlist_free (t->headers);
  sv_strlist_free (t->keys);
  for (guint i = 0; i < t->n_children; i++)
    sv_test_free (t->children[i]);
  g_free (t->children);
  if (t->data && t->def->clear)
    t->def->clear (t->data);
  g_free (t->data);
  g_free (t);
}

static void block_free (SvBlock *b);

static void
cmd_free (SvCmd *c)
{
  if (c == NULL)
    return;
  for (guint i = 0; i < c->n_branches; i++)
    {
      sv_test_free (c->tests[i]);
      block_free (c->blocks[i]);
    }
  g_free (c->tests);
  g_free (c->blocks);
  sv_strlist_free (c->flags);
  sv_string_free (c->arg);
  if (c->data && c->def->clear)
    c->def->clear (c->data);
  g_free (c->data);
  g_free (c);
}

static void
block_free (SvBlock *b)
{
  if (b == NULL)
    return;
  for (guint i = 0; i < b->n; i++)
    cmd_free (b->cmds[i]);
  g_free (b->cmds);
  g_free (b);
}

void
sv_script_free (SvScript *s)
{
  if (s == NULL)
    return;
  g_free (s->name);
  block_free (s->body);
  g_free (s);
}

/* ---- argument checks -------------------------------------------------------- */

gboolean
sv_need (SvCompiler *c, SvExt ext, guint line, guint col, const char *what)
{
  if (c->script->exts & ext)
    return TRUE;
  const char *capability = sv_capability_name (ext);
  SV_ERR (c, line, col, "%s requires the \"%s\" extension (require \"%s\";)", what, capability, capability);
  return FALSE;
}

/* The arguments of @n from @from on (an empty array has no pdata). */
static SvPos
positional (SvNode *n, guint from)
{
  SvPos p = { NULL, 0 };
  if (n->args->len > from)
    {
      p.v = (SvArg **) n->args->pdata + from;
      p.n = n->args->len - from;
    }
  return p;
}

gboolean
sv_want_strings (SvCompiler *c, SvNode *n, SvPos *p, guint i, const char *what, gboolean single)
{
  if (i >= p->n)
    {
      SV_ERR (c, n->line, n->col, "%s: missing argument: %s", n->name, what);
      return FALSE;
    }
  SvArg *a = p->v[i];
  if (a->kind != SV_ARG_STRINGS || (single && (a->is_list && a->strs->len != 1)))
    {
      SV_ERR (c, a->line, a->col, "%s: expected %s", n->name, what);
      return FALSE;
    }
  return TRUE;
}

gboolean
sv_want_count (SvCompiler *c, SvNode *n, SvPos *p, guint count)
{
  if (p->n > count)
    {
      SV_ERR (c, p->v[count]->line, p->v[count]->col, "%s: too many arguments", n->name);
      return FALSE;
    }
  return TRUE;
}

void
sv_compile_no_arguments (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  sv_want_count (c, n, p, 0);
}

void
sv_compile_no_test_arguments (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  sv_want_count (c, n, p, 0);
}

gboolean
sv_want_one_string (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd, const char *what)
{
  if (!sv_want_strings (c, n, p, 0, what, TRUE) || !sv_want_count (c, n, p, 1))
    return FALSE;
  cmd->arg = sv_string_new (c, g_ptr_array_index (p->v[0]->strs, 0));
  return TRUE;
}

SvString *
sv_tag_string (SvTagCtx *tc, const char *tag)
{
  SvNode *n = tc->n;
  SvArg *t = g_ptr_array_index (n->args, tc->i);
  if (tc->i + 1 >= n->args->len)
    {
      SV_ERR (tc->c, t->line, t->col, ":%s needs a string argument", tag);
      return NULL;
    }
  SvArg *a = g_ptr_array_index (n->args, tc->i + 1);
  if (a->kind != SV_ARG_STRINGS || a->strs->len != 1)
    {
      SV_ERR (tc->c, a->line, a->col, ":%s needs a string argument", tag);
      return NULL;
    }
  tc->i++;
  return sv_string_new (tc->c, g_ptr_array_index (a->strs, 0));
}

SvStrList *
sv_tag_strlist (SvTagCtx *tc, const char *tag)
{
  SvNode *n = tc->n;
  SvArg *t = g_ptr_array_index (n->args, tc->i);
  if (tc->i + 1 >= n->args->len || ((SvArg *) g_ptr_array_index (n->args, tc->i + 1))->kind != SV_ARG_STRINGS)
    {
      SV_ERR (tc->c, t->line, t->col, ":%s needs a string list", tag);
      return NULL;
    }
  tc->i++;
  return sv_strlist_new (tc->c, g_ptr_array_index (n->args, tc->i));
}

SvString *
sv_tag_set_string (SvTagCtx *tc, const char *tag, SvString **slot)
{
  sv_string_free (*slot);
  return *slot = sv_tag_string (tc, tag);
}

SvStrList *
sv_tag_set_strlist (SvTagCtx *tc, const char *tag, SvStrList **slot)
{
  sv_strlist_free (*slot);
  return *slot = sv_tag_strlist (tc, tag);
}

gboolean
sv_tag_number (SvTagCtx *tc, const char *tag, guint64 *out)
{
  SvNode *n = tc->n;
  SvArg *t = g_ptr_array_index (n->args, tc->i);
  if (tc->i + 1 >= n->args->len || ((SvArg *) g_ptr_array_index (n->args, tc->i + 1))->kind != SV_ARG_NUM)
    {
      SV_ERR (tc->c, t->line, t->col, ":%s needs a number", tag);
      return FALSE;
    }
  tc->i++;
  *out = ((SvArg *) g_ptr_array_index (n->args, tc->i))->num;
  return TRUE;
}

/* ---- commands and tests through the table ------------------------------------ */

/* The tags at the start of @n's arguments: each looked up among the
 * classes @classes and the list @own, checked against its exclusive group
 * and its capability, then compiled by its handler. Returns the index of
 * the first positional argument. */
static guint
compile_tags (SvCompiler *c, SvNode *n, guint classes, const SvTagDef *own, SvTest *t, SvCmd *cmd)
{
  SvTagCtx tc = { c, n, 0, 0, t, cmd };
  for (; tc.i < n->args->len; tc.i++)
    {
      SvArg *a = g_ptr_array_index (n->args, tc.i);
      if (a->kind != SV_ARG_TAG)
        break;
      const SvTagDef *tag = sv_tag_find (a->tag, classes, own);
      if (tag == NULL)
        {
          SV_ERR (c, a->line, a->col, "%s: unknown tag :%s", n->name, a->tag);
          continue;
        }
      if (tag->group)
        {
          if (tc.seen & tag->group)
            SV_ERR (c, a->line, a->col, "%s", tag->twice);
          tc.seen |= tag->group;
        }
      if (tag->ext)
        {
          g_autofree char *what = tag->what ? NULL : g_strconcat (":", tag->name, NULL);
          sv_need (c, tag->ext, a->line, a->col, tag->what ? tag->what : what);
        }
      if (tag->compile)
        tag->compile (&tc, tag, a);
    }
  return tc.i;
}

/* The positional arguments from @i on; tags among them are errors. */
static SvPos
positional_after_tags (SvCompiler *c, SvNode *n, guint i)
{
  SvPos p = positional (n, i);
  for (guint k = 0; k < p.n; k++)
    if (p.v[k]->kind == SV_ARG_TAG)
      SV_ERR (c, p.v[k]->line, p.v[k]->col, "%s: tag :%s after positional arguments", n->name, p.v[k]->tag);
  return p;
}

SvTest *
sv_compile_test (SvCompiler *c, SvNode *n)
{
  const SvTestDef *def = sv_test_find (n->name);
  if (def == NULL)
    {
      SV_ERR (c, n->line, n->col, "unknown test '%s'", n->name);
      return NULL;
    }
  SvTest *t = g_new0 (SvTest, 1);
  t->def = def;
  t->line = n->line;
  t->col = n->col;
  /* :is and i;ascii-casemap unless a tag says otherwise (RFC 5228 2.7.1, 2.7.3). */
  t->cmp = CMP_CASEMAP;
  t->match = MATCH_IS;
  if (def->data_size)
    t->data = g_malloc0 (def->data_size);
  if (def->ext)
    sv_need (c, def->ext, n->line, n->col, def->name);
  guint i = compile_tags (c, n, def->tag_classes, def->tags, t, NULL);
  SvPos p = positional_after_tags (c, n, i);
  if (!def->takes_tests && n->tests->len)
    SV_ERR (c, n->line, n->col, "%s does not take tests", n->name);
  def->compile (c, n, &p, t);
  return t;
}

static SvCmd *
compile_command (SvCompiler *c, SvNode *n)
{
  SvCmd *cmd = g_new0 (SvCmd, 1);
  cmd->line = n->line;
  cmd->col = n->col;
  const SvCommandDef *def = sv_command_find (n->name);
  if (def == NULL || !(def->flags & SV_CMD_PREAMBLE))
    c->seen_command = TRUE;
  if (def)
    {
      cmd->def = def;
      cmd->run = def->run;
      if (def->data_size)
        cmd->data = g_malloc0 (def->data_size);
      if (def->flags & SV_CMD_RAW)
        {
          SvPos all = positional (n, 0);
          def->compile (c, n, &all, cmd);
          return cmd;
        }
    }
  if (n->block)
    SV_ERR (c, n->line, n->col, "%s does not take a block", n->name);
  if (n->tests->len && def && n->args->len == 0 && n->tests->len == 1 && !n->test_list)
    {
      /* `fileinto billing;`: a bare word where a string belongs reads as
       * a test; say what the author most likely meant. */
      const SvNode *w = g_ptr_array_index (n->tests, 0);
      if (w->args->len == 0 && w->tests->len == 0 && w->block == NULL)
        {
          SV_ERR (c, w->line, w->col, "%s: a string is expected, not the bare word %s; did you mean \"%s\"?",
                  n->name, w->word, w->word);
          return cmd;
        }
    }
  if (n->tests->len)
    SV_ERR (c, n->line, n->col, "%s does not take a test", n->name);
  if (def == NULL)
    {
      SV_ERR (c, n->line, n->col, "unknown command '%s'", n->name);
      return cmd;
    }
  if (def->ext)
    sv_need (c, def->ext, n->line, n->col, def->name);
  if (def->begin)
    def->begin (c, n, cmd);
  guint i = compile_tags (c, n, def->tag_classes, def->tags, NULL, cmd);
  SvPos p = positional_after_tags (c, n, i);
  def->compile (c, n, &p, cmd);
  return cmd;
}

static gboolean
is_if (const SvCommandDef *def)
{
  return def && (def->flags & SV_CMD_IF);
}

SvBlock *
sv_compile_block (SvCompiler *c, GPtrArray *nodes)
{
  SvBlock *b = g_new0 (SvBlock, 1);
  b->cmds = g_new0 (SvCmd *, nodes->len ? nodes->len : 1);
  const SvCommandDef *prev = NULL;
  gboolean after_stop = FALSE;
  for (guint i = 0; i < nodes->len; i++)
    {
      SvNode *n = g_ptr_array_index (nodes, i);
      if (after_stop)
        {
          SV_WARN (c, n->line, n->col, "'%s' is never reached (after stop)", n->name);
          after_stop = FALSE;
        }
      c->prev = prev;
      SvCmd *cmd = compile_command (c, n);
      const SvCommandDef *def = cmd->def;
      if (def && (def->flags & SV_CMD_STOP))
        after_stop = TRUE;
      /* Fold elsif/else into the preceding if (RFC 5228 3.1). */
      if (is_if (def) && (def->flags & SV_CMD_ELSE) && b->n > 0 && is_if (b->cmds[b->n - 1]->def)
          && prev && !(prev->flags & SV_CMD_FINAL))
        {
          SvCmd *head = b->cmds[b->n - 1];
          head->tests = g_renew (SvTest *, head->tests, head->n_branches + 1);
          head->blocks = g_renew (SvBlock *, head->blocks, head->n_branches + 1);
          head->tests[head->n_branches] = cmd->tests[0];
          head->blocks[head->n_branches] = cmd->blocks[0];
          head->n_branches++;
          cmd->n_branches = 0;
          cmd_free (cmd);
        }
      else
        b->cmds[b->n++] = cmd;
      prev = def;
    }
  return b;
}

/* ---- scripts ------------------------------------------------------------------ */

guint
sv_compile_script (SvCompiler *parent, const char *file, const char *name, const char *text, gsize len,
                const RdRulesOptions *opts, GPtrArray *diags, RdRules *rules, guint include_depth,
                GHashTable *includes, GHashTable *in_progress, SvCompiler *result)
{
  SvCompiler c = { 0 };
  c.file = file;
  c.diags = diags;
  c.opts = opts;
  c.rules = rules;
  c.includes = includes;
  c.in_progress = in_progress;
  c.include_depth = include_depth;
  c.locals = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c.globals_here = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c.script = g_new0 (SvScript, 1);
  c.script->name = g_strdup (name);
  guint index = rules->scripts->len;
  g_ptr_array_add (rules->scripts, c.script);

  if (len > rules->limits.max_script_size)
    SV_ERR (&c, 1, 1, "script larger than the limit (%" G_GSIZE_FORMAT " bytes)", rules->limits.max_script_size);
  else if (!g_utf8_validate (text, len, NULL))
    {
      const char *bad = NULL;
      g_utf8_validate (text, len, &bad);
      guint line = 1, col = 1;
      for (const char *q = text; q < bad; q++)
        if (*q == '\n')
          line++, col = 1;
        else if (((guchar) *q & 0xC0) != 0x80)
          col++;
      SV_ERR (&c, line, col, "script is not valid UTF-8");
    }
  else
    {
      GPtrArray *nodes = sv_parse (&c, text, len);
      if (nodes)
        {
          c.script->body = sv_compile_block (&c, nodes);
          g_ptr_array_unref (nodes);
        }
    }
  if (c.script->body == NULL)
    c.script->body = g_new0 (SvBlock, 1);
  g_hash_table_unref (c.locals);
  g_hash_table_unref (c.globals_here);
  if (parent)
    {
      parent->n_errors += c.n_errors;
      if (c.first && parent->first == NULL)
        parent->first = g_steal_pointer (&c.first);
    }
  *result = c;
  return index;
}

void
rd_rules_limits_init (RdRulesLimits *l)
{
  l->max_script_size = 1024 * 1024;
  l->max_nesting = 32;
  l->max_actions = 32;
  l->max_redirects = 4;
  l->max_string_length = 64 * 1024;
  l->max_regex_size = 1024;
  l->max_regex_input = 8 * 1024;
  l->max_include_depth = 5;
  l->max_variables = 256;
}

RdRules *
rd_rules_compile (const char *file, const char *text, gsize len, const RdRulesOptions *options,
                  GPtrArray *diagnostics, GError **error)
{
  RdRules *rules = g_new0 (RdRules, 1);
  if (options && options->limits)
    rules->limits = *options->limits;
  else
    rd_rules_limits_init (&rules->limits);
  rules->scripts = g_ptr_array_new_with_free_func ((GDestroyNotify) sv_script_free);
  rules->globals = g_ptr_array_new_with_free_func (g_free);
  GHashTable *includes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTable *in_progress = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  SvCompiler c;
  sv_compile_script (NULL, file, file, text, len, options, diagnostics, rules, 0, includes, in_progress, &c);
  g_hash_table_unref (includes);
  g_hash_table_unref (in_progress);
  if (c.n_errors)
    {
      g_propagate_error (error, c.first);
      rd_rules_free (rules);
      return NULL;
    }
  g_clear_error (&c.first);
  return rules;
}
