/* relaydesk serve — the daemon: SMTP receiver -> spool -> desk worker. */
#include "app.h"
#include "example-rules.h"
#include "rd-common.h"
#include "store.h"
#include "spool-writer.h"
#include "smtp-server.h"
#include "desk.h"
#include "message.h"
#include "relay.h"
#include "privileges.h"
#include "smtp-tls.h"
#include "metrics-http.h"
#include "web.h"
#include "agents.h"
#include "rd-metrics.h"
#include "rd-systemd.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <stdio.h>
#include <errno.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

/* systemd (Type=notify): best effort, a failure is only logged. */
static void
notify (const char *state)
{
  g_autoptr(GError) error = NULL;
  if (!rd_systemd_notify (state, &error))
    rd_log (RD_LOG_WARN, "serve.notify", "error=\"%s\"", error->message);
}

static gboolean
on_signal (gpointer data)
{
  GMainLoop *loop = data;
  rd_log (RD_LOG_INFO, "serve.signal", "action=stop");
  notify ("STOPPING=1\nSTATUS=stopping");
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

/* At least 1,000 concurrent SMTP sessions: one descriptor each, plus
 * the database and listeners. Raise the soft limit to the hard one. */
static void
raise_fd_limit (void)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
    return;
  rlim_t old = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &rl) == 0)
    rd_log (RD_LOG_DEBUG, "serve.rlimit", "nofile=%lu previous=%lu",
            (unsigned long) rl.rlim_cur, (unsigned long) old);
}

/* glibc raises its mmap threshold each time a large mmapped block is
 * freed (up to 32 MB): after the first big message, every message-sized
 * buffer (raw bytes, decoded parts) came from the heaps of the threads,
 * where freed memory stays resident, and serve's RSS kept the peak of
 * several messages at once. A fixed threshold keeps big buffers in their
 * own mappings, returned to the system when freed. */
static void
tune_malloc (void)
{
#ifdef M_MMAP_THRESHOLD
  mallopt (M_MMAP_THRESHOLD, 256 * 1024);
  mallopt (M_TRIM_THRESHOLD, 1024 * 1024);
#endif
}

/* A new data directory gets an example rule file to start from; it is
 * never overwritten and not active until [rules] names it. */
static void
write_example_rules (const char *data_dir)
{
  g_autofree char *dir = g_build_filename (data_dir, "rules", NULL);
  g_autofree char *path = g_build_filename (dir, RD_EXAMPLE_RULES_NAME, NULL);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return;
  g_autoptr(GError) error = NULL;
  if (g_mkdir_with_parents (dir, 0700) != 0
      || !g_file_set_contents (path, RD_EXAMPLE_RULES, -1, &error))
    rd_log (RD_LOG_WARN, "serve.example-rules", "path=%s error=\"%s\"", path,
            error ? error->message : g_strerror (errno));
}

static gboolean
on_hangup (gpointer data)
{
  rd_log (RD_LOG_INFO, "serve.signal", "signal=HUP action=reload-rules");
  rd_desk_worker_reload (data);
  return G_SOURCE_CONTINUE;
}

static void
on_committed (guint n, gpointer data)
{
  rd_desk_worker_wake (data);
}

/* The SMTP listeners, bound before the privilege drop (or passed by
 * systemd), in the order they are served. */
typedef struct {
  GPtrArray *sockets;   /* GSocket* */
  GArray *tls;          /* gboolean: implicit TLS */
} Listeners;

static void
listeners_free (Listeners *ls)
{
  g_ptr_array_unref (ls->sockets);
  g_array_unref (ls->tls);
  g_free (ls);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Listeners, listeners_free)

static void
listeners_add (Listeners *ls, GSocket *sock, gboolean tls)
{
  g_ptr_array_add (ls->sockets, sock);
  g_array_append_val (ls->tls, tls);
}

static guint16
hostport_port (const char *hostport)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  return hostport && rd_parse_hostport (hostport, &host, &port, NULL) ? port : 0;
}

/* Socket activation (relaydesk.socket): the descriptors systemd passes.
 * One named "smtps" (FileDescriptorName=) is implicit TLS, "smtp" plain;
 * an unnamed one is implicit TLS when its port is the port of [smtp]
 * listen_tls (465 in the package's config), plain otherwise. */
static gboolean
adopt_systemd (Listeners *ls, const char *listen_tls, gint *n_out, GError **error)
{
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  gint n = rd_systemd_listen_fds (fds, names, error);
  *n_out = n;
  if (n <= 0)
    return n == 0;
  guint16 tls_port = hostport_port (listen_tls);
  for (guint i = 0; i < fds->len; i++)
    {
      int fd = g_array_index (fds, int, i);
      const char *name = g_ptr_array_index (names, i);
      GSocket *sock = g_socket_new_from_fd (fd, error);
      if (sock == NULL)
        {
          g_prefix_error (error, "socket activation: descriptor %d (%s): ", fd, name);
          return FALSE;
        }
      g_autoptr(GSocketAddress) local = g_socket_get_local_address (sock, NULL);
      guint16 port = local && G_IS_INET_SOCKET_ADDRESS (local)
                     ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : 0;
      gboolean tls = g_str_equal (name, "smtps") || (!g_str_equal (name, "smtp") && tls_port != 0 && port == tls_port);
      rd_log (RD_LOG_INFO, "serve.socket", "source=systemd fd=%d name=%s port=%u tls=%s", fd, name, port,
              tls ? "implicit" : "starttls");
      listeners_add (ls, sock, tls);
    }
  return TRUE;
}

/* The listeners: passed by systemd, or bound here from --smtp/--smtps or
 * [smtp] listen and listen_tls. The SMTPS default is a convenience: when
 * another instance on this machine holds it, serve says so and serves the
 * plain port anyway (@tls_default); an address given explicitly must be
 * bound. */
static gboolean
bind_listeners (RdConfig *config, const char *smtp, const char *smtps, Listeners **out,
                gboolean *tls_default, GError **error)
{
  g_autoptr(Listeners) ls = g_new0 (Listeners, 1);
  ls->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  ls->tls = g_array_new (FALSE, FALSE, sizeof (gboolean));
  const char *listen_tls = smtps ? smtps : rd_config_get_string (config, "smtp", "listen_tls", NULL);
  *tls_default = listen_tls == NULL;
  if (*tls_default)
    listen_tls = rd_config_get_bool (config, "tls", "enabled", TRUE) ? RD_DEFAULT_SMTPS_LISTEN : "none";
  gint n = 0;
  if (!adopt_systemd (ls, listen_tls, &n, error))
    return FALSE;
  if (n > 0)
    {
      *out = g_steal_pointer (&ls);
      return TRUE;
    }
  const char *listen = smtp ? smtp : rd_config_get_string (config, "smtp", "listen", RD_DEFAULT_SMTP_LISTEN);
  GSocket *plain = rd_smtp_server_bind (listen, error);
  if (plain == NULL)
    return FALSE;
  listeners_add (ls, plain, FALSE);
  if (g_ascii_strcasecmp (listen_tls, "none") != 0 && *listen_tls != '\0')
    {
      g_autoptr(GError) local = NULL;
      GSocket *tls = rd_smtp_server_bind (listen_tls, &local);
      if (tls != NULL)
        listeners_add (ls, tls, TRUE);
      else if (*tls_default && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        rd_log (RD_LOG_WARN, "serve.smtps", "addr=%s result=unavailable error=\"%s\"", listen_tls, local->message);
      else
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  *out = g_steal_pointer (&ls);
  return TRUE;
}

int
rd_cmd_serve (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *smtp = NULL;
  g_autofree char *smtps = NULL;
  g_autofree char *port_file = NULL;
  g_autofree char *smtps_port_file = NULL;
  g_autofree char *relay = NULL;
  g_autofree char *relay_ca = NULL;
  g_autofree char *metrics_addr = NULL;
  g_autofree char *metrics_port_file = NULL;
  g_autofree char *http_addr = NULL;
  g_autofree char *http_port_file = NULL;
  GOptionEntry entries[] = {
    { "smtp", 0, 0, G_OPTION_ARG_STRING, &smtp, "SMTP listener (default " RD_DEFAULT_SMTP_LISTEN "; port 0 picks a free port)", "ADDR:PORT" },
    { "smtps", 0, 0, G_OPTION_ARG_STRING, &smtps, "Implicit-TLS (SMTPS) listener (default " RD_DEFAULT_SMTPS_LISTEN "; 'none' disables)", "ADDR:PORT" },
    { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &port_file, "Write the bound SMTP port to FILE once listening (for scripts and tests)", "FILE" },
    { "smtps-port-file", 0, 0, G_OPTION_ARG_FILENAME, &smtps_port_file, "Write the bound SMTPS port to FILE once listening", "FILE" },
    { "relay", 0, 0, G_OPTION_ARG_STRING, &relay, "Send the outbox through this relay (smtp://HOST:PORT or smtps://HOST:PORT), instead of [relay] url", "URL" },
    { "relay-ca", 0, 0, G_OPTION_ARG_FILENAME, &relay_ca, "CA file (PEM) for the relay's certificate, instead of [relay] ca_file", "FILE" },
    { "metrics", 0, 0, G_OPTION_ARG_STRING, &metrics_addr, "HTTP listener for /metrics, /healthz, /readyz, instead of [metrics] listen ('none' disables)", "ADDR:PORT" },
    { "metrics-port-file", 0, 0, G_OPTION_ARG_FILENAME, &metrics_port_file, "Write the bound metrics port to FILE once listening", "FILE" },
    { "http", 0, 0, G_OPTION_ARG_STRING, &http_addr, "The web desk and its API, instead of [http] listen (default " RD_DEFAULT_HTTP_LISTEN "; port 0 picks a free port; 'none' disables)", "ADDR:PORT" },
    { "http-port-file", 0, 0, G_OPTION_ARG_FILENAME, &http_port_file, "Write the bound web desk port to FILE once listening", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "serve", NULL,
      "Runs the daemon with the embedded defaults unless --config says otherwise:\n"
      "SMTP on " RD_DEFAULT_SMTP_LISTEN " (STARTTLS), SMTPS on " RD_DEFAULT_SMTPS_LISTEN ", data in " RD_DEFAULT_DATA_DIR ", every message a ticket\n"
      "in the default queue. SIGTERM or SIGINT stops it cleanly.", 0, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc > 1)
    return rd_app_usage ("serve: unexpected argument '%s'", argv[1]);
  int code = rd_app_load_config (&app);
  if (code)
    return code;
  RdConfig *config = app.config;
  g_autoptr(GError) error = NULL;

  /* As root, everything that needs root comes first: the listeners (ports
   * 25 and 465), a configured TLS key; then [relaydesk] user, before any
   * mail is read or the store opened. */
  g_autoptr(Listeners) ls = NULL;
  gboolean listen_tls_default = FALSE;
  if (!bind_listeners (config, smtp, smtps, &ls, &listen_tls_default, &error))
    return rd_app_fail (error);
  g_autoptr(RdMetricsHttp) metrics = rd_metrics_http_new (config, &error);
  if (metrics == NULL)
    return rd_app_fail (error);
  const char *metrics_listen = metrics_addr ? metrics_addr : rd_config_get_string (config, "metrics", "listen", "none");
  guint16 metrics_port = 0;
  if (*metrics_listen && g_ascii_strcasecmp (metrics_listen, "none") != 0
      && !rd_metrics_http_listen (metrics, metrics_listen, &metrics_port, &error))
    return rd_app_fail (error);
  /* The web desk: bound now too (a port below 1024 needs root). Its
   * default address is a convenience, like SMTPS's: when another
   * instance holds it, serve says so and runs without. */
  g_autoptr(RdWeb) web = NULL;
  guint16 http_port = 0;
  const char *http_listen = http_addr ? http_addr : rd_config_get_string (config, "http", "listen", NULL);
  gboolean http_default = http_listen == NULL;
  if (http_default)
    http_listen = RD_DEFAULT_HTTP_LISTEN;
  if (*http_listen && g_ascii_strcasecmp (http_listen, "none") != 0)
    {
      web = rd_web_new (config, metrics, &error);
      if (web == NULL)
        return rd_app_fail (error);
      g_autoptr(GError) local = NULL;
      if (!rd_web_listen (web, http_listen, &http_port, &local))
        {
          if (!http_default || !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
            return rd_app_fail (local);
          rd_log (RD_LOG_WARN, "web.listen", "addr=%s result=unavailable error=\"%s\"", http_listen, local->message);
          g_clear_pointer (&web, rd_web_free);
        }
    }
  SSL_CTX *tls_ctx = NULL;
  if (rd_config_get_bool (config, "tls", "enabled", TRUE)
      && rd_config_get_string (config, "tls", "cert_file", NULL) != NULL)
    {
      tls_ctx = rd_smtp_tls_context_new (config, &error);
      if (tls_ctx == NULL)
        return rd_app_fail (error);
    }
  RdPrivResult priv = RD_PRIV_KEPT;
  if (!rd_privileges_drop (config, TRUE, &priv, &error) || !rd_privileges_check_data_dir (config, &error))
    {
      if (tls_ctx)
        SSL_CTX_free (tls_ctx);
      return rd_app_fail (error);
    }
  app.privileges_done = TRUE;
  if (priv == RD_PRIV_DROPPED)
    rd_log (RD_LOG_INFO, "serve.privileges", "user=%s uid=%u gid=%u",
            rd_config_get_string (config, "relaydesk", "user", NULL), (guint) getuid (), (guint) getgid ());

  /* Opens (and migrates) the database once here, so that a bad data
   * directory fails at start. */
  code = rd_app_open_store (&app, RD_APP_STORE_CREATE);
  if (code)
    {
      if (tls_ctx)
        SSL_CTX_free (tls_ctx);
      return code;
    }
  raise_fd_limit ();
  tune_malloc ();
  const char *data_dir = rd_config_get_data_dir (config);

  rd_parser_init ();
  write_example_rules (data_dir);

  /* The outbox worker: only with a relay; without one, outbound mail
   * waits in the outbox (DESIGN.md "Defaults"). */
  g_autoptr(RdRelayOutbox) outbox = NULL;
  if (relay != NULL || rd_config_get_string (config, "relay", "url", NULL) != NULL)
    {
      outbox = rd_relay_outbox_new (config, relay, relay_ca, &error);
      if (outbox == NULL)
        {
          if (tls_ctx)
            SSL_CTX_free (tls_ctx);
          return rd_app_fail (error);
        }
    }
  else
    rd_log (RD_LOG_INFO, "relay.disabled", "reason=\"no [relay] url: outbound mail waits in the outbox\"");

  RdDeskWorker *worker = rd_desk_worker_start (config, &error);
  if (worker == NULL)
    {
      if (tls_ctx)
        SSL_CTX_free (tls_ctx);
      return rd_app_fail (error);
    }
  RdSpoolWriter *writer = rd_spool_writer_new (data_dir, 256, on_committed, worker, &error);
  if (writer == NULL)
    {
      if (tls_ctx)
        SSL_CTX_free (tls_ctx);
      rd_desk_worker_stop (worker);
      return rd_app_fail (error);
    }
  RdSmtpServer *server = rd_smtp_server_new_with_tls (config, writer, tls_ctx, &error);
  guint16 port = 0, tls_port = 0;
  for (guint i = 0; server != NULL && i < ls->sockets->len && error == NULL; i++)
    {
      gboolean tls = g_array_index (ls->tls, gboolean, i);
      guint16 p = 0;
      if (rd_smtp_server_add_listener (server, g_ptr_array_index (ls->sockets, i), tls, &p, &error))
        {
          if (tls && tls_port == 0)
            tls_port = p;
          else if (!tls && port == 0)
            port = p;
        }
    }
  if (server == NULL || error != NULL)
    {
      rd_app_error ("%s", error->message);
      rd_smtp_server_free (server);
      rd_spool_writer_free (writer);
      rd_desk_worker_stop (worker);
      return rd_app_exit_code (error);
    }
  /* Catch the stop signals before telling anyone we listen: a SIGTERM
   * right after the port file appears must stop us cleanly too. */
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint s1 = g_unix_signal_add (SIGTERM, on_signal, loop);
  guint s2 = g_unix_signal_add (SIGINT, on_signal, loop);
  guint s3 = g_unix_signal_add (SIGHUP, on_hangup, worker);
  if (port_file)
    {
      g_autofree char *text = g_strdup_printf ("%u\n", port);
      if (!g_file_set_contents (port_file, text, -1, &error))
        {
          rd_app_error ("%s", error->message);
          return RD_EXIT_FAILURE;
        }
    }
  if (smtps_port_file && tls_port != 0)
    {
      g_autofree char *text = g_strdup_printf ("%u\n", tls_port);
      if (!g_file_set_contents (smtps_port_file, text, -1, &error))
        {
          rd_app_error ("%s", error->message);
          return RD_EXIT_FAILURE;
        }
    }
  if (metrics_port_file && metrics_port != 0)
    {
      g_autofree char *text = g_strdup_printf ("%u\n", metrics_port);
      if (!g_file_set_contents (metrics_port_file, text, -1, &error))
        {
          rd_app_error ("%s", error->message);
          return RD_EXIT_FAILURE;
        }
    }
  if (http_port_file && http_port != 0)
    {
      g_autofree char *text = g_strdup_printf ("%u\n", http_port);
      if (!g_file_set_contents (http_port_file, text, -1, &error))
        {
          rd_app_error ("%s", error->message);
          return RD_EXIT_FAILURE;
        }
    }
  if (web)
    {
      rd_web_set_rules_reload (web, (void (*) (gpointer)) rd_desk_worker_reload, worker);
      if (!rd_web_start (web, &error))
        return rd_app_fail (error);
      g_autofree char *url = rd_web_url (web);
      g_autoptr(GPtrArray) agents = rd_store_agents_list (app.store, NULL);
      if (agents && agents->len == 0)
        rd_log (RD_LOG_INFO, "web.ready", "url=%s first_admin=\"relaydesk agents add EMAIL --name NAME --role admin%s%s\"",
                url, rd_config_get_path (config) ? " --config " : "",
                rd_config_get_path (config) ? rd_config_get_path (config) : "");
      else
        rd_log (RD_LOG_INFO, "web.ready", "url=%s", url);
    }
  RdRelayWorker *relay_worker = outbox ? rd_relay_worker_start (g_steal_pointer (&outbox)) : NULL;
  rd_metric_set (RD_METRIC_BUILD_INFO, 1, RD_VERSION);
  rd_metric_set (RD_METRIC_START_TIME, (double) (g_get_real_time () / G_USEC_PER_SEC));
  rd_log (RD_LOG_INFO, "serve.start", "version=%s data_dir=%s config=%s uid=%u",
          RD_VERSION, data_dir, rd_config_get_path (config) ? rd_config_get_path (config) : "(embedded defaults)",
          (guint) getuid ());
  g_autofree char *status = g_strdup_printf ("READY=1\nSTATUS=accepting mail on port %u%s", port,
                                             tls_port ? " and SMTPS" : "");
  notify (status);

  g_main_loop_run (loop);
  g_source_remove (s1);
  g_source_remove (s2);
  g_source_remove (s3);

  /* Stop accepting, let the writer commit what it holds, run the
   * completions, then stop processing after the message at hand. */
  rd_smtp_server_stop (server);
  g_clear_pointer (&web, rd_web_free);
  rd_spool_writer_free (writer);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  rd_smtp_server_free (server);
  rd_desk_worker_stop (worker);
  rd_relay_worker_stop (relay_worker);
  g_clear_pointer (&metrics, rd_metrics_http_free);
  rd_log (RD_LOG_INFO, "serve.stop", "result=clean");
  return RD_EXIT_OK;
}
