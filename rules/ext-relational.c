/* relaydesk — rules: Sieve "relational" (RFC 5231).
 *
 * The match types :value OP and :count OP, OP one of "gt", "ge", "lt",
 * "le", "eq", "ne" (4); what they compare is in sieve-match.c.
 */
#include "sieve-private.h"

static void
tag_relational (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  sv_tag_match_type (tc, tag, a);
  SvString *s = sv_tag_string (tc, tag->name);
  if (s == NULL)
    return;
  static const char *const rels[] = { "gt", "ge", "lt", "le", "eq", "ne" };
  gboolean ok = FALSE;
  for (guint k = 0; k < G_N_ELEMENTS (rels); k++)
    if (!g_ascii_strcasecmp (s->text, rels[k]))
      {
        tc->test->rel = (SvRelation) k;
        ok = TRUE;
      }
  if (!ok)
    SV_ERR (tc->c, s->line, s->col, "unknown relational operator \"%s\"", s->text);
  sv_string_free (s);
}

/* Their "requires the extension" errors name them without the ":", as they always have. */
static const SvTagDef tags[] = {
  { .name = "value", .ext = EXT_RELATIONAL, .what = "value", .classes = SV_TAGS_MATCH, .group = SV_GROUP_MATCH,
    .twice = SV_MATCH_TWICE, .value = MATCH_VALUE, .compile = tag_relational },
  { .name = "count", .ext = EXT_RELATIONAL, .what = "count", .classes = SV_TAGS_MATCH, .group = SV_GROUP_MATCH,
    .twice = SV_MATCH_TWICE, .value = MATCH_COUNT, .compile = tag_relational },
  { .name = NULL }
};

const SvExtension sv_ext_relational = {
  .capability = "relational",
  .ext = EXT_RELATIONAL,
  .tags = tags,
};
