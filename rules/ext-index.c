/* relaydesk — rules: Sieve "index" (RFC 5260 6).
 *
 * :index N [:last] on header, address and date: only the Nth field of
 * that name (counted from the end with :last) is tested.
 */
#include "sieve-parse.h"

static void
tag_index (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  guint64 v = 0;
  if (!sv_tag_number (tc, tag->name, &v))
    return;
  if (v == 0 || v > G_MAXINT)
    SV_ERR (tc->c, a->line, a->col, ":index must be at least 1");
  tc->test->index = (int) MIN (v, (guint64) G_MAXINT);
}

static void
tag_last (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  tc->test->last = TRUE;
}

static const SvTagDef tags[] = {
  { .name = "index", .ext = EXT_INDEX, .classes = SV_TAGS_INDEX, .compile = tag_index },
  { .name = "last", .ext = EXT_INDEX, .classes = SV_TAGS_INDEX, .compile = tag_last },
  { .name = NULL }
};

const SvExtension sv_ext_index = {
  .capability = "index",
  .ext = EXT_INDEX,
  .tags = tags,
};
