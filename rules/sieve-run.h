/* relaydesk — rules internals: evaluating the compiled form over one
 * message, shared by the interpreter (sieve-interp.c) and what it calls.
 *
 * Per-message state (decoded headers, parsed addresses, variables, the
 * actions so far) lives in one SvRun on the interpreter's stack, so one
 * RdRules can serve several threads. Not a public header. */
#pragma once

#include "sieve-private.h"
#include "body-parts.h"

#define SV_N_SCRATCH 16
/* Match variables ${0}..${SV_MAX_MATCH} (RFC 5229 3.2 allows more than 9). */
#define SV_MAX_MATCH 64

struct _SvRun {
  RdRules *rules;
  const RdMessage *msg;
  const RdEnvelope *env;
  GError *error;
  gboolean stopped;
  gboolean returned;
  gboolean defer_marks;  /* expanding vacation/reject texts: ${ticket.*} deferred */
  guint include_depth;
  /* caches */
  GHashTable *headers;   /* lower name -> GPtrArray of char* (decoded, trimmed), lazily */
  GHashTable *addrs;     /* lower name -> GPtrArray of char* addr-specs */
  GArray *raw_headers;   /* RawHeader: the header block, unfolded */
  char *arena;           /* their values */
  GPtrArray *owned;      /* decoded values that are copies */
  GString *addr_seg;     /* parse_address_list() buffers */
  GString *addr_angle;
  GString *addr_part;    /* sv_match_address() */
  /* The long texts several rules test, lower-cased and given a bigram
   * filter (BIGRAM_SLOTS flags, case-folded) once per message: [0] the
   * body text, [1] the other text parts joined (body :text). */
  struct {
    const char *src;
    gsize len;
    GString *lower;
    guint8 *bigrams;
  } big[2];
  gsize regex_bytes;     /* input given to regexec for this message */
  GHashTable *dates;     /* lower name -> GPtrArray of GDateTime* (or NULL) */
  gsize body_len;
  GPtrArray *body_parts; /* RdBodyPart*: every leaf (body :content), lazily */
  GPtrArray *body_more;  /* const char*: text of the other text parts (body :text), lazily */
  char *body_more_joined; /* them joined by NUL bytes, lazily */
  gsize body_more_joined_len;
  GString *scratch[SV_N_SCRATCH];
  guint scratch_next;
  /* variables */
  GString **locals;
  guint n_locals;
  GString **globals;
  char *match[SV_MAX_MATCH + 1];
  guint n_match;         /* match[] entries set: 0..n_match-1 */
  GString *flags;        /* the internal flags variable (RFC 5232 3) */
  GHashTable *once;      /* scripts run with :once */
  /* actions */
  gboolean implicit_keep;
  RdAction *keep;
  GPtrArray *fileinto;
  GPtrArray *redirect;
  RdAction *reject;
  RdAction *vacation;
  RdAction *ticket;
  gboolean discard;
  guint n_actions;
  guint n_redirects;
};

/* ---- the interpreter (sieve-interp.c) ------------------------------------ */

/* Records the first run-time error (RFC 5228 2.10.6: the caller then does
 * the implicit keep) and stops the script. */
void sv_rt_error (SvRun *x, guint line, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Runs the commands of @b until the script stops or returns. */
void sv_run_block (SvRun *x, const SvBlock *b);
/* Runs rules->scripts[@index] with its own local variables (include). */
void sv_run_script (SvRun *x, guint index);

/* The test @t through its entry of the table; FALSE after a run-time
 * error (and for the missing test of a branch that is never run). */
static inline gboolean
sv_eval_test (SvRun *x, const SvTest *t)
{
  if (t == NULL || x->error)
    return FALSE;
  return t->def->run (x, t);
}

/* Counts an action against limits.max_actions; FALSE (a run-time error)
 * beyond it. */
gboolean sv_count_action (SvRun *x, const SvCmd *c);
RdAction *sv_action_new (RdActionType type);
/* keep (RFC 5228 4.3), with the flags of @c (or the internal variable's
 * when @c is NULL or has none), merged into the one keep action. */
void sv_keep (SvRun *x, const SvCmd *c);

/* ---- strings (sieve-strings.c) ------------------------------------------- */

static inline char
sv_lc (char c)
{
  return c >= 'A' && c <= 'Z' ? (char) (c + 32) : c;
}

/* A buffer for one expansion or copy, from a ring of SV_N_SCRATCH: valid
 * until that many more are taken. */
static inline GString *
sv_scratch (SvRun *x)
{
  guint i = x->scratch_next++ % SV_N_SCRATCH;
  if (x->scratch[i] == NULL)
    x->scratch[i] = g_string_sized_new (64);
  g_string_truncate (x->scratch[i], 0);
  return x->scratch[i];
}

/* The variable in @slot (>= 0 local, < 0 global, G_MININT the internal
 * flags variable), or NULL when never set. */
GString *sv_var_get (SvRun *x, int slot);
/* The same, created empty when never set: for assigning. */
GString *sv_var_ref (SvRun *x, int slot);

const char *sv_expand_dynamic (SvRun *x, const SvString *s, gsize *len);

/* The value of @s with variables expanded; valid until SV_N_SCRATCH more
 * expansions. Constant strings (most keys) cost nothing. */
static inline const char *
sv_expand (SvRun *x, const SvString *s, gsize *len)
{
  if (!s->dynamic)
    {
      if (len)
        *len = s->len;
      return s->text;
    }
  return sv_expand_dynamic (x, s, len);
}

/* ---- the message (sieve-message.c) --------------------------------------- */

/* Decoded values of every header field named @name (any case), in order;
 * NULL when there is none. Decoded on first use, cached for the message. */
GPtrArray *sv_header_values (SvRun *x, const char *name);
/* TRUE when a header field's name starts with @prefix (lower case). */
gboolean sv_header_prefix_exists (SvRun *x, const char *prefix);
/* The addr-specs of every header field named @name, in order (never NULL).
 * One that is not syntactically valid (no "@", nothing on one side of it,
 * characters no address has) starts with SV_ADDR_INVALID, a byte UTF-8
 * never has: sv_address_part() gives it to :all only. */
#define SV_ADDR_INVALID '\xff'
#define SV_ADDR_INVALID_S "\xff"
GPtrArray *sv_address_values (SvRun *x, const char *name);
/* TRUE when @addr has a local part and a domain (RFC 5228 2.7.4). */
gboolean sv_address_valid (const char *addr);
/* The @part of @addr into @out; FALSE when the part does not exist
 * (e.g. :detail without a separator, RFC 5233 4). */
gboolean sv_address_part (const char *addr, SvAddrPart part, GString *out);
/* The envelope "from" or "to" (any case), or NULL for another part. */
const char *sv_envelope_value (SvRun *x, const char *part);
/* The body as it is in the message, after the header block. (transfer full) */
char *sv_body_raw (SvRun *x, gsize *len);
/* The body text of the parser's view (text/plain, or text/html
 * rendered), or NULL when there is none. */
const char *sv_body_text (SvRun *x, gsize *len);
/* Every leaf part of the message (RdBodyPart*, body-parts.h), decoded
 * once per message on first use. */
GPtrArray *sv_body_parts (SvRun *x);
/* The text (char*) of the text parts besides the body text, and of the
 * text parts of attached messages, once per message on first use. */
GPtrArray *sv_body_more_texts (SvRun *x);
/* The same joined by NUL bytes (a key without NUL found in it is found in
 * one of them), or NULL when there are none. */
const char *sv_body_more_joined (SvRun *x, gsize *len);
/* The dates of the header values @vals of @name, parsed once per message
 * (NULL where unparsable), aligned with @vals. */
GPtrArray *sv_date_values (SvRun *x, const char *name, GPtrArray *vals);
/* Frees the message caches of @x. */
void sv_message_clear (SvRun *x);

/* ---- matching (sieve-match.c) -------------------------------------------- */

/* TRUE when @v matches one of the keys of @t under its comparator and
 * match type (not :count); a match sets ${0}..${9}. */
gboolean sv_match_value (SvRun *x, const SvTest *t, const char *v, gsize vl);
/* :count (RFC 5231 4.2): @count against the keys of @t. */
gboolean sv_match_count (SvRun *x, const SvTest *t, guint count);
/* The range of values :index/:last of @t picks out of @n (RFC 5260 6),
 * or all of them; FALSE when there is no such value. */
static inline gboolean
sv_index_pick (const SvTest *t, guint n, guint *from, guint *to)
{
  if (t->index == 0)
    {
      *from = 0;
      *to = n;
      return TRUE;
    }
  if ((guint) t->index > n)
    return FALSE;
  guint i = t->last ? n - (guint) t->index : (guint) t->index - 1;
  *from = i;
  *to = i + 1;
  return TRUE;
}

/* The test @t over the values @vals (char*, may be NULL): :index, then
 * :count or a match of any value. */
gboolean sv_test_values (SvRun *x, const SvTest *t, GPtrArray *vals);
/* The same without :index (the values were picked already). */
gboolean sv_test_values_all (SvRun *x, const SvTest *t, GPtrArray *vals);
/* The address part of @addr (RFC 5228 2.7.4) against the keys of @t;
 * with :count it is added to @count_vals instead (and FALSE returned). */
gboolean sv_match_address (SvRun *x, const SvTest *t, const char *addr, GPtrArray *count_vals);
/* Frees the match variables and the buffers of @x. */
void sv_match_clear (SvRun *x);

/* ---- imap4flags (ext-imap4flags.c) --------------------------------------- */

/* The flags for a stored message (lower case, unique, sorted; NULL for
 * none): those of @c's :flags, else of the internal variable. */
char **sv_flags_for (SvRun *x, const SvCmd *c);
/* Merges @flags (transfer full) into *@into: their union, in the same form. */
void sv_flags_merge (char ***into, char **flags);
