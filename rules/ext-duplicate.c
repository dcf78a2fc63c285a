/* relaydesk — rules: Sieve "duplicate" (RFC 7352).
 *
 * duplicate [:handle H] [:header NAME / :uniqueid ID] [:seconds N] [:last]:
 * whether this message's Message-ID (or the given header or id) was seen
 * within N seconds (7 days by default). The state is the caller's
 * (RdEnvelope.duplicate): the rules do no I/O.
 */
#include "sieve-parse.h"
#include "sieve-run.h"

enum { STR_HANDLE, STR_HEADER, STR_UNIQUEID, N_STRS };

typedef struct {
  SvString *str[N_STRS];
  guint64 seconds;
  gboolean has_seconds;
  gboolean last;
} DuplicateData;

static void
tag_string_arg (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  DuplicateData *d = tc->test->data;
  sv_tag_set_string (tc, tag->name, &d->str[tag->value]);
}

static void
tag_seconds (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  DuplicateData *d = tc->test->data;
  d->has_seconds = sv_tag_number (tc, tag->name, &d->seconds);
}

static void
tag_last (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  DuplicateData *d = tc->test->data;
  d->last = TRUE;
}

static void
compile_duplicate (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  const DuplicateData *d = t->data;
  sv_want_count (c, n, p, 0);
  if (d->str[STR_HEADER] && d->str[STR_UNIQUEID])
    SV_ERR (c, n->line, n->col, "duplicate: :header and :uniqueid together");
}

static gboolean
run_duplicate (SvRun *x, const SvTest *t)
{
  const DuplicateData *d = t->data;
  g_autofree char *id = NULL;
  if (d->str[STR_UNIQUEID])
    id = g_strdup (sv_expand (x, d->str[STR_UNIQUEID], NULL));
  else
    {
      const char *h = d->str[STR_HEADER] ? sv_expand (x, d->str[STR_HEADER], NULL) : "message-id";
      GPtrArray *vals = sv_header_values (x, h);
      if (vals == NULL || vals->len == 0)
        return FALSE;   /* nothing to track (RFC 7352 3.1) */
      id = g_strdup (g_ptr_array_index (vals, 0));
    }
  if (x->env->duplicate == NULL)
    return FALSE;
  const char *handle = d->str[STR_HANDLE] ? sv_expand (x, d->str[STR_HANDLE], NULL) : "";
  g_autofree char *key = g_strdup_printf ("%s\n%s\n%s", x->env->recipient ? x->env->recipient : "", handle, id);
  gint64 seconds = d->has_seconds ? (gint64) MIN (d->seconds, (guint64) 3650 * 86400) : 7 * 86400;
  return x->env->duplicate (x->env->duplicate_data, key, seconds, d->last);
}

static void
duplicate_clear (gpointer data)
{
  DuplicateData *d = data;
  for (guint i = 0; i < N_STRS; i++)
    sv_string_free (d->str[i]);
}

static const SvTagDef duplicate_tags[] = {
  { .name = "handle", .value = STR_HANDLE, .compile = tag_string_arg },
  { .name = "header", .value = STR_HEADER, .compile = tag_string_arg },
  { .name = "uniqueid", .value = STR_UNIQUEID, .compile = tag_string_arg },
  { .name = "seconds", .compile = tag_seconds },
  { .name = "last", .compile = tag_last },
  { .name = NULL }
};

static const SvTestDef tests[] = {
  { .name = "duplicate", .ext = EXT_DUPLICATE, .tags = duplicate_tags, .data_size = sizeof (DuplicateData),
    .compile = compile_duplicate, .run = run_duplicate, .clear = duplicate_clear },
  { .name = NULL }
};

const SvExtension sv_ext_duplicate = {
  .capability = "duplicate",
  .ext = EXT_DUPLICATE,
  .tests = tests,
};
