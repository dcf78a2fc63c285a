/* relaydesk — store: copying one store into another (`relaydesk store
 * copy --to postgresql://...`), e.g. the SQLite of one machine into the
 * PostgreSQL that several nodes will share (docs/scale-out.md).
 *
 * The source is read in one read transaction (a consistent snapshot;
 * SQLite writers go on meanwhile), the destination written in one
 * transaction, table by table in the order of their references, rows in
 * key order, ids kept (tickets keep their numbers). Then the
 * destination's sequences are moved past the copied ids, its search
 * index is built from the copied messages, and every table is read back
 * from the destination and compared with the source: the row count and a
 * SHA-256 of every row's values in key order (NULL, text as stored,
 * blobs as bytes) must be equal.
 *
 * The columns are those both schemas have (store/sqlite/schema.c,
 * store/postgres/schema.c); a table added to one schema must be added to
 * the other and to this list.
 */
#include "store-private.h"
#include "maintenance.h"

#include <string.h>

typedef struct {
  const char *table;
  const char *columns;     /* comma-separated */
  const char *order;
  guint blobs;             /* bit i: column i is a blob */
  gboolean replace;        /* the destination's migrations made rows: replace them */
  const char *identity;    /* the identity column whose sequence follows, or NULL */
} CopyTable;

static const CopyTable tables[] = {
  { "spool", "id, queue_id, received_at, sender, client_addr, helo, protocol, message_id, size, raw, state,"
             " state_reason, processed_at, auth_results", "id", 1u << 9, FALSE, "id" },
  { "spool_recipients", "spool_id, position, address", "spool_id, position", 0, FALSE, NULL },
  { "tickets", "number, queue, status, priority, assignee, subject, requester_name, requester_addr,"
               " created_at, updated_at", "number", 0, FALSE, "number" },
  { "outbox", "id, kind, ticket_number, sender, message_id, raw, state, attempts, last_error, relay_reply,"
              " created_at, next_attempt_at, sent_at, lifetime_from", "id", 1u << 5, FALSE, "id" },
  { "outbox_recipients", "outbox_id, position, address", "outbox_id, position", 0, FALSE, NULL },
  { "outbox_events", "id, outbox_id, at, event, detail", "id", 0, FALSE, "id" },
  { "messages", "id, ticket_number, spool_id, direction, message_id, from_name, from_addr, subject, body_text,"
                " created_at, body_hash, to_addrs, cc_addrs, author, outbox_id, delivery_status, delivery_code,"
                " delivery_detail, auth_spf, auth_dkim, auth_dmarc, auth_from_domain, auth_verified",
    "id", 0, FALSE, "id" },
  { "ticket_tags", "ticket_number, tag", "ticket_number, tag", 0, FALSE, NULL },
  { "ticket_participants", "ticket_number, addr, name", "ticket_number, addr", 0, FALSE, NULL },
  { "ticket_links", "ticket_number, other_number, reason, created_at", "ticket_number, other_number", 0, FALSE,
    NULL },
  { "ticket_audit", "id, ticket_number, at, actor, action, old_value, new_value", "id", 0, FALSE, "id" },
  { "attachment_blobs", "sha256, size, data", "sha256", 1u << 2, FALSE, NULL },
  { "message_attachments", "id, message_row, position, filename, content_type, sha256", "id", 0, FALSE, "id" },
  { "suppressions", "address, reason, created_at", "address", 0, FALSE, NULL },
  { "allowlist", "id, cidr, created_at, expires_at, staging, application, admin_name, admin_email, location, note",
    "id", 0, FALSE, "id" },
  /* After the allowlist: its triggers counted the copied rows. */
  { "allowlist_version", "id, version", "id", 0, TRUE, NULL },
  { "rules_responses", "inbox, sender, handle, sent_at", "inbox, sender, handle", 0, FALSE, NULL },
  { "rules_duplicates", "id, expires_at", "id", 0, FALSE, NULL },
  { "desk_secret", "id, secret, created_at", "id", 1u << 1, TRUE, NULL },
  /* The web desk (0600-0604). */
  { "agents", "id, email, name, role, password_hash, totp_secret, created_at, updated_at", "id", 0, FALSE, "id" },
  { "agent_queues", "agent_id, queue", "agent_id, queue", 0, FALSE, NULL },
  { "agent_sessions", "token_hash, agent_id, csrf, created_at, expires_at, client_addr", "token_hash", 0, FALSE,
    NULL },
  { "api_tokens", "id, agent_id, label, token_hash, created_at, last_used_at, revoked_at", "id", 0, FALSE, "id" },
  { "admin_audit", "id, at, actor, action, target, detail", "id", 0, FALSE, "id" },
  { "drafts", "agent_id, ticket_number, body, updated_at", "agent_id, ticket_number", 0, FALSE, NULL },
  { "saved_views", "id, agent_id, name, filters, created_at", "id", 0, FALSE, "id" },
  { "uploads", "id, agent_id, filename, content_type, sha256, created_at", "id", 0, FALSE, "id" },
  { "rule_versions", "id, script, body, saved_at, saved_by", "id", 0, FALSE, "id" },
  /* Kept by triggers as the tickets were copied; then the source's. */
  { "queue_counts", "queue, status, n", "queue, status", 0, TRUE, NULL },
  { "relay_settings", "key, value", "key", 0, TRUE, NULL },
};

static guint
n_columns (const char *columns)
{
  guint n = 1;
  for (const char *p = columns; *p; p++)
    n += *p == ',';
  return n;
}

static char *
select_sql (const CopyTable *t)
{
  return g_strdup_printf ("SELECT %s FROM %s ORDER BY %s", t->columns, t->table, t->order);
}

/* Hashes the row @st is on into @sum. */
static void
hash_row (GChecksum *sum, RdDbStmt *st, const CopyTable *t, guint n)
{
  for (guint c = 0; c < n; c++)
    {
      if (rd_db_col_is_null (st, (int) c))
        g_checksum_update (sum, (const guchar *) "\0N", 2);
      else if (t->blobs & (1u << c))
        {
          gsize len = 0;
          const void *p = rd_db_col_blob (st, (int) c, &len);
          g_checksum_update (sum, p, len);
        }
      else
        {
          const char *s = rd_db_col_text (st, (int) c);
          g_checksum_update (sum, (const guchar *) s, strlen (s));
        }
      g_checksum_update (sum, (const guchar *) "\x1f", 1);
    }
  g_checksum_update (sum, (const guchar *) "\x1e", 1);
}

/* Reads table @t of @store: its row count and hash; with @dst, also
 * inserts every row there. */
static gboolean
walk_table (RdStore *store, const CopyTable *t, RdStore *dst, gint64 *rows, char **hash, GError **error)
{
  guint n = n_columns (t->columns);
  g_autofree char *sql = select_sql (t);
  g_autoptr(RdDbStmt) st = rd_store_prepare (store, sql, error);
  if (st == NULL)
    {
      g_prefix_error (error, "read %s: ", t->table);
      return FALSE;
    }
  g_autoptr(RdDbStmt) ins = NULL;
  if (dst)
    {
      g_autoptr(GString) isql = g_string_new (NULL);
      g_string_printf (isql, "INSERT INTO %s (%s) VALUES (", t->table, t->columns);
      for (guint c = 0; c < n; c++)
        g_string_append_printf (isql, "%s$%u", c ? "," : "", c + 1);
      g_string_append_c (isql, ')');
      ins = rd_store_prepare (dst, isql->str, error);
      if (ins == NULL)
        {
          g_prefix_error (error, "write %s: ", t->table);
          return FALSE;
        }
    }
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gint64 count = 0;
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      hash_row (sum, st, t, n);
      count++;
      if (ins == NULL)
        continue;
      rd_db_reset (ins);
      for (guint c = 0; c < n; c++)
        {
          if (rd_db_col_is_null (st, (int) c))
            rd_db_bind_null (ins, (int) c + 1);
          else if (t->blobs & (1u << c))
            {
              gsize len = 0;
              const void *p = rd_db_col_blob (st, (int) c, &len);
              rd_db_bind_blob (ins, (int) c + 1, p, len);
            }
          else
            rd_db_bind_text (ins, (int) c + 1, rd_db_col_text (st, (int) c));
        }
      g_autofree char *what = g_strdup_printf ("write %s", t->table);
      if (!rd_store_step_done (dst, ins, what, error))
        return FALSE;
    }
  if (!rd_store_rows_done (store, st, rc, t->table, error))
    return FALSE;
  *rows = count;
  *hash = g_strdup (g_checksum_get_string (sum));
  return TRUE;
}

static gboolean
dest_is_empty (RdStore *dst, GError **error)
{
  const char *const checked[] = { "spool", "tickets", "outbox", "allowlist" };
  for (guint i = 0; i < G_N_ELEMENTS (checked); i++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s", checked[i]);
      g_autoptr(RdDbStmt) st = rd_store_prepare (dst, sql, error);
      gint64 n = 0;
      if (st == NULL || !rd_store_step_int (dst, st, checked[i], &n, error))
        return FALSE;
      if (n > 0)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_CONFLICT,
                       "%s is not empty (table %s has %" G_GINT64_FORMAT " rows): copy only into an empty store",
                       rd_store_get_path (dst), checked[i], n);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
rd_store_copy (RdStore *src, RdStore *dst, GPtrArray *report, GError **error)
{
  if (rd_store_dialect (dst) != RD_SQL_POSTGRES)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                   "copy writes into PostgreSQL (--to postgresql://...); %s is %s", rd_store_get_path (dst),
                   rd_store_get_backend (dst));
      return FALSE;
    }
  if (!dest_is_empty (dst, error))
    return FALSE;
  /* One snapshot of the source (SQLite: a deferred BEGIN is a read
   * transaction; PostgreSQL: repeatable read), kept through the check. */
  const char *begin_read = rd_store_dialect (src) == RD_SQL_POSTGRES
                         ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
  if (!rd_store_exec (src, begin_read, error))
    return FALSE;
  gint64 rows[G_N_ELEMENTS (tables)];
  g_auto(GStrv) hashes = g_new0 (char *, G_N_ELEMENTS (tables) + 1);
  gboolean ok = TRUE;
  {
    g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
    ok = rd_store_tx_begin (dst, &tx, error);
    for (guint i = 0; ok && i < G_N_ELEMENTS (tables); i++)
      {
        const CopyTable *t = &tables[i];
        if (t->replace)
          {
            g_autofree char *del = g_strdup_printf ("DELETE FROM %s", t->table);
            ok = rd_store_exec (dst, del, error);
          }
        ok = ok && walk_table (src, t, dst, &rows[i], &hashes[i], error);
        if (ok && t->identity)
          {
            g_autofree char *sql = g_strdup_printf (
                "SELECT setval(pg_get_serial_sequence('%s', '%s'), coalesce(max(%s), 0) + 1, false) FROM %s",
                t->table, t->identity, t->identity, t->table);
            ok = rd_store_exec (dst, sql, error);
          }
      }
    /* The search index, from the copied messages (FTS5's contentless
     * index cannot be read back). */
    ok = ok && rd_store_exec (dst, rd_sql_text (RD_SQL_FTS_REBUILD, RD_SQL_POSTGRES), error);
    ok = ok && rd_store_tx_commit (&tx, error);
  }
  /* The check: every table read back equals the source. */
  for (guint i = 0; ok && i < G_N_ELEMENTS (tables); i++)
    {
      gint64 n = 0;
      g_autofree char *h = NULL;
      ok = walk_table (dst, &tables[i], NULL, &n, &h, error);
      if (!ok)
        break;
      if (n != rows[i] || g_strcmp0 (h, hashes[i]) != 0)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_FAILED,
                       "the copy of %s differs: %" G_GINT64_FORMAT " rows (sha256 %.16s) copied from %"
                       G_GINT64_FORMAT " rows (sha256 %.16s)", tables[i].table, n, h, rows[i], hashes[i]);
          ok = FALSE;
          break;
        }
      g_ptr_array_add (report, g_strdup_printf ("%-20s %8" G_GINT64_FORMAT " rows  sha256 %s", tables[i].table,
                                                n, h));
    }
  rd_store_exec (src, "ROLLBACK", NULL);
  return ok;
}
