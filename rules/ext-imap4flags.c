/* relaydesk — rules: Sieve "imap4flags" (RFC 5232): ticket tags.
 *
 * setflag/addflag/removeflag [VARIABLE] FLAGS change a variable holding a
 * space-separated flag list, the internal one by default (3); :flags on
 * keep and fileinto sets the flags of that action (5), else the internal
 * variable's are used; hasflag [VARIABLES] KEYS tests them (4). A stored
 * message's flags are lower case, unique and sorted.
 */
#include "sieve-parse.h"
#include "sieve-run.h"

#include <string.h>

/* ---- flag lists ----------------------------------------------------------- */

/* Adds the space-separated flags of @text to @out, leaving out those
 * already there (in any case). */
static void
flags_split (const char *text, GPtrArray *out)
{
  g_auto(GStrv) parts = g_strsplit_set (text, " \t\r\n", -1);
  for (guint i = 0; parts[i]; i++)
    if (*parts[i])
      {
        gboolean dup = FALSE;
        for (guint k = 0; k < out->len; k++)
          if (!g_ascii_strcasecmp (g_ptr_array_index (out, k), parts[i]))
            dup = TRUE;
        if (!dup && out->len < 256)
          g_ptr_array_add (out, g_strdup (parts[i]));
      }
}

static void
flags_join (GPtrArray *flags, GString *out)
{
  g_string_truncate (out, 0);
  for (guint i = 0; i < flags->len; i++)
    {
      if (i)
        g_string_append_c (out, ' ');
      g_string_append (out, g_ptr_array_index (flags, i));
    }
}

static int
cmp_pstr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Flags for a stored message: lower-case, unique, sorted (README). */
static char **
flags_canonical (const char *text)
{
  if (text[strspn (text, " \t\r\n")] == '\0')
    return NULL;   /* the common case: no flags */
  g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *lower = g_ascii_strdown (text, -1);
  flags_split (lower, v);
  if (v->len == 0)
    return NULL;
  g_ptr_array_sort (v, cmp_pstr);
  g_ptr_array_add (v, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&v), FALSE);
}

char **
sv_flags_for (SvRun *x, const SvCmd *c)
{
  if (c && c->flags)
    {
      GString *s = g_string_new (NULL);
      for (guint i = 0; i < c->flags->n; i++)
        {
          g_string_append (s, sv_expand (x, c->flags->items[i], NULL));
          g_string_append_c (s, ' ');
        }
      char **r = flags_canonical (s->str);
      g_string_free (s, TRUE);
      return r;
    }
  return flags_canonical (x->flags->str);
}

static char **
flags_union (char **a, char **b)
{
  if (a == NULL)
    return g_strdupv (b);
  g_autofree char *ja = g_strjoinv (" ", a);
  g_autofree char *jb = b ? g_strjoinv (" ", b) : g_strdup ("");
  g_autofree char *j = g_strconcat (ja, " ", jb, NULL);
  return flags_canonical (j);
}

void
sv_flags_merge (char ***into, char **flags)
{
  char **u = flags_union (*into, flags);
  g_strfreev (*into);
  g_strfreev (flags);
  *into = u;
}

/* ---- :flags (5) ----------------------------------------------------------- */

static void
tag_flags (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  sv_tag_set_strlist (tc, tag->name, &tc->cmd->flags);
}

/* ---- setflag, addflag, removeflag (3) ------------------------------------- */

typedef struct {
  int var;              /* the variable's slot, G_MININT for the internal one */
} FlagCmdData;

static void
begin_flag_command (SvCompiler *c, SvNode *n, SvCmd *cmd)
{
  FlagCmdData *d = cmd->data;
  d->var = G_MININT;
}

static void
compile_flag_command (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  FlagCmdData *d = cmd->data;
  if (p->n == 2)
    {
      if (!sv_want_strings (c, n, p, 0, "a variable name", TRUE))
        return;
      sv_need (c, EXT_VARIABLES, n->line, n->col, "a flag variable");
      SvRawStr *nm = g_ptr_array_index (p->v[0]->strs, 0);
      gboolean numeric = FALSE;
      if (!sv_var_name_ok (nm->text, nm->len, &numeric) || numeric)
        SV_ERR (c, nm->line, nm->col, "%s: invalid variable name \"%s\"", n->name, nm->text);
      else
        {
          g_autofree char *l = g_ascii_strdown (nm->text, -1);
          d->var = sv_var_slot (c, l);
        }
      if (sv_want_strings (c, n, p, 1, "a flag list", FALSE))
        cmd->flags = sv_strlist_new (c, p->v[1]);
    }
  else if (sv_want_strings (c, n, p, 0, "a flag list", FALSE) && sv_want_count (c, n, p, 1))
    cmd->flags = sv_strlist_new (c, p->v[0]);
}

typedef enum { FLAGS_SET, FLAGS_ADD, FLAGS_REMOVE } FlagOp;

static void
flags_update (SvRun *x, const SvCmd *c, FlagOp op)
{
  const FlagCmdData *d = c->data;
  GString *var = sv_var_ref (x, d->var);
  if (var == NULL)
    return;
  g_autoptr(GPtrArray) cur = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) given = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < c->flags->n; i++)
    flags_split (sv_expand (x, c->flags->items[i], NULL), given);
  if (op != FLAGS_SET)
    flags_split (var->str, cur);
  if (op == FLAGS_REMOVE)
    {
      for (guint i = 0; i < given->len; i++)
        for (guint k = 0; k < cur->len; k++)
          if (!g_ascii_strcasecmp (g_ptr_array_index (cur, k), g_ptr_array_index (given, i)))
            g_ptr_array_remove_index (cur, k--);
    }
  else
    for (guint i = 0; i < given->len; i++)
      flags_split (g_ptr_array_index (given, i), cur);
  flags_join (cur, var);
}

static void
run_setflag (SvRun *x, const SvCmd *c)
{
  flags_update (x, c, FLAGS_SET);
}

static void
run_addflag (SvRun *x, const SvCmd *c)
{
  flags_update (x, c, FLAGS_ADD);
}

static void
run_removeflag (SvRun *x, const SvCmd *c)
{
  flags_update (x, c, FLAGS_REMOVE);
}

/* ---- hasflag (4) ---------------------------------------------------------- */

typedef struct {
  int *vars;            /* the variables' slots; none: the internal variable */
  guint n_vars;
} HasflagData;

static void
compile_hasflag (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  HasflagData *d = t->data;
  if (p->n == 2)
    {
      if (!sv_want_strings (c, n, p, 0, "variable names", FALSE))
        return;
      sv_need (c, EXT_VARIABLES, n->line, n->col, "hasflag with variables");
      t->headers = sv_strlist_new (c, p->v[0]);
      d->n_vars = t->headers->n;
      d->vars = g_new0 (int, d->n_vars ? d->n_vars : 1);
      for (guint k = 0; k < t->headers->n; k++)
        {
          SvString *v = t->headers->items[k];
          gboolean numeric = FALSE;
          if (v->dynamic || !sv_var_name_ok (v->text, v->len, &numeric) || numeric)
            {
              SV_ERR (c, v->line, v->col, "hasflag: invalid variable name \"%s\"", v->text);
              continue;
            }
          g_autofree char *l = g_ascii_strdown (v->text, -1);
          d->vars[k] = sv_var_slot (c, l);
        }
      if (sv_want_strings (c, n, p, 1, "key list", FALSE))
        t->keys = sv_strlist_new (c, p->v[1]);
    }
  else if (sv_want_strings (c, n, p, 0, "key list", FALSE) && sv_want_count (c, n, p, 1))
    t->keys = sv_strlist_new (c, p->v[0]);
  if (t->keys)
    sv_check_match_keys (c, t, n->line, n->col);
}

static gboolean
run_hasflag (SvRun *x, const SvTest *t)
{
  const HasflagData *d = t->data;
  g_autoptr(GPtrArray) flags = g_ptr_array_new_with_free_func (g_free);
  if (d->n_vars)
    {
      for (guint i = 0; i < d->n_vars; i++)
        {
          GString *v = sv_var_get (x, d->vars[i]);
          if (v)
            flags_split (v->str, flags);
        }
    }
  else
    flags_split (x->flags->str, flags);
  return sv_test_values (x, t, flags);
}

static void
hasflag_clear (gpointer data)
{
  HasflagData *d = data;
  g_free (d->vars);
}

/* ---- the table ------------------------------------------------------------ */

static const SvTagDef tags[] = {
  { .name = "flags", .ext = EXT_IMAP4FLAGS, .classes = SV_TAGS_FLAGS, .compile = tag_flags },
  { .name = NULL }
};

#define FLAG_COMMAND(cmd_name, run_fn) \
  { .name = cmd_name, .ext = EXT_IMAP4FLAGS, .data_size = sizeof (FlagCmdData), .begin = begin_flag_command, \
    .compile = compile_flag_command, .run = run_fn }

static const SvCommandDef commands[] = {
  FLAG_COMMAND ("setflag", run_setflag),
  FLAG_COMMAND ("addflag", run_addflag),
  FLAG_COMMAND ("removeflag", run_removeflag),
  { .name = NULL }
};

static const SvTestDef tests[] = {
  { .name = "hasflag", .ext = EXT_IMAP4FLAGS, .tag_classes = SV_TAGS_COMPARATOR | SV_TAGS_MATCH,
    .data_size = sizeof (HasflagData), .compile = compile_hasflag, .run = run_hasflag, .clear = hasflag_clear },
  { .name = NULL }
};

const SvExtension sv_ext_imap4flags = {
  .capability = "imap4flags",
  .ext = EXT_IMAP4FLAGS,
  .commands = commands,
  .tests = tests,
  .tags = tags,
};
