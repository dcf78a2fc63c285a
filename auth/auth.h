/* relaydesk — auth: sender authentication in, DKIM signing out.
 *
 * A layer between parser/ and desk/relay (docs/auth.md):
 *
 *  Inbound (verify.c): for a spooled message (envelope, client address,
 *  HELO, raw bytes) SPF (RFC 7208, libspf2) of the envelope sender (the
 *  HELO name for <>), DKIM (RFC 6376, libopendkim) of every signature and
 *  DMARC (RFC 7489, libopendmarc) of the From domain, all DNS through the
 *  bounded resolver of dns.h. The outcome is one Authentication-Results
 *  field value (RFC 8601) with our authserv-id and an RdAuthSummary
 *  (store/model.h). Behind an MTA that verified already (a field whose
 *  authserv-id is in [auth] trusted_authserv_ids) its results are taken
 *  instead of checking again. The desk runs this in its worker thread
 *  after the 250 and before the rules.
 *
 *  results.c: the Authentication-Results format: writing our field,
 *  reading one back (ours, stored with the spooled message, or a trusted
 *  MTA's), and the view's bytes: the raw message with our field on top
 *  and any field claiming our authserv-id that came with the mail
 *  removed (RFC 8601 section 5).
 *
 *  Outbound (sign.c): RdDkimSigner signs a message with [dkim] selector,
 *  domain and key_file (RSA or Ed25519, RFC 8463) relaxed/relaxed over
 *  the fields RFC 6376 section 5.4.1 recommends; rd_dkim_keygen() makes
 *  a key and the DNS TXT record to publish; rd_dkim_check_record()
 *  compares a published record with the key.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "model.h"
#include "dns.h"

G_BEGIN_DECLS

#define RD_AUTH_RESULTS_HEADER "Authentication-Results"

/* ---- inbound ------------------------------------------------------------ */

typedef struct _RdAuth RdAuth;

/* Reads [auth] (enabled, authserv_id, trusted_authserv_ids, dns_server,
 * dns_timeout_ms, timeout) and [relaydesk] hostname. (transfer full) */
RdAuth *rd_auth_new (RdConfig *config, GError **error);
void rd_auth_free (RdAuth *auth);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdAuth, rd_auth_free)

/* Our authserv-id (transfer none). */
const char *rd_auth_authserv_id (RdAuth *auth);
/* FALSE when [auth] enabled = false: rd_auth_verify then writes
 * "none" results (RFC 8601 2.2 "none": nothing was checked). */
gboolean rd_auth_enabled (RdAuth *auth);

typedef struct {
  const char *client_addr;   /* the SMTP client's address; NULL: unknown (deliver) */
  const char *helo;          /* HELO/EHLO name or NULL */
  const char *sender;        /* envelope MAIL FROM, "" for <> */
} RdAuthInput;

/* Verifies @raw (CRLF line ends, as spooled). Returns the value of our
 * Authentication-Results field (transfer full) and fills @summary. Never
 * fails: DNS trouble is temperror, bad records permerror. */
char *rd_auth_verify (RdAuth *auth, const RdAuthInput *input, GBytes *raw, RdAuthSummary *summary);

/* DNS queries sent by the last rd_auth_verify (for logs). */
guint rd_auth_last_queries (RdAuth *auth);

/* ---- Authentication-Results (results.c) --------------------------------- */

/* Reads an Authentication-Results field value: its authserv-id
 * (transfer full, lower case, in @authserv_id when not NULL) and the
 * results into @summary (methods not present stay "none"; the DMARC
 * policy from a "(p=...)" comment or a policy.dmarc property). FALSE
 * when the value is not an Authentication-Results value at all. */
gboolean rd_auth_results_parse (const char *value, char **authserv_id, RdAuthSummary *summary);

/* The authserv-id of an Authentication-Results value, lower case, or
 * NULL (transfer full). */
char *rd_auth_results_authserv_id (const char *value);

/* The bytes the view is built from: "Authentication-Results: @value"
 * (folded) on top, then @raw without the Authentication-Results fields
 * whose authserv-id is @authserv_id (forged or stale: RFC 8601 5).
 * @value NULL: only the removal. @raw without any header field (not a
 * message) is returned as it is. (transfer full) */
GBytes *rd_auth_view_bytes (GBytes *raw, const char *authserv_id, const char *value);

/* ---- outbound: DKIM signing (sign.c) ------------------------------------ */

typedef struct _RdDkimSigner RdDkimSigner;

/* From [dkim] selector, domain, key_file; NULL and no error when [dkim]
 * is not configured (no key_file), NULL with @error when it is but the
 * key cannot be used. (transfer full) */
RdDkimSigner *rd_dkim_signer_new (RdConfig *config, GError **error);
/* The same from explicit values. */
RdDkimSigner *rd_dkim_signer_new_for (const char *selector, const char *domain, const char *key_file,
                                      GError **error);
void rd_dkim_signer_free (RdDkimSigner *signer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdDkimSigner, rd_dkim_signer_free)

/* "rsa-sha256" or "ed25519-sha256" (transfer none). */
const char *rd_dkim_signer_algorithm (RdDkimSigner *signer);

/* @raw (CRLF) with a DKIM-Signature field on top. (transfer full) */
GBytes *rd_dkim_sign (RdDkimSigner *signer, GBytes *raw, GError **error);

/* The header fields signed, in order (RFC 6376 5.4.1), NULL-terminated.
 * From is signed one time more than it occurs (5.4.2), so that no From
 * can be added. */
extern const char *const rd_dkim_signed_fields[];

typedef enum {
  RD_DKIM_KEY_RSA,       /* RSA-2048 */
  RD_DKIM_KEY_ED25519,   /* RFC 8463 */
} RdDkimKeyType;

/* Writes a new private key (PEM, mode 0600; never overwrites) to
 * @key_file and returns the TXT record's text, "v=DKIM1; k=...; p=..."
 * (transfer full). */
char *rd_dkim_keygen (RdDkimKeyType type, const char *key_file, GError **error);

/* The "v=DKIM1; k=...; p=..." text for the key in @key_file. (transfer full) */
char *rd_dkim_record_for_key (const char *key_file, GError **error);

/* The record as a zone file line: "SEL._domainkey.DOMAIN. IN TXT ( "..." "..." )"
 * in strings of at most 255 octets (RFC 1035 3.3.14). (transfer full) */
char *rd_dkim_zone_line (const char *selector, const char *domain, const char *record);

/* Does @published (a TXT record's text) carry the public key of
 * @key_file? FALSE with @error saying what differs. */
gboolean rd_dkim_check_record (const char *published, const char *key_file, GError **error);

G_END_DECLS
