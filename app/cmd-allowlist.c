/* relaydesk allowlist — which client addresses the SMTP receiver serves.
 *
 *   allowlist add CIDR [--staging] [--days N | --expires DATE] [metadata]
 *   allowlist list [--json]
 *   allowlist remove CIDR|ID
 *
 * Changes take effect in a running `serve` at its next connection, without
 * a restart (store/allowlist.h: a change counter). Entries from the config
 * ([allowlist] clients, default loopback) are listed too, marked "config".
 *
 * JSON fields (--json), stable for scripts: an array of objects with
 * id (null for config entries), cidr, source ("config"|"store"),
 * created_at, expires_at (ISO 8601 UTC or null), expired (bool), staging,
 * application, admin_name, admin_email, location, note (string or null).
 */
#include "app.h"
#include "json-out.h"
#include "rd-common.h"
#include "allowlist.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static gint64
now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

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

static int
allowlist_add (int argc, char **argv)
{
  g_auto(RdCommonOptions) common = { 0 };
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
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("allowlist add", "CIDR",
      "Allows SMTP clients from CIDR (an IPv4 or IPv6 address or block, e.g.\n"
      "10.1.2.0/24 or 2001:db8::/48). Adding an existing block replaces it.\n"
      "A running serve picks the change up at its next connection.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    {
      rd_app_error ("allowlist add: expected one CIDR (see --help)");
      return RD_EXIT_USAGE;
    }
  if (days < 0 || (days > 0 && expires))
    {
      rd_app_error ("allowlist add: give either --days N (N > 0) or --expires DATE");
      return RD_EXIT_USAGE;
    }
  gint64 now = now_seconds ();
  gint64 expires_at = 0;
  if (days > 0)
    expires_at = now + (gint64) days * 86400;
  else if (expires && !parse_date (expires, &expires_at))
    {
      rd_app_error ("allowlist add: --expires '%s' is not a date (YYYY-MM-DD or ISO 8601)", expires);
      return RD_EXIT_USAGE;
    }
  if (expires_at != 0 && expires_at <= now)
    {
      rd_app_error ("allowlist add: the expiry is in the past");
      return RD_EXIT_USAGE;
    }
  if (staging)
    {
      gint64 max = now + (gint64) RD_ALLOWLIST_STAGING_MAX_DAYS * 86400;
      if (expires_at == 0)
        expires_at = max;
      else if (expires_at > max)
        {
          rd_app_error ("allowlist add: a --staging entry expires within %d days",
                        RD_ALLOWLIST_STAGING_MAX_DAYS);
          return RD_EXIT_USAGE;
        }
    }
  if (admin_email && strchr (admin_email, '@') == NULL)
    {
      rd_app_error ("allowlist add: --admin-email '%s' is not an email address", admin_email);
      return RD_EXIT_USAGE;
    }
  g_autoptr(RdConfig) config = rd_app_load_config (&common);
  rd_common_options_clear (&common);
  if (config == NULL)
    return RD_EXIT_CONFIG;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdAllowlistEntry) e = g_new0 (RdAllowlistEntry, 1);
  e->cidr = g_strdup (argv[1]);
  e->expires_at = expires_at;
  e->staging = staging;
  e->application = g_steal_pointer (&application);
  e->admin_name = g_steal_pointer (&admin_name);
  e->admin_email = g_steal_pointer (&admin_email);
  e->location = g_steal_pointer (&location);
  e->note = g_steal_pointer (&note);
  g_autofree char *norm = rd_allowlist_normalize_cidr (argv[1], &error);
  if (norm == NULL)
    {
      rd_app_error ("%s", error->message);
      return RD_EXIT_USAGE;
    }
  g_autoptr(RdStore) store = rd_store_open (rd_config_get_data_dir (config), &error);
  if (store == NULL || !rd_store_allowlist_add (store, e, &error))
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  g_autofree char *exp = e->expires_at ? rd_time_iso8601 (e->expires_at) : g_strdup ("never");
  printf ("added %s (id %" G_GINT64_FORMAT ", expires %s)\n", e->cidr, e->id, exp);
  return RD_EXIT_OK;
}

static void
entry_json (JsonBuilder *b, const RdAllowlistEntry *e, gboolean from_config, gint64 now)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  if (from_config)
    json_builder_add_null_value (b);
  else
    json_builder_add_int_value (b, e->id);
  rd_json_add_str (b, "cidr", e->cidr);
  rd_json_add_str (b, "source", from_config ? "config" : "store");
  rd_json_add_time (b, "created_at", e->created_at);
  rd_json_add_time (b, "expires_at", e->expires_at);
  json_builder_set_member_name (b, "expired");
  json_builder_add_boolean_value (b, e->expires_at && e->expires_at <= now);
  json_builder_set_member_name (b, "staging");
  json_builder_add_boolean_value (b, e->staging);
  rd_json_add_str (b, "application", e->application);
  rd_json_add_str (b, "admin_name", e->admin_name);
  rd_json_add_str (b, "admin_email", e->admin_email);
  rd_json_add_str (b, "location", e->location);
  rd_json_add_str (b, "note", e->note);
  json_builder_end_object (b);
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
  g_auto(RdCommonOptions) common = { 0 };
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON (fields in the file header of cmd-allowlist.c / docs/receiver.md)", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("allowlist list", NULL,
      "Lists the allowlist: entries from the config ([allowlist] clients) and the\n"
      "stored ones, with their expiry and metadata.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  g_autoptr(RdConfig) config = rd_app_load_config (&common);
  rd_common_options_clear (&common);
  if (config == NULL)
    return RD_EXIT_CONFIG;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(RdStore) store = rd_store_open_existing (rd_config_get_data_dir (config), &error);
  if (store != NULL)
    stored = rd_store_allowlist_list (store, &error);
  else if (g_error_matches (error, RD_ERROR, RD_ERROR_NOT_FOUND))
    {
      g_clear_error (&error);
      stored = g_ptr_array_new ();
    }
  if (stored == NULL)
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  g_auto(GStrv) fixed = rd_config_get_list (config, "allowlist", "clients");
  if (fixed == NULL)
    fixed = g_strsplit ("127.0.0.0/8;::1", ";", -1);
  gint64 now = now_seconds ();
  g_autoptr(GPtrArray) conf = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_allowlist_entry_free);
  for (guint i = 0; fixed[i]; i++)
    {
      RdAllowlistEntry *e = g_new0 (RdAllowlistEntry, 1);
      e->cidr = rd_allowlist_normalize_cidr (fixed[i], NULL);
      if (e->cidr == NULL)
        e->cidr = g_strdup (fixed[i]);
      g_ptr_array_add (conf, e);
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < conf->len; i++)
        entry_json (b, g_ptr_array_index (conf, i), TRUE, now);
      for (guint i = 0; i < stored->len; i++)
        entry_json (b, g_ptr_array_index (stored, i), FALSE, now);
      json_builder_end_array (b);
      g_autoptr(JsonNode) root = json_builder_get_root (b);
      g_autofree char *text = json_to_string (root, TRUE);
      printf ("%s\n", text);
      return RD_EXIT_OK;
    }
  for (guint i = 0; i < conf->len; i++)
    printf ("%-6s %-40s %s\n", "config", ((RdAllowlistEntry *) g_ptr_array_index (conf, i))->cidr, "never");
  for (guint i = 0; i < stored->len; i++)
    {
      RdAllowlistEntry *e = g_ptr_array_index (stored, i);
      g_autofree char *exp = e->expires_at ? rd_time_iso8601 (e->expires_at) : g_strdup ("never");
      g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, e->id);
      printf ("%-6s %-40s %s%s%s\n", id, e->cidr, exp, e->staging ? " staging" : "",
              e->expires_at && e->expires_at <= now ? " EXPIRED" : "");
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
  g_auto(RdCommonOptions) common = { 0 };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("allowlist remove", "CIDR|ID",
      "Removes a stored allowlist entry by its block or its id. Exit 1 when\n"
      "there is none. Entries from the config are changed in the config.", &common);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    {
      rd_app_error ("allowlist remove: expected one CIDR or id (see --help)");
      return RD_EXIT_USAGE;
    }
  g_autoptr(RdConfig) config = rd_app_load_config (&common);
  rd_common_options_clear (&common);
  if (config == NULL)
    return RD_EXIT_CONFIG;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdStore) store = rd_store_open_existing (rd_config_get_data_dir (config), &error);
  if (store == NULL || !rd_store_allowlist_remove (store, argv[1], &error))
    {
      rd_app_error ("%s", error->message);
      return g_error_matches (error, RD_ERROR, RD_ERROR_INVALID_DATA) ? RD_EXIT_USAGE : rd_app_exit_code (error);
    }
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
