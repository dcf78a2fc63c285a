/* relaydesk — web: live updates (server-sent events) and presence.
 *
 * GET /api/v1/events is a text/event-stream (HTML Living Standard,
 * "Server-sent events"): events "ticket.new" and "ticket.updated"
 * (data: {"ticket": {...}} as in lists) and "presence" (data:
 * {"number": N, "presence": [{"email", "name", "state"}]}), each only to
 * agents who see the ticket's queue; a comment line every 15 s keeps
 * proxies from closing the stream. Each poll also checks every stream's
 * session or token again before its events go out: a stream whose
 * credential ended gets "session.ended" and its response ends; the
 * others see their agent's queues of now.
 *
 * Changes are found by polling the store once a second while at least
 * one stream is open (a pool thread, like every query): tickets updated
 * since the last poll, compared with what the previous polls saw. That
 * finds mail from every path (SMTP, `relaydesk deliver`, the CLI, another
 * node) within two seconds without hooks in the layers below.
 *
 * Presence lives in memory (one serve): POST .../presence {state:
 * viewing|replying|left} marks an agent on a ticket for 45 s; the UI
 * repeats it while the ticket is open.
 */
#include "web-private.h"

#include <sodium.h>
#include <string.h>

#define PRESENCE_TTL 45
#define POLL_MS 1000
#define PING_S 15
#define SEEN_KEEP_S 30
#define CLIENTS_MAX 1000
#define CLIENTS_PER_AGENT_MAX 20

typedef struct {
  char *email;
  char *name;
  char *state;
  gint64 expires;
} Viewer;

typedef struct {
  RdWebEvents *ev;
  SoupServerMessage *msg;
  char *email;
  GStrv queues;              /* NULL: every queue (admin) */
  gulong finished_id;
  guint64 id;
  char *session_token;       /* the credential it came with, checked */
  char *bearer;              /* again before every broadcast */
  gboolean ended;
} Client;

/* A stream's credential, checked again on the poller's thread: the
 * session may have ended (logout, expiry, password change), the token
 * been revoked, the agent removed or given other queues. */
typedef struct {
  guint64 id;
  char *session_token;
  char *bearer;
  gboolean checked;          /* FALSE: the store could not say (keep as is) */
  gboolean ok;
  GStrv queues;              /* when ok: NULL for an admin */
} Recheck;

typedef struct {
  char *type;
  char *queue;
  char *data;
} Event;

struct _RdWebEvents {
  RdWeb *web;
  GMutex lock;                /* guards presence */
  GHashTable *presence;       /* gint64* number -> GPtrArray of Viewer* */
  GHashTable *queues;         /* gint64* number -> char* queue (for presence events) */
  GList *clients;             /* Client*, main loop */
  guint tick_source;
  guint ticks;
  gboolean polling;
  /* the poller's own state (one poll at a time, on a pool thread) */
  gint64 since;
  GHashTable *seen;           /* gint64* number -> char* signature */
  gboolean primed;
  guint64 next_client_id;
};

static void
viewer_free (Viewer *v)
{
  g_free (v->email);
  g_free (v->name);
  g_free (v->state);
  g_free (v);
}

static void
event_free (Event *e)
{
  g_free (e->type);
  g_free (e->queue);
  g_free (e->data);
  g_free (e);
}

static void
secret_free (char *s)
{
  if (s)
    sodium_memzero (s, strlen (s));
  g_free (s);
}

static void
recheck_free (Recheck *r)
{
  secret_free (r->session_token);
  secret_free (r->bearer);
  g_strfreev (r->queues);
  g_free (r);
}

static void
client_free (Client *c)
{
  secret_free (c->session_token);
  secret_free (c->bearer);
  g_free (c->email);
  g_strfreev (c->queues);
  g_object_unref (c->msg);
  g_free (c);
}

/* ---- presence ------------------------------------------------------------------ */

void
rd_web_presence_json (RdWebEvents *ev, JsonBuilder *b, gint64 number)
{
  json_builder_set_member_name (b, "presence");
  json_builder_begin_array (b);
  g_mutex_lock (&ev->lock);
  GPtrArray *vs = g_hash_table_lookup (ev->presence, &number);
  gint64 now = g_get_monotonic_time () / G_USEC_PER_SEC;
  for (guint i = 0; vs && i < vs->len; i++)
    {
      Viewer *v = g_ptr_array_index (vs, i);
      if (v->expires <= now)
        continue;
      json_builder_begin_object (b);
      rd_json_add_str (b, "email", v->email);
      rd_json_add_str (b, "name", v->name);
      rd_json_add_str (b, "state", v->state);
      json_builder_end_object (b);
    }
  g_mutex_unlock (&ev->lock);
  json_builder_end_array (b);
}

gboolean
rd_web_presence_any (RdWebEvents *ev, gint64 number)
{
  g_mutex_lock (&ev->lock);
  GPtrArray *vs = g_hash_table_lookup (ev->presence, &number);
  gboolean any = vs && vs->len > 0;
  g_mutex_unlock (&ev->lock);
  return any;
}

/* Sets (or with "left" removes) @email on ticket @number. */
static void
presence_set (RdWebEvents *ev, gint64 number, const char *queue, const char *email, const char *name,
              const char *state)
{
  gint64 now = g_get_monotonic_time () / G_USEC_PER_SEC;
  g_mutex_lock (&ev->lock);
  GPtrArray *vs = g_hash_table_lookup (ev->presence, &number);
  if (vs == NULL && !g_str_equal (state, "left"))
    {
      vs = g_ptr_array_new_with_free_func ((GDestroyNotify) viewer_free);
      g_hash_table_insert (ev->presence, g_memdup2 (&number, sizeof number), vs);
      g_hash_table_insert (ev->queues, g_memdup2 (&number, sizeof number), g_strdup (queue));
    }
  Viewer *found = NULL;
  for (guint i = 0; vs && i < vs->len; i++)
    {
      Viewer *v = g_ptr_array_index (vs, i);
      if (g_str_equal (v->email, email))
        {
          if (g_str_equal (state, "left"))
            g_ptr_array_remove_index (vs, i);
          else
            found = v;
          break;
        }
    }
  if (!g_str_equal (state, "left") && vs->len < 100)
    {
      if (found == NULL)
        {
          found = g_new0 (Viewer, 1);
          found->email = g_strdup (email);
          found->name = g_strdup (name);
          g_ptr_array_add (vs, found);
        }
      g_free (found->state);
      found->state = g_strdup (state);
      found->expires = now + PRESENCE_TTL;
    }
  g_mutex_unlock (&ev->lock);
}

/* ---- streams --------------------------------------------------------------------- */

static void
client_send (Client *c, const char *text)
{
  if (c->ended)
    return;
  SoupMessageBody *body = soup_server_message_get_response_body (c->msg);
  soup_message_body_append (body, SOUP_MEMORY_COPY, text, strlen (text));
  soup_server_message_unpause (c->msg);
}

static gboolean
client_sees (Client *c, const char *queue)
{
  if (c->ended)
    return FALSE;
  return c->queues == NULL || (queue && g_strv_contains ((const char *const *) c->queues, queue));
}

static void
broadcast (RdWebEvents *ev, const char *type, const char *queue, const char *data)
{
  g_autofree char *text = g_strdup_printf ("event: %s\ndata: %s\n\n", type, data);
  for (GList *l = ev->clients; l; l = l->next)
    if (client_sees (l->data, queue))
      client_send (l->data, text);
}

static void
broadcast_presence (RdWebEvents *ev, gint64 number, const char *queue)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_int (b, "number", number);
  rd_web_presence_json (ev, b, number);
  json_builder_end_object (b);
  g_autofree char *data = rd_json_to_string (b, FALSE);
  broadcast (ev, "presence", queue, data);
}

static void
client_finished (SoupServerMessage *msg, gpointer data)
{
  Client *c = data;
  RdWebEvents *ev = c->ev;
  ev->clients = g_list_remove (ev->clients, c);
  g_signal_handler_disconnect (c->msg, c->finished_id);
  client_free (c);
}

void
rd_web_events_stream (RdWebEvents *ev, RdWebJob *job)
{
  SoupServerMessage *msg = job->msg;
  /* Per agent too: one agent's tabs (or script) cannot take every slot. */
  guint mine = 0;
  for (GList *l = ev->clients; l; l = l->next)
    mine += !((Client *) l->data)->ended && g_str_equal (((Client *) l->data)->email, job->agent->email);
  if (g_list_length (ev->clients) >= CLIENTS_MAX || mine >= CLIENTS_PER_AGENT_MAX)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      rd_json_add_str (b, "error", "too many event streams");
      rd_json_add_str (b, "code", "limit");
      json_builder_end_object (b);
      g_autofree char *s = rd_json_to_string (b, FALSE);
      soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, s, strlen (s));
      rd_web_security_headers (ev->web, msg, TRUE);
      soup_server_message_unpause (msg);
      return;
    }
  Client *c = g_new0 (Client, 1);
  c->ev = ev;
  c->msg = g_object_ref (msg);
  c->email = g_strdup (job->agent->email);
  c->queues = job->actor.queues ? g_strdupv ((GStrv) job->actor.queues) : NULL;
  c->id = ++ev->next_client_id;
  if (job->bearer)
    c->bearer = g_strdup (job->bearer);
  else
    c->session_token = g_strdup (job->session_token);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (h, "Content-Type", "text/event-stream; charset=utf-8");
  soup_message_headers_replace (h, "X-Accel-Buffering", "no");
  soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
  rd_web_security_headers (ev->web, msg, TRUE);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  c->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (client_finished), c);
  ev->clients = g_list_prepend (ev->clients, c);
  client_send (c, "retry: 2000\n: relaydesk events\n\n");
}

/* ---- the poller ------------------------------------------------------------------- */

typedef struct {
  RdWebEvents *ev;
  GPtrArray *events;   /* Event* */
  GPtrArray *rechecks; /* Recheck*, one per open stream */
} Poll;

/* On the pool thread: who each stream's credential is now. */
static void
recheck_run (RdWebCtx *ctx, GPtrArray *rechecks)
{
  for (guint i = 0; i < rechecks->len; i++)
    {
      Recheck *r = g_ptr_array_index (rechecks, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(RdAgent) a = r->bearer ? rd_ops_token_agent (ctx->ops, r->bearer, &error)
                                       : rd_ops_session_agent (ctx->ops, r->session_token, NULL, &error);
      if (a == NULL && !g_error_matches (error, RD_ERROR, RD_ERROR_PERMISSION))
        continue;   /* the store is busy: the stream stays as it was */
      r->checked = TRUE;
      r->ok = a != NULL;
      if (a && !a->admin)
        r->queues = g_strdupv (a->queues ? a->queues : (GStrv) (const char *const[]) { NULL });
    }
}

/* On the loop, before the poll's events go out: a stream whose
 * credential no longer works ends; the others get their queues of now. */
static void
recheck_apply (RdWebEvents *ev, GPtrArray *rechecks)
{
  for (guint i = 0; i < rechecks->len; i++)
    {
      Recheck *r = g_ptr_array_index (rechecks, i);
      if (!r->checked)
        continue;
      for (GList *l = ev->clients; l; l = l->next)
        {
          Client *c = l->data;
          if (c->id != r->id || c->ended)
            continue;
          if (r->ok)
            {
              g_strfreev (c->queues);
              c->queues = g_steal_pointer (&r->queues);
            }
          else
            {
              rd_log (RD_LOG_INFO, "web.events", "result=ended agent=%s reason=credential", c->email);
              client_send (c, "event: session.ended\ndata: {}\n\n");
              c->ended = TRUE;
              soup_message_body_complete (soup_server_message_get_response_body (c->msg));
              soup_server_message_unpause (c->msg);
            }
          break;
        }
    }
}

static char *
signature (const RdTicket *t)
{
  g_autofree char *tags = g_strjoinv (",", t->tags);
  return g_strdup_printf ("%" G_GINT64_FORMAT "/%u/%d/%d/%s/%s/%s", t->updated_at, t->message_count, t->status,
                          t->priority, t->assignee ? t->assignee : "", t->queue, tags);
}

static void
poll_run (RdWebCtx *ctx, RdWebJob *job)
{
  Poll *p = job->data;
  RdWebEvents *ev = p->ev;
  recheck_run (ctx, p->rechecks);
  static const RdActor system = { "web-events", TRUE, NULL };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  /* The last few seconds always: a change committed late (a long
   * transaction) carries an earlier updated_at than one already seen.
   * What was seen with the same signature is not sent again. */
  gint64 since = ev->since ? MIN (ev->since - 1, now - 5) : now - 2;
  RdTicketQuery q = { .since = since, .sort = RD_TICKET_SORT_UPDATED, .limit = 200 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tickets = rd_ops_tickets_list (ctx->ops, &system, &q, &error);
  if (tickets == NULL)
    {
      rd_log (RD_LOG_WARN, "web.events", "error=\"%s\"", error->message);
      return;
    }
  for (guint i = 0; i < tickets->len; i++)
    {
      RdTicket *t = g_ptr_array_index (tickets, i);
      g_autofree char *sig = signature (t);
      const char *old = g_hash_table_lookup (ev->seen, &t->number);
      if (old && g_str_equal (old, sig))
        continue;
      if (ev->primed)
        {
          Event *e = g_new0 (Event, 1);
          e->type = g_strdup (old == NULL && t->created_at >= q.since ? "ticket.new" : "ticket.updated");
          e->queue = g_strdup (t->queue);
          g_autoptr(JsonBuilder) b = json_builder_new ();
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "ticket");
          rd_json_ticket (ctx->ops, b, t);
          json_builder_end_object (b);
          e->data = rd_json_to_string (b, FALSE);
          g_ptr_array_add (p->events, e);
        }
      g_hash_table_insert (ev->seen, g_memdup2 (&t->number, sizeof t->number), g_steal_pointer (&sig));
      if (t->updated_at > ev->since)
        ev->since = t->updated_at;
    }
  /* Forget what is old enough never to come back in a poll. */
  if (g_hash_table_size (ev->seen) > 5000)
    g_hash_table_remove_all (ev->seen);
  if (ev->since == 0 || ev->since < now - SEEN_KEEP_S)
    ev->since = now - 2;
  ev->primed = TRUE;
}

static void
poll_done (RdWeb *web, RdWebJob *job)
{
  Poll *p = job->data;
  RdWebEvents *ev = p->ev;
  recheck_apply (ev, p->rechecks);
  g_ptr_array_unref (p->rechecks);
  for (guint i = 0; i < p->events->len; i++)
    {
      Event *e = g_ptr_array_index (p->events, i);
      broadcast (ev, e->type, e->queue, e->data);
    }
  g_ptr_array_unref (p->events);
  g_free (p);
  ev->polling = FALSE;
}

static void
prune_presence (RdWebEvents *ev)
{
  gint64 now = g_get_monotonic_time () / G_USEC_PER_SEC;
  g_autoptr(GArray) changed = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_mutex_lock (&ev->lock);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, ev->presence);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      GPtrArray *vs = v;
      guint before = vs->len;
      for (guint i = vs->len; i-- > 0;)
        if (((Viewer *) g_ptr_array_index (vs, i))->expires <= now)
          g_ptr_array_remove_index (vs, i);
      if (vs->len != before)
        g_array_append_val (changed, *(gint64 *) k);
    }
  g_mutex_unlock (&ev->lock);
  for (guint i = 0; i < changed->len; i++)
    {
      gint64 n = g_array_index (changed, gint64, i);
      g_mutex_lock (&ev->lock);
      g_autofree char *queue = g_strdup (g_hash_table_lookup (ev->queues, &n));
      GPtrArray *vs = g_hash_table_lookup (ev->presence, &n);
      gboolean empty = vs && vs->len == 0;
      g_mutex_unlock (&ev->lock);
      broadcast_presence (ev, n, queue);
      if (empty)
        {
          g_mutex_lock (&ev->lock);
          g_hash_table_remove (ev->presence, &n);
          g_hash_table_remove (ev->queues, &n);
          g_mutex_unlock (&ev->lock);
        }
    }
}

static gboolean
tick (gpointer data)
{
  RdWebEvents *ev = data;
  ev->ticks++;
  if (ev->clients && !ev->polling)
    {
      ev->polling = TRUE;
      Poll *p = g_new0 (Poll, 1);
      p->ev = ev;
      p->events = g_ptr_array_new_with_free_func ((GDestroyNotify) event_free);
      p->rechecks = g_ptr_array_new_with_free_func ((GDestroyNotify) recheck_free);
      for (GList *l = ev->clients; l; l = l->next)
        {
          Client *c = l->data;
          if (c->ended)
            continue;
          Recheck *r = g_new0 (Recheck, 1);
          r->id = c->id;
          r->session_token = g_strdup (c->session_token);
          r->bearer = g_strdup (c->bearer);
          g_ptr_array_add (p->rechecks, r);
        }
      rd_web_run_internal (ev->web, poll_run, poll_done, p);
    }
  if (ev->ticks % PING_S == 0)
    for (GList *l = ev->clients; l; l = l->next)
      client_send (l->data, ": ping\n\n");
  if (ev->ticks % 5 == 0)
    prune_presence (ev);
  return G_SOURCE_CONTINUE;
}

RdWebEvents *
rd_web_events_new (RdWeb *web)
{
  RdWebEvents *ev = g_new0 (RdWebEvents, 1);
  ev->web = web;
  g_mutex_init (&ev->lock);
  ev->presence = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  ev->queues = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  ev->seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  return ev;
}

void
rd_web_events_start (RdWebEvents *ev)
{
  ev->tick_source = g_timeout_add (POLL_MS, tick, ev);
}

void
rd_web_events_stop (RdWebEvents *ev)
{
  if (ev && ev->tick_source)
    {
      g_source_remove (ev->tick_source);
      ev->tick_source = 0;
    }
}

void
rd_web_events_free (RdWebEvents *ev)
{
  if (ev == NULL)
    return;
  rd_web_events_stop (ev);
  while (ev->clients)
    {
      Client *c = ev->clients->data;
      ev->clients = g_list_delete_link (ev->clients, ev->clients);
      g_signal_handler_disconnect (c->msg, c->finished_id);
      client_free (c);
    }
  g_hash_table_unref (ev->presence);
  g_hash_table_unref (ev->queues);
  g_hash_table_unref (ev->seen);
  g_mutex_clear (&ev->lock);
  g_free (ev);
}

/* ---- routes ------------------------------------------------------------------------ */

static void
events_route (RdWebCtx *ctx, RdWebJob *job)
{
  /* Authenticated: finish_job turns the message into a stream. */
}

static void
presence_after (RdWeb *web, RdWebJob *job)
{
  if (job->status == SOUP_STATUS_OK)
    broadcast_presence (rd_web_get_events (web), job->number, job->queue);
}

static void
presence_route (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 number;
  if (!rd_web_param_number (job, 0, &number))
    return;
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  const char *state = rd_web_member_str (o, "state");
  if (state == NULL || !(g_str_equal (state, "viewing") || g_str_equal (state, "replying") || g_str_equal (state, "left")))
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "state is viewing, replying or left");
      return;
    }
  g_autoptr(GError) error = NULL;
  g_autoptr(RdTicket) t = rd_ops_ticket_peek (ctx->ops, &job->actor, number, &error);
  if (t == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  RdWebEvents *ev = rd_web_get_events (job->web);
  presence_set (ev, number, t->queue, job->agent->email, job->agent->name, state);
  job->number = number;
  job->queue = g_strdup (t->queue);
  job->after = presence_after;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_int (b, "number", number);
  rd_web_presence_json (ev, b, number);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

const RdRoute rd_web_event_routes[] = {
  { "GET", "/api/v1/events", RD_ROUTE_STREAM, events_route },
  { "POST", "/api/v1/tickets/{}/presence", 0, presence_route },
  { NULL, NULL, 0, NULL }
};
