/* relaydesk — rules: Sieve "subaddress" (RFC 5233).
 *
 * The address parts :user and :detail of "user+detail@domain"; the
 * separator is "+". An address without one has no :detail (4).
 */
#include "sieve-private.h"

static const SvTagDef tags[] = {
  { .name = "user", .ext = EXT_SUBADDRESS, .what = "user", .classes = SV_TAGS_ADDRESS_PART,
    .group = SV_GROUP_ADDRESS_PART, .twice = SV_PART_TWICE, .value = PART_USER, .compile = sv_tag_address_part },
  { .name = "detail", .ext = EXT_SUBADDRESS, .what = "detail", .classes = SV_TAGS_ADDRESS_PART,
    .group = SV_GROUP_ADDRESS_PART, .twice = SV_PART_TWICE, .value = PART_DETAIL, .compile = sv_tag_address_part },
  { .name = NULL }
};

const SvExtension sv_ext_subaddress = {
  .capability = "subaddress",
  .ext = EXT_SUBADDRESS,
  .tags = tags,
};
