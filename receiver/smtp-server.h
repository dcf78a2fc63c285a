/* relaydesk — receiver: SMTP listeners and connection I/O.
 *
 * Event-driven on the GMainContext of the thread that creates the server:
 * every connection is a nonblocking socket with a read source; sessions
 * never block each other. TLS (STARTTLS on the plain port, implicit TLS on
 * the SMTPS port, RFC 8314) runs OpenSSL over memory BIOs inside the same
 * event loop: ciphertext read from the socket goes into the SSL object,
 * plaintext comes out to the session, and the other way round.
 *
 * Complete messages go to the group-commit spool writer; the reply to
 * end-of-data is sent from its completion callback, and the connection
 * reads nothing more until then (backpressure).
 *
 * Policy at connect: connection limits (total, per client IP: 421 4.7.0),
 * then the allowlist ([allowlist] clients plus the stored entries,
 * reloaded when its change counter moves): a client not on it gets
 * 554 5.7.1 with the configured contact text, 503 to every command until
 * QUIT, and is closed after [smtp] rejected_timeout seconds.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <openssl/ssl.h>
#include "rd-config.h"
#include "spool-writer.h"

G_BEGIN_DECLS

typedef struct _RdSmtpServer RdSmtpServer;

/* Reads [smtp], [tls] and [allowlist] settings from @config; creates the
 * TLS context (generating a self-signed pair in the data directory when
 * none is configured) and opens its own store connection for the
 * allowlist. @writer must outlive the server. (transfer full) */
RdSmtpServer *rd_smtp_server_new (RdConfig *config, RdSpoolWriter *writer, GError **error);
/* The same with a TLS context made beforehand (@tls, transfer full; NULL:
 * made from the config): serve loads a configured key as root, before it
 * gives up root, so the key need not be readable by [relaydesk] user. */
RdSmtpServer *rd_smtp_server_new_with_tls (RdConfig *config, RdSpoolWriter *writer, SSL_CTX *tls, GError **error);
/* Binds "ADDR:PORT" (plain SMTP with STARTTLS). The bound port is returned
 * in @port (useful with port 0). */
gboolean rd_smtp_server_listen (RdSmtpServer *server, const char *hostport, guint16 *port, GError **error);
/* Binds "ADDR:PORT" for implicit TLS (SMTPS, RFC 8314). */
gboolean rd_smtp_server_listen_tls (RdSmtpServer *server, const char *hostport, guint16 *port, GError **error);
/* Binds and listens on "ADDR:PORT" now (as root, before the privilege
 * drop); the socket is served once given to rd_smtp_server_add_listener.
 * (transfer full) */
GSocket *rd_smtp_server_bind (const char *hostport, GError **error);
/* Serves @sock, a listening stream socket bound by rd_smtp_server_bind or
 * passed by systemd (socket activation): plain SMTP with STARTTLS, or
 * implicit TLS with @tls. @port gets its port. */
gboolean rd_smtp_server_add_listener (RdSmtpServer *server, GSocket *sock, gboolean tls, guint16 *port,
                                      GError **error);
/* Stops accepting and closes every connection (421 to each). */
void rd_smtp_server_stop (RdSmtpServer *server);
void rd_smtp_server_free (RdSmtpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdSmtpServer, rd_smtp_server_free)

guint rd_smtp_server_get_n_connections (RdSmtpServer *server);

G_END_DECLS
