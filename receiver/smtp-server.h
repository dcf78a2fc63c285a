/* relaydesk — receiver: SMTP listeners and connection I/O.
 *
 * Event-driven on the GMainContext of the thread that creates the server:
 * every connection is a nonblocking socket with a read source; sessions
 * never block each other. Complete messages go to the group-commit spool
 * writer; the reply to end-of-data is sent from its completion callback.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "spool-writer.h"

G_BEGIN_DECLS

typedef struct _RdSmtpServer RdSmtpServer;

/* Reads [smtp] settings from @config. @writer must outlive the server.
 * (transfer full) */
RdSmtpServer *rd_smtp_server_new (RdConfig *config, RdSpoolWriter *writer, GError **error);
/* Binds "ADDR:PORT" (plain SMTP). The bound port is returned in @port
 * (useful with port 0). */
gboolean rd_smtp_server_listen (RdSmtpServer *server, const char *hostport, guint16 *port, GError **error);
/* Stops accepting and closes every connection. */
void rd_smtp_server_stop (RdSmtpServer *server);
void rd_smtp_server_free (RdSmtpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdSmtpServer, rd_smtp_server_free)

guint rd_smtp_server_get_n_connections (RdSmtpServer *server);

G_END_DECLS
