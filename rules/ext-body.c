/* relaydesk — rules: Sieve "body" (RFC 5173).
 *
 * body [:raw / :text / :content TYPES] [COMPARATOR] [MATCH-TYPE] KEYS.
 * :text (the default) is the parser's body text: the text/plain part, or
 * text/html rendered to text; :content selects it for "", "text",
 * "text/plain" and "text/html" and nothing else (relaydesk keeps no other
 * part as text); :raw is the body as it is in the message.
 */
#include "sieve-parse.h"
#include "sieve-run.h"

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

static gboolean
run_body (SvRun *x, const SvTest *t)
{
  const BodyData *d = t->data;
  const char *text = NULL;
  gsize len = 0;
  g_autofree char *owned = NULL;
  if (d->transform == BODY_RAW)
    text = owned = sv_body_raw (x, &len);
  else
    {
      gboolean want = d->transform == BODY_TEXT;
      if (d->transform == BODY_CONTENT)
        for (guint i = 0; i < d->content->n; i++)
          {
            const char *ct = sv_expand (x, d->content->items[i], NULL);
            /* The body text comes from the text/plain part (or text/html
             * rendered); "" and "text" and those two types select it. */
            if (*ct == '\0' || !g_ascii_strcasecmp (ct, "text") || !g_ascii_strcasecmp (ct, "text/plain")
                || !g_ascii_strcasecmp (ct, "text/html"))
              want = TRUE;
          }
      if (want)
        text = sv_body_text (x, &len);
      if (text == NULL)
        return t->match == MATCH_COUNT ? sv_match_count (x, t, 0) : FALSE;
    }
  if (t->match == MATCH_COUNT)
    return sv_match_count (x, t, len ? 1 : 0);
  return sv_match_value (x, t, text, len);
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
