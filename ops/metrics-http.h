/* relaydesk — /metrics, /healthz and /readyz over HTTP (libsoup 3).
 *
 *   GET /metrics   every metric in the Prometheus text format 0.0.4
 *                  (common/rd-metrics.h), the store's gauges read at
 *                  the scrape
 *   GET /healthz   200 "ok": the process is alive and its loop turns
 *   GET /readyz    200 when the database takes a write and the spool
 *                  backlog is at most [metrics] max_backlog, else 503;
 *                  a JSON body says which
 *
 * Only clients in [metrics] clients (default loopback) are answered;
 * others get 403 with a JSON body. The store is read on a worker thread
 * with its own connection (never on the main loop), one scrape at a
 * time.
 *
 * serve listens on [metrics] listen with a SoupServer of its own
 * (rd_metrics_http_listen); the web desk mounts the same handler on its
 * server instead (rd_metrics_http_mount, or rd_metrics_http_handler as a
 * SoupServerCallback with the RdMetricsHttp as user data).
 */
#pragma once

#include <glib.h>
#include <libsoup/soup.h>
#include "rd-config.h"

G_BEGIN_DECLS

typedef struct _RdMetricsHttp RdMetricsHttp;

/* Reads [metrics] clients and max_backlog. @config must outlive it; the
 * store of its data directory is opened at the first scrape. (transfer full) */
RdMetricsHttp *rd_metrics_http_new (RdConfig *config, GError **error);
void rd_metrics_http_free (RdMetricsHttp *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdMetricsHttp, rd_metrics_http_free)

/* The SoupServerCallback for the three paths; @user_data: the RdMetricsHttp. */
void rd_metrics_http_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
                              GHashTable *query, gpointer user_data);
/* Adds /metrics, /healthz and /readyz to @server. */
void rd_metrics_http_mount (RdMetricsHttp *m, SoupServer *server);

/* serve's own listener: binds "ADDR:PORT" now (before the privilege
 * drop) and answers from the main loop once it runs. @port gets the
 * bound port (port 0 picks one). */
gboolean rd_metrics_http_listen (RdMetricsHttp *m, const char *hostport, guint16 *port, GError **error);

G_END_DECLS
