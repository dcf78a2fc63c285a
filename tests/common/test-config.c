/* Tests for common/rd-config*.c: the schema and the getters' defaults
 * against it. */
#include "rd-config.h"
#include "rd-common.h"

#include <string.h>

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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/schema/sane", test_schema_sane);
  g_test_add_func ("/config/schema/defaults", test_defaults);
  g_test_add_func ("/config/schema/default-drift", test_default_drift);
  g_test_add_func ("/config/values/set-malformed", test_set_malformed);
  return g_test_run ();
}
