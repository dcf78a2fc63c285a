/* relaydesk spool — the spool of received messages.
 *
 *   spool raw MESSAGE-ID   prints the raw bytes as stored (exit 1: none)
 *   spool status           counts per state
 */
#include "app.h"
#include "rd-common.h"
#include "store.h"

#include <stdio.h>

static RdStore *
open_store (RdCommonOptions *common, RdConfig **config_out, int *code)
{
  RdConfig *config = rd_app_load_config (common);
  rd_common_options_clear (common);
  if (config == NULL)
    {
      *code = RD_EXIT_CONFIG;
      return NULL;
    }
  *config_out = config;
  return rd_app_open_store (config, code);
}

static int
spool_raw (int argc, char **argv)
{
  g_auto(RdCommonOptions) common = { 0 };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("spool raw", "MESSAGE-ID",
      "Prints the raw stored bytes of the newest spooled message whose Message-ID\n"
      "matches (angle brackets optional). Exit 1 when there is none.", &common);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    {
      rd_app_error ("spool raw: expected one MESSAGE-ID (see --help)");
      return RD_EXIT_USAGE;
    }
  g_autoptr(RdConfig) config = NULL;
  int code = 0;
  g_autoptr(RdStore) store = open_store (&common, &config, &code);
  if (store == NULL)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdSpooled) m = rd_store_spool_find_by_message_id (store, argv[1], &error);
  if (m == NULL)
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  gsize len;
  const char *data = g_bytes_get_data (m->raw, &len);
  if (fwrite (data, 1, len, stdout) != len)
    return RD_EXIT_FAILURE;
  return RD_EXIT_OK;
}

static int
spool_status (int argc, char **argv)
{
  g_auto(RdCommonOptions) common = { 0 };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("spool status", NULL,
      "Counts spooled messages per state (new, processed, discarded, quarantined).", &common);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  g_autoptr(RdConfig) config = NULL;
  int code = 0;
  g_autoptr(RdStore) store = open_store (&common, &config, &code);
  if (store == NULL)
    return code;
  g_autoptr(GError) error = NULL;
  gint64 counts[4];
  if (!rd_store_spool_counts (store, counts, &error))
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  for (int i = 0; i < 4; i++)
    printf ("%-12s %" G_GINT64_FORMAT "\n", rd_spool_state_to_string ((RdSpoolState) i), counts[i]);
  return RD_EXIT_OK;
}

int
rd_cmd_spool (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "raw", "print the raw bytes of a spooled message by Message-ID", spool_raw },
    { "status", "count spooled messages per state", spool_status },
  };
  return rd_app_dispatch ("spool", sub, G_N_ELEMENTS (sub), NULL, argc, argv);
}
