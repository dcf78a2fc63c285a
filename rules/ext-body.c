/* relaydesk — rules: Sieve "body" (RFC 5173).
 *
 * body [:raw / :text / :content TYPES] [COMPARATOR] [MATCH-TYPE] KEYS.
 * :text (the default) is the parser's body text (the text/plain part, or
 * text/html rendered to text), then the text of every other text part and
 * of attached messages; :content TYPES tests every leaf part of those
 * types (nested multiparts and attached messages included), transfer
 * encoding undone and text converted to UTF-8, HTML as written; :raw is
 * the body as it is in the message, "" when it has none.
 */
#include "sieve-parse.h"
#include "sieve-run.h"

#include <string.h>

typedef enum { BODY_TEXT, BODY_RAW, BODY_CONTENT } BodyTransform;

typedef struct {
  BodyTransform transform;
  SvStrList *content;   /* :content types */
} BodyData;

static void
tag_transform (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  BodyData *d = tc->test->data;
  d->transform = tag->value;
  if (d->transform == BODY_CONTENT)
    sv_tag_set_strlist (tc, tag->name, &d->content);
}

static void
compile_body (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  if (sv_want_strings (c, n, p, 0, "key list", FALSE) && sv_want_count (c, n, p, 1))
    {
      t->keys = sv_strlist_new (c, p->v[0]);
      sv_check_match_keys (c, t, n->line, n->col);
    }
}

/* RFC 5173 5.2: "" matches every type, "type" all its subtypes,
 * "type/subtype" that one; a type with a leading or trailing slash, or
 * more than one, matches none. */
static gboolean
type_matches (const char *want, const char *ct)
{
  if (*want == '\0')
    return TRUE;
  const char *slash = strchr (want, '/');
  if (slash == NULL)
    {
      gsize n = strlen (want);
      return !g_ascii_strncasecmp (ct, want, n) && ct[n] == '/';
    }
  if (slash == want || slash[1] == '\0' || strchr (slash + 1, '/'))
    return FALSE;
  return !g_ascii_strcasecmp (ct, want);
}

/* :content: every leaf part of a listed type, decoded. */
static gboolean
run_content (SvRun *x, const SvTest *t, const BodyData *d)
{
  GPtrArray *parts = sv_body_parts (x);
  guint count = 0;
  for (guint i = 0; i < parts->len; i++)
    {
      const RdBodyPart *part = g_ptr_array_index (parts, i);
      gboolean want = FALSE;
      for (guint k = 0; k < d->content->n && !want; k++)
        want = type_matches (sv_expand (x, d->content->items[k], NULL), part->content_type);
      if (!want)
        continue;
      if (t->match == MATCH_COUNT)
        count++;
      else if (sv_match_value (x, t, part->content, part->len))
        return TRUE;
    }
  return t->match == MATCH_COUNT ? sv_match_count (x, t, count) : FALSE;
}

/* :text: the body text of the view first (what nearly every test needs,
 * cached and lower-cased once), then the text of the other text parts. */
static gboolean
run_text (SvRun *x, const SvTest *t)
{
  gsize len = 0;
  const char *text = sv_body_text (x, &len);
  if (text && t->match != MATCH_COUNT && sv_match_value (x, t, text, len))
    return TRUE;
  GPtrArray *more = sv_body_more_texts (x);
  if (t->match == MATCH_COUNT)
    return sv_match_count (x, t, (text ? 1 : 0) + more->len);
  if (more->len == 0)
    return FALSE;
  if (t->match == MATCH_CONTAINS)
    {
      /* All of them at once (one lower-cased copy, one bigram filter),
       * unless a key has a NUL, which could span two of them. */
      gboolean nul = FALSE;
      for (guint k = 0; k < t->keys->n && !nul; k++)
        {
          gsize kl;
          const char *key = sv_expand (x, t->keys->items[k], &kl);
          nul = memchr (key, '\0', kl) != NULL;
        }
      if (!nul)
        {
          gsize jl = 0;
          const char *joined = sv_body_more_joined (x, &jl);
          return sv_match_value (x, t, joined, jl);
        }
    }
  for (guint i = 0; i < more->len; i++)
    {
      const char *v = g_ptr_array_index (more, i);
      if (sv_match_value (x, t, v, strlen (v)))
        return TRUE;
    }
  return FALSE;
}

static gboolean
run_body (SvRun *x, const SvTest *t)
{
  const BodyData *d = t->data;
  if (d->transform == BODY_CONTENT)
    return run_content (x, t, d);
  if (d->transform == BODY_TEXT)
    return run_text (x, t);
  gsize len = 0;
  g_autofree char *raw = sv_body_raw (x, &len);
  if (t->match == MATCH_COUNT)
    return sv_match_count (x, t, len ? 1 : 0);
  return sv_match_value (x, t, raw, len);
}

static void
body_clear (gpointer data)
{
  BodyData *d = data;
  sv_strlist_free (d->content);
}

#define BODY_TWICE "body: transform given twice"

static const SvTagDef body_tags[] = {
  { .name = "raw", .group = SV_GROUP_OWN, .twice = BODY_TWICE, .value = BODY_RAW, .compile = tag_transform },
  { .name = "text", .group = SV_GROUP_OWN, .twice = BODY_TWICE, .value = BODY_TEXT, .compile = tag_transform },
  { .name = "content", .group = SV_GROUP_OWN, .twice = BODY_TWICE, .value = BODY_CONTENT, .compile = tag_transform },
  { .name = NULL }
};

static const SvTestDef tests[] = {
  { .name = "body", .ext = EXT_BODY, .tag_classes = SV_TAGS_COMPARATOR | SV_TAGS_MATCH, .tags = body_tags,
    .data_size = sizeof (BodyData), .compile = compile_body, .run = run_body, .clear = body_clear },
  { .name = NULL }
};

const SvExtension sv_ext_body = {
  .capability = "body",
  .ext = EXT_BODY,
  .tests = tests,
};
