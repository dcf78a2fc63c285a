/* relaydesk rules — tools for rule authors: check scripts, test a script
 * on a message (docs/rules.md). Both compile exactly as serve does
 * (ops/rules.c: the daemon's include loader and [rules] limits). */
#include "app.h"
#include "rd-common.h"
#include "rules.h"

#include <stdio.h>
#include <string.h>

static void
print_diagnostics (GPtrArray *diags, FILE *out, gboolean errors_only)
{
  for (guint k = 0; k < diags->len; k++)
    {
      RdRulesDiagnostic *d = g_ptr_array_index (diags, k);
      if (!errors_only || !d->warning)
        fprintf (out, "%s:%u:%u: %s: %s\n", d->file, d->line, d->col, d->warning ? "warning" : "error", d->message);
    }
}

static int
cmd_check (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *global_dir = NULL;
  GOptionEntry entries[] = {
    { "global-dir", 0, 0, G_OPTION_ARG_FILENAME, &global_dir, "Directory of :global included scripts (default: [rules] global_dir)", "DIR" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "rules check", "FILE...",
                     "Compiles each Sieve script as serve would (its includes and [rules] limits) and\n"
                     "prints every error and warning as FILE:LINE:COL: error|warning: text, and\n"
                     "FILE: ok for a script that compiles.\n"
                     "Exit status 1 when any script has an error.", 0, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc < 2)
    return rd_app_usage ("rules check: no FILE given");
  int code = rd_app_open (&app, RD_APP_NO_STORE);
  if (code)
    return code;
  int rc = RD_EXIT_OK;
  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
      gboolean ok = rd_ops_rules_check (app.ops, &app.actor, argv[i], global_dir, diags, &error);
      print_diagnostics (diags, stdout, FALSE);
      if (ok)
        printf ("%s: ok\n", argv[i]);
      else
        {
          if (diags->len == 0)
            printf ("%s:1:1: error: %s\n", argv[i], error->message);
          rc = RD_EXIT_FAILURE;
        }
    }
  return rc;
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
  g_auto(RdApp) app = { 0 };
  g_autofree char *script = NULL;
  g_autofree char *message = NULL;
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;
  g_autofree char *global_dir = NULL;
  g_autofree char *now = NULL;
  gboolean followup = FALSE, reference = FALSE, authenticated = FALSE;
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
    { "authenticated", 0, 0, G_OPTION_ARG_NONE, &authenticated,
      "The From domain passed DMARC (else: the message's own Authentication-Results, or not verified)", NULL },
    { "ticket-number", 0, 0, G_OPTION_ARG_INT64, &ticket_number, "${ticket.number}", "N" },
    { "ticket-queue", 0, 0, G_OPTION_ARG_STRING, &ticket_queue, "${ticket.queue}", "QUEUE" },
    { "ticket-tag", 0, 0, G_OPTION_ARG_STRING, &ticket_tag, "${ticket.tag}", "TAG" },
    { "reference", 0, 0, G_OPTION_ARG_NONE, &reference, "Only the extensions of the conformance reference", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "rules test", NULL,
                     "Runs a script on a message, as serve would, and prints the actions, one per line,\n"
                     "in the format of the Sieve conformance cases (docs/rules.md). Nothing is stored or\n"
                     "sent. With a database (--data-dir), ${ticket.*} are filled as serve would fill\n"
                     "them: the ticket the message threads to, or the next number.",
                     0, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (script == NULL || message == NULL)
    return rd_app_usage ("rules test: --script and --message are required");
  gint64 now_s = 0;
  if (now)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (now, NULL);
      if (dt == NULL)
        return rd_app_usage ("--now: not an ISO 8601 time with a zone: %s", now);
      now_s = g_date_time_to_unix (dt);
    }
  int code = rd_app_open (&app, RD_APP_STORE_OPTIONAL);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autofree char *raw = NULL;
  gsize raw_len = 0;
  if (!g_file_get_contents (message, &raw, &raw_len, &error))
    {
      rd_app_error ("%s", error->message);
      return RD_EXIT_FAILURE;
    }
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&raw), raw_len);
  RdRulesTest t = {
    .script_path = script,
    .global_dir = global_dir,
    .extensions = reference ? reference_extensions : NULL,
    .message = bytes,
    .sender = from,
    .recipient = to,
    .now = now_s,
    .followup = followup,
    .ticket_number = followup ? ticket_number : 0,
    .ticket_queue = ticket_queue,
    .ticket_tag = ticket_tag,
    .authenticated = authenticated,
  };
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  g_auto(RdRulesTestResult) r = { 0 };
  if (!rd_ops_rules_test (app.ops, &app.actor, &t, &r, diags, &error))
    {
      rd_app_error ("%s", error->message);
      return g_error_matches (error, RD_ERROR, RD_ERROR_INVALID_DATA) ? RD_EXIT_DATAERR : RD_EXIT_FAILURE;
    }
  if (!r.compiled)
    {
      print_diagnostics (diags, stderr, TRUE);
      printf ("error: compile\n");
      return RD_EXIT_OK;
    }
  if (r.runtime_error)
    fprintf (stderr, "%s: runtime error: %s\n", script, r.runtime_error);
  g_autoptr(GString) out = g_string_new (NULL);
  rd_rules_format_actions (r.actions, r.runtime_error != NULL, out);
  fputs (out->str, stdout);
  return RD_EXIT_OK;
}

int
rd_cmd_rules (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "check", "compile scripts as serve would, print errors as FILE:LINE:COL", cmd_check },
    { "test", "dry-run a script on a message", cmd_test },
  };
  return rd_app_dispatch ("rules", sub, G_N_ELEMENTS (sub), "\nTools for Sieve rule authors (docs/rules.md).\n",
                          argc, argv);
}
