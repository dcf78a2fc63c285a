/* relaydesk — app: the JSON output of every command (--json). */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Member @name with a string value, or null when @value is NULL. */
void rd_json_add_str (JsonBuilder *b, const char *name, const char *value);
void rd_json_add_int (JsonBuilder *b, const char *name, gint64 value);
/* ISO 8601 UTC ("2024-01-15T09:29:55Z"), or null for 0 (never). */
void rd_json_add_time (JsonBuilder *b, const char *name, gint64 unix_seconds);
/* Prints the builder's root, pretty, followed by a newline. */
void rd_json_print (JsonBuilder *b);

G_END_DECLS
