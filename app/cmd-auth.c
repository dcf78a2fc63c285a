/* relaydesk auth check — what sender authentication finds for a message
 * file, exactly as serve checks a received one (auth/verify.c): the DNS
 * server and timeouts of [auth], the client address, HELO and envelope
 * sender given here (SMTP's are in the spool). Prints our
 * Authentication-Results field and the results, or with --json
 * {spf, dkim, dmarc, from_domain, verified, dmarc_policy, authentication_results}.
 * Exit codes: 0 checked (whatever the results), 1 unreadable file, 64 usage, 78 config. */
#include "app.h"
#include "rd-common.h"
#include "auth.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

static int
auth_check (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *client = NULL, *helo = NULL, *sender = NULL;
  GOptionEntry entries[] = {
    { "client-addr", 0, 0, G_OPTION_ARG_STRING, &client, "The SMTP client's address (none: SPF is not checked)", "IP" },
    { "helo", 0, 0, G_OPTION_ARG_STRING, &helo, "Its HELO/EHLO name", "NAME" },
    { "sender", 0, 0, G_OPTION_ARG_STRING, &sender, "Envelope sender (MAIL FROM; default <>)", "ADDR" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "auth check", "FILE",
      "Checks SPF, DKIM and DMARC of the message in FILE as serve would and prints\n"
      "the Authentication-Results field it would add.", RD_APP_JSON, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    return rd_app_usage ("auth check: one message file is needed");
  int code = rd_app_open (&app, RD_APP_NO_STORE);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (argv[1], &text, &len, &error))
    {
      rd_app_error ("%s", error->message);
      return RD_EXIT_FAILURE;
    }
  /* As spooled: CRLF line ends. */
  GString *crlf = g_string_sized_new (len + len / 40);
  for (gsize i = 0; i < len; i++)
    {
      if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
        g_string_append_c (crlf, '\r');
      g_string_append_c (crlf, text[i]);
    }
  g_autoptr(GBytes) raw = g_string_free_to_bytes (crlf);
  g_autoptr(RdAuth) auth = rd_auth_new (app.config, &error);
  if (auth == NULL)
    return rd_app_fail (error);
  RdAuthInput in = { client, helo, sender ? sender : "" };
  RdAuthSummary s;
  g_autofree char *ar = rd_auth_verify (auth, &in, raw, &s);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      rd_json_add_str (b, "spf", rd_auth_result_to_string (s.spf));
      rd_json_add_str (b, "dkim", rd_auth_result_to_string (s.dkim));
      rd_json_add_str (b, "dmarc", rd_auth_result_to_string (s.dmarc));
      rd_json_add_str (b, "from_domain", s.from_domain[0] ? s.from_domain : NULL);
      rd_json_add_bool (b, "verified", s.verified);
      rd_json_add_str (b, "dmarc_policy", s.dmarc_policy[0] ? s.dmarc_policy : NULL);
      rd_json_add_str (b, "authentication_results", ar);
      json_builder_end_object (b);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  printf ("%s: %s\n%s sender %s (From domain %s)\n", RD_AUTH_RESULTS_HEADER, ar,
          s.verified ? "✓" : "✗", s.verified ? "verified" : "not verified", s.from_domain[0] ? s.from_domain : "-");
  return RD_EXIT_OK;
}

int
rd_cmd_auth (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "check", "check SPF, DKIM and DMARC of a message file", auth_check },
  };
  return rd_app_dispatch ("auth", sub, G_N_ELEMENTS (sub), NULL, argc, argv);
}
