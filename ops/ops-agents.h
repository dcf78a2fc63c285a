/* relaydesk — ops: agents, their sessions and API tokens (the web desk's
 * accounts; `relaydesk agents` and /api/v1/session, /api/v1/agents).
 *
 * Passwords are hashed with Argon2id (libsodium crypto_pwhash_str, at
 * OWASP's floor of 19 MiB and 2 passes, so a login costs tens of
 * milliseconds, not seconds, on a shared machine); the store never sees
 * a password. Session and API tokens are 32 random bytes (base64url),
 * stored as their SHA-256 only. TOTP (RFC 6238): HMAC-SHA1, 30 s steps,
 * 6 digits, one step of clock skew either way.
 *
 * Administration (adding, changing, removing agents, other agents'
 * tokens) needs an admin actor; every change is audited with the actor
 * (store/agents.h).
 */
#pragma once

#include <glib.h>
#include "ops.h"
#include "agents.h"

G_BEGIN_DECLS

#define RD_PASSWORD_MIN 10
#define RD_PASSWORD_MAX 1024

typedef struct {
  const char *email;
  const char *name;
  gboolean admin;
  const char *const *queues;   /* NULL-terminated; may be NULL */
  const char *password;        /* NULL: one is generated */
} RdAgentRequest;

/* Adds an agent; @generated gets the password made when none was given
 * (transfer full, may be NULL otherwise). (transfer full) */
RdAgent *rd_ops_agent_add (RdOps *ops, const RdActor *actor, const RdAgentRequest *req, char **generated,
                           GError **error);
GPtrArray *rd_ops_agents_list (RdOps *ops, const RdActor *actor, GError **error);
RdAgent *rd_ops_agent_get (RdOps *ops, const RdActor *actor, const char *email, GError **error);
/* @name NULL, @admin -1, @queues NULL: kept. An admin cannot take away
 * their own admin role (RD_ERROR_INVALID_DATA), so one always remains. */
gboolean rd_ops_agent_update (RdOps *ops, const RdActor *actor, const char *email, const char *name, int admin,
                              const char *const *queues, GError **error);
gboolean rd_ops_agent_remove (RdOps *ops, const RdActor *actor, const char *email, GError **error);
/* An admin sets another agent's password (@password NULL: generated into
 * @generated); every session of that agent ends. */
gboolean rd_ops_agent_set_password (RdOps *ops, const RdActor *actor, const char *email, const char *password,
                                    char **generated, GError **error);
/* An agent changes their own password: @current must be right
 * (RD_ERROR_PERMISSION). Their other sessions end; @keep_session (a
 * session token, may be NULL) stays. */
gboolean rd_ops_agent_change_password (RdOps *ops, gint64 agent_id, const char *current, const char *password,
                                       const char *keep_session, GError **error);
/* Turns TOTP on (a new secret, returned base32, transfer full) or off
 * (@enable FALSE, returns NULL without error). @uri gets the otpauth://
 * URI for authenticator apps. */
char *rd_ops_agent_totp (RdOps *ops, const RdActor *actor, const char *email, gboolean enable, char **uri,
                         GError **error);
/* The RFC 6238 code of @secret (base32) at @unix_time: for tests. */
gboolean rd_ops_totp_code (const char *secret, gint64 unix_time, char code[7]);

/* ---- API tokens ---------------------------------------------------------- */

/* A new token for @email: the token text (transfer full), shown once. An
 * agent may make their own; others' need an admin. */
char *rd_ops_token_create (RdOps *ops, const RdActor *actor, const char *email, const char *label, gint64 *id,
                           GError **error);
/* (transfer full: RdApiToken*) @email NULL: all (admin). */
GPtrArray *rd_ops_tokens_list (RdOps *ops, const RdActor *actor, const char *email, GError **error);
gboolean rd_ops_token_revoke (RdOps *ops, const RdActor *actor, gint64 id, GError **error);
/* The agent a bearer token belongs to (RD_ERROR_PERMISSION when none). */
RdAgent *rd_ops_token_agent (RdOps *ops, const char *token, GError **error);

/* ---- sessions ------------------------------------------------------------- */

typedef struct {
  RdAgent *agent;
  char *token;        /* the cookie value */
  char *csrf;
  gint64 expires_at;
} RdSession;

void rd_session_clear (RdSession *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdSession, rd_session_clear)

/* Checks the password (and TOTP code when the agent has one) and opens a
 * new session of @lifetime seconds. Wrong e-mail or password:
 * RD_ERROR_PERMISSION "wrong e-mail address or password" (the same text
 * for both, and the same time: a missing agent is checked against a
 * dummy hash); a TOTP code needed but absent: RD_ERROR_PERMISSION with
 * the text RD_OPS_TOTP_REQUIRED. */
#define RD_OPS_TOTP_REQUIRED "a TOTP code is required"
gboolean rd_ops_login (RdOps *ops, const char *email, const char *password, const char *totp,
                       const char *client_addr, gint64 lifetime, RdSession *session, GError **error);
/* The agent of session token @token (RD_ERROR_PERMISSION when none or
 * expired); @csrf gets the session's CSRF token. */
RdAgent *rd_ops_session_agent (RdOps *ops, const char *token, char **csrf, GError **error);
gboolean rd_ops_logout (RdOps *ops, const char *token, GError **error);
/* The hex SHA-256 under which @token is stored. (transfer full) */
char *rd_ops_token_hash (const char *token);

/* The actor an agent acts as: named by e-mail; an admin sees every queue. */
void rd_agent_actor (const RdAgent *agent, RdActor *actor);

G_END_DECLS
