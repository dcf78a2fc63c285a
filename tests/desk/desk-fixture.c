/* A desk on a real temporary store (see desk-fixture.h). */
#include "desk-fixture.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include "../pg/store-location.h"
#include <string.h>
#include <unistd.h>

static const char base_conf[] =
  "[relaydesk]\n"
  "hostname = desk.test\n"
  "[desk]\n"
  "reply_address = support@desk.test\n"
  "own_addresses = billing@desk.test\n"
  "queues = billing\n"
  /* Threading logic under test, not sender authentication (test_threading
   * checks the rule that needs DMARC). */
  "subject_tag_auth = any\n"
  "[queue.billing]\n"
  "reply_address = billing@desk.test\n"
  "from_name = Billing\n";

/* Every key of the key-file @text, through rd_config_set_string(). */
static void
apply_conf (RdConfig *config, const char *text)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_assert_true (g_key_file_load_from_data (kf, text, -1, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  g_auto(GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (guint g = 0; groups[g]; g++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (kf, groups[g], NULL, NULL);
      for (guint k = 0; keys[k]; k++)
        {
          g_autofree char *v = g_key_file_get_value (kf, groups[g], keys[k], NULL);
          rd_config_set_string (config, groups[g], keys[k], v);
        }
    }
}

void
desk_fixture_setup (DeskFixture *f, gconstpointer data)
{
  const DeskSetup *s = data;
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("rd-desk-XXXXXX", &error);
  g_assert_no_error (error);
  f->config = rd_config_new_default ();
  rd_config_set_string (f->config, "relaydesk", "data_dir", f->dir);
  apply_conf (f->config, base_conf);
  if (s && s->conf)
    apply_conf (f->config, s->conf);
  if (s && s->script)
    {
      g_autofree char *path = g_build_filename (f->dir, "default.sieve", NULL);
      g_assert_true (g_file_set_contents (path, s->script, -1, NULL));
      rd_config_set_string (f->config, "rules", "script_dir", f->dir);
      rd_config_set_string (f->config, "rules", "default", path);
    }
  g_assert_true (rd_config_check_errors (f->config, &error));
  g_assert_no_error (error);
  g_autofree char *loc = rd_test_store_location (f->dir);
  rd_config_set_string (f->config, "store", "url", rd_test_store_is_pg () ? loc : "");
  f->store = rd_store_open (loc, &error);
  g_assert_no_error (error);
  f->desk = rd_desk_new (f->config, f->store, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->desk);
  f->ids = rd_ticket_ids_new (f->config, f->store, &error);
  g_assert_no_error (error);
}

void
desk_fixture_teardown (DeskFixture *f, gconstpointer data)
{
  rd_ticket_ids_free (f->ids);
  rd_desk_free (f->desk);
  rd_store_free (f->store);
  rd_config_free (f->config);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->dir);
}

GBytes *
desk_mail (const char *text)
{
  GString *s = g_string_new (NULL);
  for (const char *p = text; *p; p++)
    {
      if (*p == '\n' && (p == text || p[-1] != '\r'))
        g_string_append_c (s, '\r');
      g_string_append_c (s, *p);
    }
  return g_string_free_to_bytes (s);
}

GBytes *
desk_mail_simple (const char *from, const char *to, const char *subject, const char *message_id,
                  const char *extra, const char *body)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_string_append_printf (s, "From: %s\nTo: %s\nSubject: %s\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n", from, to,
                          subject);
  if (message_id)
    g_string_append_printf (s, "Message-ID: <%s>\n", message_id);
  if (extra)
    g_string_append_printf (s, "%s\n", extra);
  g_string_append_printf (s, "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s\n", body);
  return desk_mail (s->str);
}

gint64
desk_spool (DeskFixture *f, const char *sender, const char *rcpt, GBytes *raw)
{
  g_autoptr(RdSpoolItem) it = rd_spool_item_new ();
  it->sender = g_strdup (sender);
  g_ptr_array_add (it->recipients, g_strdup (rcpt));
  it->protocol = g_strdup ("ESMTP");
  it->raw = g_bytes_ref (raw);
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_spool_put (f->store, &it, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (it->spool_id, >, 0);
  return it->spool_id;
}

gint64
desk_deliver (DeskFixture *f, const char *sender, const char *rcpt, GBytes *raw, gint64 *spool_id)
{
  gint64 id = desk_spool (f, sender, rcpt, raw);
  if (spool_id)
    *spool_id = id;
  g_autoptr(GError) error = NULL;
  gint64 number = -1;
  g_assert_true (rd_desk_process (f->desk, id, &number, &error));
  g_assert_no_error (error);
  g_assert_cmpint (number, >=, 0);
  return number;
}

gint64
desk_new_ticket (DeskFixture *f, const char *from, const char *cc, const char *subject, const char *message_id)
{
  g_autofree char *extra = cc ? g_strdup_printf ("Cc: %s", cc) : NULL;
  g_autoptr(GBytes) raw = desk_mail_simple (from, "support@desk.test", subject, message_id, extra,
                                            "Hello,\nthe printer on floor 3 is broken.");
  /* The envelope sender: the addr-spec of "Name <addr>". */
  const char *lt = strchr (from, '<');
  g_autofree char *sender = lt ? g_strndup (lt + 1, strcspn (lt + 1, ">")) : g_strdup (from);
  guint before = desk_ticket_count (f);
  gint64 n = desk_deliver (f, sender, "support@desk.test", raw, NULL);
  g_assert_cmpint (n, >, 0);
  g_assert_cmpuint (desk_ticket_count (f), ==, before + 1);
  g_autoptr(RdTicket) t = desk_ticket (f, n);
  g_assert_cmpuint (t->message_count, ==, 1);
  return n;
}

void
desk_set_status (DeskFixture *f, gint64 number, const char *status)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_store_ticket_set (f->store, number, RD_TICKET_FIELD_STATUS, status, "agent1", &error));
  g_assert_no_error (error);
}

RdSpooled *
desk_spooled (DeskFixture *f, gint64 spool_id)
{
  g_autoptr(GError) error = NULL;
  RdSpooled *sp = rd_store_spool_get (f->store, spool_id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sp);
  return sp;
}

RdTicket *
desk_ticket (DeskFixture *f, gint64 number)
{
  g_autoptr(GError) error = NULL;
  RdTicket *t = rd_store_ticket_get (f->store, number, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t);
  return t;
}

guint
desk_ticket_count (DeskFixture *f)
{
  RdTicketQuery q = { .limit = RD_TICKET_QUERY_LIMIT_MAX };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = rd_store_tickets_query (f->store, &q, &error);
  g_assert_no_error (error);
  return all->len;
}

GPtrArray *
desk_outbox (DeskFixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = rd_store_outbox_list (f->store, FALSE, 0, 1000, &error);
  g_assert_no_error (error);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_outbox_item_free);
  /* Listed newest first; read back oldest first, with bodies. */
  for (guint i = list->len; i > 0; i--)
    {
      const RdOutboxItem *brief = g_ptr_array_index (list, i - 1);
      RdOutboxItem *item = rd_store_outbox_get (f->store, brief->id, &error);
      g_assert_no_error (error);
      g_ptr_array_add (out, item);
    }
  return out;
}

RdOutboxItem *
desk_outbox_only (DeskFixture *f)
{
  g_autoptr(GPtrArray) all = desk_outbox (f);
  g_assert_cmpuint (all->len, ==, 1);
  return g_ptr_array_steal_index (all, 0);
}

guint
desk_audit_count (DeskFixture *f, gint64 number, const char *actor, const char *action, const char *old_value,
                  const char *new_value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) audit = rd_store_ticket_audit_list (f->store, number, &error);
  g_assert_no_error (error);
  guint n = 0;
  for (guint i = 0; i < audit->len; i++)
    {
      const RdAuditEntry *e = g_ptr_array_index (audit, i);
      if ((actor == NULL || g_strcmp0 (e->actor, actor) == 0) && (action == NULL || g_strcmp0 (e->action, action) == 0)
          && (old_value == NULL || g_strcmp0 (e->old_value, old_value) == 0)
          && (new_value == NULL || g_strcmp0 (e->new_value, new_value) == 0))
        n++;
    }
  return n;
}

gint64
desk_sql_count (DeskFixture *f, const char *table)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s", table);
  if (rd_test_store_is_pg ())
    return rd_test_store_query_int (f->dir, sql);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (rd_store_get_path (f->store), &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  gint64 n = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  sqlite3_close (db);
  return n;
}

void
desk_reply_draft (DeskFixture *f, const RdReplyDraft *draft, RdReplyResult *result)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (rd_desk_reply (f->config, f->store, draft, result, &error));
  g_assert_no_error (error);
}

void
desk_reply (DeskFixture *f, gint64 number, const char *body, RdReplyResult *result)
{
  RdReplyDraft d = { .ticket_number = number, .body = body, .author = "agent1" };
  desk_reply_draft (f, &d, result);
}

RdMessage *
desk_outbox_message (DeskFixture *f, gint64 id, RdOutboxItem **item_out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdOutboxItem) item = rd_store_outbox_get (f->store, id, &error);
  g_assert_no_error (error);
  RdMessage *m = rd_message_parse (item->raw, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  if (item_out)
    *item_out = g_steal_pointer (&item);
  return m;
}

static int saved_stderr = -1;
static char *capture_path;

void
desk_log_capture_begin (void)
{
  g_assert_cmpint (saved_stderr, ==, -1);
  g_autoptr(GError) error = NULL;
  int fd = g_file_open_tmp ("rd-desk-log-XXXXXX", &capture_path, &error);
  g_assert_no_error (error);
  fflush (stderr);
  saved_stderr = dup (STDERR_FILENO);
  g_assert_cmpint (saved_stderr, >=, 0);
  g_assert_cmpint (dup2 (fd, STDERR_FILENO), ==, STDERR_FILENO);
  close (fd);
}

char *
desk_log_capture_end (void)
{
  fflush (stderr);
  g_assert_cmpint (dup2 (saved_stderr, STDERR_FILENO), ==, STDERR_FILENO);
  close (saved_stderr);
  saved_stderr = -1;
  char *text = NULL;
  g_assert_true (g_file_get_contents (capture_path, &text, NULL, NULL));
  g_unlink (capture_path);
  g_clear_pointer (&capture_path, g_free);
  /* Shown again, so a failing test still has its log. */
  fputs (text, stderr);
  return text;
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

char *
desk_strv_sorted (GPtrArray *strings)
{
  g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < strings->len; i++)
    g_ptr_array_add (v, g_ascii_strdown (g_ptr_array_index (strings, i), -1));
  g_ptr_array_sort (v, cmp_str);
  g_ptr_array_add (v, NULL);
  return g_strjoinv (",", (char **) v->pdata);
}

char *
desk_addr_list (GPtrArray *addresses)
{
  g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < addresses->len; i++)
    g_ptr_array_add (v, g_ascii_strdown (((const RdAddress *) g_ptr_array_index (addresses, i))->addr, -1));
  g_ptr_array_sort (v, cmp_str);
  g_ptr_array_add (v, NULL);
  return g_strjoinv (",", (char **) v->pdata);
}
