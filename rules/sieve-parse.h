/* relaydesk — rules internals: the Sieve lexer (sieve-lexer.c) and parser
 * (sieve-parser.c).
 *
 * Text -> tokens (RFC 5228 section 8.1) -> a generic command tree (section
 * 8.2) that knows no command by name: the validator (sieve-compile.c)
 * gives it meaning. Errors carry FILE:LINE:COL through the compiler's
 * diagnostics; the parser stops at the first syntax error (the rest of the
 * token stream cannot be trusted). Not a public header. */
#pragma once

#include "sieve-private.h"

/* ---- the tree ------------------------------------------------------------ */

struct _SvRawStr {
  char *text;
  gsize len;
  guint line, col;
};

typedef enum { SV_ARG_TAG, SV_ARG_NUM, SV_ARG_STRINGS } SvArgKind;

struct _SvArg {
  SvArgKind kind;
  guint line, col;
  char *tag;
  guint64 num;
  GPtrArray *strs;     /* SvRawStr* */
  gboolean is_list;
};

struct _SvNode {
  char *name;          /* lower case */
  char *word;          /* as written (diagnostics) */
  guint line, col;
  GPtrArray *args;     /* SvArg* */
  GPtrArray *tests;    /* SvNode* */
  gboolean test_list;  /* tests given in ( ) */
  GPtrArray *block;    /* SvNode*, NULL when the command ended with ';' */
};

/* Parses @text into the commands of a script (SvNode*), or NULL after a
 * syntax error (reported to @c). Limits: c->rules->limits (string length,
 * nesting). (transfer full) */
GPtrArray *sv_parse (SvCompiler *c, const char *text, gsize len);

/* ---- between the lexer and the parser ------------------------------------ */

typedef enum {
  SV_TK_EOF, SV_TK_IDENT, SV_TK_TAG, SV_TK_NUMBER, SV_TK_STRING, SV_TK_LBRACKET, SV_TK_RBRACKET,
  SV_TK_LPAREN, SV_TK_RPAREN, SV_TK_LBRACE, SV_TK_RBRACE, SV_TK_SEMI, SV_TK_COMMA, SV_TK_ERROR,
} SvTokenKind;

typedef struct {
  SvTokenKind kind;
  guint line, col;
  GString *text;   /* IDENT, TAG (without ':'), STRING */
  guint64 num;
} SvToken;

typedef struct {
  SvCompiler *c;
  const char *p, *end;
  guint line, col;
  SvToken tok;        /* the current token */
  gboolean failed;
} SvLexer;

/* Reads the next token into lx->tok; after an error (reported once) the
 * token stays SV_TK_ERROR and lx->failed is set. */
void sv_lex_next (SvLexer *lx);

/* identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_") (RFC 5228 8.1); also
 * the parts of variable names (RFC 5229 3). */
static inline gboolean
sv_is_ident_start (char ch)
{
  return g_ascii_isalpha (ch) || ch == '_';
}

static inline gboolean
sv_is_ident_char (char ch)
{
  return g_ascii_isalnum (ch) || ch == '_';
}
