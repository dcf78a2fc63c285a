/* relaydesk tickets — the agents' command line (docs/tickets.md).
 *
 *   list [--queue Q] [--status S] [--assignee A|-] [--tag T] [--since WHEN]
 *        [--sort number|updated|created] [--limit N] [--offset N]
 *   show N            the thread, quoted history folded, attachments
 *   search QUERY      full text: subjects, bodies, addresses, file names
 *   reply N           --body-file F (or $EDITOR); queued for the relay
 *   note N            an internal note (--body-file F, --text T or $EDITOR)
 *   assign N AGENT|-  status N STATUS   priority N PRIO   tag N [+|-]TAG...
 *   attachment get ID [--output FILE]
 *
 * Every command takes --json (the fields of ops/json.h, the same as the
 * HTTP API's, docs/api.md) and --as NAME (the agent recorded in the audit
 * log; default $USER). It opens the live database of a running `serve`
 * (WAL; writers wait up to the store's busy timeout). The operations are
 * ops/ops.h; this file parses arguments and prints.
 *
 * Exit codes: 0 ok; 1 no such ticket/attachment; 64 usage; 65 bad input
 * (status value, empty reply, every recipient suppressed); 70 internal
 * error; 75 database busy or unavailable; 78 configuration error.
 */
#include "app.h"
#include "json.h"
#include "rd-common.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define BODY_FILE_MAX (1024 * 1024)

static gboolean
parse_number (const char *arg, gint64 *number)
{
  guint64 n = 0;
  if (arg && arg[0] == '#')
    arg++;
  if (arg == NULL || !g_ascii_string_to_unsigned (arg, 10, 1, G_MAXINT64, &n, NULL))
    return FALSE;
  *number = (gint64) n;
  return TRUE;
}

static void
list_table (GPtrArray *tickets)
{
  if (tickets->len == 0)
    {
      printf ("No tickets.\n");
      return;
    }
  printf ("%-7s %-10s %-8s %-16s %-12s %-30s %s\n", "NUMBER", "QUEUE", "STATUS", "UPDATED", "ASSIGNEE",
          "REQUESTER", "SUBJECT");
  for (guint i = 0; i < tickets->len; i++)
    {
      RdTicket *t = g_ptr_array_index (tickets, i);
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (t->updated_at);
      g_autofree char *when = g_date_time_format (dt, "%Y-%m-%d %H:%M");
      printf ("%-7" G_GINT64_FORMAT " %-10s %-8s %-16s %-12s %-30.30s %s\n", t->number, t->queue,
              rd_ticket_status_to_string (t->status), when, t->assignee ? t->assignee : "-", t->requester_addr,
              t->subject);
    }
}

static int
print_tickets (RdApp *app, GPtrArray *tickets)
{
  if (!app->json)
    {
      list_table (tickets);
      return RD_EXIT_OK;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; i < tickets->len; i++)
    rd_json_ticket (app->ops, b, g_ptr_array_index (tickets, i));
  json_builder_end_array (b);
  rd_json_print (b);
  return RD_EXIT_OK;
}

/* "2024-01-31", "2024-01-31T10:00:00Z", a unix time, or "7d"/"12h"/"30m" ago. */
static gboolean
parse_since (const char *s, gint64 *out)
{
  if (s == NULL)
    return TRUE;
  gsize n = strlen (s);
  guint64 v = 0;
  if (n >= 2 && strchr ("dhm", s[n - 1]))
    {
      g_autofree char *num = g_strndup (s, n - 1);
      if (!g_ascii_string_to_unsigned (num, 10, 1, 100000, &v, NULL))
        return FALSE;
      gint64 mult = s[n - 1] == 'd' ? 86400 : s[n - 1] == 'h' ? 3600 : 60;
      *out = g_get_real_time () / G_USEC_PER_SEC - (gint64) v * mult;
      return TRUE;
    }
  if (g_ascii_string_to_unsigned (s, 10, 1, G_MAXINT64, &v, NULL))
    {
      *out = (gint64) v;
      return TRUE;
    }
  g_autofree char *iso = n == 10 ? g_strdup_printf ("%sT00:00:00Z", s) : g_strdup (s);
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (iso, utc);
  if (dt == NULL)
    return FALSE;
  *out = g_date_time_to_unix (dt);
  return TRUE;
}

#define TICKET_FLAGS (RD_APP_JSON | RD_APP_ACTOR)

/* ---- list / search / show ------------------------------------------------ */

static int
tickets_list (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *queue = NULL, *status = NULL, *assignee = NULL, *tag = NULL, *since = NULL, *sort = NULL;
  int limit = 50, offset = 0;
  GOptionEntry entries[] = {
    { "queue", 'q', 0, G_OPTION_ARG_STRING, &queue, "Only tickets in QUEUE", "QUEUE" },
    { "status", 's', 0, G_OPTION_ARG_STRING, &status, "Only tickets with STATUS", "STATUS" },
    { "assignee", 'a', 0, G_OPTION_ARG_STRING, &assignee, "Only tickets assigned to AGENT ('-': unassigned)", "AGENT" },
    { "tag", 't', 0, G_OPTION_ARG_STRING, &tag, "Only tickets tagged TAG", "TAG" },
    { "since", 0, 0, G_OPTION_ARG_STRING, &since, "Only tickets updated since WHEN (date, ISO time, 7d, 12h)", "WHEN" },
    { "sort", 0, 0, G_OPTION_ARG_STRING, &sort, "number (default, newest first), updated, created", "KEY" },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N tickets (default 50, max 1000)", "N" },
    { "offset", 0, 0, G_OPTION_ARG_INT, &offset, "Skip the first N tickets (paging)", "N" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "tickets list", NULL, "Lists tickets.", TICKET_FLAGS, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  RdTicketQuery q = { .queue = queue, .assignee = assignee, .tag = tag,
                      .limit = (guint) MAX (limit, 0), .offset = (guint) MAX (offset, 0) };
  gboolean ok = argc <= 1 && limit > 0 && limit <= 1000 && offset >= 0 && parse_since (since, &q.since);
  if (sort == NULL || g_str_equal (sort, "number"))
    q.sort = RD_TICKET_SORT_NUMBER;
  else if (g_str_equal (sort, "updated"))
    q.sort = RD_TICKET_SORT_UPDATED;
  else if (g_str_equal (sort, "created"))
    q.sort = RD_TICKET_SORT_CREATED;
  else
    ok = FALSE;
  if (status)
    {
      q.has_status = TRUE;
      if (!rd_ticket_status_from_string (status, &q.status))
        return rd_app_usage ("tickets list: bad status '%s' (%s)", status, rd_ticket_statuses_text ());
    }
  if (!ok)
    return rd_app_usage ("tickets list: bad arguments");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tickets = rd_ops_tickets_list (app.ops, &app.actor, &q, &error);
  if (tickets == NULL)
    return rd_app_fail (error);
  return print_tickets (&app, tickets);
}

static int
tickets_search (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  int limit = 50, offset = 0;
  GOptionEntry entries[] = {
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N tickets (default 50, max 1000)", "N" },
    { "offset", 0, 0, G_OPTION_ARG_INT, &offset, "Skip the first N tickets (paging)", "N" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "tickets search", "WORD...",
                     "Finds tickets whose subjects, bodies, addresses or attachment names contain every WORD.",
                     TICKET_FLAGS, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc < 2 || limit <= 0 || limit > 1000 || offset < 0)
    return rd_app_usage ("tickets search: expected words to search for");
  g_autofree char *query = g_strjoinv (" ", argv + 1);
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tickets = rd_ops_tickets_search (app.ops, &app.actor, query, (guint) limit, (guint) offset,
                                                        &error);
  if (tickets == NULL)
    return rd_app_fail (error);
  return print_tickets (&app, tickets);
}

static void
show_text (const RdTicketView *v, gboolean full)
{
  const RdTicket *t = v->ticket;
  g_autofree char *created = rd_time_iso8601 (t->created_at);
  g_autofree char *tags = g_strjoinv (", ", t->tags);
  printf ("Ticket #%" G_GINT64_FORMAT " %s: %s\n", t->number, v->subject_tag, t->subject);
  printf ("Queue: %s   Status: %s   Priority: %s   Assignee: %s\n", t->queue, rd_ticket_status_to_string (t->status),
          rd_ticket_priority_to_string (t->priority), t->assignee ? t->assignee : "-");
  if (t->requester_name)
    printf ("Requester: %s <%s>\n", t->requester_name, t->requester_addr);
  else
    printf ("Requester: %s\n", t->requester_addr);
  g_ptr_array_add (t->participants, NULL);
  g_autofree char *parts = g_strjoinv (", ", (char **) t->participants->pdata);
  g_ptr_array_remove_index (t->participants, t->participants->len - 1);
  printf ("Participants: %s\nTags: %s\nReply address: %s\nCreated: %s\n", parts, *tags ? tags : "-",
          v->reply_address, created);
  for (guint i = 0; i < t->links->len; i++)
    printf ("Linked: #%" G_GINT64_FORMAT "\n", g_array_index (t->links, gint64, i));
  for (guint i = 0; i < t->messages->len; i++)
    {
      RdTicketMessage *m = g_ptr_array_index (t->messages, i);
      g_autofree char *when = rd_time_iso8601 (m->created_at);
      printf ("\n--- %s message %" G_GINT64_FORMAT " from %s at %s", rd_message_direction_to_string (m->direction),
              m->id, m->author && m->direction != RD_MESSAGE_INBOUND ? m->author : (m->from_addr ? m->from_addr : "-"),
              when);
      if (m->has_delivery)
        printf (" [%s%s%s]", rd_outbox_state_to_string (m->delivery), m->delivery_code ? " " : "",
                m->delivery_code ? m->delivery_code : "");
      if (m->direction == RD_MESSAGE_INBOUND && m->has_auth)
        printf (" [%s %s: spf=%s dkim=%s dmarc=%s]", m->auth.verified ? "✓ sender verified" : "✗ sender not verified",
                m->auth.from_domain[0] ? m->auth.from_domain : "(no From domain)",
                rd_auth_result_to_string (m->auth.spf), rd_auth_result_to_string (m->auth.dkim),
                rd_auth_result_to_string (m->auth.dmarc));
      printf ("\n");
      if (m->message_id)
        printf ("Message-ID: <%s>\n", m->message_id);
      if (m->to_addrs)
        printf ("To: %s\n", m->to_addrs);
      guint folded = 0;
      g_autofree char *kept = full ? g_strdup (m->body_text) : rd_ops_fold_quoted (m->body_text, &folded);
      printf ("Subject: %s\n\n%s\n", m->subject ? m->subject : "", kept ? kept : "(no text body)");
      if (folded)
        printf ("[... %u quoted lines folded; --full shows them]\n", folded);
      for (guint k = 0; k < v->attachments->len; k++)
        {
          const RdStoredAttachment *a = g_ptr_array_index (v->attachments, k);
          if (a->message_row == m->id)
            printf ("Attachment %" G_GINT64_FORMAT ": %s (%s, %" G_GINT64_FORMAT " bytes)\n", a->id,
                    a->filename ? a->filename : "(unnamed)", a->content_type, a->size);
        }
    }
  printf ("\nHistory:\n");
  for (guint i = 0; i < v->audit->len; i++)
    {
      const RdAuditEntry *e = g_ptr_array_index (v->audit, i);
      g_autofree char *when = rd_time_iso8601 (e->at);
      printf ("  %s %s %s %s%s%s\n", when, e->actor, e->action, e->old_value ? e->old_value : "",
              e->old_value ? " -> " : "", e->new_value ? e->new_value : "");
    }
}

static int
tickets_show (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  gboolean full = FALSE;
  GOptionEntry entries[] = {
    { "full", 0, 0, G_OPTION_ARG_NONE, &full, "Do not fold quoted history", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "tickets show", "NUMBER",
                     "Shows one ticket with its thread and audit log. Exit 1 when there is no such ticket.",
                     TICKET_FLAGS, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc != 2 || !parse_number (argv[1], &number))
    return rd_app_usage ("tickets show: expected one ticket NUMBER");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicketView) v = rd_ops_ticket_view (app.ops, &app.actor, number, &error);
  if (v == NULL)
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      rd_json_ticket_view (b, v);
      rd_json_print (b);
    }
  else
    show_text (v, full);
  return RD_EXIT_OK;
}

/* ---- writing: reply, note ----------------------------------------------- */

/* The text from --body-file ("-": stdin), --text, or $EDITOR on a temp
 * file. (transfer full) NULL with a message printed on failure. */
static char *
read_text (const char *body_file, const char *text, const char *what)
{
  if (text)
    return g_strdup (text);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize len = 0;
  if (body_file && g_str_equal (body_file, "-"))
    {
      g_autoptr(GString) s = g_string_new (NULL);
      char buf[4096];
      size_t n;
      while ((n = fread (buf, 1, sizeof buf, stdin)) > 0 && s->len <= BODY_FILE_MAX)
        g_string_append_len (s, buf, (gssize) n);
      contents = g_string_free (g_steal_pointer (&s), FALSE);
    }
  else if (body_file)
    {
      if (!g_file_get_contents (body_file, &contents, &len, &error))
        {
          rd_app_error ("%s", error->message);
          return NULL;
        }
    }
  else
    {
      const char *editor = g_getenv ("VISUAL");
      if (editor == NULL || *editor == '\0')
        editor = g_getenv ("EDITOR");
      if (editor == NULL || *editor == '\0')
        {
          rd_app_error ("no %s text: give --body-file FILE or set $EDITOR", what);
          return NULL;
        }
      g_autofree char *path = NULL;
      int fd = g_file_open_tmp ("relaydesk-XXXXXX.txt", &path, &error);
      if (fd < 0)
        {
          rd_app_error ("%s", error->message);
          return NULL;
        }
      close (fd);
      g_autofree char *qpath = g_shell_quote (path);
      /* As git and mutt do: $EDITOR is a shell command line. */
      g_autofree char *cmd = g_strdup_printf ("%s %s", editor, qpath);
      int status = system (cmd);
      gboolean ok = status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0
        && g_file_get_contents (path, &contents, &len, &error);
      g_unlink (path);
      if (!ok)
        {
          rd_app_error ("editor failed%s%s", error ? ": " : "", error ? error->message : "");
          return NULL;
        }
    }
  if (strlen (contents) > BODY_FILE_MAX)
    {
      g_free (contents);
      rd_app_error ("%s text longer than %d bytes", what, BODY_FILE_MAX);
      return NULL;
    }
  return contents;
}

static int
tickets_reply (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *body_file = NULL, *text = NULL, *status = NULL;
  gboolean all = FALSE;
  GOptionEntry entries[] = {
    { "body-file", 'f', 0, G_OPTION_ARG_FILENAME, &body_file, "Reply text from FILE ('-': stdin)", "FILE" },
    { "text", 0, 0, G_OPTION_ARG_STRING, &text, "Reply text given inline", "TEXT" },
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "Cc every participant, not just the requester", NULL },
    { "status", 's', 0, G_OPTION_ARG_STRING, &status, "Set the ticket's status afterwards (e.g. pending)", "STATUS" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "tickets reply", "NUMBER",
                     "Replies to the requester; the mail is queued for the relay and recorded on the ticket.",
                     TICKET_FLAGS, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc != 2 || !parse_number (argv[1], &number))
    return rd_app_usage ("tickets reply: expected one ticket NUMBER");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autofree char *body = read_text (body_file, text, "reply");
  if (body == NULL)
    return RD_EXIT_DATAERR;
  g_autoptr(GError) error = NULL;
  RdReplyDraft d = { .ticket_number = number, .body = body, .reply_all = all, .set_status = status };
  g_auto(RdReplyResult) r = { 0 };
  if (!rd_ops_reply (app.ops, &app.actor, &d, &r, &error))
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      rd_json_reply_result (b, number, &r);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  printf ("Queued reply <%s> on ticket #%" G_GINT64_FORMAT " (outbox %" G_GINT64_FORMAT ")\n", r.message_id,
          number, r.outbox_id);
  for (guint i = 0; i < r.suppressed->len; i++)
    printf ("Not sent to %s: suppressed\n", (const char *) g_ptr_array_index (r.suppressed, i));
  return RD_EXIT_OK;
}

static int
tickets_note (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *body_file = NULL, *text = NULL;
  GOptionEntry entries[] = {
    { "body-file", 'f', 0, G_OPTION_ARG_FILENAME, &body_file, "Note text from FILE ('-': stdin)", "FILE" },
    { "text", 0, 0, G_OPTION_ARG_STRING, &text, "Note text given inline", "TEXT" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "tickets note", "NUMBER", "Adds an internal note (never sent to anyone).",
                     TICKET_FLAGS, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc != 2 || !parse_number (argv[1], &number))
    return rd_app_usage ("tickets note: expected one ticket NUMBER");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autofree char *body = read_text (body_file, text, "note");
  if (body == NULL)
    return RD_EXIT_DATAERR;
  g_autoptr(GError) error = NULL;
  gint64 row = 0;
  if (!rd_ops_note (app.ops, &app.actor, number, body, &row, &error))
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      rd_json_add_int (b, "number", number);
      rd_json_add_int (b, "message", row);
      rd_json_add_str (b, "direction", "note");
      json_builder_end_object (b);
      rd_json_print (b);
    }
  else
    printf ("Note %" G_GINT64_FORMAT " added to ticket #%" G_GINT64_FORMAT "\n", row, number);
  return RD_EXIT_OK;
}

/* ---- changes: assign, status, priority, tag ------------------------------- */

static int
print_ticket_after_change (RdApp *app, gint64 number)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicket) t = rd_ops_ticket_peek (app->ops, &app->actor, number, &error);
  if (t == NULL)
    return rd_app_fail (error);
  if (app->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      rd_json_ticket (app->ops, b, t);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  g_autofree char *tags = g_strjoinv (", ", t->tags);
  printf ("#%" G_GINT64_FORMAT " status=%s priority=%s assignee=%s tags=%s\n", t->number,
          rd_ticket_status_to_string (t->status), rd_ticket_priority_to_string (t->priority),
          t->assignee ? t->assignee : "-", *tags ? tags : "-");
  return RD_EXIT_OK;
}

static int
change_field (int argc, char **argv, const char *name, RdTicketField field, const char *params, const char *summary)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *cmd = g_strdup_printf ("tickets %s", name);
  if (!rd_app_parse (&app, cmd, params, summary, TICKET_FLAGS, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc != 3 || !parse_number (argv[1], &number))
    return rd_app_usage ("%s: expected %s", cmd, params);
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_ticket_set (app.ops, &app.actor, number, field, argv[2], &error))
    return rd_app_fail (error);
  return print_ticket_after_change (&app, number);
}

static int
tickets_assign (int argc, char **argv)
{
  return change_field (argc, argv, "assign", RD_TICKET_FIELD_ASSIGNEE, "NUMBER AGENT|-",
                       "Assigns the ticket to AGENT ('-' unassigns).");
}

static int
tickets_status (int argc, char **argv)
{
  return change_field (argc, argv, "status", RD_TICKET_FIELD_STATUS, "NUMBER STATUS",
                       "Sets the status: new, open, pending, resolved, closed.");
}

static int
tickets_priority (int argc, char **argv)
{
  return change_field (argc, argv, "priority", RD_TICKET_FIELD_PRIORITY, "NUMBER PRIORITY",
                       "Sets the priority: low, normal, high, urgent.");
}

static int
tickets_tag (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_auto(GStrv) remove = NULL;
  GOptionEntry entries[] = {
    { "remove", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &remove, "Remove TAG (repeatable)", "TAG" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "tickets tag", "NUMBER [TAG...] [--remove TAG] [-- -TAG...]",
                     "Adds tags (TAG or +TAG) and removes them (--remove TAG, or -TAG after --).", TICKET_FLAGS,
                     entries, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc < 2 || !parse_number (argv[1], &number) || (argc < 3 && remove == NULL))
    return rd_app_usage ("tickets tag: expected NUMBER and tags");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GStrvBuilder) add = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) del = g_strv_builder_new ();
  for (int i = 2; i < argc; i++)
    {
      const char *t = argv[i];
      if (g_str_equal (t, "--"))
        continue;
      g_strv_builder_add (t[0] == '-' ? del : add, t[0] == '+' || t[0] == '-' ? t + 1 : t);
    }
  if (remove)
    g_strv_builder_addv (del, (const char **) remove);
  g_auto(GStrv) add_v = g_strv_builder_end (add);
  g_auto(GStrv) del_v = g_strv_builder_end (del);
  g_autoptr(GError) error = NULL;
  if (!rd_ops_ticket_tags (app.ops, &app.actor, number, (const char *const *) add_v, (const char *const *) del_v,
                           &error))
    return rd_app_fail (error);
  return print_ticket_after_change (&app, number);
}

/* ---- attachments ------------------------------------------------------------ */

static int
tickets_attachment (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *output = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write to FILE (default: stdout)", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "tickets attachment", "get ID",
                     "Writes an attachment's bytes (with --json: its metadata and base64 content).", TICKET_FLAGS,
                     entries, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 id = 0;
  if (argc != 3 || !g_str_equal (argv[1], "get") || !parse_number (argv[2], &id))
    return rd_app_usage ("tickets attachment: expected 'get ID'");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autoptr(RdStoredAttachment) a = rd_ops_attachment_get (app.ops, &app.actor, id, &data, &error);
  if (a == NULL)
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      rd_json_attachment (b, a, data);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  if (output)
    {
      if (!g_file_set_contents (output, (const char *) p, (gssize) len, &error))
        return rd_app_fail (error);
      return RD_EXIT_OK;
    }
  if (len && fwrite (p, 1, len, stdout) != len)
    return RD_EXIT_FAILURE;
  return RD_EXIT_OK;
}

int
rd_cmd_tickets (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "list", "list tickets (filters, sorting, paging)", tickets_list },
    { "show", "show one ticket: thread, attachments, history", tickets_show },
    { "search", "full-text search", tickets_search },
    { "reply", "reply to the requester (queued for the relay)", tickets_reply },
    { "note", "add an internal note", tickets_note },
    { "assign", "assign to an agent", tickets_assign },
    { "status", "set the status", tickets_status },
    { "priority", "set the priority", tickets_priority },
    { "tag", "add or remove tags", tickets_tag },
    { "attachment", "get an attachment's bytes", tickets_attachment },
  };
  return rd_app_dispatch ("tickets", sub, G_N_ELEMENTS (sub), "\nEvery command accepts --data-dir DIR, --config FILE, --json and --as NAME.\n"
                          "Exit codes: 0 ok, 1 not found, 64 usage, 65 bad input, 70 internal error,\n"
                          "75 database busy or unavailable, 78 configuration error.\n", argc, argv);
}
