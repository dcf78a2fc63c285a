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

#include <gio/gio.h>
#include <glib-unix.h>
#include <stdio.h>
#include <errno.h>
#include <sys/resource.h>

static gboolean
on_signal (gpointer data)
{
  GMainLoop *loop = data;
  rd_log (RD_LOG_INFO, "serve.signal", "action=stop");
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
  GOptionEntry entries[] = {
    { "smtp", 0, 0, G_OPTION_ARG_STRING, &smtp, "SMTP listener (default " RD_DEFAULT_SMTP_LISTEN "; port 0 picks a free port)", "ADDR:PORT" },
    { "smtps", 0, 0, G_OPTION_ARG_STRING, &smtps, "Implicit-TLS (SMTPS) listener (default " RD_DEFAULT_SMTPS_LISTEN "; 'none' disables)", "ADDR:PORT" },
    { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &port_file, "Write the bound SMTP port to FILE once listening (for scripts and tests)", "FILE" },
    { "smtps-port-file", 0, 0, G_OPTION_ARG_FILENAME, &smtps_port_file, "Write the bound SMTPS port to FILE once listening", "FILE" },
    { "relay", 0, 0, G_OPTION_ARG_STRING, &relay, "Send the outbox through this relay (smtp://HOST:PORT or smtps://HOST:PORT), instead of [relay] url", "URL" },
    { "relay-ca", 0, 0, G_OPTION_ARG_FILENAME, &relay_ca, "CA file (PEM) for the relay's certificate, instead of [relay] ca_file", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "serve", NULL,
      "Runs the daemon with the embedded defaults unless --config says otherwise:\n"
      "SMTP on " RD_DEFAULT_SMTP_LISTEN " (STARTTLS), SMTPS on " RD_DEFAULT_SMTPS_LISTEN ", data in " RD_DEFAULT_DATA_DIR ", every message a ticket\n"
      "in the default queue. SIGTERM or SIGINT stops it cleanly.", 0, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc > 1)
    return rd_app_usage ("serve: unexpected argument '%s'", argv[1]);
  /* Opens (and migrates) the database once here, so that a bad data
   * directory fails at start. */
  int code = rd_app_open (&app, RD_APP_STORE_CREATE);
  if (code)
    return code;
  RdConfig *config = app.config;
  /* The SMTPS default is a convenience: when another instance on this
   * machine holds it, say so and serve the plain port anyway. An address
   * given explicitly must be bound. */
  const char *listen_tls = smtps ? smtps : rd_config_get_string (config, "smtp", "listen_tls", NULL);
  gboolean listen_tls_default = listen_tls == NULL;
  if (listen_tls_default)
    listen_tls = RD_DEFAULT_SMTPS_LISTEN;
  if (!g_ascii_strcasecmp (listen_tls, "none") || *listen_tls == '\0')
    listen_tls = NULL;
  raise_fd_limit ();
  const char *listen = smtp ? smtp : rd_config_get_string (config, "smtp", "listen", RD_DEFAULT_SMTP_LISTEN);
  const char *data_dir = rd_config_get_data_dir (config);

  rd_parser_init ();
  g_autoptr(GError) error = NULL;
  write_example_rules (data_dir);

  /* The outbox worker: only with a relay; without one, outbound mail
   * waits in the outbox (DESIGN.md "Defaults"). */
  g_autoptr(RdRelayOutbox) outbox = NULL;
  if (relay != NULL || rd_config_get_string (config, "relay", "url", NULL) != NULL)
    {
      outbox = rd_relay_outbox_new (config, relay, relay_ca, &error);
      if (outbox == NULL)
        {
          return rd_app_fail (error);
        }
    }
  else
    rd_log (RD_LOG_INFO, "relay.disabled", "reason=\"no [relay] url: outbound mail waits in the outbox\"");

  RdDeskWorker *worker = rd_desk_worker_start (config, &error);
  if (worker == NULL)
    {
      return rd_app_fail (error);
    }
  RdSpoolWriter *writer = rd_spool_writer_new (data_dir, 256, on_committed, worker, &error);
  if (writer == NULL)
    {
      rd_desk_worker_stop (worker);
      return rd_app_fail (error);
    }
  RdSmtpServer *server = rd_smtp_server_new (config, writer, &error);
  guint16 port = 0;
  if (server == NULL || !rd_smtp_server_listen (server, listen, &port, &error))
    {
      rd_app_error ("%s", error->message);
      rd_smtp_server_free (server);
      rd_spool_writer_free (writer);
      rd_desk_worker_stop (worker);
      return rd_app_exit_code (error);
    }
  guint16 tls_port = 0;
  if (listen_tls != NULL && !rd_smtp_server_listen_tls (server, listen_tls, &tls_port, &error))
    {
      if (listen_tls_default && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        {
          rd_log (RD_LOG_WARN, "serve.smtps", "addr=%s result=unavailable error=\"%s\"", listen_tls, error->message);
          g_clear_error (&error);
        }
      else
        {
          rd_app_error ("%s", error->message);
          rd_smtp_server_free (server);
          rd_spool_writer_free (writer);
          rd_desk_worker_stop (worker);
          return rd_app_exit_code (error);
        }
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
  RdRelayWorker *relay_worker = outbox ? rd_relay_worker_start (g_steal_pointer (&outbox)) : NULL;
  rd_log (RD_LOG_INFO, "serve.start", "version=%s data_dir=%s config=%s",
          RD_VERSION, data_dir, rd_config_get_path (config) ? rd_config_get_path (config) : "(embedded defaults)");

  g_main_loop_run (loop);
  g_source_remove (s1);
  g_source_remove (s2);
  g_source_remove (s3);

  /* Stop accepting, let the writer commit what it holds, run the
   * completions, then stop processing after the message at hand. */
  rd_smtp_server_stop (server);
  rd_spool_writer_free (writer);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  rd_smtp_server_free (server);
  rd_desk_worker_stop (worker);
  rd_relay_worker_stop (relay_worker);
  rd_log (RD_LOG_INFO, "serve.stop", "result=clean");
  return RD_EXIT_OK;
}
