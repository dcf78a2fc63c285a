/* relaydesk — parser: address lists (RFC 5322 section 3.4, with the
 * obsolete forms of section 4.4 and RFC 6532 UTF-8).
 *
 * Read the way the corpus reference (Python's email package) reads them,
 * because that is what mail clients show: the display name is the phrase
 * before <...> with quoted strings unquoted and RFC 2047 words decoded;
 * a comment is never a name ("joe@x (Joe)" has no name); groups are
 * flattened ("undisclosed-recipients:;" gives nothing); an empty <> is
 * the address "<>"; a local part that needs quoting is quoted. Raw 8-bit
 * bytes are read as UTF-8 (else windows-1252). Bounded: at most
 * MAX_MAILBOXES mailboxes per list.
 */
#include "parser-private.h"

#include <string.h>

#define MAX_MAILBOXES 10000

typedef enum { T_WS, T_COMMENT, T_QSTRING, T_ATOM, T_SPECIAL, T_LITERAL } TokType;

typedef struct {
  TokType type;
  char *text;   /* atom text, unquoted string content, literal with brackets, special char */
} Tok;

static void
tok_clear (gpointer p)
{
  g_free (((Tok *) p)->text);
}

static gboolean
is_special (char c)
{
  return c == '<' || c == '>' || c == '@' || c == ',' || c == ':' || c == ';' || c == '.' || c == '[' || c == ']';
}

/* An encoded word longer than this is not taken as one (RFC 2047 says
 * 75; senders exceed it). Also keeps every scan for one bounded, so a
 * header full of "=?" costs linear time. */
#define EW_MAX 400

/* The first "?=" in [p, p + max) not past the end of the string, or NULL. */
static const char *
find_ew_end (const char *p, gsize max)
{
  for (gsize i = 0; i < max && p[i]; i++)
    if (p[i] == '?' && p[i + 1] == '=')
      return p + i;
  return NULL;
}

/* Length of "=?charset?X?text?=" at @p (text may hold blanks), or 0. */
static gsize
ew_span (const char *p)
{
  const char *q = p + 2;
  while (*q && *q != '?' && *q != ' ' && *q != '\t' && q - p < EW_MAX)
    q++;
  if (*q != '?' || q[1] == '\0' || !strchr ("bBqQ", q[1]) || q[2] != '?')
    return 0;
  const char *e = find_ew_end (q + 3, EW_MAX);
  if (e == NULL || e - p > EW_MAX || memchr (q + 3, '\n', (gsize) (e - (q + 3))) != NULL)
    return 0;
  return (gsize) (e + 2 - p);
}

static GArray *
tokenize (const char *s)
{
  GArray *toks = g_array_new (FALSE, TRUE, sizeof (Tok));
  g_array_set_clear_func (toks, tok_clear);
  const char *p = s;
  while (*p && toks->len < 100000)
    {
      Tok t = { 0 };
      if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        {
          while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
          t.type = T_WS;
        }
      else if (*p == '(')
        {
          int depth = 0;
          do
            {
              if (*p == '\\' && p[1])
                p++;
              else if (*p == '(')
                depth++;
              else if (*p == ')')
                depth--;
              p++;
            }
          while (*p && depth > 0);
          t.type = T_COMMENT;
        }
      else if (*p == '"')
        {
          GString *q = g_string_new (NULL);
          p++;
          while (*p && *p != '"')
            {
              if (*p == '\\' && p[1])
                p++;
              g_string_append_c (q, *p++);
            }
          if (*p == '"')
            p++;
          t.type = T_QSTRING;
          t.text = g_string_free (q, FALSE);
        }
      else if (*p == '[')
        {
          const char *e = strchr (p, ']');
          gsize n = e ? (gsize) (e - p) + 1 : strlen (p);
          t.type = T_LITERAL;
          t.text = g_strndup (p, n);
          p += n;
        }
      else if (is_special (*p) || *p == ')')
        {
          t.type = T_SPECIAL;
          t.text = g_strndup (p, 1);
          p++;
        }
      else if (p[0] == '=' && p[1] == '?' && ew_span (p) > 0)
        {
          /* an RFC 2047 word, blanks and quotes inside allowed */
          gsize n = ew_span (p);
          t.type = T_ATOM;
          t.text = g_strndup (p, n);
          p += n;
        }
      else
        {
          const char *b = p;
          while (*p && !is_special (*p) && *p != ' ' && *p != '\t' && *p != '"' && *p != '(' && *p != ')'
                 && *p != '\r' && *p != '\n')
            {
              /* an RFC 2047 word may contain specials ("=?x?q?a.b?=") */
              if (p[0] == '=' && p[1] == '?')
                {
                  const char *end = find_ew_end (p + 2, EW_MAX);
                  const char *sp = end ? memchr (p + 2, ' ', (gsize) (end - (p + 2))) : NULL;
                  if (sp == NULL && end)
                    sp = memchr (p + 2, '\t', (gsize) (end - (p + 2)));
                  if (end && !sp)
                    {
                      int qs = 0;
                      for (const char *c = p + 2; c < end; c++)
                        qs += *c == '?';
                      if (qs >= 2)
                        {
                          p = end + 2;
                          continue;
                        }
                    }
                }
              p++;
            }
          t.type = T_ATOM;
          t.text = g_strndup (b, p - b);
        }
      g_array_append_val (toks, t);
    }
  return toks;
}

static gboolean
is_sp (const Tok *t, char c)
{
  return t->type == T_SPECIAL && t->text[0] == c;
}

/* The display name: atoms, quoted strings and dots, with whitespace and
 * comments as single spaces, RFC 2047 words decoded. */
static char *
phrase (GArray *toks, guint from, guint to)
{
  GString *raw = g_string_new (NULL);
  gboolean space = FALSE;
  for (guint i = from; i < to; i++)
    {
      Tok *t = &g_array_index (toks, Tok, i);
      if (t->type == T_WS || t->type == T_COMMENT)
        {
          space = TRUE;
          continue;
        }
      if (space && raw->len)
        g_string_append_c (raw, ' ');
      space = FALSE;
      if (t->text)
        g_string_append (raw, t->text);
    }
  char *decoded = rd_decode_phrase (raw->str);
  g_string_free (raw, TRUE);
  g_strstrip (decoded);
  return decoded;
}

static gboolean
needs_quoting (const char *lp)
{
  for (const char *c = lp; *c; c++)
    if (strchr ("()<>@,:;\\\"[] \t", *c))
      return TRUE;
  return FALSE;
}

/* addr-spec from tokens (whitespace and comments dropped). */
static char *
addr_spec (GArray *toks, guint from, guint to)
{
  /* A route ("@a,@b:") before the address is obsolete syntax: skip it. */
  for (guint i = from; i < to; i++)
    if (is_sp (&g_array_index (toks, Tok, i), ':'))
      {
        guint j = from;
        while (j < to && (g_array_index (toks, Tok, j).type == T_WS))
          j++;
        if (j < to && is_sp (&g_array_index (toks, Tok, j), '@'))
          from = i + 1;
        break;
      }
  int at = -1;
  for (guint i = from; i < to; i++)
    if (is_sp (&g_array_index (toks, Tok, i), '@'))
      at = (int) i;
  GString *lp = g_string_new (NULL);
  GString *dom = g_string_new (NULL);
  for (guint i = from; i < to; i++)
    {
      Tok *t = &g_array_index (toks, Tok, i);
      if (t->type == T_WS || t->type == T_COMMENT || (int) i == at)
        continue;
      GString *dst = at >= 0 && (int) i > at ? dom : lp;
      if (t->text)
        g_string_append (dst, t->text);
    }
  char *res;
  if (lp->len && needs_quoting (lp->str))
    {
      GString *q = g_string_new ("\"");
      for (const char *c = lp->str; *c; c++)
        {
          if (*c == '\\' || *c == '"')
            g_string_append_c (q, '\\');
          g_string_append_c (q, *c);
        }
      g_string_append_c (q, '"');
      g_string_assign (lp, q->str);
      g_string_free (q, TRUE);
    }
  if (dom->len)
    res = g_strdup_printf ("%s@%s", lp->str, dom->str);
  else if (lp->len == 0)
    res = g_strdup ("<>");
  else
    res = g_strdup (lp->str);
  g_string_free (lp, TRUE);
  g_string_free (dom, TRUE);
  return res;
}

static void
add_mailbox (GArray *toks, guint from, guint to, GPtrArray *out)
{
  /* skip empty units (",,", a trailing comma) */
  gboolean any = FALSE;
  for (guint i = from; i < to && !any; i++)
    {
      TokType ty = g_array_index (toks, Tok, i).type;
      any = ty != T_WS && ty != T_COMMENT;
    }
  if (!any || out->len >= MAX_MAILBOXES)
    return;
  int lt = -1, gt = -1;
  for (guint i = from; i < to; i++)
    {
      Tok *t = &g_array_index (toks, Tok, i);
      if (lt < 0 && is_sp (t, '<'))
        lt = (int) i;
      else if (lt >= 0 && is_sp (t, '>'))
        {
          gt = (int) i;
          break;
        }
    }
  RdAddress *a = g_new0 (RdAddress, 1);
  if (lt >= 0)
    {
      a->name = phrase (toks, from, (guint) lt);
      a->addr = addr_spec (toks, (guint) lt + 1, gt >= 0 ? (guint) gt : to);
    }
  else
    {
      a->name = g_strdup ("");
      a->addr = addr_spec (toks, from, to);
    }
  if (!g_utf8_validate (a->addr, -1, NULL))
    {
      char *v = rd_header_bytes_to_utf8 (a->addr);
      g_free (a->addr);
      a->addr = v;
    }
  g_ptr_array_add (out, a);
}

void
rd_address_free (gpointer p)
{
  RdAddress *a = p;
  g_free (a->name);
  g_free (a->addr);
  g_free (a);
}

void
rd_parse_address_list (const char *raw, GPtrArray *out)
{
  /* Tokens keep the raw bytes: 8-bit bytes inside an encoded word belong
   * to its charset, those outside are read as UTF-8 when decoded. */
  g_autoptr(GArray) toks = tokenize (raw);
  guint n = toks->len;
  guint start = 0;
  gboolean in_angle = FALSE, in_group = FALSE, seen_at = FALSE;
  for (guint i = 0; i < n; i++)
    {
      Tok *t = &g_array_index (toks, Tok, i);
      if (t->type != T_SPECIAL)
        continue;
      char c = t->text[0];
      if (c == '<')
        in_angle = TRUE;
      else if (c == '>')
        in_angle = FALSE;
      else if (c == '@' && !in_angle)
        seen_at = TRUE;
      else if (in_angle)
        continue;
      else if (c == ':' && !in_group && !seen_at)
        {
          /* "display-name:" opens a group: its name is not a mailbox */
          in_group = TRUE;
          start = i + 1;
        }
      else if (c == ';' && in_group)
        {
          add_mailbox (toks, start, i, out);
          in_group = FALSE;
          start = i + 1;
          seen_at = FALSE;
        }
      else if (c == ',')
        {
          add_mailbox (toks, start, i, out);
          start = i + 1;
          seen_at = FALSE;
        }
    }
  add_mailbox (toks, start, n, out);
}
