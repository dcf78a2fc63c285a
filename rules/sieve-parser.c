/* relaydesk — rules: the Sieve parser (RFC 5228 section 8.2).
 *
 * Tokens -> a generic tree: each command or test is a name, its arguments
 * (tags, numbers, strings and string lists), its tests and its block. The
 * grammar knows no command by name; nesting is bounded by
 * limits.max_nesting and string lists by 1024 items.
 */
#include "sieve-parse.h"

static void
raw_str_free (SvRawStr *s)
{
  g_free (s->text);
  g_free (s);
}

static void
arg_free (SvArg *a)
{
  g_free (a->tag);
  if (a->strs)
    g_ptr_array_unref (a->strs);
  g_free (a);
}

static void
node_free (SvNode *n)
{
  if (n == NULL)
    return;
  g_free (n->name);
  g_free (n->word);
  g_ptr_array_unref (n->args);
  g_ptr_array_unref (n->tests);
  if (n->block)
    g_ptr_array_unref (n->block);
  g_free (n);
}

static SvNode *parse_test (SvLexer *lx, guint depth);

static SvNode *
node_new (SvLexer *lx)
{
  SvNode *n = g_new0 (SvNode, 1);
  n->name = g_ascii_strdown (lx->tok.text->str, -1);
  n->word = g_strdup (lx->tok.text->str);
  n->line = lx->tok.line;
  n->col = lx->tok.col;
  n->args = g_ptr_array_new_with_free_func ((GDestroyNotify) arg_free);
  n->tests = g_ptr_array_new_with_free_func ((GDestroyNotify) node_free);
  return n;
}

static SvRawStr *
take_string (SvLexer *lx)
{
  SvRawStr *s = g_new0 (SvRawStr, 1);
  s->len = lx->tok.text->len;
  s->text = g_strndup (lx->tok.text->str, s->len);
  s->line = lx->tok.line;
  s->col = lx->tok.col;
  return s;
}

static void
syntax_error (SvLexer *lx, const char *what)
{
  if (lx->failed)
    return;
  const char *got;
  switch (lx->tok.kind)
    {
    case SV_TK_EOF: got = "end of script"; break;
    case SV_TK_IDENT: got = "identifier"; break;
    case SV_TK_TAG: got = "tag"; break;
    case SV_TK_NUMBER: got = "number"; break;
    case SV_TK_STRING: got = "string"; break;
    case SV_TK_SEMI: got = "';'"; break;
    case SV_TK_COMMA: got = "','"; break;
    case SV_TK_LBRACE: got = "'{'"; break;
    case SV_TK_RBRACE: got = "'}'"; break;
    case SV_TK_LPAREN: got = "'('"; break;
    case SV_TK_RPAREN: got = "')'"; break;
    case SV_TK_LBRACKET: got = "'['"; break;
    case SV_TK_RBRACKET: got = "']'"; break;
    default: got = "error"; break;
    }
  SV_ERR (lx->c, lx->tok.line, lx->tok.col, "syntax error: expected %s, found %s", what, got);
  lx->failed = TRUE;
}

/* arguments := *argument [ test / test-list ] */
static gboolean
parse_arguments (SvLexer *lx, SvNode *n, guint depth)
{
  for (;;)
    {
      if (lx->failed)
        return FALSE;
      if (lx->tok.kind == SV_TK_TAG)
        {
          SvArg *a = g_new0 (SvArg, 1);
          a->kind = SV_ARG_TAG;
          a->line = lx->tok.line;
          a->col = lx->tok.col;
          a->tag = g_ascii_strdown (lx->tok.text->str, -1);
          g_ptr_array_add (n->args, a);
          sv_lex_next (lx);
        }
      else if (lx->tok.kind == SV_TK_NUMBER)
        {
          SvArg *a = g_new0 (SvArg, 1);
          a->kind = SV_ARG_NUM;
          a->line = lx->tok.line;
          a->col = lx->tok.col;
          a->num = lx->tok.num;
          g_ptr_array_add (n->args, a);
          sv_lex_next (lx);
        }
      else if (lx->tok.kind == SV_TK_STRING)
        {
          SvArg *a = g_new0 (SvArg, 1);
          a->kind = SV_ARG_STRINGS;
          a->line = lx->tok.line;
          a->col = lx->tok.col;
          a->strs = g_ptr_array_new_with_free_func ((GDestroyNotify) raw_str_free);
          g_ptr_array_add (a->strs, take_string (lx));
          g_ptr_array_add (n->args, a);
          sv_lex_next (lx);
        }
      else if (lx->tok.kind == SV_TK_LBRACKET)
        {
          SvArg *a = g_new0 (SvArg, 1);
          a->kind = SV_ARG_STRINGS;
          a->is_list = TRUE;
          a->line = lx->tok.line;
          a->col = lx->tok.col;
          a->strs = g_ptr_array_new_with_free_func ((GDestroyNotify) raw_str_free);
          g_ptr_array_add (n->args, a);
          sv_lex_next (lx);
          for (;;)
            {
              if (lx->tok.kind != SV_TK_STRING)
                {
                  syntax_error (lx, "a string");
                  return FALSE;
                }
              if (a->strs->len >= 1024)
                {
                  SV_ERR (lx->c, lx->tok.line, lx->tok.col, "string list too long");
                  lx->failed = TRUE;
                  return FALSE;
                }
              g_ptr_array_add (a->strs, take_string (lx));
              sv_lex_next (lx);
              if (lx->tok.kind == SV_TK_COMMA)
                {
                  sv_lex_next (lx);
                  continue;
                }
              if (lx->tok.kind == SV_TK_RBRACKET)
                {
                  sv_lex_next (lx);
                  break;
                }
              syntax_error (lx, "',' or ']'");
              return FALSE;
            }
        }
      else
        break;
    }
  if (lx->tok.kind == SV_TK_IDENT)
    {
      SvNode *t = parse_test (lx, depth + 1);
      if (t == NULL)
        return FALSE;
      g_ptr_array_add (n->tests, t);
    }
  else if (lx->tok.kind == SV_TK_LPAREN)
    {
      n->test_list = TRUE;
      sv_lex_next (lx);
      for (;;)
        {
          if (lx->tok.kind != SV_TK_IDENT)
            {
              syntax_error (lx, "a test");
              return FALSE;
            }
          SvNode *t = parse_test (lx, depth + 1);
          if (t == NULL)
            return FALSE;
          g_ptr_array_add (n->tests, t);
          if (lx->tok.kind == SV_TK_COMMA)
            {
              sv_lex_next (lx);
              continue;
            }
          if (lx->tok.kind == SV_TK_RPAREN)
            {
              sv_lex_next (lx);
              break;
            }
          syntax_error (lx, "',' or ')'");
          return FALSE;
        }
    }
  return !lx->failed;
}

static SvNode *
parse_test (SvLexer *lx, guint depth)
{
  if (depth > lx->c->rules->limits.max_nesting)
    {
      SV_ERR (lx->c, lx->tok.line, lx->tok.col, "nesting deeper than the limit (%u)", lx->c->rules->limits.max_nesting);
      lx->failed = TRUE;
      return NULL;
    }
  SvNode *n = node_new (lx);
  sv_lex_next (lx);
  if (!parse_arguments (lx, n, depth))
    {
      node_free (n);
      return NULL;
    }
  return n;
}

static GPtrArray *parse_commands (SvLexer *lx, gboolean in_block, guint depth);

static SvNode *
parse_command (SvLexer *lx, guint depth)
{
  SvNode *n = node_new (lx);
  sv_lex_next (lx);
  if (!parse_arguments (lx, n, depth))
    {
      node_free (n);
      return NULL;
    }
  if (lx->tok.kind == SV_TK_SEMI)
    {
      sv_lex_next (lx);
      return n;
    }
  if (lx->tok.kind == SV_TK_LBRACE)
    {
      if (depth + 1 > lx->c->rules->limits.max_nesting)
        {
          SV_ERR (lx->c, lx->tok.line, lx->tok.col, "nesting deeper than the limit (%u)", lx->c->rules->limits.max_nesting);
          lx->failed = TRUE;
          node_free (n);
          return NULL;
        }
      sv_lex_next (lx);
      n->block = parse_commands (lx, TRUE, depth + 1);
      if (n->block == NULL)
        {
          node_free (n);
          return NULL;
        }
      return n;
    }
  syntax_error (lx, "';' or '{'");
  node_free (n);
  return NULL;
}

static GPtrArray *
parse_commands (SvLexer *lx, gboolean in_block, guint depth)
{
  GPtrArray *cmds = g_ptr_array_new_with_free_func ((GDestroyNotify) node_free);
  for (;;)
    {
      if (lx->failed)
        break;
      if (lx->tok.kind == SV_TK_IDENT)
        {
          SvNode *n = parse_command (lx, depth);
          if (n == NULL)
            break;
          g_ptr_array_add (cmds, n);
          continue;
        }
      if (in_block && lx->tok.kind == SV_TK_RBRACE)
        {
          sv_lex_next (lx);
          return cmds;
        }
      if (!in_block && lx->tok.kind == SV_TK_EOF)
        return cmds;
      syntax_error (lx, in_block ? "a command or '}'" : "a command");
      break;
    }
  g_ptr_array_unref (cmds);
  return NULL;
}

GPtrArray *
sv_parse (SvCompiler *c, const char *text, gsize len)
{
  SvLexer lx = { c, text, text + len, 1, 1, { 0 }, FALSE };
  lx.tok.text = g_string_new (NULL);
  sv_lex_next (&lx);
  GPtrArray *nodes = parse_commands (&lx, FALSE, 0);
  g_string_free (lx.tok.text, TRUE);
  return nodes;
}
