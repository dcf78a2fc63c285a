/* relaydesk spool — the spool of received messages.
 *
 *   spool raw MESSAGE-ID   prints the raw bytes as stored (exit 1: none)
 *   spool status           counts per state
 */
#include "app.h"
#include "rd-common.h"

#include <stdio.h>

static int
spool_raw (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "spool raw", "MESSAGE-ID",
                     "Prints the raw stored bytes of the newest spooled message whose Message-ID\n"
                     "matches (angle brackets optional). Exit 1 when there is none.", 0, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    return rd_app_usage ("spool raw: expected one MESSAGE-ID");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdSpooled) m = rd_ops_spool_find (app.ops, &app.actor, argv[1], &error);
  if (m == NULL)
    return rd_app_fail (error);
  gsize len;
  const char *data = g_bytes_get_data (m->raw, &len);
  if (fwrite (data, 1, len, stdout) != len)
    return RD_EXIT_FAILURE;
  return RD_EXIT_OK;
}

static int
spool_status (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "spool status", NULL,
                     "Counts spooled messages per state (new, processed, discarded, quarantined).", 0, NULL, &argc,
                     &argv))
    return RD_EXIT_USAGE;
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  gint64 counts[RD_SPOOL_STATE_N];
  if (!rd_ops_spool_counts (app.ops, &app.actor, counts, &error))
    return rd_app_fail (error);
  for (int i = 0; i < RD_SPOOL_STATE_N; i++)
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
