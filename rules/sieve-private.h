/* relaydesk — rules internals: the compiled form of a Sieve script,
 * shared by the compiler (sieve-compile.c, behind the lexer and parser of
 * sieve-parse.h) and the interpreter (sieve-interp.c). Not a public
 * header. */
#pragma once

#include <regex.h>
#include "rules.h"

/* Capabilities (RFC 5228 2.10.5 `require`). */
typedef enum {
  EXT_FILEINTO = 1 << 0,
  EXT_ENVELOPE = 1 << 1,
  EXT_ENCODED_CHARACTER = 1 << 2,
  EXT_VARIABLES = 1 << 3,
  EXT_VACATION = 1 << 4,
  EXT_VACATION_SECONDS = 1 << 5,
  EXT_RELATIONAL = 1 << 6,
  EXT_NUMERIC = 1 << 7,
  EXT_SUBADDRESS = 1 << 8,
  EXT_BODY = 1 << 9,
  EXT_COPY = 1 << 10,
  EXT_REGEX = 1 << 11,
  EXT_DATE = 1 << 12,
  EXT_INDEX = 1 << 13,
  EXT_IMAP4FLAGS = 1 << 14,
  EXT_INCLUDE = 1 << 15,
  EXT_DUPLICATE = 1 << 16,
  EXT_REJECT = 1 << 17,
  EXT_TICKET = 1 << 18,
  EXT_OCTET = 1 << 19,
  EXT_CASEMAP = 1 << 20,
} SvExt;

typedef struct {
  const char *name;
  SvExt ext;
} SvCapability;

extern const SvCapability sv_capabilities[];

/* A string argument, split at compile time into literal text and
 * variable references so that evaluation does no parsing. */
typedef enum { SEG_TEXT, SEG_VAR, SEG_MATCH, SEG_TICKET } SvSegKind;

typedef struct {
  SvSegKind kind;
  int index;        /* SEG_VAR: slot (>= 0 local, < 0 global: -1 - i); SEG_MATCH: 0..9; SEG_TICKET: 0 number 1 queue 2 tag */
  char *text;       /* SEG_TEXT */
  gsize len;
} SvSeg;

typedef struct {
  char *text;       /* the constant value (when !dynamic) */
  gsize len;
  gboolean dynamic; /* has variable references */
  SvSeg *segs;
  guint n_segs;
  char *lower;      /* ASCII lower-case copy of @text (constant strings) */
  regex_t *re;      /* :regex key compiled once, when constant */
  guint line, col;
} SvString;

typedef struct {
  SvString **items;
  guint n;
} SvStrList;

typedef enum {
  CMP_OCTET, CMP_CASEMAP, CMP_NUMERIC,
} SvComparator;

typedef enum {
  MATCH_IS, MATCH_CONTAINS, MATCH_MATCHES, MATCH_REGEX, MATCH_VALUE, MATCH_COUNT,
} SvMatchType;

typedef enum { REL_GT, REL_GE, REL_LT, REL_LE, REL_EQ, REL_NE } SvRelation;

typedef enum { PART_ALL, PART_LOCAL, PART_DOMAIN, PART_USER, PART_DETAIL } SvAddrPart;

typedef enum { BODY_TEXT, BODY_RAW, BODY_CONTENT } SvBodyTransform;

typedef enum {
  T_TRUE, T_FALSE, T_NOT, T_ALLOF, T_ANYOF, T_ADDRESS, T_ENVELOPE, T_HEADER,
  T_EXISTS, T_SIZE, T_STRING, T_BODY, T_DATE, T_CURRENTDATE, T_HASFLAG,
  T_DUPLICATE, T_FOLLOWUP,
} SvTestKind;

typedef struct _SvTest SvTest;
struct _SvTest {
  SvTestKind kind;
  guint line, col;
  SvComparator cmp;
  SvMatchType match;
  SvRelation rel;
  SvAddrPart part;
  SvBodyTransform body;
  int index;            /* :index N (1-based), 0 when absent */
  gboolean last;        /* :last */
  gboolean over;        /* size :over (else :under) */
  guint64 size;
  SvStrList *headers;   /* header names, envelope parts, source strings, variable names */
  SvStrList *keys;
  SvStrList *content;   /* body :content types */
  SvString *datepart;
  SvString *zone;       /* :zone, NULL for UTC (date: originalzone when @originalzone) */
  gboolean originalzone;
  SvString *handle;     /* duplicate */
  SvString *dup_header;
  SvString *uniqueid;
  guint64 seconds;
  gboolean has_seconds;
  int *flag_vars;       /* hasflag with variable list: slots */
  guint n_flag_vars;
  SvTest **children;
  guint n_children;
};

typedef enum {
  C_IF, C_STOP, C_KEEP, C_DISCARD, C_FILEINTO, C_REDIRECT, C_REJECT, C_VACATION,
  C_SET, C_SETFLAG, C_ADDFLAG, C_REMOVEFLAG, C_INCLUDE, C_RETURN, C_GLOBAL, C_TICKET,
  C_NOP,
} SvCmdKind;

typedef struct _SvCmd SvCmd;
typedef struct {
  SvCmd **cmds;
  guint n;
} SvBlock;

struct _SvCmd {
  SvCmdKind kind;
  guint line, col;
  /* C_IF: tests[i] guards blocks[i]; tests[i] NULL for else */
  SvTest **tests;
  SvBlock **blocks;
  guint n_branches;
  gboolean copy;
  SvStrList *flags;     /* keep/fileinto :flags, setflag/addflag/removeflag list */
  int flag_var;         /* setflag... variable slot, or G_MININT for the internal one */
  SvString *arg;        /* mailbox, address, reason, set value, include name */
  int var;              /* set: the slot */
  guint modifiers;      /* set: SET_* bits */
  /* vacation */
  SvString *subject, *from, *handle;
  SvStrList *addresses;
  guint64 period;
  gboolean mime;
  /* include */
  guint script;         /* index into RdRules.scripts */
  gboolean once, optional;
  /* ticket */
  SvString *priority, *assign, *status;
  SvStrList *tags;
};

enum {
  SET_LOWER = 1 << 0, SET_UPPER = 1 << 1, SET_LOWERFIRST = 1 << 2, SET_UPPERFIRST = 1 << 3,
  SET_QUOTEWILDCARD = 1 << 4, SET_QUOTEREGEX = 1 << 5, SET_LENGTH = 1 << 6,
};

typedef struct {
  char *name;
  SvBlock *body;
  guint n_vars;        /* local variable slots */
  guint exts;          /* SvExt bits required */
} SvScript;

struct _RdRules {
  GPtrArray *scripts;      /* SvScript*; [0] the main one */
  RdRules **parts;         /* rd_rules_chain(): run in order instead */
  guint n_parts;
  GPtrArray *globals;      /* char*: global variable names (RFC 6609) */
  RdRulesLimits limits;
  GStringChunk *strings;   /* text owned by the compiled form */
};

/* ---- compiling (sieve-compile.c) ----------------------------------------- */

/* The state of compiling one script: the lexer, the parser and the
 * validator report through it. */
typedef struct _SvCompiler SvCompiler;
struct _SvCompiler {
  const char *file;
  GPtrArray *diags;
  guint n_errors;
  GError *first;
  const RdRulesOptions *opts;
  RdRules *rules;
  SvScript *script;
  GHashTable *locals;     /* name (lower) -> slot + 1 */
  GHashTable *globals_here; /* names declared `global` in this script */
  GHashTable *includes;   /* "p:name"/"g:name" -> index + 1, shared */
  GHashTable *in_progress; /* include loop detection, shared */
  guint include_depth;
  gboolean seen_command;  /* require only at the start (RFC 5228 3.2) */
  guint nesting;
};

/* The parser's tree (sieve-parse.h). */
typedef struct _SvNode SvNode;
typedef struct _SvArg SvArg;
typedef struct _SvRawStr SvRawStr;

/* Reports an error or a warning at FILE:LINE:COL of the script being
 * compiled; the first error becomes rd_rules_compile()'s GError. */
void sv_diag (SvCompiler *c, gboolean warning, guint line, guint col, const char *fmt, ...) G_GNUC_PRINTF (5, 6);
#define SV_ERR(c, l, co, ...) sv_diag (c, FALSE, l, co, __VA_ARGS__)
#define SV_WARN(c, l, co, ...) sv_diag (c, TRUE, l, co, __VA_ARGS__)

/* ---- strings (sieve-strings.c) ------------------------------------------- */

/* The compiled form of a string argument as the script's extensions
 * read it (encoded-character, variables, ${ticket.*}). (transfer full) */
SvString *sv_string_new (SvCompiler *c, const SvRawStr *raw);
/* The same for each string of @a (a string or a string list). */
SvStrList *sv_strlist_new (SvCompiler *c, const SvArg *a);
void sv_string_free (SvString *s);
void sv_strlist_free (SvStrList *l);

/* identifier *("." identifier), or a number (RFC 5229 3); @numeric tells
 * which. */
gboolean sv_var_name_ok (const char *s, gsize n, gboolean *numeric);
/* The slot of variable @lname (lower case) in the script being compiled:
 * >= 0 local, < 0 global (declared `global` or "global."-prefixed, RFC
 * 6609); G_MININT beyond limits.max_variables. */
int sv_var_slot (SvCompiler *c, const char *lname);

void sv_script_free (SvScript *s);

/* Compiles a regex key (POSIX extended) within @limits: no back-references,
 * bounded size and repetition counts. */
regex_t *sv_regex_compile (const char *pattern, gsize len, gboolean icase,
                           const RdRulesLimits *limits, GError **error);
void sv_regex_free (regex_t *re);

/* "a@b" or "Name <a@b>" -> the addr-spec, or NULL when invalid
 * (sieve-message.c). (transfer full) */
char *sv_address_extract (const char *text, gsize len);
/* The same address: local parts compared exactly, domains in any case. */
gboolean sv_same_address (const char *a, const char *b);
gboolean sv_ticket_priority_ok (const char *v);
gboolean sv_ticket_status_ok (const char *v);
void sv_test_free (SvTest *t);
/* sieve-interp.c: the evaluation behind rd_rules_evaluate(). */
GPtrArray *sv_evaluate (RdRules *rules, const RdMessage *msg, const RdEnvelope *env, GError **error);

/* Marker bytes for deferred ${ticket.*}: "\x1e" "N" / "Q" / "T". */
#define SV_TICKET_MARK '\x1e'
