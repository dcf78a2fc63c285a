/* The modules' config readers against the schema (common/rd-config-schema.c).
 *
 * Each reader runs on an empty config, so every getter call falls back to
 * a default: a caller whose default differs from the schema's, or a key the
 * schema lacks, raises a g_critical, which GTest makes fatal. The daemon's
 * integration tests run with G_DEBUG=fatal-criticals for the paths not
 * reached here (per-message reads in desk/threading.c, serve). */
#include "rd-config.h"
#include "rd-common.h"
#include "message.h"
#include "desk.h"
#include "desk-private.h"
#include "ticket-ids.h"
#include "relay.h"
#include "guard.h"
#include "smtp-client.h"
#include "smtp-server.h"

#include <glib/gstdio.h>
#include <string.h>

static void
rm_rf (const char *dir)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
}

typedef struct {
  char *dir;
  RdConfig *config;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("rd-config-readers-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->config = rd_config_new_default ();
  rd_config_set_string (f->config, "relaydesk", "data_dir", f->dir);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  rd_config_free (f->config);
  rm_rf (f->dir);
  g_free (f->dir);
}

static void
test_parser (Fixture *f, gconstpointer data)
{
  RdParserLimits from_config, built_in;
  rd_parser_limits_from_config (&from_config, f->config);
  rd_parser_limits_init (&built_in);
  g_assert_cmpmem (&from_config, sizeof from_config, &built_in, sizeof built_in);
}

static void
test_rules_limits (Fixture *f, gconstpointer data)
{
  RdRulesLimits from_config, built_in;
  memset (&from_config, 0, sizeof from_config);
  memset (&built_in, 0, sizeof built_in);
  rd_desk_rules_limits (f->config, &from_config);
  rd_rules_limits_init (&built_in);
  g_assert_cmpmem (&from_config, sizeof from_config, &built_in, sizeof built_in);
}

static void
test_desk (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdStore) store = rd_store_open (f->dir, &error);
  g_assert_no_error (error);
  g_autoptr(RdDesk) desk = rd_desk_new (f->config, store, &error);
  g_assert_no_error (error);
  g_autoptr(RdTicketIds) ids = rd_ticket_ids_new (f->config, store, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rd_ticket_ids_from_name (ids, "billing"), ==, "Support");
  g_assert_false (rd_ticket_ids_is_own_address (ids, "someone@example.org"));
}

static void
test_relay (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdRelayGuard) guard = rd_relay_guard_new (f->config, "test");
  RdSmtpClientOptions o;
  g_assert_true (rd_smtp_client_options_load (f->config, "smtp://127.0.0.1:1", NULL, &o, &error));
  g_assert_no_error (error);
  g_assert_true (o.starttls_required);
  g_assert_cmpuint (o.timeout, ==, 30);
  rd_smtp_client_options_clear (&o);
  g_autoptr(RdRelayOutbox) ob = rd_relay_outbox_new (f->config, "smtp://127.0.0.1:1", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ob);
}

static void
test_receiver (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdStore) store = rd_store_open (f->dir, &error);
  g_assert_no_error (error);
  g_autoptr(RdSpoolWriter) writer = rd_spool_writer_new (f->dir, 1, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr(RdSmtpServer) server = rd_smtp_server_new (f->config, writer, &error);
  g_assert_no_error (error);
  g_assert_nonnull (server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, setup, fn, teardown)
  ADD ("/config-readers/parser", test_parser);
  ADD ("/config-readers/rules-limits", test_rules_limits);
  ADD ("/config-readers/desk", test_desk);
  ADD ("/config-readers/relay", test_relay);
  ADD ("/config-readers/receiver", test_receiver);
  return g_test_run ();
}
