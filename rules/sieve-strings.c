/* relaydesk — rules: Sieve strings.
 *
 * At compile time a string argument is decoded (by the extensions that
 * rewrite strings: encoded-character, RFC 5228 2.4.2.4) and split into
 * literal text and references to variables (RFC 5229 3) and to the
 * variables of extensions' namespaces (${ticket.*}), so that evaluation
 * does no parsing; variable names get slots. At run time the segments are joined with the current values,
 * bounded by limits.max_string_length.
 */
#include "sieve-parse.h"
#include "sieve-run.h"

#include <string.h>

/* ---- at compile time ------------------------------------------------------ */

void
sv_string_free (SvString *s)
{
  if (s == NULL)
    return;
  for (guint i = 0; i < s->n_segs; i++)
    g_free (s->segs[i].text);
  g_free (s->segs);
  g_free (s->text);
  g_free (s->lower);
  sv_regex_free (s->re);
  g_free (s);
}

void
sv_strlist_free (SvStrList *l)
{
  if (l == NULL)
    return;
  for (guint i = 0; i < l->n; i++)
    sv_string_free (l->items[i]);
  g_free (l->items);
  g_free (l);
}

int
sv_var_slot (SvCompiler *c, const char *lname)
{
  if (g_str_has_prefix (lname, "global."))
    lname += 7;
  else if (!c->globals_here || !g_hash_table_contains (c->globals_here, lname))
    {
      gpointer v = g_hash_table_lookup (c->locals, lname);
      if (v)
        return GPOINTER_TO_INT (v) - 1;
      if (g_hash_table_size (c->locals) >= c->rules->limits.max_variables)
        return G_MININT;
      int slot = (int) c->script->n_vars++;
      g_hash_table_insert (c->locals, g_strdup (lname), GINT_TO_POINTER (slot + 1));
      return slot;
    }
  for (guint i = 0; i < c->rules->globals->len; i++)
    if (!strcmp (g_ptr_array_index (c->rules->globals, i), lname))
      return -1 - (int) i;
  if (c->rules->globals->len >= c->rules->limits.max_variables)
    return G_MININT;
  g_ptr_array_add (c->rules->globals, g_strdup (lname));
  return -(int) c->rules->globals->len;
}

/* identifier *("." identifier), or a number: RFC 5229 3. */
gboolean
sv_var_name_ok (const char *s, gsize n, gboolean *numeric)
{
  if (n == 0)
    return FALSE;
  gboolean digits = TRUE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isdigit (s[i]))
      digits = FALSE;
  *numeric = digits;
  if (digits)
    return TRUE;
  gboolean start = TRUE;
  for (gsize i = 0; i < n; i++)
    {
      if (s[i] == '.')
        {
          if (start)
            return FALSE;
          start = TRUE;
          continue;
        }
      if (start ? !sv_is_ident_start (s[i]) : !sv_is_ident_char (s[i]))
        return FALSE;
      start = FALSE;
    }
  return !start;
}

static void
add_seg (GArray *segs, SvSegKind kind, int index, const SvNamespace *ns, const char *text, gsize len)
{
  if (kind == SEG_TEXT && segs->len > 0)
    {
      SvSeg *last = &g_array_index (segs, SvSeg, segs->len - 1);
      if (last->kind == SEG_TEXT)
        {
          last->text = g_realloc (last->text, last->len + len + 1);
          memcpy (last->text + last->len, text, len);
          last->len += len;
          last->text[last->len] = '\0';
          return;
        }
    }
  SvSeg s = { kind, index, ns, NULL, 0 };
  if (kind == SEG_TEXT)
    {
      s.text = g_strndup (text, len);
      s.len = len;
    }
  g_array_append_val (segs, s);
}

SvString *
sv_string_new (SvCompiler *c, const SvRawStr *raw)
{
  SvString *s = g_new0 (SvString, 1);
  s->line = raw->line;
  s->col = raw->col;
  const char *derr = NULL;
  s->text = sv_decode_string (c->script->exts, raw->text, raw->len, &s->len, &derr);
  if (derr)
    SV_ERR (c, raw->line, raw->col, "%s", derr);
  gboolean vars = (c->script->exts & EXT_VARIABLES) != 0;
  gboolean namespaces = sv_namespaces_enabled (c->script->exts);
  if ((!vars && !namespaces) || memmem (s->text, s->len, "${", 2) == NULL)
    {
      s->lower = g_ascii_strdown (s->text, (gssize) s->len);
      return s;
    }
  GArray *segs = g_array_new (FALSE, FALSE, sizeof (SvSeg));
  gsize i = 0, lit = 0;
  gboolean dynamic = FALSE;
  while (i < s->len)
    {
      if (s->text[i] == '$' && i + 1 < s->len && s->text[i + 1] == '{')
        {
          const char *close = memchr (s->text + i + 2, '}', s->len - i - 2);
          if (close)
            {
              const char *name = s->text + i + 2;
              gsize n = close - name;
              gboolean numeric = FALSE;
              if (n < 128 && sv_var_name_ok (name, n, &numeric))
                {
                  g_autofree char *lname = g_ascii_strdown (name, n);
                  SvSegKind kind = SEG_VAR;
                  int index = 0;
                  gboolean handled = TRUE;
                  const SvNamespace *ns = sv_namespace_find (c->script->exts, lname);
                  if (ns)
                    {
                      kind = SEG_NAMESPACE;
                      index = ns->lookup (lname);
                      if (index < 0)
                        {
                          SV_ERR (c, raw->line, raw->col, "unknown variable ${%s}", lname);
                          handled = FALSE;
                        }
                    }
                  else if (!vars)
                    handled = FALSE;
                  else if (numeric)
                    {
                      kind = SEG_MATCH;
                      guint64 v = g_ascii_strtoull (lname, NULL, 10);
                      index = v <= SV_MAX_MATCH ? (int) v : -1;
                    }
                  else if (strchr (lname, '.') && !g_str_has_prefix (lname, "global."))
                    {
                      /* An unknown namespace (RFC 5229 3): an error. */
                      SV_ERR (c, raw->line, raw->col, "unknown variable namespace in ${%s}", lname);
                      handled = FALSE;
                    }
                  else
                    {
                      index = sv_var_slot (c, lname);
                      if (index == G_MININT)
                        {
                          SV_ERR (c, raw->line, raw->col, "too many variables");
                          handled = FALSE;
                        }
                    }
                  if (handled)
                    {
                      add_seg (segs, SEG_TEXT, 0, NULL, s->text + lit, i - lit);
                      if (!(kind == SEG_MATCH && index < 0))
                        add_seg (segs, kind, index, ns, NULL, 0);
                      dynamic = TRUE;
                      i = (close - s->text) + 1;
                      lit = i;
                      continue;
                    }
                }
            }
        }
      i++;
    }
  add_seg (segs, SEG_TEXT, 0, NULL, s->text + lit, s->len - lit);
  if (!dynamic)
    {
      for (guint k = 0; k < segs->len; k++)
        g_free (g_array_index (segs, SvSeg, k).text);
      g_array_unref (segs);
      s->lower = g_ascii_strdown (s->text, (gssize) s->len);
      return s;
    }
  s->dynamic = TRUE;
  s->n_segs = segs->len;
  s->segs = (SvSeg *) g_array_free (segs, FALSE);
  return s;
}

SvStrList *
sv_strlist_new (SvCompiler *c, const SvArg *a)
{
  SvStrList *l = g_new0 (SvStrList, 1);
  l->n = a->strs->len;
  l->items = g_new0 (SvString *, l->n ? l->n : 1);
  for (guint i = 0; i < l->n; i++)
    l->items[i] = sv_string_new (c, g_ptr_array_index (a->strs, i));
  return l;
}

/* ---- at run time: variables and expansion -------------------------------- */

GString *
sv_var_get (SvRun *x, int slot)
{
  if (slot >= 0)
    {
      if ((guint) slot >= x->n_locals)
        return NULL;
      return x->locals[slot];
    }
  if (slot == G_MININT)
    return x->flags;
  guint g = (guint) (-1 - slot);
  if (g >= x->rules->globals->len)
    return NULL;
  return x->globals[g];
}

GString *
sv_var_ref (SvRun *x, int slot)
{
  if (slot == G_MININT)
    return x->flags;
  GString **p;
  if (slot >= 0)
    {
      if ((guint) slot >= x->n_locals)
        return NULL;
      p = &x->locals[slot];
    }
  else
    {
      guint g = (guint) (-1 - slot);
      if (g >= x->rules->globals->len)
        return NULL;
      p = &x->globals[g];
    }
  if (*p == NULL)
    *p = g_string_new (NULL);
  return *p;
}

const char *
sv_expand_dynamic (SvRun *x, const SvString *s, gsize *len)
{
  GString *out = sv_scratch (x);
  for (guint i = 0; i < s->n_segs; i++)
    {
      const SvSeg *g = &s->segs[i];
      switch (g->kind)
        {
        case SEG_TEXT:
          g_string_append_len (out, g->text, g->len);
          break;
        case SEG_MATCH:
          if (x->match[g->index])
            g_string_append (out, x->match[g->index]);
          break;
        case SEG_VAR:
          {
            GString *v = sv_var_get (x, g->index);
            if (v)
              g_string_append_len (out, v->str, v->len);
            break;
          }
        case SEG_NAMESPACE:
          g->ns->expand (x, g->index, out);
          break;
        default:
          break;
        }
    }
  if (out->len > x->rules->limits.max_string_length)
    g_string_truncate (out, x->rules->limits.max_string_length);
  if (len)
    *len = out->len;
  return out->str;
}
