/* relaydesk store copy --to URL — through ops/ (store/copy.c says how). */
#include "app.h"
#include "rd-common.h"
#include "json.h"

#include <stdio.h>

static int
cmd_copy (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *to = NULL;
  const GOptionEntry extra[] = {
    { "to", 0, 0, G_OPTION_ARG_STRING, &to, "The empty PostgreSQL database to copy into", "URL" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "store copy", "",
      "Copies the store (the SQLite database of the data directory, or [store] url)\n"
      "into the empty PostgreSQL database at --to: tickets, messages, attachments,\n"
      "the spool, the outbox, the allowlist, the response log, the secret. The\n"
      "database is migrated first; ids and ticket numbers are kept. Then every\n"
      "table is read back and its row count and SHA-256 compared with the source.\n"
      "Stop serve first, or what it writes after the copy began stays behind.",
      RD_APP_JSON, extra, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 1)
    return rd_app_usage ("store copy: no arguments besides --to");
  if (to == NULL)
    return rd_app_usage ("store copy: give the destination with --to postgresql://...");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) report = g_ptr_array_new_with_free_func (g_free);
  if (!rd_ops_store_copy (app.ops, &app.actor, to, report, &error))
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      g_ptr_array_add (report, NULL);
      rd_json_add_strv (b, "tables", (const char *const *) report->pdata, 0);
      json_builder_end_object (b);
      rd_json_print (b);
    }
  else
    {
      for (guint i = 0; i < report->len; i++)
        printf ("%s\n", (const char *) g_ptr_array_index (report, i));
      printf ("copied and verified: %u tables\n", report->len);
    }
  return RD_EXIT_OK;
}

int
rd_cmd_store (int argc, char **argv)
{
  static const RdCommand subs[] = {
    { "copy", "copy the store into an empty PostgreSQL database, verified", cmd_copy },
  };
  return rd_app_dispatch ("store", subs, G_N_ELEMENTS (subs), NULL, argc, argv);
}
