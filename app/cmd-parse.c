/* relaydesk parse — prints the parsed view of message files.
 *
 * `relaydesk parse [--json] FILE...` ("-" reads stdin). With --json, one
 * JSON object per file on one line (JSON lines), with the contract fields
 * of the shared corpus README named as there:
 *   file, message_id, in_reply_to, references, from, to, cc, reply_to,
 *   date, subject, body_source, text_body, attachments[{filename,
 *   content_type, size, sha256, disposition, embedded_subject}],
 *   auto_submitted, list_id, precedence, is_bounce
 * and more: sender, body_content_type, body_charset, text_new,
 * text_quoted, content_id/charset on attachments, x_auto_response_suppress,
 * list_{unsubscribe,post,help,archive,owner}, is_automated,
 * dsn{original_message_id, recipients[{addr, action, status, diagnostic}]},
 * parts, depth, limits_hit, warnings, size.
 * A file that cannot be read or is not a message gives {"file", "error"}.
 * Exit codes: 0 every file parsed, 65 some file was not a message,
 * 66 some file could not be read, 64 usage.
 */
#include "app.h"
#include "json.h"
#include "message.h"
#include "rd-common.h"

#include <gio/gunixinputstream.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#define EXIT_NOINPUT 66

static void
add_addresses (JsonBuilder *b, const char *name, GPtrArray *list)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    {
      const RdAddress *a = g_ptr_array_index (list, i);
      json_builder_begin_object (b);
      rd_json_add_str (b, "name", a->name);
      rd_json_add_str (b, "addr", a->addr);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
view_json (JsonBuilder *b, const char *file, const RdMessage *m)
{
  json_builder_begin_object (b);
  rd_json_add_str (b, "file", file);
  rd_json_add_str (b, "message_id", rd_message_get_message_id (m));
  rd_json_add_str (b, "in_reply_to", rd_message_get_in_reply_to (m));
  json_builder_set_member_name (b, "references");
  json_builder_begin_array (b);
  for (const char *const *r = rd_message_get_references (m); *r; r++)
    json_builder_add_string_value (b, *r);
  json_builder_end_array (b);
  add_addresses (b, "from", rd_message_get_from (m));
  add_addresses (b, "to", rd_message_get_to (m));
  add_addresses (b, "cc", rd_message_get_cc (m));
  add_addresses (b, "reply_to", rd_message_get_reply_to (m));
  add_addresses (b, "sender", rd_message_get_sender (m));
  gint64 t = 0;
  g_autofree char *date = rd_message_get_date (m, &t) ? rd_time_iso8601 (t) : NULL;
  rd_json_add_str (b, "date", date);
  rd_json_add_str (b, "subject", rd_message_get_subject (m));
  rd_json_add_str (b, "body_source", rd_message_get_body_source (m));
  rd_json_add_str (b, "text_body", rd_message_get_body_text (m));
  rd_json_add_str (b, "text_new", rd_message_get_body_new_text (m));
  rd_json_add_str (b, "text_quoted", rd_message_get_body_quoted (m));
  rd_json_add_str (b, "body_content_type", rd_message_get_body_content_type (m));
  rd_json_add_str (b, "body_charset", rd_message_get_body_charset (m));

  GPtrArray *atts = rd_message_get_attachments (m);
  json_builder_set_member_name (b, "attachments");
  json_builder_begin_array (b);
  for (guint i = 0; i < atts->len; i++)
    {
      const RdAttachment *a = g_ptr_array_index (atts, i);
      json_builder_begin_object (b);
      rd_json_add_str (b, "filename", a->filename);
      rd_json_add_str (b, "content_type", a->content_type);
      json_builder_set_member_name (b, "size");
      if (a->size >= 0)
        json_builder_add_int_value (b, a->size);
      else
        json_builder_add_null_value (b);
      rd_json_add_str (b, "sha256", a->sha256);
      rd_json_add_str (b, "disposition", a->disposition);
      rd_json_add_str (b, "content_id", a->content_id);
      rd_json_add_str (b, "charset", a->charset);
      if (a->embedded_subject)
        rd_json_add_str (b, "embedded_subject", a->embedded_subject);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  rd_json_add_str (b, "auto_submitted", rd_message_get_auto_submitted (m));
  rd_json_add_str (b, "list_id", rd_message_get_list_id (m));
  rd_json_add_str (b, "precedence", rd_message_get_precedence (m));
  json_builder_set_member_name (b, "is_bounce");
  json_builder_add_boolean_value (b, rd_message_is_bounce (m));
  rd_json_add_str (b, "x_auto_response_suppress", rd_message_get_x_auto_response_suppress (m));
  rd_json_add_str (b, "list_unsubscribe", rd_message_get_list_unsubscribe (m));
  rd_json_add_str (b, "list_post", rd_message_get_list_post (m));
  rd_json_add_str (b, "list_help", rd_message_get_list_help (m));
  rd_json_add_str (b, "list_archive", rd_message_get_list_archive (m));
  rd_json_add_str (b, "list_owner", rd_message_get_list_owner (m));
  json_builder_set_member_name (b, "is_automated");
  json_builder_add_boolean_value (b, rd_message_is_automated (m));

  json_builder_set_member_name (b, "dsn");
  json_builder_begin_object (b);
  rd_json_add_str (b, "original_message_id", rd_message_get_dsn_original_message_id (m));
  json_builder_set_member_name (b, "recipients");
  json_builder_begin_array (b);
  GPtrArray *rcpts = rd_message_get_dsn_recipients (m);
  for (guint i = 0; i < rcpts->len; i++)
    {
      const RdDsnRecipient *r = g_ptr_array_index (rcpts, i);
      json_builder_begin_object (b);
      rd_json_add_str (b, "addr", r->addr);
      rd_json_add_str (b, "action", r->action);
      rd_json_add_str (b, "status", r->status);
      rd_json_add_str (b, "diagnostic", r->diagnostic);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, (gint64) rd_message_get_size (m));
  json_builder_set_member_name (b, "parts");
  json_builder_add_int_value (b, rd_message_get_part_count (m));
  json_builder_set_member_name (b, "depth");
  json_builder_add_int_value (b, rd_message_get_max_depth (m));
  json_builder_set_member_name (b, "limits_hit");
  json_builder_add_boolean_value (b, rd_message_get_limits_hit (m));
  json_builder_set_member_name (b, "warnings");
  json_builder_begin_array (b);
  GPtrArray *w = rd_message_get_warnings (m);
  for (guint i = 0; i < w->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (w, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
print_line (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  /* json-glib leaves U+001F unescaped (JSON requires every control
   * character escaped); raw control bytes can only occur inside strings. */
  GString *out = g_string_sized_new (strlen (text) + 16);
  for (const char *p = text; *p; p++)
    {
      if ((guchar) *p < 0x20)
        g_string_append_printf (out, "\\u%04x", (guint) (guchar) *p);
      else
        g_string_append_c (out, *p);
    }
  printf ("%s\n", out->str);
  g_string_free (out, TRUE);
}

static void
print_addresses (const char *label, GPtrArray *list)
{
  if (list->len == 0)
    return;
  printf ("%-12s", label);
  for (guint i = 0; i < list->len; i++)
    {
      const RdAddress *a = g_ptr_array_index (list, i);
      if (*a->name)
        printf ("%s\"%s\" <%s>", i ? ", " : "", a->name, a->addr);
      else
        printf ("%s<%s>", i ? ", " : "", a->addr);
    }
  printf ("\n");
}

static void
view_text (const char *file, const RdMessage *m)
{
  printf ("== %s\n", file);
  const char *subject = rd_message_get_subject (m);
  printf ("%-12s%s\n", "Subject:", subject ? subject : "(none)");
  print_addresses ("From:", rd_message_get_from (m));
  print_addresses ("To:", rd_message_get_to (m));
  print_addresses ("Cc:", rd_message_get_cc (m));
  print_addresses ("Reply-To:", rd_message_get_reply_to (m));
  gint64 t = 0;
  if (rd_message_get_date (m, &t))
    {
      g_autofree char *d = rd_time_iso8601 (t);
      printf ("%-12s%s\n", "Date:", d);
    }
  if (rd_message_get_message_id (m))
    printf ("%-12s<%s>\n", "Message-ID:", rd_message_get_message_id (m));
  if (rd_message_get_in_reply_to (m))
    printf ("%-12s<%s>\n", "In-Reply-To:", rd_message_get_in_reply_to (m));
  const char *flags[] = {
    "Auto-Submitted", rd_message_get_auto_submitted (m),
    "Precedence", rd_message_get_precedence (m),
    "List-Id", rd_message_get_list_id (m),
  };
  for (guint i = 0; i < G_N_ELEMENTS (flags); i += 2)
    if (flags[i + 1])
      printf ("%s: %s\n", flags[i], flags[i + 1]);
  if (rd_message_is_bounce (m))
    {
      const char *orig = rd_message_get_dsn_original_message_id (m);
      printf ("Bounce of <%s>\n", orig ? orig : "?");
      GPtrArray *r = rd_message_get_dsn_recipients (m);
      for (guint i = 0; i < r->len; i++)
        {
          const RdDsnRecipient *d = g_ptr_array_index (r, i);
          printf ("  %s %s %s\n", d->addr, d->action ? d->action : "-", d->status ? d->status : "-");
        }
    }
  GPtrArray *atts = rd_message_get_attachments (m);
  for (guint i = 0; i < atts->len; i++)
    {
      const RdAttachment *a = g_ptr_array_index (atts, i);
      if (a->size >= 0)
        printf ("Attachment: %s (%s, %" G_GINT64_FORMAT " bytes)\n",
                a->filename ? a->filename : "(no name)", a->content_type, a->size);
      else
        printf ("Attachment: %s (%s%s%s)\n", a->filename ? a->filename : "(no name)", a->content_type,
                a->embedded_subject ? ": " : "", a->embedded_subject ? a->embedded_subject : "");
    }
  GPtrArray *w = rd_message_get_warnings (m);
  for (guint i = 0; i < w->len; i++)
    printf ("Warning: %s\n", (const char *) g_ptr_array_index (w, i));
  const char *body = rd_message_get_body_text (m);
  printf ("\n[body: %s]\n%s\n", rd_message_get_body_source (m), body ? body : "");
}

static GBytes *
read_input (const char *path, GError **error)
{
  if (g_str_equal (path, "-"))
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);
      g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
      if (g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, error) < 0)
        return NULL;
      return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
    }
  char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, error))
    return NULL;
  return g_bytes_new_take (data, len);
}

int
rd_cmd_parse (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "parse", "FILE...",
                     "Parses message files (\"-\": stdin) and prints the view the desk works with\n"
                     "(--json: one JSON object per file, JSON lines).", RD_APP_JSON, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc < 2)
    return rd_app_usage ("parse: expected at least one FILE");
  /* --config gives the [parser] limits, as the daemon uses them */
  int code = rd_app_open (&app, RD_APP_NO_STORE);
  if (code)
    return code;
  gboolean json = app.json;
  RdParserLimits limits;
  rd_parser_limits_from_config (&limits, app.config);
  rd_parser_init ();
  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) raw = read_input (argv[i], &error);
      g_autoptr(RdMessage) m = raw ? rd_message_parse_with_limits (raw, &limits, &error) : NULL;
      if (m == NULL)
        {
          if (raw == NULL)
            code = EXIT_NOINPUT;
          else if (code == RD_EXIT_OK)
            code = RD_EXIT_DATAERR;
          rd_app_error ("%s: %s", argv[i], error->message);
          if (json)
            {
              g_autoptr(JsonBuilder) b = json_builder_new ();
              json_builder_begin_object (b);
              rd_json_add_str (b, "file", argv[i]);
              rd_json_add_str (b, "error", error->message);
              json_builder_end_object (b);
              print_line (b);
            }
          continue;
        }
      if (json)
        {
          g_autoptr(JsonBuilder) b = json_builder_new ();
          view_json (b, argv[i], m);
          print_line (b);
        }
      else
        view_text (argv[i], m);
    }
  return code;
}
