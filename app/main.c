/* relaydesk — main(): dispatches to the subcommands.
 *
 * Built twice (app/meson.build). `relaydesk-full` has every command.
 * `relaydesk` (RD_APP_SLIM) has the commands an agent runs hundreds of
 * times a day, linked without what only the daemon's side needs (libcurl,
 * libsoup, the SPF/DKIM/DMARC libraries and what they pull in: 24 shared
 * libraries instead of 61, most of a command's start-up); for the others
 * it execs relaydesk-full with the same arguments (same process id, file
 * descriptors and environment: systemd's notify and socket activation
 * work through it). */
#include "app.h"
#include "rd-common.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef RD_APP_SLIM
#define FULL(run) NULL
#else
#define FULL(run) run
#endif

static const RdCommand commands[] = {
  { "serve", "run the daemon: SMTP receiver, processing", FULL (rd_cmd_serve) },
  { "deliver", "store one message from stdin (for an MTA's pipe transport)", FULL (rd_cmd_deliver) },
  { "tickets", "list and show tickets", rd_cmd_tickets },
  { "agents", "manage the web desk's agents, their passwords and API tokens", rd_cmd_agents },
  { "spool", "inspect the spool of received messages", rd_cmd_spool },
  { "allowlist", "manage the SMTP client allowlist", rd_cmd_allowlist },
  { "queue", "operate the outbox of outbound messages", FULL (rd_cmd_queue) },
  { "relay", "check the path to the SMTP relay", FULL (rd_cmd_relay) },
  { "parse", "print the parsed view of message files", rd_cmd_parse },
  { "rules", "check Sieve scripts, test one on a message", rd_cmd_rules },
  { "auth", "check a message's SPF, DKIM and DMARC as serve would", FULL (rd_cmd_auth) },
  { "dkim", "make a DKIM signing key for outbound mail", FULL (rd_cmd_dkim) },
  { "config", "check the config file, print the effective settings", rd_cmd_config },
  { "backup", "copy the store, TLS key and secret while serve runs", rd_cmd_backup },
  { "restore", "restore a backup into an empty data directory", rd_cmd_restore },
  { "verify", "check the store's integrity and say what is wrong", rd_cmd_verify },
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: relaydesk [--version] [--help] COMMAND [OPTIONS]\n\n"
           "relaydesk turns inbound email into helpdesk tickets and autoresponses.\n\n"
           "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\nEvery command accepts --data-dir DIR (default %s) and --config FILE.\n"
           "Run 'relaydesk COMMAND --help' for the options of one command.\n",
           RD_DEFAULT_DATA_DIR);
}

#ifdef RD_APP_SLIM
/* relaydesk-full beside this program (the build tree), else installed. */
static int
run_full (char **argv)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname (self) : NULL;
  g_autofree char *sibling = dir ? g_build_filename (dir, "relaydesk-full", NULL) : NULL;
  const char *path = sibling && g_file_test (sibling, G_FILE_TEST_IS_EXECUTABLE) ? sibling : RD_FULL_PATH;
  execv (path, argv);
  rd_app_error ("cannot run %s: %s", path, g_strerror (errno));
  return RD_EXIT_SOFTWARE;
}
#endif

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  if (argc < 2)
    {
      usage (stderr);
      return RD_EXIT_USAGE;
    }
  if (!strcmp (argv[1], "--help") || !strcmp (argv[1], "-h") || !strcmp (argv[1], "help"))
    {
      usage (stdout);
      return RD_EXIT_OK;
    }
  if (!strcmp (argv[1], "--version") || !strcmp (argv[1], "-V"))
    {
      printf ("relaydesk %s\n", RD_VERSION);
      return RD_EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (!strcmp (argv[1], commands[i].name))
      {
#ifdef RD_APP_SLIM
        if (commands[i].run == NULL)
          return run_full (argv);
#endif
        return commands[i].run (argc - 1, argv + 1);
      }
  rd_app_error ("unknown command '%s' (see 'relaydesk --help')", argv[1]);
  return RD_EXIT_USAGE;
}
