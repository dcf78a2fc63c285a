/* relaydesk — web: the HTTP server, routing, authentication, the
 * thread pool and the security headers (see web.h, web-private.h).
 *
 * Security, in one place for every response:
 *   - Content-Security-Policy: default-src 'self', no inline script, no
 *     framing by others (frame-ancestors), object-src 'none';
 *     X-Content-Type-Options: nosniff; X-Frame-Options; Referrer-Policy;
 *     Strict-Transport-Security under TLS;
 *   - /api/v1: Cache-Control: no-store; errors {"error", "code"} without
 *     internals (a 500 says "internal error", the log has the detail);
 *   - authentication: the rd_session cookie (HttpOnly, SameSite=Strict,
 *     Secure under TLS) or Authorization: Bearer (API tokens); a
 *     state-changing method (POST, PUT, PATCH, DELETE) with a session
 *     needs X-CSRF-Token equal to the session's token; GET never
 *     changes state; JSON bodies must say Content-Type: application/json
 *     (a cross-site form cannot);
 *   - bodies: Content-Length required, at most [http] max_upload (413),
 *     refused before they are read.
 */
#include "web-private.h"
#include "web-resources.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define JSON_BODY_MAX (2 * 1024 * 1024)
#define JSON_DEPTH_MAX 64
#define ANONYMOUS_BODY_MAX (64 * 1024)
#define LOGIN_TABLE_MAX 100000
#define API_THREAD_NICE 5   /* added to the process's nice value */

struct _RdWeb {
  RdConfig *config;
  RdMetricsHttp *metrics;
  SoupServer *server;
  gboolean tls;
  char *url;
  GMainContext *main_ctx;
  GThreadPool *pool;
  GMutex ctx_lock;
  GPtrArray *ctxs;               /* RdWebCtx*, one per pool thread */
  GPtrArray *routes;             /* const RdRoute* */
  GMutex login_lock;
  GHashTable *failures;          /* "a:email" / "i:addr" -> GArray of gint64 times */
  gint64 failures_account, failures_address, login_window;
  gint64 session_lifetime;
  guint idle_timeout;
  guint64 max_upload;
  guint threads;
  void (*reload) (gpointer);
  gpointer reload_data;
  RdWebEvents *events;
  gboolean started;
};

static GPrivate ctx_key;

RdConfig *
rd_web_config (RdWeb *web)
{
  return web->config;
}

gint64
rd_web_session_lifetime (RdWeb *web)
{
  return web->session_lifetime;
}

guint64
rd_web_max_upload (RdWeb *web)
{
  return web->max_upload;
}

RdWebEvents *
rd_web_get_events (RdWeb *web)
{
  return web->events;
}

void
rd_web_set_rules_reload (RdWeb *web, void (*reload) (gpointer data), gpointer data)
{
  web->reload = reload;
  web->reload_data = data;
}

static gboolean
reload_idle (gpointer data)
{
  RdWeb *web = data;
  if (web->reload)
    web->reload (web->reload_data);
  return G_SOURCE_REMOVE;
}

void
rd_web_rules_reload (RdWeb *web)
{
  g_main_context_invoke (web->main_ctx, reload_idle, web);
}

/* ---- login throttling ----------------------------------------------------------- */

static guint
recent_failures (RdWeb *web, const char *key, gint64 now)
{
  GArray *a = g_hash_table_lookup (web->failures, key);
  if (a == NULL)
    return 0;
  while (a->len && g_array_index (a, gint64, 0) <= now - web->login_window)
    g_array_remove_index (a, 0);
  return a->len;
}

gboolean
rd_web_login_throttled (RdWeb *web, const char *email, const char *addr, gint64 *retry_after)
{
  gint64 now = g_get_monotonic_time () / G_USEC_PER_SEC;
  g_autofree char *ka = g_strdup_printf ("a:%s", email ? email : "");
  g_autofree char *ki = g_strdup_printf ("i:%s", addr ? addr : "");
  g_autofree char *kal = g_ascii_strdown (ka, -1);
  g_mutex_lock (&web->login_lock);
  gboolean limited = recent_failures (web, kal, now) >= (guint) web->failures_account
                     || recent_failures (web, ki, now) >= (guint) web->failures_address;
  g_mutex_unlock (&web->login_lock);
  if (limited && retry_after)
    *retry_after = web->login_window;
  return limited;
}

static void
add_failure (RdWeb *web, const char *key, gint64 now)
{
  GArray *a = g_hash_table_lookup (web->failures, key);
  if (a == NULL)
    {
      if (g_hash_table_size (web->failures) >= LOGIN_TABLE_MAX)
        g_hash_table_remove_all (web->failures);   /* a cap on what grows */
      a = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_hash_table_insert (web->failures, g_strdup (key), a);
    }
  if (a->len < 1000)
    g_array_append_val (a, now);
}

void
rd_web_login_failure (RdWeb *web, const char *email, const char *addr)
{
  gint64 now = g_get_monotonic_time () / G_USEC_PER_SEC;
  g_autofree char *ka = g_strdup_printf ("a:%s", email ? email : "");
  g_autofree char *kal = g_ascii_strdown (ka, -1);
  g_autofree char *ki = g_strdup_printf ("i:%s", addr ? addr : "");
  g_mutex_lock (&web->login_lock);
  add_failure (web, kal, now);
  add_failure (web, ki, now);
  g_mutex_unlock (&web->login_lock);
}

void
rd_web_login_success (RdWeb *web, const char *email)
{
  g_autofree char *ka = g_strdup_printf ("a:%s", email ? email : "");
  g_autofree char *kal = g_ascii_strdown (ka, -1);
  g_mutex_lock (&web->login_lock);
  g_hash_table_remove (web->failures, kal);
  g_mutex_unlock (&web->login_lock);
}

/* ---- answers --------------------------------------------------------------------- */

void
rd_web_header (RdWebJob *job, const char *name, const char *value)
{
  if (job->resp_headers == NULL)
    job->resp_headers = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (job->resp_headers, g_strdup (name));
  g_ptr_array_add (job->resp_headers, g_strdup (value));
}

void
rd_web_body (RdWebJob *job, guint status, const char *type, GBytes *body)
{
  job->status = status;
  g_free (job->resp_type);
  job->resp_type = g_strdup (type);
  g_clear_pointer (&job->resp_body, g_bytes_unref);
  job->resp_body = body;
}

void
rd_web_json (RdWebJob *job, guint status, JsonBuilder *b)
{
  g_autofree char *text = rd_json_to_string (b, FALSE);
  char *with_nl = g_strconcat (text, "\n", NULL);
  rd_web_body (job, status, "application/json", g_bytes_new_take (with_nl, strlen (with_nl)));
}

void
rd_web_json_list (RdWebJob *job, guint status, const char *member, GPtrArray *items, RdWebJsonItemFunc item,
                  const GError *error)
{
  if (items == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < items->len; i++)
    item (b, g_ptr_array_index (items, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  rd_web_json (job, status, b);
}

void
rd_web_ok (RdWebJob *job)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_bool (b, "ok", TRUE);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

void
rd_web_error (RdWebJob *job, guint status, const char *code, const char *text)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_str (b, "error", text);
  rd_json_add_str (b, "code", code);
  json_builder_end_object (b);
  rd_web_json (job, status, b);
}

void
rd_web_fail (RdWebJob *job, const GError *error)
{
  if (error == NULL || error->domain != RD_ERROR)
    {
      rd_log (RD_LOG_ERROR, "web.error", "path=%s error=\"%s\"", job->path, error ? error->message : "unknown");
      rd_web_error (job, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "internal error");
      return;
    }
  switch (error->code)
    {
    case RD_ERROR_NOT_FOUND:
      rd_web_error (job, SOUP_STATUS_NOT_FOUND, "not_found", error->message);
      break;
    case RD_ERROR_INVALID_DATA:
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", error->message);
      break;
    case RD_ERROR_PERMISSION:
      rd_web_error (job, SOUP_STATUS_FORBIDDEN, "forbidden", error->message);
      break;
    case RD_ERROR_LIMIT:
      rd_web_error (job, SOUP_STATUS_UNPROCESSABLE_ENTITY, "limit", error->message);
      break;
    case RD_ERROR_CONFLICT:
      rd_web_error (job, SOUP_STATUS_CONFLICT, "conflict", error->message);
      break;
    case RD_ERROR_CONFIG:
      /* The installation, not the request (a folder serve may not
       * write): said to the administrator who can fix it. */
      rd_log (RD_LOG_WARN, "web.config", "path=%s error=\"%s\"", job->path, error->message);
      rd_web_error (job, SOUP_STATUS_INTERNAL_SERVER_ERROR, "config", job->agent && job->agent->admin
                    ? error->message : "internal error");
      break;
    case RD_ERROR_TEMPORARY:
    case RD_ERROR_DISK_FULL:
      rd_log (RD_LOG_WARN, "web.unavailable", "path=%s error=\"%s\"", job->path, error->message);
      rd_web_error (job, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable", "the database is busy; try again");
      break;
    default:
      rd_log (RD_LOG_ERROR, "web.error", "path=%s error=\"%s\"", job->path, error->message);
      rd_web_error (job, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "internal error");
      break;
    }
}

/* ---- requests --------------------------------------------------------------------- */

/* TRUE when @data nests arrays and objects at most @max deep: json-glib
 * recurses once per level on a pool thread's stack, so a body of
 * 100,000 "[" would end the whole process. Brackets inside strings do not
 * count. */
static gboolean
json_depth_ok (const char *data, gsize len, guint max)
{
  guint depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];
      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > max)
            return FALSE;
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

JsonObject *
rd_web_body_object (RdWebJob *job)
{
  gsize len = job->body ? g_bytes_get_size (job->body) : 0;
  if (job->content_type == NULL || g_ascii_strncasecmp (job->content_type, "application/json", 16) != 0)
    {
      rd_web_error (job, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "content_type", "the body must be application/json");
      return NULL;
    }
  if (len > JSON_BODY_MAX)
    {
      rd_web_error (job, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large", "the JSON body is too large");
      return NULL;
    }
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *data = len ? g_bytes_get_data (job->body, NULL) : "";
  if (!json_depth_ok (data, len, JSON_DEPTH_MAX))
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "the JSON body is nested too deeply");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, data, (gssize) len, NULL) || json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "the body is not a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

const char *
rd_web_member_str (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  if (n == NULL || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

gint64
rd_web_member_int (JsonObject *o, const char *name, gint64 dflt)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  if (n == NULL || json_node_get_value_type (n) != G_TYPE_INT64)
    return dflt;
  return json_node_get_int (n);
}

int
rd_web_member_bool (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  if (n == NULL || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return -1;
  return json_node_get_boolean (n) ? 1 : 0;
}

GStrv
rd_web_member_strv (JsonObject *o, const char *name, gboolean *ok)
{
  *ok = TRUE;
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    {
      *ok = FALSE;
      return NULL;
    }
  JsonArray *a = json_node_get_array (n);
  guint len = json_array_get_length (a);
  if (len > 1000)
    {
      *ok = FALSE;
      return NULL;
    }
  GStrv out = g_new0 (char *, len + 1);
  for (guint i = 0; i < len; i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      if (json_node_get_value_type (e) != G_TYPE_STRING)
        {
          *ok = FALSE;
          g_strfreev (out);
          return NULL;
        }
      out[i] = g_strdup (json_node_get_string (e));
    }
  return out;
}

gboolean
rd_web_param_number (RdWebJob *job, guint i, gint64 *out)
{
  guint64 n = 0;
  const char *s = i < job->params->len ? g_ptr_array_index (job->params, i) : NULL;
  if (s == NULL || !g_ascii_string_to_unsigned (s, 10, 1, G_MAXINT64 >> 23, &n, NULL))
    {
      rd_web_error (job, SOUP_STATUS_NOT_FOUND, "not_found", "not found");
      return FALSE;
    }
  *out = (gint64) n;
  return TRUE;
}

const char *
rd_web_query (RdWebJob *job, const char *name)
{
  return job->query ? g_hash_table_lookup (job->query, name) : NULL;
}

/* ---- headers every response carries -------------------------------------------------- */

#define DESK_CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
  "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

void
rd_web_security_headers (RdWeb *web, SoupServerMessage *msg, gboolean api)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  /* A route may have set its own policy (the sandboxed HTML frame). */
  if (soup_message_headers_get_one (h, "Content-Security-Policy") == NULL)
    {
      soup_message_headers_replace (h, "Content-Security-Policy", DESK_CSP);
      soup_message_headers_replace (h, "X-Frame-Options", "DENY");
    }
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (h, "Cross-Origin-Opener-Policy", "same-origin");
  soup_message_headers_replace (h, "Cross-Origin-Resource-Policy", "same-origin");
  if (web->tls)
    soup_message_headers_replace (h, "Strict-Transport-Security", "max-age=31536000");
  if (api)
    soup_message_headers_replace (h, "Cache-Control", "no-store");
}

static void
respond_error (RdWeb *web, SoupServerMessage *msg, guint status, const char *code, const char *text)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_str (b, "error", text);
  rd_json_add_str (b, "code", code);
  json_builder_end_object (b);
  g_autofree char *s = rd_json_to_string (b, FALSE);
  char *body = g_strconcat (s, "\n", NULL);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, strlen (body));
  rd_web_security_headers (web, msg, TRUE);
}

/* ---- the UI: files from the GResource ----------------------------------------------- */

static const char *
content_type_for (const char *path)
{
  static const struct { const char *ext, *type; } types[] = {
    { ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
    { ".svg", "image/svg+xml" }, { ".png", "image/png" }, { ".ico", "image/x-icon" },
    { ".json", "application/json" }, { ".webmanifest", "application/manifest+json" },
    { ".txt", "text/plain; charset=utf-8" }, { ".woff2", "font/woff2" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_has_suffix (path, types[i].ext))
      return types[i].type;
  return "application/octet-stream";
}

static void
static_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  RdWeb *web = data;
  const char *method = soup_server_message_get_method (msg);
  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
      respond_error (web, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method", "use GET");
      return;
    }
  /* Paths of the UI itself ("/tickets/42") get index.html: the page
   * routes on the client. A path with a dot names a file. */
  const char *last = strrchr (path, '/');
  gboolean file = last && strchr (last, '.') != NULL;
  if (strstr (path, "..") || strstr (path, "//"))
    {
      respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "not_found", "not found");
      return;
    }
  g_autofree char *res = g_strconcat ("/relaydesk/ui", file ? path : "/index.html", NULL);
  g_autoptr(GBytes) bytes = g_resources_lookup_data (res, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  if (bytes == NULL)
    {
      respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "not_found", "not found");
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, content_type_for (res), SOUP_MEMORY_COPY,
                                    g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Cache-Control", file ? "no-cache" : "no-store");
  rd_web_security_headers (web, msg, FALSE);
}

/* ---- the API: routing ----------------------------------------------------------------- */

/* Matches @path (libsoup has decoded it) against @pattern; @params gets
 * the {} segments. One {*} takes every segment between the pattern's
 * fixed ends, slashes included: a CIDR ("10.0.0.0/8", sent as %2F) or a
 * script in a folder. */
static gboolean
route_match (const char *pattern, const char *path, GPtrArray *params)
{
  g_auto(GStrv) pp = g_strsplit (pattern, "/", -1);
  g_auto(GStrv) sp = g_strsplit (path, "/", -1);
  guint np = g_strv_length (pp), ns = g_strv_length (sp);
  g_ptr_array_set_size (params, 0);
  guint star = np;
  for (guint i = 0; i < np; i++)
    if (g_str_equal (pp[i], "{*}"))
      star = i;
  if (star == np ? ns != np : ns < np)
    return FALSE;
  for (guint i = 0, j = 0; i < np; i++, j++)
    {
      if (i == star)
        {
          guint take = ns - np + 1;
          g_autofree char *rest = NULL;
          GString *r = g_string_new (NULL);
          for (guint k = 0; k < take; k++)
            g_string_append_printf (r, "%s%s", k ? "/" : "", sp[j + k]);
          rest = g_string_free (r, FALSE);
          if (*rest == '\0' || strstr (rest, "//"))
            return FALSE;
          g_ptr_array_add (params, g_steal_pointer (&rest));
          j += take - 1;
        }
      else if (g_str_equal (pp[i], "{}"))
        {
          if (*sp[j] == '\0')
            return FALSE;
          g_ptr_array_add (params, g_strdup (sp[j]));
        }
      else if (!g_str_equal (pp[i], sp[j]))
        return FALSE;
    }
  return TRUE;
}

static void
job_free (RdWebJob *job)
{
  g_clear_object (&job->msg);
  g_free (job->method);
  g_free (job->path);
  g_ptr_array_unref (job->params);
  g_clear_pointer (&job->query, g_hash_table_unref);
  g_clear_pointer (&job->body, g_bytes_unref);
  g_free (job->content_type);
  if (job->session_token)
    sodium_memzero (job->session_token, strlen (job->session_token));
  g_free (job->session_token);
  g_free (job->bearer);
  g_free (job->csrf_header);
  g_free (job->if_match);
  g_free (job->filename_header);
  g_free (job->client_addr);
  rd_agent_free (job->agent);
  g_free (job->session_csrf);
  g_free (job->resp_type);
  g_clear_pointer (&job->resp_body, g_bytes_unref);
  g_clear_pointer (&job->resp_headers, g_ptr_array_unref);
  g_free (job->queue);
  g_free (job->text);
  g_free (job);
}

static RdWebCtx *
thread_ctx (RdWeb *web, GError **error)
{
  RdWebCtx *ctx = g_private_get (&ctx_key);
  if (ctx && ctx->ops)
    return ctx;
  if (ctx == NULL)
    {
      /* Below the mail path on the CPU: when agents' queries and SMTP
       * sessions compete for the cores, acceptance keeps its share
       * (Linux: a thread's nice value is its own). */
      id_t tid = (id_t) syscall (SYS_gettid);
      errno = 0;
      int base = getpriority (PRIO_PROCESS, tid);
      if ((base == -1 && errno != 0) || setpriority (PRIO_PROCESS, tid, MIN (base + API_THREAD_NICE, 19)) != 0)
        rd_log (RD_LOG_DEBUG, "web.nice", "error=\"%s\"", g_strerror (errno));
      ctx = g_new0 (RdWebCtx, 1);
      g_private_set (&ctx_key, ctx);
      g_mutex_lock (&web->ctx_lock);
      g_ptr_array_add (web->ctxs, ctx);
      g_mutex_unlock (&web->ctx_lock);
    }
  ctx->store = rd_store_open_existing (rd_config_get_store_location (web->config), error);
  if (ctx->store)
    ctx->ops = rd_ops_new (web->config, ctx->store, error);
  if (ctx->ops == NULL)
    g_clear_pointer (&ctx->store, rd_store_free);
  return ctx->ops ? ctx : NULL;
}

static void
ctx_free (gpointer data, gpointer unused)
{
  RdWebCtx *ctx = data;
  rd_ops_free (ctx->ops);
  rd_store_free (ctx->store);
  g_free (ctx);
}

static gboolean
is_state_changing (const char *method)
{
  return strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0;
}

/* Who asks: the session cookie or a bearer token; FALSE after answering. */
static gboolean
authenticate (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  if (job->bearer)
    job->agent = rd_ops_token_agent (ctx->ops, job->bearer, &error);
  else if (job->session_token)
    job->agent = rd_ops_session_agent (ctx->ops, job->session_token, &job->session_csrf, &error);
  if (job->agent == NULL)
    {
      if (error && !g_error_matches (error, RD_ERROR, RD_ERROR_PERMISSION))
        rd_web_fail (job, error);
      else
        rd_web_error (job, SOUP_STATUS_UNAUTHORIZED, "unauthenticated", "log in first");
      return FALSE;
    }
  rd_agent_actor (job->agent, &job->actor);
  if (job->bearer == NULL && is_state_changing (job->method))
    {
      const char *got = job->csrf_header ? job->csrf_header : "";
      gsize n = strlen (job->session_csrf);
      if (strlen (got) != n || sodium_memcmp (got, job->session_csrf, n) != 0)
        {
          rd_web_error (job, SOUP_STATUS_FORBIDDEN, "csrf", "missing or wrong X-CSRF-Token");
          return FALSE;
        }
    }
  if ((job->route->flags & RD_ROUTE_ADMIN) && !job->agent->admin)
    {
      rd_web_error (job, SOUP_STATUS_FORBIDDEN, "forbidden", "this needs an administrator");
      return FALSE;
    }
  return TRUE;
}

static void finish_job (RdWebJob *job);

static gboolean
finish_idle (gpointer data)
{
  finish_job (data);
  return G_SOURCE_REMOVE;
}

static void
pool_run (gpointer data, gpointer user_data)
{
  RdWebJob *job = data;
  RdWeb *web = user_data;
  g_autoptr(GError) error = NULL;
  RdWebCtx *ctx = thread_ctx (web, &error);
  if (ctx == NULL)
    {
      rd_log (RD_LOG_WARN, "web.store", "error=\"%s\"", error->message);
      rd_web_error (job, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable", "the database is not available");
    }
  else if (job->msg == NULL || (job->route->flags & RD_ROUTE_PUBLIC) || authenticate (ctx, job))
    job->route->fn (ctx, job);
  if (job->status == 0 && !(job->route && (job->route->flags & RD_ROUTE_STREAM)))
    rd_web_error (job, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "internal error");
  g_main_context_invoke (web->main_ctx, finish_idle, job);
}

static void
finish_job (RdWebJob *job)
{
  RdWeb *web = job->web;
  if (job->msg == NULL)
    {
      if (job->after)
        job->after (web, job);
      job_free (job);
      return;
    }
  SoupServerMessage *msg = job->msg;
  if ((job->route->flags & RD_ROUTE_STREAM) && job->agent && job->status == 0)
    {
      rd_web_events_stream (web->events, job);   /* takes over the message */
      job_free (job);
      return;
    }
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  for (guint i = 0; job->resp_headers && i + 1 < job->resp_headers->len; i += 2)
    soup_message_headers_append (h, g_ptr_array_index (job->resp_headers, i),
                                 g_ptr_array_index (job->resp_headers, i + 1));
  soup_server_message_set_status (msg, job->status, NULL);
  if (job->resp_body)
    soup_server_message_set_response (msg, job->resp_type, SOUP_MEMORY_COPY, g_bytes_get_data (job->resp_body, NULL),
                                      g_bytes_get_size (job->resp_body));
  rd_web_security_headers (web, msg, TRUE);
  soup_server_message_unpause (msg);
  if (job->after)
    job->after (web, job);
  job_free (job);
}

void
rd_web_run_internal (RdWeb *web, RdRouteFn fn, RdWebAfter after, gpointer data)
{
  static const RdRoute internal = { "INTERNAL", "", RD_ROUTE_PUBLIC, NULL };
  RdWebJob *job = g_new0 (RdWebJob, 1);
  job->web = web;
  job->params = g_ptr_array_new_with_free_func (g_free);
  job->method = g_strdup ("INTERNAL");
  job->path = g_strdup ("(internal)");
  job->route = &internal;
  job->after = after;
  job->data = data;
  job->status = 1;
  /* The route's function is @fn: kept in the job's text slot's place. */
  RdRoute *r = g_new0 (RdRoute, 1);
  *r = internal;
  r->fn = fn;
  job->route = r;
  job->text = (char *) r;   /* freed with the job */
  g_thread_pool_push (web->pool, job, NULL);
}

/* The value of cookie @name in the Cookie header (RFC 6265 5.4). */
static char *
cookie_value (SoupServerMessage *msg, const char *name)
{
  const char *header = soup_message_headers_get_list (soup_server_message_get_request_headers (msg), "Cookie");
  if (header == NULL)
    return NULL;
  g_auto(GStrv) pairs = g_strsplit (header, ";", 64);
  gsize n = strlen (name);
  for (guint i = 0; pairs[i]; i++)
    {
      const char *p = pairs[i];
      while (*p == ' ' || *p == '\t')
        p++;
      if (strncmp (p, name, n) == 0 && p[n] == '=')
        return g_strstrip (g_strdup (p + n + 1));
    }
  return NULL;
}

static void
api_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  RdWeb *web = data;
  const char *method = soup_server_message_get_method (msg);
  g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func (g_free);
  const RdRoute *route = NULL;
  gboolean path_known = FALSE;
  for (guint i = 0; i < web->routes->len && route == NULL; i++)
    {
      const RdRoute *r = g_ptr_array_index (web->routes, i);
      if (route_match (r->pattern, path, params))
        {
          path_known = TRUE;
          if (strcmp (r->method, method) == 0 || (strcmp (method, "HEAD") == 0 && strcmp (r->method, "GET") == 0))
            route = r;
        }
    }
  if (route == NULL)
    {
      if (path_known)
        respond_error (web, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method", "method not allowed here");
      else
        respond_error (web, msg, SOUP_STATUS_NOT_FOUND, "not_found", "no such endpoint");
      return;
    }
  if (!web->started)
    {
      respond_error (web, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable", "starting");
      return;
    }
  SoupMessageHeaders *rh = soup_server_message_get_request_headers (msg);
  RdWebJob *job = g_new0 (RdWebJob, 1);
  job->web = web;
  job->msg = g_object_ref (msg);
  job->route = route;
  job->method = g_strdup (method);
  job->path = g_strdup (path);
  job->params = g_steal_pointer (&params);
  if (query)
    {
      job->query = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, query);
      while (g_hash_table_iter_next (&it, &k, &v))
        g_hash_table_insert (job->query, g_strdup (k), g_strdup (v ? v : ""));
    }
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  job->body = body ? soup_message_body_flatten (body) : NULL;
  job->content_type = g_strdup (soup_message_headers_get_one (rh, "Content-Type"));
  job->session_token = cookie_value (msg, "rd_session");
  const char *auth = soup_message_headers_get_one (rh, "Authorization");
  if (auth && g_ascii_strncasecmp (auth, "Bearer ", 7) == 0)
    job->bearer = g_strstrip (g_strdup (auth + 7));
  job->csrf_header = g_strdup (soup_message_headers_get_one (rh, "X-CSRF-Token"));
  job->if_match = g_strdup (soup_message_headers_get_one (rh, "If-Match"));
  job->filename_header = g_strdup (soup_message_headers_get_one (rh, "X-Filename"));
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  if (remote && G_IS_INET_SOCKET_ADDRESS (remote))
    job->client_addr = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  job->tls = web->tls;
  soup_server_message_pause (msg);
  g_thread_pool_push (web->pool, job, NULL);
}

/* Answers @status before the body is read. libsoup still reads the body
 * it was announced (then the answer goes out): it must not keep it, or
 * a refused 300 MB body sits in memory all the same. */
static void
refuse_body (RdWeb *web, SoupServerMessage *msg, guint status, const char *code, const char *text)
{
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  respond_error (web, msg, status, code, text);
}

/* Refuses a body before it is read: without a length, or above
 * [http] max_upload. */
static void
early_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  RdWeb *web = data;
  SoupMessageHeaders *rh = soup_server_message_get_request_headers (msg);
  SoupEncoding enc = soup_message_headers_get_encoding (rh);
  if (enc == SOUP_ENCODING_CHUNKED || enc == SOUP_ENCODING_EOF)
    {
      refuse_body (web, msg, SOUP_STATUS_LENGTH_REQUIRED, "length_required", "send a Content-Length");
      return;
    }
  if (enc != SOUP_ENCODING_CONTENT_LENGTH)
    return;
  /* Only uploads take max_upload; a JSON body is at most JSON_BODY_MAX;
   * a request without a credential (a login) needs very little. Checked
   * before authentication, so anyone reaching the port cannot make serve
   * read megabytes per connection. */
  guint64 limit = web->max_upload + 64 * 1024;
  if (!g_str_equal (path, "/api/v1/uploads"))
    limit = MIN (limit, JSON_BODY_MAX);
  g_autofree char *session = cookie_value (msg, "rd_session");
  if (!soup_message_headers_get_one (rh, "Authorization") && session == NULL)
    limit = MIN (limit, ANONYMOUS_BODY_MAX);
  if ((guint64) soup_message_headers_get_content_length (rh) > limit)
    refuse_body (web, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large",
                 limit < web->max_upload ? "the body is too large" : "the body is larger than [http] max_upload");
}

/* Outside /api nothing takes a body (the UI's files, /metrics,
 * /healthz): refused before it is read, since libsoup would otherwise
 * buffer any Content-Length in memory before the 405. */
static void
early_other_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  RdWeb *web = data;
  SoupMessageHeaders *rh = soup_server_message_get_request_headers (msg);
  SoupEncoding enc = soup_message_headers_get_encoding (rh);
  if (enc == SOUP_ENCODING_CHUNKED || enc == SOUP_ENCODING_EOF
      || (enc == SOUP_ENCODING_CONTENT_LENGTH && soup_message_headers_get_content_length (rh) > 0))
    refuse_body (web, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too_large", "no request body here");
}

/* libsoup has no timeout of its own: a client that sends half a request
 * (or a body one byte a minute) would hold its connection, and one of
 * the fds of the process that accepts mail, for ever. A socket timeout
 * ends any read or write that waits longer than [http] idle_timeout. */
static void
request_started (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  RdWeb *web = data;
  GSocket *sock = soup_server_message_get_socket (msg);
  if (sock)
    g_socket_set_timeout (sock, web->idle_timeout);
}

/* ---- the server ------------------------------------------------------------------------- */

RdWeb *
rd_web_new (RdConfig *config, RdMetricsHttp *metrics, GError **error)
{
  g_autoptr(GTlsCertificate) cert = NULL;
  const char *cert_file = rd_config_get_string (config, "http", "cert_file", NULL);
  const char *key_file = rd_config_get_string (config, "http", "key_file", NULL);
  if ((cert_file == NULL) != (key_file == NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "[http] cert_file and key_file go together");
      return NULL;
    }
  if (cert_file)
    {
      cert = g_tls_certificate_new_from_files (cert_file, key_file, error);
      if (cert == NULL)
        {
          g_prefix_error (error, "[http] cert_file/key_file: ");
          if (*error)
            (*error)->domain = RD_ERROR, (*error)->code = RD_ERROR_CONFIG;
          return NULL;
        }
    }
  if (sodium_init () < 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "libsodium did not initialise");
      return NULL;
    }
  RdWeb *web = g_new0 (RdWeb, 1);
  web->config = config;
  web->metrics = metrics;
  web->tls = cert != NULL;
  web->main_ctx = g_main_context_ref_thread_default ();
  web->session_lifetime = rd_config_get_int (config, "http", "session_lifetime", 43200);
  web->max_upload = rd_config_get_size (config, "http", "max_upload", 10 * 1024 * 1024);
  web->threads = (guint) rd_config_get_int (config, "http", "threads", 4);
  web->failures_account = rd_config_get_int (config, "http", "login_failures_account", 5);
  web->failures_address = rd_config_get_int (config, "http", "login_failures_address", 20);
  web->login_window = rd_config_get_int (config, "http", "login_window", 900);
  web->idle_timeout = (guint) rd_config_get_int (config, "http", "idle_timeout", 60);
  g_mutex_init (&web->ctx_lock);
  g_mutex_init (&web->login_lock);
  web->ctxs = g_ptr_array_new ();
  web->failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
  web->routes = g_ptr_array_new ();
  const RdRoute *tables[] = { rd_web_session_routes, rd_web_ticket_routes, rd_web_admin_routes,
                              rd_web_event_routes };
  for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
    for (const RdRoute *r = tables[t]; r->method; r++)
      g_ptr_array_add (web->routes, (gpointer) r);
  web->server = soup_server_new ("server-header", "relaydesk", "tls-certificate", cert, NULL);
  g_resources_register (rd_web_get_resource ());
  g_signal_connect (web->server, "request-started", G_CALLBACK (request_started), web);
  soup_server_add_early_handler (web->server, "/api", early_handler, web, NULL);
  soup_server_add_early_handler (web->server, "/", early_other_handler, web, NULL);
  soup_server_add_handler (web->server, "/api", api_handler, web, NULL);
  soup_server_add_handler (web->server, "/", static_handler, web, NULL);
  if (metrics)
    {
      rd_metrics_http_mount (metrics, web->server);
      /* libsoup takes the early handler of the path's own entry only. */
      static const char *const metrics_paths[] = { "/metrics", "/healthz", "/readyz" };
      for (guint i = 0; i < G_N_ELEMENTS (metrics_paths); i++)
        soup_server_add_early_handler (web->server, metrics_paths[i], early_other_handler, web, NULL);
    }
  web->events = rd_web_events_new (web);
  return web;
}

gboolean
rd_web_listen (RdWeb *web, const char *hostport, guint16 *port, GError **error)
{
  g_autofree char *host = NULL;
  guint16 p = 0;
  if (!rd_parse_hostport (hostport, &host, &p, error))
    {
      g_prefix_error (error, "[http] listen: ");
      return FALSE;
    }
  g_autoptr(GInetAddress) ia = g_inet_address_new_from_string (host);
  if (ia == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "[http] listen: '%s' is not an IP address", host);
      return FALSE;
    }
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (ia, p);
  if (!soup_server_listen (web->server, sa, web->tls ? SOUP_SERVER_LISTEN_HTTPS : 0, error))
    {
      g_prefix_error (error, "cannot listen on %s: ", hostport);
      return FALSE;
    }
  GSList *listeners = soup_server_get_listeners (web->server);
  guint16 bound = p;
  for (GSList *l = listeners; l; l = l->next)
    {
      g_autoptr(GSocketAddress) local = g_socket_get_local_address (l->data, NULL);
      if (local && G_IS_INET_SOCKET_ADDRESS (local))
        bound = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
    }
  g_slist_free (listeners);
  if (port)
    *port = bound;
  if (web->url == NULL)
    {
      gboolean v6 = g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV6;
      web->url = g_strdup_printf ("%s://%s%s%s:%u/", web->tls ? "https" : "http", v6 ? "[" : "", host,
                                  v6 ? "]" : "", bound);
    }
  rd_log (RD_LOG_INFO, "web.listen", "addr=%s port=%u tls=%s", host, bound, web->tls ? "yes" : "no");
  return TRUE;
}

char *
rd_web_url (RdWeb *web)
{
  return g_strdup (web->url);
}

gboolean
rd_web_start (RdWeb *web, GError **error)
{
  web->pool = g_thread_pool_new (pool_run, web, (gint) web->threads, TRUE, error);
  if (web->pool == NULL)
    return FALSE;
  web->started = TRUE;
  rd_web_events_start (web->events);
  return TRUE;
}

void
rd_web_free (RdWeb *web)
{
  if (web == NULL)
    return;
  web->started = FALSE;
  /* No new work (the live-update timer queues polls), no new requests,
   * then the pool drains; the answers of its last jobs wait on the loop:
   * write them (to closed connections) and free them; then the streams. */
  rd_web_events_stop (web->events);
  if (web->server)
    soup_server_disconnect (web->server);
  if (web->pool)
    {
      g_thread_pool_free (web->pool, FALSE, TRUE);
      web->pool = NULL;
      while (g_main_context_iteration (web->main_ctx, FALSE))
        ;
    }
  rd_web_events_free (web->events);
  g_clear_object (&web->server);
  g_ptr_array_foreach (web->ctxs, ctx_free, NULL);
  g_ptr_array_unref (web->ctxs);
  g_ptr_array_unref (web->routes);
  g_hash_table_unref (web->failures);
  g_mutex_clear (&web->ctx_lock);
  g_mutex_clear (&web->login_lock);
  g_main_context_unref (web->main_ctx);
  g_free (web->url);
  g_free (web);
}
