/* relaydesk serve — the daemon: SMTP receiver -> spool -> desk worker. */
#include "app.h"
#include "rd-common.h"
#include "store.h"
#include "spool-writer.h"
#include "smtp-server.h"
#include "desk.h"
#include "message.h"

#include <glib-unix.h>
#include <stdio.h>

static gboolean
on_signal (gpointer data)
{
  GMainLoop *loop = data;
  rd_log (RD_LOG_INFO, "serve.signal", "action=stop");
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
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
  RdCommonOptions common = { 0 };
  g_autofree char *smtp = NULL;
  g_autofree char *smtps = NULL;
  g_autofree char *port_file = NULL;
  GOptionEntry entries[] = {
    { "smtp", 0, 0, G_OPTION_ARG_STRING, &smtp, "SMTP listener (default " RD_DEFAULT_SMTP_LISTEN "; port 0 picks a free port)", "ADDR:PORT" },
    { "smtps", 0, 0, G_OPTION_ARG_STRING, &smtps, "Implicit-TLS listener (reserved; arrives with the hardened receiver)", "ADDR:PORT" },
    { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &port_file, "Write the bound SMTP port to FILE once listening (for scripts and tests)", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("serve", NULL,
      "Runs the daemon with the embedded defaults unless --config says otherwise:\n"
      "SMTP on " RD_DEFAULT_SMTP_LISTEN ", data in " RD_DEFAULT_DATA_DIR ", every message a ticket\n"
      "in the default queue. SIGTERM or SIGINT stops it cleanly.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  g_autoptr(RdConfig) config = rd_app_load_config (&common);
  rd_common_options_clear (&common);
  if (config == NULL)
    return RD_EXIT_CONFIG;
  if (smtps != NULL)
    {
      rd_app_error ("--smtps: the implicit-TLS listener is not available in this version");
      return RD_EXIT_USAGE;
    }
  const char *listen = smtp ? smtp : rd_config_get_string (config, "smtp", "listen", RD_DEFAULT_SMTP_LISTEN);
  const char *data_dir = rd_config_get_data_dir (config);

  rd_parser_init ();
  g_autoptr(GError) error = NULL;
  /* Open (and migrate) once here so that a bad data dir fails at start. */
  g_autoptr(RdStore) store = rd_store_open (data_dir, &error);
  if (store == NULL)
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  g_clear_pointer (&store, rd_store_free);

  RdDeskWorker *worker = rd_desk_worker_start (config, &error);
  if (worker == NULL)
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  RdSpoolWriter *writer = rd_spool_writer_new (data_dir, 256, on_committed, worker, &error);
  if (writer == NULL)
    {
      rd_desk_worker_stop (worker);
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
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
  if (port_file)
    {
      g_autofree char *text = g_strdup_printf ("%u\n", port);
      if (!g_file_set_contents (port_file, text, -1, &error))
        {
          rd_app_error ("%s", error->message);
          return RD_EXIT_FAILURE;
        }
    }
  rd_log (RD_LOG_INFO, "serve.start", "version=%s data_dir=%s config=%s",
          RD_VERSION, data_dir, rd_config_get_path (config) ? rd_config_get_path (config) : "(embedded defaults)");

  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint s1 = g_unix_signal_add (SIGTERM, on_signal, loop);
  guint s2 = g_unix_signal_add (SIGINT, on_signal, loop);
  guint s3 = g_unix_signal_add (SIGHUP, on_hangup, worker);
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
  rd_log (RD_LOG_INFO, "serve.stop", "result=clean");
  return RD_EXIT_OK;
}
