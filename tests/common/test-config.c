/* Tests for common/rd-config*.c: the schema, the checks rd_config_load()
 * makes (one case per type, unknown groups and keys with suggestions, line
 * numbers, [queue.NAME]) and the getters' defaults against the schema. */
#include "rd-config.h"
#include "rd-common.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *dir;
  char *path;   /* DIR/relaydesk.conf */
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("rd-config-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->path = g_build_filename (f->dir, "relaydesk.conf", NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static RdConfig *
load_text (Fixture *f, const char *text, GError **error)
{
  g_assert_true (g_file_set_contents (f->path, text, -1, NULL));
  return rd_config_load (f->path, error);
}

/* Loading @text fails with exactly the problems in @expected (NULL
 * terminated), each "relaydesk.conf:LINE: ..." after the folder. */
static void
expect_problems (Fixture *f, const char *text, const char *const *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdConfig) c = load_text (f, text, &error);
  g_assert_null (c);
  g_assert_error (error, RD_ERROR, RD_ERROR_CONFIG);
  g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);
  g_autofree char *prefix = g_strconcat (f->dir, G_DIR_SEPARATOR_S, NULL);
  guint n = 0;
  for (; lines[n]; n++)
    {
      g_assert_nonnull (expected[n]);
      g_assert_true (g_str_has_prefix (lines[n], prefix));
      g_assert_cmpstr (lines[n] + strlen (prefix), ==, expected[n]);
    }
  g_assert_null (expected[n]);
}

static void
expect_problem (Fixture *f, const char *text, const char *expected)
{
  const char *const one[] = { expected, NULL };
  expect_problems (f, text, one);
}

/* ---- the schema ---------------------------------------------------------- */

/* A group users could write for a schema group: [queue.test] for queue.*. */
static char *
instance_group (const RdConfigKey *k)
{
  if (g_str_has_suffix (k->group, ".*"))
    {
      g_autofree char *prefix = g_strndup (k->group, strlen (k->group) - 1);
      return g_strconcat (prefix, "test", NULL);
    }
  return g_strdup (k->group);
}

static void
check_entry (const RdConfigKey *k, gpointer data)
{
  GHashTable *seen = data;
  g_autofree char *id = g_strdup_printf ("[%s] %s", k->group, k->key);
  g_test_message ("%s", id);
  g_assert_true (g_hash_table_add (seen, g_strdup (id)));
  g_assert_true (k->doc != NULL && *k->doc != '\0');
  g_assert_true (k->dflt == NULL || k->dflt_doc == NULL);
  if (k->type == RD_CONFIG_INT)
    g_assert_cmpint (k->min, <, k->max);
  if (k->type == RD_CONFIG_ENUM || k->type == RD_CONFIG_URL)
    g_assert_nonnull (k->words);
  if (k->type == RD_CONFIG_LIST)
    g_assert_true (k->item == RD_CONFIG_STRING || k->item == RD_CONFIG_ADDRESS || k->item == RD_CONFIG_DOMAIN
                   || k->item == RD_CONFIG_RECIPIENT || k->item == RD_CONFIG_CIDR || k->item == RD_CONFIG_SCRIPT);
  g_autofree char *group = instance_group (k);
  g_assert_true (rd_config_schema_lookup (group, k->key) == k);
  g_assert_true (rd_config_schema_has_group (group));
  g_autofree char *what = rd_config_key_describe (k);
  g_assert_true (what != NULL && *what != '\0');
  if (k->dflt != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_assert_true (rd_config_key_parse (k, k->dflt, NULL, &error));
      g_assert_no_error (error);
    }
}

static void
test_schema_sane (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rd_config_schema_foreach (check_entry, seen);
  g_assert_cmpuint (g_hash_table_size (seen), >, 60);
  g_assert_null (rd_config_schema_lookup ("smtp", "nonexistent"));
  g_assert_null (rd_config_schema_lookup ("queue.", "from_name"));
  g_assert_nonnull (rd_config_schema_lookup ("queue.billing", "from_name"));
  g_assert_false (rd_config_schema_has_group ("queue"));
  g_assert_false (rd_config_schema_has_group ("queue."));
}

/* For every setting with a default, the typed getter on an empty config
 * returns that default. */
static void
check_default (const RdConfigKey *k, gpointer data)
{
  RdConfig *c = data;
  g_autofree char *group = instance_group (k);
  gint64 n = 0;
  if (k->dflt == NULL)
    {
      if (k->type == RD_CONFIG_LIST)
        g_assert_null (rd_config_get_list (c, group, k->key));
      else if (k->type != RD_CONFIG_INT && k->type != RD_CONFIG_BOOL && k->type != RD_CONFIG_SIZE)
        g_assert_null (rd_config_get_string (c, group, k->key, NULL));
      return;
    }
  g_assert_true (rd_config_key_parse (k, k->dflt, &n, NULL));
  switch (k->type)
    {
    case RD_CONFIG_INT:
      g_assert_cmpint (rd_config_get_int (c, group, k->key, n), ==, n);
      break;
    case RD_CONFIG_BOOL:
      g_assert_cmpint (rd_config_get_bool (c, group, k->key, n != 0), ==, n != 0);
      break;
    case RD_CONFIG_SIZE:
      g_assert_cmpuint (rd_config_get_size (c, group, k->key, (guint64) n), ==, (guint64) n);
      break;
    case RD_CONFIG_LIST:
      {
        g_auto(GStrv) got = rd_config_get_list (c, group, k->key);
        g_autofree char *joined = g_strjoinv ("; ", got);
        g_assert_cmpstr (joined, ==, k->dflt);
      }
      break;
    default:
      g_assert_cmpstr (rd_config_get_string (c, group, k->key, k->dflt), ==, k->dflt);
      g_assert_null (rd_config_get_string (c, group, k->key, NULL));
      break;
    }
}

static void
test_defaults (void)
{
  g_autoptr(RdConfig) c = rd_config_new_default ();
  rd_config_schema_foreach (check_default, c);
  g_assert_true (rd_config_check_errors (c, NULL));
  g_assert_cmpstr (rd_config_get_data_dir (c), ==, RD_DEFAULT_DATA_DIR);
  g_assert_cmpstr (rd_config_get_hostname (c), ==, g_get_host_name ());
  g_assert_cmpuint (rd_config_get_size (c, "smtp", "max_message_size", 25 * 1024 * 1024), ==, 25 * 1024 * 1024);
}

/* A caller whose default has drifted from the schema is told, and gets the
 * schema's: the one the documentation shows. */
static void
test_default_drift (void)
{
  g_autoptr(RdConfig) c = rd_config_new_default ();
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
                         "*[smtp] max_errors: the caller's default 11 is not the schema's 10*");
  g_assert_cmpint (rd_config_get_int (c, "smtp", "max_errors", 11), ==, 10);
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*[relay] starttls: the caller's default*");
  g_assert_cmpstr (rd_config_get_string (c, "relay", "starttls", "opportunistic"), ==, "required");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*[smtp] nonexistent is not in the config schema*");
  g_assert_cmpint (rd_config_get_int (c, "smtp", "nonexistent", 5), ==, 5);
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*[smtp] max_message_size has another type*");
  g_assert_cmpint (rd_config_get_int (c, "smtp", "max_message_size", 7), ==, 7);
  g_test_assert_expected_messages ();
}

/* ---- values ---------------------------------------------------------- */

typedef struct {
  const char *group, *key, *value, *expected;
} Malformed;

static const Malformed malformed[] = {
  { "smtp", "max_errors", "ten", "\"ten\" is not an integer (0 or more)" },
  { "parser", "max_mime_depth", "1001", "\"1001\" is out of range (1..1000)" },
  { "relay", "timeout", "0", "\"0\" is out of range (1..3600)" },
  { "smtp", "require_tls", "maybe", "\"maybe\" is not true or false" },
  { "smtp", "max_message_size", "25 MB", "\"25 MB\" is not a size (e.g. 25M)" },
  { "smtp", "max_message_size", "99999999999G", "\"99999999999G\" is not a size (e.g. 25M)" },
  { "parser", "max_header_bytes", "100", "\"100\" is out of range (1K..64M)" },
  { "relay", "lifetime", "5 days", "\"5 days\" is not a duration (e.g. 90s, 15m, 2h, 5d)" },
  { "relay", "retry_base", "90S", "\"90S\" is not a duration (e.g. 90s, 15m, 2h, 5d)" },
  { "smtp", "listen", "localhost", "\"localhost\" is not ADDR:PORT or [IPV6]:PORT" },
  { "smtp", "listen_tls", "off", "\"off\" is not ADDR:PORT, [IPV6]:PORT or none" },
  { "relay", "starttls", "yes", "\"yes\" is not one of: required, opportunistic" },
  { "tls", "min_version", "tlsv1.3", "\"tlsv1.3\" is not one of: TLSv1.2, TLSv1.3" },
  { "queue.billing", "closed_followup", "close", "\"close\" is not one of: reopen, new" },
  { "rules", "before", "", "\"\" is not a path" },
  { "rules", "global_dir", "global        ; include :global",
    "\"global        ; include :global\" is not a path; a # comment goes on a line of its own" },
  { "desk", "reply_address", "support", "\"support\" is not an email address (local@domain)" },
  { "queue.billing", "reply_address", "Billing <b@x.example>",
    "\"Billing <b@x.example>\" is not an email address (local@domain)" },
  { "relay", "own_domains", "example.org, a b.example", "\"a b.example\" is not a domain name" },
  { "smtp", "accept_recipients", "support@desk.example; two words",
    "\"two words\" is not an address, a domain or @domain" },
  { "allowlist", "clients", "127.0.0.1, 10.0.0.0/33",
    "\"10.0.0.0/33\" is not an IP address or CIDR block (e.g. 192.0.2.0/24): bad prefix length (0-32)" },
  { "allowlist", "clients", "10.1.0.0/8",
    "\"10.1.0.0/8\" is not an IP address or CIDR block (e.g. 192.0.2.0/24): address has bits set beyond the /8 prefix" },
  { "relay", "url", "relay.example:465", "\"relay.example:465\" is not smtp://HOST[:PORT] or smtps://HOST[:PORT]" },
  { "relay", "url", "http://relay.example", "\"http://relay.example\" is not smtp://HOST[:PORT] or smtps://HOST[:PORT]" },
  { "relay", "url", "SMTPS://relay.example", "\"SMTPS://relay.example\" is not smtp://HOST[:PORT] or smtps://HOST[:PORT]" },
  { "rules", "scripts", "support.sieve", "\"support.sieve\" is not ADDRESS=FILE" },
  { "rules", "scripts", "support=support.sieve", "\"support=support.sieve\" is not ADDRESS=FILE" },
  { "smtp", "max_message_size", "25M   # the most", "\"25M   # the most\" is not a size (e.g. 25M); a # comment goes on a line of its own" },
  { "desk", "from_name", "Help\\x", "the value cannot be read (a bad \\ escape?)" },
};

static void
test_malformed (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      const Malformed *m = &malformed[i];
      g_autofree char *text = g_strdup_printf ("# relaydesk.conf\n[relaydesk]\nhostname = desk.test\n\n[%s]\n%s = %s\n",
                                               m->group, m->key, m->value);
      g_autofree char *expected = g_strdup_printf ("relaydesk.conf:6: [%s] %s: %s", m->group, m->key, m->expected);
      g_test_message ("%s", expected);
      expect_problem (f, text, expected);
    }
}

static void
test_valid (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdConfig) c = load_text (f,
      "# every type, valid\n"
      "[relaydesk]\n"
      "data_dir = /var/lib/relaydesk\n"
      "hostname = desk.example\n"
      "[smtp]\n"
      "listen = [::1]:25\n"
      "listen_tls = NONE\n"
      "max_message_size = 10MB\n"
      "max_errors =  7  \n"
      "require_tls = Yes\n"
      "accept_recipients = support@desk.example; desk.example, @other.example\n"
      "[allowlist]\n"
      "clients = 192.0.2.0/24; 2001:db8::/32; 198.51.100.7\n"
      "contact = Ask #ops; they know\n"
      "[desk]\n"
      "reply_address = help@desk.example\n"
      "queues = billing\n"
      "stranger_tag = quarantine\n"
      "[queue.billing]\n"
      "reply_address = billing@desk.example\n"
      "closed_followup = new\n"
      "[relay]\n"
      "url = smtps://[2001:db8::1]:465\n"
      "ca_file =\n"
      "lifetime = 2d\n"
      "retry_base = 90\n"
      "own_domains = desk.example\n"
      "[rules]\n"
      "scripts = Support@Desk.Example = support.sieve; sales@desk.example=sales.sieve\n"
      "[parser]\n"
      "max_header_bytes = 64k\n", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rd_config_get_string (c, "smtp", "listen_tls", NULL), ==, "NONE");
  g_assert_cmpuint (rd_config_get_size (c, "smtp", "max_message_size", 25 * 1024 * 1024), ==, 10 * 1024 * 1024);
  g_assert_cmpint (rd_config_get_int (c, "smtp", "max_errors", 10), ==, 7);
  g_assert_true (rd_config_get_bool (c, "smtp", "require_tls", FALSE));
  g_assert_false (rd_config_get_bool (c, "smtp", "strict_bare_lf", FALSE));
  g_assert_cmpuint (rd_config_get_size (c, "parser", "max_header_bytes", 100 * 1024), ==, 64 * 1024);
  g_assert_cmpstr (rd_config_get_string (c, "allowlist", "contact", NULL), ==, "Ask #ops; they know");
  g_auto(GStrv) clients = rd_config_get_list (c, "allowlist", "clients");
  g_assert_cmpuint (g_strv_length (clients), ==, 3);
  g_assert_cmpstr (clients[2], ==, "198.51.100.7");
  g_auto(GStrv) accept = rd_config_get_list (c, "smtp", "accept_recipients");
  g_assert_cmpstr (accept[2], ==, "@other.example");
  g_assert_cmpstr (rd_config_get_string (c, "queue.billing", "reply_address", NULL), ==, "billing@desk.example");
  g_assert_null (rd_config_get_string (c, "queue.sales", "reply_address", NULL));
  g_assert_cmpstr (rd_config_get_string (c, "relay", "ca_file", NULL), ==, "");
  g_assert_true (rd_config_check_errors (c, NULL));
}

/* A value set after loading (the command line) is not checked by the
 * loader; the getter reports it the old way. */
static void
test_set_malformed (void)
{
  g_autoptr(RdConfig) c = rd_config_new_default ();
  rd_config_set_string (c, "smtp", "max_errors", "ten");
  g_assert_cmpint (rd_config_get_int (c, "smtp", "max_errors", 10), ==, 10);
  g_autoptr(GError) error = NULL;
  g_assert_false (rd_config_check_errors (c, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "config: [smtp] max_errors: \"ten\" is not an integer (0 or more)");
}

/* ---- groups, keys, lines -------------------------------------------- */

static void
test_unknown_group (Fixture *f, gconstpointer data)
{
  /* One problem per unknown group, not one per key in it. */
  expect_problem (f, "[smpt]\nlisten = 0.0.0.0:25\nmax_errors = 3\n",
                  "relaydesk.conf:1: [smpt]: unknown group (did you mean [smtp]?)");
  expect_problem (f, "[Relay]\nurl = smtp://x\n", "relaydesk.conf:1: [Relay]: unknown group (did you mean [relay]?)");
  expect_problem (f, "[webdesk]\n", "relaydesk.conf:1: [webdesk]: unknown group");
  const char *const twice[] = {
    "relaydesk.conf:1: [gui]: unknown group",
    "relaydesk.conf:4: [smtp] lisen: unknown key (did you mean listen?)",
    NULL
  };
  expect_problems (f, "[gui]\nlisten = 127.0.0.1:8025\n[smtp]\nlisen = 127.0.0.1:25\n[gui]\nport = 1\n", twice);
}

static void
test_unknown_key (Fixture *f, gconstpointer data)
{
  expect_problem (f, "[smtp]\nmax_mesage_size = 10M\n",
                  "relaydesk.conf:2: [smtp] max_mesage_size: unknown key (did you mean max_message_size?)");
  expect_problem (f, "[smtp]\nListen = 127.0.0.1:25\n",
                  "relaydesk.conf:2: [smtp] Listen: unknown key (did you mean listen?)");
  expect_problem (f, "[relay]\nretry_bsae = 1m\n",
                  "relaydesk.conf:2: [relay] retry_bsae: unknown key (did you mean retry_base?)");
  expect_problem (f, "[smtp]\nzzz = 1\n", "relaydesk.conf:2: [smtp] zzz: unknown key");
  /* The right key in the wrong group. */
  expect_problem (f, "[desk]\nmax_message_size = 10M\n",
                  "relaydesk.conf:2: [desk] max_message_size: unknown key (it is a key of [smtp])");
  expect_problem (f, "[smtp]\nreply_address = a@b.example\n",
                  "relaydesk.conf:2: [smtp] reply_address: unknown key (it is a key of [desk], [queue.NAME])");
  /* GKeyFile's localised keys are not settings of relaydesk. */
  expect_problem (f, "[desk]\nfrom_name[de] = Hilfe\n",
                  "relaydesk.conf:2: [desk] from_name[de]: unknown key");
}

static void
test_duplicate_key (Fixture *f, gconstpointer data)
{
  expect_problem (f, "[smtp]\nmax_errors = 1\n\n[desk]\n\n[smtp]\nmax_errors = 2\n",
                  "relaydesk.conf:7: [smtp] max_errors: given again (first at line 2; only one may stand)");
}

static void
test_line_numbers (Fixture *f, gconstpointer data)
{
  const char *const expected[] = {
    "relaydesk.conf:6: [smtp] max_message_size: \"25 MB\" is not a size (e.g. 25M)",
    "relaydesk.conf:9: [smtp] max_recipents: unknown key (did you mean max_recipients?)",
    "relaydesk.conf:12: [tls] enabled: \"sometimes\" is not true or false",
    "relaydesk.conf:14: [relay] lifetime: \"forever\" is not a duration (e.g. 90s, 15m, 2h, 5d)",
    NULL
  };
  /* CRLF line ends, comments, blank lines and indentation count as lines. */
  expect_problems (f,
      "# relaydesk.conf\r\n"
      "[relaydesk]\r\n"
      "hostname = desk.test\r\n"
      "\r\n"
      "[smtp]\r\n"
      "  max_message_size = 25 MB\r\n"
      "# a comment\r\n"
      "max_errors = 3\r\n"
      "max_recipents = 5\r\n"
      "\r\n"
      "[tls]\r\n"
      "enabled = sometimes\r\n"
      "[relay]\r\n"
      "lifetime=forever\r\n", expected);
}

static void
test_syntax (Fixture *f, gconstpointer data)
{
  expect_problem (f, "[smtp]\nlisten 127.0.0.1:25\n",
                  "relaydesk.conf:2: \"listen 127.0.0.1:25\" is not a [group], a key = value or a # comment");
  expect_problem (f, "# top\nhostname = x\n[relaydesk]\n",
                  "relaydesk.conf:2: \"hostname = x\" comes before the first [group]");
  expect_problem (f, "[smtp]\n; a comment\n",
                  "relaydesk.conf:2: \"; a comment\" is not a [group], a key = value or a # comment");
  expect_problem (f, "[smtp\n", "relaydesk.conf:1: \"[smtp\" is not a [group], a key = value or a # comment");
  expect_problem (f, "[]\n", "relaydesk.conf:1: [] has no group name");
}

static void
test_dynamic_groups (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdConfig) c = load_text (f, "[queue.billing]\nfrom_name = Billing\n[queue.sales-eu]\nclosed_followup = new\n", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rd_config_get_string (c, "queue.billing", "from_name", NULL), ==, "Billing");
  g_assert_cmpstr (rd_config_get_string (c, "queue.sales-eu", "closed_followup", NULL), ==, "new");
  expect_problem (f, "[queue.billing]\nfrom_nme = Billing\n",
                  "relaydesk.conf:2: [queue.billing] from_nme: unknown key (did you mean from_name?)");
  expect_problem (f, "[queues.billing]\nfrom_name = Billing\n",
                  "relaydesk.conf:1: [queues.billing]: unknown group (did you mean [queue.billing]?)");
  expect_problem (f, "[queue]\n", "relaydesk.conf:1: [queue]: unknown group (did you mean [queue.NAME]?)");
  expect_problem (f, "[queue.]\n", "relaydesk.conf:1: [queue.]: unknown group (did you mean [queue.NAME]?)");
  expect_problem (f, "[queue.billing]\nmax_errors = 1\n",
                  "relaydesk.conf:2: [queue.billing] max_errors: unknown key (it is a key of [smtp])");
}

static void
test_load_edge (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdConfig) empty = load_text (f, "", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rd_config_get_path (empty), ==, f->path);
  g_autoptr(RdConfig) none = rd_config_load (NULL, &error);
  g_assert_no_error (error);
  g_assert_null (rd_config_get_path (none));
  g_autofree char *missing = g_build_filename (f->dir, "missing.conf", NULL);
  g_autoptr(RdConfig) bad = rd_config_load (missing, &error);
  g_assert_null (bad);
  g_assert_error (error, RD_ERROR, RD_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "missing.conf"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/schema/sane", test_schema_sane);
  g_test_add_func ("/config/schema/defaults", test_defaults);
  g_test_add_func ("/config/schema/default-drift", test_default_drift);
  g_test_add_func ("/config/values/set-malformed", test_set_malformed);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, setup, fn, teardown)
  ADD ("/config/values/malformed", test_malformed);
  ADD ("/config/values/valid", test_valid);
  ADD ("/config/unknown-group", test_unknown_group);
  ADD ("/config/unknown-key", test_unknown_key);
  ADD ("/config/duplicate-key", test_duplicate_key);
  ADD ("/config/line-numbers", test_line_numbers);
  ADD ("/config/syntax", test_syntax);
  ADD ("/config/dynamic-groups", test_dynamic_groups);
  ADD ("/config/load-edge", test_load_edge);
  return g_test_run ();
}
