/* relaydesk — store: tickets, their attributes, tags, participants, links,
 * audit log, listing and search (see tickets.h; the message writer is
 * messages.c). */
#include "store-private.h"
#include "tickets.h"

#include <string.h>
#include <sys/random.h>

#define SECRET_LEN 32
#define SEARCH_QUERY_MAX 512
#define SEARCH_WORDS_MAX 16

void
rd_ticket_message_free (RdTicketMessage *m)
{
  if (m == NULL)
    return;
  g_free (m->message_id);
  g_free (m->from_name);
  g_free (m->from_addr);
  g_free (m->subject);
  g_free (m->body_text);
  g_free (m->to_addrs);
  g_free (m->cc_addrs);
  g_free (m->author);
  g_free (m->delivery_code);
  g_free (m);
}

void
rd_ticket_free (RdTicket *t)
{
  if (t == NULL)
    return;
  g_free (t->queue);
  g_free (t->assignee);
  g_free (t->subject);
  g_free (t->requester_name);
  g_free (t->requester_addr);
  if (t->messages)
    g_ptr_array_unref (t->messages);
  g_strfreev (t->tags);
  if (t->participants)
    g_ptr_array_unref (t->participants);
  if (t->links)
    g_array_unref (t->links);
  g_free (t);
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

/* ---- reading ---------------------------------------------------------------- */

/* The columns of RD_SQL_TICKET_GET (and of every ticket listing). */
RdTicket *
rd_store_ticket_from_row (RdDbStmt *st)
{
  RdTicket *t = g_new0 (RdTicket, 1);
  t->number = rd_db_col_int64 (st, 0);
  t->queue = rd_db_col_strdup (st, 1);
  if (!rd_ticket_status_from_string (rd_db_col_text (st, 2), &t->status))
    t->status = RD_TICKET_STATUS_OPEN;
  if (!rd_ticket_priority_from_string (rd_db_col_text (st, 3), &t->priority))
    t->priority = RD_TICKET_PRIORITY_NORMAL;
  t->assignee = rd_db_col_strdup (st, 4);
  t->subject = rd_db_col_strdup (st, 5);
  t->requester_name = rd_db_col_strdup (st, 6);
  t->requester_addr = rd_db_col_strdup (st, 7);
  t->created_at = rd_db_col_int64 (st, 8);
  t->updated_at = rd_db_col_int64 (st, 9);
  t->message_count = (guint) rd_db_col_int64 (st, 10);
  return t;
}

/* Reads a one-column text result into a string vector. */
static GStrv
collect_strv (RdStore *store, RdDbStmt *st, const char *what, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  if (!rd_store_collect_strings (store, st, what, out, error))
    return NULL;
  g_ptr_array_add (out, NULL);
  g_ptr_array_set_free_func (out, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

gboolean
rd_store_ticket_fill_model (RdStore *store, RdTicket *t, gboolean full, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_TICKET_TAGS, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, t->number);
  g_strfreev (t->tags);
  t->tags = collect_strv (store, st, "read tags", error);
  if (t->tags == NULL || !full)
    return t->tags != NULL;

  st = rd_store_stmt (store, RD_SQL_TICKET_PARTICIPANTS, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, t->number);
  if (t->participants)
    g_ptr_array_unref (t->participants);
  t->participants = g_ptr_array_new_with_free_func (g_free);
  if (!rd_store_collect_strings (store, st, "read participants", t->participants, error))
    return FALSE;

  st = rd_store_stmt (store, RD_SQL_TICKET_LINKS, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, t->number);
  if (t->links)
    g_array_unref (t->links);
  t->links = rd_store_collect_int64 (store, st, "read links", error);
  return t->links != NULL;
}

RdTicket *
rd_store_ticket_read (RdStore *store, gint64 number, gboolean full, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_TICKET_GET, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, number);
  if (!rd_store_step_row (store, st, "read ticket", error, "no ticket #%" G_GINT64_FORMAT, number))
    return NULL;
  g_autoptr(RdTicket) t = rd_store_ticket_from_row (st);
  rd_db_reset (st);
  if (!rd_store_ticket_fill_model (store, t, full, error))
    return NULL;
  return g_steal_pointer (&t);
}

gboolean
rd_store_ticket_next_number (RdStore *store, gint64 *number, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_TICKET_NEXT_NUMBER, error);
  return st != NULL && rd_store_step_int (store, st, "next ticket number", number, error);
}

RdTicket *
rd_store_ticket_peek (RdStore *store, gint64 number, GError **error)
{
  return rd_store_ticket_read (store, number, FALSE, error);
}

RdTicket *
rd_store_ticket_get (RdStore *store, gint64 number, GError **error)
{
  g_autoptr(RdTicket) t = rd_store_ticket_read (store, number, TRUE, error);
  if (t == NULL)
    return NULL;
  t->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_ticket_message_free);
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_TICKET_MESSAGES, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, number);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdTicketMessage *m = g_new0 (RdTicketMessage, 1);
      m->id = rd_db_col_int64 (st, 0);
      m->spool_id = rd_db_col_int64 (st, 1);
      if (!rd_message_direction_from_string (rd_db_col_text (st, 2), &m->direction))
        m->direction = RD_MESSAGE_NOTE;
      m->message_id = rd_db_col_strdup (st, 3);
      m->from_name = rd_db_col_strdup (st, 4);
      m->from_addr = rd_db_col_strdup (st, 5);
      m->subject = rd_db_col_strdup (st, 6);
      m->body_text = rd_db_col_strdup (st, 7);
      m->created_at = rd_db_col_int64 (st, 8);
      m->to_addrs = rd_db_col_strdup (st, 9);
      m->cc_addrs = rd_db_col_strdup (st, 10);
      m->author = rd_db_col_strdup (st, 11);
      m->has_delivery = rd_outbox_state_from_string (rd_db_col_text (st, 12), &m->delivery);
      m->delivery_code = rd_db_col_strdup (st, 13);
      m->outbox_id = rd_db_col_int64 (st, 14);
      m->has_auth = rd_db_col_text (st, 15) != NULL;
      if (m->has_auth)
        {
          rd_auth_result_from_string (rd_db_col_text (st, 15), &m->auth.spf);
          rd_auth_result_from_string (rd_db_col_text (st, 16), &m->auth.dkim);
          rd_auth_result_from_string (rd_db_col_text (st, 17), &m->auth.dmarc);
          g_strlcpy (m->auth.from_domain, rd_db_col_text (st, 18) ? rd_db_col_text (st, 18) : "",
                     sizeof m->auth.from_domain);
          m->auth.verified = rd_db_col_int64 (st, 19) != 0;
        }
      g_ptr_array_add (t->messages, m);
    }
  if (!rd_store_rows_done (store, st, rc, "read messages", error))
    return NULL;
  return g_steal_pointer (&t);
}

gboolean
rd_store_ticket_touch (RdStore *store, gint64 number, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_TICKET_TOUCH, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, rd_store_now ());
  rd_db_bind_int64 (st, 2, number);
  if (!rd_store_step_done (store, st, "touch ticket", error))
    return FALSE;
  if (rd_store_changes (store) != 1)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no ticket #%" G_GINT64_FORMAT, number);
      return FALSE;
    }
  return TRUE;
}

/* ---- the audit log ------------------------------------------------------------- */

gboolean
rd_store_audit (RdStore *store, gint64 number, const char *actor, const char *action, const char *old_value,
                const char *new_value, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AUDIT_INSERT, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, number);
  rd_db_bind_int64 (st, 2, rd_store_now ());
  rd_db_bind_text (st, 3, actor ? actor : "system");
  rd_db_bind_text (st, 4, action);
  rd_db_bind_text (st, 5, old_value);
  rd_db_bind_text (st, 6, new_value);
  return rd_store_step_done (store, st, "audit", error);
}

GPtrArray *
rd_store_ticket_audit_list (RdStore *store, gint64 number, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_AUDIT_LIST, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, number);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_audit_entry_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdAuditEntry *e = g_new0 (RdAuditEntry, 1);
      e->id = rd_db_col_int64 (st, 0);
      e->at = rd_db_col_int64 (st, 1);
      e->actor = rd_db_col_strdup (st, 2);
      e->action = rd_db_col_strdup (st, 3);
      e->old_value = rd_db_col_strdup (st, 4);
      e->new_value = rd_db_col_strdup (st, 5);
      g_ptr_array_add (out, e);
    }
  if (!rd_store_rows_done (store, st, rc, "read audit log", error))
    return NULL;
  return g_steal_pointer (&out);
}

/* ---- attributes: the one setter ------------------------------------------------- */

const char *
rd_ticket_field_to_string (RdTicketField field)
{
  switch (field)
    {
    case RD_TICKET_FIELD_STATUS: return "status";
    case RD_TICKET_FIELD_PRIORITY: return "priority";
    case RD_TICKET_FIELD_ASSIGNEE: return "assignee";
    case RD_TICKET_FIELD_QUEUE: return "queue";
    default: return "unknown";
    }
}

/* Checks @value for @field; sets *@value to NULL for "unassign". */
static gboolean
field_value_valid (RdTicketField field, const char **value, GError **error)
{
  const char *v = *value;
  switch (field)
    {
    case RD_TICKET_FIELD_STATUS:
      {
        RdTicketStatus s;
        if (rd_ticket_status_from_string (v, &s))
          return TRUE;
        g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad status '%s' (%s)", v ? v : "",
                     rd_ticket_statuses_text ());
        return FALSE;
      }
    case RD_TICKET_FIELD_PRIORITY:
      {
        RdTicketPriority p;
        if (rd_ticket_priority_from_string (v, &p))
          return TRUE;
        g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad priority '%s' (%s)", v ? v : "",
                     rd_ticket_priorities_text ());
        return FALSE;
      }
    case RD_TICKET_FIELD_ASSIGNEE:
      if (v && *v == '\0')
        *value = v = NULL;
      if (v && (strlen (v) > RD_TICKET_ASSIGNEE_MAX || !g_utf8_validate (v, -1, NULL)))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "assignee too long or not UTF-8");
          return FALSE;
        }
      return TRUE;
    case RD_TICKET_FIELD_QUEUE:
      if (v == NULL || *v == '\0' || strlen (v) > RD_TICKET_QUEUE_MAX || !g_utf8_validate (v, -1, NULL))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad queue name '%s'", v ? v : "");
          return FALSE;
        }
      return TRUE;
    default:
      g_return_val_if_reached (FALSE);
    }
}

gboolean
rd_store_ticket_set (RdStore *store, gint64 number, RdTicketField field, const char *value, const char *actor,
                     GError **error)
{
  static const RdSql sel[] = { RD_SQL_TICKET_GET_STATUS, RD_SQL_TICKET_GET_PRIORITY, RD_SQL_TICKET_GET_ASSIGNEE,
                               RD_SQL_TICKET_GET_QUEUE };
  static const RdSql upd[] = { RD_SQL_TICKET_SET_STATUS, RD_SQL_TICKET_SET_PRIORITY, RD_SQL_TICKET_SET_ASSIGNEE,
                               RD_SQL_TICKET_SET_QUEUE };
  g_return_val_if_fail (field <= RD_TICKET_FIELD_QUEUE, FALSE);
  if (!field_value_valid (field, &value, error))
    return FALSE;
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, sel[field], error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, number);
  if (!rd_store_step_row (store, st, "read ticket", error, "no ticket #%" G_GINT64_FORMAT, number))
    return FALSE;
  g_autofree char *old = rd_db_col_strdup (st, 0);
  rd_db_reset (st);
  if (g_strcmp0 (old, value) == 0)
    return TRUE;
  st = rd_store_stmt (store, upd[field], error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, value);
  rd_db_bind_int64 (st, 2, rd_store_now ());
  rd_db_bind_int64 (st, 3, number);
  if (!rd_store_step_done (store, st, "update ticket", error))
    return FALSE;
  if (!rd_store_audit (store, number, actor, rd_ticket_field_to_string (field), old, value, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

gboolean
rd_ticket_tag_is_valid (const char *tag)
{
  gsize n = tag ? strlen (tag) : 0;
  if (n == 0 || n > RD_TICKET_TAG_MAX)
    return FALSE;
  /* A leading $ is an IMAP keyword (RFC 9051 2.3.2: $Important,
   * $Forwarded), what Sieve's imap4flags sets most often. */
  for (const char *p = tag[0] == '$' ? tag + 1 : tag; *p; p++)
    if (!g_ascii_isalnum (*p) && !strchr ("_.:-", *p))
      return FALSE;
  return n > 1 || tag[0] != '$';
}

gboolean
rd_store_ticket_tag (RdStore *store, gint64 number, const char *tag, gboolean add, const char *actor,
                     GError **error)
{
  g_autofree char *t = g_ascii_strdown (tag ? tag : "", -1);
  if (!rd_ticket_tag_is_valid (t))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                   "bad tag '%s' (1-%d characters of a-z 0-9 _ . : -, optionally after a $)", tag ? tag : "", RD_TICKET_TAG_MAX);
      return FALSE;
    }
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
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
  RdDbStmt *st = rd_store_stmt (store, add ? RD_SQL_TAG_ADD : RD_SQL_TAG_REMOVE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, t);
  rd_db_bind_int64 (st, 2, number);
  if (!rd_store_step_done (store, st, "tag ticket", error))
    return FALSE;
  if (!rd_store_ticket_touch (store, number, error)
      || !rd_store_audit (store, number, actor, add ? "tag-add" : "tag-remove", add ? NULL : t, add ? t : NULL,
                          error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

/* ---- participants and links ------------------------------------------------------ */

gboolean
rd_store_ticket_add_participant (RdStore *store, gint64 number, const char *addr, const char *name,
                                 GError **error)
{
  if (addr == NULL || *addr == '\0')
    return TRUE;
  /* A cap on what grows: a thread Cc'ing the world stops adding. */
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_PARTICIPANT_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, number);
  rd_db_bind_text (st, 2, addr);
  rd_db_bind_text (st, 3, name && *name ? name : NULL);
  rd_db_bind_int64 (st, 4, RD_TICKET_PARTICIPANTS_MAX);
  return rd_store_step_done (store, st, "add participant", error);
}

gboolean
rd_store_ticket_is_participant (RdStore *store, gint64 number, const char *addr, gboolean *found,
                                GError **error)
{
  *found = FALSE;
  if (addr == NULL || *addr == '\0')
    return TRUE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_PARTICIPANT_CHECK, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, number);
  rd_db_bind_text (st, 2, addr);
  if (!rd_store_step_maybe (store, st, "check participant", found, error))
    return FALSE;
  rd_db_reset (st);
  return TRUE;
}

gboolean
rd_store_ticket_link (RdStore *store, gint64 number, gint64 other, const char *reason, const char *actor,
                      GError **error)
{
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (store, &tx, error))
    return FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_LINK_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, number);
  rd_db_bind_int64 (st, 2, other);
  rd_db_bind_text (st, 3, reason ? reason : "linked");
  rd_db_bind_int64 (st, 4, rd_store_now ());
  if (!rd_store_step_done (store, st, "link tickets", error))
    return FALSE;
  if (rd_store_changes (store) > 0)
    {
      g_autofree char *to = g_strdup_printf ("#%" G_GINT64_FORMAT, other);
      if (!rd_store_audit (store, number, actor, "linked", NULL, to, error))
        return FALSE;
    }
  return rd_store_tx_commit (&tx, error);
}

/* ---- listing and search ---------------------------------------------------------- */

/* Appends " FROM ... WHERE ..." for the filters of @q (parameters $1-$5,
 * $8 and up); @num gets the column of the ticket number that drives. */
static void
query_from_where (RdStore *store, const RdTicketQuery *q, GString *sql, const char **num)
{
  gboolean unassigned = q->assignee && (g_str_equal (q->assignee, "-") || g_str_equal (q->assignee, "none"));
  /* A tag alone: walk that tag's index in ticket order (the join), so the
   * first page stops after 50 rows. A tag with other filters: let their
   * index drive and probe the tag per ticket (EXISTS). */
  gboolean tag_drives = q->tag && !q->assignee && !q->queue && !q->has_status && !q->requester;
  *num = tag_drives ? "g.ticket_number" : "t.number";
  if (tag_drives)
    g_string_append (sql, " FROM ticket_tags g JOIN tickets t ON t.number = g.ticket_number WHERE g.tag = $4");
  else
    g_string_append (sql, " FROM tickets t WHERE 1=1");
  if (q->queue)
    g_string_append (sql, " AND t.queue = $1");
  guint n_queues = q->queues ? g_strv_length ((GStrv) q->queues) : 0;
  if (q->queues)
    {
      /* The agent's queues: $10, $11, ... (none: no ticket at all). */
      g_string_append (sql, n_queues ? " AND t.queue IN (" : " AND 1=0");
      for (guint i = 0; i < n_queues; i++)
        g_string_append_printf (sql, "%s$%u", i ? "," : "", 10 + i);
      if (n_queues)
        g_string_append_c (sql, ')');
    }
  if (q->has_status)
    g_string_append (sql, " AND t.status = $2");
  if (unassigned)
    g_string_append (sql, " AND t.assignee IS NULL");
  else if (q->assignee)
    g_string_append (sql, " AND t.assignee = $3");
  if (q->tag && !tag_drives)
    g_string_append (sql, " AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.tag = $4 AND g.ticket_number = t.number)");
  if (q->since > 0)
    g_string_append (sql, " AND t.updated_at >= $5");
  if (q->has_priority)
    g_string_append (sql, " AND t.priority = $8");
  /* The expression index tickets_requester (migration 0603). */
  if (q->requester)
    g_string_append (sql, " AND lower(t.requester_addr) = lower($9)");
}

/* Binds the parameters of query_from_where() and $6 @limit, $7 @offset. */
static void
query_bind (RdDbStmt *st, const RdTicketQuery *q, gint64 limit, gint64 offset)
{
  gboolean unassigned = q->assignee && (g_str_equal (q->assignee, "-") || g_str_equal (q->assignee, "none"));
  g_autofree char *tag = q->tag ? g_ascii_strdown (q->tag, -1) : NULL;
  rd_db_bind_text (st, 1, q->queue);
  rd_db_bind_text (st, 2, q->has_status ? rd_ticket_status_to_string (q->status) : NULL);
  rd_db_bind_text (st, 3, unassigned ? NULL : q->assignee);
  rd_db_bind_text (st, 4, tag);
  rd_db_bind_int64 (st, 5, q->since);
  rd_db_bind_int64 (st, 6, limit);
  rd_db_bind_int64 (st, 7, offset);
  rd_db_bind_text (st, 8, q->has_priority ? rd_ticket_priority_to_string (q->priority) : NULL);
  rd_db_bind_text (st, 9, q->requester);
  guint n_queues = q->queues ? g_strv_length ((GStrv) q->queues) : 0;
  for (guint i = 0; i < n_queues; i++)
    rd_db_bind_text (st, (int) (10 + i), q->queues[i]);
}

/* The rows of @q's query without their model (tags): @limit from @offset.
 * The SQL is built from the filters actually given (each one a fixed
 * clause with a bound parameter, never text from the caller), so the
 * planner picks the index that fits: a rare assignee or tag walks its own
 * index instead of scanning every ticket. Not cached: preparing costs
 * microseconds. The fragments are the same in every dialect. */
static GPtrArray *
query_rows (RdStore *store, const RdTicketQuery *q, guint limit, guint offset, GError **error)
{
  const char *num = NULL;
  g_autoptr(GString) sql = g_string_new ("SELECT ");
  g_string_append (sql, rd_sql_text (RD_SQL_TICKET_COLUMNS, rd_store_dialect (store)));
  query_from_where (store, q, sql, &num);
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
  g_string_append (sql, " LIMIT $6 OFFSET $7");
  g_autoptr(RdDbStmt) st = rd_store_prepare (store, sql->str, error);
  if (st == NULL)
    {
      g_prefix_error (error, "list tickets: ");
      return NULL;
    }
  query_bind (st, q, limit, offset);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_ticket_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    g_ptr_array_add (out, rd_store_ticket_from_row (st));
  if (!rd_store_rows_done (store, st, rc, "list tickets", error))
    return NULL;
  return g_steal_pointer (&out);
}

/* The order of ORDER BY in query_rows(), for merging. */
static gint
ticket_order (gconstpointer pa, gconstpointer pb, gpointer data)
{
  const RdTicket *a = *(const RdTicket *const *) pa, *b = *(const RdTicket *const *) pb;
  RdTicketSort sort = GPOINTER_TO_INT (data);
  if (sort == RD_TICKET_SORT_UPDATED && a->updated_at != b->updated_at)
    return a->updated_at > b->updated_at ? -1 : 1;
  if (a->number == b->number)
    return 0;
  return (sort == RD_TICKET_SORT_CREATED) == (a->number < b->number) ? -1 : 1;
}

#define MERGE_ROWS_MAX 2000

GPtrArray *
rd_store_tickets_query (RdStore *store, const RdTicketQuery *q, GError **error)
{
  guint limit = q->limit ? MIN (q->limit, RD_TICKET_QUERY_LIMIT_MAX) : 50;
  guint offset = MIN (q->offset, (guint) G_MAXINT);
  guint n_queues = q->queues ? g_strv_length ((GStrv) q->queues) : 0;
  g_autoptr(GPtrArray) rows = NULL;
  if (n_queues > 1 && q->queue == NULL && q->requester == NULL && (guint64) offset + limit <= MERGE_ROWS_MAX)
    {
      /* An agent's several queues: one query per queue (each walks its
       * own index, (queue, number), (queue, status, number) or (queue,
       * updated_at), in order) merged here. One query with "queue IN
       * (...)" would read every newer ticket of the other queues, or all
       * of the agent's and sort them. */
      rows = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_ticket_free);
      for (guint i = 0; i < n_queues; i++)
        {
          RdTicketQuery one = *q;
          one.queue = q->queues[i];
          one.queues = NULL;
          g_autoptr(GPtrArray) part = query_rows (store, &one, offset + limit, 0, error);
          if (part == NULL)
            return NULL;
          g_ptr_array_extend_and_steal (rows, g_steal_pointer (&part));
        }
      g_ptr_array_sort_with_data (rows, ticket_order, GINT_TO_POINTER (q->sort));
      if (offset >= rows->len)
        g_ptr_array_set_size (rows, 0);
      else
        {
          g_ptr_array_remove_range (rows, 0, offset);
          if (rows->len > limit)
            g_ptr_array_set_size (rows, limit);
        }
    }
  else
    rows = query_rows (store, q, limit, offset, error);
  if (rows == NULL)
    return NULL;
  for (guint i = 0; i < rows->len; i++)
    if (!rd_store_ticket_fill_model (store, g_ptr_array_index (rows, i), FALSE, error))
      return NULL;
  return g_steal_pointer (&rows);
}

gboolean
rd_store_tickets_count (RdStore *store, const RdTicketQuery *q, gint64 cap, gint64 *count, gboolean *capped,
                        GError **error)
{
  const char *num = NULL;
  g_autoptr(GString) sql = g_string_new ("SELECT count(*) FROM (SELECT 1");
  query_from_where (store, q, sql, &num);
  g_string_append (sql, " LIMIT $6 OFFSET $7) c");
  g_autoptr(RdDbStmt) st = rd_store_prepare (store, sql->str, error);
  if (st == NULL)
    {
      g_prefix_error (error, "count tickets: ");
      return FALSE;
    }
  /* No cap: a limit no table reaches (LIMIT -1 is SQLite's alone). */
  query_bind (st, q, cap > 0 ? cap + 1 : G_MAXINT64, 0);
  if (!rd_store_step_int (store, st, "count tickets", count, error))
    return FALSE;
  if (capped)
    *capped = cap > 0 && *count > cap;
  if (cap > 0 && *count > cap)
    *count = cap;
  return TRUE;
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

/* TRUE when ticket @number is in one of @queues (a primary-key look-up). */
static gboolean
ticket_in_queues (RdStore *store, gint64 number, const char *const *queues, gboolean *in, GError **error)
{
  *in = FALSE;
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_TICKET_GET_QUEUE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_int64 (st, 1, number);
  gboolean found = FALSE;
  if (!rd_store_step_maybe (store, st, "read ticket queue", &found, error))
    return FALSE;
  if (found)
    {
      *in = g_strv_contains (queues, rd_db_col_text (st, 0) ? rd_db_col_text (st, 0) : "");
      rd_db_reset (st);
    }
  return TRUE;
}

/* Walks the matches newest ticket first (the index's rowid order, which
 * is ticket order: messages.c RD_FTS_ORDINAL_BITS) and stops once the
 * page is full: a common word costs a page of tickets, not every match.
 * With @queues, a match outside them is skipped by its queue alone (a
 * primary-key look-up), so an agent's search reads whole tickets only
 * for the page it shows. */
GPtrArray *
rd_store_tickets_search_queues (RdStore *store, const char *query, const char *const *queues, guint limit,
                                guint offset, GError **error)
{
  g_autofree char *fq = fts_query (query ? query : "");
  if (fq == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "empty search");
      return NULL;
    }
  limit = limit ? MIN (limit, RD_TICKET_QUERY_LIMIT_MAX) : 50;
  g_autoptr(GArray) numbers = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (queues == NULL || queues[0] != NULL)
    {
      /* Not the cached statement: the queue look-ups below step another
       * statement on this connection while this one is open. */
      g_autoptr(RdDbStmt) st = rd_store_prepare (store, rd_sql_text (RD_SQL_SEARCH, rd_store_dialect (store)), error);
      if (st == NULL)
        return NULL;
      rd_db_bind_text (st, 1, fq);
      /* How many matches a backend may stop after ($2; SQLite's statement
       * has none): the page's end, or any number when matches of other
       * queues are skipped. */
      rd_db_bind_int64 (st, 2, queues ? G_MAXINT32 : (gint64) offset + limit);
      gint64 last = 0;
      guint seen = 0;
      RdDbStep rc;
      while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
        {
          gint64 n = rd_db_col_int64 (st, 0) >> RD_FTS_ORDINAL_BITS;
          if (n == last)
            continue;
          last = n;
          if (queues)
            {
              gboolean in = FALSE;
              if (!ticket_in_queues (store, n, queues, &in, error))
                return NULL;
              if (!in)
                continue;
            }
          if (seen++ < offset)
            continue;
          g_array_append_val (numbers, n);
          if (numbers->len >= limit)
            break;
        }
      if (rc == RD_DB_ERROR)
        {
          g_prefix_error (error, "search tickets: ");
          return NULL;
        }
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

GPtrArray *
rd_store_tickets_search (RdStore *store, const char *query, guint limit, guint offset, GError **error)
{
  return rd_store_tickets_search_queues (store, query, NULL, limit, offset, error);
}

/* ---- the installation secret ---------------------------------------------------------- */

static GBytes *
read_secret (RdStore *store, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SECRET_GET, error);
  if (st == NULL)
    return NULL;
  gboolean found = FALSE;
  if (!rd_store_step_maybe (store, st, "read installation secret", &found, error))
    return NULL;
  GBytes *b = NULL;
  if (found)
    {
      gsize len = 0;
      const void *p = rd_db_col_blob (st, 0, &len);
      if (len == SECRET_LEN)
        b = g_bytes_new (p, len);
      rd_db_reset (st);
    }
  return b;
}

GBytes *
rd_store_desk_secret (RdStore *store, GError **error)
{
  g_autoptr(GError) local = NULL;
  GBytes *b = read_secret (store, &local);
  if (b || local)
    {
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      return b;
    }
  guint8 buf[SECRET_LEN];
  if (getrandom (buf, sizeof buf, 0) != (ssize_t) sizeof buf)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_TEMPORARY, "no random bytes for the installation secret");
      return NULL;
    }
  /* Insert-or-ignore: when two processes race on first start, the first
   * secret wins and both read it back. */
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_SECRET_CREATE, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_blob (st, 1, buf, sizeof buf);
  rd_db_bind_int64 (st, 2, rd_store_now ());
  gboolean ok = rd_store_step_done (store, st, "create installation secret", error);
  memset (buf, 0, sizeof buf);
  if (!ok)
    return NULL;
  b = read_secret (store, error);
  if (b == NULL && error && *error == NULL)
    g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "installation secret unreadable");
  return b;
}
