/* relaydesk — rules: Sieve "variables" (RFC 5229).
 *
 * set [MODIFIERS] NAME VALUE (4) and the test string (5); ${NAME} and the
 * match variables ${0}..${9} in strings are sieve-strings.c's.
 */
#include "sieve-parse.h"
#include "sieve-run.h"

#include <string.h>

enum {
  SET_LOWER = 1 << 0, SET_UPPER = 1 << 1, SET_LOWERFIRST = 1 << 2, SET_UPPERFIRST = 1 << 3,
  SET_QUOTEWILDCARD = 1 << 4, SET_QUOTEREGEX = 1 << 5, SET_LENGTH = 1 << 6,
};

typedef struct {
  int var;              /* the slot */
  guint modifiers;      /* SET_* */
} SetData;

/* ---- set ------------------------------------------------------------------ */

/* RFC 5229 4.1: one modifier of each precedence level. */
static void
tag_modifier (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  SetData *d = tc->cmd->data;
  guint bit = (guint) tag->value;
  guint same = (SET_LOWER | SET_UPPER);
  guint same2 = (SET_LOWERFIRST | SET_UPPERFIRST);
  if ((d->modifiers & bit) || ((bit & same) && (d->modifiers & same)) || ((bit & same2) && (d->modifiers & same2)))
    SV_ERR (tc->c, a->line, a->col, "set: conflicting modifier :%s", tag->name);
  d->modifiers |= bit;
}

static void
compile_set (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  SetData *d = cmd->data;
  if (!sv_want_strings (c, n, p, 0, "a variable name", TRUE) || !sv_want_strings (c, n, p, 1, "a value", TRUE)
      || !sv_want_count (c, n, p, 2))
    return;
  SvRawStr *nm = g_ptr_array_index (p->v[0]->strs, 0);
  gboolean numeric = FALSE;
  if (!sv_var_name_ok (nm->text, nm->len, &numeric) || numeric
      || (strchr (nm->text, '.') && !g_str_has_prefix (nm->text, "global.")))
    SV_ERR (c, nm->line, nm->col, "set: invalid variable name \"%s\"", nm->text);
  else
    {
      g_autofree char *l = g_ascii_strdown (nm->text, -1);
      d->var = sv_var_slot (c, l);
      if (d->var == G_MININT)
        SV_ERR (c, nm->line, nm->col, "too many variables");
    }
  cmd->arg = sv_string_new (c, g_ptr_array_index (p->v[1]->strs, 0));
}

static void
run_set (SvRun *x, const SvCmd *c)
{
  const SetData *d = c->data;
  gsize len;
  const char *v = sv_expand (x, c->arg, &len);
  GString *out = g_string_new_len (v, (gssize) len);
  guint m = d->modifiers;
  /* RFC 5229 4.1: applied from the highest precedence down. */
  if (m & SET_LOWER)
    for (gsize i = 0; i < out->len; i++)
      out->str[i] = g_ascii_tolower (out->str[i]);
  if (m & SET_UPPER)
    for (gsize i = 0; i < out->len; i++)
      out->str[i] = g_ascii_toupper (out->str[i]);
  if ((m & SET_LOWERFIRST) && out->len)
    out->str[0] = g_ascii_tolower (out->str[0]);
  if ((m & SET_UPPERFIRST) && out->len)
    out->str[0] = g_ascii_toupper (out->str[0]);
  if (m & (SET_QUOTEWILDCARD | SET_QUOTEREGEX))
    {
      const char *special = (m & SET_QUOTEREGEX) ? "\\*?.+()[]{}^$|" : "\\*?";
      GString *q = g_string_new (NULL);
      for (gsize i = 0; i < out->len; i++)
        {
          if (strchr (special, out->str[i]) && out->str[i])
            g_string_append_c (q, '\\');
          g_string_append_c (q, out->str[i]);
        }
      g_string_free (out, TRUE);
      out = q;
    }
  if (m & SET_LENGTH)
    {
      glong n = g_utf8_validate (out->str, (gssize) out->len, NULL) ? g_utf8_strlen (out->str, (gssize) out->len)
                                                                    : (glong) out->len;
      g_string_printf (out, "%ld", n);
    }
  if (out->len > x->rules->limits.max_string_length)
    g_string_truncate (out, x->rules->limits.max_string_length);
  GString *var = sv_var_ref (x, d->var);
  if (var)
    g_string_assign (var, out->str);
  g_string_free (out, TRUE);
}

/* ---- string (5) ----------------------------------------------------------- */

static void
compile_string (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  if (sv_compile_match_args (c, n, p, t, "source strings"))
    sv_check_match_keys (c, t, n->line, n->col);
}

static gboolean
run_string (SvRun *x, const SvTest *t)
{
  if (t->match != MATCH_COUNT)
    {
      for (guint i = 0; i < t->headers->n && !x->error; i++)
        {
          gsize vl;
          const char *v = sv_expand (x, t->headers->items[i], &vl);
          /* @v lives in a scratch buffer: dynamic keys expand into
           * others, and enough of them would come round to it. */
          gboolean dyn_keys = FALSE;
          for (guint k = 0; k < t->keys->n; k++)
            dyn_keys |= t->keys->items[k]->dynamic;
          g_autofree char *copy = t->headers->items[i]->dynamic && dyn_keys ? g_strndup (v, vl) : NULL;
          if (sv_match_value (x, t, copy ? copy : v, vl))
            return TRUE;
        }
      return FALSE;
    }
  g_autoptr(GPtrArray) vals = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < t->headers->n; i++)
    g_ptr_array_add (vals, g_strdup (sv_expand (x, t->headers->items[i], NULL)));
  return sv_test_values (x, t, vals);
}

/* ---- the table ------------------------------------------------------------ */

static const SvTagDef set_tags[] = {
  { .name = "lower", .value = SET_LOWER, .compile = tag_modifier },
  { .name = "upper", .value = SET_UPPER, .compile = tag_modifier },
  { .name = "lowerfirst", .value = SET_LOWERFIRST, .compile = tag_modifier },
  { .name = "upperfirst", .value = SET_UPPERFIRST, .compile = tag_modifier },
  { .name = "quotewildcard", .value = SET_QUOTEWILDCARD, .compile = tag_modifier },
  { .name = "quoteregex", .ext = EXT_REGEX, .value = SET_QUOTEREGEX, .compile = tag_modifier },
  { .name = "length", .value = SET_LENGTH, .compile = tag_modifier },
  { .name = NULL }
};

static const SvCommandDef commands[] = {
  { .name = "set", .ext = EXT_VARIABLES, .tags = set_tags, .data_size = sizeof (SetData), .compile = compile_set,
    .run = run_set },
  { .name = NULL }
};

static const SvTestDef tests[] = {
  { .name = "string", .ext = EXT_VARIABLES, .tag_classes = SV_TAGS_COMPARATOR | SV_TAGS_MATCH,
    .compile = compile_string, .run = run_string },
  { .name = NULL }
};

const SvExtension sv_ext_variables = {
  .capability = "variables",
  .ext = EXT_VARIABLES,
  .commands = commands,
  .tests = tests,
};
