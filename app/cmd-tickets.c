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
 * Every command takes --json (fields in docs/tickets.md, stable for
 * scripts) and --as NAME (the agent recorded in the audit log; default
 * $USER). It opens the live database of a running `serve` (WAL; writers
 * wait up to the store's busy timeout).
 *
 * Exit codes: 0 ok; 1 no such ticket/attachment; 64 usage; 65 bad input
 * (status value, empty reply, every recipient suppressed); 70 internal
 * error; 75 database busy or unavailable; 78 configuration error.
 */
#include "app.h"
#include "json-out.h"
#include "rd-common.h"
#include "store.h"
#include "tickets.h"
#include "ticket-ids.h"
#include "reply.h"

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define BODY_FILE_MAX (1024 * 1024)

/* ---- JSON ------------------------------------------------------------ */

static void
add_person (JsonBuilder *b, const char *member, const char *name, const char *addr)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_object (b);
  rd_json_add_str (b, "name", name ? name : "");
  rd_json_add_str (b, "addr", addr);
  json_builder_end_object (b);
}

static void
add_strv (JsonBuilder *b, const char *name, const char *const *v, guint n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; v && (n ? i < n : v[i] != NULL); i++)
    json_builder_add_string_value (b, v[i]);
  json_builder_end_array (b);
}

static gboolean
is_blank (const char *l)
{
  for (; *l; l++)
    if (!g_ascii_isspace (*l))
      return FALSE;
  return TRUE;
}

/* The body with quoted history folded: from the first "On ... wrote:"
 * line, or the first run of ">" lines that continues to the end (only
 * blank or quoted lines after it). Returns the kept text and the number
 * of folded lines. (transfer full) */
static char *
fold_quoted (const char *body, guint *folded)
{
  *folded = 0;
  if (body == NULL)
    return NULL;
  g_auto(GStrv) lines = g_strsplit (body, "\n", -1);
  guint n = g_strv_length (lines);
  guint cut = n;
  for (guint i = 0; i < n && cut == n; i++)
    {
      const char *l = lines[i];
      gsize len = strlen (l);
      gboolean wrote = g_str_has_prefix (l, "On ") && len >= 7
        && (g_str_has_suffix (l, "wrote:") || g_str_has_suffix (l, "wrote:\r"));
      if (wrote)
        cut = i;
      else if (l[0] == '>')
        {
          gboolean rest_quoted = TRUE;
          for (guint j = i; j < n && rest_quoted; j++)
            if (lines[j][0] != '>' && !is_blank (lines[j]))
              rest_quoted = FALSE;
          if (rest_quoted)
            cut = i;
        }
    }
  g_autoptr(GString) out = g_string_new (NULL);
  for (guint i = 0; i < cut; i++)
    g_string_append_printf (out, "%s%s", i ? "\n" : "", lines[i]);
  for (guint i = cut; i < n; i++)
    if (*lines[i] != '\0')
      (*folded)++;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
ticket_json (JsonBuilder *b, const RdTicket *t, RdTicketIds *ids, GPtrArray *attachments, GPtrArray *audit)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "number", t->number);
  rd_json_add_str (b, "queue", t->queue);
  rd_json_add_str (b, "status", t->status);
  rd_json_add_str (b, "priority", t->priority);
  rd_json_add_str (b, "assignee", t->assignee);
  add_strv (b, "tags", (const char *const *) t->tags, 0);
  rd_json_add_str (b, "subject", t->subject);
  add_person (b, "requester", t->requester_name, t->requester_addr);
  if (ids)
    {
      g_autofree char *tag = rd_ticket_ids_subject_tag (ids, t->number);
      g_autofree char *ra = rd_ticket_ids_reply_address (ids, t->queue, t->number);
      rd_json_add_str (b, "subject_tag", tag);
      rd_json_add_str (b, "reply_address", ra);
    }
  rd_json_add_time (b, "created_at", t->created_at);
  rd_json_add_time (b, "updated_at", t->updated_at);
  rd_json_add_int (b, "message_count", t->message_count);
  if (t->participants)
    add_strv (b, "participants", (const char *const *) t->participants->pdata, t->participants->len);
  if (t->links)
    {
      json_builder_set_member_name (b, "links");
      json_builder_begin_array (b);
      for (guint i = 0; i < t->links->len; i++)
        json_builder_add_int_value (b, g_array_index (t->links, gint64, i));
      json_builder_end_array (b);
    }
  if (t->messages)
    {
      json_builder_set_member_name (b, "messages");
      json_builder_begin_array (b);
      for (guint i = 0; i < t->messages->len; i++)
        {
          const RdTicketMessage *m = g_ptr_array_index (t->messages, i);
          json_builder_begin_object (b);
          rd_json_add_int (b, "id", m->id);
          rd_json_add_str (b, "direction", m->direction);
          rd_json_add_str (b, "message_id", m->message_id);
          add_person (b, "from", m->from_name, m->from_addr);
          rd_json_add_str (b, "to", m->to_addrs);
          rd_json_add_str (b, "cc", m->cc_addrs);
          rd_json_add_str (b, "author", m->author);
          rd_json_add_str (b, "subject", m->subject);
          rd_json_add_str (b, "body_text", m->body_text);
          guint folded = 0;
          g_autofree char *kept = fold_quoted (m->body_text, &folded);
          rd_json_add_str (b, "body_unquoted", kept);
          rd_json_add_str (b, "delivery_status", m->delivery_status);
          rd_json_add_str (b, "delivery_code", m->delivery_code);
          rd_json_add_time (b, "created_at", m->created_at);
          json_builder_set_member_name (b, "attachments");
          json_builder_begin_array (b);
          for (guint k = 0; attachments && k < attachments->len; k++)
            {
              const RdStoredAttachment *a = g_ptr_array_index (attachments, k);
              if (a->message_row != m->id)
                continue;
              json_builder_begin_object (b);
              rd_json_add_int (b, "id", a->id);
              rd_json_add_str (b, "filename", a->filename);
              rd_json_add_str (b, "content_type", a->content_type);
              rd_json_add_int (b, "size", a->size);
              rd_json_add_str (b, "sha256", a->sha256);
              json_builder_end_object (b);
            }
          json_builder_end_array (b);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  if (audit)
    {
      json_builder_set_member_name (b, "audit");
      json_builder_begin_array (b);
      for (guint i = 0; i < audit->len; i++)
        {
          const RdAuditEntry *e = g_ptr_array_index (audit, i);
          json_builder_begin_object (b);
          rd_json_add_time (b, "at", e->at);
          rd_json_add_str (b, "actor", e->actor);
          rd_json_add_str (b, "action", e->action);
          rd_json_add_str (b, "old", e->old_value);
          rd_json_add_str (b, "new", e->new_value);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
}

/* ---- shared plumbing --------------------------------------------------- */

typedef struct {
  RdCommonOptions common;
  gboolean json;
  char *actor;
  RdConfig *config;
  RdStore *store;
} Cli;

static void
cli_clear (Cli *c)
{
  rd_common_options_clear (&c->common);
  g_clear_pointer (&c->actor, g_free);
  g_clear_pointer (&c->store, rd_store_free);
  g_clear_pointer (&c->config, rd_config_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Cli, cli_clear)

static GOptionContext *
cli_context (Cli *c, const char *name, const char *params, const char *summary, const GOptionEntry *extra)
{
  GOptionContext *ctx = rd_app_option_context (name, params, summary, &c->common);
  GOptionEntry base[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &c->json, "Print JSON (fields: docs/tickets.md)", NULL },
    { "as", 0, 0, G_OPTION_ARG_STRING, &c->actor, "Agent name for the audit log (default $USER)", "NAME" },
    G_OPTION_ENTRY_NULL
  };
  g_option_context_add_main_entries (ctx, base, NULL);
  if (extra)
    g_option_context_add_main_entries (ctx, extra, NULL);
  return ctx;
}

static int
error_exit (GError *error)
{
  rd_app_error ("%s", error->message);
  if (g_error_matches (error, RD_ERROR, RD_ERROR_LIMIT))
    return RD_EXIT_DATAERR;
  return rd_app_exit_code (error);
}

/* Loads config and opens the existing database. 0 or an exit code. */
static int
cli_open (Cli *c)
{
  c->config = rd_app_load_config (&c->common);
  if (c->config == NULL)
    return RD_EXIT_CONFIG;
  g_autoptr(GError) error = NULL;
  c->store = rd_store_open_existing (rd_config_get_data_dir (c->config), &error);
  if (c->store == NULL)
    return error_exit (error);
  if (c->actor == NULL)
    {
      const char *u = g_getenv ("USER");
      c->actor = g_strdup (u && *u ? u : "agent");
    }
  return 0;
}

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
      printf ("%-7" G_GINT64_FORMAT " %-10s %-8s %-16s %-12s %-30.30s %s\n", t->number, t->queue, t->status,
              when, t->assignee ? t->assignee : "-", t->requester_addr, t->subject);
    }
}

static int
print_tickets (Cli *c, GPtrArray *tickets)
{
  if (c->json)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RdTicketIds) ids = rd_ticket_ids_new (c->config, c->store, &error);
      if (ids == NULL)
        return error_exit (error);
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < tickets->len; i++)
        ticket_json (b, g_ptr_array_index (tickets, i), ids, NULL, NULL);
      json_builder_end_array (b);
      rd_json_print (b);
    }
  else
    list_table (tickets);
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
  g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (iso, g_time_zone_new_utc ());
  if (dt == NULL)
    return FALSE;
  *out = g_date_time_to_unix (dt);
  return TRUE;
}

/* ---- list / search / show ------------------------------------------------ */

static int
tickets_list (int argc, char **argv)
{
  g_auto(Cli) c = { 0 };
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
  g_autoptr(GOptionContext) ctx = cli_context (&c, "tickets list", NULL, "Lists tickets.", entries);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  RdTicketQuery q = { .queue = queue, .status = status, .assignee = assignee, .tag = tag,
                      .limit = (guint) MAX (limit, 0), .offset = (guint) MAX (offset, 0) };
  if (sort == NULL || g_str_equal (sort, "number"))
    q.sort = RD_TICKET_SORT_NUMBER;
  else if (g_str_equal (sort, "updated"))
    q.sort = RD_TICKET_SORT_UPDATED;
  else if (g_str_equal (sort, "created"))
    q.sort = RD_TICKET_SORT_CREATED;
  else
    limit = -1;
  if (argc > 1 || limit <= 0 || limit > 1000 || offset < 0 || !parse_since (since, &q.since))
    {
      rd_app_error ("tickets list: bad arguments (see --help)");
      return RD_EXIT_USAGE;
    }
  int code = cli_open (&c);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tickets = rd_store_tickets_query (c.store, &q, &error);
  if (tickets == NULL)
    return error_exit (error);
  return print_tickets (&c, tickets);
}

static int
tickets_search (int argc, char **argv)
{
  g_auto(Cli) c = { 0 };
  int limit = 50, offset = 0;
  GOptionEntry entries[] = {
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N tickets (default 50, max 1000)", "N" },
    { "offset", 0, 0, G_OPTION_ARG_INT, &offset, "Skip the first N tickets (paging)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = cli_context (&c, "tickets search", "WORD...",
      "Finds tickets whose subjects, bodies, addresses or attachment names contain every WORD.", entries);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc < 2 || limit <= 0 || limit > 1000 || offset < 0)
    {
      rd_app_error ("tickets search: expected words to search for (see --help)");
      return RD_EXIT_USAGE;
    }
  g_autofree char *query = g_strjoinv (" ", argv + 1);
  int code = cli_open (&c);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tickets = rd_store_tickets_search (c.store, query, (guint) limit, (guint) offset, &error);
  if (tickets == NULL)
    return error_exit (error);
  return print_tickets (&c, tickets);
}

static int
tickets_show (int argc, char **argv)
{
  g_auto(Cli) c = { 0 };
  gboolean full = FALSE;
  GOptionEntry entries[] = {
    { "full", 0, 0, G_OPTION_ARG_NONE, &full, "Do not fold quoted history", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = cli_context (&c, "tickets show", "NUMBER",
      "Shows one ticket with its thread and audit log. Exit 1 when there is no such ticket.", entries);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc != 2 || !parse_number (argv[1], &number))
    {
      rd_app_error ("tickets show: expected one ticket NUMBER (see --help)");
      return RD_EXIT_USAGE;
    }
  int code = cli_open (&c);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicket) t = rd_store_ticket_get (c.store, number, &error);
  if (t == NULL)
    return error_exit (error);
  g_autoptr(GPtrArray) atts = rd_store_ticket_attachments (c.store, number, &error);
  if (atts == NULL)
    return error_exit (error);
  g_autoptr(GPtrArray) audit = rd_store_ticket_audit_list (c.store, number, &error);
  if (audit == NULL)
    return error_exit (error);
  g_autoptr(RdTicketIds) ids = rd_ticket_ids_new (c.config, c.store, &error);
  if (ids == NULL)
    return error_exit (error);
  if (c.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      ticket_json (b, t, ids, atts, audit);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  g_autofree char *tag = rd_ticket_ids_subject_tag (ids, t->number);
  g_autofree char *ra = rd_ticket_ids_reply_address (ids, t->queue, t->number);
  g_autofree char *created = rd_time_iso8601 (t->created_at);
  g_autofree char *tags = g_strjoinv (", ", t->tags);
  printf ("Ticket #%" G_GINT64_FORMAT " %s: %s\n", t->number, tag, t->subject);
  printf ("Queue: %s   Status: %s   Priority: %s   Assignee: %s\n", t->queue, t->status, t->priority,
          t->assignee ? t->assignee : "-");
  if (t->requester_name)
    printf ("Requester: %s <%s>\n", t->requester_name, t->requester_addr);
  else
    printf ("Requester: %s\n", t->requester_addr);
  g_ptr_array_add (t->participants, NULL);
  g_autofree char *parts = g_strjoinv (", ", (char **) t->participants->pdata);
  g_ptr_array_remove_index (t->participants, t->participants->len - 1);
  printf ("Participants: %s\nTags: %s\nReply address: %s\nCreated: %s\n", parts, *tags ? tags : "-", ra, created);
  for (guint i = 0; i < t->links->len; i++)
    printf ("Linked: #%" G_GINT64_FORMAT "\n", g_array_index (t->links, gint64, i));
  for (guint i = 0; i < t->messages->len; i++)
    {
      RdTicketMessage *m = g_ptr_array_index (t->messages, i);
      g_autofree char *when = rd_time_iso8601 (m->created_at);
      printf ("\n--- %s message %" G_GINT64_FORMAT " from %s at %s", m->direction, m->id,
              m->author && !g_str_equal (m->direction, "inbound") ? m->author : (m->from_addr ? m->from_addr : "-"),
              when);
      if (m->delivery_status)
        printf (" [%s%s%s]", m->delivery_status, m->delivery_code ? " " : "", m->delivery_code ? m->delivery_code : "");
      printf ("\n");
      if (m->message_id)
        printf ("Message-ID: <%s>\n", m->message_id);
      if (m->to_addrs)
        printf ("To: %s\n", m->to_addrs);
      guint folded = 0;
      g_autofree char *kept = full ? g_strdup (m->body_text) : fold_quoted (m->body_text, &folded);
      printf ("Subject: %s\n\n%s\n", m->subject ? m->subject : "", kept ? kept : "(no text body)");
      if (folded)
        printf ("[... %u quoted lines folded; --full shows them]\n", folded);
      for (guint k = 0; k < atts->len; k++)
        {
          const RdStoredAttachment *a = g_ptr_array_index (atts, k);
          if (a->message_row == m->id)
            printf ("Attachment %" G_GINT64_FORMAT ": %s (%s, %" G_GINT64_FORMAT " bytes)\n", a->id,
                    a->filename ? a->filename : "(unnamed)", a->content_type, a->size);
        }
    }
  printf ("\nHistory:\n");
  for (guint i = 0; i < audit->len; i++)
    {
      const RdAuditEntry *e = g_ptr_array_index (audit, i);
      g_autofree char *when = rd_time_iso8601 (e->at);
      printf ("  %s %s %s %s%s%s\n", when, e->actor, e->action, e->old_value ? e->old_value : "",
              e->old_value ? " -> " : "", e->new_value ? e->new_value : "");
    }
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
  g_auto(Cli) c = { 0 };
  g_autofree char *body_file = NULL, *text = NULL, *status = NULL;
  gboolean all = FALSE;
  GOptionEntry entries[] = {
    { "body-file", 'f', 0, G_OPTION_ARG_FILENAME, &body_file, "Reply text from FILE ('-': stdin)", "FILE" },
    { "text", 0, 0, G_OPTION_ARG_STRING, &text, "Reply text given inline", "TEXT" },
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "Cc every participant, not just the requester", NULL },
    { "status", 's', 0, G_OPTION_ARG_STRING, &status, "Set the ticket's status afterwards (e.g. pending)", "STATUS" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = cli_context (&c, "tickets reply", "NUMBER",
      "Replies to the requester; the mail is queued for the relay and recorded on the ticket.", entries);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc != 2 || !parse_number (argv[1], &number))
    {
      rd_app_error ("tickets reply: expected one ticket NUMBER (see --help)");
      return RD_EXIT_USAGE;
    }
  int code = cli_open (&c);
  if (code)
    return code;
  g_autofree char *body = read_text (body_file, text, "reply");
  if (body == NULL)
    return RD_EXIT_DATAERR;
  g_autoptr(GError) error = NULL;
  RdReplyDraft d = { .ticket_number = number, .body = body, .author = c.actor, .reply_all = all,
                     .set_status = status };
  g_auto(RdReplyResult) r = { 0 };
  if (!rd_desk_reply (c.config, c.store, &d, &r, &error))
    return error_exit (error);
  if (c.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      rd_json_add_int (b, "number", number);
      rd_json_add_int (b, "message", r.message_row);
      rd_json_add_int (b, "outbox_id", r.outbox_id);
      rd_json_add_str (b, "message_id", r.message_id);
      rd_json_add_str (b, "subject", r.subject);
      add_strv (b, "recipients", (const char *const *) r.recipients->pdata, r.recipients->len);
      add_strv (b, "suppressed", (const char *const *) r.suppressed->pdata, r.suppressed->len);
      json_builder_end_object (b);
      rd_json_print (b);
    }
  else
    {
      printf ("Queued reply <%s> on ticket #%" G_GINT64_FORMAT " (outbox %" G_GINT64_FORMAT ")\n", r.message_id,
              number, r.outbox_id);
      for (guint i = 0; i < r.suppressed->len; i++)
        printf ("Not sent to %s: suppressed\n", (const char *) g_ptr_array_index (r.suppressed, i));
    }
  return RD_EXIT_OK;
}

static int
tickets_note (int argc, char **argv)
{
  g_auto(Cli) c = { 0 };
  g_autofree char *body_file = NULL, *text = NULL;
  GOptionEntry entries[] = {
    { "body-file", 'f', 0, G_OPTION_ARG_FILENAME, &body_file, "Note text from FILE ('-': stdin)", "FILE" },
    { "text", 0, 0, G_OPTION_ARG_STRING, &text, "Note text given inline", "TEXT" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = cli_context (&c, "tickets note", "NUMBER",
      "Adds an internal note (never sent to anyone).", entries);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc != 2 || !parse_number (argv[1], &number))
    {
      rd_app_error ("tickets note: expected one ticket NUMBER (see --help)");
      return RD_EXIT_USAGE;
    }
  int code = cli_open (&c);
  if (code)
    return code;
  g_autofree char *body = read_text (body_file, text, "note");
  if (body == NULL || !g_utf8_validate (body, -1, NULL) || *body == '\0')
    {
      if (body)
        rd_app_error ("note text is empty or not UTF-8");
      return RD_EXIT_DATAERR;
    }
  g_autoptr(GError) error = NULL;
  RdAgentMessageDraft d = { .ticket_number = number, .direction = "note", .author = c.actor,
                            .from_name = c.actor, .body_text = body, .subject = "(note)" };
  gint64 row = 0;
  if (!rd_store_message_add_agent (c.store, &d, &row, &error))
    return error_exit (error);
  if (c.json)
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
print_ticket_after_change (Cli *c, gint64 number)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicket) t = rd_store_ticket_peek (c->store, number, &error);
  if (t == NULL)
    return error_exit (error);
  if (c->json)
    {
      g_autoptr(RdTicketIds) ids = rd_ticket_ids_new (c->config, c->store, &error);
      if (ids == NULL)
        return error_exit (error);
      g_autoptr(JsonBuilder) b = json_builder_new ();
      ticket_json (b, t, ids, NULL, NULL);
      rd_json_print (b);
    }
  else
    {
      g_autofree char *tags = g_strjoinv (", ", t->tags);
      printf ("#%" G_GINT64_FORMAT " status=%s priority=%s assignee=%s tags=%s\n", t->number, t->status,
              t->priority, t->assignee ? t->assignee : "-", *tags ? tags : "-");
    }
  return RD_EXIT_OK;
}

static int
change_field (int argc, char **argv, const char *name, RdTicketField field, const char *params, const char *summary)
{
  g_auto(Cli) c = { 0 };
  g_autofree char *cmd = g_strdup_printf ("tickets %s", name);
  g_autoptr(GOptionContext) ctx = cli_context (&c, cmd, params, summary, NULL);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc != 3 || !parse_number (argv[1], &number))
    {
      rd_app_error ("%s: expected %s (see --help)", cmd, params);
      return RD_EXIT_USAGE;
    }
  int code = cli_open (&c);
  if (code)
    return code;
  const char *value = argv[2];
  if (field == RD_TICKET_FIELD_ASSIGNEE && (g_str_equal (value, "-") || g_str_equal (value, "none")))
    value = NULL;
  g_autoptr(GError) error = NULL;
  if (!rd_store_ticket_set (c.store, number, field, value, c.actor, &error))
    return error_exit (error);
  return print_ticket_after_change (&c, number);
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
  g_auto(Cli) c = { 0 };
  g_auto(GStrv) remove = NULL;
  GOptionEntry entries[] = {
    { "remove", 'r', 0, G_OPTION_ARG_STRING_ARRAY, &remove, "Remove TAG (repeatable)", "TAG" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = cli_context (&c, "tickets tag", "NUMBER [TAG...] [--remove TAG] [-- -TAG...]",
      "Adds tags (TAG or +TAG) and removes them (--remove TAG, or -TAG after --).", entries);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 number = 0;
  if (argc < 2 || !parse_number (argv[1], &number) || (argc < 3 && remove == NULL))
    {
      rd_app_error ("tickets tag: expected NUMBER and tags (see --help)");
      return RD_EXIT_USAGE;
    }
  int code = cli_open (&c);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  if (!rd_store_begin (c.store, &error))
    return error_exit (error);
  gboolean ok = TRUE;
  for (int i = 2; ok && i < argc; i++)
    {
      const char *t = argv[i];
      if (g_str_equal (t, "--"))
        continue;
      gboolean add = t[0] != '-';
      if (t[0] == '+' || t[0] == '-')
        t++;
      ok = rd_store_ticket_tag (c.store, number, t, add, c.actor, &error);
    }
  for (guint i = 0; ok && remove && remove[i]; i++)
    ok = rd_store_ticket_tag (c.store, number, remove[i], FALSE, c.actor, &error);
  if (!ok || !rd_store_commit (c.store, &error))
    {
      rd_store_rollback (c.store);
      return error_exit (error);
    }
  return print_ticket_after_change (&c, number);
}

/* ---- attachments ------------------------------------------------------------ */

static int
tickets_attachment (int argc, char **argv)
{
  g_auto(Cli) c = { 0 };
  g_autofree char *output = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write to FILE (default: stdout)", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = cli_context (&c, "tickets attachment", "get ID",
      "Writes an attachment's bytes (with --json: its metadata and base64 content).", entries);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  gint64 id = 0;
  if (argc != 3 || !g_str_equal (argv[1], "get") || !parse_number (argv[2], &id))
    {
      rd_app_error ("tickets attachment: expected 'get ID' (see --help)");
      return RD_EXIT_USAGE;
    }
  int code = cli_open (&c);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autoptr(RdStoredAttachment) a = rd_store_attachment_get (c.store, id, &data, &error);
  if (a == NULL)
    return error_exit (error);
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  if (c.json)
    {
      g_autofree char *b64 = g_base64_encode (p, len);
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      rd_json_add_int (b, "id", a->id);
      rd_json_add_int (b, "message", a->message_row);
      rd_json_add_str (b, "filename", a->filename);
      rd_json_add_str (b, "content_type", a->content_type);
      rd_json_add_int (b, "size", a->size);
      rd_json_add_str (b, "sha256", a->sha256);
      rd_json_add_str (b, "content_base64", b64);
      json_builder_end_object (b);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  if (output)
    {
      if (!g_file_set_contents (output, (const char *) p, (gssize) len, &error))
        {
          rd_app_error ("%s", error->message);
          return RD_EXIT_FAILURE;
        }
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
