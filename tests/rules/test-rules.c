/* relaydesk — rules unit tests: lexer, parser and validator (with error
 * positions), interpreter (every extension), limits. */
#include "rules.h"
#include "rd-common.h"

#include <string.h>

static const char *msg_text =
  "Return-Path: <alice@example.com>\r\n"
  "Received: from a by b; Mon, 15 Jan 2024 09:30:00 +0000\r\n"
  "From: Alice Example <alice+billing@Example.COM>\r\n"
  "To: Support <support@example.org>, bob@example.net\r\n"
  "Cc: carol@example.net\r\n"
  "Subject: =?UTF-8?Q?R=C3=A9clamation?= [Ticket #4711] invoice\r\n"
  "Date: Thu, 18 Jan 2024 19:30:00 +0100\r\n"
  "Message-ID: <m1@example.com>\r\n"
  "X-Spam-Score: 7\r\n"
  "X-Multi: one\r\n"
  "X-Multi: two\r\n"
  "MIME-Version: 1.0\r\n"
  "Content-Type: text/plain; charset=utf-8\r\n"
  "\r\n"
  "Hello, please refund my order.\r\n";

static RdMessage *
parse_message (const char *text)
{
  g_autoptr(GBytes) b = g_bytes_new (text, strlen (text));
  g_autoptr(GError) e = NULL;
  RdMessage *m = rd_message_parse (b, &e);
  g_assert_no_error (e);
  return m;
}

static gboolean
fake_duplicate (gpointer data, const char *id, gint64 seconds, gboolean last)
{
  GHashTable *seen = data;
  if (g_hash_table_contains (seen, id))
    return TRUE;
  g_hash_table_add (seen, g_strdup (id));
  return FALSE;
}

/* Compiles @script and runs it; returns the conformance lines. */
static char *
run_full (const char *script, const RdEnvelope *env_in, const char *message, const RdRulesOptions *opts)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdRules) rules = rd_rules_compile ("t.sieve", script, strlen (script), opts, NULL, &error);
  if (rules == NULL)
    return g_strdup_printf ("error: compile (%s)\n", error->message);
  g_autoptr(RdMessage) msg = parse_message (message ? message : msg_text);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  RdEnvelope env = { .sender = "alice@example.com", .recipient = "support@example.org" };
  if (env_in)
    env = *env_in;
  env.duplicate = fake_duplicate;
  env.duplicate_data = seen;
  g_autoptr(GPtrArray) actions = rd_rules_evaluate (rules, msg, &env, &error);
  GString *out = g_string_new (NULL);
  rd_rules_format_actions (actions, actions == NULL, out);
  if (actions == NULL)
    g_test_message ("runtime error: %s", error->message);
  return g_string_free (out, FALSE);
}

static char *
run (const char *script)
{
  return run_full (script, NULL, NULL, NULL);
}

#define ASSERT_RUN(script, expected) \
  do { g_autofree char *got_ = run (script); g_assert_cmpstr (got_, ==, expected); } while (0)

/* The diagnostics of compiling @script, one "L:C: kind: text" a line. */
static char *
diagnose (const char *script, gboolean *ok)
{
  g_autoptr(GPtrArray) d = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(RdRules) r = rd_rules_compile ("x.sieve", script, strlen (script), NULL, d, &error);
  *ok = r != NULL;
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < d->len; i++)
    {
      RdRulesDiagnostic *x = g_ptr_array_index (d, i);
      g_string_append_printf (s, "%s:%u:%u: %s: %s\n", x->file, x->line, x->col, x->warning ? "warning" : "error",
                              x->message);
    }
  return g_string_free (s, FALSE);
}

static void
test_lexer_errors (void)
{
  gboolean ok;
  g_autofree char *a = diagnose ("require \"fileinto\";\nfileinto \"Billing;\n", &ok);
  g_assert_false (ok);
  g_assert_true (g_str_has_prefix (a, "x.sieve:2:10: error: unterminated string"));
  g_autofree char *b = diagnose ("keep;\n  /* open\n", &ok);
  g_assert_false (ok);
  g_assert_true (g_str_has_prefix (b, "x.sieve:2:3: error: unterminated comment"));
  g_autofree char *c = diagnose ("keep;\n\tkeep @;\n", &ok);
  g_assert_false (ok);
  g_assert_true (g_str_has_prefix (c, "x.sieve:2:7: error: unexpected character"));
  g_autofree char *d = diagnose ("vacation text:\nno end\n", &ok);
  g_assert_false (ok);
  g_autofree char *e = diagnose ("redirect 99999999999999999999999;", &ok);
  g_assert_false (ok);
  g_assert_nonnull (strstr (e, "number too large"));
}

static void
test_parser_errors (void)
{
  gboolean ok;
  g_autofree char *a = diagnose ("keep;\n}\n", &ok);
  g_assert_false (ok);
  g_assert_true (g_str_has_prefix (a, "x.sieve:2:1: error: syntax error: expected a command, found '}'"));
  g_autofree char *b = diagnose ("if true { keep;\n", &ok);
  g_assert_false (ok);
  g_assert_nonnull (strstr (b, "end of script"));
  /* The validator reports every error, not just the first. */
  g_autofree char *c = diagnose ("fileinto \"a\";\nfrobnicate;\nif header :bogus \"x\" \"y\" { keep; }\n", &ok);
  g_assert_false (ok);
  g_assert_nonnull (strstr (c, "x.sieve:1:1: error: fileinto requires the \"fileinto\" extension"));
  g_assert_nonnull (strstr (c, "x.sieve:2:1: error: unknown command 'frobnicate'"));
  g_assert_nonnull (strstr (c, "x.sieve:3:11: error: header: unknown tag :bogus"));
  g_autofree char *d = diagnose ("require \"nonsense\";", &ok);
  g_assert_false (ok);
  g_assert_nonnull (strstr (d, "x.sieve:1:9: error: unsupported extension \"nonsense\""));
  g_autofree char *e = diagnose ("keep;\nrequire \"fileinto\";", &ok);
  g_assert_false (ok);
  g_autofree char *f = diagnose ("redirect \"not an address\";", &ok);
  g_assert_false (ok);
  g_autofree char *g = diagnose ("elsif true { keep; }", &ok);
  g_assert_false (ok);
  g_autofree char *h = diagnose ("if true { stop; keep; }", &ok);
  g_assert_true (ok);
  g_assert_nonnull (strstr (h, "x.sieve:1:17: warning:"));
  g_autofree char *i = diagnose ("require \"regex\";\nif header :regex \"s\" \"(a)\\\\1\" { keep; }", &ok);
  g_assert_false (ok);
  g_assert_nonnull (strstr (i, "back-references"));
  g_autofree char *i2 = diagnose ("require \"regex\";\nif header :regex \"s\" \"(((((a{9}){9}){9}){9}){9}){9}\" { keep; }", &ok);
  g_assert_false (ok);
  g_assert_nonnull (strstr (i2, "too complex"));
  g_autofree char *j = diagnose ("require \"relational\";\nif header :contains :comparator \"i;ascii-numeric\" \"s\" \"1\" { keep; }", &ok);
  g_assert_false (ok);
  g_autofree char *k = diagnose ("require \"vnd.relaydesk.ticket\";\nticket :priority \"soon\";", &ok);
  g_assert_false (ok);
  g_assert_nonnull (strstr (k, "x.sieve:2:18: error: ticket: :priority"));
}

static void
test_limits (void)
{
  RdRulesLimits l;
  rd_rules_limits_init (&l);
  g_assert_cmpuint (l.max_redirects, ==, 4);
  l.max_nesting = 3;
  RdRulesOptions o = { &l, NULL, NULL, NULL };
  g_autoptr(GError) e = NULL;
  const char *deep = "if true { if true { if true { if true { keep; } } } }";
  RdRules *r = rd_rules_compile ("d", deep, strlen (deep), &o, NULL, &e);
  g_assert_null (r);
  g_assert_nonnull (strstr (e->message, "nesting"));
  g_clear_error (&e);
  rd_rules_limits_init (&l);
  l.max_script_size = 10;
  r = rd_rules_compile ("d", deep, strlen (deep), &o, NULL, &e);
  g_assert_null (r);
  g_clear_error (&e);
  /* Redirects per message. */
  g_autofree char *got = run ("redirect \"a@x.example\"; redirect \"b@x.example\"; redirect \"c@x.example\";"
                              "redirect \"d@x.example\"; redirect \"e@x.example\";");
  g_assert_cmpstr (got, ==, "error: runtime\n");
  /* Duplicates merge and do not count. */
  ASSERT_RUN ("redirect \"a@X.example\"; redirect \"a@x.EXAMPLE\";", "redirect \"a@x.example\"\n");
  /* Regex size. */
  rd_rules_limits_init (&l);
  l.max_regex_size = 4;
  const char *re = "require \"regex\"; if header :regex \"subject\" \"abcdef\" { keep; }";
  r = rd_rules_compile ("d", re, strlen (re), &o, NULL, &e);
  g_assert_null (r);
  g_clear_error (&e);
}

static void
test_core (void)
{
  ASSERT_RUN ("", "keep\n");
  ASSERT_RUN ("discard;", "discard\n");
  ASSERT_RUN ("require \"fileinto\"; fileinto \"INBOX\";", "keep\n");
  ASSERT_RUN ("if size :over 100 { discard; }", "discard\n");
  ASSERT_RUN ("if size :under 100 { discard; }", "keep\n");
  ASSERT_RUN ("if address :all :is \"from\" \"alice+billing@example.com\" { discard; }", "discard\n");
  ASSERT_RUN ("if address :domain :is \"to\" \"example.net\" { discard; }", "discard\n");
  ASSERT_RUN ("if header :contains \"subject\" \"Réclamation\" { discard; }", "discard\n");
  ASSERT_RUN ("if header :is \"x-multi\" \"two\" { discard; }", "discard\n");
  ASSERT_RUN ("if header :matches \"subject\" \"*#47?1]*\" { discard; }", "discard\n");
  ASSERT_RUN ("if header :is :comparator \"i;octet\" \"subject\" \"RÉCLAMATION\" { discard; }", "keep\n");
  ASSERT_RUN ("if exists [\"x-multi\", \"content-type\"] { discard; }", "discard\n");
  ASSERT_RUN ("if not exists \"x-none\" { discard; }", "discard\n");
  ASSERT_RUN ("reject \"x\";", "error: compile (t.sieve:1:1: reject requires the \"reject\" extension (require \"reject\";))\n");
  ASSERT_RUN ("require \"reject\"; reject text:\nline one  \n..dot\n.\n;", "reject \"line one  \\n.dot\"\n");
  ASSERT_RUN ("require [\"reject\", \"fileinto\"]; reject \"no\"; fileinto \"x\";", "error: runtime\n");
  ASSERT_RUN ("require \"vacation\"; vacation \"a\"; vacation \"b\";", "error: runtime\n");
}

static void
test_extensions (void)
{
  /* subaddress, envelope */
  ASSERT_RUN ("require [\"subaddress\", \"fileinto\", \"variables\"];"
              "if address :detail :matches \"from\" \"*\" { fileinto \"q/${1}\"; }",
              "fileinto \"q/billing\"\n");
  ASSERT_RUN ("require [\"subaddress\"]; if address :detail \"to\" \"\" { discard; }", "keep\n");
  ASSERT_RUN ("require \"envelope\"; if envelope :domain \"from\" \"example.com\" { discard; }", "discard\n");
  /* relational :count and :value */
  ASSERT_RUN ("require [\"relational\", \"comparator-i;ascii-numeric\"];"
              "if address :count \"ge\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"3\" { discard; }",
              "discard\n");
  ASSERT_RUN ("require [\"relational\", \"comparator-i;ascii-numeric\"];"
              "if header :value \"lt\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"10\" { discard; }",
              "discard\n");
  /* variables and modifiers */
  ASSERT_RUN ("require [\"variables\", \"fileinto\"]; set :upperfirst :lower \"a\" \"hELLO\"; set :length \"n\" \"${a}\";"
              "fileinto \"${a}-${n}\";", "fileinto \"Hello-5\"\n");
  ASSERT_RUN ("require [\"variables\", \"fileinto\"]; set :quotewildcard \"a\" \"a*b\"; fileinto \"${a}\";",
              "fileinto \"a\\\\*b\"\n");
  /* encoded-character */
  ASSERT_RUN ("require [\"encoded-character\", \"fileinto\"]; fileinto \"${hex:41 42}${unicode:e9}\";",
              "fileinto \"ABé\"\n");
  ASSERT_RUN ("require [\"fileinto\"]; fileinto \"${hex:41}\";", "fileinto \"${hex:41}\"\n");
  /* body */
  ASSERT_RUN ("require \"body\"; if body :contains \"REFUND\" { discard; }", "discard\n");
  ASSERT_RUN ("require \"body\"; if body :raw :contains \"order.\" { discard; }", "discard\n");
  /* copy, imap4flags */
  ASSERT_RUN ("require [\"copy\"]; redirect :copy \"x@y.example\";", "keep\nredirect \"x@y.example\"\n");
  ASSERT_RUN ("require [\"imap4flags\"]; addflag [\"\\\\Seen\", \"b a\"]; removeflag \"a\";"
              "if hasflag :contains \"seen\" { keep; }", "keep flags=[\\seen b]\n");
  ASSERT_RUN ("require [\"imap4flags\", \"variables\"]; setflag \"v\" \"x\"; if hasflag \"v\" \"x\" { discard; }",
              "discard\n");
  /* regex */
  ASSERT_RUN ("require [\"regex\", \"variables\", \"fileinto\"];"
              "if header :regex \"subject\" \"#([0-9]+)\" { fileinto \"t${1}\"; }", "fileinto \"t4711\"\n");
  /* date and index (date in UTC unless :zone) */
  ASSERT_RUN ("require \"date\"; if date :is \"date\" \"hour\" \"18\" { discard; }", "discard\n");
  ASSERT_RUN ("require \"date\"; if date :originalzone :is \"date\" \"hour\" \"19\" { discard; }", "discard\n");
  ASSERT_RUN ("require \"date\"; if date :zone \"-0500\" :is \"date\" \"iso8601\" \"2024-01-18T13:30:00-05:00\" { discard; }",
              "discard\n");
  ASSERT_RUN ("require [\"date\", \"relational\"]; if date :value \"ge\" \"date\" \"weekday\" \"4\" { discard; }", "discard\n");
  ASSERT_RUN ("require [\"date\", \"index\"]; if date :index 1 \"received\" \"date\" \"2024-01-15\" { discard; }",
              "discard\n");
  ASSERT_RUN ("require [\"index\"]; if header :index 2 \"x-multi\" \"two\" { discard; }", "discard\n");
  ASSERT_RUN ("require [\"index\"]; if header :index 1 :last \"x-multi\" \"two\" { discard; }", "discard\n");
  ASSERT_RUN ("require [\"index\"]; if header :index 1 \"x-multi\" \"two\" { discard; }", "keep\n");
  RdEnvelope env = { .sender = "a@b.example", .recipient = "support@example.org", .now = 1705600800 };
  g_autofree char *cd = run_full ("require \"date\"; if currentdate :is \"date\" \"2024-01-18\" { discard; }", &env, NULL, NULL);
  g_assert_cmpstr (cd, ==, "discard\n");
  /* duplicate: the second run in one evaluation sees the first. */
  ASSERT_RUN ("require \"duplicate\"; if duplicate { discard; } if duplicate { discard; }", "discard\n");
  ASSERT_RUN ("require \"duplicate\"; if duplicate :uniqueid \"x\" { discard; }", "keep\n");
}

static void
test_vacation (void)
{
  ASSERT_RUN ("require \"vacation\"; vacation :subject \"Away\" \"gone\";",
              "keep\nvacation to=<alice@example.com> from=<support@example.org> subject=\"Away\" "
              "reason-sha1=a6dfdeaa3a44a4c52d44284847d7160892b4017e\n");
}

static void
test_vacation_fields (void)
{
  g_autoptr(GError) e = NULL;
  const char *s = "require [\"vacation-seconds\", \"variables\"]; set \"x\" \"y\";"
                  "vacation :seconds 60 :handle \"h-${x}\" :from \"Desk <desk@example.org>\" :mime \"body\";";
  g_autoptr(RdRules) r = rd_rules_compile ("v", s, strlen (s), NULL, NULL, &e);
  g_assert_no_error (e);
  g_autoptr(RdMessage) m = parse_message (msg_text);
  RdEnvelope env = { .sender = "alice@example.com", .recipient = "support@example.org" };
  g_autoptr(GPtrArray) a = rd_rules_evaluate (r, m, &env, &e);
  g_assert_no_error (e);
  g_assert_cmpuint (a->len, ==, 2);
  RdAction *v = g_ptr_array_index (a, 1);
  g_assert_cmpint (v->type, ==, RD_ACTION_VACATION);
  g_assert_cmpint (v->period, ==, 60);
  g_assert_cmpstr (v->handle, ==, "h-y");
  g_assert_cmpstr (v->from, ==, "desk@example.org");
  g_assert_cmpstr (v->from_header, ==, "Desk <desk@example.org>");
  g_assert_cmpstr (v->subject, ==, "Auto: Réclamation [Ticket #4711] invoice");
  g_assert_true (v->mime);
  /* Suppression classes. */
  RdEnvelope null_env = { .sender = "", .recipient = "support@example.org" };
  g_autofree char *n = run_full ("require \"vacation\"; vacation \"x\";", &null_env, NULL, NULL);
  g_assert_cmpstr (n, ==, "keep\nvacation-suppressed reason=null-sender\n");
  RdEnvelope own = { .sender = "support@EXAMPLE.org", .recipient = "support@example.org" };
  g_autofree char *o = run_full ("require \"vacation\"; vacation \"x\";", &own, NULL, NULL);
  g_assert_cmpstr (o, ==, "keep\nvacation-suppressed reason=own-address\n");
  RdEnvelope daemon = { .sender = "MAILER-DAEMON@example.com", .recipient = "support@example.org" };
  g_autofree char *d = run_full ("require \"vacation\"; vacation \"x\";", &daemon, NULL, NULL);
  g_assert_cmpstr (d, ==, "keep\nvacation-suppressed reason=system-address\n");
  RdEnvelope other = { .sender = "alice@example.com", .recipient = "sales@example.org" };
  g_autofree char *na = run_full ("require \"vacation\"; vacation \"x\";", &other, NULL, NULL);
  g_assert_cmpstr (na, ==, "keep\nvacation-suppressed reason=not-addressed\n");
  g_autofree char *ad = run_full ("require \"vacation\"; vacation :addresses \"bob@example.net\" :subject \"s\" \"x\";",
                                  &other, NULL, NULL);
  g_assert_true (g_str_has_prefix (ad, "keep\nvacation to=<alice@example.com> from=<bob@example.net>"));
  const char *list = "From: a@b.example\r\nTo: support@example.org\r\nList-Id: <l.example>\r\n\r\nx\r\n";
  g_autofree char *l = run_full ("require \"vacation\"; vacation \"x\";", NULL, list, NULL);
  g_assert_cmpstr (l, ==, "keep\nvacation-suppressed reason=mailing-list\n");
  const char *xars = "From: a@b.example\r\nTo: support@example.org\r\nX-Auto-Response-Suppress: DR, OOF\r\n\r\nx\r\n";
  g_autofree char *xa = run_full ("require \"vacation\"; vacation \"x\";", NULL, xars, NULL);
  g_assert_cmpstr (xa, ==, "keep\nvacation-suppressed reason=auto-response-suppress\n");
}

static void
test_ticket (void)
{
  const char *s = "require [\"vnd.relaydesk.ticket\", \"variables\", \"fileinto\"];\n"
                  "if followup { fileinto \"${ticket.queue}\"; stop; }\n"
                  "ticket :priority \"high\" :assign \"bob\" :tags [\"vip\", \"billing\"];\n"
                  "ticket :status \"open\" :tags \"vip\";\n";
  RdEnvelope fu = { .sender = "a@b.example", .recipient = "support@example.org", .followup = TRUE,
                    .ticket_number = 42, .ticket_queue = "billing", .ticket_tag = "[RD #42]" };
  g_autofree char *a = run_full (s, &fu, NULL, NULL);
  g_assert_cmpstr (a, ==, "fileinto \"billing\"\n");
  g_autofree char *b = run (s);
  g_assert_cmpstr (b, ==, "keep\nticket priority=high assign=bob status=open tags=[vip billing]\n");

  /* ${ticket.number} for a new ticket: deferred, filled in by the desk. */
  const char *v = "require [\"vnd.relaydesk.ticket\", \"vacation\"];\n"
                  "if not followup { vacation :subject \"Ticket ${ticket.number} opened\" \"See ${ticket.tag}.\"; }\n";
  g_autoptr(GError) e = NULL;
  g_autoptr(RdRules) r = rd_rules_compile ("v", v, strlen (v), NULL, NULL, &e);
  g_assert_no_error (e);
  g_autoptr(RdMessage) m = parse_message (msg_text);
  RdEnvelope env = { .sender = "alice@example.com", .recipient = "support@example.org", .defer_ticket_vars = TRUE };
  g_autoptr(GPtrArray) acts = rd_rules_evaluate (r, m, &env, &e);
  g_assert_no_error (e);
  RdAction *vac = g_ptr_array_index (acts, 1);
  g_assert_cmpint (vac->type, ==, RD_ACTION_VACATION);
  rd_action_expand_ticket (vac, 77, "inbox", "[RD #77]");
  g_assert_cmpstr (vac->subject, ==, "Ticket 77 opened");
  g_assert_cmpstr (vac->reason, ==, "See [RD #77].");
}

static char *
loader (const char *name, gboolean global, gpointer data, gsize *len, GError **error)
{
  if (!strcmp (name, "spam"))
    {
      *len = strlen ("require [\"include\", \"variables\"]; global \"q\"; set \"q\" \"Junk\"; return; set \"q\" \"x\";");
      return g_strdup ("require [\"include\", \"variables\"]; global \"q\"; set \"q\" \"Junk\"; return; set \"q\" \"x\";");
    }
  if (!strcmp (name, "loop"))
    {
      *len = strlen ("require \"include\"; include \"loop\";");
      return g_strdup ("require \"include\"; include \"loop\";");
    }
  g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no script %s", name);
  return NULL;
}

static void
test_include (void)
{
  RdRulesOptions o = { NULL, NULL, loader, NULL };
  g_autofree char *a = run_full ("require [\"include\", \"variables\", \"fileinto\"]; global \"q\";"
                                 "include :once \"spam\"; include :once \"spam\"; include :optional \"absent\";"
                                 "fileinto \"${q}\";", NULL, NULL, &o);
  g_assert_cmpstr (a, ==, "fileinto \"Junk\"\n");
  g_autofree char *b = run_full ("require \"include\"; include \"loop\";", NULL, NULL, &o);
  g_assert_true (g_str_has_prefix (b, "error: compile"));
  g_autofree char *c = run_full ("require \"include\"; include \"absent\";", NULL, NULL, &o);
  g_assert_true (g_str_has_prefix (c, "error: compile"));
}

static void
test_chain (void)
{
  g_autoptr(GError) e = NULL;
  const char *b = "require \"imap4flags\"; addflag \"before\";";
  const char *m = "require \"fileinto\"; fileinto \"main\";";
  const char *a = "require \"imap4flags\"; if hasflag \"before\" { keep; }";
  RdRules *rb = rd_rules_compile ("b", b, strlen (b), NULL, NULL, &e);
  RdRules *rm = rd_rules_compile ("m", m, strlen (m), NULL, NULL, &e);
  RdRules *ra = rd_rules_compile ("a", a, strlen (a), NULL, NULL, &e);
  g_assert_no_error (e);
  g_autoptr(RdRules) chain = rd_rules_chain (rb, rm, ra);
  g_autoptr(RdMessage) msg = parse_message (msg_text);
  RdEnvelope env = { .sender = "alice@example.com", .recipient = "support@example.org" };
  g_autoptr(GPtrArray) acts = rd_rules_evaluate (chain, msg, &env, &e);
  g_assert_no_error (e);
  GString *out = g_string_new (NULL);
  rd_rules_format_actions (acts, FALSE, out);
  g_assert_cmpstr (out->str, ==, "keep flags=[before]\nfileinto \"main\" flags=[before]\n");
  g_string_free (out, TRUE);
}

static void
test_regex_limits (void)
{
  /* A huge input is an error, not a hang. */
  GString *big = g_string_new ("From: a@b.example\r\nTo: support@example.org\r\nSubject: ");
  for (int i = 0; i < 70000; i++)
    g_string_append_c (big, 'a');
  g_string_append (big, "\r\n\r\nx\r\n");
  g_autofree char *r = run_full ("require \"regex\"; if header :regex \"subject\" \"(a|aa)*b\" { discard; }", NULL,
                                 big->str, NULL);
  g_assert_cmpstr (r, ==, "error: runtime\n");
  g_string_free (big, TRUE);
  /* Pathological :matches patterns stay linear. */
  GString *s = g_string_new ("require \"variables\"; if string :matches \"");
  for (int i = 0; i < 5000; i++)
    g_string_append_c (s, 'a');
  g_string_append (s, "\" \"*a*a*a*a*a*a*a*a*a*a*a*a*b\" { discard; }");
  gint64 t0 = g_get_monotonic_time ();
  g_autofree char *m = run (s->str);
  g_assert_cmpstr (m, ==, "keep\n");
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
  g_string_free (s, TRUE);
}

/* Tags are compiled through the table (rules/sieve-table.c): the errors
 * for a tag given twice, a capability not required and a bad argument
 * come in the order a script author reads them. */
static void
test_tag_diagnostics (void)
{
  static const struct {
    const char *script;
    const char *expected;
  } cases[] = {
    { "if header :regex :regex \"subject\" \"x\" { keep; }",
      "x.sieve:1:11: error: :regex requires the \"regex\" extension (require \"regex\";)\n"
      "x.sieve:1:18: error: match type given twice\n"
      "x.sieve:1:18: error: :regex requires the \"regex\" extension (require \"regex\";)\n" },
    { "require \"vacation\"; vacation :seconds 1 :days 2 \"x\";",
      "x.sieve:1:30: error: :seconds requires the \"vacation-seconds\" extension (require \"vacation-seconds\";)\n"
      "x.sieve:1:41: error: vacation: :days or :seconds given twice\n" },
    { "if header :comparator \"i;ascii-numeric\" :contains \"x\" \"1\" { keep; }",
      "x.sieve:1:11: error: comparator i;ascii-numeric requires the \"comparator-i;ascii-numeric\" extension "
      "(require \"comparator-i;ascii-numeric\";)\n"
      "x.sieve:1:4: error: comparator i;ascii-numeric cannot be used with this match type\n" },
    { "require \"envelope\"; if envelope :user :detail :index 1 \"from\" \"x\" { keep; }",
      "x.sieve:1:33: error: user requires the \"subaddress\" extension (require \"subaddress\";)\n"
      "x.sieve:1:39: error: address part given twice\n"
      "x.sieve:1:39: error: detail requires the \"subaddress\" extension (require \"subaddress\";)\n"
      "x.sieve:1:47: error: envelope: unknown tag :index\n"
      "x.sieve:1:54: error: envelope: expected header names\n" },
    { "if size :over 1 :under 2 { keep; } if size 3 { keep; }",
      "x.sieve:1:17: error: size: :over or :under given twice\n"
      "x.sieve:1:39: error: size needs :over or :under\n"
      "x.sieve:1:44: error: size: too many arguments\n" },
    { "require \"variables\"; set :quoteregex :upper :lower \"a\" \"b\";",
      "x.sieve:1:26: error: :quoteregex requires the \"regex\" extension (require \"regex\";)\n"
      "x.sieve:1:45: error: set: conflicting modifier :lower\n" },
    { "if header :bogus \"a\" :is \"b\" { keep; }",
      "x.sieve:1:11: error: header: unknown tag :bogus\n"
      "x.sieve:1:22: error: header: tag :is after positional arguments\n"
      "x.sieve:1:22: error: header: expected key list\n" },
    { "require \"vnd.relaydesk.ticket\"; ticket :priority \"x\" :priority \"high\" :status \"gone\";",
      "x.sieve:1:50: error: ticket: :priority must be one of low, normal, high, urgent\n"
      "x.sieve:1:54: error: ticket: :priority given twice\n"
      "x.sieve:1:79: error: ticket: :status must be one of new, open, pending, resolved, closed\n" },
    { "require [\"include\"]; global \"g\"; include :personal :global \"a/b\";",
      "x.sieve:1:22: error: global requires the \"variables\" extension (require \"variables\";)\n"
      "x.sieve:1:52: error: include: location given twice\n"
      "x.sieve:1:60: error: include: invalid script name \"a/b\"\n" },
    { "keep; require \"fileinto\"; elsif true { stop; keep; }",
      "x.sieve:1:7: error: require must come before any other command\n"
      "x.sieve:1:27: error: elsif without a preceding if\n"
      "x.sieve:1:46: warning: 'keep' is never reached (after stop)\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean ok;
      g_autofree char *got = diagnose (cases[i].script, &ok);
      g_assert_false (ok);
      g_assert_cmpstr (got, ==, cases[i].expected);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_parser_init ();
  g_test_add_func ("/rules/lexer-errors", test_lexer_errors);
  g_test_add_func ("/rules/parser-errors", test_parser_errors);
  g_test_add_func ("/rules/limits", test_limits);
  g_test_add_func ("/rules/core", test_core);
  g_test_add_func ("/rules/extensions", test_extensions);
  g_test_add_func ("/rules/vacation", test_vacation);
  g_test_add_func ("/rules/vacation-fields", test_vacation_fields);
  g_test_add_func ("/rules/ticket", test_ticket);
  g_test_add_func ("/rules/include", test_include);
  g_test_add_func ("/rules/chain", test_chain);
  g_test_add_func ("/rules/regex-limits", test_regex_limits);
  g_test_add_func ("/rules/tag-diagnostics", test_tag_diagnostics);
  return g_test_run ();
}
