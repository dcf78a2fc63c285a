/* relaydesk — rules internals: the compiled form of a Sieve script and
 * the table of the language (commands, tests, tagged arguments), shared
 * by the compiler (sieve-compile.c, behind the lexer and parser of
 * sieve-parse.h), the interpreter (sieve-interp.c, with sieve-run.h) and
 * the extensions (ext-*.c). Not a public header.
 *
 * The language is a table: each extension (and the base language of RFC
 * 5228, sieve-core.c) is one SvExtension listing its commands and tests,
 * each with a compile function (arguments checked, the compiled form
 * filled in) and a run function, and the tagged arguments it adds to the
 * commands and tests of others (:comparator, match types, address parts,
 * :index, :flags, :copy). sieve-table.c lists the extensions; the
 * compiler and the interpreter know no command, test or tag by name.
 */
#pragma once

#include <regex.h>
#include "rules.h"

/* Capabilities (RFC 5228 2.10.5 `require`): bits of SvScript.exts. */
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

typedef struct _SvCompiler SvCompiler;
typedef struct _SvRun SvRun;
typedef struct _SvTest SvTest;
typedef struct _SvCmd SvCmd;
typedef struct _SvNamespace SvNamespace;
/* The parser's tree (sieve-parse.h). */
typedef struct _SvNode SvNode;
typedef struct _SvArg SvArg;
typedef struct _SvRawStr SvRawStr;

/* ---- the compiled form ----------------------------------------------------- */

/* A string argument, split at compile time into literal text and
 * variable references so that evaluation does no parsing. */
typedef enum { SEG_TEXT, SEG_VAR, SEG_MATCH, SEG_NAMESPACE } SvSegKind;

typedef struct {
  SvSegKind kind;
  int index;        /* SEG_VAR: slot (>= 0 local, < 0 global: -1 - i); SEG_MATCH: 0..9;
                       SEG_NAMESPACE: the namespace's variable */
  const SvNamespace *ns;  /* SEG_NAMESPACE */
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

typedef struct _SvTestDef SvTestDef;
typedef struct _SvCommandDef SvCommandDef;

struct _SvTest {
  const SvTestDef *def;
  guint line, col;
  /* What the tags of the match classes set (RFC 5228 2.7). */
  SvComparator cmp;
  SvMatchType match;
  SvRelation rel;       /* :value, :count */
  SvAddrPart part;      /* address, envelope */
  int index;            /* :index N (1-based), 0 when absent */
  gboolean last;        /* :last */
  SvStrList *headers;   /* the first list: header names, envelope parts, source strings, variable names */
  SvStrList *keys;
  SvTest **children;    /* not, allof, anyof */
  guint n_children;
  gpointer data;        /* the test's own arguments: def->data_size bytes */
};

typedef struct {
  SvCmd **cmds;
  guint n;
} SvBlock;

/* What a command does at run time. */
typedef void (*SvCmdRun) (SvRun *x, const SvCmd *cmd);

struct _SvCmd {
  const SvCommandDef *def;  /* NULL for an unknown command (a compile error) */
  SvCmdRun run;         /* def->run, or NULL when the command turned out to do
                           nothing at run time (require, global, a missing
                           optional include) */
  guint line, col;
  /* if: tests[i] guards blocks[i]; tests[i] NULL for else */
  SvTest **tests;
  SvBlock **blocks;
  guint n_branches;
  SvString *arg;        /* the one string argument: mailbox, address, reason, value, script name */
  SvStrList *flags;     /* keep/fileinto :flags, the flag list of setflag/addflag/removeflag */
  gboolean copy;        /* fileinto/redirect :copy */
  gpointer data;        /* the command's own arguments: def->data_size bytes */
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

void sv_script_free (SvScript *s);
void sv_test_free (SvTest *t);

/* ---- the table (sieve-table.c) --------------------------------------------- */

/* The positional arguments of a command or test, after its tags. */
typedef struct {
  SvArg **v;
  guint n;
} SvPos;

/* Classes of tagged arguments: an extension adds tags of a class to every
 * command or test that accepts the class (SvTestDef.tag_classes). */
enum {
  SV_TAGS_COMPARATOR = 1 << 0,   /* :comparator (RFC 5228 2.7.3) */
  SV_TAGS_MATCH = 1 << 1,        /* :is :contains :matches (2.7.1), :regex, :value, :count */
  SV_TAGS_ADDRESS_PART = 1 << 2, /* :all :localpart :domain (2.7.4), :user :detail (RFC 5233) */
  SV_TAGS_INDEX = 1 << 3,        /* :index :last (RFC 5260 6) */
  SV_TAGS_FLAGS = 1 << 4,        /* :flags (RFC 5232 5) */
  SV_TAGS_COPY = 1 << 5,         /* :copy (RFC 3894) */
};

/* Groups of tags of which a command or test takes one only. */
enum {
  SV_GROUP_COMPARATOR = 1 << 0,
  SV_GROUP_MATCH = 1 << 1,
  SV_GROUP_ADDRESS_PART = 1 << 2,
  SV_GROUP_OWN = 1 << 8,         /* for a command's or test's own tags */
};

/* A tag being compiled: a handler that takes the argument after the tag
 * advances @i past it. */
typedef struct {
  SvCompiler *c;
  SvNode *n;
  guint i;              /* the tag's index in n->args */
  guint seen;           /* SV_GROUP_* given so far */
  SvTest *test;         /* the test being compiled, or NULL */
  SvCmd *cmd;           /* the command being compiled, or NULL */
} SvTagCtx;

typedef struct _SvTagDef SvTagDef;
struct _SvTagDef {
  const char *name;     /* without the ':' */
  SvExt ext;            /* the capability it requires, 0: none */
  const char *what;     /* how "requires the ... extension" names it; NULL: ":name" */
  guint classes;        /* SV_TAGS_*: the class it belongs to; 0: a command's or test's own */
  guint group;          /* SV_GROUP_* of exclusive tags, or 0 */
  const char *twice;    /* the error when another tag of @group was given */
  int value;            /* for @compile: the match type, address part... */
  void (*compile) (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a);
};

struct _SvTestDef {
  const char *name;
  SvExt ext;            /* the capability it requires, 0: RFC 5228 */
  guint tag_classes;    /* SV_TAGS_* it accepts */
  const SvTagDef *tags; /* its own tags, ending with one without name; or NULL */
  gboolean takes_tests; /* not, allof, anyof */
  gsize data_size;      /* of SvTest.data, zeroed; 0: none */
  /* The positional arguments after the tags: checked, compiled into @t. */
  void (*compile) (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t);
  gboolean (*run) (SvRun *x, const SvTest *t);
  void (*clear) (gpointer data);   /* frees what @data holds; NULL: nothing */
};

/* SvCommandDef.flags */
enum {
  SV_CMD_RAW = 1 << 0,       /* compile() gets the node as it is (tests, block), and all
                                its arguments as positional ones: no generic checks */
  SV_CMD_PREAMBLE = 1 << 1,  /* require: not a command "before" which require must come */
  SV_CMD_IF = 1 << 2,        /* if, elsif, else: a branch (with a block) */
  SV_CMD_ELSE = 1 << 3,      /* elsif, else: continues the if before */
  SV_CMD_FINAL = 1 << 4,     /* else: ends it */
  SV_CMD_STOP = 1 << 5,      /* what follows in the block is never reached */
};

struct _SvCommandDef {
  const char *name;
  SvExt ext;            /* the capability it requires, 0: RFC 5228 */
  guint flags;          /* SV_CMD_* */
  guint tag_classes;    /* SV_TAGS_* it accepts */
  const SvTagDef *tags; /* its own tags, ending with one without name; or NULL */
  gsize data_size;      /* of SvCmd.data, zeroed; 0: none */
  /* After the capability check, before the tags: defaults, further
   * requirements. NULL: none. */
  void (*begin) (SvCompiler *c, SvNode *n, SvCmd *cmd);
  /* The positional arguments after the tags: checked, compiled into @cmd. */
  void (*compile) (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd);
  SvCmdRun run;         /* NULL: nothing at run time */
  void (*clear) (gpointer data);   /* frees what @data holds; NULL: nothing */
};

/* Variables ${PREFIX...} of an extension (RFC 5229 3: namespaces). */
struct _SvNamespace {
  const char *prefix;   /* lower case, with the final ".": "ticket." */
  SvExt enabled_by;     /* any of these capabilities makes them variables */
  int (*lookup) (const char *lname);   /* the variable's index, < 0: unknown (an error) */
  void (*expand) (SvRun *x, int index, GString *out);
};

typedef struct {
  const char *capability;    /* what `require` names; NULL: the base language */
  SvExt ext;                 /* the bit it sets in SvScript.exts */
  SvExt implies;             /* further bits it sets (vacation-seconds: vacation) */
  gboolean always;           /* allowed even when RdRulesOptions.extensions leaves it out */
  const SvCommandDef *commands;   /* each ending with one without name; or NULL */
  const SvTestDef *tests;
  const SvTagDef *tags;      /* tags of SV_TAGS_* classes it adds to others */
  const SvNamespace *var_namespace;   /* or NULL */
  /* Rewrites every string argument before anything reads it
   * (encoded-character); (transfer full). NULL: none. */
  /* Sets *@error (a static text) when the string is an error. */
  char *(*decode_string) (const char *text, gsize len, gsize *out_len, const char **error);
} SvExtension;

/* The errors for a second tag of the groups the extensions share. */
#define SV_MATCH_TWICE "match type given twice"
#define SV_PART_TWICE "address part given twice"

/* Tag handlers shared by extensions: the match type (sieve-match.c) and
 * the address part (sieve-core.c) of @tc's test are tag->value. */
void sv_tag_match_type (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a);
void sv_tag_address_part (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a);

/* The extensions, each in its file. */
extern const SvExtension sv_ext_core;                 /* sieve-core.c */
extern const SvExtension sv_ext_matching;             /* sieve-match.c */
extern const SvExtension sv_ext_comparator_octet;     /* sieve-match.c */
extern const SvExtension sv_ext_comparator_casemap;   /* sieve-match.c */
extern const SvExtension sv_ext_comparator_numeric;   /* sieve-match.c */
extern const SvExtension sv_ext_fileinto;
extern const SvExtension sv_ext_envelope;
extern const SvExtension sv_ext_encoded_character;
extern const SvExtension sv_ext_variables;
extern const SvExtension sv_ext_vacation;
extern const SvExtension sv_ext_vacation_seconds;     /* ext-vacation.c */
extern const SvExtension sv_ext_relational;
extern const SvExtension sv_ext_subaddress;
extern const SvExtension sv_ext_body;
extern const SvExtension sv_ext_copy;
extern const SvExtension sv_ext_regex;
extern const SvExtension sv_ext_date;
extern const SvExtension sv_ext_index;
extern const SvExtension sv_ext_imap4flags;
extern const SvExtension sv_ext_include;
extern const SvExtension sv_ext_duplicate;
extern const SvExtension sv_ext_reject;
extern const SvExtension sv_ext_ticket;

/* The extension `require` names @capability, or NULL. */
const SvExtension *sv_capability_find (const char *capability);
/* The capabilities `require` accepts (those in @allowed, NULL: all),
 * sorted, ", "-separated. (transfer full) */
char *sv_capability_list (const char *const *allowed);
/* The capability of @ext (one bit), for messages. */
const char *sv_capability_name (SvExt ext);
const SvCommandDef *sv_command_find (const char *name);
const SvTestDef *sv_test_find (const char *name);
/* The tag @name (lower case) of @own or of the classes @classes, or NULL. */
const SvTagDef *sv_tag_find (const char *name, guint classes, const SvTagDef *own);
/* The namespace enabled by @exts that @lname (lower case) belongs to, or
 * NULL; sv_namespaces_enabled(): whether there is any. */
const SvNamespace *sv_namespace_find (guint exts, const char *lname);
gboolean sv_namespaces_enabled (guint exts);
/* @text as the extensions in @exts rewrite string arguments (a copy when
 * none does). (transfer full) */
char *sv_decode_string (guint exts, const char *text, gsize len, gsize *out_len, const char **error);

/* ---- compiling (sieve-compile.c) ----------------------------------------- */

/* The state of compiling one script: the lexer, the parser, the validator
 * and the extensions' compile functions report through it. */
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
  const SvCommandDef *prev;  /* the command before this one in its block (if/elsif/else) */
};

/* Reports an error or a warning at FILE:LINE:COL of the script being
 * compiled; the first error becomes rd_rules_compile()'s GError. */
void sv_diag (SvCompiler *c, gboolean warning, guint line, guint col, const char *fmt, ...) G_GNUC_PRINTF (5, 6);
#define SV_ERR(c, l, co, ...) sv_diag (c, FALSE, l, co, __VA_ARGS__)
#define SV_WARN(c, l, co, ...) sv_diag (c, TRUE, l, co, __VA_ARGS__)

/* FALSE, with an error naming @what, when the script did not require @ext. */
gboolean sv_need (SvCompiler *c, SvExt ext, guint line, guint col, const char *what);

/* Argument checks: positional argument @i is a string list (@single: one
 * string); there are no more than @count. */
gboolean sv_want_strings (SvCompiler *c, SvNode *n, SvPos *p, guint i, const char *what, gboolean single);
gboolean sv_want_count (SvCompiler *c, SvNode *n, SvPos *p, guint count);
/* compile functions of commands and tests without positional arguments */
void sv_compile_no_arguments (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd);
void sv_compile_no_test_arguments (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t);
/* The one string argument of a command (@what names it in errors) into
 * cmd->arg; FALSE when it is not there. */
gboolean sv_want_one_string (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd, const char *what);
/* The argument after the tag (tc->i advanced past it): a string, a string
 * list, a number; NULL/FALSE after an error. (transfer full) */
SvString *sv_tag_string (SvTagCtx *tc, const char *tag);
SvStrList *sv_tag_strlist (SvTagCtx *tc, const char *tag);
gboolean sv_tag_number (SvTagCtx *tc, const char *tag, guint64 *out);
/* The same into *@slot, replacing what an earlier tag put there. */
SvString *sv_tag_set_string (SvTagCtx *tc, const char *tag, SvString **slot);
SvStrList *sv_tag_set_strlist (SvTagCtx *tc, const char *tag, SvStrList **slot);

/* A nested test (NULL after an error) and a nested block. (transfer full) */
SvTest *sv_compile_test (SvCompiler *c, SvNode *n);
SvBlock *sv_compile_block (SvCompiler *c, GPtrArray *nodes);
/* Compiles @text as script @name into rules->scripts (an include); returns
 * its index. @result receives the sub-compiler's state. */
guint sv_compile_script (SvCompiler *parent, const char *file, const char *name, const char *text, gsize len,
                         const RdRulesOptions *opts, GPtrArray *diags, RdRules *rules, guint include_depth,
                         GHashTable *includes, GHashTable *in_progress, SvCompiler *result);

/* ---- strings (sieve-strings.c) ------------------------------------------- */

/* The compiled form of a string argument as the script's extensions
 * read it (encoded-character, variables, namespaces). (transfer full) */
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

/* ---- matching, compile side (sieve-match.c) ------------------------------ */

/* The positional "header names"/"source strings" (@what) and key list of
 * a match test into t->headers and t->keys; FALSE when they are not. */
gboolean sv_compile_match_args (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t, const char *what);
/* Cross-checks of comparator, match type, :index and the keys of @t;
 * compiles constant :regex keys. */
void sv_check_match_keys (SvCompiler *c, SvTest *t, guint line, guint col);

/* ---- regex (ext-regex.c) ------------------------------------------------- */

/* Compiles a regex key (POSIX extended) within @limits: no back-references,
 * bounded size and repetition counts. */
regex_t *sv_regex_compile (const char *pattern, gsize len, gboolean icase,
                           const RdRulesLimits *limits, GError **error);
void sv_regex_free (regex_t *re);

/* ---- addresses (sieve-message.c) ----------------------------------------- */

/* "a@b" or "Name <a@b>" -> the addr-spec, or NULL when invalid.
 * (transfer full) */
char *sv_address_extract (const char *text, gsize len);
/* The same address: local parts compared exactly, domains in any case. */
gboolean sv_same_address (const char *a, const char *b);

/* sieve-interp.c: the evaluation behind rd_rules_evaluate(). */
GPtrArray *sv_evaluate (RdRules *rules, const RdMessage *msg, const RdEnvelope *env, GError **error);

/* Marker bytes for deferred ${ticket.*}: "\x1e" "N" / "Q" / "T". */
#define SV_TICKET_MARK '\x1e'
