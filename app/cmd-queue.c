/* relaydesk queue — operates the outbox (ops/ops.h, store/outbox.h).
 *
 *   list [--state S] [--limit N] [--json]
 *   show ID [--json] [--raw]
 *   retry ID          failed/dropped/queued -> queued now, fresh lifetime
 *   drop ID [--reason TEXT]   queued/failed -> dropped
 *   flush [--relay URL] [--relay-ca FILE]   send what is due now, once
 *   inject --kind K --from ADDR --to ADDR [--to ...] [--ticket N] FILE|-
 *          queue a message as a producer would (operator and test tool)
 *
 * JSON fields (stable for scripts, ops/json.h): list: array of {id, kind,
 * state, ticket, sender, recipients[], message_id, attempts, last_error,
 * relay_reply, created_at, next_attempt_at, sent_at}; show: one such
 * object plus events: [{at, event, detail}] (and raw with --raw).
 * Times ISO 8601 UTC, null when unset. Exit codes: 0 ok, 1 no such row or
 * not allowed in its state, 64 usage, 75 database unavailable.
 */
#include "app.h"
#include "json.h"
#include "rd-common.h"
#include "relay.h"

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <stdio.h>
#include <string.h>

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
  g_auto(RdApp) app = { 0 };
  g_autofree char *state = NULL;
  int limit = 100;
  GOptionEntry entries[] = {
    { "state", 's', 0, G_OPTION_ARG_STRING, &state, "Only rows in STATE (queued, sending, sent, failed, dropped)", "STATE" },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N rows (default 100)", "N" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "queue list", NULL, "Lists outbound messages, newest first.", RD_APP_JSON, entries,
                     &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc > 1 || limit <= 0)
    return rd_app_usage ("queue list: bad arguments");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = rd_ops_outbox_list (app.ops, &app.actor, state, (guint) limit, &error);
  if (items == NULL)
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < items->len; i++)
        rd_json_outbox_item (b, g_ptr_array_index (items, i), NULL, FALSE);
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
              rd_outbox_state_to_string (it->state), it->attempts,
              it->recipients->len ? (char *) g_ptr_array_index (it->recipients, 0) : "-", note);
    }
  return RD_EXIT_OK;
}

static int
queue_show (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  gboolean raw = FALSE;
  GOptionEntry entries[] = {
    { "raw", 0, 0, G_OPTION_ARG_NONE, &raw, "Include the message itself", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "queue show", "ID", "Shows one outbound message with its history.", RD_APP_JSON,
                     entries, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 id;
  if (!parse_id (argc, argv, &id))
    return rd_app_usage ("queue show: expected one ID");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  GPtrArray *ev = NULL;
  g_autoptr(RdOutboxItem) it = rd_ops_outbox_show (app.ops, &app.actor, id, &ev, &error);
  g_autoptr(GPtrArray) events = ev;
  if (it == NULL)
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      rd_json_outbox_item (b, it, events, raw);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  g_autofree char *created = rd_time_iso8601 (it->created_at);
  printf ("Outbox message %" G_GINT64_FORMAT " (%s): %s, %u attempt(s)\n", it->id,
          rd_outbox_kind_to_string (it->kind), rd_outbox_state_to_string (it->state), it->attempts);
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
      RdOutboxEvent *e = g_ptr_array_index (events, i);
      g_autofree char *at = rd_time_iso8601 (e->at);
      printf ("  %s %-10s %s\n", at, e->event, e->detail ? e->detail : "");
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
  g_auto(RdApp) app = { 0 };
  g_autofree char *reason = NULL;
  GOptionEntry entries[] = {
    { "reason", 0, 0, G_OPTION_ARG_STRING, &reason, "Why (kept in the history)", "TEXT" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, drop ? "queue drop" : "queue retry", "ID",
                     drop ? "Drops a queued or failed message: it will not be sent."
                          : "Queues a failed, dropped or deferred message again, due now, with a fresh lifetime.\n"
                            "A sent message cannot be retried: the relay accepted it.",
                     RD_APP_ACTOR, drop ? entries : NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 id;
  if (!parse_id (argc, argv, &id))
    return rd_app_usage ("queue %s: expected one ID", drop ? "drop" : "retry");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  gboolean ok = drop ? rd_ops_outbox_drop (app.ops, &app.actor, id, reason ? reason : "dropped by the operator", &error)
                     : rd_ops_outbox_retry (app.ops, &app.actor, id, &error);
  if (!ok)
    {
      rd_app_error ("%s", error->message);
      /* Documented: 1 for "no such row" and "not allowed in its state". */
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
  g_auto(RdApp) app = { 0 };
  g_autofree char *relay = NULL;
  g_autofree char *relay_ca = NULL;
  GOptionEntry entries[] = {
    { "relay", 0, 0, G_OPTION_ARG_STRING, &relay, "Relay URL, instead of [relay] url", "URL" },
    { "relay-ca", 0, 0, G_OPTION_ARG_FILENAME, &relay_ca, "CA file for the relay's certificate", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "queue flush", NULL,
                     "Sends every outbound message that is due now, once, and exits (what the\n"
                     "worker in 'serve' does continuously). Refused (exit 75) while a 'serve' with a\n"
                     "relay is running on the same data directory.", 0, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  int code = rd_app_open (&app, RD_APP_NO_STORE);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdRelayOutbox) ob = rd_relay_outbox_new (app.config, relay, relay_ca, &error);
  RdRelayRound round = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  if (ob == NULL || !rd_relay_outbox_recover (ob, NULL, &error) || !rd_relay_outbox_run_once (ob, 0, &round, &error))
    return rd_app_fail (error);
  double s = (double) (g_get_monotonic_time () - t0) / 1e6;
  printf ("sent=%u deferred=%u failed=%u dropped=%u connections=%u seconds=%.3f\n", round.sent, round.deferred,
          round.failed, round.dropped, rd_relay_outbox_connections (ob), s);
  return RD_EXIT_OK;
}

static int
queue_inject (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
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
  if (!rd_app_parse (&app, "queue inject", "FILE|-",
                     "Queues the message in FILE (or stdin) as a producer would: an operator and\n"
                     "test tool. Line ends are converted to CRLF. Prints the new row ids.", 0, entries, &argc,
                     &argv))
    return RD_EXIT_USAGE;
  RdOutboxKind k = RD_OUTBOX_REPLY;
  if (argc != 2 || to == NULL || from == NULL || copies < 1 || copies > 1000000
      || (kind && !rd_outbox_kind_from_string (kind, &k)))
    return rd_app_usage ("queue inject: needs --from, at least one --to and one FILE");
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
  /* Creates the database when needed, like 'deliver'. */
  int code = rd_app_open (&app, RD_APP_STORE_CREATE);
  if (code)
    return code;
  g_autoptr(GBytes) raw = g_bytes_new_take (g_steal_pointer (&content), len);
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (!rd_ops_outbox_inject (app.ops, &app.actor, k, from, (const char *const *) to, ticket, raw, (guint) copies,
                             ids, &error))
    return rd_app_fail (error);
  for (guint i = 0; i < ids->len; i++)
    printf ("%" G_GINT64_FORMAT "\n", g_array_index (ids, gint64, i));
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
