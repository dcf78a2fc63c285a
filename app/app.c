/* relaydesk — app: the preamble every subcommand shares (see app.h). */
#include "app.h"
#include "rd-common.h"
#include "privileges.h"

#include <stdio.h>
#include <stdarg.h>
#include <string.h>

void
rd_app_error (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "relaydesk: %s\n", msg);
}

int
rd_app_usage (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "relaydesk: %s (see --help)\n", msg);
  return RD_EXIT_USAGE;
}

int
rd_app_exit_code (const GError *error)
{
  if (error == NULL)
    return RD_EXIT_OK;
  if (error->domain != RD_ERROR)
    return RD_EXIT_SOFTWARE;
  switch ((RdError) error->code)
    {
    case RD_ERROR_NOT_FOUND: return RD_EXIT_FAILURE;
    case RD_ERROR_INVALID_DATA:
    case RD_ERROR_LIMIT:
    case RD_ERROR_CONFLICT: return RD_EXIT_DATAERR;
    case RD_ERROR_TEMPORARY:
    case RD_ERROR_DISK_FULL: return RD_EXIT_TEMPFAIL;
    case RD_ERROR_PERMISSION: return RD_EXIT_NOPERM;
    case RD_ERROR_CONFIG: return RD_EXIT_CONFIG;
    default: return RD_EXIT_SOFTWARE;
    }
}

int
rd_app_fail (const GError *error)
{
  /* One line per problem (a config file's are "FILE:LINE: ..." each). */
  g_auto(GStrv) lines = g_strsplit (error ? error->message : "unknown error", "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (*lines[i])
      rd_app_error ("%s", lines[i]);
  return rd_app_exit_code (error);
}

int
rd_app_dispatch (const char *group, const RdCommand *subs, guint n_subs,
                 const char *footer, int argc, char **argv)
{
  if (argc >= 2)
    for (guint i = 0; i < n_subs; i++)
      if (g_str_equal (argv[1], subs[i].name))
        return subs[i].run (argc - 1, argv + 1);
  gboolean help = argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"));
  if (argc >= 2 && !help)
    rd_app_error ("%s: unknown command '%s'", group, argv[1]);
  FILE *out = help ? stdout : stderr;
  int width = 0;
  for (guint i = 0; i < n_subs; i++)
    width = MAX (width, (int) strlen (subs[i].name));
  fprintf (out, "Usage: relaydesk %s COMMAND [OPTIONS]\n\nCommands:\n", group);
  for (guint i = 0; i < n_subs; i++)
    fprintf (out, "  %-*s  %s\n", width, subs[i].name, subs[i].summary);
  fprintf (out, "\nRun 'relaydesk %s COMMAND --help' for the options of one command.\n", group);
  if (footer)
    fprintf (out, "%s", footer);
  return help ? RD_EXIT_OK : RD_EXIT_USAGE;
}

gboolean
rd_app_parse (RdApp *app, const char *name, const char *params, const char *summary, RdAppFlags flags,
              const GOptionEntry *extra, int *argc, char ***argv)
{
  /* Usage lines read "relaydesk NAME [OPTION…] PARAMS". */
  g_autofree char *prg = g_strdup_printf ("relaydesk %s", name);
  g_set_prgname (prg);
  g_autoptr(GOptionContext) ctx = g_option_context_new (params);
  g_option_context_set_summary (ctx, summary);
  GOptionEntry common[] = {
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &app->data_dir, "Data directory (default " RD_DEFAULT_DATA_DIR ")", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &app->config_path, "Config file (relaydesk.conf, GLib key-file format)", "FILE" },
    { "database", 0, 0, G_OPTION_ARG_STRING, &app->database, "PostgreSQL URL of the store ([store] url; default SQLite in the data directory)", "URL" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &app->verbose, "Log debug messages", NULL },
    { "log-format", 0, 0, G_OPTION_ARG_STRING, &app->log_format, "Log lines as text (key=value, the default) or json (one object a line)", "text|json" },
    G_OPTION_ENTRY_NULL
  };
  GOptionEntry json[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &app->json, "Print JSON (fields: docs/api.md)", NULL },
    G_OPTION_ENTRY_NULL
  };
  GOptionEntry actor[] = {
    { "as", 0, 0, G_OPTION_ARG_STRING, &app->actor_name, "Agent name for the audit log (default $USER)", "NAME" },
    G_OPTION_ENTRY_NULL
  };
  g_option_context_add_main_entries (ctx, common, NULL);
  if (flags & RD_APP_JSON)
    g_option_context_add_main_entries (ctx, json, NULL);
  if (flags & RD_APP_ACTOR)
    g_option_context_add_main_entries (ctx, actor, NULL);
  if (extra)
    g_option_context_add_main_entries (ctx, extra, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      rd_app_error ("%s (see --help)", error->message);
      return FALSE;
    }
  RdLogFormat format = RD_LOG_FORMAT_TEXT;
  if (app->log_format && !rd_log_format_parse (app->log_format, &format))
    {
      rd_app_error ("--log-format: '%s' is not text or json (see --help)", app->log_format);
      return FALSE;
    }
  rd_log_set_format (format);
  return TRUE;
}

int
rd_app_load_config (RdApp *app)
{
  g_autoptr(GError) error = NULL;
  app->config = rd_config_load (app->config_path, &error);
  if (app->config == NULL)
    return rd_app_fail (error);
  if (app->data_dir)
    rd_config_set_string (app->config, "relaydesk", "data_dir", app->data_dir);
  if (app->database)
    rd_config_set_string (app->config, "store", "url", app->database);
  if (!rd_config_check_errors (app->config, &error))
    return rd_app_fail (error);
  rd_log_set_level (app->verbose ? RD_LOG_DEBUG : RD_LOG_INFO);
  return RD_EXIT_OK;
}

int
rd_app_open (RdApp *app, RdAppStore mode)
{
  int code = rd_app_load_config (app);
  return code ? code : rd_app_open_store (app, mode);
}

int
rd_app_become_user (RdApp *app)
{
  g_autoptr(GError) error = NULL;
  if (app->privileges_done)
    return RD_EXIT_OK;
  RdPrivResult priv = RD_PRIV_KEPT;
  if (!rd_privileges_drop (app->config, FALSE, &priv, &error)
      || (priv == RD_PRIV_DROPPED && !rd_privileges_check_data_dir (app->config, &error)))
    return rd_app_fail (error);
  app->privileges_done = TRUE;
  return RD_EXIT_OK;
}

int
rd_app_open_store (RdApp *app, RdAppStore mode)
{
  g_autoptr(GError) error = NULL;
  /* Root becomes [relaydesk] user before the store is opened, so the
   * database and its -wal/-shm files always belong to the user serve
   * runs as. */
  int code = mode != RD_APP_NO_STORE ? rd_app_become_user (app) : RD_EXIT_OK;
  if (code)
    return code;
  const char *dir = rd_config_get_store_location (app->config);
  /* A postgresql:// store from the slim `relaydesk`: relaydesk-full has
   * the driver (app/main.c). */
  if (mode != RD_APP_NO_STORE && !rd_store_backend_available (dir))
    return rd_app_run_full ();
  switch (mode)
    {
    case RD_APP_NO_STORE:
      break;
    case RD_APP_STORE_CREATE:
      app->store = rd_store_open (dir, &error);
      break;
    case RD_APP_STORE_EXISTING:
    case RD_APP_STORE_OPTIONAL:
      app->store = rd_store_open_existing (dir, &error);
      if (app->store == NULL && mode == RD_APP_STORE_OPTIONAL
          && g_error_matches (error, RD_ERROR, RD_ERROR_NOT_FOUND))
        g_clear_error (&error);
      break;
    }
  if (error)
    return rd_app_fail (error);
  app->ops = rd_ops_new (app->config, app->store, &error);
  if (app->ops == NULL)
    return rd_app_fail (error);
  if (app->actor_name == NULL)
    {
      const char *u = g_getenv ("USER");
      app->actor_name = g_strdup (u && *u ? u : "agent");
    }
  app->actor = (RdActor) { .name = app->actor_name, .admin = TRUE, .queues = NULL };
  return RD_EXIT_OK;
}

void
rd_app_clear (RdApp *app)
{
  g_clear_pointer (&app->ops, rd_ops_free);
  g_clear_pointer (&app->store, rd_store_free);
  g_clear_pointer (&app->config, rd_config_free);
  g_clear_pointer (&app->data_dir, g_free);
  g_clear_pointer (&app->config_path, g_free);
  g_clear_pointer (&app->database, g_free);
  g_clear_pointer (&app->actor_name, g_free);
  g_clear_pointer (&app->log_format, g_free);
}
