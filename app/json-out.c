/* relaydesk — app: the JSON output of every command (see json-out.h). */
#include "json-out.h"
#include "rd-common.h"

#include <stdio.h>

void
rd_json_add_str (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

void
rd_json_add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

void
rd_json_add_time (JsonBuilder *b, const char *name, gint64 unix_seconds)
{
  g_autofree char *iso = unix_seconds > 0 ? rd_time_iso8601 (unix_seconds) : NULL;
  rd_json_add_str (b, name, iso);
}

void
rd_json_print (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}
