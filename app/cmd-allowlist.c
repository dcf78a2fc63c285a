/* relaydesk allowlist — which client addresses the SMTP receiver serves.
 *
 *   allowlist add CIDR [--staging] [--days N | --expires DATE] [metadata]
 *   allowlist list [--json]
 *   allowlist remove CIDR|ID
 *
 * Changes take effect in a running `serve` at its next connection, without
 * a restart (store/allowlist.h: a change counter). Entries from the config
 * ([allowlist] clients, default loopback) are listed too, marked "config";
 * they are changed in the config file, not here. The rules of the relay
 * request form (a staging entry expires within 15 days, ...) are in
 * ops/allowlist.c, for every front end.
 *
 * JSON fields (--json, ops/json.h), stable for scripts: an array of
 * objects with id (null for config entries), cidr, source
 * ("config"|"store"), created_at, expires_at (ISO 8601 UTC or null),
 * expired (bool), staging, application, admin_name, admin_email,
 * location, note (string or null).
 *
 * Exit codes: 0 ok, 1 no such entry, 64 bad input, 75 database busy.
 */
#include "app.h"
#include "json.h"
#include "rd-common.h"

#include <stdio.h>
#include <string.h>

/* "2026-12-01", "2026-12-01T10:00:00Z" or any ISO 8601 with a zone. */
static gboolean
parse_date (const char *text, gint64 *out)
{
  g_autoptr(GDateTime) dt = NULL;
  if (strlen (text) == 10)
    {
      g_autofree char *full = g_strdup_printf ("%sT23:59:59Z", text);
      dt = g_date_time_new_from_iso8601 (full, NULL);
    }
  else
    {
      g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
      dt = g_date_time_new_from_iso8601 (text, utc);
    }
  if (dt == NULL)
    return FALSE;
  *out = g_date_time_to_unix (dt);
  return TRUE;
}

/* Bad input is a usage error here (64), as documented. */
static int
fail (const GError *error)
{
  if (g_error_matches (error, RD_ERROR, RD_ERROR_INVALID_DATA))
    return rd_app_usage ("allowlist: %s", error->message);
  return rd_app_fail (error);
}

static int
allowlist_add (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  gboolean staging = FALSE;
  gint days = 0;
  g_autofree char *expires = NULL;
  g_autofree char *application = NULL;
  g_autofree char *admin_name = NULL;
  g_autofree char *admin_email = NULL;
  g_autofree char *location = NULL;
  g_autofree char *note = NULL;
  GOptionEntry entries[] = {
    { "staging", 0, 0, G_OPTION_ARG_NONE, &staging, "A staging entry: expires after at most 15 days (default 15)", NULL },
    { "days", 0, 0, G_OPTION_ARG_INT, &days, "Expire after N days", "N" },
    { "expires", 0, 0, G_OPTION_ARG_STRING, &expires, "Expire at DATE (YYYY-MM-DD or ISO 8601, UTC)", "DATE" },
    { "application", 0, 0, G_OPTION_ARG_STRING, &application, "Name of the application sending mail", "NAME" },
    { "admin-name", 0, 0, G_OPTION_ARG_STRING, &admin_name, "Administrator of the sending server", "NAME" },
    { "admin-email", 0, 0, G_OPTION_ARG_STRING, &admin_email, "Administrator's email address", "EMAIL" },
    { "location", 0, 0, G_OPTION_ARG_STRING, &location, "Where the server is (data centre, city)", "TEXT" },
    { "note", 0, 0, G_OPTION_ARG_STRING, &note, "Free text", "TEXT" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "allowlist add", "CIDR",
                     "Allows SMTP clients from CIDR (an IPv4 or IPv6 address or block, e.g.\n"
                     "10.1.2.0/24 or 2001:db8::/48). Adding an existing block replaces it.\n"
                     "A running serve picks the change up at its next connection.",
                     RD_APP_ACTOR, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    return rd_app_usage ("allowlist add: expected one CIDR");
  if (days < 0 || (days > 0 && expires))
    return rd_app_usage ("allowlist add: give either --days N (N > 0) or --expires DATE");
  RdAllowlistRequest req = { .cidr = argv[1], .staging = staging, .application = application,
                             .admin_name = admin_name, .admin_email = admin_email, .location = location,
                             .note = note };
  if (days > 0)
    req.expires_at = g_get_real_time () / G_USEC_PER_SEC + (gint64) days * 86400;
  else if (expires && !parse_date (expires, &req.expires_at))
    return rd_app_usage ("allowlist add: --expires '%s' is not a date (YYYY-MM-DD or ISO 8601)", expires);
  int code = rd_app_open (&app, RD_APP_STORE_CREATE);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdAllowlistEntry) e = rd_ops_allowlist_add (app.ops, &app.actor, &req, &error);
  if (e == NULL)
    return fail (error);
  g_autofree char *exp = e->expires_at ? rd_time_iso8601 (e->expires_at) : g_strdup ("never");
  printf ("added %s (id %" G_GINT64_FORMAT ", expires %s)\n", e->cidr, e->id, exp);
  return RD_EXIT_OK;
}

static void
print_field (const char *label, const char *value)
{
  if (value == NULL)
    return;
  g_autofree char *safe = g_strdup (value);
  g_strdelimit (safe, "\r\n\t", ' ');
  printf ("    %-12s %s\n", label, safe);
}

static int
allowlist_list (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "allowlist list", NULL,
                     "Lists the allowlist: entries from the config ([allowlist] clients) and the\n"
                     "stored ones, with their expiry and metadata.", RD_APP_JSON, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  int code = rd_app_open (&app, RD_APP_STORE_OPTIONAL);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = rd_ops_allowlist_list (app.ops, &app.actor, &error);
  if (items == NULL)
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < items->len; i++)
        rd_json_allowlist_item (b, g_ptr_array_index (items, i));
      json_builder_end_array (b);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  for (guint i = 0; i < items->len; i++)
    {
      const RdAllowlistItem *it = g_ptr_array_index (items, i);
      const RdAllowlistEntry *e = it->entry;
      if (it->from_config)
        {
          printf ("%-6s %-40s %s\n", "config", e->cidr, "never  ([allowlist] clients in the config)");
          continue;
        }
      g_autofree char *exp = e->expires_at ? rd_time_iso8601 (e->expires_at) : g_strdup ("never");
      g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, e->id);
      printf ("%-6s %-40s %s%s%s\n", id, e->cidr, exp, e->staging ? " staging" : "", it->expired ? " EXPIRED" : "");
      print_field ("application", e->application);
      print_field ("admin", e->admin_name);
      print_field ("email", e->admin_email);
      print_field ("location", e->location);
      print_field ("note", e->note);
    }
  return RD_EXIT_OK;
}

static int
allowlist_remove (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "allowlist remove", "CIDR|ID",
                     "Removes a stored allowlist entry by its block or its id. Exit 1 when\n"
                     "there is none. Entries from the config are changed in the config.", RD_APP_ACTOR, NULL,
                     &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    return rd_app_usage ("allowlist remove: expected one CIDR or id");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_allowlist_remove (app.ops, &app.actor, argv[1], &error))
    return fail (error);
  printf ("removed %s\n", argv[1]);
  return RD_EXIT_OK;
}

int
rd_cmd_allowlist (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "add", "allow a client address or CIDR block", allowlist_add },
    { "list", "list the allowlist (--json for scripts)", allowlist_list },
    { "remove", "remove a stored entry", allowlist_remove },
  };
  return rd_app_dispatch ("allowlist", sub, G_N_ELEMENTS (sub), NULL, argc, argv);
}
