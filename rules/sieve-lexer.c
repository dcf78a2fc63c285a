/* relaydesk — rules: the Sieve lexer (RFC 5228 section 8.1).
 *
 * Text -> tokens: identifiers, tags, numbers (with K/M/G), quoted and
 * multi-line strings (their escapes and dot-stuffing undone, line ends
 * made CRLF), punctuation. Comments and white space are skipped. Each
 * token carries its line and column (in characters, not bytes) for the
 * diagnostics.
 */
#include "sieve-parse.h"
#include "rd-common.h"

#include <string.h>


static void
adv (SvLexer *lx)
{
  if (*lx->p == '\n')
    {
      lx->line++;
      lx->col = 1;
    }
  else if (((guchar) *lx->p & 0xC0) != 0x80)
    lx->col++;
  lx->p++;
}

static void
lex_fail (SvLexer *lx, guint line, guint col, const char *msg)
{
  if (!lx->failed)
    SV_ERR (lx->c, line, col, "%s", msg);
  lx->failed = TRUE;
  lx->tok.kind = SV_TK_ERROR;
}


/* Skips white space and comments; FALSE on an unterminated comment. */
static gboolean
skip_space (SvLexer *lx)
{
  while (lx->p < lx->end)
    {
      char ch = *lx->p;
      if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
        adv (lx);
      else if (ch == '#')
        {
          while (lx->p < lx->end && *lx->p != '\n')
            adv (lx);
        }
      else if (ch == '/' && lx->p + 1 < lx->end && lx->p[1] == '*')
        {
          guint l = lx->line, co = lx->col;
          adv (lx);
          adv (lx);
          for (;;)
            {
              if (lx->p >= lx->end)
                {
                  lex_fail (lx, l, co, "unterminated comment");
                  return FALSE;
                }
              if (*lx->p == '*' && lx->p + 1 < lx->end && lx->p[1] == '/')
                {
                  adv (lx);
                  adv (lx);
                  break;
                }
              adv (lx);
            }
        }
      else
        break;
    }
  return TRUE;
}

static void
lex_multiline (SvLexer *lx, guint line, guint col)
{
  /* "text:" *(SP / HTAB) (hash-comment / CRLF), then lines up to ".". */
  while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
    adv (lx);
  if (lx->p < lx->end && *lx->p == '#')
    while (lx->p < lx->end && *lx->p != '\n')
      adv (lx);
  if (lx->p < lx->end && *lx->p == '\r')
    adv (lx);
  if (lx->p >= lx->end || *lx->p != '\n')
    {
      lex_fail (lx, lx->line, lx->col, "expected end of line after 'text:'");
      return;
    }
  adv (lx);
  gsize max = lx->c->rules->limits.max_string_length;
  for (;;)
    {
      if (lx->p >= lx->end)
        {
          lex_fail (lx, line, col, "unterminated multi-line string (missing '.' line)");
          return;
        }
      const char *nl = memchr (lx->p, '\n', lx->end - lx->p);
      const char *le = nl ? nl : lx->end;
      gsize l = le - lx->p;
      if (l > 0 && lx->p[l - 1] == '\r')
        l--;
      if (l == 1 && lx->p[0] == '.')
        {
          while (lx->p < le)
            adv (lx);
          if (lx->p < lx->end)
            adv (lx);
          break;
        }
      const char *s = lx->p;
      if (l > 0 && s[0] == '.')
        {
          s++;
          l--;   /* dot-stuffing */
        }
      g_string_append_len (lx->tok.text, s, l);
      /* Every line ends with CRLF whatever the file uses (RFC 5228 2.4.2). */
      g_string_append (lx->tok.text, "\r\n");
      if (lx->tok.text->len > max)
        {
          lex_fail (lx, line, col, "string longer than the limit");
          return;
        }
      while (lx->p < le)
        adv (lx);
      if (lx->p < lx->end)
        adv (lx);
      else
        {
          lex_fail (lx, line, col, "unterminated multi-line string (missing '.' line)");
          return;
        }
    }
  lx->tok.kind = SV_TK_STRING;
}

void
sv_lex_next (SvLexer *lx)
{
  if (lx->failed)
    return;
  g_string_truncate (lx->tok.text, 0);
  if (!skip_space (lx))
    return;
  lx->tok.line = lx->line;
  lx->tok.col = lx->col;
  if (lx->p >= lx->end)
    {
      lx->tok.kind = SV_TK_EOF;
      return;
    }
  char ch = *lx->p;
  guint line = lx->line, col = lx->col;
  switch (ch)
    {
    case '[': adv (lx); lx->tok.kind = SV_TK_LBRACKET; return;
    case ']': adv (lx); lx->tok.kind = SV_TK_RBRACKET; return;
    case '(': adv (lx); lx->tok.kind = SV_TK_LPAREN; return;
    case ')': adv (lx); lx->tok.kind = SV_TK_RPAREN; return;
    case '{': adv (lx); lx->tok.kind = SV_TK_LBRACE; return;
    case '}': adv (lx); lx->tok.kind = SV_TK_RBRACE; return;
    case ';': adv (lx); lx->tok.kind = SV_TK_SEMI; return;
    case ',': adv (lx); lx->tok.kind = SV_TK_COMMA; return;
    default: break;
    }
  if (ch == '"')
    {
      adv (lx);
      gsize max = lx->c->rules->limits.max_string_length;
      for (;;)
        {
          if (lx->p >= lx->end)
            {
              lex_fail (lx, line, col, "unterminated string");
              return;
            }
          char d = *lx->p;
          if (d == '"')
            {
              adv (lx);
              break;
            }
          if (d == '\\')
            {
              adv (lx);
              if (lx->p >= lx->end)
                continue;
              d = *lx->p;  /* "\" followed by anything: that thing (2.4.2) */
            }
          if (d == '\n' && (lx->tok.text->len == 0 || lx->tok.text->str[lx->tok.text->len - 1] != '\r'))
            g_string_append_c (lx->tok.text, '\r');
          g_string_append_c (lx->tok.text, d);
          adv (lx);
          if (lx->tok.text->len > max)
            {
              lex_fail (lx, line, col, "string longer than the limit");
              return;
            }
        }
      lx->tok.kind = SV_TK_STRING;
      return;
    }
  if (g_ascii_isdigit (ch))
    {
      guint64 v = 0;
      while (lx->p < lx->end && g_ascii_isdigit (*lx->p))
        {
          if (v > (G_MAXUINT64 - 9) / 10)
            {
              lex_fail (lx, line, col, "number too large");
              return;
            }
          v = v * 10 + (guint64) (*lx->p - '0');
          adv (lx);
        }
      guint shift = 0;
      if (lx->p < lx->end)
        switch (g_ascii_toupper (*lx->p))
          {
          case 'K': shift = 10; adv (lx); break;
          case 'M': shift = 20; adv (lx); break;
          case 'G': shift = 30; adv (lx); break;
          default: break;
          }
      if (shift && v > (G_MAXUINT64 >> shift))
        {
          lex_fail (lx, line, col, "number too large");
          return;
        }
      lx->tok.num = v << shift;
      if (lx->p < lx->end && sv_is_ident_char (*lx->p))
        {
          lex_fail (lx, line, col, "bad number");
          return;
        }
      lx->tok.kind = SV_TK_NUMBER;
      return;
    }
  if (ch == ':' || sv_is_ident_start (ch))
    {
      gboolean tag = ch == ':';
      if (tag)
        {
          adv (lx);
          if (lx->p >= lx->end || !sv_is_ident_start (*lx->p))
            {
              lex_fail (lx, line, col, "expected an identifier after ':'");
              return;
            }
        }
      while (lx->p < lx->end && sv_is_ident_char (*lx->p) && lx->tok.text->len < 128)
        {
          g_string_append_c (lx->tok.text, *lx->p);
          adv (lx);
        }
      if (!tag && lx->p < lx->end && *lx->p == ':'
          && g_ascii_strcasecmp (lx->tok.text->str, "text") == 0)
        {
          adv (lx);
          g_string_truncate (lx->tok.text, 0);
          lex_multiline (lx, line, col);
          return;
        }
      lx->tok.kind = tag ? SV_TK_TAG : SV_TK_IDENT;
      return;
    }
  g_autofree char *esc = rd_log_escape (lx->p, 1, 8);
  g_autofree char *m = g_strdup_printf ("unexpected character %s", esc);
  lex_fail (lx, line, col, m);
}
