/* relaydesk — store: the ticket model (see tickets.h for the tables). */
#include "store-private.h"
#include "tickets.h"

#include <string.h>
#include <sys/random.h>

#define SECRET_LEN 32
#define QUERY_LIMIT_MAX 1000
#define SEARCH_QUERY_MAX 512
#define SEARCH_WORDS_MAX 16

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

GBytes *
rd_store_desk_secret (RdStore *store, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store, "SELECT secret FROM desk_secret WHERE id = 1", error);
  if (st == NULL)
    return NULL;
  if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_bytes (st, 0) == SECRET_LEN)
    {
      GBytes *b = g_bytes_new (sqlite3_column_blob (st, 0), SECRET_LEN);
      sqlite3_reset (st);
      return b;
    }
  sqlite3_reset (st);
  guint8 buf[SECRET_LEN];
  if (getrandom (buf, sizeof buf, 0) != (ssize_t) sizeof buf)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_TEMPORARY, "no random bytes for the installation secret");
      return NULL;
    }
  /* INSERT OR IGNORE: when two processes race on first start, the first
   * secret wins and both read it back. */
  st = rd_store_stmt (store,
      "INSERT OR IGNORE INTO desk_secret (id, secret, created_at) VALUES (1, ?, ?)", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_blob (st, 1, buf, sizeof buf, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 2, now_s ());
  memset (buf, 0, sizeof buf);
  if (!rd_store_step_done (store, st, "create installation secret", error))
    return NULL;
  st = rd_store_stmt (store, "SELECT secret FROM desk_secret WHERE id = 1", error);
  if (st == NULL)
    return NULL;
  GBytes *b = NULL;
  if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_bytes (st, 0) == SECRET_LEN)
    b = g_bytes_new (sqlite3_column_blob (st, 0), SECRET_LEN);
  sqlite3_reset (st);
  if (b == NULL)
    g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "installation secret unreadable");
  return b;
}

static GStrv
ticket_tags (RdStore *store, gint64 number, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT tag FROM ticket_tags WHERE ticket_number = ? ORDER BY tag", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, number);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_strv_builder_add (b, (const char *) sqlite3_column_text (st, 0));
  if (!rd_store_rows_done (store, st, rc, "read tags", error))
    return NULL;
  return g_strv_builder_end (b);
}

gboolean
rd_store_ticket_fill_model (RdStore *store, RdTicket *t, gboolean full, GError **error)
{
  g_strfreev (t->tags);
  t->tags = ticket_tags (store, t->number, error);
  if (t->tags == NULL)
    return FALSE;
  if (!full)
    return TRUE;
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT addr, name FROM ticket_participants WHERE ticket_number = ? ORDER BY addr", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, t->number);
  if (t->participants)
    g_ptr_array_unref (t->participants);
  t->participants = g_ptr_array_new_with_free_func (g_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (t->participants, g_strdup ((const char *) sqlite3_column_text (st, 0)));
  if (!rd_store_rows_done (store, st, rc, "read participants", error))
    return FALSE;
  st = rd_store_stmt (store,
      "SELECT other_number FROM ticket_links WHERE ticket_number = ?1"
      " UNION SELECT ticket_number FROM ticket_links WHERE other_number = ?1 ORDER BY 1", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, t->number);
  if (t->links)
    g_array_unref (t->links);
  t->links = g_array_new (FALSE, FALSE, sizeof (gint64));
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      gint64 n = sqlite3_column_int64 (st, 0);
      g_array_append_val (t->links, n);
    }
  if (!rd_store_rows_done (store, st, rc, "read links", error))
    return FALSE;
  return TRUE;
}

RdTicket *
rd_store_ticket_peek (RdStore *store, gint64 number, GError **error)
{
  return rd_store_ticket_read (store, number, FALSE, error);
}

RdTicket *
rd_store_ticket_read (RdStore *store, gint64 number, gboolean full, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT " RD_TICKET_COLUMNS " FROM tickets t WHERE t.number = ?", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, number);
  if (!rd_store_step_row (store, st, "read ticket", error, "no ticket #%" G_GINT64_FORMAT, number))
    return NULL;
  g_autoptr(RdTicket) t = rd_store_ticket_from_row (st);
  sqlite3_reset (st);
  if (!rd_store_ticket_fill_model (store, t, full, error))
    return NULL;
  return g_steal_pointer (&t);
}

/* ---- participants, links, audit ------------------------------------ */

gboolean
rd_store_ticket_add_participant (RdStore *store, gint64 number, const char *addr, const char *name,
                                 GError **error)
{
  if (addr == NULL || *addr == '\0')
    return TRUE;
  /* A cap on what grows: a thread Cc'ing the world stops adding. */
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT OR IGNORE INTO ticket_participants (ticket_number, addr, name)"
      " SELECT ?1, lower(?2), ?3 WHERE (SELECT count(*) FROM ticket_participants"
      "  WHERE ticket_number = ?1) < ?4", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, number);
  sqlite3_bind_text (st, 2, addr, -1, SQLITE_STATIC);
  rd_store_bind_text (st, 3, name && *name ? name : NULL);
  sqlite3_bind_int (st, 4, RD_TICKET_PARTICIPANTS_MAX);
  return rd_store_step_done (store, st, "add participant", error);
}

gboolean
rd_store_ticket_is_participant (RdStore *store, gint64 number, const char *addr, gboolean *found,
                                GError **error)
{
  *found = FALSE;
  if (addr == NULL || *addr == '\0')
    return TRUE;
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT 1 FROM ticket_participants WHERE ticket_number = ? AND addr = lower(?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, number);
  sqlite3_bind_text (st, 2, addr, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  sqlite3_reset (st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      rd_store_set_error (store, rc, error, "check participant");
      return FALSE;
    }
  *found = rc == SQLITE_ROW;
  return TRUE;
}

gboolean
rd_store_ticket_link (RdStore *store, gint64 number, gint64 other, const char *reason, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT OR IGNORE INTO ticket_links (ticket_number, other_number, reason, created_at)"
      " VALUES (?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, number);
  sqlite3_bind_int64 (st, 2, other);
  sqlite3_bind_text (st, 3, reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 4, now_s ());
  return rd_store_step_done (store, st, "link tickets", error);
}

gboolean
rd_store_ticket_audit (RdStore *store, gint64 number, const char *actor, const char *action,
                       const char *old_value, const char *new_value, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT INTO ticket_audit (ticket_number, at, actor, action, old_value, new_value)"
      " VALUES (?,?,?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, number);
  sqlite3_bind_int64 (st, 2, now_s ());
  sqlite3_bind_text (st, 3, actor ? actor : "system", -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 4, action, -1, SQLITE_STATIC);
  rd_store_bind_text (st, 5, old_value);
  rd_store_bind_text (st, 6, new_value);
  return rd_store_step_done (store, st, "audit", error);
}

void
rd_audit_entry_free (RdAuditEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->actor);
  g_free (e->action);
  g_free (e->old_value);
  g_free (e->new_value);
  g_free (e);
}

GPtrArray *
rd_store_ticket_audit_list (RdStore *store, gint64 number, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT id, at, actor, action, old_value, new_value FROM ticket_audit"
      " WHERE ticket_number = ? ORDER BY id", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, number);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_audit_entry_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      RdAuditEntry *e = g_new0 (RdAuditEntry, 1);
      e->id = sqlite3_column_int64 (st, 0);
      e->at = sqlite3_column_int64 (st, 1);
      e->actor = rd_store_col_strdup (st, 2);
      e->action = rd_store_col_strdup (st, 3);
      e->old_value = rd_store_col_strdup (st, 4);
      e->new_value = rd_store_col_strdup (st, 5);
      g_ptr_array_add (out, e);
    }
  if (!rd_store_rows_done (store, st, rc, "read audit log", error))
    return NULL;
  return g_steal_pointer (&out);
}

/* ---- changes by agents ---------------------------------------------- */

static const char *const statuses[] = { "new", "open", "pending", "resolved", "closed", NULL };
static const char *const priorities[] = { "low", "normal", "high", "urgent", NULL };

gboolean
rd_store_ticket_set (RdStore *store, gint64 number, RdTicketField field, const char *value,
                     const char *actor, GError **error)
{
  const char *sel = NULL, *upd = NULL, *name = NULL;
  switch (field)
    {
    case RD_TICKET_FIELD_STATUS:
      if (value == NULL || !g_strv_contains (statuses, value))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                       "bad status '%s' (new, open, pending, resolved, closed)", value ? value : "");
          return FALSE;
        }
      sel = "SELECT status FROM tickets WHERE number = ?";
      upd = "UPDATE tickets SET status = ?1, updated_at = ?2 WHERE number = ?3";
      name = "status";
      break;
    case RD_TICKET_FIELD_PRIORITY:
      if (value == NULL || !g_strv_contains (priorities, value))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                       "bad priority '%s' (low, normal, high, urgent)", value ? value : "");
          return FALSE;
        }
      sel = "SELECT priority FROM tickets WHERE number = ?";
      upd = "UPDATE tickets SET priority = ?1, updated_at = ?2 WHERE number = ?3";
      name = "priority";
      break;
    case RD_TICKET_FIELD_ASSIGNEE:
      if (value && *value == '\0')
        value = NULL;
      if (value && strlen (value) > 320)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "assignee too long");
          return FALSE;
        }
      sel = "SELECT assignee FROM tickets WHERE number = ?";
      upd = "UPDATE tickets SET assignee = ?1, updated_at = ?2 WHERE number = ?3";
      name = "assignee";
      break;
    case RD_TICKET_FIELD_QUEUE:
      if (value == NULL || *value == '\0' || strlen (value) > 128)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad queue name");
          return FALSE;
        }
      sel = "SELECT queue FROM tickets WHERE number = ?";
      upd = "UPDATE tickets SET queue = ?1, updated_at = ?2 WHERE number = ?3";
      name = "queue";
      break;
    default:
      g_return_val_if_reached (FALSE);
    }
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  sqlite3_stmt *st = rd_store_stmt (store, sel, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, number);
  if (!rd_store_step_row (store, st, "read ticket", error, "no ticket #%" G_GINT64_FORMAT, number))
    return FALSE;
  g_autofree char *old = rd_store_col_strdup (st, 0);
  sqlite3_reset (st);
  if (g_strcmp0 (old, value) == 0)
    return TRUE;
  st = rd_store_stmt (store, upd, error);
  if (st == NULL)
    return FALSE;
  rd_store_bind_text (st, 1, value);
  sqlite3_bind_int64 (st, 2, now_s ());
  sqlite3_bind_int64 (st, 3, number);
  if (!rd_store_step_done (store, st, "update ticket", error))
    return FALSE;
  if (!rd_store_ticket_audit (store, number, actor, name, old, value, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

static gboolean
tag_valid (const char *tag)
{
  gsize n = strlen (tag);
  if (n == 0 || n > RD_TICKET_TAG_MAX)
    return FALSE;
  for (const char *p = tag; *p; p++)
    if (!g_ascii_isalnum (*p) && !strchr ("_.:-", *p))
      return FALSE;
  return TRUE;
}

gboolean
rd_store_ticket_tag (RdStore *store, gint64 number, const char *tag, gboolean add, const char *actor,
                     GError **error)
{
  g_autofree char *t = g_ascii_strdown (tag ? tag : "", -1);
  if (!tag_valid (t))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                   "bad tag (1-%d characters of a-z 0-9 _ . : -)", RD_TICKET_TAG_MAX);
      return FALSE;
    }
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  g_autoptr(RdTicket) tk = rd_store_ticket_peek (store, number, error);
  if (tk == NULL)
    return FALSE;
  gboolean has = g_strv_contains ((const char *const *) tk->tags, t);
  if (has == add)
    return TRUE;
  if (add && g_strv_length (tk->tags) >= RD_TICKET_TAGS_MAX)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "ticket #%" G_GINT64_FORMAT " has %d tags already",
                   number, RD_TICKET_TAGS_MAX);
      return FALSE;
    }
  sqlite3_stmt *st = rd_store_stmt (store, add
      ? "INSERT INTO ticket_tags (tag, ticket_number) VALUES (?, ?)"
      : "DELETE FROM ticket_tags WHERE tag = ? AND ticket_number = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, t, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 2, number);
  if (!rd_store_step_done (store, st, "tag ticket", error))
    return FALSE;
  st = rd_store_stmt (store, "UPDATE tickets SET updated_at = ? WHERE number = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, now_s ());
  sqlite3_bind_int64 (st, 2, number);
  if (!rd_store_step_done (store, st, "touch ticket", error))
    return FALSE;
  if (!rd_store_ticket_audit (store, number, actor, add ? "tag-add" : "tag-remove",
                              add ? NULL : t, add ? t : NULL, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

/* ---- messages ------------------------------------------------------- */

gboolean
rd_store_message_set_inbound_extra (RdStore *store, const RdInboundExtra *x, gint64 *message_row,
                                    GError **error)
{
  *message_row = 0;
  sqlite3_stmt *st = rd_store_stmt (store,
      "UPDATE messages SET body_hash = ?, to_addrs = ?, cc_addrs = ? WHERE spool_id = ?"
      " RETURNING id", error);
  if (st == NULL)
    return FALSE;
  rd_store_bind_text (st, 1, x->body_hash);
  rd_store_bind_text (st, 2, x->to_addrs);
  rd_store_bind_text (st, 3, x->cc_addrs);
  sqlite3_bind_int64 (st, 4, x->spool_id);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    {
      *message_row = sqlite3_column_int64 (st, 0);
      rc = sqlite3_step (st);
    }
  if (!rd_store_rows_done (store, st, rc, "record message details", error))
    return FALSE;
  return TRUE;
}

gboolean
rd_store_message_add_agent (RdStore *store, const RdAgentMessageDraft *d, gint64 *message_row,
                            GError **error)
{
  gboolean outbound = g_strcmp0 (d->direction, "outbound") == 0;
  g_return_val_if_fail (outbound || g_strcmp0 (d->direction, "note") == 0, FALSE);
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  gint64 now = now_s ();
  if (!rd_store_ticket_touch (store, d->ticket_number, now, error))
    return FALSE;
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT INTO messages (ticket_number, direction, message_id, from_name, from_addr,"
      " subject, body_text, created_at, to_addrs, cc_addrs, author, outbox_id, delivery_status)"
      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, d->ticket_number);
  sqlite3_bind_text (st, 2, d->direction, -1, SQLITE_STATIC);
  rd_store_bind_text (st, 3, d->message_id);
  rd_store_bind_text (st, 4, d->from_name);
  rd_store_bind_text (st, 5, d->from_addr);
  rd_store_bind_text (st, 6, d->subject);
  rd_store_bind_text (st, 7, d->body_text);
  sqlite3_bind_int64 (st, 8, now);
  rd_store_bind_text (st, 9, d->to_addrs);
  rd_store_bind_text (st, 10, d->cc_addrs);
  rd_store_bind_text (st, 11, d->author);
  if (d->outbox_id > 0)
    sqlite3_bind_int64 (st, 12, d->outbox_id);
  else
    sqlite3_bind_null (st, 12);
  rd_store_bind_text (st, 13, outbound ? "queued" : NULL);
  if (!rd_store_step_done (store, st, "record agent message", error))
    return FALSE;
  gint64 row = sqlite3_last_insert_rowid (store->db);
  g_autofree char *addrs = g_strjoin (" ", d->from_addr ? d->from_addr : "", d->to_addrs ? d->to_addrs : "",
                                      d->cc_addrs ? d->cc_addrs : "", NULL);
  if (!rd_store_message_index (store, row, d->subject, d->body_text, addrs, NULL, error))
    return FALSE;
  g_autofree char *rowtext = g_strdup_printf ("message %" G_GINT64_FORMAT, row);
  if (!rd_store_ticket_audit (store, d->ticket_number, d->author, outbound ? "reply" : "note",
                              NULL, rowtext, error))
    return FALSE;
  if (!rd_store_tx_commit (&tx, error))
    return FALSE;
  if (message_row)
    *message_row = row;
  return TRUE;
}

/* FTS rowid layout (schema.c 0300): ticket number in the high bits. */
#define FTS_ORDINAL_BITS 22
#define FTS_ORDINAL_MAX ((G_GINT64_CONSTANT (1) << FTS_ORDINAL_BITS) - 1)

gboolean
rd_store_message_index (RdStore *store, gint64 message_row, const char *subject, const char *body,
                        const char *addresses, const char *attachment_names, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT m.ticket_number, (SELECT count(*) FROM messages o"
      "  WHERE o.ticket_number = m.ticket_number AND o.id <= m.id) FROM messages m WHERE m.id = ?", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, message_row);
  int rc = sqlite3_step (st);
  gint64 number = rc == SQLITE_ROW ? sqlite3_column_int64 (st, 0) : 0;
  gint64 ordinal = rc == SQLITE_ROW ? sqlite3_column_int64 (st, 1) : 0;
  sqlite3_reset (st);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no message %" G_GINT64_FORMAT, message_row);
      else
        rd_store_set_error (store, rc, error, "index message");
      return FALSE;
    }
  if (ordinal > FTS_ORDINAL_MAX || number > (G_MAXINT64 >> FTS_ORDINAL_BITS))
    return TRUE; /* beyond what the index addresses: searchable no more */
  st = rd_store_stmt (store,
      "INSERT INTO messages_fts (rowid, subject, body, addresses, attachments) VALUES (?,?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, (number << FTS_ORDINAL_BITS) | ordinal);
  rd_store_bind_text (st, 2, subject);
  rd_store_bind_text (st, 3, body);
  rd_store_bind_text (st, 4, addresses);
  rd_store_bind_text (st, 5, attachment_names);
  return rd_store_step_done (store, st, "index message", error);
}

static gboolean
find_message (RdStore *store, sqlite3_stmt *st, gint64 *message_row, gint64 *ticket_number,
              const char *what, GError **error)
{
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    {
      *message_row = sqlite3_column_int64 (st, 0);
      *ticket_number = sqlite3_column_int64 (st, 1);
    }
  sqlite3_reset (st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      rd_store_set_error (store, rc, error, what);
      return FALSE;
    }
  return TRUE;
}

gboolean
rd_store_message_find_duplicate (RdStore *store, const char *message_id, const char *body_hash,
                                 gint64 *message_row, gint64 *ticket_number, GError **error)
{
  *message_row = *ticket_number = 0;
  if (message_id == NULL || body_hash == NULL)
    return TRUE;
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT id, ticket_number FROM messages WHERE message_id = ? AND body_hash = ?"
      " AND direction = 'inbound' ORDER BY id LIMIT 1", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, message_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, body_hash, -1, SQLITE_STATIC);
  return find_message (store, st, message_row, ticket_number, "find duplicate", error);
}

gboolean
rd_store_message_find_outbound (RdStore *store, const char *message_id, gint64 *message_row,
                                gint64 *ticket_number, GError **error)
{
  *message_row = *ticket_number = 0;
  if (message_id == NULL)
    return TRUE;
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT id, ticket_number FROM messages WHERE message_id = ? AND direction = 'outbound'"
      " ORDER BY id LIMIT 1", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, message_id, -1, SQLITE_STATIC);
  return find_message (store, st, message_row, ticket_number, "find outbound message", error);
}

gboolean
rd_store_message_mark_failed (RdStore *store, gint64 message_row, const char *code, const char *detail,
                              GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "UPDATE messages SET delivery_status = 'failed', delivery_code = ?, delivery_detail = ?"
      " WHERE id = ? AND direction = 'outbound'", error);
  if (st == NULL)
    return FALSE;
  rd_store_bind_text (st, 1, code);
  rd_store_bind_text (st, 2, detail);
  sqlite3_bind_int64 (st, 3, message_row);
  return rd_store_step_done (store, st, "mark outbound failed", error);
}

GPtrArray *
rd_store_ticket_message_ids (RdStore *store, gint64 number, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT message_id FROM messages WHERE ticket_number = ? AND message_id IS NOT NULL"
      " AND direction IN ('inbound','outbound') ORDER BY id", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, number);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (out, rd_store_col_strdup (st, 0));
  if (!rd_store_rows_done (store, st, rc, "read message ids", error))
    return NULL;
  return g_steal_pointer (&out);
}

/* ---- attachments ---------------------------------------------------- */

void
rd_stored_attachment_free (RdStoredAttachment *a)
{
  if (a == NULL)
    return;
  g_free (a->filename);
  g_free (a->content_type);
  g_free (a->sha256);
  g_free (a);
}

gboolean
rd_store_attachment_add (RdStore *store, gint64 message_row, guint position, const char *filename,
                         const char *content_type, GBytes *data, GError **error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, p ? p : (const guint8 *) "", len);
  g_auto(RdStoreTx) tx = { 0 };
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  sqlite3_stmt *st = rd_store_stmt (store,
      "INSERT OR IGNORE INTO attachment_blobs (sha256, size, data) VALUES (?,?,?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, sha, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 2, (gint64) len);
  sqlite3_bind_blob64 (st, 3, p ? (const void *) p : (const void *) "", len, SQLITE_STATIC);
  if (!rd_store_step_done (store, st, "store attachment", error))
    return FALSE;
  st = rd_store_stmt (store,
      "INSERT OR IGNORE INTO message_attachments (message_row, position, filename, content_type, sha256)"
      " VALUES (?,?,?,?,?)", error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, message_row);
  sqlite3_bind_int (st, 2, (int) position);
  rd_store_bind_text (st, 3, filename);
  sqlite3_bind_text (st, 4, content_type ? content_type : "application/octet-stream", -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 5, sha, -1, SQLITE_STATIC);
  if (!rd_store_step_done (store, st, "link attachment", error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

#define ATTACHMENT_COLUMNS "a.id, a.message_row, a.filename, a.content_type, a.sha256, b.size"

static RdStoredAttachment *
attachment_from_row (sqlite3_stmt *st)
{
  RdStoredAttachment *a = g_new0 (RdStoredAttachment, 1);
  a->id = sqlite3_column_int64 (st, 0);
  a->message_row = sqlite3_column_int64 (st, 1);
  a->filename = rd_store_col_strdup (st, 2);
  a->content_type = rd_store_col_strdup (st, 3);
  a->sha256 = rd_store_col_strdup (st, 4);
  a->size = sqlite3_column_int64 (st, 5);
  return a;
}

GPtrArray *
rd_store_ticket_attachments (RdStore *store, gint64 number, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT " ATTACHMENT_COLUMNS " FROM messages m JOIN message_attachments a ON a.message_row = m.id"
      " JOIN attachment_blobs b ON b.sha256 = a.sha256 WHERE m.ticket_number = ?"
      " ORDER BY a.message_row, a.position", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, number);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_stored_attachment_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (out, attachment_from_row (st));
  if (!rd_store_rows_done (store, st, rc, "read attachments", error))
    return NULL;
  return g_steal_pointer (&out);
}

RdStoredAttachment *
rd_store_attachment_get (RdStore *store, gint64 id, GBytes **data, GError **error)
{
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT " ATTACHMENT_COLUMNS ", b.data FROM message_attachments a"
      " JOIN attachment_blobs b ON b.sha256 = a.sha256 WHERE a.id = ?", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, id);
  if (!rd_store_step_row (store, st, "read attachment", error, "no attachment %" G_GINT64_FORMAT, id))
    return NULL;
  RdStoredAttachment *a = attachment_from_row (st);
  if (data)
    *data = g_bytes_new (sqlite3_column_blob (st, 6), (gsize) sqlite3_column_bytes (st, 6));
  sqlite3_reset (st);
  return a;
}

/* ---- listing and search --------------------------------------------- */

static GPtrArray *
collect_tickets (RdStore *store, sqlite3_stmt *st, const char *what, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_ticket_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (out, rd_store_ticket_from_row (st));
  sqlite3_reset (st);
  if (rc != SQLITE_DONE)
    {
      rd_store_set_error (store, rc, error, what);
      return NULL;
    }
  for (guint i = 0; i < out->len; i++)
    if (!rd_store_ticket_fill_model (store, g_ptr_array_index (out, i), FALSE, error))
      return NULL;
  return g_steal_pointer (&out);
}

/* The SQL is built from the filters actually given (each one a fixed
 * clause with a bound parameter, never text from the caller), so the
 * planner picks the index that fits: a rare assignee or tag walks its own
 * index instead of scanning every ticket. Not cached: preparing costs
 * microseconds. */
GPtrArray *
rd_store_tickets_query (RdStore *store, const RdTicketQuery *q, GError **error)
{
  gboolean unassigned = q->assignee && (g_str_equal (q->assignee, "-") || g_str_equal (q->assignee, "none"));
  /* A tag alone: walk that tag's index in ticket order (the join), so the
   * first page stops after 50 rows. A tag with other filters: let their
   * index drive and probe the tag per ticket (EXISTS). */
  gboolean tag_drives = q->tag && !q->assignee && !q->queue && !q->status;
  const char *num = tag_drives ? "g.ticket_number" : "t.number";
  g_autoptr(GString) sql = g_string_new ("SELECT " RD_TICKET_COLUMNS);
  if (tag_drives)
    g_string_append (sql, " FROM ticket_tags g JOIN tickets t ON t.number = g.ticket_number WHERE g.tag = ?4");
  else
    g_string_append (sql, " FROM tickets t WHERE 1");
  if (q->queue)
    g_string_append (sql, " AND t.queue = ?1");
  if (q->status)
    g_string_append (sql, " AND t.status = ?2");
  if (unassigned)
    g_string_append (sql, " AND t.assignee IS NULL");
  else if (q->assignee)
    g_string_append (sql, " AND t.assignee = ?3");
  if (q->tag && !tag_drives)
    g_string_append (sql, " AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.tag = ?4 AND g.ticket_number = t.number)");
  if (q->since > 0)
    g_string_append (sql, " AND t.updated_at >= ?5");
  switch (q->sort)
    {
    case RD_TICKET_SORT_UPDATED:
      g_string_append (sql, " ORDER BY t.updated_at DESC, t.number DESC");
      break;
    case RD_TICKET_SORT_CREATED:
      g_string_append_printf (sql, " ORDER BY %s ASC", num);
      break;
    case RD_TICKET_SORT_NUMBER:
    default:
      g_string_append_printf (sql, " ORDER BY %s DESC", num);
      break;
    }
  g_string_append (sql, " LIMIT ?6 OFFSET ?7");
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2 (store->db, sql->str, -1, &st, NULL);
  if (rc != SQLITE_OK)
    {
      rd_store_set_error (store, rc, error, "prepare list");
      return NULL;
    }
  g_autofree char *tag = q->tag ? g_ascii_strdown (q->tag, -1) : NULL;
  rd_store_bind_text (st, 1, q->queue);
  rd_store_bind_text (st, 2, q->status);
  rd_store_bind_text (st, 3, unassigned ? NULL : q->assignee);
  rd_store_bind_text (st, 4, tag);
  sqlite3_bind_int64 (st, 5, q->since);
  guint limit = q->limit ? MIN (q->limit, QUERY_LIMIT_MAX) : 50;
  sqlite3_bind_int (st, 6, (int) limit);
  sqlite3_bind_int (st, 7, (int) MIN (q->offset, (guint) G_MAXINT));
  GPtrArray *out = collect_tickets (store, st, "list tickets", error);
  sqlite3_finalize (st);
  return out;
}

/* Turns free text into an FTS5 query that ANDs its words, each quoted
 * (FTS5 "string" syntax, quotes doubled), so operators typed by an agent
 * are searched for, not obeyed. NULL when there is no word. */
static char *
fts_query (const char *text)
{
  g_autofree char *bounded = g_utf8_make_valid (text, MIN (strlen (text), SEARCH_QUERY_MAX));
  g_auto(GStrv) words = g_strsplit_set (bounded, " \t\r\n", -1);
  g_autoptr(GString) q = g_string_new (NULL);
  guint n = 0;
  for (guint i = 0; words[i] && n < SEARCH_WORDS_MAX; i++)
    {
      if (*words[i] == '\0')
        continue;
      if (q->len)
        g_string_append_c (q, ' ');
      g_string_append_c (q, '"');
      for (const char *p = words[i]; *p; p++)
        {
          if (*p == '"')
            g_string_append_c (q, '"');
          g_string_append_c (q, *p);
        }
      g_string_append_c (q, '"');
      n++;
    }
  return n ? g_string_free (g_steal_pointer (&q), FALSE) : NULL;
}

/* Walks the matches newest ticket first (FTS5 rowid order, which is
 * ticket order, see FTS_ORDINAL_BITS) and stops once the page is full:
 * a common word costs a page of tickets, not every match. */
GPtrArray *
rd_store_tickets_search (RdStore *store, const char *query, guint limit, guint offset, GError **error)
{
  g_autofree char *fq = fts_query (query ? query : "");
  if (fq == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "empty search");
      return NULL;
    }
  limit = limit ? MIN (limit, QUERY_LIMIT_MAX) : 50;
  sqlite3_stmt *st = rd_store_stmt (store,
      "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC", error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_text (st, 1, fq, -1, SQLITE_STATIC);
  g_autoptr(GArray) numbers = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 last = 0;
  guint seen = 0;
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      gint64 n = sqlite3_column_int64 (st, 0) >> FTS_ORDINAL_BITS;
      if (n == last)
        continue;
      last = n;
      if (seen++ < offset)
        continue;
      g_array_append_val (numbers, n);
      if (numbers->len >= limit)
        break;
    }
  sqlite3_reset (st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    {
      rd_store_set_error (store, rc, error, "search tickets");
      return NULL;
    }
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_ticket_free);
  for (guint i = 0; i < numbers->len; i++)
    {
      g_autoptr(GError) local = NULL;
      RdTicket *t = rd_store_ticket_peek (store, g_array_index (numbers, gint64, i), &local);
      if (t == NULL && !g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      if (t)
        g_ptr_array_add (out, t);
    }
  return g_steal_pointer (&out);
}
