/* The web desk's part of the store (store/agents.h, store/workspace.h):
 * agents unique by e-mail in any case, sessions that expire and end with
 * a new password, tokens that revoke, the admin audit naming the actor,
 * queue counters kept by triggers through insert, status and queue
 * changes, counts with a cap, drafts and views of one agent only,
 * uploads stored once by hash, rule versions. */
#include "agents.h"
#include "workspace.h"
#include "tickets.h"
#include "rd-common.h"

#include <string.h>

typedef struct {
  char *dir;
  RdStore *store;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("rd-agents-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = rd_store_open (f->dir, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  rd_store_free (f->store);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->dir);
}

static gint64
add_agent (RdStore *store, const char *email, gboolean admin)
{
  static const char *const queues[] = { "inbox", "billing", NULL };
  RdAgent a = { .email = (char *) email, .name = (char *) "N", .admin = admin, .queues = (GStrv) queues,
                .password_hash = (char *) "$argon2id$x" };
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_agent_add (store, &a, "tester", &error));
  g_assert_no_error (error);
  return a.id;
}

static gint64
open_ticket (RdStore *store, const char *queue)
{
  RdTicketDraft d = { .queue = queue, .subject = "s", .requester_addr = "c@example.com" };
  RdMessageDraft m = { .direction = RD_MESSAGE_INBOUND, .from_addr = "c@example.com", .subject = "s",
                       .body_text = "b" };
  gint64 n = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_open (store, &d, &m, &n, NULL, &error));
  return n;
}

static void
test_agents_sessions_tokens (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 id = add_agent (f->store, "ann@example.com", FALSE);
  RdAgent dup = { .email = (char *) "ANN@example.com", .name = (char *) "x", .password_hash = (char *) "h" };
  g_assert_false (rd_store_agent_add (f->store, &dup, "tester", &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_CONFLICT);
  g_clear_error (&error);
  g_autoptr(RdAgent) a = rd_store_agent_get_by_email (f->store, "Ann@Example.com", &error);
  g_assert_no_error (error);
  g_assert_cmpint (a->id, ==, id);
  g_assert_cmpstr (a->email, ==, "ann@example.com");
  g_assert_cmpuint (g_strv_length (a->queues), ==, 2);
  g_assert_cmpstr (a->queues[0], ==, "billing");

  /* sessions: live, expired, ended by a new password except the kept one */
  g_assert_true (rd_store_session_add (f->store, id, "h1", "csrf1", (g_get_real_time () / G_USEC_PER_SEC) + 60, NULL, &error));
  g_assert_true (rd_store_session_add (f->store, id, "h2", "csrf2", (g_get_real_time () / G_USEC_PER_SEC) + 60, NULL, &error));
  g_assert_true (rd_store_session_add (f->store, id, "old", "c", (g_get_real_time () / G_USEC_PER_SEC) - 1, NULL, &error));
  g_autofree char *csrf = NULL;
  g_autoptr(RdAgent) s = rd_store_session_agent (f->store, "h1", &csrf, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (csrf, ==, "csrf1");
  g_assert_null (rd_store_session_agent (f->store, "old", NULL, NULL, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (rd_store_agent_set_password (f->store, id, "$argon2id$y", "h2", "ann@example.com", &error));
  g_assert_null (rd_store_session_agent (f->store, "h1", NULL, NULL, &error));
  g_clear_error (&error);
  g_autoptr(RdAgent) kept = rd_store_session_agent (f->store, "h2", NULL, NULL, &error);
  g_assert_nonnull (kept);

  /* tokens */
  gint64 tid = 0;
  g_assert_true (rd_store_token_add (f->store, id, "ci", "th", "admin@x", &tid, &error));
  g_autoptr(RdAgent) t = rd_store_token_agent (f->store, "th", &error);
  g_assert_nonnull (t);
  g_assert_true (rd_store_token_revoke (f->store, tid, "admin@x", &error));
  g_assert_null (rd_store_token_agent (f->store, "th", &error));
  g_clear_error (&error);
  g_assert_false (rd_store_token_revoke (f->store, tid, "admin@x", &error));
  g_clear_error (&error);

  /* the audit names the actor of each change */
  g_autoptr(GPtrArray) audit = rd_store_admin_audit_list (f->store, 10, &error);
  g_assert_cmpuint (audit->len, ==, 4);
  RdAdminAuditEntry *e = g_ptr_array_index (audit, 0);
  g_assert_cmpstr (e->action, ==, "token-revoke");
  g_assert_cmpstr (e->actor, ==, "admin@x");
  e = g_ptr_array_index (audit, 3);
  g_assert_cmpstr (e->action, ==, "agent-add");
  g_assert_cmpstr (e->actor, ==, "tester");

  /* removing the agent takes sessions and tokens with it */
  g_assert_true (rd_store_agent_remove (f->store, id, "admin@x", &error));
  g_assert_null (rd_store_session_agent (f->store, "h2", NULL, NULL, &error));
  g_clear_error (&error);
}

static gint64
count_of (GPtrArray *counts, const char *queue, RdTicketStatus status)
{
  for (guint i = 0; i < counts->len; i++)
    {
      RdQueueCount *c = g_ptr_array_index (counts, i);
      if (g_str_equal (c->queue, queue) && c->status == status)
        return c->count;
    }
  return 0;
}

static void
test_counters (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 a = open_ticket (f->store, "inbox");
  open_ticket (f->store, "inbox");
  open_ticket (f->store, "billing");
  g_assert_true (rd_store_ticket_set (f->store, a, RD_TICKET_FIELD_STATUS, "open", "x", &error));
  g_assert_true (rd_store_ticket_set (f->store, a, RD_TICKET_FIELD_QUEUE, "billing", "x", &error));
  g_assert_true (rd_store_ticket_set (f->store, a, RD_TICKET_FIELD_PRIORITY, "high", "x", &error));
  g_autoptr(GPtrArray) counts = rd_store_queue_counts (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpint (count_of (counts, "inbox", RD_TICKET_STATUS_NEW), ==, 1);
  g_assert_cmpint (count_of (counts, "billing", RD_TICKET_STATUS_NEW), ==, 1);
  g_assert_cmpint (count_of (counts, "billing", RD_TICKET_STATUS_OPEN), ==, 1);
  g_assert_cmpint (count_of (counts, "inbox", RD_TICKET_STATUS_OPEN), ==, 0);

  RdTicketQuery q = { .has_priority = TRUE, .priority = RD_TICKET_PRIORITY_HIGH };
  gint64 n = 0;
  gboolean capped = TRUE;
  g_assert_true (rd_store_tickets_count (f->store, &q, 0, &n, &capped, &error));
  g_assert_cmpint (n, ==, 1);
  g_assert_false (capped);
  RdTicketQuery all = { 0 };
  g_assert_true (rd_store_tickets_count (f->store, &all, 2, &n, &capped, &error));
  g_assert_cmpint (n, ==, 2);
  g_assert_true (capped);
  RdTicketQuery req = { .requester = "C@EXAMPLE.com" };
  g_autoptr(GPtrArray) mine = rd_store_tickets_query (f->store, &req, &error);
  g_assert_cmpuint (mine->len, ==, 3);
}

static void
test_workspace (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 ann = add_agent (f->store, "ann@example.com", FALSE);
  gint64 bo = add_agent (f->store, "bo@example.com", FALSE);
  gint64 n = open_ticket (f->store, "inbox");

  g_assert_true (rd_store_draft_put (f->store, ann, n, "draft 1", &error));
  g_assert_true (rd_store_draft_put (f->store, ann, n, "draft 2", &error));
  g_autofree char *d = rd_store_draft_get (f->store, ann, n, NULL, &error);
  g_assert_cmpstr (d, ==, "draft 2");
  g_autofree char *none = rd_store_draft_get (f->store, bo, n, NULL, &error);
  g_assert_null (none);
  g_assert_no_error (error);

  gint64 v = 0;
  g_assert_true (rd_store_view_put (f->store, ann, "mine", "{\"status\":\"new\"}", &v, &error));
  g_assert_false (rd_store_view_delete (f->store, bo, v, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_autoptr(GPtrArray) views = rd_store_views_list (f->store, ann, &error);
  g_assert_cmpuint (views->len, ==, 1);

  g_autoptr(GBytes) data1 = g_bytes_new_static ("same bytes", 10);
  gint64 u1 = 0, u2 = 0;
  g_autofree char *sha1 = NULL, *sha2 = NULL;
  g_assert_true (rd_store_upload_add (f->store, ann, "a.txt", "text/plain", data1, &u1, &sha1, &error));
  g_assert_true (rd_store_upload_add (f->store, ann, "b.txt", "text/plain", data1, &u2, &sha2, &error));
  g_assert_cmpstr (sha1, ==, sha2);
  g_assert_null (rd_store_upload_get (f->store, bo, u1, NULL, &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_autoptr(GBytes) back = NULL;
  g_autoptr(RdStoredAttachment) up = rd_store_upload_get (f->store, ann, u2, &back, &error);
  g_assert_cmpstr (up->filename, ==, "b.txt");
  g_assert_true (g_bytes_equal (back, data1));

  gint64 r1 = 0, r2 = 0;
  g_assert_true (rd_store_rule_version_add (f->store, "x.sieve", "keep;", "ann", &r1, &error));
  g_assert_true (rd_store_rule_version_add (f->store, "x.sieve", "discard;", "bo", &r2, &error));
  g_autoptr(GPtrArray) versions = rd_store_rule_versions_list (f->store, "x.sieve", &error);
  g_assert_cmpuint (versions->len, ==, 2);
  g_assert_cmpint (((RdRuleVersion *) g_ptr_array_index (versions, 0))->id, ==, r2);
  g_autoptr(RdRuleVersion) one = rd_store_rule_version_get (f->store, r1, &error);
  g_assert_cmpstr (one->body, ==, "keep;");
}

/* An agent's queues are listed one query per queue, merged: the same
 * tickets in the same order as one query over all of them would give. */
static void
test_list_merge (Fixture *f, gconstpointer data)
{
  static const char *const names[] = { "a", "b", "c" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) mine = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < 30; i++)
    {
      gint64 n = open_ticket (f->store, names[(i * 7) % 3]);
      if ((i * 7) % 3 != 2)
        g_array_append_val (mine, n);
      if (i % 4 == 0)
        g_assert_true (rd_store_ticket_set (f->store, n, RD_TICKET_FIELD_STATUS, "open", "x", &error));
    }
  static const char *const two[] = { "a", "b", NULL };
  static const RdTicketSort sorts[] = { RD_TICKET_SORT_NUMBER, RD_TICKET_SORT_CREATED, RD_TICKET_SORT_UPDATED };
  for (guint k = 0; k < G_N_ELEMENTS (sorts); k++)
    for (guint offset = 0; offset < 25; offset += 6)
      {
        RdTicketQuery q = { .queues = two, .sort = sorts[k], .limit = 5, .offset = offset };
        g_autoptr(GPtrArray) got = rd_store_tickets_query (f->store, &q, &error);
        g_assert_no_error (error);
        /* the reference: the tickets of a and b in that order */
        RdTicketQuery all = { .sort = sorts[k], .limit = 1000 };
        g_autoptr(GPtrArray) every = rd_store_tickets_query (f->store, &all, &error);
        g_autoptr(GPtrArray) want = g_ptr_array_new ();
        for (guint i = 0; i < every->len; i++)
          {
            RdTicket *t = g_ptr_array_index (every, i);
            if (g_strv_contains (two, t->queue))
              g_ptr_array_add (want, t);
          }
        guint expect = MIN (5, want->len > offset ? want->len - offset : 0);
        g_assert_cmpuint (got->len, ==, expect);
        for (guint i = 0; i < got->len; i++)
          g_assert_cmpint (((RdTicket *) g_ptr_array_index (got, i))->number, ==,
                           ((RdTicket *) g_ptr_array_index (want, offset + i))->number);
        g_assert_nonnull (got->len ? ((RdTicket *) g_ptr_array_index (got, 0))->tags : (GStrv) two);
      }
  RdTicketQuery open_q = { .queues = two, .has_status = TRUE, .status = RD_TICKET_STATUS_OPEN, .limit = 50 };
  g_autoptr(GPtrArray) open = rd_store_tickets_query (f->store, &open_q, &error);
  for (guint i = 0; i < open->len; i++)
    g_assert_cmpint (((RdTicket *) g_ptr_array_index (open, i))->status, ==, RD_TICKET_STATUS_OPEN);
  g_assert_cmpuint (open->len, >, 0);
  g_assert_cmpuint (mine->len, ==, 20);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/agents/sessions-tokens", Fixture, NULL, setup, test_agents_sessions_tokens, teardown);
  g_test_add ("/agents/counters", Fixture, NULL, setup, test_counters, teardown);
  g_test_add ("/agents/workspace", Fixture, NULL, setup, test_workspace, teardown);
  g_test_add ("/agents/list-merge", Fixture, NULL, setup, test_list_merge, teardown);
  return g_test_run ();
}
