/* relaydesk — web: the web desk and its JSON API over HTTP (libsoup 3),
 * in serve's process and GLib main loop (docs/web.md, docs/api.md).
 *
 *   /                the UI: files of web/ui/ compiled in with GResource
 *                    (prefix /relaydesk/ui, index.html at /)
 *   /api/v1/...      the JSON API (docs/api.md), every operation through
 *                    ops/ as the CLI does
 *   /metrics, /healthz, /readyz   ops/metrics-http.h, mounted here
 *
 * The main loop only parses requests and writes answers: every request
 * that touches the database is a job on a small GThreadPool whose
 * threads each hold their own store connection ([http] threads), so
 * SMTP acceptance on the same loop never waits for a query. Live
 * updates (ticket.new, ticket.updated, presence) are server-sent events.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "metrics-http.h"

G_BEGIN_DECLS

typedef struct _RdWeb RdWeb;

/* Reads [http] (TLS certificate included, so a bad one fails at start).
 * @metrics (may be NULL) is mounted on the same server. (transfer full) */
RdWeb *rd_web_new (RdConfig *config, RdMetricsHttp *metrics, GError **error);
void rd_web_free (RdWeb *web);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdWeb, rd_web_free)

/* Binds "ADDR:PORT" (before the privilege drop); @port gets the bound
 * port (port 0 picks one). Requests are answered once the loop runs and
 * rd_web_start() was called. */
gboolean rd_web_listen (RdWeb *web, const char *hostport, guint16 *port, GError **error);
/* The URL of the first listener ("http://127.0.0.1:8025/"). (transfer full) */
char *rd_web_url (RdWeb *web);

/* Called (on the main loop) after the rules were saved from the rule
 * playground, so serve compiles them again as on SIGHUP. */
void rd_web_set_rules_reload (RdWeb *web, void (*reload) (gpointer data), gpointer data);

/* Starts the database threads and the live-update poller: after the
 * store was created and migrated. */
gboolean rd_web_start (RdWeb *web, GError **error);

G_END_DECLS
