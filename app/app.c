/* relaydesk — app: shared option handling. */
#include "app.h"
#include "rd-common.h"

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
rd_app_exit_code (const GError *error)
{
  if (error == NULL)
    return RD_EXIT_OK;
  if (error->domain != RD_ERROR)
    return RD_EXIT_SOFTWARE;
  switch ((RdError) error->code)
    {
    case RD_ERROR_NOT_FOUND: return RD_EXIT_FAILURE;
    case RD_ERROR_INVALID_DATA: return RD_EXIT_DATAERR;
    case RD_ERROR_TEMPORARY:
    case RD_ERROR_DISK_FULL: return RD_EXIT_TEMPFAIL;
    case RD_ERROR_CONFIG: return RD_EXIT_CONFIG;
    default: return RD_EXIT_SOFTWARE;
    }
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

GOptionContext *
rd_app_option_context (const char *name, const char *params, const char *summary,
                       RdCommonOptions *common)
{
  /* Usage lines read "relaydesk NAME [OPTION…] PARAMS". */
  g_autofree char *prg = g_strdup_printf ("relaydesk %s", name);
  g_set_prgname (prg);
  GOptionContext *ctx = g_option_context_new (params);
  g_option_context_set_summary (ctx, summary);
  GOptionEntry entries[] = {
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &common->data_dir, "Data directory (default " RD_DEFAULT_DATA_DIR ")", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &common->config_path, "Config file (relaydesk.conf, GLib key-file format)", "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &common->verbose, "Log debug messages", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_option_context_add_main_entries (ctx, entries, NULL);
  return ctx;
}

gboolean
rd_app_parse (GOptionContext *ctx, int *argc, char ***argv)
{
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      rd_app_error ("%s (see --help)", error->message);
      return FALSE;
    }
  return TRUE;
}

RdConfig *
rd_app_load_config (RdCommonOptions *common)
{
  g_autoptr(GError) error = NULL;
  RdConfig *config = rd_config_load (common->config_path, &error);
  if (config == NULL)
    {
      /* One line per problem of the file, each "FILE:LINE: ...". */
      g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);
      for (guint i = 0; lines[i]; i++)
        rd_app_error ("%s", lines[i]);
      return NULL;
    }
  if (common->data_dir)
    rd_config_set_string (config, "relaydesk", "data_dir", common->data_dir);
  rd_log_set_level (common->verbose ? RD_LOG_DEBUG : RD_LOG_INFO);
  return config;
}

void
rd_common_options_clear (RdCommonOptions *common)
{
  g_clear_pointer (&common->data_dir, g_free);
  g_clear_pointer (&common->config_path, g_free);
}

RdStore *
rd_app_open_store (RdConfig *config, int *code)
{
  g_autoptr(GError) error = NULL;
  RdStore *store = rd_store_open_existing (rd_config_get_data_dir (config), &error);
  if (store == NULL)
    {
      rd_app_error ("%s", error->message);
      *code = rd_app_exit_code (error);
    }
  return store;
}
