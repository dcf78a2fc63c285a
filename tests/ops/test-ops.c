/* relaydesk — the operations layer (ops/ops.h): authorization by queue
 * and role, the rules every front end gets (staging allowlist entries,
 * notes, tags), rules check with the daemon's limits and loader, and
 * rules test filling ${ticket.*} from threading. */
#include "ops.h"
#include "json.h"
#include "rd-common.h"
#include "../pg/store-location.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *dir;
  RdConfig *config;
  RdStore *store;
  RdOps *ops;
} Fixture;

static const RdActor admin = { "admin", TRUE, NULL };
static const char *const billing_only[] = { "billing", NULL };
static const RdActor billing_agent = { "bea", FALSE, billing_only };

static gint64
open_ticket (Fixture *f, const char *queue, const char *subject, const char *body)
{
  RdTicketDraft d = { .queue = queue, .subject = subject, .requester_addr = "cust@example.com" };
  RdMessageDraft m = { .direction = RD_MESSAGE_INBOUND, .from_addr = "cust@example.com", .subject = subject,
                       .body_text = body };
  g_autoptr(GError) error = NULL;
  gint64 n = 0;
  g_assert_true (rd_store_ticket_open (f->store, &d, &m, &n, NULL, &error));
  g_assert_no_error (error);
  return n;
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("rd-ops-XXXXXX", &error);
  g_assert_no_error (error);
  f->config = rd_config_new_default ();
  rd_config_set_string (f->config, "relaydesk", "data_dir", f->dir);
  rd_config_set_string (f->config, "desk", "reply_address", "support@desk.example");
  g_autofree char *loc = rd_test_store_location (f->dir);
  if (rd_test_store_is_pg ())
    rd_config_set_string (f->config, "store", "url", loc);
  f->store = rd_store_open (loc, &error);
  g_assert_no_error (error);
  f->ops = rd_ops_new (f->config, f->store, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  rd_ops_free (f->ops);
  rd_store_free (f->store);
  rd_config_free (f->config);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->dir);
}

/* An agent sees their queues only, and a ticket elsewhere is "not found"
 * for them through every operation, search included. */
static void
test_queue_scope (Fixture *f, gconstpointer data)
{
  gint64 inbox = open_ticket (f, "inbox", "Secret merger", "the word is platypus");
  gint64 bill = open_ticket (f, "billing", "Invoice", "platypus invoice");
  g_autoptr(GError) error = NULL;
  RdTicketQuery all = { 0 };
  g_autoptr(GPtrArray) mine = rd_ops_tickets_list (f->ops, &billing_agent, &all, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mine->len, ==, 1);
  g_assert_cmpint (((RdTicket *) g_ptr_array_index (mine, 0))->number, ==, bill);
  RdTicketQuery other = { .queue = "inbox" };
  g_autoptr(GPtrArray) none = rd_ops_tickets_list (f->ops, &billing_agent, &other, &error);
  g_assert_cmpuint (none->len, ==, 0);
  g_autoptr(GPtrArray) everyone = rd_ops_tickets_list (f->ops, &admin, &all, &error);
  g_assert_cmpuint (everyone->len, ==, 2);

  g_autoptr(GPtrArray) hits = rd_ops_tickets_search (f->ops, &billing_agent, "platypus", 50, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_cmpint (((RdTicket *) g_ptr_array_index (hits, 0))->number, ==, bill);

  g_assert_null (rd_ops_ticket_view (f->ops, &billing_agent, inbox, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (rd_ops_note (f->ops, &billing_agent, inbox, "peek", NULL, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (rd_ops_ticket_set (f->ops, &billing_agent, inbox, RD_TICKET_FIELD_STATUS, "closed", &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* Moving their ticket to a queue they are not in is refused. */
  g_assert_false (rd_ops_ticket_set (f->ops, &billing_agent, bill, RD_TICKET_FIELD_QUEUE, "inbox", &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_PERMISSION);
  g_clear_error (&error);
  g_autoptr(RdTicketView) v = rd_ops_ticket_view (f->ops, &billing_agent, bill, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (v->subject_tag, ==, "[RD #2]");
}

/* Administration needs an admin, whatever the front end. */
static void
test_admin_only (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  RdAllowlistRequest req = { .cidr = "192.0.2.0/24" };
  g_assert_null (rd_ops_allowlist_add (f->ops, &billing_agent, &req, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_PERMISSION);
  g_clear_error (&error);
  g_assert_null (rd_ops_outbox_list (f->ops, &billing_agent, NULL, 10, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_PERMISSION);
  g_clear_error (&error);
  g_assert_false (rd_ops_outbox_retry (f->ops, &billing_agent, 1, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_PERMISSION);
  g_clear_error (&error);
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  g_assert_false (rd_ops_rules_check (f->ops, &billing_agent, "/dev/null", NULL, diags, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_PERMISSION);
}

/* The relay request form's rules hold in the operation, not in a CLI. */
static void
test_allowlist_rules (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  RdAllowlistRequest staging = { .cidr = "192.0.2.7", .staging = TRUE };
  g_autoptr(RdAllowlistEntry) e = rd_ops_allowlist_add (f->ops, &admin, &staging, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (e->cidr, ==, "192.0.2.7/32");
  g_assert_cmpint (e->expires_at, >, now + 14 * 86400);
  g_assert_cmpint (e->expires_at, <=, now + RD_ALLOWLIST_STAGING_MAX_DAYS * 86400 + 1);
  RdAllowlistRequest too_long = { .cidr = "192.0.2.8", .staging = TRUE, .expires_at = now + 16 * 86400 };
  g_assert_null (rd_ops_allowlist_add (f->ops, &admin, &too_long, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_clear_error (&error);
  RdAllowlistRequest past = { .cidr = "192.0.2.9", .expires_at = now - 10 };
  g_assert_null (rd_ops_allowlist_add (f->ops, &admin, &past, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_clear_error (&error);
  RdAllowlistRequest mail = { .cidr = "192.0.2.10", .admin_email = "not an address" };
  g_assert_null (rd_ops_allowlist_add (f->ops, &admin, &mail, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_clear_error (&error);
  RdAllowlistRequest host_bits = { .cidr = "192.0.2.1/24" };
  g_assert_null (rd_ops_allowlist_add (f->ops, &admin, &host_bits, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_clear_error (&error);
  /* The config's entries are listed, marked, and not removable here. */
  g_autoptr(GPtrArray) items = rd_ops_allowlist_list (f->ops, &admin, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (items->len, ==, 3); /* 127.0.0.0/8, ::1/128, the staging entry */
  g_assert_true (((RdAllowlistItem *) g_ptr_array_index (items, 0))->from_config);
  g_assert_false (((RdAllowlistItem *) g_ptr_array_index (items, 2))->from_config);
  g_assert_false (rd_ops_allowlist_remove (f->ops, &admin, "127.0.0.0/8", &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "[allowlist] clients"));
  g_clear_error (&error);
  g_assert_true (rd_ops_allowlist_remove (f->ops, &admin, "192.0.2.7", &error));
  g_assert_false (rd_ops_allowlist_remove (f->ops, &admin, "192.0.2.7", &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* "[allowlist] clients =" (empty): no built-in entries. */
  rd_config_set_string (f->config, "allowlist", "clients", "");
  g_autoptr(GPtrArray) none = rd_ops_allowlist_list (f->ops, &admin, &error);
  g_assert_cmpuint (none->len, ==, 0);
}

static void
test_notes_tags_fold (Fixture *f, gconstpointer data)
{
  gint64 n = open_ticket (f, "billing", "Invoice", "x");
  g_autoptr(GError) error = NULL;
  g_assert_false (rd_ops_note (f->ops, &billing_agent, n, "  \n ", NULL, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_clear_error (&error);
  gint64 row = 0;
  g_assert_true (rd_ops_note (f->ops, &billing_agent, n, "called the customer", &row, &error));
  g_assert_cmpint (row, >, 0);
  /* Tags: all or nothing. */
  const char *add[] = { "vip", "bad tag", NULL };
  g_assert_false (rd_ops_ticket_tags (f->ops, &billing_agent, n, add, NULL, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_autoptr(RdTicket) t = rd_ops_ticket_peek (f->ops, &billing_agent, n, &error);
  g_assert_cmpuint (g_strv_length (t->tags), ==, 0);
  g_autoptr(RdTicketView) v = rd_ops_ticket_view (f->ops, &billing_agent, n, &error);
  const RdAuditEntry *last = g_ptr_array_index (v->audit, v->audit->len - 1);
  g_assert_cmpstr (last->actor, ==, "bea");
  g_assert_cmpstr (last->action, ==, "note");
  /* Quote folding is the parser's. */
  guint folded = 0;
  g_autofree char *kept = rd_ops_fold_quoted ("Thanks!\n\nOn Mon, 1 Jan 2024, Bob wrote:\n> hi\n> there\n", &folded);
  g_assert_cmpstr (kept, ==, "Thanks!");
  g_assert_cmpuint (folded, ==, 3);
  g_autofree char *none = rd_ops_fold_quoted ("no quotes here", &folded);
  g_assert_cmpstr (none, ==, "no quotes here");
  g_assert_cmpuint (folded, ==, 0);
}

static char *
write_file (Fixture *f, const char *name, const char *text)
{
  char *path = g_build_filename (f->dir, name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* rules check uses the daemon's limits: a script serve would refuse for
 * its [rules] max_nesting is refused here too; and its include loader. */
static void
test_rules_check_limits (Fixture *f, gconstpointer data)
{
  g_autofree char *deep = write_file (f, "deep.sieve",
      "if true { if true { if true { if true { keep; } } } }\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  g_assert_true (rd_ops_rules_check (f->ops, &admin, deep, NULL, diags, &error));
  g_assert_no_error (error);
  rd_config_set_string (f->config, "rules", "max_nesting", "2");
  g_assert_false (rd_ops_rules_check (f->ops, &admin, deep, NULL, diags, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_cmpuint (diags->len, >, 0);
  /* include :personal finds NAME.sieve beside the script. */
  g_autofree char *inc = write_file (f, "common.sieve", "require \"fileinto\";\nfileinto \"billing\";\n");
  g_autofree char *main_script = write_file (f, "main.sieve", "require \"include\";\ninclude :personal \"common\";\n");
  g_ptr_array_set_size (diags, 0);
  g_assert_true (rd_ops_rules_check (f->ops, &admin, main_script, NULL, diags, &error));
  g_assert_no_error (error);
}

/* rules test fills ${ticket.*} as serve would: the next number for a new
 * ticket, the ticket threaded to for a follow-up. */
static void
test_rules_test_ticket_vars (Fixture *f, gconstpointer data)
{
  open_ticket (f, "inbox", "first", "x");
  open_ticket (f, "inbox", "second", "x");
  g_autofree char *script = write_file (f, "ack.sieve",
      "require [\"vacation\", \"variables\", \"fileinto\", \"vnd.relaydesk.ticket\"];\n"
      "fileinto \"billing\";\n"
      "vacation :subject \"Ticket ${ticket.number} in ${ticket.queue} ${ticket.tag}\" \"We got it.\";\n");
  const char *msg = "From: alice@example.com\r\nTo: support@desk.example\r\nSubject: Help\r\n"
                    "Message-ID: <q@example.com>\r\n\r\nPlease.\r\n";
  g_autoptr(GBytes) raw = g_bytes_new_static (msg, strlen (msg));
  RdRulesTest t = { .script_path = script, .message = raw, .sender = "alice@example.com",
                    .recipient = "support@desk.example" };
  g_auto(RdRulesTestResult) r = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  g_assert_true (rd_ops_rules_test (f->ops, &admin, &t, &r, diags, &error));
  g_assert_no_error (error);
  g_assert_true (r.compiled);
  g_assert_false (r.followup);
  g_assert_cmpint (r.ticket_number, ==, 3);
  const RdAction *vac = NULL;
  for (guint i = 0; i < r.actions->len; i++)
    if (((RdAction *) g_ptr_array_index (r.actions, i))->type == RD_ACTION_VACATION)
      vac = g_ptr_array_index (r.actions, i);
  g_assert_nonnull (vac);
  g_assert_cmpstr (vac->subject, ==, "Ticket 3 in billing [RD #3]");
  /* Nothing was stored by the dry run. */
  RdTicketQuery q = { 0 };
  g_autoptr(GPtrArray) all = rd_ops_tickets_list (f->ops, &admin, &q, &error);
  g_assert_cmpuint (all->len, ==, 2);
  /* A script that does not compile: compiled FALSE, diagnostics. */
  g_autofree char *bad = write_file (f, "bad.sieve", "fileinto billing;\n");
  RdRulesTest tb = { .script_path = bad, .message = raw };
  g_auto(RdRulesTestResult) rb = { 0 };
  g_ptr_array_set_size (diags, 0);
  g_assert_true (rd_ops_rules_test (f->ops, &admin, &tb, &rb, diags, &error));
  g_assert_false (rb.compiled);
  g_assert_cmpuint (diags->len, >, 0);
  RdRulesDiagnostic *d = g_ptr_array_index (diags, 0);
  g_assert_cmpuint (d->line, ==, 1);
}

/* The JSON of a ticket is made in one place: the same fields for a list
 * entry and the head of a full view. */
static void
test_json_shapes (Fixture *f, gconstpointer data)
{
  gint64 n = open_ticket (f, "inbox", "Shape <b>", "body");
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicketView) v = rd_ops_ticket_view (f->ops, &admin, n, &error);
  g_autoptr(JsonBuilder) b1 = json_builder_new ();
  rd_json_ticket (f->ops, b1, v->ticket);
  g_autoptr(JsonBuilder) b2 = json_builder_new ();
  rd_json_ticket_view (b2, v);
  g_autoptr(JsonNode) n1 = json_builder_get_root (b1);
  g_autoptr(JsonNode) n2 = json_builder_get_root (b2);
  JsonObject *o1 = json_node_get_object (n1), *o2 = json_node_get_object (n2);
  g_autoptr(GList) members = json_object_get_members (o1);
  g_assert_cmpuint (g_list_length (members), ==, 13);
  for (GList *l = members; l; l = l->next)
    g_assert_true (json_object_has_member (o2, l->data));
  g_assert_cmpstr (json_object_get_string_member (o2, "subject"), ==, "Shape <b>");
  g_assert_cmpstr (json_object_get_string_member (o2, "status"), ==, "new");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_ERROR);
#define ADD(name, fn) g_test_add ("/ops/" name, Fixture, NULL, setup, fn, teardown)
  ADD ("queue-scope", test_queue_scope);
  ADD ("admin-only", test_admin_only);
  ADD ("allowlist-rules", test_allowlist_rules);
  ADD ("notes-tags-fold", test_notes_tags_fold);
  ADD ("rules-check-limits", test_rules_check_limits);
  ADD ("rules-test-ticket-vars", test_rules_test_ticket_vars);
  ADD ("json-shapes", test_json_shapes);
  return g_test_run ();
}
