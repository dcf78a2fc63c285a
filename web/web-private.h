/* relaydesk — web internals shared by the web/ files.
 *
 * A request is a job (RdWebJob): the main loop copies what it needs out
 * of the SoupServerMessage (method, path, query, body, the headers that
 * matter), pauses the message and queues the job on the thread pool; a
 * pool thread authenticates it, runs the route's function against its
 * own RdOps (its own connection) and fills the answer; back on the main
 * loop the answer is written and the message unpaused. Route functions
 * never touch the SoupServerMessage.
 */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include "web.h"
#include "ops.h"
#include "ops-agents.h"
#include "json.h"
#include "rd-common.h"

G_BEGIN_DECLS

typedef struct _RdWebJob RdWebJob;

/* What each pool thread holds. */
typedef struct {
  RdStore *store;
  RdOps *ops;
} RdWebCtx;

typedef enum {
  RD_ROUTE_PUBLIC = 1 << 0,    /* no login needed */
  RD_ROUTE_ADMIN = 1 << 1,     /* 403 for agents */
  RD_ROUTE_STREAM = 1 << 2,    /* server-sent events */
  RD_ROUTE_RAW_BODY = 1 << 3,  /* the body is not JSON (uploads) */
  RD_ROUTE_NO_STORE = 1 << 4,  /* needs no database (runs on the loop's side) */
} RdRouteFlags;

typedef void (*RdRouteFn) (RdWebCtx *ctx, RdWebJob *job);

typedef struct {
  const char *method;
  const char *pattern;   /* "/api/v1/tickets/{}/reply": {} captures a segment */
  RdRouteFlags flags;
  RdRouteFn fn;
} RdRoute;

/* A main-loop step after the answer (presence, events): runs with the
 * job before it is freed. */
typedef void (*RdWebAfter) (RdWeb *web, RdWebJob *job);

struct _RdWebJob {
  RdWeb *web;
  SoupServerMessage *msg;       /* main loop only */
  const RdRoute *route;
  char *method;
  char *path;
  GPtrArray *params;            /* char*: the {} segments, unescaped */
  GHashTable *query;            /* char* -> char*, may be NULL */
  GBytes *body;
  char *content_type;
  char *session_token;          /* the rd_session cookie */
  char *bearer;                 /* Authorization: Bearer */
  char *csrf_header;            /* X-CSRF-Token */
  char *if_match;
  char *filename_header;        /* X-Filename (raw uploads) */
  char *client_addr;
  gboolean tls;
  /* filled by authentication */
  RdAgent *agent;
  RdActor actor;
  char *session_csrf;
  /* the answer */
  guint status;
  char *resp_type;
  GBytes *resp_body;
  GPtrArray *resp_headers;      /* name, value, name, value ... */
  RdWebAfter after;
  gint64 number;                /* the ticket concerned (after) */
  char *queue;                  /* its queue (after) */
  char *text;                   /* a word for after (presence state) */
  gpointer data;                /* internal jobs' data */
};

/* ---- answers (any thread, on the job) ------------------------------------- */

/* The builder's root as the JSON body with @status. */
void rd_web_json (RdWebJob *job, guint status, JsonBuilder *b);
/* Adds one item of a list (an ops/json.c rd_json_<entity>). */
typedef void (*RdWebJsonItemFunc) (JsonBuilder *b, gconstpointer item);
/* {"@member": [each of @items via @item]} with @status; when @items is
 * NULL, answers rd_web_fail (@error) instead. */
void rd_web_json_list (RdWebJob *job, guint status, const char *member, GPtrArray *items, RdWebJsonItemFunc item,
                       const GError *error);
/* {"ok": true} with 200. */
void rd_web_ok (RdWebJob *job);
/* {"error": @text, "code": @code} with @status. */
void rd_web_error (RdWebJob *job, guint status, const char *code, const char *text);
/* Maps an error of the layers below to its status and code: NOT_FOUND
 * 404, INVALID_DATA 400, PERMISSION 403, LIMIT 413/422, CONFLICT 409,
 * TEMPORARY and DISK_FULL 503; anything else 500 with no detail (the
 * detail is logged). */
void rd_web_fail (RdWebJob *job, const GError *error);
void rd_web_header (RdWebJob *job, const char *name, const char *value);
/* A body that is not JSON. (@body transfer full) */
void rd_web_body (RdWebJob *job, guint status, const char *type, GBytes *body);

/* ---- requests ---------------------------------------------------------------- */

/* The JSON object of the body; NULL after answering 400. (transfer full) */
JsonObject *rd_web_body_object (RdWebJob *job);
/* Members, or NULL/-1/@dflt when absent or of another type. */
const char *rd_web_member_str (JsonObject *o, const char *name);
gint64 rd_web_member_int (JsonObject *o, const char *name, gint64 dflt);
int rd_web_member_bool (JsonObject *o, const char *name);
/* An array member of strings (NULL-terminated, transfer full), NULL when
 * absent; @ok FALSE when present but not all strings. */
GStrv rd_web_member_strv (JsonObject *o, const char *name, gboolean *ok);
/* A path parameter as a positive number; 404 answered when it is not. */
gboolean rd_web_param_number (RdWebJob *job, guint i, gint64 *out);
const char *rd_web_query (RdWebJob *job, const char *name);

/* ---- the routes of each file ------------------------------------------------ */

extern const RdRoute rd_web_session_routes[];   /* api-session.c */
extern const RdRoute rd_web_ticket_routes[];    /* api-tickets.c */
extern const RdRoute rd_web_admin_routes[];     /* api-admin.c */
extern const RdRoute rd_web_event_routes[];     /* events.c */

/* ---- state shared with the loop (server.c) ---------------------------------- */

RdConfig *rd_web_config (RdWeb *web);
/* The headers every response carries (CSP, nosniff, frames, HSTS under
 * TLS; with @api Cache-Control: no-store). Main loop. */
void rd_web_security_headers (RdWeb *web, SoupServerMessage *msg, gboolean api);
/* Login throttling: TRUE when @email or @addr had too many failures
 * lately (then @retry_after gets seconds); record_failure counts one. */
gboolean rd_web_login_throttled (RdWeb *web, const char *email, const char *addr, gint64 *retry_after);
void rd_web_login_failure (RdWeb *web, const char *email, const char *addr);
void rd_web_login_success (RdWeb *web, const char *email);
gint64 rd_web_session_lifetime (RdWeb *web);
guint64 rd_web_max_upload (RdWeb *web);
/* Runs the rules reload callback on the main loop. */
void rd_web_rules_reload (RdWeb *web);

/* ---- presence and events (events.c) ------------------------------------------ */

typedef struct _RdWebEvents RdWebEvents;
RdWebEvents *rd_web_events_new (RdWeb *web);
/* Stops the timer (no more polls queued); the streams stay. */
void rd_web_events_stop (RdWebEvents *ev);
void rd_web_events_free (RdWebEvents *ev);
RdWebEvents *rd_web_get_events (RdWeb *web);
/* Starts an event stream on @job's message (main loop). */
void rd_web_events_stream (RdWebEvents *ev, RdWebJob *job);
/* The viewers of ticket @number as a JSON array member "presence" (any
 * thread). */
void rd_web_presence_json (RdWebEvents *ev, JsonBuilder *b, gint64 number);
/* TRUE when someone is marked on ticket @number (cheap; any thread). */
gboolean rd_web_presence_any (RdWebEvents *ev, gint64 number);
/* Starts polling the store for changed tickets (every second while
 * someone listens). */
void rd_web_events_start (RdWebEvents *ev);
/* Queues @fn on the pool with a job that has no message (internal work). */
void rd_web_run_internal (RdWeb *web, RdRouteFn fn, RdWebAfter after, gpointer data);

/* ---- HTML mail for the sandboxed frame (sanitize.c) --------------------------- */

/* A whole HTML document made safe: only an allowlist of elements and
 * attributes, no script, style sheets or event handlers, links only to
 * http(s) and mailto, opened in a new window; remote images replaced by
 * a placeholder unless @images. @blocked gets the number of remote
 * images held back. (transfer full) */
char *rd_web_sanitize_html (const char *html, gsize len, gboolean images, guint *blocked);

G_END_DECLS
