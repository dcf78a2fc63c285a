/* relaydesk dkim — keys for DKIM signing of outbound mail (auth/sign.c).
 *
 *   relaydesk dkim keygen [--type rsa|ed25519] [--selector S] [--domain D] [--key-file F]
 * writes a new private key (mode 0600, never over an existing file) and
 * prints the DNS TXT record to publish at S._domainkey.D; then set
 * [dkim] selector, domain and key_file. `relaydesk relay check` tells
 * whether the published record matches the key.
 * Exit codes: 0 done, 1 failure, 64 usage, 65 the key file exists, 78 config. */
#include "app.h"
#include "rd-common.h"
#include "auth.h"

#include <stdio.h>
#include <string.h>

static int
dkim_keygen (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *type = NULL, *selector = NULL, *domain = NULL, *key_file = NULL;
  GOptionEntry entries[] = {
    { "type", 0, 0, G_OPTION_ARG_STRING, &type, "rsa (2048 bits, the default) or ed25519 (RFC 8463)", "TYPE" },
    { "selector", 0, 0, G_OPTION_ARG_STRING, &selector, "Selector (default [dkim] selector, else relaydesk)", "S" },
    { "domain", 0, 0, G_OPTION_ARG_STRING, &domain, "Signing domain (default [dkim] domain)", "D" },
    { "key-file", 0, 0, G_OPTION_ARG_FILENAME, &key_file,
      "Where to write the key (default [dkim] key_file, else DATA_DIR/dkim-SELECTOR.pem)", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "dkim keygen", NULL,
      "Makes a DKIM key and prints the DNS TXT record to publish.", 0, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc > 1)
    return rd_app_usage ("dkim keygen: unexpected argument '%s'", argv[1]);
  RdDkimKeyType kt = RD_DKIM_KEY_RSA;
  if (type && g_ascii_strcasecmp (type, "ed25519") == 0)
    kt = RD_DKIM_KEY_ED25519;
  else if (type && g_ascii_strcasecmp (type, "rsa") != 0)
    return rd_app_usage ("dkim keygen: --type is rsa or ed25519, not '%s'", type);
  int code = rd_app_open (&app, RD_APP_NO_STORE);
  if (code)
    return code;
  const char *sel = selector ? selector : rd_config_get_string (app.config, "dkim", "selector", NULL);
  const char *dom = domain ? domain : rd_config_get_string (app.config, "dkim", "domain", NULL);
  if (sel == NULL)
    sel = "relaydesk";
  if (dom == NULL)
    return rd_app_usage ("dkim keygen: --domain (or [dkim] domain) is needed");
  g_autofree char *path = key_file ? g_strdup (key_file)
                        : rd_config_get_string (app.config, "dkim", "key_file", NULL)
                          ? g_strdup (rd_config_get_string (app.config, "dkim", "key_file", NULL))
                          : g_strdup_printf ("%s/dkim-%s.pem", rd_config_get_data_dir (app.config), sel);
  g_autoptr(GError) error = NULL;
  g_autofree char *record = rd_dkim_keygen (kt, path, &error);
  if (record == NULL)
    {
      rd_app_error ("%s", error->message);
      return g_error_matches (error, RD_ERROR, RD_ERROR_INVALID_DATA) ? RD_EXIT_DATAERR : RD_EXIT_FAILURE;
    }
  g_autofree char *line = rd_dkim_zone_line (sel, dom, record);
  printf ("; key written to %s (%s)\n; publish this record, then set [dkim] selector = %s, domain = %s, key_file = %s\n%s\n",
          path, kt == RD_DKIM_KEY_ED25519 ? "Ed25519" : "RSA-2048", sel, dom, path, line);
  return RD_EXIT_OK;
}

int
rd_cmd_dkim (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "keygen", "make a signing key and print the DNS record to publish", dkim_keygen },
  };
  return rd_app_dispatch ("dkim", sub, G_N_ELEMENTS (sub), NULL, argc, argv);
}
