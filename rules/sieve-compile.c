/* relaydesk — rules: the Sieve compiler (the validator).
 *
 * The generic command tree of the parser (sieve-parse.h) -> the
 * validated, typed form of sieve-private.h. Errors carry FILE:LINE:COL;
 * the validator reports every error it finds.
 */
#include "sieve-parse.h"
#include "rd-common.h"

#include <string.h>
#include <stdarg.h>

const SvCapability sv_capabilities[] = {
  { "fileinto", EXT_FILEINTO },
  { "envelope", EXT_ENVELOPE },
  { "encoded-character", EXT_ENCODED_CHARACTER },
  { "variables", EXT_VARIABLES },
  { "vacation", EXT_VACATION },
  { "vacation-seconds", EXT_VACATION_SECONDS | EXT_VACATION },
  { "relational", EXT_RELATIONAL },
  { "comparator-i;ascii-numeric", EXT_NUMERIC },
  { "comparator-i;octet", EXT_OCTET },
  { "comparator-i;ascii-casemap", EXT_CASEMAP },
  { "subaddress", EXT_SUBADDRESS },
  { "body", EXT_BODY },
  { "copy", EXT_COPY },
  { "regex", EXT_REGEX },
  { "date", EXT_DATE },
  { "index", EXT_INDEX },
  { "imap4flags", EXT_IMAP4FLAGS },
  { "include", EXT_INCLUDE },
  { "duplicate", EXT_DUPLICATE },
  { "reject", EXT_REJECT },
  { "vnd.relaydesk.ticket", EXT_TICKET },
  { NULL, 0 }
};

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

/* ---- regex ------------------------------------------------------------- */

void
sv_regex_free (regex_t *re)
{
  if (re)
    {
      regfree (re);
      g_free (re);
    }
}

regex_t *
sv_regex_compile (const char *pattern, gsize len, gboolean icase, const RdRulesLimits *limits, GError **error)
{
  if (len > limits->max_regex_size)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex longer than the limit (%" G_GSIZE_FORMAT " bytes)", limits->max_regex_size);
      return NULL;
    }
  if (memchr (pattern, '\0', len))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "regex contains NUL");
      return NULL;
    }
  /* Back-references make matching exponential: refused. Repetition counts
   * multiply the automaton regcomp builds ("((a{9}){9}){9}"): the size
   * after expanding them is estimated and bounded. */
  guint64 stack[64];
  guint depth = 0;
  guint64 cur = 0, last = 0;
  const guint64 max_nodes = 64 * 1024;
  for (gsize i = 0; i < len; i++)
    {
      char ch = pattern[i];
      if (ch == '\\' && i + 1 < len)
        {
          if (g_ascii_isdigit (pattern[i + 1]))
            {
              g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "back-references are not supported in regex");
              return NULL;
            }
          i++;
          last = 1;
          cur += 1;
        }
      else if (ch == '(')
        {
          if (depth >= G_N_ELEMENTS (stack))
            {
              g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex nested too deeply");
              return NULL;
            }
          stack[depth++] = cur;
          cur = 0;
        }
      else if (ch == ')' && depth > 0)
        {
          last = cur;
          cur = stack[--depth] + last;
        }
      else if (ch == '[')
        {
          gsize k = i + 1;
          if (k < len && pattern[k] == '^')
            k++;
          if (k < len && pattern[k] == ']')
            k++;
          while (k < len && pattern[k] != ']')
            k++;
          i = k;
          last = 1;
          cur += 1;
        }
      else if (ch == '{')
        {
          guint64 m = 0, n = 0;
          gboolean comma = FALSE;
          gsize k = i + 1;
          for (; k < len && (g_ascii_isdigit (pattern[k]) || pattern[k] == ','); k++)
            {
              if (pattern[k] == ',')
                comma = TRUE;
              else if (comma)
                n = MIN (n * 10 + (guint64) (pattern[k] - '0'), (guint64) 100000);
              else
                m = MIN (m * 10 + (guint64) (pattern[k] - '0'), (guint64) 100000);
            }
          guint64 mult = MAX (m, n);
          if (mult > 255)
            {
              g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex repetition count above 255");
              return NULL;
            }
          if (mult > 1)
            {
              cur += last * (mult - 1);
              last *= mult;
            }
          i = k < len ? k : len;
        }
      else if (ch != '*' && ch != '+' && ch != '?' && ch != '|' && ch != '^' && ch != '$')
        {
          last = 1;
          cur += 1;
        }
      if (cur > max_nodes || last > max_nodes)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex too complex (repetitions expand beyond %" G_GUINT64_FORMAT " nodes)", max_nodes);
          return NULL;
        }
    }
  for (guint k = 0; k < depth; k++)
    if (stack[k] + cur > max_nodes)
      {
        g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex too complex");
        return NULL;
      }
  regex_t *re = g_new0 (regex_t, 1);
  int rc = regcomp (re, pattern, REG_EXTENDED | (icase ? REG_ICASE : 0));
  if (rc != 0)
    {
      char buf[256];
      regerror (rc, re, buf, sizeof buf);
      g_free (re);
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad regex: %s", buf);
      return NULL;
    }
  return re;
}

/* ---- validator ------------------------------------------------------------ */

void
sv_test_free (SvTest *t)
{
  if (t == NULL)
    return;
  sv_strlist_free (t->headers);
  sv_strlist_free (t->keys);
  sv_strlist_free (t->content);
  sv_string_free (t->datepart);
  sv_string_free (t->zone);
  sv_string_free (t->handle);
  sv_string_free (t->dup_header);
  sv_string_free (t->uniqueid);
  g_free (t->flag_vars);
  for (guint i = 0; i < t->n_children; i++)
    sv_test_free (t->children[i]);
  g_free (t->children);
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
  sv_string_free (c->subject);
  sv_string_free (c->from);
  sv_string_free (c->handle);
  sv_strlist_free (c->addresses);
  sv_string_free (c->priority);
  sv_string_free (c->assign);
  sv_string_free (c->status);
  sv_strlist_free (c->tags);
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

static gboolean
need (SvCompiler *c, SvExt ext, guint line, guint col, const char *what, const char *capability)
{
  if (c->script->exts & ext)
    return TRUE;
  SV_ERR (c, line, col, "%s requires the \"%s\" extension (require \"%s\";)", what, capability, capability);
  return FALSE;
}

/* Positional arguments after the tags. */
typedef struct {
  SvArg **v;
  guint n;
} Pos;

/* The arguments of @n from @from on (an empty array has no pdata). */
static Pos
positional (SvNode *n, guint from)
{
  Pos p = { NULL, 0 };
  if (n->args->len > from)
    {
      p.v = (SvArg **) n->args->pdata + from;
      p.n = n->args->len - from;
    }
  return p;
}

static gboolean
want_strings (SvCompiler *c, SvNode *n, Pos *p, guint i, const char *what, gboolean single)
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

static gboolean
want_count (SvCompiler *c, SvNode *n, Pos *p, guint count)
{
  if (p->n > count)
    {
      SV_ERR (c, p->v[count]->line, p->v[count]->col, "%s: too many arguments", n->name);
      return FALSE;
    }
  return TRUE;
}

static SvString *
tag_string (SvCompiler *c, SvNode *n, guint *i, const char *tag)
{
  SvArg *t = g_ptr_array_index (n->args, *i);
  if (*i + 1 >= n->args->len)
    {
      SV_ERR (c, t->line, t->col, ":%s needs a string argument", tag);
      return NULL;
    }
  SvArg *a = g_ptr_array_index (n->args, *i + 1);
  if (a->kind != SV_ARG_STRINGS || a->strs->len != 1)
    {
      SV_ERR (c, a->line, a->col, ":%s needs a string argument", tag);
      return NULL;
    }
  (*i)++;
  return sv_string_new (c, g_ptr_array_index (a->strs, 0));
}

static SvStrList *
tag_strlist (SvCompiler *c, SvNode *n, guint *i, const char *tag)
{
  SvArg *t = g_ptr_array_index (n->args, *i);
  if (*i + 1 >= n->args->len || ((SvArg *) g_ptr_array_index (n->args, *i + 1))->kind != SV_ARG_STRINGS)
    {
      SV_ERR (c, t->line, t->col, ":%s needs a string list", tag);
      return NULL;
    }
  (*i)++;
  return sv_strlist_new (c, g_ptr_array_index (n->args, *i));
}

static gboolean
tag_number (SvCompiler *c, SvNode *n, guint *i, const char *tag, guint64 *out)
{
  SvArg *t = g_ptr_array_index (n->args, *i);
  if (*i + 1 >= n->args->len || ((SvArg *) g_ptr_array_index (n->args, *i + 1))->kind != SV_ARG_NUM)
    {
      SV_ERR (c, t->line, t->col, ":%s needs a number", tag);
      return FALSE;
    }
  (*i)++;
  *out = ((SvArg *) g_ptr_array_index (n->args, *i))->num;
  return TRUE;
}

/* Tags shared by the match tests: comparator, match type, address part,
 * index. TRUE when @a was one of them (consumed). */
static gboolean
common_tag (SvCompiler *c, SvNode *n, guint *i, SvTest *t, guint allowed, guint *seen)
{
  enum { A_CMP = 1, A_MATCH = 2, A_PART = 4, A_INDEX = 8 };
  SvArg *a = g_ptr_array_index (n->args, *i);
  const char *tag = a->tag;
  if ((allowed & A_CMP) && !strcmp (tag, "comparator"))
    {
      SvString *s = tag_string (c, n, i, tag);
      if (s == NULL)
        return TRUE;
      if (*seen & A_CMP)
        SV_ERR (c, a->line, a->col, "comparator given twice");
      *seen |= A_CMP;
      if (!g_ascii_strcasecmp (s->text, "i;octet"))
        t->cmp = CMP_OCTET;
      else if (!g_ascii_strcasecmp (s->text, "i;ascii-casemap"))
        t->cmp = CMP_CASEMAP;
      else if (!g_ascii_strcasecmp (s->text, "i;ascii-numeric"))
        {
          t->cmp = CMP_NUMERIC;
          need (c, EXT_NUMERIC, a->line, a->col, "comparator i;ascii-numeric", "comparator-i;ascii-numeric");
        }
      else
        SV_ERR (c, a->line, a->col, "unknown comparator \"%s\"", s->text);
      sv_string_free (s);
      return TRUE;
    }
  if (allowed & A_MATCH)
    {
      int m = -1;
      if (!strcmp (tag, "is"))
        m = MATCH_IS;
      else if (!strcmp (tag, "contains"))
        m = MATCH_CONTAINS;
      else if (!strcmp (tag, "matches"))
        m = MATCH_MATCHES;
      else if (!strcmp (tag, "regex"))
        m = MATCH_REGEX;
      else if (!strcmp (tag, "value"))
        m = MATCH_VALUE;
      else if (!strcmp (tag, "count"))
        m = MATCH_COUNT;
      if (m >= 0)
        {
          if (*seen & A_MATCH)
            SV_ERR (c, a->line, a->col, "match type given twice");
          *seen |= A_MATCH;
          t->match = m;
          if (m == MATCH_REGEX)
            need (c, EXT_REGEX, a->line, a->col, ":regex", "regex");
          if (m == MATCH_VALUE || m == MATCH_COUNT)
            {
              need (c, EXT_RELATIONAL, a->line, a->col, tag, "relational");
              SvString *s = tag_string (c, n, i, tag);
              if (s == NULL)
                return TRUE;
              static const char *const rels[] = { "gt", "ge", "lt", "le", "eq", "ne" };
              gboolean ok = FALSE;
              for (guint k = 0; k < 6; k++)
                if (!g_ascii_strcasecmp (s->text, rels[k]))
                  {
                    t->rel = k;
                    ok = TRUE;
                  }
              if (!ok)
                SV_ERR (c, s->line, s->col, "unknown relational operator \"%s\"", s->text);
              sv_string_free (s);
            }
          return TRUE;
        }
    }
  if (allowed & A_PART)
    {
      int p = -1;
      if (!strcmp (tag, "all"))
        p = PART_ALL;
      else if (!strcmp (tag, "localpart"))
        p = PART_LOCAL;
      else if (!strcmp (tag, "domain"))
        p = PART_DOMAIN;
      else if (!strcmp (tag, "user"))
        p = PART_USER;
      else if (!strcmp (tag, "detail"))
        p = PART_DETAIL;
      if (p >= 0)
        {
          if (*seen & A_PART)
            SV_ERR (c, a->line, a->col, "address part given twice");
          *seen |= A_PART;
          t->part = p;
          if (p == PART_USER || p == PART_DETAIL)
            need (c, EXT_SUBADDRESS, a->line, a->col, tag, "subaddress");
          return TRUE;
        }
    }
  if (allowed & A_INDEX)
    {
      if (!strcmp (tag, "index"))
        {
          guint64 v = 0;
          need (c, EXT_INDEX, a->line, a->col, ":index", "index");
          if (tag_number (c, n, i, tag, &v))
            {
              if (v == 0 || v > G_MAXINT)
                SV_ERR (c, a->line, a->col, ":index must be at least 1");
              t->index = (int) MIN (v, (guint64) G_MAXINT);
            }
          return TRUE;
        }
      if (!strcmp (tag, "last"))
        {
          need (c, EXT_INDEX, a->line, a->col, ":last", "index");
          t->last = TRUE;
          return TRUE;
        }
    }
  return FALSE;
}

static void
check_match_keys (SvCompiler *c, SvTest *t, guint line, guint col)
{
  if (t->cmp == CMP_NUMERIC && (t->match == MATCH_CONTAINS || t->match == MATCH_MATCHES || t->match == MATCH_REGEX))
    SV_ERR (c, line, col, "comparator i;ascii-numeric cannot be used with this match type");
  if (t->last && t->index == 0)
    SV_ERR (c, line, col, ":last needs :index");
  if (t->match == MATCH_REGEX && t->keys)
    for (guint i = 0; i < t->keys->n; i++)
      {
        SvString *k = t->keys->items[i];
        if (k->dynamic)
          continue;
        g_autoptr(GError) e = NULL;
        k->re = sv_regex_compile (k->text, k->len, t->cmp == CMP_CASEMAP, &c->rules->limits, &e);
        if (k->re == NULL)
          SV_ERR (c, k->line, k->col, "%s", e->message);
      }
}

static SvTest *compile_test (SvCompiler *c, SvNode *n);

static SvTest *
compile_test (SvCompiler *c, SvNode *n)
{
  enum { A_CMP = 1, A_MATCH = 2, A_PART = 4, A_INDEX = 8 };
  SvTest *t = g_new0 (SvTest, 1);
  t->line = n->line;
  t->col = n->col;
  t->cmp = CMP_CASEMAP;
  t->match = MATCH_IS;
  const char *name = n->name;
  guint allowed = 0;
  gboolean takes_tests = FALSE;
  if (!strcmp (name, "true"))
    t->kind = T_TRUE;
  else if (!strcmp (name, "false"))
    t->kind = T_FALSE;
  else if (!strcmp (name, "not"))
    t->kind = T_NOT, takes_tests = TRUE;
  else if (!strcmp (name, "allof"))
    t->kind = T_ALLOF, takes_tests = TRUE;
  else if (!strcmp (name, "anyof"))
    t->kind = T_ANYOF, takes_tests = TRUE;
  else if (!strcmp (name, "address"))
    t->kind = T_ADDRESS, allowed = A_CMP | A_MATCH | A_PART | A_INDEX;
  else if (!strcmp (name, "envelope"))
    {
      t->kind = T_ENVELOPE, allowed = A_CMP | A_MATCH | A_PART;
      need (c, EXT_ENVELOPE, n->line, n->col, "envelope", "envelope");
    }
  else if (!strcmp (name, "header"))
    t->kind = T_HEADER, allowed = A_CMP | A_MATCH | A_INDEX;
  else if (!strcmp (name, "exists"))
    t->kind = T_EXISTS;
  else if (!strcmp (name, "size"))
    t->kind = T_SIZE;
  else if (!strcmp (name, "string"))
    {
      t->kind = T_STRING, allowed = A_CMP | A_MATCH;
      need (c, EXT_VARIABLES, n->line, n->col, "string", "variables");
    }
  else if (!strcmp (name, "body"))
    {
      t->kind = T_BODY, allowed = A_CMP | A_MATCH;
      need (c, EXT_BODY, n->line, n->col, "body", "body");
    }
  else if (!strcmp (name, "date"))
    {
      t->kind = T_DATE, allowed = A_CMP | A_MATCH | A_INDEX;
      need (c, EXT_DATE, n->line, n->col, "date", "date");
    }
  else if (!strcmp (name, "currentdate"))
    {
      t->kind = T_CURRENTDATE, allowed = A_CMP | A_MATCH;
      need (c, EXT_DATE, n->line, n->col, "currentdate", "date");
    }
  else if (!strcmp (name, "hasflag"))
    {
      t->kind = T_HASFLAG, allowed = A_CMP | A_MATCH;
      need (c, EXT_IMAP4FLAGS, n->line, n->col, "hasflag", "imap4flags");
    }
  else if (!strcmp (name, "duplicate"))
    {
      t->kind = T_DUPLICATE;
      need (c, EXT_DUPLICATE, n->line, n->col, "duplicate", "duplicate");
    }
  else if (!strcmp (name, "followup"))
    {
      t->kind = T_FOLLOWUP;
      need (c, EXT_TICKET, n->line, n->col, "followup", "vnd.relaydesk.ticket");
    }
  else
    {
      SV_ERR (c, n->line, n->col, "unknown test '%s'", name);
      sv_test_free (t);
      return NULL;
    }

  guint seen = 0, i = 0;
  for (; i < n->args->len; i++)
    {
      SvArg *a = g_ptr_array_index (n->args, i);
      if (a->kind != SV_ARG_TAG)
        break;
      if (allowed && common_tag (c, n, &i, t, allowed, &seen))
        continue;
      if (t->kind == T_SIZE && (!strcmp (a->tag, "over") || !strcmp (a->tag, "under")))
        {
          if (seen & 16)
            SV_ERR (c, a->line, a->col, "size: :over or :under given twice");
          seen |= 16;
          t->over = a->tag[0] == 'o';
          if (!tag_number (c, n, &i, a->tag, &t->size))
            continue;
          continue;
        }
      if (t->kind == T_BODY && (!strcmp (a->tag, "raw") || !strcmp (a->tag, "text") || !strcmp (a->tag, "content")))
        {
          if (seen & 32)
            SV_ERR (c, a->line, a->col, "body: transform given twice");
          seen |= 32;
          if (a->tag[0] == 'r')
            t->body = BODY_RAW;
          else if (a->tag[0] == 't')
            t->body = BODY_TEXT;
          else
            {
              t->body = BODY_CONTENT;
              t->content = tag_strlist (c, n, &i, a->tag);
            }
          continue;
        }
      if ((t->kind == T_DATE || t->kind == T_CURRENTDATE) && !strcmp (a->tag, "zone"))
        {
          sv_string_free (t->zone);
          t->zone = tag_string (c, n, &i, a->tag);
          if (t->zone && !t->zone->dynamic)
            {
              const char *z = t->zone->text;
              if (!((z[0] == '+' || z[0] == '-') && strlen (z) == 5 && g_ascii_isdigit (z[1]) && g_ascii_isdigit (z[2])
                    && g_ascii_isdigit (z[3]) && g_ascii_isdigit (z[4])))
                SV_ERR (c, t->zone->line, t->zone->col, "bad :zone \"%s\" (expected +hhmm or -hhmm)", z);
            }
          continue;
        }
      if (t->kind == T_DATE && !strcmp (a->tag, "originalzone"))
        {
          t->originalzone = TRUE;
          continue;
        }
      if (t->kind == T_DUPLICATE)
        {
          if (!strcmp (a->tag, "handle"))
            {
              sv_string_free (t->handle);
              t->handle = tag_string (c, n, &i, a->tag);
              continue;
            }
          if (!strcmp (a->tag, "header"))
            {
              sv_string_free (t->dup_header);
              t->dup_header = tag_string (c, n, &i, a->tag);
              continue;
            }
          if (!strcmp (a->tag, "uniqueid"))
            {
              sv_string_free (t->uniqueid);
              t->uniqueid = tag_string (c, n, &i, a->tag);
              continue;
            }
          if (!strcmp (a->tag, "seconds"))
            {
              t->has_seconds = tag_number (c, n, &i, a->tag, &t->seconds);
              continue;
            }
          if (!strcmp (a->tag, "last"))
            {
              t->last = TRUE;
              continue;
            }
        }
      SV_ERR (c, a->line, a->col, "%s: unknown tag :%s", name, a->tag);
    }
  Pos p = positional (n, i);
  for (guint k = 0; k < p.n; k++)
    if (p.v[k]->kind == SV_ARG_TAG)
      SV_ERR (c, p.v[k]->line, p.v[k]->col, "%s: tag :%s after positional arguments", name, p.v[k]->tag);

  if (takes_tests)
    {
      if (p.n)
        SV_ERR (c, p.v[0]->line, p.v[0]->col, "%s takes no arguments", name);
      if (t->kind == T_NOT && (n->tests->len != 1 || n->test_list))
        SV_ERR (c, n->line, n->col, "not takes exactly one test");
      if (t->kind != T_NOT && !n->test_list)
        SV_ERR (c, n->line, n->col, "%s takes a test list in parentheses", name);
      if (t->kind != T_NOT && n->tests->len == 0)
        SV_ERR (c, n->line, n->col, "%s needs at least one test", name);
      t->n_children = n->tests->len;
      t->children = g_new0 (SvTest *, t->n_children ? t->n_children : 1);
      for (guint k = 0; k < n->tests->len; k++)
        t->children[k] = compile_test (c, g_ptr_array_index (n->tests, k));
      return t;
    }
  if (n->tests->len)
    SV_ERR (c, n->line, n->col, "%s does not take tests", name);

  switch (t->kind)
    {
    case T_TRUE:
    case T_FALSE:
    case T_FOLLOWUP:
      want_count (c, n, &p, 0);
      break;
    case T_ADDRESS:
    case T_HEADER:
    case T_ENVELOPE:
    case T_STRING:
      if (want_strings (c, n, &p, 0, t->kind == T_STRING ? "source strings" : "header names", FALSE)
          && want_strings (c, n, &p, 1, "key list", FALSE) && want_count (c, n, &p, 2))
        {
          t->headers = sv_strlist_new (c, p.v[0]);
          t->keys = sv_strlist_new (c, p.v[1]);
          if (t->kind == T_ENVELOPE)
            for (guint k = 0; k < t->headers->n; k++)
              {
                SvString *h = t->headers->items[k];
                if (!h->dynamic && g_ascii_strcasecmp (h->text, "from") && g_ascii_strcasecmp (h->text, "to"))
                  SV_ERR (c, h->line, h->col, "envelope: unknown envelope part \"%s\" (from or to)", h->text);
              }
          if (t->kind == T_ADDRESS || t->kind == T_HEADER)
            for (guint k = 0; k < t->headers->n; k++)
              {
                SvString *h = t->headers->items[k];
                for (gsize q = 0; q < h->len && !h->dynamic; q++)
                  if ((guchar) h->text[q] <= ' ' || h->text[q] == ':' || (guchar) h->text[q] >= 127)
                    {
                      SV_ERR (c, h->line, h->col, "%s: invalid header name \"%s\"", name, h->text);
                      break;
                    }
              }
          check_match_keys (c, t, n->line, n->col);
        }
      break;
    case T_EXISTS:
      if (want_strings (c, n, &p, 0, "header names", FALSE) && want_count (c, n, &p, 1))
        t->headers = sv_strlist_new (c, p.v[0]);
      break;
    case T_SIZE:
      if (!(seen & 16))
        SV_ERR (c, n->line, n->col, "size needs :over or :under");
      want_count (c, n, &p, 0);
      break;
    case T_BODY:
      if (want_strings (c, n, &p, 0, "key list", FALSE) && want_count (c, n, &p, 1))
        {
          t->keys = sv_strlist_new (c, p.v[0]);
          check_match_keys (c, t, n->line, n->col);
        }
      break;
    case T_DATE:
    case T_CURRENTDATE:
      {
        guint k = 0;
        if (t->kind == T_DATE)
          {
            if (!want_strings (c, n, &p, k, "a header name", TRUE))
              break;
            t->headers = sv_strlist_new (c, p.v[k++]);
          }
        if (!want_strings (c, n, &p, k, "a date part", TRUE))
          break;
        t->datepart = sv_string_new (c, g_ptr_array_index (p.v[k]->strs, 0));
        k++;
        static const char *const parts[] = { "year", "month", "day", "date", "julian", "hour", "minute", "second",
                                             "time", "iso8601", "std11", "zone", "weekday", NULL };
        if (!t->datepart->dynamic && !g_strv_contains (parts, t->datepart->text))
          {
            g_autofree char *lower = g_ascii_strdown (t->datepart->text, -1);
            if (!g_strv_contains (parts, lower))
              SV_ERR (c, t->datepart->line, t->datepart->col, "unknown date part \"%s\"", t->datepart->text);
          }
        if (!want_strings (c, n, &p, k, "key list", FALSE) || !want_count (c, n, &p, k + 1))
          break;
        t->keys = sv_strlist_new (c, p.v[k]);
        if (t->zone && t->originalzone)
          SV_ERR (c, n->line, n->col, "date: :zone and :originalzone together");
        check_match_keys (c, t, n->line, n->col);
        break;
      }
    case T_HASFLAG:
      if (p.n == 2)
        {
          if (!want_strings (c, n, &p, 0, "variable names", FALSE))
            break;
          need (c, EXT_VARIABLES, n->line, n->col, "hasflag with variables", "variables");
          t->headers = sv_strlist_new (c, p.v[0]);
          t->n_flag_vars = t->headers->n;
          t->flag_vars = g_new0 (int, t->n_flag_vars ? t->n_flag_vars : 1);
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
              t->flag_vars[k] = sv_var_slot (c, l);
            }
          if (want_strings (c, n, &p, 1, "key list", FALSE))
            t->keys = sv_strlist_new (c, p.v[1]);
        }
      else if (want_strings (c, n, &p, 0, "key list", FALSE) && want_count (c, n, &p, 1))
        t->keys = sv_strlist_new (c, p.v[0]);
      if (t->keys)
        check_match_keys (c, t, n->line, n->col);
      break;
    case T_DUPLICATE:
      want_count (c, n, &p, 0);
      if (t->dup_header && t->uniqueid)
        SV_ERR (c, n->line, n->col, "duplicate: :header and :uniqueid together");
      break;
    default:
      break;
    }
  return t;
}

static SvBlock *compile_block (SvCompiler *c, GPtrArray *nodes);

static gboolean
compile_flags_tag (SvCompiler *c, SvNode *n, guint *i, SvCmd *cmd)
{
  SvArg *a = g_ptr_array_index (n->args, *i);
  need (c, EXT_IMAP4FLAGS, a->line, a->col, ":flags", "imap4flags");
  sv_strlist_free (cmd->flags);
  cmd->flags = tag_strlist (c, n, i, "flags");
  return TRUE;
}

static gboolean
ticket_value_ok (const char *v, const char *const *allowed)
{
  return g_strv_contains (allowed, v);
}

static const char *const priorities[] = { "low", "normal", "high", "urgent", NULL };
static const char *const statuses[] = { "new", "open", "pending", "resolved", "closed", NULL };

gboolean sv_ticket_priority_ok (const char *v) { return ticket_value_ok (v, priorities); }
gboolean sv_ticket_status_ok (const char *v) { return ticket_value_ok (v, statuses); }

static guint compile_include (SvCompiler *c, const char *name, gboolean global, guint line, guint col, gboolean optional,
                              gboolean *missing);

static SvCmd *
compile_command (SvCompiler *c, SvNode *n, SvNode *prev)
{
  SvCmd *cmd = g_new0 (SvCmd, 1);
  cmd->line = n->line;
  cmd->col = n->col;
  cmd->flag_var = G_MININT;
  const char *name = n->name;

  if (!strcmp (name, "require"))
    {
      cmd->kind = C_NOP;
      if (c->seen_command)
        SV_ERR (c, n->line, n->col, "require must come before any other command");
      Pos p = positional (n, 0);
      if (n->block || n->tests->len || !want_strings (c, n, &p, 0, "capability list", FALSE) || !want_count (c, n, &p, 1))
        {
          if (n->block || n->tests->len)
            SV_ERR (c, n->line, n->col, "require takes a string list only");
          return cmd;
        }
      SvArg *a = p.v[0];
      for (guint k = 0; k < a->strs->len; k++)
        {
          SvRawStr *s = g_ptr_array_index (a->strs, k);
          const SvCapability *cap = NULL;
          for (const SvCapability *q = sv_capabilities; q->name; q++)
            if (!strcmp (q->name, s->text))
              cap = q;
          if (cap && c->opts && c->opts->extensions && cap->ext != EXT_OCTET && cap->ext != EXT_CASEMAP
              && !g_strv_contains (c->opts->extensions, cap->name))
            cap = NULL;
          if (cap == NULL)
            {
              SV_ERR (c, s->line, s->col, "unsupported extension \"%s\"", s->text);
              continue;
            }
          if ((c->script->exts & cap->ext) == cap->ext && cap->ext != (EXT_VACATION_SECONDS | EXT_VACATION))
            SV_WARN (c, s->line, s->col, "extension \"%s\" required twice", s->text);
          c->script->exts |= cap->ext;
        }
      return cmd;
    }
  c->seen_command = TRUE;

  if (!strcmp (name, "if") || !strcmp (name, "elsif") || !strcmp (name, "else"))
    {
      gboolean is_else = !strcmp (name, "else");
      if (name[0] == 'e' && (prev == NULL || (strcmp (prev->name, "if") && strcmp (prev->name, "elsif"))))
        SV_ERR (c, n->line, n->col, "%s without a preceding if", name);
      if (n->args->len)
        SV_ERR (c, n->line, n->col, "%s takes no arguments besides the test", name);
      if (!is_else && (n->tests->len != 1 || n->test_list))
        SV_ERR (c, n->line, n->col, "%s needs exactly one test", name);
      if (is_else && n->tests->len)
        SV_ERR (c, n->line, n->col, "else takes no test");
      if (n->block == NULL)
        SV_ERR (c, n->line, n->col, "%s needs a block", name);
      cmd->kind = C_IF;
      cmd->n_branches = 1;
      cmd->tests = g_new0 (SvTest *, 1);
      cmd->blocks = g_new0 (SvBlock *, 1);
      if (!is_else && n->tests->len == 1)
        cmd->tests[0] = compile_test (c, g_ptr_array_index (n->tests, 0));
      else if (!is_else)
        {
          cmd->tests[0] = g_new0 (SvTest, 1);
          cmd->tests[0]->kind = T_FALSE;
        }
      c->nesting++;
      cmd->blocks[0] = n->block ? compile_block (c, n->block) : g_new0 (SvBlock, 1);
      c->nesting--;
      return cmd;
    }

  if (n->block)
    SV_ERR (c, n->line, n->col, "%s does not take a block", name);
  if (n->tests->len)
    SV_ERR (c, n->line, n->col, "%s does not take a test", name);

  if (!strcmp (name, "stop"))
    cmd->kind = C_STOP;
  else if (!strcmp (name, "keep"))
    cmd->kind = C_KEEP;
  else if (!strcmp (name, "discard"))
    cmd->kind = C_DISCARD;
  else if (!strcmp (name, "fileinto"))
    {
      cmd->kind = C_FILEINTO;
      need (c, EXT_FILEINTO, n->line, n->col, "fileinto", "fileinto");
    }
  else if (!strcmp (name, "redirect"))
    cmd->kind = C_REDIRECT;
  else if (!strcmp (name, "reject"))
    {
      cmd->kind = C_REJECT;
      need (c, EXT_REJECT, n->line, n->col, "reject", "reject");
    }
  else if (!strcmp (name, "vacation"))
    {
      cmd->kind = C_VACATION;
      cmd->period = 7 * 86400;
      need (c, EXT_VACATION, n->line, n->col, "vacation", "vacation");
    }
  else if (!strcmp (name, "set"))
    {
      cmd->kind = C_SET;
      need (c, EXT_VARIABLES, n->line, n->col, "set", "variables");
    }
  else if (!strcmp (name, "setflag") || !strcmp (name, "addflag") || !strcmp (name, "removeflag"))
    {
      cmd->kind = name[0] == 's' ? C_SETFLAG : name[0] == 'a' ? C_ADDFLAG : C_REMOVEFLAG;
      need (c, EXT_IMAP4FLAGS, n->line, n->col, name, "imap4flags");
    }
  else if (!strcmp (name, "include"))
    {
      cmd->kind = C_INCLUDE;
      need (c, EXT_INCLUDE, n->line, n->col, "include", "include");
    }
  else if (!strcmp (name, "return"))
    {
      cmd->kind = C_RETURN;
      need (c, EXT_INCLUDE, n->line, n->col, "return", "include");
    }
  else if (!strcmp (name, "global"))
    {
      cmd->kind = C_GLOBAL;
      need (c, EXT_INCLUDE, n->line, n->col, "global", "include");
      need (c, EXT_VARIABLES, n->line, n->col, "global", "variables");
    }
  else if (!strcmp (name, "ticket"))
    {
      cmd->kind = C_TICKET;
      need (c, EXT_TICKET, n->line, n->col, "ticket", "vnd.relaydesk.ticket");
    }
  else
    {
      SV_ERR (c, n->line, n->col, "unknown command '%s'", name);
      cmd->kind = C_NOP;
      return cmd;
    }

  gboolean global_inc = FALSE, seen_loc = FALSE, seen_period = FALSE;
  guint i = 0;
  for (; i < n->args->len; i++)
    {
      SvArg *a = g_ptr_array_index (n->args, i);
      if (a->kind != SV_ARG_TAG)
        break;
      const char *tag = a->tag;
      switch (cmd->kind)
        {
        case C_KEEP:
          if (!strcmp (tag, "flags") && compile_flags_tag (c, n, &i, cmd))
            continue;
          break;
        case C_FILEINTO:
          if (!strcmp (tag, "flags") && compile_flags_tag (c, n, &i, cmd))
            continue;
          /* fall through */
        case C_REDIRECT:
          if (!strcmp (tag, "copy"))
            {
              need (c, EXT_COPY, a->line, a->col, ":copy", "copy");
              cmd->copy = TRUE;
              continue;
            }
          break;
        case C_VACATION:
          if (!strcmp (tag, "days") || !strcmp (tag, "seconds"))
            {
              guint64 v = 0;
              if (tag[0] == 's')
                need (c, EXT_VACATION_SECONDS, a->line, a->col, ":seconds", "vacation-seconds");
              if (seen_period)
                SV_ERR (c, a->line, a->col, "vacation: :days or :seconds given twice");
              seen_period = TRUE;
              if (tag_number (c, n, &i, tag, &v))
                {
                  /* RFC 5230 4.1: at least 1 day; RFC 6131: 0 seconds allowed. */
                  if (tag[0] == 'd')
                    cmd->period = (gint64) MIN (MAX (v, 1), (guint64) 3650) * 86400;
                  else
                    cmd->period = (gint64) MIN (v, (guint64) 3650 * 86400);
                }
              continue;
            }
          if (!strcmp (tag, "subject"))
            {
              sv_string_free (cmd->subject);
              cmd->subject = tag_string (c, n, &i, tag);
              continue;
            }
          if (!strcmp (tag, "from"))
            {
              sv_string_free (cmd->from);
              cmd->from = tag_string (c, n, &i, tag);
              if (cmd->from && !cmd->from->dynamic)
                {
                  g_autofree char *addr = sv_address_extract (cmd->from->text, cmd->from->len);
                  if (addr == NULL)
                    SV_ERR (c, cmd->from->line, cmd->from->col, "vacation: invalid :from address \"%s\"", cmd->from->text);
                }
              continue;
            }
          if (!strcmp (tag, "addresses"))
            {
              sv_strlist_free (cmd->addresses);
              cmd->addresses = tag_strlist (c, n, &i, tag);
              continue;
            }
          if (!strcmp (tag, "mime"))
            {
              cmd->mime = TRUE;
              continue;
            }
          if (!strcmp (tag, "handle"))
            {
              sv_string_free (cmd->handle);
              cmd->handle = tag_string (c, n, &i, tag);
              continue;
            }
          break;
        case C_SET:
          {
            static const struct { const char *n; guint bit; } mods[] = {
              { "lower", SET_LOWER }, { "upper", SET_UPPER }, { "lowerfirst", SET_LOWERFIRST },
              { "upperfirst", SET_UPPERFIRST }, { "quotewildcard", SET_QUOTEWILDCARD },
              { "quoteregex", SET_QUOTEREGEX }, { "length", SET_LENGTH },
            };
            gboolean found = FALSE;
            for (guint k = 0; k < G_N_ELEMENTS (mods); k++)
              if (!strcmp (tag, mods[k].n))
                {
                  found = TRUE;
                  if (mods[k].bit == SET_QUOTEREGEX)
                    need (c, EXT_REGEX, a->line, a->col, ":quoteregex", "regex");
                  guint same = (SET_LOWER | SET_UPPER);
                  guint same2 = (SET_LOWERFIRST | SET_UPPERFIRST);
                  if ((cmd->modifiers & mods[k].bit)
                      || ((mods[k].bit & same) && (cmd->modifiers & same))
                      || ((mods[k].bit & same2) && (cmd->modifiers & same2)))
                    SV_ERR (c, a->line, a->col, "set: conflicting modifier :%s", tag);
                  cmd->modifiers |= mods[k].bit;
                }
            if (found)
              continue;
            break;
          }
        case C_INCLUDE:
          if (!strcmp (tag, "personal") || !strcmp (tag, "global"))
            {
              if (seen_loc)
                SV_ERR (c, a->line, a->col, "include: location given twice");
              seen_loc = TRUE;
              global_inc = tag[0] == 'g';
              continue;
            }
          if (!strcmp (tag, "once"))
            {
              cmd->once = TRUE;
              continue;
            }
          if (!strcmp (tag, "optional"))
            {
              cmd->optional = TRUE;
              continue;
            }
          break;
        case C_TICKET:
          if (!strcmp (tag, "priority") || !strcmp (tag, "assign") || !strcmp (tag, "status"))
            {
              SvString *s = tag_string (c, n, &i, tag);
              if (s == NULL)
                continue;
              SvString **slot = tag[0] == 'p' ? &cmd->priority : tag[0] == 'a' ? &cmd->assign : &cmd->status;
              if (*slot)
                SV_ERR (c, a->line, a->col, "ticket: :%s given twice", tag);
              sv_string_free (*slot);
              *slot = s;
              if (!s->dynamic && tag[0] == 'p' && !sv_ticket_priority_ok (s->text))
                SV_ERR (c, s->line, s->col, "ticket: :priority must be low, normal, high or urgent");
              if (!s->dynamic && tag[0] == 's' && !sv_ticket_status_ok (s->text))
                SV_ERR (c, s->line, s->col, "ticket: :status must be new, open, pending, resolved or closed");
              if (!s->dynamic && tag[0] == 'a' && s->len == 0)
                SV_ERR (c, s->line, s->col, "ticket: :assign needs an agent name");
              continue;
            }
          if (!strcmp (tag, "tags"))
            {
              sv_strlist_free (cmd->tags);
              cmd->tags = tag_strlist (c, n, &i, tag);
              continue;
            }
          break;
        default:
          break;
        }
      SV_ERR (c, a->line, a->col, "%s: unknown tag :%s", name, tag);
    }
  Pos p = positional (n, i);
  for (guint k = 0; k < p.n; k++)
    if (p.v[k]->kind == SV_ARG_TAG)
      SV_ERR (c, p.v[k]->line, p.v[k]->col, "%s: tag :%s after positional arguments", name, p.v[k]->tag);

  switch (cmd->kind)
    {
    case C_STOP:
    case C_KEEP:
    case C_DISCARD:
    case C_RETURN:
      want_count (c, n, &p, 0);
      break;
    case C_FILEINTO:
    case C_REDIRECT:
    case C_REJECT:
    case C_VACATION:
    case C_INCLUDE:
      if (want_strings (c, n, &p, 0, cmd->kind == C_FILEINTO ? "a mailbox" : cmd->kind == C_REDIRECT ? "an address"
                        : cmd->kind == C_INCLUDE ? "a script name" : "a reason", TRUE)
          && want_count (c, n, &p, 1))
        {
          cmd->arg = sv_string_new (c, g_ptr_array_index (p.v[0]->strs, 0));
          if (cmd->kind == C_REDIRECT && !cmd->arg->dynamic)
            {
              g_autofree char *addr = sv_address_extract (cmd->arg->text, cmd->arg->len);
              if (addr == NULL)
                SV_ERR (c, cmd->arg->line, cmd->arg->col, "redirect: invalid address \"%s\"", cmd->arg->text);
            }
          if (cmd->kind == C_FILEINTO && !cmd->arg->dynamic && cmd->arg->len == 0)
            SV_ERR (c, cmd->arg->line, cmd->arg->col, "fileinto: empty mailbox name");
          if (cmd->kind == C_INCLUDE)
            {
              if (cmd->arg->dynamic)
                SV_ERR (c, cmd->arg->line, cmd->arg->col, "include: the script name must be a constant");
              else if (cmd->arg->len == 0 || strchr (cmd->arg->text, '/') || cmd->arg->text[0] == '.')
                SV_ERR (c, cmd->arg->line, cmd->arg->col, "include: invalid script name \"%s\"", cmd->arg->text);
              else
                {
                  gboolean missing = FALSE;
                  cmd->script = compile_include (c, cmd->arg->text, global_inc, cmd->arg->line, cmd->arg->col,
                                                 cmd->optional, &missing);
                  if (missing)
                    cmd->kind = C_NOP;
                }
            }
        }
      break;
    case C_SET:
      if (want_strings (c, n, &p, 0, "a variable name", TRUE) && want_strings (c, n, &p, 1, "a value", TRUE)
          && want_count (c, n, &p, 2))
        {
          SvRawStr *nm = g_ptr_array_index (p.v[0]->strs, 0);
          gboolean numeric = FALSE;
          if (!sv_var_name_ok (nm->text, nm->len, &numeric) || numeric
              || (strchr (nm->text, '.') && !g_str_has_prefix (nm->text, "global.")))
            SV_ERR (c, nm->line, nm->col, "set: invalid variable name \"%s\"", nm->text);
          else
            {
              g_autofree char *l = g_ascii_strdown (nm->text, -1);
              cmd->var = sv_var_slot (c, l);
              if (cmd->var == G_MININT)
                SV_ERR (c, nm->line, nm->col, "too many variables");
            }
          cmd->arg = sv_string_new (c, g_ptr_array_index (p.v[1]->strs, 0));
        }
      break;
    case C_SETFLAG:
    case C_ADDFLAG:
    case C_REMOVEFLAG:
      if (p.n == 2)
        {
          if (!want_strings (c, n, &p, 0, "a variable name", TRUE))
            break;
          need (c, EXT_VARIABLES, n->line, n->col, "a flag variable", "variables");
          SvRawStr *nm = g_ptr_array_index (p.v[0]->strs, 0);
          gboolean numeric = FALSE;
          if (!sv_var_name_ok (nm->text, nm->len, &numeric) || numeric)
            SV_ERR (c, nm->line, nm->col, "%s: invalid variable name \"%s\"", name, nm->text);
          else
            {
              g_autofree char *l = g_ascii_strdown (nm->text, -1);
              cmd->flag_var = sv_var_slot (c, l);
            }
          if (want_strings (c, n, &p, 1, "a flag list", FALSE))
            cmd->flags = sv_strlist_new (c, p.v[1]);
        }
      else if (want_strings (c, n, &p, 0, "a flag list", FALSE) && want_count (c, n, &p, 1))
        cmd->flags = sv_strlist_new (c, p.v[0]);
      break;
    case C_GLOBAL:
      if (want_strings (c, n, &p, 0, "variable names", FALSE) && want_count (c, n, &p, 1))
        for (guint k = 0; k < p.v[0]->strs->len; k++)
          {
            SvRawStr *nm = g_ptr_array_index (p.v[0]->strs, k);
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
      cmd->kind = C_NOP;
      break;
    case C_TICKET:
      want_count (c, n, &p, 0);
      if (!cmd->priority && !cmd->assign && !cmd->status && !cmd->tags)
        SV_WARN (c, n->line, n->col, "ticket without arguments does nothing");
      break;
    default:
      break;
    }
  return cmd;
}

static SvBlock *
compile_block (SvCompiler *c, GPtrArray *nodes)
{
  SvBlock *b = g_new0 (SvBlock, 1);
  b->cmds = g_new0 (SvCmd *, nodes->len ? nodes->len : 1);
  SvNode *prev = NULL;
  gboolean after_stop = FALSE;
  for (guint i = 0; i < nodes->len; i++)
    {
      SvNode *n = g_ptr_array_index (nodes, i);
      if (after_stop)
        {
          SV_WARN (c, n->line, n->col, "'%s' is never reached (after stop)", n->name);
          after_stop = FALSE;
        }
      SvCmd *cmd = compile_command (c, n, prev);
      if (cmd->kind == C_STOP)
        after_stop = TRUE;
      /* Fold elsif/else into the preceding if. */
      if (cmd->kind == C_IF && (!strcmp (n->name, "elsif") || !strcmp (n->name, "else")) && b->n > 0
          && b->cmds[b->n - 1]->kind == C_IF && prev && strcmp (prev->name, "else"))
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
      prev = n;
    }
  return b;
}

/* Compiles @text as script @name into c->rules->scripts; returns its index. */
static guint
compile_script (SvCompiler *parent, const char *file, const char *name, const char *text, gsize len,
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
          c.script->body = compile_block (&c, nodes);
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
  guint index = compile_script (c, file, name, text, len, c->opts, c->diags, c->rules, c->include_depth + 1,
                                c->includes, c->in_progress, &sub);
  g_clear_error (&sub.first);   /* the parent kept its own first error */
  g_hash_table_remove (c->in_progress, key);
  g_hash_table_insert (c->includes, g_strdup (key), GUINT_TO_POINTER (index + 1));
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
  compile_script (NULL, file, file, text, len, options, diagnostics, rules, 0, includes, in_progress, &c);
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
