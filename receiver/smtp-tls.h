/* relaydesk — receiver: the server's TLS context (OpenSSL).
 *
 * TLS 1.2 is the minimum (RFC 8314 §4.1 / BCP 195); renegotiation is off.
 * The certificate and key come from [tls] cert_file / key_file; when
 * neither is configured, a self-signed pair is generated on first start in
 * the data directory (tls-cert.pem, tls-key.pem mode 0600) and reused
 * afterwards (DESIGN.md "Defaults").
 */
#pragma once

#include <glib.h>
#include <openssl/ssl.h>
#include "rd-config.h"

G_BEGIN_DECLS

/* (transfer full: SSL_CTX_free) */
SSL_CTX *rd_smtp_tls_context_new (RdConfig *config, GError **error);
/* The certificate and key files serve uses: [tls] cert_file and key_file,
 * or the pair generated in the data directory (which may not exist yet).
 * @generated tells which. (transfer full) */
void rd_smtp_tls_files (RdConfig *config, char **cert, char **key, gboolean *generated);
/* Writes a new self-signed certificate for @hostname and its key (EC
 * P-256, 10 years). */
gboolean rd_smtp_tls_generate_self_signed (const char *cert_path, const char *key_path,
                                           const char *hostname, GError **error);
/* The pending OpenSSL error queue as one line, emptied. (transfer full) */
char *rd_smtp_tls_error_string (void);

G_END_DECLS
