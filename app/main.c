/* relaydesk — main(): dispatches to the subcommands. */
#include "app.h"
#include "rd-common.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const RdCommand commands[] = {
  { "serve", "run the daemon: SMTP receiver, processing", rd_cmd_serve },
  { "deliver", "store one message from stdin (for an MTA's pipe transport)", rd_cmd_deliver },
  { "tickets", "list and show tickets", rd_cmd_tickets },
  { "agents", "manage the web desk's agents, their passwords and API tokens", rd_cmd_agents },
  { "spool", "inspect the spool of received messages", rd_cmd_spool },
  { "allowlist", "manage the SMTP client allowlist", rd_cmd_allowlist },
  { "queue", "operate the outbox of outbound messages", rd_cmd_queue },
  { "relay", "check the path to the SMTP relay", rd_cmd_relay },
  { "parse", "print the parsed view of message files", rd_cmd_parse },
  { "rules", "check Sieve scripts, test one on a message", rd_cmd_rules },
  { "auth", "check a message's SPF, DKIM and DMARC as serve would", rd_cmd_auth },
  { "dkim", "make a DKIM signing key for outbound mail", rd_cmd_dkim },
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
      return commands[i].run (argc - 1, argv + 1);
  rd_app_error ("unknown command '%s' (see 'relaydesk --help')", argv[1]);
  return RD_EXIT_USAGE;
}
