/* relaydesk tickets — list and show tickets.
 *
 * JSON fields (--json), stable for scripts:
 *   list: one array of objects {number, queue, status, priority, assignee,
 *         subject, requester: {name, addr}, created_at, updated_at,
 *         message_count}
 *   show: one object with the same fields plus messages: [{id, direction,
 *         message_id, from: {name, addr}, subject, body_text, created_at,
 *         attachments: [{filename, content_type, size, sha256, disposition,
 *         content_id, embedded_subject}]}]
 * Times are ISO 8601 UTC. Exit codes: 0 ok, 1 no such ticket, 64 usage,
 * 75 database busy or unavailable.
 */
#include "app.h"
#include "rd-common.h"
#include "store.h"
#include "message-attachments.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

static void
add_time (JsonBuilder *b, const char *name, gint64 t)
{
  g_autofree char *iso = rd_time_iso8601 (t);
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, iso);
}

static void
add_str (JsonBuilder *b, const char *name, const char *v)
{
  json_builder_set_member_name (b, name);
  if (v)
    json_builder_add_string_value (b, v);
  else
    json_builder_add_null_value (b);
}

static void
add_person (JsonBuilder *b, const char *member, const char *name, const char *addr)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_object (b);
  add_str (b, "name", name ? name : "");
  add_str (b, "addr", addr);
  json_builder_end_object (b);
}

static void
attachments_json (JsonBuilder *b, GPtrArray *atts)
{
  json_builder_set_member_name (b, "attachments");
  json_builder_begin_array (b);
  for (guint i = 0; atts && i < atts->len; i++)
    {
      const RdAttachmentMeta *a = g_ptr_array_index (atts, i);
      json_builder_begin_object (b);
      add_str (b, "filename", a->filename);
      add_str (b, "content_type", a->content_type);
      json_builder_set_member_name (b, "size");
      if (a->size >= 0)
        json_builder_add_int_value (b, a->size);
      else
        json_builder_add_null_value (b);
      add_str (b, "sha256", a->sha256);
      add_str (b, "disposition", a->disposition);
      add_str (b, "content_id", a->content_id);
      add_str (b, "embedded_subject", a->embedded_subject);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

/* message row id -> GPtrArray of RdAttachmentMeta (for show) */
static GHashTable *
load_attachments (RdStore *store, const RdTicket *t, GError **error)
{
  GHashTable *h = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify) g_ptr_array_unref);
  for (guint i = 0; i < t->messages->len; i++)
    {
      RdTicketMessage *m = g_ptr_array_index (t->messages, i);
      GPtrArray *atts = rd_store_message_attachments_get (store, m->id, error);
      if (atts == NULL)
        {
          g_hash_table_unref (h);
          return NULL;
        }
      g_hash_table_insert (h, &m->id, atts);
    }
  return h;
}

static void
ticket_json (JsonBuilder *b, const RdTicket *t, GHashTable *attachments)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "number");
  json_builder_add_int_value (b, t->number);
  add_str (b, "queue", t->queue);
  add_str (b, "status", t->status);
  add_str (b, "priority", t->priority);
  add_str (b, "assignee", t->assignee);
  add_str (b, "subject", t->subject);
  add_person (b, "requester", t->requester_name, t->requester_addr);
  add_time (b, "created_at", t->created_at);
  add_time (b, "updated_at", t->updated_at);
  json_builder_set_member_name (b, "message_count");
  json_builder_add_int_value (b, t->message_count);
  if (t->messages)
    {
      json_builder_set_member_name (b, "messages");
      json_builder_begin_array (b);
      for (guint i = 0; i < t->messages->len; i++)
        {
          const RdTicketMessage *m = g_ptr_array_index (t->messages, i);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_int_value (b, m->id);
          add_str (b, "direction", m->direction);
          add_str (b, "message_id", m->message_id);
          add_person (b, "from", m->from_name, m->from_addr);
          add_str (b, "subject", m->subject);
          add_str (b, "body_text", m->body_text);
          add_time (b, "created_at", m->created_at);
          if (attachments)
            attachments_json (b, g_hash_table_lookup (attachments, &m->id));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
}

static void
print_json (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

static RdStore *
open_store (RdConfig *config, int *code)
{
  g_autoptr(GError) error = NULL;
  RdStore *store = rd_store_open_existing (rd_config_get_data_dir (config), &error);
  if (store == NULL)
    {
      rd_app_error ("%s", error->message);
      *code = g_error_matches (error, RD_ERROR, RD_ERROR_NOT_FOUND) ? RD_EXIT_FAILURE : rd_app_exit_code (error);
    }
  return store;
}

static int
tickets_list (int argc, char **argv)
{
  RdCommonOptions common = { 0 };
  gboolean json = FALSE;
  g_autofree char *queue = NULL;
  g_autofree char *status = NULL;
  int limit = 50;
  int offset = 0;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON (fields in --help of 'tickets')", NULL },
    { "queue", 'q', 0, G_OPTION_ARG_STRING, &queue, "Only tickets in QUEUE", "QUEUE" },
    { "status", 's', 0, G_OPTION_ARG_STRING, &status, "Only tickets with STATUS", "STATUS" },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N tickets (default 50)", "N" },
    { "offset", 0, 0, G_OPTION_ARG_INT, &offset, "Skip the first N tickets", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("tickets list", NULL,
      "Lists tickets, newest first.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc > 1 || limit <= 0 || offset < 0)
    {
      rd_app_error ("tickets list: bad arguments (see --help)");
      return RD_EXIT_USAGE;
    }
  g_autoptr(RdConfig) config = rd_app_load_config (&common);
  rd_common_options_clear (&common);
  if (config == NULL)
    return RD_EXIT_CONFIG;
  int code = 0;
  g_autoptr(RdStore) store = open_store (config, &code);
  if (store == NULL)
    return code;
  g_autoptr(GError) error = NULL;
  RdTicketFilter filter = { .queue = queue, .status = status, .limit = (guint) limit, .offset = (guint) offset };
  g_autoptr(GPtrArray) tickets = rd_store_tickets_list (store, &filter, &error);
  if (tickets == NULL)
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < tickets->len; i++)
        ticket_json (b, g_ptr_array_index (tickets, i), NULL);
      json_builder_end_array (b);
      print_json (b);
      return RD_EXIT_OK;
    }
  if (tickets->len == 0)
    {
      printf ("No tickets.\n");
      return RD_EXIT_OK;
    }
  printf ("%-7s %-10s %-8s %-16s %-30s %s\n", "NUMBER", "QUEUE", "STATUS", "UPDATED", "REQUESTER", "SUBJECT");
  for (guint i = 0; i < tickets->len; i++)
    {
      RdTicket *t = g_ptr_array_index (tickets, i);
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (t->updated_at);
      g_autofree char *when = g_date_time_format (dt, "%Y-%m-%d %H:%M");
      printf ("%-7" G_GINT64_FORMAT " %-10s %-8s %-16s %-30.30s %s\n", t->number, t->queue, t->status,
              when, t->requester_addr, t->subject);
    }
  return RD_EXIT_OK;
}

static int
tickets_show (int argc, char **argv)
{
  RdCommonOptions common = { 0 };
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("tickets show", "NUMBER",
      "Shows one ticket with its messages. Exit 1 when there is no such ticket.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  guint64 number = 0;
  const char *arg = argc == 2 ? argv[1] : NULL;
  if (arg && arg[0] == '#')
    arg++;
  if (arg == NULL || !g_ascii_string_to_unsigned (arg, 10, 1, G_MAXINT64, &number, NULL))
    {
      rd_app_error ("tickets show: expected one ticket NUMBER (see --help)");
      return RD_EXIT_USAGE;
    }
  g_autoptr(RdConfig) config = rd_app_load_config (&common);
  rd_common_options_clear (&common);
  if (config == NULL)
    return RD_EXIT_CONFIG;
  int code = 0;
  g_autoptr(RdStore) store = open_store (config, &code);
  if (store == NULL)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicket) t = rd_store_ticket_get (store, (gint64) number, &error);
  if (t == NULL)
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  g_autoptr(GHashTable) attachments = load_attachments (store, t, &error);
  if (attachments == NULL)
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      ticket_json (b, t, attachments);
      print_json (b);
      return RD_EXIT_OK;
    }
  g_autofree char *created = rd_time_iso8601 (t->created_at);
  printf ("Ticket #%" G_GINT64_FORMAT ": %s\n", t->number, t->subject);
  printf ("Queue: %s   Status: %s   Priority: %s   Assignee: %s\n", t->queue, t->status, t->priority,
          t->assignee ? t->assignee : "-");
  if (t->requester_name)
    printf ("Requester: %s <%s>\n", t->requester_name, t->requester_addr);
  else
    printf ("Requester: %s\n", t->requester_addr);
  printf ("Created: %s\n", created);
  for (guint i = 0; i < t->messages->len; i++)
    {
      RdTicketMessage *m = g_ptr_array_index (t->messages, i);
      g_autofree char *when = rd_time_iso8601 (m->created_at);
      printf ("\n--- %s message %" G_GINT64_FORMAT " from %s at %s\n", m->direction, m->id,
              m->from_addr ? m->from_addr : "-", when);
      if (m->message_id)
        printf ("Message-ID: <%s>\n", m->message_id);
      printf ("Subject: %s\n", m->subject ? m->subject : "");
      GPtrArray *atts = g_hash_table_lookup (attachments, &m->id);
      for (guint j = 0; atts && j < atts->len; j++)
        {
          const RdAttachmentMeta *a = g_ptr_array_index (atts, j);
          if (a->size >= 0)
            printf ("Attachment: %s (%s, %" G_GINT64_FORMAT " bytes)\n", a->filename ? a->filename : "(no name)",
                    a->content_type, a->size);
          else
            printf ("Attachment: %s (%s%s%s)\n", a->filename ? a->filename : "(no name)", a->content_type,
                    a->embedded_subject ? ": " : "", a->embedded_subject ? a->embedded_subject : "");
        }
      printf ("\n%s\n", m->body_text ? m->body_text : "(no text body)");
    }
  return RD_EXIT_OK;
}

int
rd_cmd_tickets (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "list", "list tickets", tickets_list },
    { "show", "show one ticket with its messages", tickets_show },
  };
  if (argc >= 2)
    for (guint i = 0; i < G_N_ELEMENTS (sub); i++)
      if (g_str_equal (argv[1], sub[i].name))
        return sub[i].run (argc - 1, argv + 1);
  gboolean help = argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"));
  FILE *out = help ? stdout : stderr;
  fprintf (out, "Usage: relaydesk tickets COMMAND [OPTIONS]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (sub); i++)
    fprintf (out, "  %-6s %s\n", sub[i].name, sub[i].summary);
  fprintf (out, "\nEvery command accepts --data-dir DIR, --config FILE and --json.\n"
                "Exit codes: 0 ok, 1 not found, 64 usage, 75 database unavailable.\n");
  return help ? RD_EXIT_OK : RD_EXIT_USAGE;
}
