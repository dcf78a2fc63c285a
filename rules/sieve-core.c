/* relaydesk — rules: the base language of RFC 5228.
 *
 * Control commands require, if/elsif/else, stop (section 3); actions keep,
 * discard, redirect (4); tests true, false, not, allof, anyof, address,
 * header, exists, size (5), and the address parts :all, :localpart,
 * :domain (2.7.4). The comparators and the match types are in
 * sieve-match.c.
 */
#include "sieve-parse.h"
#include "sieve-run.h"

#include <string.h>

/* ---- require (3.2) -------------------------------------------------------- */

static void
compile_require (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  cmd->run = NULL;
  if (c->seen_command)
    SV_ERR (c, n->line, n->col, "require must come before any other command");
  if (n->block || n->tests->len || !sv_want_strings (c, n, p, 0, "capability list", FALSE)
      || !sv_want_count (c, n, p, 1))
    {
      if (n->block || n->tests->len)
        SV_ERR (c, n->line, n->col, "require takes a string list only");
      return;
    }
  SvArg *a = p->v[0];
  for (guint k = 0; k < a->strs->len; k++)
    {
      SvRawStr *s = g_ptr_array_index (a->strs, k);
      const SvExtension *cap = sv_capability_find (s->text);
      if (cap && c->opts && c->opts->extensions && !cap->always
          && !g_strv_contains (c->opts->extensions, cap->capability))
        cap = NULL;
      if (cap == NULL)
        {
          g_autofree char *known = sv_capability_list (c->opts ? c->opts->extensions : NULL);
          SV_ERR (c, s->line, s->col, "unsupported extension \"%s\" (supported: %s)", s->text, known);
          continue;
        }
      guint bits = cap->ext | cap->implies;
      if ((c->script->exts & bits) == bits && cap->implies == 0)
        SV_WARN (c, s->line, s->col, "extension \"%s\" required twice", s->text);
      c->script->exts |= bits;
    }
}

/* ---- if, elsif, else (3.1) ------------------------------------------------ */

static void
compile_if (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  const char *name = n->name;
  guint flags = cmd->def->flags;
  gboolean is_else = (flags & SV_CMD_FINAL) != 0;
  const SvCommandDef *prev = c->prev;
  if ((flags & SV_CMD_ELSE) && (prev == NULL || !(prev->flags & SV_CMD_IF) || (prev->flags & SV_CMD_FINAL)))
    SV_ERR (c, n->line, n->col, "%s without a preceding if", name);
  if (n->args->len)
    SV_ERR (c, n->line, n->col, "%s takes no arguments besides the test", name);
  if (!is_else && (n->tests->len != 1 || n->test_list))
    SV_ERR (c, n->line, n->col, "%s needs exactly one test", name);
  if (is_else && n->tests->len)
    SV_ERR (c, n->line, n->col, "else takes no test");
  if (n->block == NULL)
    SV_ERR (c, n->line, n->col, "%s needs a block", name);
  cmd->n_branches = 1;
  cmd->tests = g_new0 (SvTest *, 1);
  cmd->blocks = g_new0 (SvBlock *, 1);
  if (!is_else && n->tests->len == 1)
    cmd->tests[0] = sv_compile_test (c, g_ptr_array_index (n->tests, 0));
  else if (!is_else)
    {
      /* Never run: the script does not compile. */
      cmd->tests[0] = g_new0 (SvTest, 1);
      cmd->tests[0]->def = sv_test_find ("false");
    }
  c->nesting++;
  cmd->blocks[0] = n->block ? sv_compile_block (c, n->block) : g_new0 (SvBlock, 1);
  c->nesting--;
}

static void
run_if (SvRun *x, const SvCmd *c)
{
  for (guint k = 0; k < c->n_branches; k++)
    if (c->tests[k] == NULL || sv_eval_test (x, c->tests[k]))
      {
        if (!x->error)
          sv_run_block (x, c->blocks[k]);
        break;
      }
}

/* ---- stop, keep, discard, redirect (3.3, 4) ------------------------------- */

static void
run_stop (SvRun *x, const SvCmd *c)
{
  x->stopped = TRUE;
}

static void
run_keep (SvRun *x, const SvCmd *c)
{
  if (!sv_count_action (x, c))
    return;
  sv_keep (x, c);
  x->implicit_keep = FALSE;
}

static void
run_discard (SvRun *x, const SvCmd *c)
{
  x->discard = TRUE;
  x->implicit_keep = FALSE;
}

static void
compile_redirect (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  if (!sv_want_one_string (c, n, p, cmd, "an address") || cmd->arg->dynamic)
    return;
  g_autofree char *addr = sv_address_extract (cmd->arg->text, cmd->arg->len);
  if (addr == NULL)
    SV_ERR (c, cmd->arg->line, cmd->arg->col, "redirect: invalid address \"%s\"", cmd->arg->text);
}

static void
run_redirect (SvRun *x, const SvCmd *c)
{
  if (!sv_count_action (x, c))
    return;
  gsize len;
  const char *v = sv_expand (x, c->arg, &len);
  char *addr = sv_address_extract (v, len);
  if (addr == NULL)
    {
      sv_rt_error (x, c->line, "redirect: invalid address");
      return;
    }
  /* Lower-case the domain; merge duplicates (RFC 5228 2.10.3). */
  char *at = strrchr (addr, '@');
  for (char *q = at; q && *q; q++)
    *q = g_ascii_tolower (*q);
  if (!c->copy)
    x->implicit_keep = FALSE;
  gboolean dup = FALSE;
  for (guint k = 0; k < x->redirect->len; k++)
    if (sv_same_address (((RdAction *) g_ptr_array_index (x->redirect, k))->address, addr))
      dup = TRUE;
  if (dup)
    {
      g_free (addr);
      return;
    }
  if (++x->n_redirects > x->rules->limits.max_redirects)
    {
      g_free (addr);
      sv_rt_error (x, c->line, "more redirects than the limit (%u)", x->rules->limits.max_redirects);
      return;
    }
  RdAction *a = sv_action_new (RD_ACTION_REDIRECT);
  a->address = addr;
  a->copy = c->copy;
  g_ptr_array_add (x->redirect, a);
}

/* ---- true, false, not, allof, anyof (5.1, 5.3, 5.8, 5.10, 5.11) ----------- */

static gboolean
run_true (SvRun *x, const SvTest *t)
{
  return TRUE;
}

static gboolean
run_false (SvRun *x, const SvTest *t)
{
  return FALSE;
}

static void
compile_children (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t, gboolean is_not)
{
  if (p->n)
    SV_ERR (c, p->v[0]->line, p->v[0]->col, "%s takes no arguments", n->name);
  if (is_not && (n->tests->len != 1 || n->test_list))
    SV_ERR (c, n->line, n->col, "not takes exactly one test");
  if (!is_not && !n->test_list)
    SV_ERR (c, n->line, n->col, "%s takes a test list in parentheses", n->name);
  if (!is_not && n->tests->len == 0)
    SV_ERR (c, n->line, n->col, "%s needs at least one test", n->name);
  t->n_children = n->tests->len;
  t->children = g_new0 (SvTest *, t->n_children ? t->n_children : 1);
  for (guint k = 0; k < n->tests->len; k++)
    t->children[k] = sv_compile_test (c, g_ptr_array_index (n->tests, k));
}

static void
compile_not (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  compile_children (c, n, p, t, TRUE);
}

static void
compile_test_list (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  compile_children (c, n, p, t, FALSE);
}

static gboolean
run_not (SvRun *x, const SvTest *t)
{
  return !sv_eval_test (x, t->children[0]);
}

static gboolean
run_allof (SvRun *x, const SvTest *t)
{
  for (guint i = 0; i < t->n_children; i++)
    if (!sv_eval_test (x, t->children[i]))
      return FALSE;
  return TRUE;
}

static gboolean
run_anyof (SvRun *x, const SvTest *t)
{
  for (guint i = 0; i < t->n_children; i++)
    if (sv_eval_test (x, t->children[i]))
      return TRUE;
  return FALSE;
}

/* ---- address, header, exists (5.1, 5.5, 5.7) ------------------------------ */

/* Header names are ftext (RFC 5322 3.6.8): printable, no ':'; another
 * name is a warning. */
static void
compile_header_test (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  if (!sv_compile_match_args (c, n, p, t, "header names"))
    return;
  for (guint k = 0; k < t->headers->n; k++)
    {
      SvString *h = t->headers->items[k];
      for (gsize q = 0; q < h->len && !h->dynamic; q++)
        if ((guchar) h->text[q] <= ' ' || h->text[q] == ':' || (guchar) h->text[q] >= 127)
          {
            /* Not an error (RFC 5228 does not make it one, and a list
             * may name other fields): no such field exists, so the name
             * never matches. A warning tells the author. */
            SV_WARN (c, h->line, h->col, "%s: \"%s\" is not a valid header field name; it never matches",
                     n->name, h->text);
            break;
          }
    }
  sv_check_match_keys (c, t, n->line, n->col);
}

static gboolean
run_address (SvRun *x, const SvTest *t)
{
  /* Matched as they come; only :count needs them collected. */
  g_autoptr(GPtrArray) vals = t->match == MATCH_COUNT ? g_ptr_array_new_with_free_func (g_free) : NULL;
  for (guint h = 0; h < t->headers->n; h++)
    {
      GPtrArray *addrs = sv_address_values (x, sv_expand (x, t->headers->items[h], NULL));
      guint from = 0, to = 0;
      if (!sv_index_pick (t, addrs->len, &from, &to))
        continue;
      for (guint i = from; i < to; i++)
        if (sv_match_address (x, t, g_ptr_array_index (addrs, i), vals))
          return TRUE;
    }
  return vals ? sv_test_values_all (x, t, vals) : FALSE;
}

static gboolean
run_header (SvRun *x, const SvTest *t)
{
  if (t->headers->n == 1)
    return sv_test_values (x, t, sv_header_values (x, sv_expand (x, t->headers->items[0], NULL)));
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  for (guint h = 0; h < t->headers->n; h++)
    {
      GPtrArray *vals = sv_header_values (x, sv_expand (x, t->headers->items[h], NULL));
      guint from = 0, to = 0;
      if (vals == NULL || !sv_index_pick (t, vals->len, &from, &to))
        continue;
      for (guint i = from; i < to; i++)
        g_ptr_array_add (all, g_ptr_array_index (vals, i));
    }
  return sv_test_values_all (x, t, all);
}

static void
compile_exists (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  if (sv_want_strings (c, n, p, 0, "header names", FALSE) && sv_want_count (c, n, p, 1))
    t->headers = sv_strlist_new (c, p->v[0]);
}

static gboolean
run_exists (SvRun *x, const SvTest *t)
{
  for (guint i = 0; i < t->headers->n; i++)
    {
      GPtrArray *v = sv_header_values (x, sv_expand (x, t->headers->items[i], NULL));
      if (v == NULL || v->len == 0)
        return FALSE;
    }
  return TRUE;
}

/* ---- size (5.9) ----------------------------------------------------------- */

typedef struct {
  gboolean given;       /* :over or :under */
  gboolean over;        /* :over (else :under) */
  guint64 size;
} SizeData;

static void
tag_size (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  SizeData *d = tc->test->data;
  d->given = TRUE;
  d->over = tag->value;
  sv_tag_number (tc, tag->name, &d->size);
}

static void
compile_size (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  const SizeData *d = t->data;
  if (!d->given)
    SV_ERR (c, n->line, n->col, "size needs :over or :under");
  sv_want_count (c, n, p, 0);
}

static gboolean
run_size (SvRun *x, const SvTest *t)
{
  const SizeData *d = t->data;
  guint64 size = rd_message_get_size (x->msg);
  return d->over ? size > d->size : size < d->size;
}

/* ---- the table ------------------------------------------------------------ */

void
sv_tag_address_part (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  tc->test->part = tag->value;
}

static const SvTagDef core_tags[] = {
  { .name = "all", .classes = SV_TAGS_ADDRESS_PART, .group = SV_GROUP_ADDRESS_PART, .twice = SV_PART_TWICE,
    .value = PART_ALL, .compile = sv_tag_address_part },
  { .name = "localpart", .classes = SV_TAGS_ADDRESS_PART, .group = SV_GROUP_ADDRESS_PART, .twice = SV_PART_TWICE,
    .value = PART_LOCAL, .compile = sv_tag_address_part },
  { .name = "domain", .classes = SV_TAGS_ADDRESS_PART, .group = SV_GROUP_ADDRESS_PART, .twice = SV_PART_TWICE,
    .value = PART_DOMAIN, .compile = sv_tag_address_part },
  { .name = NULL }
};

#define SIZE_TWICE "size: :over or :under given twice"

static const SvTagDef size_tags[] = {
  { .name = "over", .group = SV_GROUP_OWN, .twice = SIZE_TWICE, .value = TRUE, .compile = tag_size },
  { .name = "under", .group = SV_GROUP_OWN, .twice = SIZE_TWICE, .value = FALSE, .compile = tag_size },
  { .name = NULL }
};

#define MATCH_TAGS (SV_TAGS_COMPARATOR | SV_TAGS_MATCH)

static const SvTestDef core_tests[] = {
  { .name = "true", .compile = sv_compile_no_test_arguments, .run = run_true },
  { .name = "false", .compile = sv_compile_no_test_arguments, .run = run_false },
  { .name = "not", .takes_tests = TRUE, .compile = compile_not, .run = run_not },
  { .name = "allof", .takes_tests = TRUE, .compile = compile_test_list, .run = run_allof },
  { .name = "anyof", .takes_tests = TRUE, .compile = compile_test_list, .run = run_anyof },
  { .name = "address", .tag_classes = MATCH_TAGS | SV_TAGS_ADDRESS_PART | SV_TAGS_INDEX,
    .compile = compile_header_test, .run = run_address },
  { .name = "header", .tag_classes = MATCH_TAGS | SV_TAGS_INDEX, .compile = compile_header_test, .run = run_header },
  { .name = "exists", .compile = compile_exists, .run = run_exists },
  { .name = "size", .tags = size_tags, .data_size = sizeof (SizeData), .compile = compile_size, .run = run_size },
  { .name = NULL }
};

static const SvCommandDef core_commands[] = {
  { .name = "require", .flags = SV_CMD_RAW | SV_CMD_PREAMBLE, .compile = compile_require },
  { .name = "if", .flags = SV_CMD_RAW | SV_CMD_IF, .compile = compile_if, .run = run_if },
  { .name = "elsif", .flags = SV_CMD_RAW | SV_CMD_IF | SV_CMD_ELSE, .compile = compile_if, .run = run_if },
  { .name = "else", .flags = SV_CMD_RAW | SV_CMD_IF | SV_CMD_ELSE | SV_CMD_FINAL, .compile = compile_if,
    .run = run_if },
  { .name = "stop", .flags = SV_CMD_STOP, .compile = sv_compile_no_arguments, .run = run_stop },
  { .name = "keep", .tag_classes = SV_TAGS_FLAGS, .compile = sv_compile_no_arguments, .run = run_keep },
  { .name = "discard", .compile = sv_compile_no_arguments, .run = run_discard },
  { .name = "redirect", .tag_classes = SV_TAGS_COPY, .compile = compile_redirect, .run = run_redirect },
  { .name = NULL }
};

const SvExtension sv_ext_core = {
  .commands = core_commands,
  .tests = core_tests,
  .tags = core_tags,
};
