/* relaydesk — /metrics, /healthz, /readyz (see metrics-http.h). */
#include "metrics-http.h"
#include "ops.h"
#include "allowlist.h"
#include "rd-common.h"
#include "rd-metrics.h"

#include <json-glib/json-glib.h>
#include <string.h>

struct _RdMetricsHttp {
  RdConfig *config;
  RdAllowlist *clients;
  gint64 max_backlog;
  SoupServer *server;      /* our own listener, or NULL */
  GMutex lock;             /* one scrape at a time; guards store and ops */
  RdStore *store;
  RdOps *ops;
};

/* Scrapes run on a worker thread and hold a reference (an atomic
 * refcounted box), so freeing while one runs is safe. */
static void
metrics_http_finalize (RdMetricsHttp *m)
{
  g_clear_pointer (&m->ops, rd_ops_free);
  g_clear_pointer (&m->store, rd_store_free);
  rd_allowlist_free (m->clients);
  g_mutex_clear (&m->lock);
}

static void
metrics_http_unref (RdMetricsHttp *m)
{
  g_atomic_rc_box_release_full (m, (GDestroyNotify) metrics_http_finalize);
}

RdMetricsHttp *
rd_metrics_http_new (RdConfig *config, GError **error)
{
  g_autoptr(RdAllowlist) clients = rd_allowlist_new ();
  g_auto(GStrv) cidrs = rd_config_get_list (config, "metrics", "clients");
  for (guint i = 0; cidrs && cidrs[i]; i++)
    {
      g_autofree char *c = g_strstrip (g_strdup (cidrs[i]));
      if (*c && !rd_allowlist_add (clients, c, 0, error))
        {
          g_prefix_error (error, "[metrics] clients: ");
          return NULL;
        }
    }
  RdMetricsHttp *m = g_atomic_rc_box_new0 (RdMetricsHttp);
  m->config = config;
  m->clients = g_steal_pointer (&clients);
  m->max_backlog = rd_config_get_int (config, "metrics", "max_backlog", 10000);
  g_mutex_init (&m->lock);
  return m;
}

void
rd_metrics_http_free (RdMetricsHttp *m)
{
  if (m == NULL)
    return;
  if (m->server)
    {
      soup_server_disconnect (m->server);
      g_clear_object (&m->server);
    }
  metrics_http_unref (m);
}

static void
respond (SoupServerMessage *msg, guint status, const char *type, char *body)
{
  soup_server_message_set_status (msg, status, NULL);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_response (msg, type, SOUP_MEMORY_TAKE, body, strlen (body));
}

static char *
json_error (const char *text)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, text);
  json_builder_end_object (b);
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  char *s = json_to_string (root, FALSE);
  char *out = g_strconcat (s, "\n", NULL);
  g_free (s);
  return out;
}

static gboolean
client_allowed (RdMetricsHttp *m, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS (remote))
    return FALSE;
  GInetAddress *ia = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  return rd_allowlist_match (m->clients, g_inet_address_to_bytes (ia), g_inet_address_get_native_size (ia),
                             g_get_real_time () / G_USEC_PER_SEC);
}

/* ---- the scrape, on a worker thread ------------------------------------ */

typedef struct {
  RdMetricsHttp *m;            /* a reference */
  SoupServerMessage *msg;      /* a reference */
  gboolean readyz;
  guint status;
  const char *type;
  char *body;
} Scrape;

static void
scrape_free (Scrape *s)
{
  metrics_http_unref (s->m);
  g_object_unref (s->msg);
  g_free (s->body);
  g_free (s);
}

static char *
readyz_body (const RdOpsHealth *h, const char *error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ready");
  json_builder_add_boolean_value (b, h ? h->ready : FALSE);
  json_builder_set_member_name (b, "database");
  json_builder_add_string_value (b, h && h->writable ? "writable" : "not writable");
  if (error || (h && h->write_error))
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, error ? error : h->write_error);
    }
  if (h)
    {
      json_builder_set_member_name (b, "backlog");
      json_builder_add_int_value (b, h->backlog);
      json_builder_set_member_name (b, "max_backlog");
      json_builder_add_int_value (b, h->max_backlog);
      json_builder_set_member_name (b, "oldest_unprocessed_age_seconds");
      json_builder_add_int_value (b, h->oldest_age);
    }
  json_builder_end_object (b);
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autofree char *s = json_to_string (root, FALSE);
  return g_strconcat (s, "\n", NULL);
}

static void
scrape_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Scrape *s = data;
  RdMetricsHttp *m = s->m;
  static const RdActor actor = { "metrics", TRUE, NULL };
  g_autoptr(GError) error = NULL;
  g_auto(RdOpsHealth) health = { 0 };
  gboolean collected = FALSE;
  g_mutex_lock (&m->lock);
  if (m->store == NULL)
    {
      m->store = rd_store_open_existing (rd_config_get_store_location (m->config), &error);
      if (m->store)
        m->ops = rd_ops_new (m->config, m->store, &error);
      if (m->ops == NULL)
        g_clear_pointer (&m->store, rd_store_free);
    }
  if (m->ops)
    collected = rd_ops_metrics_collect (m->ops, &actor, m->max_backlog, &health, &error);
  if (!collected)
    {
      rd_metric_set (RD_METRIC_READY, 0);
      /* A broken connection is opened afresh next time. */
      g_clear_pointer (&m->ops, rd_ops_free);
      g_clear_pointer (&m->store, rd_store_free);
      rd_log (RD_LOG_WARN, "metrics.collect", "error=\"%s\"", error ? error->message : "unknown");
    }
  g_mutex_unlock (&m->lock);
  if (s->readyz)
    {
      s->status = collected && health.ready ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE;
      s->type = "application/json";
      s->body = readyz_body (collected ? &health : NULL, collected ? NULL : error->message);
    }
  else
    {
      /* The counters are worth having even when the store is not. */
      s->status = SOUP_STATUS_OK;
      s->type = "text/plain; version=0.0.4; charset=utf-8";
      s->body = rd_metrics_render ();
    }
  g_task_return_boolean (task, TRUE);
}

static void
scrape_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Scrape *s = g_task_get_task_data (G_TASK (res));
  respond (s->msg, s->status, s->type, g_steal_pointer (&s->body));
  soup_server_message_unpause (s->msg);
}

void
rd_metrics_http_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
                         GHashTable *query, gpointer user_data)
{
  RdMetricsHttp *m = user_data;
  const char *method = soup_server_message_get_method (msg);
  if (!client_allowed (m, msg))
    {
      respond (msg, SOUP_STATUS_FORBIDDEN, "application/json",
               json_error ("this address may not read the metrics ([metrics] clients)"));
      return;
    }
  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
      respond (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "application/json", json_error ("use GET"));
      return;
    }
  if (strcmp (path, "/healthz") == 0)
    {
      respond (msg, SOUP_STATUS_OK, "text/plain; charset=utf-8", g_strdup ("ok\n"));
      return;
    }
  if (strcmp (path, "/metrics") != 0 && strcmp (path, "/readyz") != 0)
    {
      respond (msg, SOUP_STATUS_NOT_FOUND, "application/json", json_error ("not found"));
      return;
    }
  Scrape *s = g_new0 (Scrape, 1);
  s->m = g_atomic_rc_box_acquire (m);
  s->msg = g_object_ref (msg);
  s->readyz = strcmp (path, "/readyz") == 0;
  soup_server_message_pause (msg);
  g_autoptr(GTask) task = g_task_new (NULL, NULL, scrape_done, NULL);
  g_task_set_task_data (task, s, (GDestroyNotify) scrape_free);
  g_task_run_in_thread (task, scrape_thread);
}

void
rd_metrics_http_mount (RdMetricsHttp *m, SoupServer *server)
{
  static const char *const paths[] = { "/metrics", "/healthz", "/readyz" };
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    soup_server_add_handler (server, paths[i], rd_metrics_http_handler, g_atomic_rc_box_acquire (m),
                             (GDestroyNotify) metrics_http_unref);
}

gboolean
rd_metrics_http_listen (RdMetricsHttp *m, const char *hostport, guint16 *port, GError **error)
{
  g_return_val_if_fail (m->server == NULL, FALSE);
  g_autofree char *host = NULL;
  guint16 p = 0;
  if (!rd_parse_hostport (hostport, &host, &p, error))
    {
      g_prefix_error (error, "[metrics] listen: ");
      return FALSE;
    }
  g_autoptr(GInetAddress) ia = g_inet_address_new_from_string (host);
  if (ia == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "[metrics] listen: '%s' is not an IP address", host);
      return FALSE;
    }
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (ia, p);
  g_autoptr(SoupServer) server = soup_server_new ("server-header", "relaydesk", NULL);
  if (!soup_server_listen (server, sa, 0, error))
    {
      g_prefix_error (error, "cannot listen on %s: ", hostport);
      return FALSE;
    }
  rd_metrics_http_mount (m, server);
  GSList *listeners = soup_server_get_listeners (server);
  guint16 bound = p;
  if (listeners)
    {
      g_autoptr(GSocketAddress) local = g_socket_get_local_address (listeners->data, NULL);
      if (local && G_IS_INET_SOCKET_ADDRESS (local))
        bound = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
    }
  g_slist_free (listeners);
  if (port)
    *port = bound;
  rd_log (RD_LOG_INFO, "metrics.listen", "addr=%s port=%u paths=/metrics,/healthz,/readyz", host, bound);
  m->server = g_steal_pointer (&server);
  return TRUE;
}
