/* relaydesk — rules: Sieve "copy" (RFC 3894).
 *
 * :copy on fileinto and redirect: the action does not cancel the implicit
 * keep (3).
 */
#include "sieve-private.h"

static void
tag_copy (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  tc->cmd->copy = TRUE;
}

static const SvTagDef tags[] = {
  { .name = "copy", .ext = EXT_COPY, .classes = SV_TAGS_COPY, .compile = tag_copy },
  { .name = NULL }
};

const SvExtension sv_ext_copy = {
  .capability = "copy",
  .ext = EXT_COPY,
  .tags = tags,
};
