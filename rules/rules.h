/* relaydesk — rules: Sieve scripts turned into actions.
 *
 * Input: the parsed view of a message and its envelope. Output: a list of
 * actions. No I/O happens here (DESIGN.md); desk/ carries the actions out.
 *
 * A script is compiled once (rd_rules_compile: lexer, parser, validator)
 * and evaluated per message (rd_rules_evaluate). The language is RFC 5228
 * with the extensions listed in docs/rules.md. Whatever needs the outside
 * world is handed in: included scripts through a loader at compile time,
 * duplicate-tracking state through a callback at run time, the current
 * time through the envelope.
 */
#pragma once

#include <glib.h>
#include "message.h"
#include "model.h"

G_BEGIN_DECLS

typedef enum {
  RD_ACTION_KEEP,        /* ticket in the default queue */
  RD_ACTION_FILEINTO,    /* ticket in queue @mailbox */
  RD_ACTION_DISCARD,
  RD_ACTION_REDIRECT,    /* forward to @address */
  RD_ACTION_REJECT,      /* rejection notice with @reason */
  RD_ACTION_VACATION,    /* an autoresponse (RFC 5230) */
  RD_ACTION_VACATION_SUPPRESSED, /* vacation ran, no reply: @reason is the class */
  RD_ACTION_TICKET,      /* vnd.relaydesk.ticket attributes */
} RdActionType;

typedef struct {
  RdActionType type;
  char *mailbox;       /* FILEINTO */
  char **flags;        /* KEEP, FILEINTO: imap4flags, lower-cased, sorted; NULL when none */
  char *address;       /* REDIRECT: addr-spec; VACATION: the reply's recipient */
  char *reason;        /* REJECT, VACATION: the text; VACATION_SUPPRESSED: the class */
  gboolean copy;       /* FILEINTO, REDIRECT: :copy */
  /* VACATION */
  char *from;          /* addr-spec of the reply's From */
  char *from_header;   /* :from as written (may carry a display name), or NULL */
  char *subject;
  char *handle;        /* :handle, or one derived from the arguments as written */
  gint64 period;       /* seconds between replies to one sender */
  gboolean mime;       /* :mime: @reason is a MIME entity */
  /* TICKET: NULL when not given */
  char *priority;
  char *assign;
  char *status;
  char **tags;
} RdAction;

/* What the rules see besides the message: the envelope and what
 * threading decided (before the rules run). */
typedef struct {
  const char *sender;              /* envelope MAIL FROM, "" for <> */
  const char *recipient;           /* the inbox address the script runs for */
  gboolean followup;               /* continues an existing ticket */
  gint64 ticket_number;            /* the ticket continued, or 0 */
  const char *ticket_queue;        /* its queue, or NULL */
  const char *ticket_tag;          /* its subject tag, e.g. "[RD #42]", or NULL */
  /* Added by the rules stage: */
  gint64 now;                      /* unix seconds for currentdate; 0: the clock */
  /* For a new ticket (ticket_number 0) whose number is known only once it
   * is opened: ${ticket.*} expand to markers that rd_action_expand_ticket()
   * replaces afterwards. FALSE: they expand to "". */
  gboolean defer_ticket_vars;
  /* duplicate (RFC 7352): TRUE when @id was seen within @seconds; records
   * it (unless @last and it was seen). NULL: never a duplicate. */
  gboolean (*duplicate) (gpointer data, const char *id, gint64 seconds, gboolean last);
  gpointer duplicate_data;
  /* Sender authentication (auth/): vnd.relaydesk.ticket's
   * `authenticated` is true when auth->verified. NULL: not known (false). */
  const RdAuthSummary *auth;
} RdEnvelope;

void rd_action_free (RdAction *action);

/* Replaces the ${ticket.*} markers left by defer_ticket_vars in the texts
 * of @action (subject, reason, address, mailbox). */
void rd_action_expand_ticket (RdAction *action, gint64 number, const char *queue, const char *tag);

/* Limits, each a setting ([rules] group, docs/rules.md). */
typedef struct {
  gsize max_script_size;     /* bytes of one script */
  guint max_nesting;         /* blocks and tests nested */
  guint max_actions;         /* actions per message */
  guint max_redirects;       /* redirects per message */
  gsize max_string_length;   /* a string, also after variable expansion */
  gsize max_regex_size;      /* bytes of one regex pattern */
  gsize max_regex_input;     /* bytes one regex is run on; 8x that per message */
  guint max_include_depth;   /* nested include (RFC 6609) */
  guint max_variables;       /* distinct variable names */
} RdRulesLimits;

void rd_rules_limits_init (RdRulesLimits *limits);

/* A compile diagnostic: FILE:LINE:COL: error|warning: text. */
typedef struct {
  char *file;
  guint line;
  guint col;
  gboolean warning;
  char *message;
} RdRulesDiagnostic;

void rd_rules_diagnostic_free (RdRulesDiagnostic *d);

/* Returns the text of the included script @name (:global when @global),
 * or NULL with @error. (transfer full) */
typedef char *(*RdRulesLoader) (const char *name, gboolean global, gpointer data,
                                gsize *len, GError **error);

/* Which extensions `require` accepts: NULL means all that relaydesk
 * implements; otherwise a NULL-terminated list of capability names. */
typedef struct {
  const RdRulesLimits *limits;     /* NULL: defaults */
  const char *const *extensions;   /* NULL: all */
  RdRulesLoader loader;            /* NULL: include is a compile error */
  gpointer loader_data;
} RdRulesOptions;

typedef struct _RdRules RdRules;

/* A rule set with no script: every message takes the implicit keep
 * (RFC 5228 2.10.2). (transfer full) */
RdRules *rd_rules_new_empty (void);

/* Compiles @text (named @file in diagnostics). On failure returns NULL and
 * sets @error (RD_ERROR_INVALID_DATA, the first error). Every error and
 * warning found is appended to @diagnostics (RdRulesDiagnostic*) when
 * given. (transfer full) */
RdRules *rd_rules_compile (const char *file, const char *text, gsize len,
                           const RdRulesOptions *options, GPtrArray *diagnostics,
                           GError **error);

/* Chains @before, @main and @after (any may be NULL) into one rule set run
 * in that order as one script would be: actions accumulate, `stop` ends
 * all. Takes ownership. (transfer full) */
RdRules *rd_rules_chain (RdRules *before, RdRules *main, RdRules *after);

void rd_rules_free (RdRules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdRules, rd_rules_free)

/* Evaluates @rules for one message. Returns RdAction* (transfer full),
 * canonical: merged duplicates, the implicit keep made explicit. On a
 * run-time error returns NULL and sets @error; the caller then does the
 * implicit keep (RFC 5228 2.10.6). Thread-safe for one RdRules. */
GPtrArray *rd_rules_evaluate (RdRules *rules, const RdMessage *msg,
                              const RdEnvelope *envelope, GError **error);

/* Formats @actions in the conformance format (one line each, canonical
 * order), appending to @out; @runtime_error puts "error: runtime" first. */
void rd_rules_format_actions (GPtrArray *actions, gboolean runtime_error, GString *out);

G_END_DECLS
