/* relaydesk — store: the web desk's agents, their sessions and API
 * tokens, and the administration audit log.
 *
 * Tables (migration 0600-web-agents): agents (email lower-cased and
 * unique, role admin|agent, password_hash a crypto_pwhash_str string,
 * totp_secret base32 or NULL), agent_queues, agent_sessions and
 * api_tokens (keyed by the hex SHA-256 of the token the client holds:
 * a copy of the database gives no usable session), admin_audit.
 *
 * One writer per entity: every change to an agent, a token or a rule
 * script goes through these functions, which write the admin_audit line
 * naming the actor in the same transaction. Hashing and checking
 * passwords is ops/agents.c's (the store never sees a password).
 */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

#define RD_AGENT_EMAIL_MAX 320
#define RD_AGENT_NAME_MAX 200
#define RD_AGENT_QUEUES_MAX 200

typedef struct {
  gint64 id;
  char *email;
  char *name;
  gboolean admin;
  GStrv queues;            /* sorted; never NULL once read */
  char *password_hash;
  char *totp_secret;       /* NULL: no second factor */
  gint64 created_at;
} RdAgent;

void rd_agent_free (RdAgent *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdAgent, rd_agent_free)

/* RD_ERROR_NOT_FOUND when absent. (transfer full) */
RdAgent *rd_store_agent_get (RdStore *store, gint64 id, GError **error);
RdAgent *rd_store_agent_get_by_email (RdStore *store, const char *email, GError **error);
/* Every agent, by e-mail. (transfer full: RdAgent*) */
GPtrArray *rd_store_agents_list (RdStore *store, GError **error);

/* Adds @a (email, name, admin, queues, password_hash); RD_ERROR_CONFLICT
 * when the e-mail address is taken. Sets a->id. Audited as "agent-add". */
gboolean rd_store_agent_add (RdStore *store, RdAgent *a, const char *actor, GError **error);
/* Changes what is given: @name (NULL: kept), @admin (-1: kept), @queues
 * (NULL: kept). Audited as "agent-update". */
gboolean rd_store_agent_update (RdStore *store, gint64 id, const char *name, int admin,
                                const char *const *queues, const char *actor, GError **error);
/* A new password hash; every session of the agent but @keep_session
 * (a token hash, or NULL) ends. Audited as "agent-password". */
gboolean rd_store_agent_set_password (RdStore *store, gint64 id, const char *hash, const char *keep_session,
                                      const char *actor, GError **error);
/* The TOTP secret (NULL: none). Audited as "agent-totp". */
gboolean rd_store_agent_set_totp (RdStore *store, gint64 id, const char *secret, const char *actor,
                                  GError **error);
/* Removes the agent with its sessions, tokens, drafts and views. */
gboolean rd_store_agent_remove (RdStore *store, gint64 id, const char *actor, GError **error);

/* ---- sessions ---------------------------------------------------------- */

gboolean rd_store_session_add (RdStore *store, gint64 agent_id, const char *token_hash, const char *csrf,
                               gint64 expires_at, const char *client_addr, GError **error);
/* The agent of a live session (RD_ERROR_NOT_FOUND when none or expired);
 * @csrf gets its CSRF token. (transfer full) */
RdAgent *rd_store_session_agent (RdStore *store, const char *token_hash, char **csrf, gint64 *expires_at,
                                 GError **error);
gboolean rd_store_session_remove (RdStore *store, const char *token_hash, GError **error);
/* Removes expired sessions. */
gboolean rd_store_sessions_expire (RdStore *store, GError **error);

/* ---- API tokens ---------------------------------------------------------- */

typedef struct {
  gint64 id;
  char *email;
  char *label;
  gint64 created_at;
  gint64 last_used_at;
  gint64 revoked_at;
} RdApiToken;

void rd_api_token_free (RdApiToken *t);

gboolean rd_store_token_add (RdStore *store, gint64 agent_id, const char *label, const char *token_hash,
                             const char *actor, gint64 *id, GError **error);
/* The agent of a token that is not revoked (RD_ERROR_NOT_FOUND). */
RdAgent *rd_store_token_agent (RdStore *store, const char *token_hash, GError **error);
/* Tokens of @agent_id (0: all). (transfer full: RdApiToken*) */
GPtrArray *rd_store_tokens_list (RdStore *store, gint64 agent_id, GError **error);
gboolean rd_store_token_revoke (RdStore *store, gint64 id, const char *actor, GError **error);

/* ---- the administration audit log ------------------------------------- */

typedef struct {
  gint64 id;
  gint64 at;
  char *actor;
  char *action;
  char *target;
  char *detail;
} RdAdminAuditEntry;

void rd_admin_audit_entry_free (RdAdminAuditEntry *e);
gboolean rd_store_admin_audit (RdStore *store, const char *actor, const char *action, const char *target,
                               const char *detail, GError **error);
/* The newest @limit lines, newest first. (transfer full) */
GPtrArray *rd_store_admin_audit_list (RdStore *store, guint limit, GError **error);

G_END_DECLS
