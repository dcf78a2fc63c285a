/* relaydesk — parser: address lists. */
#include "parser-private.h"

void
rd_parse_address_list (GMimeParserOptions *opts, const char *raw, GPtrArray *out)
{
  rd_gmime_address_list (opts, raw, out);
}
