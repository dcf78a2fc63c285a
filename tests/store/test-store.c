/* relaydesk — store unit tests: schema creation and migration from an
 * empty file, spool insert/read, ticket insert/list, the group-commit
 * writer. Every test works in its own temporary data directory. */
#include "store.h"
#include "spool.h"
#include "tickets.h"
#include "outbox.h"
#include "spool-writer.h"
#include "rd-common.h"
#include "store-private.h"
#include "../pg/store-location.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

typedef struct {
  char *dir;
  char *loc;   /* the store: dir, or a PostgreSQL schema (tests/pg/) */
} Fixture;

/* Backend-specific checks skip in the other backend's row. */
#define SQLITE_ONLY() \
  do { if (rd_test_store_is_pg ()) { g_test_skip ("SQLite only"); return; } } while (0)

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("rd-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->loc = rd_test_store_location (f->dir);
}

static void
rm_rf (const char *path)
{
  g_autoptr(GDir) d = g_dir_open (path, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)))
    {
      g_autofree char *p = g_build_filename (path, n, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR))
        rm_rf (p);
      else
        g_unlink (p);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->loc);
}

static RdSpoolItem *
make_item (const char *sender, const char *rcpt, const char *raw)
{
  RdSpoolItem *it = rd_spool_item_new ();
  it->sender = g_strdup (sender);
  g_ptr_array_add (it->recipients, g_strdup (rcpt));
  it->client_addr = g_strdup ("127.0.0.1");
  it->helo = g_strdup ("client.example");
  it->protocol = g_strdup ("ESMTP");
  it->raw = g_bytes_new (raw, strlen (raw));
  return it;
}

static void
test_schema_fresh (Fixture *f, gconstpointer data)
{
  SQLITE_ONLY ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sub = g_build_filename (f->dir, "nested", "data", NULL);
  /* The data dir does not exist yet: open creates it and the schema. */
  g_autoptr(RdStore) store = rd_store_open (sub, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  g_assert_true (g_file_test (rd_store_get_path (store), G_FILE_TEST_IS_REGULAR));
  g_auto(GStrv) names = rd_store_list_migrations (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), >=, 4);
  g_assert_cmpstr (names[0], ==, "0001-spool");
  g_assert_true (g_strv_contains ((const char *const *) names, "0002-tickets"));
  g_assert_true (g_strv_contains ((const char *const *) names, "0003-outbox"));

  /* WAL and synchronous=FULL: the durability contract. */
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (rd_store_get_path (store), &db), ==, SQLITE_OK);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &st, NULL);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (st, 0), ==, "wal");
  sqlite3_finalize (st);
  sqlite3_close (db);
}

/* Both backends have the same schema by migration name: a migration
 * added to store/sqlite/schema.c needs its twin in
 * store/postgres/schema.c (and its tables in store/copy.c), or the
 * PostgreSQL nodes lack what it made. 0650-0669 are PostgreSQL's own. */
static void
test_schema_backends_alike (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) missing = g_string_new (NULL);
  for (const RdStoreMigration *m = rd_sqlite_migrations; m->name; m++)
    {
      gboolean found = FALSE;
      for (const RdStoreMigration *p = rd_pg_migrations; p->name && !found; p++)
        found = g_str_equal (p->name, m->name);
      if (!found)
        g_string_append_printf (missing, " %s", m->name);
    }
  for (const RdStoreMigration *p = rd_pg_migrations; p->name; p++)
    if (!g_str_has_prefix (p->name, "065") && !g_str_has_prefix (p->name, "066"))
      {
        gboolean found = FALSE;
        for (const RdStoreMigration *m = rd_sqlite_migrations; m->name && !found; m++)
          found = g_str_equal (p->name, m->name);
        if (!found)
          g_string_append_printf (missing, " %s(PostgreSQL only)", p->name);
      }
  if (missing->len)
    g_test_message ("migrations without a twin in the other backend:%s", missing->str);
  g_assert_cmpstr (missing->str, ==, "");
}

static void
test_schema_reopen_idempotent (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint n1, n2;
  {
    g_autoptr(RdStore) s = rd_store_open (f->loc, &error);
    g_assert_no_error (error);
    g_auto(GStrv) names = rd_store_list_migrations (s, &error);
    n1 = g_strv_length (names);
  }
  {
    g_autoptr(RdStore) s = rd_store_open (f->loc, &error);
    g_assert_no_error (error);
    g_auto(GStrv) names = rd_store_list_migrations (s, &error);
    n2 = g_strv_length (names);
  }
  g_assert_cmpuint (n1, ==, n2);
}

static void
test_schema_migrate_partial (Fixture *f, gconstpointer data)
{
  SQLITE_ONLY ();
  /* A database that stopped after the first migration is brought up to
   * date, keeping its data. */
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "relaydesk.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
      "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL);"
      "CREATE TABLE spool (id INTEGER PRIMARY KEY, queue_id TEXT NOT NULL UNIQUE, received_at INTEGER NOT NULL,"
      " sender TEXT NOT NULL, client_addr TEXT, helo TEXT, protocol TEXT, message_id TEXT, size INTEGER NOT NULL,"
      " raw BLOB NOT NULL, state TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new','processed','discarded','quarantined')),"
      " state_reason TEXT, processed_at INTEGER);"
      "CREATE INDEX spool_pending ON spool(id) WHERE state = 'new';"
      "CREATE INDEX spool_message_id ON spool(message_id);"
      "CREATE TABLE spool_recipients (spool_id INTEGER NOT NULL REFERENCES spool(id) ON DELETE CASCADE,"
      " position INTEGER NOT NULL, address TEXT NOT NULL, PRIMARY KEY (spool_id, position)) WITHOUT ROWID;"
      "INSERT INTO schema_migrations VALUES ('0001-spool', 0);"
      "INSERT INTO spool (queue_id, received_at, sender, size, raw) VALUES ('OLD1', 1, 'a@b', 3, x'616263');",
      NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_autoptr(RdStore) store = rd_store_open (f->loc, &error);
  g_assert_no_error (error);
  g_auto(GStrv) names = rd_store_list_migrations (store, &error);
  g_assert_true (g_strv_contains ((const char *const *) names, "0002-tickets"));
  g_autoptr(GArray) pending = rd_store_spool_pending (store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pending->len, ==, 1);
  g_autoptr(RdSpooled) m = rd_store_spool_get (store, g_array_index (pending, gint64, 0), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m->queue_id, ==, "OLD1");
}

static void
test_open_existing_missing (Fixture *f, gconstpointer data)
{
  SQLITE_ONLY ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sub = g_build_filename (f->dir, "nope", NULL);
  g_autoptr(RdStore) store = rd_store_open_existing (sub, &error);
  g_assert_null (store);
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_assert_false (g_file_test (sub, G_FILE_TEST_EXISTS));
}

static void
test_spool_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdStore) store = rd_store_open (f->loc, &error);
  g_assert_no_error (error);
  const char *raw = "From: a@example.com\r\nMessage-ID:\r\n <abc@x.example>\r\nSubject: s\r\n\r\nbody\x01\xff\r\n";
  g_autoptr(RdSpoolItem) a = make_item ("a@example.com", "support@example.org", raw);
  g_ptr_array_add (a->recipients, g_strdup ("sales@example.org"));
  g_autoptr(RdSpoolItem) b = make_item ("", "support@example.org", "Subject: bounce\r\n\r\nx\r\n");
  RdSpoolItem *items[] = { a, b };
  g_assert_true (rd_store_spool_put (store, items, 2, &error));
  g_assert_no_error (error);
  g_assert_nonnull (a->queue_id);
  g_assert_cmpstr (a->queue_id, !=, b->queue_id);
  g_assert_cmpint (a->spool_id, >, 0);

  g_autoptr(RdSpooled) m = rd_store_spool_get (store, a->spool_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m->queue_id, ==, a->queue_id);
  g_assert_cmpstr (m->sender, ==, "a@example.com");
  g_assert_cmpuint (m->recipients->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (m->recipients, 1), ==, "sales@example.org");
  g_assert_cmpstr (m->message_id, ==, "abc@x.example"); /* folded header unfolded */
  g_assert_cmpint (m->state, ==, RD_SPOOL_NEW);
  gsize len;
  const char *back = g_bytes_get_data (m->raw, &len);
  g_assert_cmpmem (back, len, raw, strlen (raw)); /* byte for byte */

  g_autoptr(RdSpooled) n = rd_store_spool_get (store, b->spool_id, &error);
  g_assert_cmpstr (n->sender, ==, "");

  /* Find by Message-ID, brackets optional. */
  g_autoptr(RdSpooled) byid = rd_store_spool_find_by_message_id (store, "<abc@x.example>", &error);
  g_assert_no_error (error);
  g_assert_cmpint (byid->id, ==, a->spool_id);
  g_autoptr(RdSpooled) byid2 = rd_store_spool_find_by_message_id (store, "abc@x.example", &error);
  g_assert_cmpint (byid2->id, ==, a->spool_id);
  g_autoptr(RdSpooled) none = rd_store_spool_find_by_message_id (store, "<other@x>", &error);
  g_assert_null (none);
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_autoptr(GArray) pending = rd_store_spool_pending (store, 10, &error);
  g_assert_cmpuint (pending->len, ==, 2);
  g_assert_true (rd_store_spool_set_state (store, b->spool_id, RD_SPOOL_QUARANTINED, "parse: broken", &error));
  g_autoptr(GArray) pending2 = rd_store_spool_pending (store, 10, &error);
  g_assert_cmpuint (pending2->len, ==, 1);
  g_autoptr(RdSpooled) q = rd_store_spool_get (store, b->spool_id, &error);
  g_assert_cmpint (q->state, ==, RD_SPOOL_QUARANTINED);
  g_assert_cmpstr (q->state_reason, ==, "parse: broken");
  gint64 counts[RD_SPOOL_STATE_N];
  g_assert_true (rd_store_spool_counts (store, counts, &error));
  g_assert_cmpint (counts[RD_SPOOL_NEW], ==, 1);
  g_assert_cmpint (counts[RD_SPOOL_QUARANTINED], ==, 1);
}

/* Processing claims: with PostgreSQL a lease that keeps other nodes off
 * until it runs out (then they take the messages over); with SQLite (one
 * writer) the pending list. */
static void
test_spool_claim_lease (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdStore) a = rd_store_open (f->loc, &error);
  g_assert_no_error (error);
  g_autoptr(RdStore) b = rd_store_open (f->loc, &error);
  g_assert_no_error (error);
  g_autoptr(RdSpoolItem) i1 = make_item ("a@x", "s@y", "Subject: 1\r\n\r\n1\r\n");
  g_autoptr(RdSpoolItem) i2 = make_item ("a@x", "s@y", "Subject: 2\r\n\r\n2\r\n");
  g_autoptr(RdSpoolItem) i3 = make_item ("a@x", "s@y", "Subject: 3\r\n\r\n3\r\n");
  RdSpoolItem *items[] = { i1, i2, i3 };
  g_assert_true (rd_store_spool_put (a, items, 3, &error));
  rd_store_set_lease (a, 1);
  g_autoptr(GArray) mine = rd_store_spool_claim (a, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mine->len, ==, 2);
  g_assert_cmpint (g_array_index (mine, gint64, 0), ==, i1->spool_id);   /* oldest first */
  g_assert_cmpint (g_array_index (mine, gint64, 1), ==, i2->spool_id);
  g_autoptr(GArray) other = rd_store_spool_claim (b, 10, &error);
  g_assert_no_error (error);
  if (!rd_test_store_is_pg ())
    {
      g_assert_cmpuint (other->len, ==, 3);
      return;
    }
  g_assert_cmpuint (other->len, ==, 1);
  g_assert_cmpint (g_array_index (other, gint64, 0), ==, i3->spool_id);
  g_autoptr(GArray) none = rd_store_spool_claim (b, 10, &error);
  g_assert_cmpuint (none->len, ==, 0);
  /* a "dies": its lease runs out and b takes its messages over. */
  g_usleep (2100 * 1000);
  g_autoptr(GArray) taken = rd_store_spool_claim (b, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (taken->len, ==, 2);
  g_assert_cmpint (g_array_index (taken, gint64, 0), ==, i1->spool_id);
  /* What one node records, the other reads. */
  g_assert_true (rd_store_spool_set_state (b, i1->spool_id, RD_SPOOL_PROCESSED, NULL, &error));
  g_autoptr(RdSpooled) seen = rd_store_spool_get (a, i1->spool_id, &error);
  g_assert_cmpint (seen->state, ==, RD_SPOOL_PROCESSED);
}

static void
test_spool_put_atomic (Fixture *f, gconstpointer data)
{
  SQLITE_ONLY ();
  /* A batch that fails part-way stores nothing. */
  g_autoptr(GError) error = NULL;
  g_autoptr(RdStore) store = rd_store_open (f->loc, &error);
  g_autoptr(RdSpoolItem) a = make_item ("a@x", "b@y", "Subject: 1\r\n\r\n1\r\n");
  g_autoptr(RdSpoolItem) b = make_item ("refuse@x", "b@y", "Subject: 2\r\n\r\n2\r\n");
  /* Make the second insert fail: a trigger refusing its sender. */
  sqlite3 *db = NULL;
  sqlite3_open (rd_store_get_path (store), &db);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TRIGGER no2 BEFORE INSERT ON spool WHEN NEW.sender = 'refuse@x'"
                                     " BEGIN SELECT RAISE(ABORT, 'refused'); END;", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  RdSpoolItem *items[] = { a, b };
  g_assert_false (rd_store_spool_put (store, items, 2, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  gint64 counts[RD_SPOOL_STATE_N];
  g_assert_true (rd_store_spool_counts (store, counts, &error));
  g_assert_cmpint (counts[RD_SPOOL_NEW], ==, 0);
}

static void
test_tickets (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdStore) store = rd_store_open (f->loc, &error);
  g_autoptr(RdSpoolItem) a = make_item ("alice@example.com", "support@example.org", "Subject: hi\r\n\r\nx\r\n");
  g_autoptr(RdSpoolItem) b = make_item ("bob@example.com", "support@example.org", "Subject: yo\r\n\r\ny\r\n");
  RdSpoolItem *items[] = { a, b };
  g_assert_true (rd_store_spool_put (store, items, 2, &error));

  RdTicketDraft d1 = { .queue = "inbox", .subject = "Invoice wrong", .requester_name = "Alice",
                       .requester_addr = "alice@example.com" };
  RdMessageDraft m1 = { .direction = RD_MESSAGE_INBOUND, .spool_id = a->spool_id, .message_id = "m1@example.com",
                        .from_name = "Alice", .from_addr = "alice@example.com", .subject = "Invoice wrong",
                        .body_text = "Hello" };
  gint64 n1 = 0, n1again = 0, n2 = 0;
  g_assert_true (rd_store_ticket_open (store, &d1, &m1, &n1, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (n1, ==, 1);
  /* Idempotent per spooled message. */
  g_assert_true (rd_store_ticket_open (store, &d1, &m1, &n1again, NULL, &error));
  g_assert_cmpint (n1again, ==, n1);
  RdTicketDraft d2 = { .queue = "billing", .subject = "Refund", .requester_addr = "bob@example.com" };
  RdMessageDraft m2 = { .direction = RD_MESSAGE_INBOUND, .spool_id = b->spool_id, .from_addr = "bob@example.com",
                        .subject = "Refund", .body_text = "Money back" };
  g_assert_true (rd_store_ticket_open (store, &d2, &m2, &n2, NULL, &error));
  g_assert_cmpint (n2, ==, 2);

  g_autoptr(GArray) pending = rd_store_spool_pending (store, 10, &error);
  g_assert_cmpuint (pending->len, ==, 0); /* both marked processed */

  RdTicketQuery none = { 0 };
  g_autoptr(GPtrArray) all = rd_store_tickets_query (store, &none, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  RdTicket *first = g_ptr_array_index (all, 0);
  g_assert_cmpint (first->number, ==, 2); /* newest first */
  g_assert_cmpstr (first->queue, ==, "billing");
  g_assert_cmpint (first->status, ==, RD_TICKET_STATUS_NEW);
  g_assert_cmpuint (first->message_count, ==, 1);

  RdTicketQuery inbox = { .queue = "inbox" };
  g_autoptr(GPtrArray) only = rd_store_tickets_query (store, &inbox, &error);
  g_assert_cmpuint (only->len, ==, 1);
  g_assert_cmpstr (((RdTicket *) g_ptr_array_index (only, 0))->subject, ==, "Invoice wrong");
  RdTicketQuery page = { .limit = 1, .offset = 1 };
  g_autoptr(GPtrArray) p2 = rd_store_tickets_query (store, &page, &error);
  g_assert_cmpuint (p2->len, ==, 1);
  g_assert_cmpint (((RdTicket *) g_ptr_array_index (p2, 0))->number, ==, 1);

  RdMessageDraft fu = { .direction = RD_MESSAGE_INBOUND, .from_addr = "alice@example.com",
                        .subject = "Re: Invoice wrong", .body_text = "Any news?" };
  g_assert_true (rd_store_ticket_add_message (store, n1, &fu, NULL, &error));
  g_autoptr(RdTicket) t = rd_store_ticket_get (store, n1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (t->requester_name, ==, "Alice");
  g_assert_cmpuint (t->messages->len, ==, 2);
  RdTicketMessage *m0 = g_ptr_array_index (t->messages, 0);
  g_assert_cmpint (m0->direction, ==, RD_MESSAGE_INBOUND);
  g_assert_cmpstr (m0->message_id, ==, "m1@example.com");
  g_assert_cmpstr (m0->body_text, ==, "Hello");
  g_assert_cmpstr (((RdTicketMessage *) g_ptr_array_index (t->messages, 1))->body_text, ==, "Any news?");

  g_autoptr(RdTicket) missing = rd_store_ticket_get (store, 99, &error);
  g_assert_null (missing);
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
}

static void
test_outbox_and_suppression (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdStore) store = rd_store_open (f->loc, &error);
  const char *rcpts[] = { "alice@example.com", NULL };
  g_autoptr(GBytes) raw = g_bytes_new_static ("Subject: re\r\n\r\nok\r\n", 19);
  RdOutboxDraft d = { .kind = RD_OUTBOX_AUTOREPLY, .sender = "", .recipients = rcpts,
                      .message_id = "x@relaydesk", .raw = raw };
  gint64 id = 0;
  g_assert_true (rd_store_outbox_enqueue (store, &d, &id, &error));
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);

  /* Inside a transaction the enqueue joins it: a rollback undoes it. */
  RdStoreTx tx = RD_STORE_TX_INIT;
  g_assert_true (rd_store_tx_begin (store, &tx, &error));
  gint64 id2 = 0;
  g_assert_true (rd_store_outbox_enqueue (store, &d, &id2, &error));
  rd_store_tx_rollback (&tx);
  gint64 id3 = 0;
  g_assert_true (rd_store_outbox_enqueue (store, &d, &id3, &error));
  /* The rolled-back row id is free again (SQLite); PostgreSQL's sequence
   * does not go back, the row is gone all the same. */
  if (rd_test_store_is_pg ())
    {
      g_assert_cmpint (id3, >, id2);
      g_autoptr(RdOutboxItem) gone = rd_store_outbox_get (store, id2, &error);
      g_assert_null (gone);
      g_clear_error (&error);
    }
  else
    g_assert_cmpint (id3, ==, id2);

  gboolean found = TRUE;
  g_assert_true (rd_store_suppression_check (store, "Bob@Example.com", &found, NULL, &error));
  g_assert_false (found);
  g_assert_true (rd_store_suppression_add (store, "bob@example.com", "5.1.1 user unknown", &error));
  g_autofree char *why = NULL;
  g_assert_true (rd_store_suppression_check (store, "Bob@Example.COM", &found, &why, &error));
  g_assert_true (found);
  g_assert_cmpstr (why, ==, "5.1.1 user unknown");
}

typedef struct {
  GMainLoop *loop;
  guint done;
  guint want;
  GPtrArray *ids;
} WriterState;

static void
writer_done (RdSpoolItem *item, const GError *error, gpointer data)
{
  WriterState *ws = data;
  g_assert_no_error ((GError *) error);
  g_assert_nonnull (item->queue_id);
  g_ptr_array_add (ws->ids, g_strdup (item->queue_id));
  rd_spool_item_free (item);
  if (++ws->done == ws->want)
    g_main_loop_quit (ws->loop);
}

static void
test_spool_writer_group_commit (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdSpoolWriter) w = rd_spool_writer_new (f->loc, 64, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  WriterState ws = { loop, 0, 200, g_ptr_array_new_with_free_func (g_free) };
  for (guint i = 0; i < ws.want; i++)
    {
      g_autofree char *raw = g_strdup_printf ("Subject: %u\r\n\r\nbody %u\r\n", i, i);
      rd_spool_writer_submit (w, make_item ("a@x", "b@y", raw), writer_done, &ws);
    }
  g_main_loop_run (loop);
  g_assert_cmpuint (ws.done, ==, ws.want);
  guint64 commits = 0, items = 0;
  rd_spool_writer_get_stats (w, &commits, &items);
  g_assert_cmpuint (items, ==, ws.want);
  /* Submitted all at once: they must share commits. */
  g_assert_cmpuint (commits, <, ws.want);
  g_test_message ("200 messages in %" G_GUINT64_FORMAT " commits", commits);
  g_autoptr(RdStore) store = rd_store_open (f->loc, &error);
  gint64 counts[RD_SPOOL_STATE_N];
  g_assert_true (rd_store_spool_counts (store, counts, &error));
  g_assert_cmpint (counts[RD_SPOOL_NEW], ==, 200);
  g_ptr_array_unref (ws.ids);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
#define ADD(name, fn) g_test_add ("/store/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("schema/fresh", test_schema_fresh);
  ADD ("schema/reopen-idempotent", test_schema_reopen_idempotent);
  ADD ("schema/backends-alike", test_schema_backends_alike);
  ADD ("schema/migrate-partial", test_schema_migrate_partial);
  ADD ("open-existing/missing", test_open_existing_missing);
  ADD ("spool/roundtrip", test_spool_roundtrip);
  ADD ("spool/put-atomic", test_spool_put_atomic);
  ADD ("spool/claim-lease", test_spool_claim_lease);
  ADD ("tickets/open-list-get", test_tickets);
  ADD ("outbox/enqueue-and-suppression", test_outbox_and_suppression);
  ADD ("spool-writer/group-commit", test_spool_writer_group_commit);
  return g_test_run ();
}
