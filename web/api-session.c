/* relaydesk — web: /api/v1/session (login, logout, password, own API
 * tokens) and the administration of agents (/api/v1/agents,
 * /api/v1/tokens, /api/v1/audit). docs/api.md lists the fields. */
#include "web-private.h"

#include "ops-web.h"

#include <string.h>

#define COOKIE "rd_session"

static void
add_agent_member (JsonBuilder *b, const RdAgent *a)
{
  json_builder_set_member_name (b, "agent");
  rd_json_agent (b, a);
}

static void
set_cookie (RdWebJob *job, const char *value, gint64 max_age)
{
  g_autofree char *c = g_strdup_printf (COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%" G_GINT64_FORMAT
                                        "%s", value, max_age, job->tls ? "; Secure" : "");
  rd_web_header (job, "Set-Cookie", c);
}

/* Password guesses, at login or at a password change, share one limit
 * per account and per client address: over it, 429 with Retry-After. */
static gboolean
refused_if_throttled (RdWebJob *job, const char *email, const char *message)
{
  gint64 retry = 0;
  if (!rd_web_login_throttled (job->web, email, job->client_addr, &retry))
    return FALSE;
  g_autofree char *r = g_strdup_printf ("%" G_GINT64_FORMAT, retry);
  rd_web_header (job, "Retry-After", r);
  rd_web_error (job, 429, "rate_limited", message);
  return TRUE;
}

static void
login (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  const char *email = rd_web_member_str (o, "email");
  const char *password = rd_web_member_str (o, "password");
  const char *totp = rd_web_member_str (o, "totp");
  if (email == NULL || password == NULL)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "email and password are required");
      return;
    }
  if (refused_if_throttled (job, email, "too many failed logins; try again later"))
    {
      rd_log (RD_LOG_WARN, "web.login", "result=throttled client=%s", job->client_addr ? job->client_addr : "-");
      return;
    }
  g_autoptr(GError) error = NULL;
  g_auto(RdSession) s = { 0 };
  if (!rd_ops_login (ctx->ops, email, password, totp, job->client_addr, rd_web_session_lifetime (job->web), &s,
                     &error))
    {
      if (!g_error_matches (error, RD_ERROR, RD_ERROR_PERMISSION))
        {
          rd_web_fail (job, error);
          return;
        }
      gboolean need_totp = g_str_equal (error->message, RD_OPS_TOTP_REQUIRED);
      if (!need_totp)
        rd_web_login_failure (job->web, email, job->client_addr);
      rd_log (RD_LOG_INFO, "web.login", "result=%s client=%s", need_totp ? "totp-required" : "refused",
              job->client_addr ? job->client_addr : "-");
      rd_web_error (job, SOUP_STATUS_UNAUTHORIZED, need_totp ? "totp_required" : "login_failed", error->message);
      return;
    }
  rd_web_login_success (job->web, email);
  /* A session the client came with ends: the new one replaces it. */
  if (job->session_token)
    rd_ops_logout (ctx->ops, job->session_token, NULL);
  set_cookie (job, s.token, rd_web_session_lifetime (job->web));
  rd_log (RD_LOG_INFO, "web.login", "result=ok agent=%s client=%s", s.agent->email,
          job->client_addr ? job->client_addr : "-");
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_agent_member (b, s.agent);
  rd_json_add_str (b, "csrf", s.csrf);
  rd_json_add_time (b, "expires_at", s.expires_at);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
session_get (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_agent_member (b, job->agent);
  rd_json_add_str (b, "csrf", job->bearer ? NULL : job->session_csrf);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
logout (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  if (job->session_token && !rd_ops_logout (ctx->ops, job->session_token, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  set_cookie (job, "", 0);
  rd_web_ok (job);
}

static void
change_password (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  const char *current = rd_web_member_str (o, "current");
  const char *next = rd_web_member_str (o, "new");
  if (current == NULL || next == NULL)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "current and new are required");
      return;
    }
  /* The current password is checked here as at login, under the same
   * limits: a session is not a free password oracle. */
  if (refused_if_throttled (job, job->agent->email, "too many wrong passwords; try again later"))
    return;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_agent_change_password (ctx->ops, job->agent->id, current, next, job->session_token, &error))
    {
      if (g_error_matches (error, RD_ERROR, RD_ERROR_PERMISSION))
        rd_web_login_failure (job->web, job->agent->email, job->client_addr);
      rd_web_fail (job, error);
      return;
    }
  rd_web_ok (job);
}

/* ---- tokens ---------------------------------------------------------------------- */

static void
tokens_list_for (RdWebCtx *ctx, RdWebJob *job, const char *email)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = rd_ops_tokens_list (ctx->ops, &job->actor, email, &error);
  rd_web_json_list (job, SOUP_STATUS_OK, "tokens", tokens, (RdWebJsonItemFunc) rd_json_api_token, error);
}

static void
token_create_for (RdWebCtx *ctx, RdWebJob *job, const char *email)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  g_autoptr(GError) error = NULL;
  gint64 id = 0;
  g_autofree char *token = rd_ops_token_create (ctx->ops, &job->actor, email, rd_web_member_str (o, "label"), &id,
                                                &error);
  if (token == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", id);
  rd_json_add_str (b, "token", token);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_CREATED, b);
}

static void
own_tokens (RdWebCtx *ctx, RdWebJob *job)
{
  tokens_list_for (ctx, job, job->agent->email);
}

static void
own_token_create (RdWebCtx *ctx, RdWebJob *job)
{
  /* A token does not make more tokens: one that leaked could otherwise
   * mint a successor that outlives its revocation. */
  if (job->bearer)
    {
      rd_web_error (job, SOUP_STATUS_FORBIDDEN, "forbidden", "log in to create a token");
      return;
    }
  token_create_for (ctx, job, job->agent->email);
}

static void
token_revoke (RdWebCtx *ctx, RdWebJob *job)
{
  gint64 id;
  if (!rd_web_param_number (job, 0, &id))
    return;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_token_revoke (ctx->ops, &job->actor, id, &error))
    rd_web_fail (job, error);
  else
    rd_web_ok (job);
}

/* ---- agents (admin) ---------------------------------------------------------------- */

static void
agents_list (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) agents = rd_ops_agents_list (ctx->ops, &job->actor, &error);
  rd_web_json_list (job, SOUP_STATUS_OK, "agents", agents, (RdWebJsonItemFunc) rd_json_agent, error);
}

/* role: "admin" 1, "agent" 0, absent -1; FALSE after answering 400. */
static gboolean
parse_role (RdWebJob *job, JsonObject *o, int *admin)
{
  const char *role = rd_web_member_str (o, "role");
  *admin = role == NULL ? -1 : g_str_equal (role, "admin") ? 1 : g_str_equal (role, "agent") ? 0 : -2;
  if (*admin == -2)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "role is admin or agent");
      return FALSE;
    }
  return TRUE;
}

static void
agent_add (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  int admin;
  gboolean ok;
  g_auto(GStrv) queues = rd_web_member_strv (o, "queues", &ok);
  if (!parse_role (job, o, &admin))
    return;
  if (!ok)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "queues is an array of names");
      return;
    }
  RdAgentRequest req = {
    .email = rd_web_member_str (o, "email"),
    .name = rd_web_member_str (o, "name"),
    .admin = admin == 1,
    .queues = (const char *const *) queues,
    .password = rd_web_member_str (o, "password"),
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *generated = NULL;
  g_autoptr(RdAgent) a = rd_ops_agent_add (ctx->ops, &job->actor, &req, &generated, &error);
  if (a == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_agent_member (b, a);
  rd_json_add_str (b, "password", generated);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_CREATED, b);
}

static void
agent_get (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RdAgent) a = rd_ops_agent_get (ctx->ops, &job->actor, g_ptr_array_index (job->params, 0), &error);
  if (a == NULL)
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_agent_member (b, a);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
agent_update (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  int admin;
  gboolean ok;
  g_auto(GStrv) queues = rd_web_member_strv (o, "queues", &ok);
  if (!parse_role (job, o, &admin))
    return;
  if (!ok)
    {
      rd_web_error (job, SOUP_STATUS_BAD_REQUEST, "invalid", "queues is an array of names");
      return;
    }
  g_autoptr(GError) error = NULL;
  const char *email = g_ptr_array_index (job->params, 0);
  if (!rd_ops_agent_update (ctx->ops, &job->actor, email, rd_web_member_str (o, "name"), admin,
                            (const char *const *) queues, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  agent_get (ctx, job);
}

static void
agent_remove (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  if (!rd_ops_agent_remove (ctx->ops, &job->actor, g_ptr_array_index (job->params, 0), &error))
    rd_web_fail (job, error);
  else
    rd_web_ok (job);
}

static void
agent_password (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(JsonObject) o = rd_web_body_object (job);
  if (o == NULL)
    return;
  g_autoptr(GError) error = NULL;
  g_autofree char *generated = NULL;
  if (!rd_ops_agent_set_password (ctx->ops, &job->actor, g_ptr_array_index (job->params, 0),
                                  rd_web_member_str (o, "password"), &generated, &error))
    {
      rd_web_fail (job, error);
      return;
    }
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  rd_json_add_bool (b, "ok", TRUE);
  rd_json_add_str (b, "password", generated);
  json_builder_end_object (b);
  rd_web_json (job, SOUP_STATUS_OK, b);
}

static void
agent_tokens (RdWebCtx *ctx, RdWebJob *job)
{
  tokens_list_for (ctx, job, g_ptr_array_index (job->params, 0));
}

static void
agent_token_create (RdWebCtx *ctx, RdWebJob *job)
{
  token_create_for (ctx, job, g_ptr_array_index (job->params, 0));
}

static void
audit_list (RdWebCtx *ctx, RdWebJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) lines = rd_ops_admin_audit (ctx->ops, &job->actor, 200, &error);
  rd_web_json_list (job, SOUP_STATUS_OK, "audit", lines, (RdWebJsonItemFunc) rd_json_admin_audit_entry, error);
}

const RdRoute rd_web_session_routes[] = {
  { "POST", "/api/v1/session", RD_ROUTE_PUBLIC, login },
  { "GET", "/api/v1/session", 0, session_get },
  { "DELETE", "/api/v1/session", 0, logout },
  { "POST", "/api/v1/session/password", 0, change_password },
  { "GET", "/api/v1/session/tokens", 0, own_tokens },
  { "POST", "/api/v1/session/tokens", 0, own_token_create },
  { "DELETE", "/api/v1/session/tokens/{}", 0, token_revoke },
  { "GET", "/api/v1/agents", RD_ROUTE_ADMIN, agents_list },
  { "POST", "/api/v1/agents", RD_ROUTE_ADMIN, agent_add },
  { "GET", "/api/v1/agents/{}", RD_ROUTE_ADMIN, agent_get },
  { "PATCH", "/api/v1/agents/{}", RD_ROUTE_ADMIN, agent_update },
  { "DELETE", "/api/v1/agents/{}", RD_ROUTE_ADMIN, agent_remove },
  { "POST", "/api/v1/agents/{}/password", RD_ROUTE_ADMIN, agent_password },
  { "GET", "/api/v1/agents/{}/tokens", RD_ROUTE_ADMIN, agent_tokens },
  { "POST", "/api/v1/agents/{}/tokens", RD_ROUTE_ADMIN, agent_token_create },
  { "DELETE", "/api/v1/tokens/{}", RD_ROUTE_ADMIN, token_revoke },
  { "GET", "/api/v1/audit", RD_ROUTE_ADMIN, audit_list },
  { NULL, NULL, 0, NULL }
};
