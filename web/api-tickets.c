/* relaydesk — web: the agents' endpoints: queues, tickets (list, search,
 * show, reply, notes, changes, bulk), uploads and attachments, drafts,
 * saved views, the requester's tickets, HTML mail for the sandboxed
 * frame. docs/api.md lists the fields; the ticket JSON is ops/json.h's,
 * the same as `relaydesk tickets ... --json`.
 *
 * Collisions: a ticket's "version" is the row id of its newest message
 * (ETag "v<version>"). A reply or note that names the version the agent
 * saw (If-Match or "version") is refused with 409 and the newer
 * messages while someone else's message came in since, unless the
 * request says "confirm": true.
 */
#include "web-private.h"
#include "ops-web.h"

#include <string.h>
#include <gmime/gmime.h>

#define PER_PAGE_MAX 200
#define COUNT_CAP 10000

static const char *
param (RdWebJob *job, guint i)
{
  return i < job->params->len ? g_ptr_array_index (job->params, i) : "";
}

static void
json_node_answer (RdWebJob *job, guint status, JsonNode *root)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  char *text = json_generator_to_data (gen, NULL);
  rd_web_body (job, status, "application/json", g_bytes_new_take (text, strlen (text)));
}

/* The row id of the newest message: the ticket's version. */
static gint64
ticket_version (const RdTicket *t)
{
  gint64 v = 0;
  for (guint i = 0; t->messages && i < t->messages->len; i++)
    v = MAX (v, ((RdTicketMessage *) g_ptr_array_index (t->messages, i))->id);
  return v;
}

static void
set_etag (RdWebJob *job, gint64 version)
{
  g_autofree char *etag = g_strdup_printf ("\"v%" G_GINT64_FORMAT "\"", version);
  rd_web_header (job, "ETag", etag);
}

/* RD_ERROR_NOT_FOUND unless the actor sees ticket @number. */
static gboolean
visible (RdWebCtx *ctx, RdWebJob *job, gint64 number, GError **error)
{
  g_autoptr(RdTicket) t = rd_ops_ticket_peek (ctx->ops, &job->actor, number, error);
  return t != NULL;
}

/* ---- queues ------------------------------------------------------------------- */

static void
queues_list (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) counts = rd_ops_queue_counts (ctx->ops, &job->actor, &error);
  if (counts == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  /* The agent's queues (even empty ones), or every queue for an admin. */
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; job->actor.queues && job->actor.queues[i]; i++)
    g_ptr_array_add (names, g_strdup (job->actor.queues[i]));
  for (guint i = 0; job->actor.queues == NULL && i < counts->len; i++)
    {
      RdQueueCount *c = g_ptr_array_index (counts, i);
      if (names->len == 0 || !g_str_equal (g_ptr_array_index (names, names->len - 1), c->queue))
        g_ptr_array_add (names, g_strdup (c->queue));
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "queues");
  json_builder_begin_array (b);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      gint64 per[RD_TICKET_STATUS_N] = { 0 };
      gint64 total = 0;
      for (guint k = 0; k < counts->len; k++)
        {
          RdQueueCount *c = g_ptr_array_index (counts, k);
          if (g_str_equal (c->queue, name) && c->status < RD_TICKET_STATUS_N)
            {
              per[c->status] += c->count;
              total += c->count;
            }
        }
      json_builder_begin_object (b);
      rd_json_add_str (b, "name", name);
      json_builder_set_member_name (b, "counts");
      json_builder_begin_object (b);
      for (guint s = 0; s < RD_TICKET_STATUS_N; s++)
        rd_json_add_int (b, rd_ticket_status_to_string (s), per[s]);
      json_builder_end_object (b);
      rd_json_add_int (b, "total", total);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

/* ---- the list ------------------------------------------------------------------ */

/* Filters from a query string or a saved view's JSON: FALSE with a
 * message when a value is not one of the model's words. */
typedef struct {
  const char *queue, *status, *assignee, *tag, *priority, *sort, *q;
} Filters;

static gboolean
filters_to_query (const Filters *f, RdTicketQuery *q, GError **error)
{
  q->queue = f->queue && *f->queue ? f->queue : NULL;
  q->assignee = f->assignee && *f->assignee ? f->assignee : NULL;
  q->tag = f->tag && *f->tag ? f->tag : NULL;
  if (f->status && *f->status)
    {
      q->has_status = TRUE;
      if (!rd_ticket_status_from_string (f->status, &q->status))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad status '%s' (%s)", f->status,
                       rd_ticket_statuses_text ());
          return FALSE;
        }
    }
  if (f->priority && *f->priority)
    {
      q->has_priority = TRUE;
      if (!rd_ticket_priority_from_string (f->priority, &q->priority))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad priority '%s' (%s)", f->priority,
                       rd_ticket_priorities_text ());
          return FALSE;
        }
    }
  if (f->sort == NULL || !*f->sort || g_str_equal (f->sort, "number"))
    q->sort = RD_TICKET_SORT_NUMBER;
  else if (g_str_equal (f->sort, "updated"))
    q->sort = RD_TICKET_SORT_UPDATED;
  else if (g_str_equal (f->sort, "created"))
    q->sort = RD_TICKET_SORT_CREATED;
  else
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "sort is number, updated or created");
      return FALSE;
    }
  return TRUE;
}

static gboolean
ticket_matches (const RdTicket *t, const RdTicketQuery *q)
{
  if (q->queue && g_strcmp0 (t->queue, q->queue) != 0)
    return FALSE;
  if (q->has_status && t->status != q->status)
    return FALSE;
  if (q->has_priority && t->priority != q->priority)
    return FALSE;
  if (q->assignee)
    {
      gboolean none = g_str_equal (q->assignee, "-") || g_str_equal (q->assignee, "none");
      if (none ? t->assignee != NULL : g_strcmp0 (t->assignee, q->assignee) != 0)
        return FALSE;
    }
  if (q->tag)
    {
      g_autofree char *tag = g_ascii_strdown (q->tag, -1);
      if (!g_strv_contains ((const char *const *) t->tags, tag))
        return FALSE;
    }
  return TRUE;
}

static void
tickets_answer (RdWebCtx *ctx, RdWebJob *job, GPtrArray *tickets, guint page, guint per_page, gint64 total,
                gboolean capped, gboolean has_more)
{
  RdWebEvents *ev = rd_web_get_events (job->web);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "tickets");
  json_builder_begin_array (b);
  for (guint i = 0; i < tickets->len; i++)
    rd_json_ticket (ctx->ops, b, g_ptr_array_index (tickets, i));
  json_builder_end_array (b);
  /* Who is on which of these tickets now (collision detection). */
  json_builder_set_member_name (b, "presence");
  json_builder_begin_object (b);
  for (guint i = 0; i < tickets->len; i++)
    {
      RdTicket *t = g_ptr_array_index (tickets, i);
      if (!rd_web_presence_any (ev, t->number))
        continue;
      g_autoptr(JsonBuilder) pb = json_builder_new ();
      json_builder_begin_object (pb);
      rd_web_presence_json (ev, pb, t->number);
      json_builder_end_object (pb);
      g_autoptr(JsonNode) pn = json_builder_get_root (pb);
      JsonArray *arr = json_object_get_array_member (json_node_get_object (pn), "presence");
      if (json_array_get_length (arr) == 0)
        continue;
      g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT, t->number);
      json_builder_set_member_name (b, key);
      json_builder_add_value (b, json_node_copy (json_object_get_member (json_node_get_object (pn), "presence")));
    }
  json_builder_end_object (b);
  rd_json_add_int (b, "page", page);
  rd_json_add_int (b, "per_page", per_page);
  json_builder_set_member_name (b, "total");
  if (total >= 0)
    json_builder_add_int_value (b, total);
  else
    json_builder_add_null_value (b);
  rd_json_add_bool (b, "total_capped", capped);
  rd_json_add_bool (b, "has_more", has_more);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static gboolean
paging (RdWebJob *job, guint *page, guint *per_page)
{
  guint64 p = 1, pp = 50;
  const char *ps = rd_web_query (job, "page"), *pps = rd_web_query (job, "per_page");
  if ((ps && !g_ascii_string_to_unsigned (ps, 10, 1, 100000, &p, NULL))
      || (pps && !g_ascii_string_to_unsigned (pps, 10, 1, PER_PAGE_MAX, &pp, NULL)))
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "page is 1 or more, per_page 1 to 200");
      return FALSE;
    }
  *page = (guint) p;
  *per_page = (guint) pp;
  return TRUE;
}

static void
tickets_list (RdWebCtx *ctx, RdWebJob *job)
{
  guint page, per_page;
  if (!paging (job, &page, &per_page))
    return;
  Filters f = {
    rd_web_query (job, "queue"), rd_web_query (job, "status"), rd_web_query (job, "assignee"),
    rd_web_query (job, "tag"), rd_web_query (job, "priority"), rd_web_query (job, "sort"), rd_web_query (job, "q"),
  };
  RdTicketQuery q = { 0 };
  g_autoptr(GError) error = NULL;
  if (!filters_to_query (&f, &q, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  guint offset = (page - 1) * per_page;
  if (f.q && *f.q)
    {
      /* Search, then the filters on the matches (the actor's queues are
       * applied by ops, so search leaks no other queue's ticket). */
      gboolean filtered = q.queue || q.has_status || q.has_priority || q.assignee || q.tag;
      g_autoptr(GPtrArray) found = rd_ops_tickets_search (ctx->ops, &job->actor, f.q,
                                                          filtered ? RD_TICKET_QUERY_LIMIT_MAX : per_page + 1,
                                                          filtered ? 0 : offset, &error);
      if (found == NULL)
        {
          rd_web_fail (job, error);
          return;
        }
      g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_ticket_free);
      guint matched = 0;
      for (guint i = 0; i < found->len; i++)
        {
          RdTicket *t = g_ptr_array_index (found, i);
          if (filtered && !ticket_matches (t, &q))
            continue;
          if (filtered && matched++ < offset)
            continue;
          if (out->len <= per_page)
            g_ptr_array_add (out, g_ptr_array_steal_index (found, i--));
        }
      gboolean more = out->len > per_page;
      if (more)
        g_ptr_array_set_size (out, per_page);
      tickets_answer (ctx, job, out, page, per_page, filtered ? (gint64) matched : -1, FALSE, more);
      return;
    }
  q.limit = per_page + 1;
  q.offset = offset;
  g_autoptr(GPtrArray) tickets = rd_ops_tickets_list (ctx->ops, &job->actor, &q, &error);
  if (tickets == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  gboolean more = tickets->len > per_page;
  if (more)
    g_ptr_array_set_size (tickets, per_page);
  gint64 total = 0;
  gboolean capped = FALSE;
  if (!rd_ops_tickets_count (ctx->ops, &job->actor, &q, COUNT_CAP, &total, &capped, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  tickets_answer (ctx, job, tickets, page, per_page, total, capped, more);
}

static void
requester_tickets (RdWebCtx *ctx, RdWebJob *job)
{
  RdTicketQuery q = { .requester = param (job, 0), .limit = 51, .sort = RD_TICKET_SORT_NUMBER };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tickets = rd_ops_tickets_list (ctx->ops, &job->actor, &q, &error);
  if (tickets == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  gboolean more = tickets->len > 50;
  if (more)
    g_ptr_array_set_size (tickets, 50);
  tickets_answer (ctx, job, tickets, 1, 50, -1, FALSE, more);
}

/* ---- one ticket ------------------------------------------------------------------- */

static void
ticket_show (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 number;
  if (!rd_web_param_number (job, 0, &number))
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicketView) v = rd_ops_ticket_view (ctx->ops, &job->actor, number, &error);
  if (v == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  gint64 version = ticket_version (v->ticket);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  rd_json_ticket_view (b, v);
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  JsonObject *o = json_node_get_object (root);
  json_object_set_int_member (o, "version", version);
  g_autoptr(JsonBuilder) pb = json_builder_new ();
  json_builder_begin_object (pb);
  rd_web_presence_json (rd_web_get_events (job->web), pb, number);
  json_builder_end_object (pb);
  g_autoptr(JsonNode) pn = json_builder_get_root (pb);
  json_object_set_member (o, "presence",
                          json_node_copy (json_object_get_member (json_node_get_object (pn), "presence")));
  set_etag (job, version);
  json_node_answer (job, SOUP_STATUS_OK, root);
}

/* The version the agent saw: If-Match "v123" or "version"; -1 when
 * neither was given. */
static gint64
seen_version (RdWebJob *job, JsonObject *o)
{
  gint64 v = rd_web_member_int (o, "version", -1);
  if (v >= 0 || job->if_match == NULL)
    return v;
  const char *p = job->if_match;
  while (*p == ' ' || *p == '"' || *p == 'W' || *p == '/')
    p++;
  if (*p == 'v')
    p++;
  return g_ascii_strtoll (p, NULL, 10);
}

/* 409 with the messages newer than @seen when the ticket moved on;
 * FALSE after answering. */
static gboolean
check_collision (RdWebCtx *ctx, RdWebJob *job, gint64 number, JsonObject *o)
{
  gint64 seen = seen_version (job, o);
  if (seen < 0 || rd_web_member_bool (o, "confirm") == 1)
    return TRUE;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicketView) v = rd_ops_ticket_view (ctx->ops, &job->actor, number, &error);
  if (v == NULL)
    {
      rd_web_fail (job, error);
      return FALSE;
    }
  gint64 now = ticket_version (v->ticket);
  if (now <= seen)
    return TRUE;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_str (b, "error", "the ticket has newer messages; read them, then send again with \"confirm\": true");
  rd_json_add_str (b, "code", "conflict");
  rd_json_add_int (b, "version", now);
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  for (guint i = 0; i < v->ticket->messages->len; i++)
    {
      RdTicketMessage *m = g_ptr_array_index (v->ticket->messages, i);
      if (m->id > seen)
        rd_json_message (b, m, v->attachments);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  set_etag (job, now);
  rd_web_json (job, SOUP_STATUS_CONFLICT, b);
  return FALSE;
}

static void
ticket_reply (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 number;
  if (!rd_web_param_number (job, 0, &number))
    return;
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL || !check_collision (ctx, job, number, o))
    return;
  JsonNode *an = json_object_get_member (o, "attachments");
  JsonArray *ids = an && JSON_NODE_HOLDS_ARRAY (an) ? json_node_get_array (an) : NULL;
  guint n = ids ? json_array_get_length (ids) : 0;
  if ((an && ids == NULL && !JSON_NODE_HOLDS_NULL (an)) || n > 20)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "attachments is an array of at most 20 upload ids");
      return;
    }
  g_autoptr(GPtrArray) uploads = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_stored_attachment_free);
  g_autoptr(GPtrArray) datas = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GArray) drafts = g_array_new (FALSE, TRUE, sizeof (RdAttachmentDraft));
  g_autoptr(GError) error = NULL;
  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (ids, i);
      if (json_node_get_value_type (e) != G_TYPE_INT64)
        {
          rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "attachments is an array of upload ids");
          return;
        }
      GBytes *data = NULL;
      RdStoredAttachment *a = rd_ops_upload_get (ctx->ops, job->agent->id, json_node_get_int (e), &data, &error);
      if (a == NULL)
        {
          rd_web_fail (job, error);
          return;
        }
      g_ptr_array_add (uploads, a);
      g_ptr_array_add (datas, data);
      RdAttachmentDraft d = { a->filename, a->content_type, data };
      g_array_append_val (drafts, d);
    }
  int reply_all = rd_web_member_bool (o, "reply_all");
  RdReplyDraft d = {
    .ticket_number = number,
    .body = rd_web_member_str (o, "text"),
    .reply_all = reply_all == 1,
    .set_status = rd_web_member_str (o, "status"),
    .attachments = (const RdAttachmentDraft *) drafts->data,
    .n_attachments = drafts->len,
  };
  if (d.body == NULL)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "text is required");
      return;
    }
  g_auto(RdReplyResult) r = { 0 };
  if (!rd_ops_reply (ctx->ops, &job->actor, &d, &r, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  rd_ops_draft_delete (ctx->ops, &job->actor, job->agent->id, number, NULL);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  rd_json_reply_result (b, number, &r);
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  json_object_set_int_member (json_node_get_object (root), "version", r.message_row);
  set_etag (job, r.message_row);
  json_node_answer (job, SOUP_STATUS_CREATED, root);
}

static void
ticket_note (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 number;
  if (!rd_web_param_number (job, 0, &number))
    return;
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL || !check_collision (ctx, job, number, o))
    return;
  g_autoptr(GError) error = NULL;
  gint64 row = 0;
  if (!rd_ops_note (ctx->ops, &job->actor, number, rd_web_member_str (o, "text"), &row, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  rd_ops_draft_delete (ctx->ops, &job->actor, job->agent->id, number, NULL);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_int (b, "number", number);
  rd_json_add_int (b, "message", row);
  rd_json_add_int (b, "version", row);
  json_builder_end_object (b);
  set_etag (job, row);
  rd_web_json (job, SOUP_STATUS_CREATED, b);
}

/* Applies {status, priority, assignee, queue, tags_add, tags_remove}
 * to one ticket, all or nothing. */
static gboolean
apply_changes (RdWebCtx *ctx, RdWebJob *job, gint64 number, JsonObject *set, GError **error)
{
  static const struct { const char *name; RdTicketField field; } fields[] = {
    { "status", RD_TICKET_FIELD_STATUS }, { "priority", RD_TICKET_FIELD_PRIORITY },
    { "assignee", RD_TICKET_FIELD_ASSIGNEE }, { "queue", RD_TICKET_FIELD_QUEUE },
  };
  gboolean ok_add, ok_remove;
  g_auto(GStrv) add = rd_web_member_strv (set, "tags_add", &ok_add);
  g_auto(GStrv) remove = rd_web_member_strv (set, "tags_remove", &ok_remove);
  if (!ok_add || !ok_remove)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "tags_add and tags_remove are arrays of tags");
      return FALSE;
    }
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (ctx->store, &tx, error))
    return FALSE;
  /* The queue last: moving a ticket out of the agent's queues ends what
   * they may change on it. */
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      JsonNode *n = json_object_get_member (set, fields[i].name);
      if (n == NULL)
        continue;
      const char *value = NULL;
      if (json_node_get_value_type (n) == G_TYPE_STRING)
        value = json_node_get_string (n);
      else if (!(JSON_NODE_HOLDS_NULL (n) && fields[i].field == RD_TICKET_FIELD_ASSIGNEE))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "%s is a string", fields[i].name);
          return FALSE;
        }
      if (!rd_ops_ticket_set (ctx->ops, &job->actor, number, fields[i].field, value, error))
        return FALSE;
    }
  if ((add || remove) && !rd_ops_ticket_tags (ctx->ops, &job->actor, number, (const char *const *) add,
                                               (const char *const *) remove, error))
    return FALSE;
  if (add == NULL && remove == NULL && !visible (ctx, job, number, error))
    return FALSE;
  return rd_store_tx_commit (&tx, error);
}

static void
ticket_patch (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 number;
  if (!rd_web_param_number (job, 0, &number))
    return;
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  g_autoptr(GError) error = NULL;
  if (!apply_changes (ctx, job, number, o, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  /* After a move to a queue the agent does not see, the ticket is gone
   * for them: answer with what they may know. */
  g_autoptr(RdTicket) t = rd_ops_ticket_peek (ctx->ops, &job->actor, number, NULL);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  if (t)
    rd_json_ticket (ctx->ops, b, t);
  else
    {
      json_builder_begin_object (b);
      rd_json_add_int (b, "number", number);
      json_builder_end_object (b);
    }
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
tickets_bulk (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  JsonNode *nn = json_object_get_member (o, "numbers");
  JsonNode *sn = json_object_get_member (o, "set");
  if (nn == NULL || !JSON_NODE_HOLDS_ARRAY (nn) || sn == NULL || !JSON_NODE_HOLDS_OBJECT (sn)
      || json_array_get_length (json_node_get_array (nn)) > 500)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "numbers (at most 500) and set are required");
      return;
    }
  JsonArray *numbers = json_node_get_array (nn);
  JsonObject *set = json_node_get_object (sn);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "results");
  json_builder_begin_array (b);
  guint failed = 0;
  for (guint i = 0; i < json_array_get_length (numbers); i++)
    {
      JsonNode *e = json_array_get_element (numbers, i);
      gint64 number = json_node_get_value_type (e) == G_TYPE_INT64 ? json_node_get_int (e) : 0;
      g_autoptr(GError) error = NULL;
      gboolean ok = number > 0 ? apply_changes (ctx, job, number, set, &error) : FALSE;
      if (!ok && error == NULL)
        g_set_error (&error, RD_ERROR, RD_ERROR_NOT_FOUND, "not a ticket number");
      json_builder_begin_object (b);
      rd_json_add_int (b, "number", number);
      rd_json_add_bool (b, "ok", ok);
      if (!ok)
        {
          failed++;
          gboolean inner = error->domain != RD_ERROR || error->code == RD_ERROR_FAILED
                           || error->code == RD_ERROR_TEMPORARY || error->code == RD_ERROR_DISK_FULL;
          rd_json_add_str (b, "error", inner ? "internal error" : error->message);
          rd_json_add_str (b, "code", error->domain != RD_ERROR ? "internal"
                                      : error->code == RD_ERROR_NOT_FOUND ? "not_found"
                                      : error->code == RD_ERROR_PERMISSION ? "forbidden"
                                      : error->code == RD_ERROR_INVALID_DATA ? "invalid"
                                      : error->code == RD_ERROR_LIMIT ? "limit" : "internal");
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  rd_json_add_int (b, "failed", failed);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

/* ---- uploads and attachments --------------------------------------------------------- */

/* "type/subtype" of safe characters, lower-cased; else octet-stream. */
static char *
clean_type (const char *type)
{
  g_autofree char *t = g_ascii_strdown (type ? type : "", -1);
  char *semi = strchr (t, ';');
  if (semi)
    *semi = '\0';
  g_strstrip (t);
  const char *slash = strchr (t, '/');
  gboolean ok = slash && slash != t && slash[1] && strlen (t) < 100;
  for (const char *p = t; ok && *p; p++)
    ok = g_ascii_isalnum (*p) || strchr ("/.+-_", *p);
  return g_strdup (ok ? t : "application/octet-stream");
}

static char *
clean_filename (const char *name)
{
  if (name == NULL || *name == '\0')
    return g_strdup ("attachment");
  g_autofree char *valid = g_utf8_make_valid (name, MIN (strlen (name), 255));
  const char *base = strrchr (valid, '/');
  base = base ? base + 1 : valid;
  const char *bs = strrchr (base, '\\');
  base = bs ? bs + 1 : base;
  GString *out = g_string_new (NULL);
  for (const char *p = base; *p; p++)
    g_string_append_c (out, (guchar) *p < 0x20 || *p == 0x7f ? '_' : *p);
  if (out->len == 0 || g_str_equal (out->str, ".") || g_str_equal (out->str, ".."))
    g_string_assign (out, "attachment");
  return g_string_free (out, FALSE);
}

static void
upload (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GBytes) data = NULL;
  g_autofree char *filename = NULL;
  g_autofree char *type = NULL;
  if (job->content_type && g_ascii_strncasecmp (job->content_type, "multipart/form-data", 19) == 0)
    {
      g_autoptr(SoupMessageHeaders) h = soup_message_headers_new (SOUP_MESSAGE_HEADERS_MULTIPART);
      soup_message_headers_replace (h, "Content-Type", job->content_type);
      g_autoptr(SoupMultipart) mp = job->body ? soup_multipart_new_from_message (h, job->body) : NULL;
      for (int i = 0; mp && i < soup_multipart_get_length (mp) && data == NULL; i++)
        {
          SoupMessageHeaders *ph = NULL;
          GBytes *pb = NULL;
          if (!soup_multipart_get_part (mp, i, &ph, &pb))
            continue;
          char *disp = NULL;
          GHashTable *dparams = NULL;
          if (!soup_message_headers_get_content_disposition (ph, &disp, &dparams))
            continue;
          const char *fn = g_hash_table_lookup (dparams, "filename");
          if (fn)
            {
              filename = g_strdup (fn);
              type = g_strdup (soup_message_headers_get_content_type (ph, NULL));
              data = g_bytes_ref (pb);
            }
          g_free (disp);
          g_hash_table_destroy (dparams);
        }
      if (data == NULL)
        {
          rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "no file part in the multipart body");
          return;
        }
    }
  else
    {
      /* ?filename= or X-Filename, percent-encoded UTF-8 (a header is
       * ASCII). */
      const char *fn = rd_web_query (job, "filename");
      filename = fn ? g_strdup (fn) : job->filename_header ? g_uri_unescape_string (job->filename_header, NULL) : NULL;
      type = g_strdup (job->content_type);
      data = job->body ? g_bytes_ref (job->body) : g_bytes_new (NULL, 0);
    }
  if (g_bytes_get_size (data) > rd_web_max_upload (job->web))
    {
      rd_web_error (job, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large", "the file is larger than [http] max_upload");
      return;
    }
  g_autofree char *name = clean_filename (filename);
  g_autofree char *ctype = clean_type (type);
  g_autoptr(GError) error = NULL;
  gint64 id = 0;
  g_autofree char *sha = NULL;
  if (!rd_ops_upload_add (ctx->ops, job->agent->id, name, ctype, data, rd_web_max_upload (job->web), &id, &sha, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", id);
  rd_json_add_str (b, "filename", name);
  rd_json_add_str (b, "content_type", ctype);
  rd_json_add_int (b, "size", (gint64) g_bytes_get_size (data));
  rd_json_add_str (b, "sha256", sha);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_CREATED, b);
}

/* Types a browser shows without running anything; every other type is
 * served as application/octet-stream (an SVG or HTML attachment never
 * renders on the desk's origin). */
static const char *
safe_type (const char *type)
{
  static const char *const safe[] = { "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
                                      "text/plain", "text/csv", "application/zip", NULL };
  g_autofree char *t = clean_type (type);
  for (guint i = 0; safe[i]; i++)
    if (g_str_equal (t, safe[i]))
      return g_str_has_prefix (safe[i], "text/") ? (g_str_equal (safe[i], "text/csv") ? "text/csv; charset=utf-8"
                                                                                       : "text/plain; charset=utf-8")
                                                 : safe[i];
  return "application/octet-stream";
}

static void
attachment_get (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 id;
  if (!rd_web_param_number (job, 0, &id))
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autoptr(RdStoredAttachment) a = rd_ops_attachment_get (ctx->ops, &job->actor, id, &data, &error);
  if (a == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autofree char *name = clean_filename (a->filename);
  /* RFC 6266: an ASCII fallback and the UTF-8 name (RFC 8187). */
  GString *ascii = g_string_new (NULL);
  for (const char *p = name; *p; p++)
    g_string_append_c (ascii, (guchar) *p >= 0x80 || *p == '"' || *p == '\\' || *p == ';' ? '_' : *p);
  g_autofree char *ascii_s = g_string_free (ascii, FALSE);
  g_autofree char *escaped = g_uri_escape_string (name, NULL, FALSE);
  g_autofree char *disp = g_strdup_printf ("attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii_s, escaped);
  rd_web_header (job, "Content-Disposition", disp);
  rd_web_header (job, "Content-Security-Policy", "sandbox; default-src 'none'");
  rd_web_header (job, "X-Frame-Options", "DENY");
  rd_web_header (job, "X-Relaydesk-SHA256", a->sha256);
  rd_web_body (job, SOUP_STATUS_OK, safe_type (a->content_type), g_steal_pointer (&data));
}

/* ---- drafts --------------------------------------------------------------------------- */

static void
draft_get (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 number;
  if (!rd_web_param_number (job, 0, &number))
    return;
  g_autoptr(GError) error = NULL;
  gint64 at = 0;
  g_autofree char *text = rd_ops_draft_get (ctx->ops, &job->actor, job->agent->id, number, &at, &error);
  if (text == NULL && error)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_int (b, "number", number);
  rd_json_add_str (b, "text", text);
  rd_json_add_time (b, "updated_at", at);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
draft_put (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 number;
  if (!rd_web_param_number (job, 0, &number))
    return;
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_draft_put (ctx->ops, &job->actor, job->agent->id, number, rd_web_member_str (o, "text"), &error))
    {
      rd_web_fail (job, error);
      return;
    }
  draft_get (ctx, job);
}

static void
draft_delete (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 number;
  if (!rd_web_param_number (job, 0, &number))
    return;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_draft_delete (ctx->ops, &job->actor, job->agent->id, number, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  rd_web_ok (job);
}

/* ---- saved views ---------------------------------------------------------------------- */

static void
views_list (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) views = rd_ops_views_list (ctx->ops, job->agent->id, &error);
  if (views == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "views");
  json_builder_begin_array (b);
  for (guint i = 0; i < views->len; i++)
    {
      RdSavedView *v = g_ptr_array_index (views, i);
      g_autoptr(JsonParser) p = json_parser_new ();
      JsonObject *fo = NULL;
      if (json_parser_load_from_data (p, v->filters, -1, NULL) && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p)))
        fo = json_node_get_object (json_parser_get_root (p));
      Filters f = { rd_web_member_str (fo, "queue"), rd_web_member_str (fo, "status"),
                    rd_web_member_str (fo, "assignee"), rd_web_member_str (fo, "tag"),
                    rd_web_member_str (fo, "priority"), NULL, NULL };
      RdTicketQuery q = { 0 };
      gint64 count = -1;
      gboolean capped = FALSE;
      if (filters_to_query (&f, &q, NULL)
          && !rd_ops_tickets_count (ctx->ops, &job->actor, &q, COUNT_CAP, &count, &capped, &error))
        {
          rd_web_fail (job, error);
          return;
        }
      json_builder_begin_object (b);
      rd_json_add_int (b, "id", v->id);
      rd_json_add_str (b, "name", v->name);
      json_builder_set_member_name (b, "filters");
      if (fo)
        json_builder_add_value (b, json_node_copy (json_parser_get_root (p)));
      else
        json_builder_add_null_value (b);
      rd_json_add_int (b, "count", MAX (count, 0));
      rd_json_add_bool (b, "count_capped", capped);
      rd_json_add_time (b, "created_at", v->created_at);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
view_add (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  const char *name = rd_web_member_str (o, "name");
  JsonNode *fn = json_object_get_member (o, "filters");
  if (name == NULL || *name == '\0' || strlen (name) > 100 || fn == NULL || !JSON_NODE_HOLDS_OBJECT (fn))
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "name (1-100 bytes) and filters (an object) are required");
      return;
    }
  JsonObject *fo = json_node_get_object (fn);
  Filters f = { rd_web_member_str (fo, "queue"), rd_web_member_str (fo, "status"), rd_web_member_str (fo, "assignee"),
                rd_web_member_str (fo, "tag"), rd_web_member_str (fo, "priority"), NULL, NULL };
  RdTicketQuery q = { 0 };
  g_autoptr(GError) error = NULL;
  if (!filters_to_query (&f, &q, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  /* Only the known filters are kept. */
  g_autoptr(JsonBuilder) fb = json_builder_new ();
  json_builder_begin_object (fb);
  const char *keys[] = { "queue", "status", "assignee", "tag", "priority" };
  const char *vals[] = { f.queue, f.status, f.assignee, f.tag, f.priority };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (vals[i] && *vals[i])
      rd_json_add_str (fb, keys[i], vals[i]);
  json_builder_end_object (fb);
  g_autofree char *filters = rd_json_to_string (fb, FALSE);
  gint64 id = 0;
  if (!rd_ops_view_put (ctx->ops, job->agent->id, name, filters, &id, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", id);
  rd_json_add_str (b, "name", name);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_CREATED, b);
}

static void
view_delete (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 id;
  if (!rd_web_param_number (job, 0, &id))
    return;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_view_delete (ctx->ops, job->agent->id, id, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  rd_web_ok (job);
}

/* ---- HTML mail for the sandboxed frame ------------------------------------------------- */

static GMimeObject *
find_html (GMimeObject *part, guint depth)
{
  if (part == NULL || depth > 20)
    return NULL;
  if (GMIME_IS_MESSAGE_PART (part))
    return NULL;   /* an attached message is an attachment */
  if (GMIME_IS_MULTIPART (part))
    {
      GMimeMultipart *mp = GMIME_MULTIPART (part);
      for (int i = 0; i < g_mime_multipart_get_count (mp); i++)
        {
          GMimeObject *found = find_html (g_mime_multipart_get_part (mp, i), depth + 1);
          if (found)
            return found;
        }
      return NULL;
    }
  GMimeContentType *ct = g_mime_object_get_content_type (part);
  const char *disp = g_mime_object_get_disposition (part);
  if (ct && g_mime_content_type_is_type (ct, "text", "html") && (disp == NULL || g_ascii_strcasecmp (disp, "attachment") != 0))
    return part;
  return NULL;
}

/* The text of the first text/html part of @raw, in UTF-8; NULL when none. */
static char *
html_of (GBytes *raw)
{
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer (data, len);
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  GMimeMessage *msg = g_mime_parser_construct_message (parser, NULL);
  g_object_unref (parser);
  g_object_unref (stream);
  if (msg == NULL)
    return NULL;
  GMimeObject *part = find_html (g_mime_message_get_mime_part (msg), 0);
  char *text = part && GMIME_IS_TEXT_PART (part) ? g_mime_text_part_get_text (GMIME_TEXT_PART (part)) : NULL;
  g_object_unref (msg);
  return text;
}

static void
ticket_html (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 number;
  if (!rd_web_param_number (job, 0, &number))
    return;
  guint64 want = 0;
  const char *ms = rd_web_query (job, "message");
  if (ms && !g_ascii_string_to_unsigned (ms, 10, 1, G_MAXINT64, &want, NULL))
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "message is a message id");
      return;
    }
  gboolean images = g_strcmp0 (rd_web_query (job, "images"), "1") == 0;
  g_autoptr(GError) error = NULL;
  gint64 row = (gint64) want;
  g_autoptr(RdSpooled) sp = rd_ops_message_spooled (ctx->ops, &job->actor, number, &row, &error);
  if (sp == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autofree char *html = html_of (sp->raw);
  if (html == NULL)
    {
      rd_web_error (job, SOUP_STATUS_NOT_FOUND, "not_found", "no HTML part");
      return;
    }
  guint blocked = 0;
  char *clean = rd_web_sanitize_html (html, strlen (html), images, &blocked);
  /* Its own policy: nothing runs, nothing loads but inline styles and,
   * when the agent asked, images. Framed only by the desk. */
  rd_web_header (job, "Content-Security-Policy",
                 images ? "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                          "style-src 'unsafe-inline'; img-src data: https: http:; frame-ancestors 'self'"
                        : "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                          "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'");
  rd_web_header (job, "X-Frame-Options", "SAMEORIGIN");
  g_autofree char *nb = g_strdup_printf ("%u", blocked);
  rd_web_header (job, "X-Relaydesk-Blocked-Images", nb);
  rd_web_body (job, SOUP_STATUS_OK, "text/html; charset=utf-8", g_bytes_new_take (clean, strlen (clean)));
}

const RdRoute rd_web_ticket_routes[] = {
  { "GET", "/api/v1/queues", 0, queues_list },
  { "GET", "/api/v1/tickets", 0, tickets_list },
  { "POST", "/api/v1/tickets/bulk", 0, tickets_bulk },
  { "GET", "/api/v1/tickets/{}", 0, ticket_show },
  { "PATCH", "/api/v1/tickets/{}", 0, ticket_patch },
  { "POST", "/api/v1/tickets/{}/reply", 0, ticket_reply },
  { "POST", "/api/v1/tickets/{}/notes", 0, ticket_note },
  { "GET", "/api/v1/tickets/{}/draft", 0, draft_get },
  { "PUT", "/api/v1/tickets/{}/draft", 0, draft_put },
  { "DELETE", "/api/v1/tickets/{}/draft", 0, draft_delete },
  { "GET", "/api/v1/tickets/{}/html", 0, ticket_html },
  { "POST", "/api/v1/uploads", RD_ROUTE_RAW_BODY, upload },
  { "GET", "/api/v1/attachments/{}", 0, attachment_get },
  { "GET", "/api/v1/views", 0, views_list },
  { "POST", "/api/v1/views", 0, view_add },
  { "DELETE", "/api/v1/views/{}", 0, view_delete },
  { "GET", "/api/v1/requesters/{}/tickets", 0, requester_tickets },
  { NULL, NULL, 0, NULL }
};
