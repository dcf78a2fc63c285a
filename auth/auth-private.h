/* relaydesk — auth internals, shared by auth/ sources only. */
#pragma once

#include "auth.h"
#include "rd-common.h"

#include <sys/types.h>
#include <stdbool.h>
#include <netinet/in.h>
/* libspf2's headers need these first (they do not include them). */
#include <arpa/nameser.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <opendkim/dkim.h>

/* spf.c: a libspf2 server whose DNS is @dns (the layer is @layer_out, to
 * g_free after SPF_server_free). */
SPF_server_t *rd_auth_spf_server_new (RdDns *dns, SPF_dns_server_t **layer_out);
/* The SPF result for @in; @identity (transfer full, may be NULL) is the
 * address checked, @helo_identity TRUE when it came from HELO (null
 * sender); @comment (transfer full, may be NULL) says why nothing was
 * checked. */
RdAuthResult rd_auth_spf_check (SPF_server_t *server, const RdAuthInput *in, char **identity,
                                gboolean *helo_identity, char **comment);

/* results.c: "method=result" clauses joined into a field value with
 * folding points; @value unfolded. */
char *rd_auth_results_fold (const char *value);
/* The domain of the (single) From address of @raw, lower case; NULL with
 * @reason ("none", "multiple") when there is not exactly one.
 * (transfer full) */
char *rd_auth_from_domain (GBytes *raw, const char **reason);

/* sign.c: RFC 6376 relaxed canonicalization. A header field (@name as
 * written, @value from after the colon to the end of the field, line
 * breaks included) appended to @out as "name:value\r\n" (3.4.2). */
void rd_dkim_canon_header (GString *out, const char *name, gsize name_len, const char *value, gsize value_len);
/* The relaxed body (3.4.4) of @body, @out_len bytes. (transfer full) */
char *rd_dkim_canon_body (const char *body, gsize len, gsize *out_len);
/* The value of tag @name in a tag=value list (RFC 6376 3.2: a record or
 * a DKIM-Signature), blanks removed, or NULL. (transfer full) */
char *rd_dkim_tag_value (const char *list, const char *name);
