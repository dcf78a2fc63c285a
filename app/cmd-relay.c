/* relaydesk relay check — diagnoses the path to the relay (relay/check.c).
 * Exit codes: 0 every step passed, 1 a step failed, 64 usage, 78 config. */
#include "app.h"
#include "rd-common.h"
#include "relay.h"

#include <stdio.h>
#include <string.h>

static int
relay_check (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *relay = NULL;
  g_autofree char *relay_ca = NULL;
  g_autofree char *send_test = NULL;
  g_autofree char *from = NULL;
  GOptionEntry entries[] = {
    { "relay", 0, 0, G_OPTION_ARG_STRING, &relay, "Relay URL (smtp://HOST:PORT or smtps://HOST:PORT), instead of [relay] url", "URL" },
    { "relay-ca", 0, 0, G_OPTION_ARG_FILENAME, &relay_ca, "CA file (PEM) to verify the relay's certificate, instead of [relay] ca_file", "FILE" },
    { "send-test", 0, 0, G_OPTION_ARG_STRING, &send_test, "Also send a test message to ADDR and show the relay's queue id", "ADDR" },
    { "from", 0, 0, G_OPTION_ARG_STRING, &from, "Envelope sender of the test message (default relaydesk@HOSTNAME)", "ADDR" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "relay check", NULL,
      "Checks each step toward the relay: name resolution, TCP connect (and from\n"
      "which source address), TLS with certificate verification, the greeting (and a\n"
      "554 from a relay that has not allowlisted us), EHLO, STARTTLS, AUTH; with\n"
      "--send-test one real message. Each step prints ✓ or ✗ with its time.\n"
      "Exit 0 only when every step passed.", 0, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc > 1)
    return rd_app_usage ("relay check: unexpected argument '%s'", argv[1]);
  int code = rd_app_open (&app, RD_APP_NO_STORE);
  if (code)
    return code;
  return rd_relay_check_run (app.config, relay, relay_ca, send_test, from, stdout) ? RD_EXIT_OK : RD_EXIT_FAILURE;
}

int
rd_cmd_relay (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "check", "diagnose the path to the relay step by step", relay_check },
  };
  return rd_app_dispatch ("relay", sub, G_N_ELEMENTS (sub), NULL, argc, argv);
}
