/* relaydesk rules — tools for rule authors: check scripts, test a script
 * on a message (docs/rules.md). */
#include "app.h"
#include "rd-common.h"
#include "rules.h"
#include "message.h"

#include <stdio.h>
#include <string.h>

/* Included scripts are looked up beside the including file (:personal) or
 * in the --global-dir (:global), as NAME or NAME.sieve. */
typedef struct {
  char *personal_dir;
  char *global_dir;
} LoaderDirs;

static char *
load_include (const char *name, gboolean global, gpointer data, gsize *len, GError **error)
{
  LoaderDirs *d = data;
  const char *dir = global ? d->global_dir : d->personal_dir;
  if (dir == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no %s script directory", global ? "global" : "personal");
      return NULL;
    }
  g_autofree char *p1 = g_build_filename (dir, name, NULL);
  g_autofree char *n2 = g_strconcat (name, ".sieve", NULL);
  g_autofree char *p2 = g_build_filename (dir, n2, NULL);
  char *text = NULL;
  if (g_file_get_contents (p2, &text, len, NULL) || g_file_get_contents (p1, &text, len, NULL))
    return text;
  g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "script \"%s\" not found in %s", name, dir);
  return NULL;
}

static int
cmd_check (int argc, char **argv)
{
  RdCommonOptions common = { 0 };
  g_autofree char *global_dir = NULL;
  GOptionEntry entries[] = {
    { "global-dir", 0, 0, G_OPTION_ARG_FILENAME, &global_dir, "Directory of :global included scripts", "DIR" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("rules check", "FILE...",
      "Compiles each Sieve script and prints every error and warning as\n"
      "FILE:LINE:COL: error|warning: text. Exit status 1 when any script has an error.", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  /* Nothing here reads it yet, but a broken --config is reported as by
   * every other command. */
  g_autoptr(RdConfig) config = rd_app_load_config (&common);
  rd_common_options_clear (&common);
  if (config == NULL)
    return RD_EXIT_CONFIG;
  if (argc < 2)
    {
      rd_app_error ("rules check: no FILE given (see --help)");
      return RD_EXIT_USAGE;
    }
  int rc = RD_EXIT_OK;
  for (int i = 1; i < argc; i++)
    {
      g_autofree char *text = NULL;
      gsize len = 0;
      g_autoptr(GError) error = NULL;
      if (!g_file_get_contents (argv[i], &text, &len, &error))
        {
          printf ("%s:1:1: error: %s\n", argv[i], error->message);
          rc = RD_EXIT_FAILURE;
          continue;
        }
      g_autofree char *dir = g_path_get_dirname (argv[i]);
      LoaderDirs dirs = { dir, global_dir };
      RdRulesOptions opts = { NULL, NULL, load_include, &dirs };
      g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
      g_autoptr(RdRules) rules = rd_rules_compile (argv[i], text, len, &opts, diags, &error);
      for (guint k = 0; k < diags->len; k++)
        {
          RdRulesDiagnostic *d = g_ptr_array_index (diags, k);
          printf ("%s:%u:%u: %s: %s\n", d->file, d->line, d->col, d->warning ? "warning" : "error", d->message);
        }
      if (rules == NULL)
        rc = RD_EXIT_FAILURE;
    }
  return rc;
}

/* In-memory duplicate tracking for one run (RFC 7352). */
static gboolean
memory_duplicate (gpointer data, const char *id, gint64 seconds, gboolean last)
{
  GHashTable *seen = data;
  if (g_hash_table_contains (seen, id))
    return TRUE;
  g_hash_table_add (seen, g_strdup (id));
  return FALSE;
}

/* The extensions of the conformance reference (README of the cases). */
static const char *const reference_extensions[] = {
  "fileinto", "reject", "envelope", "encoded-character", "vacation", "subaddress",
  "comparator-i;ascii-numeric", "relational", "regex", "imap4flags", "copy", "body",
  "variables", "date", NULL
};

static int
cmd_test (int argc, char **argv)
{
  RdCommonOptions common = { 0 };
  g_autofree char *script = NULL;
  g_autofree char *message = NULL;
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;
  g_autofree char *global_dir = NULL;
  g_autofree char *now = NULL;
  gboolean followup = FALSE, reference = FALSE;
  gint64 ticket_number = 0;
  g_autofree char *ticket_queue = NULL;
  g_autofree char *ticket_tag = NULL;
  GOptionEntry entries[] = {
    { "script", 0, 0, G_OPTION_ARG_FILENAME, &script, "The Sieve script", "FILE" },
    { "message", 0, 0, G_OPTION_ARG_FILENAME, &message, "The message (RFC 5322, CRLF or LF)", "FILE" },
    { "from", 0, 0, G_OPTION_ARG_STRING, &from, "Envelope sender (MAIL FROM); <> for the null sender", "ADDR" },
    { "to", 0, 0, G_OPTION_ARG_STRING, &to, "Envelope recipient (the inbox address)", "ADDR" },
    { "global-dir", 0, 0, G_OPTION_ARG_FILENAME, &global_dir, "Directory of :global included scripts", "DIR" },
    { "now", 0, 0, G_OPTION_ARG_STRING, &now, "Current time for currentdate (ISO 8601)", "TIME" },
    { "followup", 0, 0, G_OPTION_ARG_NONE, &followup, "The message continues an existing ticket", NULL },
    { "ticket-number", 0, 0, G_OPTION_ARG_INT64, &ticket_number, "${ticket.number} (with --followup)", "N" },
    { "ticket-queue", 0, 0, G_OPTION_ARG_STRING, &ticket_queue, "${ticket.queue} (with --followup)", "QUEUE" },
    { "ticket-tag", 0, 0, G_OPTION_ARG_STRING, &ticket_tag, "${ticket.tag} (with --followup)", "TAG" },
    { "reference", 0, 0, G_OPTION_ARG_NONE, &reference, "Only the extensions of the conformance reference", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = rd_app_option_context ("rules test", NULL,
      "Runs a script on a message and prints the actions, one per line, in the\n"
      "format of the Sieve conformance cases (docs/rules.md).", &common);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!rd_app_parse (ctx, &argc, &argv))
    return RD_EXIT_USAGE;
  /* Nothing here reads it yet, but a broken --config is reported as by
   * every other command. */
  g_autoptr(RdConfig) config = rd_app_load_config (&common);
  rd_common_options_clear (&common);
  if (config == NULL)
    return RD_EXIT_CONFIG;
  if (script == NULL || message == NULL)
    {
      rd_app_error ("rules test: --script and --message are required (see --help)");
      return RD_EXIT_USAGE;
    }
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (script, &text, &len, &error))
    {
      rd_app_error ("%s", error->message);
      return RD_EXIT_FAILURE;
    }
  g_autofree char *raw = NULL;
  gsize raw_len = 0;
  if (!g_file_get_contents (message, &raw, &raw_len, &error))
    {
      rd_app_error ("%s", error->message);
      return RD_EXIT_FAILURE;
    }
  gint64 now_s = 0;
  if (now)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (now, NULL);
      if (dt == NULL)
        {
          rd_app_error ("--now: not an ISO 8601 time with a zone: %s", now);
          return RD_EXIT_USAGE;
        }
      now_s = g_date_time_to_unix (dt);
    }
  g_autofree char *dir = g_path_get_dirname (script);
  LoaderDirs dirs = { dir, global_dir };
  RdRulesOptions opts = { NULL, reference ? reference_extensions : NULL, load_include, &dirs };
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  g_autoptr(RdRules) rules = rd_rules_compile (script, text, len, &opts, diags, &error);
  if (rules == NULL)
    {
      for (guint k = 0; k < diags->len; k++)
        {
          RdRulesDiagnostic *d = g_ptr_array_index (diags, k);
          if (!d->warning)
            fprintf (stderr, "%s:%u:%u: error: %s\n", d->file, d->line, d->col, d->message);
        }
      printf ("error: compile\n");
      return RD_EXIT_OK;
    }
  rd_parser_init ();
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&raw), raw_len);
  g_autoptr(GError) perr = NULL;
  g_autoptr(RdMessage) msg = rd_message_parse (bytes, &perr);
  if (msg == NULL)
    {
      rd_app_error ("%s: %s", message, perr->message);
      return RD_EXIT_DATAERR;
    }
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *sender = from ? from : "";
  if (!strcmp (sender, "<>"))
    sender = "";
  RdEnvelope env = {
    .sender = sender,
    .recipient = to ? to : "",
    .followup = followup,
    .ticket_number = followup ? ticket_number : 0,
    .ticket_queue = ticket_queue,
    .ticket_tag = ticket_tag,
    .now = now_s,
    .duplicate = memory_duplicate,
    .duplicate_data = seen,
  };
  g_autoptr(GError) rerr = NULL;
  g_autoptr(GPtrArray) actions = rd_rules_evaluate (rules, msg, &env, &rerr);
  GString *out = g_string_new (NULL);
  if (actions == NULL)
    {
      fprintf (stderr, "%s: runtime error: %s\n", script, rerr->message);
      g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_action_free);
      RdAction *k = g_new0 (RdAction, 1);
      k->type = RD_ACTION_KEEP;
      g_ptr_array_add (keep, k);
      rd_rules_format_actions (keep, TRUE, out);
    }
  else
    rd_rules_format_actions (actions, FALSE, out);
  fputs (out->str, stdout);
  g_string_free (out, TRUE);
  return RD_EXIT_OK;
}

int
rd_cmd_rules (int argc, char **argv)
{
  if (argc >= 2 && !strcmp (argv[1], "check"))
    return cmd_check (argc - 1, argv + 1);
  if (argc >= 2 && !strcmp (argv[1], "test"))
    return cmd_test (argc - 1, argv + 1);
  FILE *out = argc >= 2 && (!strcmp (argv[1], "--help") || !strcmp (argv[1], "-h")) ? stdout : stderr;
  fprintf (out,
           "Usage: relaydesk rules check FILE...\n"
           "       relaydesk rules test --script S --message M [--from ADDR|<>] [--to ADDR]\n\n"
           "Tools for Sieve rule authors (docs/rules.md).\n");
  return out == stdout ? RD_EXIT_OK : RD_EXIT_USAGE;
}
