/* relaydesk queue — operates the outbox (store/outbox-worker.h).
 *
 *   list [--state S] [--limit N] [--json]
 *   show ID [--json] [--raw]
 *   retry ID          failed/dropped/queued -> queued now, fresh lifetime
 *   drop ID [--reason TEXT]   queued/failed -> dropped
 *   flush [--relay URL] [--relay-ca FILE]   send what is due now, once
 *   inject --kind K --from ADDR --to ADDR [--to ...] [--ticket N] FILE|-
 *          queue a message as a producer would (operator and test tool)
 *
 * JSON fields (stable for scripts): list: array of {id, kind, state,
 * ticket, sender, recipients[], message_id, attempts, last_error,
 * relay_reply, created_at, next_attempt_at, sent_at}; show: one such
 * object plus events: [{at, event, detail}] (and raw with --raw).
 * Times ISO 8601 UTC, null when unset. Exit codes: 0 ok, 1 no such row or
 * not allowed in its state, 64 usage, 75 database unavailable.
 */
#include "app.h"
#include "json-out.h"
#include "rd-common.h"
#include "store.h"
#include "outbox-worker.h"
#include "relay.h"

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static void
item_json (JsonBuilder *b, const RdOutboxItem *it, GPtrArray *events, gboolean raw)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, it->id);
  rd_json_add_str (b, "kind", rd_outbox_kind_to_string (it->kind));
  rd_json_add_str (b, "state", it->state);
  json_builder_set_member_name (b, "ticket");
  if (it->ticket_number > 0)
    json_builder_add_int_value (b, it->ticket_number);
  else
    json_builder_add_null_value (b);
  rd_json_add_str (b, "sender", it->sender);
  json_builder_set_member_name (b, "recipients");
  json_builder_begin_array (b);
  for (guint i = 0; i < it->recipients->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (it->recipients, i));
  json_builder_end_array (b);
  rd_json_add_str (b, "message_id", it->message_id);
  json_builder_set_member_name (b, "attempts");
  json_builder_add_int_value (b, it->attempts);
  rd_json_add_str (b, "last_error", it->last_error);
  rd_json_add_str (b, "relay_reply", it->relay_reply);
  rd_json_add_time (b, "created_at", it->created_at);
  rd_json_add_time (b, "next_attempt_at", !strcmp (it->state, "queued") ? it->next_attempt_at : 0);
  rd_json_add_time (b, "sent_at", it->sent_at);
  if (events)
    {
      json_builder_set_member_name (b, "events");
      json_builder_begin_array (b);
      for (guint i = 0; i < events->len; i++)
        {
          RdOutboxEvent *ev = g_ptr_array_index (events, i);
          json_builder_begin_object (b);
          rd_json_add_time (b, "at", ev->at);
          rd_json_add_str (b, "event", ev->event);
          rd_json_add_str (b, "detail", ev->detail);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  if (raw && it->raw)
    {
      gsize len;
      const char *d = g_bytes_get_data (it->raw, &len);
      g_autofree char *text = g_utf8_make_valid (d, (gssize) len);
      rd_json_add_str (b, "raw", text);
    }
  json_builder_end_object (b);
}

/* Parses options and opens the config; NULL (with *code) on failure. */
static RdConfig *
setup (GOptionContext *ctx, RdCommonOptions *common, int *argc, char ***argv, int *code)
{
  if (!rd_app_parse (ctx, argc, argv))
    {
      *code = RD_EXIT_USAGE;
      return NULL;
    }
  RdConfig *config = rd_app_load_config (common);
  rd_common_options_clear (common);
  if (config == NULL)
    *code = RD_EXIT_CONFIG;
  return config;
}

static gboolean
parse_id (int argc, char **argv, gint64 *id)
{
  guint64 v = 0;
  if (argc != 2 || !g_ascii_string_to_unsigned (argv[1], 10, 1, G_MAXINT64, &v, NULL))
    return FALSE;
  *id = (gint64) v;
  return TRUE;
}

static int
queue_list (int argc, char **argv)
{
  g_auto(RdCommonOptions) common = { 0 };
  gboolean json = FALSE;
  g_autofree char *state = NULL;
  int limit = 100;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "state", 's', 0, G_OPTION_ARG_STRING, &state, "Only rows in STATE (queued, sending, sent, failed, dropped)", "STATE" },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N rows (default 100)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("queue list", NULL, "Lists outbound messages, newest first.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  int code = 0;
  g_autoptr(RdConfig) config = setup (ctx, &common, &argc, &argv, &code);
  if (config == NULL)
    return code;
  if (argc > 1 || limit <= 0)
    {
      rd_app_error ("queue list: bad arguments (see --help)");
      return RD_EXIT_USAGE;
    }
  g_autoptr(RdStore) store = rd_app_open_store (config, &code);
  if (store == NULL)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = rd_store_outbox_list (store, state, (guint) limit, &error);
  if (items == NULL)
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < items->len; i++)
        item_json (b, g_ptr_array_index (items, i), NULL, FALSE);
      json_builder_end_array (b);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  if (items->len == 0)
    {
      printf ("Outbox empty.\n");
      return RD_EXIT_OK;
    }
  printf ("%-6s %-12s %-8s %-4s %-30s %s\n", "ID", "KIND", "STATE", "TRY", "RECIPIENT", "LAST ERROR / RELAY REPLY");
  for (guint i = 0; i < items->len; i++)
    {
      RdOutboxItem *it = g_ptr_array_index (items, i);
      const char *note = it->last_error ? it->last_error : it->relay_reply ? it->relay_reply : "";
      printf ("%-6" G_GINT64_FORMAT " %-12s %-8s %-4u %-30.30s %.80s\n", it->id, rd_outbox_kind_to_string (it->kind),
              it->state, it->attempts, it->recipients->len ? (char *) g_ptr_array_index (it->recipients, 0) : "-", note);
    }
  return RD_EXIT_OK;
}

static int
queue_show (int argc, char **argv)
{
  g_auto(RdCommonOptions) common = { 0 };
  gboolean json = FALSE, raw = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "raw", 0, 0, G_OPTION_ARG_NONE, &raw, "Include the message itself", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("queue show", "ID", "Shows one outbound message with its history.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  int code = 0;
  g_autoptr(RdConfig) config = setup (ctx, &common, &argc, &argv, &code);
  if (config == NULL)
    return code;
  gint64 id;
  if (!parse_id (argc, argv, &id))
    {
      rd_app_error ("queue show: expected one ID (see --help)");
      return RD_EXIT_USAGE;
    }
  g_autoptr(RdStore) store = rd_app_open_store (config, &code);
  if (store == NULL)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdOutboxItem) it = rd_store_outbox_get (store, id, &error);
  g_autoptr(GPtrArray) events = it ? rd_store_outbox_events (store, id, &error) : NULL;
  if (events == NULL)
    {
      rd_app_error ("%s", error->message);
      return g_error_matches (error, RD_ERROR, RD_ERROR_NOT_FOUND) ? RD_EXIT_FAILURE : rd_app_exit_code (error);
    }
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      item_json (b, it, events, raw);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  g_autofree char *created = rd_time_iso8601 (it->created_at);
  printf ("Outbox message %" G_GINT64_FORMAT " (%s): %s, %u attempt(s)\n", it->id,
          rd_outbox_kind_to_string (it->kind), it->state, it->attempts);
  printf ("From: <%s>\n", it->sender);
  for (guint i = 0; i < it->recipients->len; i++)
    printf ("To: <%s>\n", (char *) g_ptr_array_index (it->recipients, i));
  if (it->message_id)
    printf ("Message-ID: <%s>\n", it->message_id);
  if (it->ticket_number)
    printf ("Ticket: #%" G_GINT64_FORMAT "\n", it->ticket_number);
  printf ("Created: %s\n", created);
  if (it->relay_reply)
    printf ("Relay reply: %s\n", it->relay_reply);
  if (it->last_error)
    printf ("Last error: %s\n", it->last_error);
  printf ("History:\n");
  for (guint i = 0; i < events->len; i++)
    {
      RdOutboxEvent *ev = g_ptr_array_index (events, i);
      g_autofree char *at = rd_time_iso8601 (ev->at);
      printf ("  %s %-10s %s\n", at, ev->event, ev->detail ? ev->detail : "");
    }
  if (raw)
    {
      gsize len;
      const char *d = g_bytes_get_data (it->raw, &len);
      printf ("\n");
      fwrite (d, 1, len, stdout);
    }
  return RD_EXIT_OK;
}

static int
queue_change (int argc, char **argv, gboolean drop)
{
  g_auto(RdCommonOptions) common = { 0 };
  g_autofree char *reason = NULL;
  GOptionEntry entries[] = {
    { "reason", 0, 0, G_OPTION_ARG_STRING, &reason, "Why (kept in the history)", "TEXT" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context (drop ? "queue drop" : "queue retry", "ID",
      drop ? "Drops a queued or failed message: it will not be sent."
           : "Queues a failed, dropped or deferred message again, due now, with a fresh lifetime.\n"
             "A sent message cannot be retried: the relay accepted it.", &common);
  if (drop)
    g_option_context_add_main_entries (ctx, entries, NULL);
  int code = 0;
  g_autoptr(RdConfig) config = setup (ctx, &common, &argc, &argv, &code);
  if (config == NULL)
    return code;
  gint64 id;
  if (!parse_id (argc, argv, &id))
    {
      rd_app_error ("queue %s: expected one ID (see --help)", drop ? "drop" : "retry");
      return RD_EXIT_USAGE;
    }
  g_autoptr(RdStore) store = rd_app_open_store (config, &code);
  if (store == NULL)
    return code;
  g_autoptr(GError) error = NULL;
  gboolean ok = drop ? rd_store_outbox_mark_dropped (store, id, "operator", reason ? reason : "dropped by the operator", &error)
                     : rd_store_outbox_requeue (store, id, &error);
  if (!ok)
    {
      rd_app_error ("%s", error->message);
      return g_error_matches (error, RD_ERROR, RD_ERROR_NOT_FOUND) || g_error_matches (error, RD_ERROR, RD_ERROR_INVALID_DATA)
          ? RD_EXIT_FAILURE : rd_app_exit_code (error);
    }
  printf ("Outbox message %" G_GINT64_FORMAT " %s.\n", id, drop ? "dropped" : "queued again");
  return RD_EXIT_OK;
}

static int
queue_retry (int argc, char **argv)
{
  return queue_change (argc, argv, FALSE);
}

static int
queue_drop (int argc, char **argv)
{
  return queue_change (argc, argv, TRUE);
}

static int
queue_flush (int argc, char **argv)
{
  g_auto(RdCommonOptions) common = { 0 };
  g_autofree char *relay = NULL;
  g_autofree char *relay_ca = NULL;
  GOptionEntry entries[] = {
    { "relay", 0, 0, G_OPTION_ARG_STRING, &relay, "Relay URL, instead of [relay] url", "URL" },
    { "relay-ca", 0, 0, G_OPTION_ARG_FILENAME, &relay_ca, "CA file for the relay's certificate", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("queue flush", NULL,
      "Sends every outbound message that is due now, once, and exits (what the\n"
      "worker in 'serve' does continuously). Refused (exit 75) while a 'serve' with a\n"
      "relay is running on the same data directory.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  int code = 0;
  g_autoptr(RdConfig) config = setup (ctx, &common, &argc, &argv, &code);
  if (config == NULL)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdRelayOutbox) ob = rd_relay_outbox_new (config, relay, relay_ca, &error);
  RdRelayRound round = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  if (ob == NULL || !rd_relay_outbox_recover (ob, NULL, &error) || !rd_relay_outbox_run_once (ob, 0, &round, &error))
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  double s = (double) (g_get_monotonic_time () - t0) / 1e6;
  printf ("sent=%u deferred=%u failed=%u dropped=%u connections=%u seconds=%.3f\n", round.sent, round.deferred,
          round.failed, round.dropped, rd_relay_outbox_connections (ob), s);
  return RD_EXIT_OK;
}

static int
queue_inject (int argc, char **argv)
{
  g_auto(RdCommonOptions) common = { 0 };
  g_autofree char *kind = NULL;
  g_autofree char *from = NULL;
  g_auto(GStrv) to = NULL;
  gint64 ticket = 0;
  int copies = 1;
  GOptionEntry entries[] = {
    { "kind", 0, 0, G_OPTION_ARG_STRING, &kind, "reply (default), autoreply, redirect, reject, notification", "KIND" },
    { "from", 0, 0, G_OPTION_ARG_STRING, &from, "Envelope sender (\"\" for <>)", "ADDR" },
    { "to", 0, 0, G_OPTION_ARG_STRING_ARRAY, &to, "Recipient (repeat for several)", "ADDR" },
    { "ticket", 0, 0, G_OPTION_ARG_INT64, &ticket, "The ticket the message belongs to", "N" },
    { "copies", 0, 0, G_OPTION_ARG_INT, &copies, "Queue N copies (for tests and benchmarks)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("queue inject", "FILE|-",
      "Queues the message in FILE (or stdin) as a producer would: an operator and\n"
      "test tool. Line ends are converted to CRLF. Prints the new row ids.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  int code = 0;
  g_autoptr(RdConfig) config = setup (ctx, &common, &argc, &argv, &code);
  if (config == NULL)
    return code;
  RdOutboxKind k = RD_OUTBOX_REPLY;
  if (argc != 2 || to == NULL || from == NULL || copies < 1 || copies > 1000000
      || (kind && !rd_outbox_kind_from_string (kind, &k)))
    {
      rd_app_error ("queue inject: needs --from, at least one --to and one FILE (see --help)");
      return RD_EXIT_USAGE;
    }
  g_autoptr(GError) error = NULL;
  g_autofree char *content = NULL;
  gsize len = 0;
  if (!strcmp (argv[1], "-"))
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);
      g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();
      if (g_output_stream_splice (mem, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error) < 0)
        {
          rd_app_error ("%s", error->message);
          return RD_EXIT_DATAERR;
        }
      len = g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (mem));
      content = g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (mem));
    }
  else if (!g_file_get_contents (argv[1], &content, &len, &error))
    {
      rd_app_error ("%s", error->message);
      return RD_EXIT_DATAERR;
    }
  /* CRLF line ends, as the outbox stores them. */
  GString *crlf = g_string_sized_new (len + len / 40);
  for (gsize i = 0; i < len; i++)
    {
      if (content[i] == '\n' && (i == 0 || content[i - 1] != '\r'))
        g_string_append_c (crlf, '\r');
      g_string_append_c (crlf, content[i]);
    }
  g_autoptr(GBytes) raw = g_string_free_to_bytes (crlf);
  g_autofree char *msgid = rd_peek_message_id (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw));
  /* Creates the database when needed, like 'deliver'. */
  g_autoptr(RdStore) store = rd_store_open (rd_config_get_data_dir (config), &error);
  if (store == NULL)
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  RdOutboxDraft d = { .kind = k, .ticket_number = ticket, .sender = from,
                      .recipients = (const char *const *) to, .message_id = msgid, .raw = raw };
  if (!rd_store_begin (store, &error))
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  for (int i = 0; i < copies; i++)
    {
      gint64 id = 0;
      if (!rd_store_outbox_enqueue (store, &d, &id, &error))
        {
          rd_store_rollback (store);
          rd_app_error ("%s", error->message);
          return rd_app_exit_code (error);
        }
      printf ("%" G_GINT64_FORMAT "\n", id);
    }
  if (!rd_store_commit (store, &error))
    {
      rd_app_error ("%s", error->message);
      return rd_app_exit_code (error);
    }
  return RD_EXIT_OK;
}

int
rd_cmd_queue (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "list", "list outbound messages", queue_list },
    { "show", "show one outbound message with its history", queue_show },
    { "retry", "queue a failed or dropped message again", queue_retry },
    { "drop", "drop a queued or failed message", queue_drop },
    { "flush", "send what is due now, once (without serve)", queue_flush },
    { "inject", "queue a message from a file (operator/test tool)", queue_inject },
  };
  return rd_app_dispatch ("queue", sub, G_N_ELEMENTS (sub), "\nEvery command accepts --data-dir DIR and --config FILE; list and show --json.\n"
                          "Exit codes: 0 ok, 1 not found or not allowed, 64 usage, 75 database unavailable.\n", argc, argv);
}
