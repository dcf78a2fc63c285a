/* relaydesk — store: every SQL statement, by name (sql.h), with its
 * dialects side by side: { SQLite, PostgreSQL }. A NULL PostgreSQL text
 * means the SQLite text is valid there too (parameters are $N in both).
 *
 * Columns read by the entity code are listed in the order the code reads
 * them (tickets.c rd_store_ticket_from_row, outbox.c item_from_row, ...).
 */
#include "sql.h"

typedef struct {
  const char *sqlite;
  const char *pg;
} RdSqlText;

#define TICKET_COLUMNS "t.number, t.queue, t.status, t.priority, t.assignee, t.subject," \
  " t.requester_name, t.requester_addr, t.created_at, t.updated_at," \
  " (SELECT count(*) FROM messages m WHERE m.ticket_number = t.number)"
#define SPOOL_COLUMNS "id, queue_id, received_at, sender, client_addr, helo, protocol," \
  " message_id, raw, state, state_reason, auth_results"
#define OUTBOX_COLUMNS "id, kind, ticket_number, sender, message_id, state, attempts, last_error," \
  " relay_reply, created_at, next_attempt_at, sent_at, coalesce(lifetime_from, created_at)"
#define AGENT_COLUMNS "id, email, name, role, password_hash, totp_secret, created_at"
#define ATTACHMENT_COLUMNS "a.id, a.message_row, a.filename, a.content_type, a.sha256, b.size"

static const RdSqlText statements[RD_SQL_N] = {
  /* ---- migrations ---- */
  [RD_SQL_MIGRATION_DONE] = { "SELECT 1 FROM schema_migrations WHERE name = $1", NULL },
  [RD_SQL_MIGRATION_RECORD] = { "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)", NULL },
  [RD_SQL_MIGRATION_COUNT] = { "SELECT count(*) FROM schema_migrations", NULL },
  [RD_SQL_MIGRATION_LIST] = { "SELECT name FROM schema_migrations ORDER BY name", NULL },

  /* ---- spool ---- */
  [RD_SQL_SPOOL_INSERT] = {
    "INSERT INTO spool (queue_id, received_at, sender, client_addr, helo, protocol, message_id, size, raw)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id", NULL },
  [RD_SQL_SPOOL_INSERT_RECIPIENT] = {
    "INSERT INTO spool_recipients (spool_id, position, address) VALUES ($1,$2,$3)", NULL },
  [RD_SQL_SPOOL_PENDING] = { "SELECT id FROM spool WHERE state = 'new' ORDER BY id LIMIT $1", NULL },
  [RD_SQL_SPOOL_GET] = { "SELECT " SPOOL_COLUMNS " FROM spool WHERE id = $1", NULL },
  [RD_SQL_SPOOL_RECIPIENTS] = {
    "SELECT address FROM spool_recipients WHERE spool_id = $1 ORDER BY position", NULL },
  [RD_SQL_SPOOL_FIND_BY_MESSAGE_ID] = {
    "SELECT " SPOOL_COLUMNS " FROM spool WHERE message_id = $1 ORDER BY id DESC LIMIT 1", NULL },
  [RD_SQL_SPOOL_SET_STATE] = {
    "UPDATE spool SET state = $1, state_reason = $2, processed_at = $3 WHERE id = $4", NULL },
  [RD_SQL_SPOOL_SET_AUTH] = { "UPDATE spool SET auth_results = $1 WHERE id = $2", NULL },
  [RD_SQL_SPOOL_COUNTS] = { "SELECT state, count(*) FROM spool GROUP BY state", NULL },
  /* Through the partial index spool_pending: the first 'new' row. */
  [RD_SQL_SPOOL_OLDEST_NEW] = {
    "SELECT received_at FROM spool WHERE state = 'new' ORDER BY id LIMIT 1", NULL },

  /* ---- tickets ---- */
  [RD_SQL_TICKET_COLUMNS] = { TICKET_COLUMNS, NULL },
  [RD_SQL_TICKET_GET] = { "SELECT " TICKET_COLUMNS " FROM tickets t WHERE t.number = $1", NULL },
  [RD_SQL_TICKET_INSERT] = {
    "INSERT INTO tickets (queue, subject, requester_name, requester_addr, created_at, updated_at)"
    " VALUES ($1,$2,$3,$4,$5,$5) RETURNING number", NULL },
  [RD_SQL_TICKET_NEXT_NUMBER] = { "SELECT coalesce(max(number), 0) + 1 FROM tickets", NULL },
  [RD_SQL_TICKET_TOUCH] = { "UPDATE tickets SET updated_at = $1 WHERE number = $2", NULL },
  [RD_SQL_TICKET_TAGS] = { "SELECT tag FROM ticket_tags WHERE ticket_number = $1 ORDER BY tag", NULL },
  [RD_SQL_TICKET_PARTICIPANTS] = {
    "SELECT addr FROM ticket_participants WHERE ticket_number = $1 ORDER BY addr", NULL },
  [RD_SQL_TICKET_LINKS] = {
    "SELECT other_number FROM ticket_links WHERE ticket_number = $1"
    " UNION SELECT ticket_number FROM ticket_links WHERE other_number = $1 ORDER BY 1", NULL },
  [RD_SQL_TICKET_MESSAGES] = {
    "SELECT id, spool_id, direction, message_id, from_name, from_addr, subject, body_text, created_at,"
    " to_addrs, cc_addrs, author, delivery_status, delivery_code, outbox_id,"
    " auth_spf, auth_dkim, auth_dmarc, auth_from_domain, auth_verified"
    " FROM messages WHERE ticket_number = $1 ORDER BY id", NULL },
  [RD_SQL_TICKET_MESSAGE_IDS] = {
    "SELECT message_id FROM messages WHERE ticket_number = $1 AND message_id IS NOT NULL"
    " AND direction IN ('inbound','outbound') ORDER BY id", NULL },
  [RD_SQL_TICKET_GET_STATUS] = { "SELECT status FROM tickets WHERE number = $1", NULL },
  [RD_SQL_TICKET_GET_PRIORITY] = { "SELECT priority FROM tickets WHERE number = $1", NULL },
  [RD_SQL_TICKET_GET_ASSIGNEE] = { "SELECT assignee FROM tickets WHERE number = $1", NULL },
  [RD_SQL_TICKET_GET_QUEUE] = { "SELECT queue FROM tickets WHERE number = $1", NULL },
  [RD_SQL_TICKET_SET_STATUS] = { "UPDATE tickets SET status = $1, updated_at = $2 WHERE number = $3", NULL },
  [RD_SQL_TICKET_SET_PRIORITY] = { "UPDATE tickets SET priority = $1, updated_at = $2 WHERE number = $3", NULL },
  [RD_SQL_TICKET_SET_ASSIGNEE] = { "UPDATE tickets SET assignee = $1, updated_at = $2 WHERE number = $3", NULL },
  [RD_SQL_TICKET_SET_QUEUE] = { "UPDATE tickets SET queue = $1, updated_at = $2 WHERE number = $3", NULL },
  [RD_SQL_TAG_ADD] = {
    "INSERT INTO ticket_tags (tag, ticket_number) VALUES ($1, $2) ON CONFLICT DO NOTHING", NULL },
  [RD_SQL_TAG_REMOVE] = { "DELETE FROM ticket_tags WHERE tag = $1 AND ticket_number = $2", NULL },
  [RD_SQL_PARTICIPANT_ADD] = {
    "INSERT INTO ticket_participants (ticket_number, addr, name)"
    " SELECT $1, lower($2), $3 WHERE (SELECT count(*) FROM ticket_participants WHERE ticket_number = $1) < $4"
    " ON CONFLICT DO NOTHING", NULL },
  [RD_SQL_PARTICIPANT_CHECK] = {
    "SELECT 1 FROM ticket_participants WHERE ticket_number = $1 AND addr = lower($2)", NULL },
  [RD_SQL_LINK_ADD] = {
    "INSERT INTO ticket_links (ticket_number, other_number, reason, created_at) VALUES ($1,$2,$3,$4)"
    " ON CONFLICT DO NOTHING", NULL },
  [RD_SQL_AUDIT_INSERT] = {
    "INSERT INTO ticket_audit (ticket_number, at, actor, action, old_value, new_value) VALUES ($1,$2,$3,$4,$5,$6)",
    NULL },
  [RD_SQL_AUDIT_LIST] = {
    "SELECT id, at, actor, action, old_value, new_value FROM ticket_audit WHERE ticket_number = $1 ORDER BY id",
    NULL },
  [RD_SQL_SECRET_GET] = { "SELECT secret FROM desk_secret WHERE id = 1", NULL },
  [RD_SQL_SECRET_CREATE] = {
    "INSERT INTO desk_secret (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT DO NOTHING", NULL },

  /* ---- messages ---- */
  [RD_SQL_MESSAGE_INSERT] = {
    "INSERT INTO messages (ticket_number, spool_id, direction, message_id, from_name, from_addr, subject,"
    " body_text, created_at, to_addrs, cc_addrs, author, outbox_id, delivery_status, body_hash,"
    " auth_spf, auth_dkim, auth_dmarc, auth_from_domain, auth_verified)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20) RETURNING id", NULL },
  [RD_SQL_MESSAGE_BY_SPOOL] = { "SELECT id, ticket_number FROM messages WHERE spool_id = $1", NULL },
  [RD_SQL_MESSAGE_ORDINAL] = {
    "SELECT count(*) FROM messages WHERE ticket_number = $1 AND id <= $2", NULL },
  /* SQLite: a contentless FTS5 table, rowid = (ticket << 22) | ordinal;
   * $6 (the message row) is for backends that index in place. */
  [RD_SQL_FTS_INSERT] = {
    "INSERT INTO messages_fts (rowid, subject, body, addresses, attachments) VALUES ($1,$2,$3,$4,$5)", NULL },
  [RD_SQL_SEARCH] = {
    "SELECT rowid FROM messages_fts WHERE messages_fts MATCH $1 ORDER BY rowid DESC", NULL },
  [RD_SQL_MESSAGE_SET_DELIVERY] = {
    "UPDATE messages SET delivery_status = $2, delivery_code = $3, delivery_detail = $4"
    " WHERE id = $1 AND direction = 'outbound' RETURNING ticket_number", NULL },
  [RD_SQL_MESSAGE_FIND_DUPLICATE] = {
    "SELECT id, ticket_number FROM messages WHERE message_id = $1 AND body_hash = $2"
    " AND direction = 'inbound' ORDER BY id LIMIT 1", NULL },
  [RD_SQL_MESSAGE_FIND_OUTBOUND] = {
    "SELECT id, ticket_number FROM messages WHERE message_id = $1 AND direction = 'outbound'"
    " ORDER BY id LIMIT 1", NULL },

  /* ---- attachments ---- */
  [RD_SQL_BLOB_ADD] = {
    "INSERT INTO attachment_blobs (sha256, size, data) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING", NULL },
  [RD_SQL_ATTACHMENT_ADD] = {
    "INSERT INTO message_attachments (message_row, position, filename, content_type, sha256)"
    " VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING", NULL },
  [RD_SQL_TICKET_ATTACHMENTS] = {
    "SELECT " ATTACHMENT_COLUMNS " FROM messages m JOIN message_attachments a ON a.message_row = m.id"
    " JOIN attachment_blobs b ON b.sha256 = a.sha256 WHERE m.ticket_number = $1"
    " ORDER BY a.message_row, a.position", NULL },
  [RD_SQL_ATTACHMENT_GET] = {
    "SELECT " ATTACHMENT_COLUMNS ", m.ticket_number, b.data FROM message_attachments a"
    " JOIN attachment_blobs b ON b.sha256 = a.sha256 JOIN messages m ON m.id = a.message_row"
    " WHERE a.id = $1", NULL },

  /* ---- outbox ---- */
  [RD_SQL_OUTBOX_INSERT] = {
    "INSERT INTO outbox (kind, ticket_number, sender, message_id, raw, created_at, next_attempt_at)"
    " VALUES ($1,$2,$3,$4,$5,$6,$6) RETURNING id", NULL },
  [RD_SQL_OUTBOX_INSERT_RECIPIENT] = {
    "INSERT INTO outbox_recipients (outbox_id, position, address) VALUES ($1,$2,$3)", NULL },
  [RD_SQL_OUTBOX_RECIPIENTS] = {
    "SELECT address FROM outbox_recipients WHERE outbox_id = $1 ORDER BY position", NULL },
  [RD_SQL_OUTBOX_GET] = { "SELECT " OUTBOX_COLUMNS ", raw FROM outbox WHERE id = $1", NULL },
  [RD_SQL_OUTBOX_LIST] = {
    "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE $1 IS NULL OR state = $1 ORDER BY id DESC LIMIT $2",
    "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE $1::text IS NULL OR state = $1 ORDER BY id DESC LIMIT $2" },
  [RD_SQL_OUTBOX_EVENTS] = {
    "SELECT at, event, detail FROM outbox_events WHERE outbox_id = $1 ORDER BY id", NULL },
  [RD_SQL_OUTBOX_EVENT_ADD] = {
    "INSERT INTO outbox_events (outbox_id, at, event, detail) VALUES ($1,$2,$3,$4)", NULL },
  [RD_SQL_OUTBOX_COUNTS] = { "SELECT state, count(*) FROM outbox GROUP BY state", NULL },
  [RD_SQL_OUTBOX_OLDEST_WAITING] = {
    "SELECT min(created_at) FROM outbox WHERE state IN ('queued','sending')", NULL },
  [RD_SQL_OUTBOX_RECOVER_EVENTS] = {
    "INSERT INTO outbox_events (outbox_id, at, event, detail)"
    " SELECT id, $1, 'recovered', 'was sending when the previous process stopped; queued again'"
    " FROM outbox WHERE state = 'sending'", NULL },
  [RD_SQL_OUTBOX_RECOVER] = {
    "UPDATE outbox SET state = 'queued', next_attempt_at = $1 WHERE state = 'sending'", NULL },
  [RD_SQL_OUTBOX_DUE] = {
    "SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= $1"
    " ORDER BY next_attempt_at, id LIMIT $2", NULL },
  /* The state changes: $1 id, $2 now, $3 error text, $4 relay reply,
   * $5 a time (next attempt). Unused parameters are ignored. */
  [RD_SQL_OUTBOX_MARK_SENDING] = {
    "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = $1 AND state = 'queued'", NULL },
  [RD_SQL_OUTBOX_MARK_SENT] = {
    "UPDATE outbox SET state = 'sent', sent_at = $2, relay_reply = $4, last_error = NULL"
    " WHERE id = $1 AND state = 'sending'", NULL },
  [RD_SQL_OUTBOX_MARK_RETRY] = {
    "UPDATE outbox SET state = 'queued', last_error = $3, relay_reply = $4, next_attempt_at = $5"
    " WHERE id = $1 AND state = 'sending'", NULL },
  [RD_SQL_OUTBOX_MARK_FAILED] = {
    "UPDATE outbox SET state = 'failed', last_error = $3, relay_reply = $4"
    " WHERE id = $1 AND state IN ('sending','queued')", NULL },
  [RD_SQL_OUTBOX_DROP_BY_OPERATOR] = {
    "UPDATE outbox SET state = 'dropped', last_error = $3 WHERE id = $1 AND state IN ('queued','failed')", NULL },
  [RD_SQL_OUTBOX_DROP_BY_GUARD] = {
    "UPDATE outbox SET state = 'dropped', last_error = $3 WHERE id = $1 AND state IN ('queued','sending')", NULL },
  [RD_SQL_OUTBOX_REQUEUE] = {
    "UPDATE outbox SET state = 'queued', next_attempt_at = $2, lifetime_from = $2"
    " WHERE id = $1 AND state IN ('failed','dropped','queued')", NULL },
  /* The ticket, Message-ID and the ticket's record of an outbox row. */
  [RD_SQL_OUTBOX_TICKET_OF] = {
    "SELECT o.ticket_number, o.message_id, (SELECT m.id FROM messages m WHERE m.outbox_id = o.id LIMIT 1)"
    " FROM outbox o WHERE o.id = $1 AND o.ticket_number IS NOT NULL", NULL },
  [RD_SQL_OUTBOX_SENT_COUNT] = {
    "SELECT count(*) FROM outbox_recipients r JOIN outbox o ON o.id = r.outbox_id"
    " WHERE r.address = $1 COLLATE NOCASE AND o.state = 'sent' AND o.sent_at >= $2",
    "SELECT count(*) FROM outbox_recipients r JOIN outbox o ON o.id = r.outbox_id"
    " WHERE lower(r.address) = lower($1) AND o.state = 'sent' AND o.sent_at >= $2" },
  [RD_SQL_OUTBOX_HAS_MESSAGE_ID] = {
    "SELECT 1 FROM outbox WHERE message_id = $1 AND kind != 'redirect' LIMIT 1", NULL },
  [RD_SQL_OUTBOX_ATTEMPTS_SINCE] = {
    "SELECT at FROM outbox_events WHERE event = 'sending' AND at >= $1 ORDER BY id LIMIT 100000", NULL },
  [RD_SQL_INSTALLATION_ID] = { "SELECT value FROM relay_settings WHERE key = 'installation_id'", NULL },
  [RD_SQL_SUPPRESSION_ADD] = {
    "INSERT INTO suppressions (address, reason, created_at) VALUES (lower($1), $2, $3)"
    " ON CONFLICT (address) DO UPDATE SET reason = excluded.reason", NULL },
  [RD_SQL_SUPPRESSION_CHECK] = { "SELECT reason FROM suppressions WHERE address = lower($1)", NULL },

  /* ---- allowlist ---- */
  [RD_SQL_ALLOWLIST_ADD] = {
    "INSERT INTO allowlist (cidr, created_at, expires_at, staging, application, admin_name,"
    " admin_email, location, note) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
    " ON CONFLICT (cidr) DO UPDATE SET created_at = excluded.created_at,"
    " expires_at = excluded.expires_at, staging = excluded.staging,"
    " application = excluded.application, admin_name = excluded.admin_name,"
    " admin_email = excluded.admin_email, location = excluded.location, note = excluded.note"
    " RETURNING id", NULL },
  [RD_SQL_ALLOWLIST_REMOVE] = { "DELETE FROM allowlist WHERE cidr = $1 OR id = $2", NULL },
  [RD_SQL_ALLOWLIST_LIST] = {
    "SELECT id, cidr, created_at, expires_at, staging, application, admin_name, admin_email,"
    " location, note FROM allowlist ORDER BY id LIMIT $1", NULL },
  [RD_SQL_ALLOWLIST_VERSION] = { "SELECT version FROM allowlist_version WHERE id = 1", NULL },

  /* ---- operations: health, verification (maintenance.c) ---- */
  [RD_SQL_HEALTH_PROBE] = {
    "INSERT INTO health_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at", NULL },
  /* One row "ok", or one row per problem found. PostgreSQL checks its
   * pages and constraints itself (amcheck is an extension). */
  [RD_SQL_INTEGRITY_CHECK] = { "PRAGMA integrity_check(100)", "SELECT 'ok'" },
  /* Rows (table, rowid, parent table, constraint number) that point at
   * nothing; PostgreSQL enforces its constraints as it writes. */
  [RD_SQL_FOREIGN_KEY_CHECK] = {
    "PRAGMA foreign_key_check", "SELECT NULL, NULL, NULL, NULL WHERE false" },

  /* ---- rules' state ---- */
  [RD_SQL_RESPONSE_LAST] = {
    "SELECT sent_at FROM rules_responses WHERE inbox = lower($1) AND sender = lower($2) AND handle = $3", NULL },
  [RD_SQL_RESPONSE_RECORD] = {
    "INSERT INTO rules_responses (inbox, sender, handle, sent_at) VALUES (lower($1), lower($2), $3, $4)"
    " ON CONFLICT (inbox, sender, handle) DO UPDATE SET sent_at = excluded.sent_at", NULL },
  /* rd_store_redoable_commits(): commits that do not wait for the disk. */
  [RD_SQL_SESSION_REDOABLE_COMMITS] = { "PRAGMA synchronous=NORMAL", "SET synchronous_commit = off" },
  [RD_SQL_DUPLICATE_GET] = { "SELECT expires_at FROM rules_duplicates WHERE id = $1", NULL },
  [RD_SQL_DUPLICATE_EXPIRE] = { "DELETE FROM rules_duplicates WHERE expires_at <= $1", NULL },
  [RD_SQL_DUPLICATE_RECORD] = {
    "INSERT INTO rules_duplicates (id, expires_at) VALUES ($1, $2)"
    " ON CONFLICT (id) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
    "INSERT INTO rules_duplicates (id, expires_at) VALUES ($1, $2)"
    " ON CONFLICT (id) DO UPDATE SET expires_at = GREATEST(rules_duplicates.expires_at, excluded.expires_at)" },

  /* ---- the web desk: agents, sessions, tokens (agents.c) ---- */
  [RD_SQL_AGENT_ADD] = {
    "INSERT INTO agents (email, name, role, password_hash, created_at, updated_at)"
    " VALUES (lower($1),$2,$3,$4,$5,$5) RETURNING id", NULL },
  [RD_SQL_AGENT_GET] = { "SELECT " AGENT_COLUMNS " FROM agents WHERE id = $1", NULL },
  [RD_SQL_AGENT_GET_BY_EMAIL] = { "SELECT " AGENT_COLUMNS " FROM agents WHERE email = lower($1)", NULL },
  [RD_SQL_AGENT_LIST] = { "SELECT " AGENT_COLUMNS " FROM agents ORDER BY email LIMIT 10000", NULL },
  [RD_SQL_AGENT_QUEUES] = { "SELECT queue FROM agent_queues WHERE agent_id = $1 ORDER BY queue", NULL },
  [RD_SQL_AGENT_QUEUES_CLEAR] = { "DELETE FROM agent_queues WHERE agent_id = $1", NULL },
  [RD_SQL_AGENT_QUEUE_ADD] = {
    "INSERT INTO agent_queues (agent_id, queue) VALUES ($1, $2) ON CONFLICT DO NOTHING", NULL },
  [RD_SQL_AGENT_REMOVE] = { "DELETE FROM agents WHERE id = $1", NULL },
  [RD_SQL_AGENT_SET_NAME] = { "UPDATE agents SET name = $2, updated_at = $3 WHERE id = $1", NULL },
  [RD_SQL_AGENT_SET_ROLE] = { "UPDATE agents SET role = $2, updated_at = $3 WHERE id = $1", NULL },
  [RD_SQL_AGENT_SET_PASSWORD] = { "UPDATE agents SET password_hash = $2, updated_at = $3 WHERE id = $1", NULL },
  [RD_SQL_AGENT_SET_TOTP] = { "UPDATE agents SET totp_secret = $2, updated_at = $3 WHERE id = $1", NULL },
  [RD_SQL_AGENT_SESSION_ADD] = {
    "INSERT INTO agent_sessions (token_hash, agent_id, csrf, created_at, expires_at, client_addr)"
    " VALUES ($1,$2,$3,$4,$5,$6)", NULL },
  [RD_SQL_AGENT_SESSION_GET] = {
    "SELECT agent_id, csrf, expires_at FROM agent_sessions WHERE token_hash = $1 AND expires_at > $2", NULL },
  [RD_SQL_AGENT_SESSION_REMOVE] = { "DELETE FROM agent_sessions WHERE token_hash = $1", NULL },
  [RD_SQL_AGENT_SESSIONS_REMOVE] = {
    "DELETE FROM agent_sessions WHERE agent_id = $1 AND token_hash IS NOT $2",
    "DELETE FROM agent_sessions WHERE agent_id = $1 AND token_hash IS DISTINCT FROM $2" },
  [RD_SQL_AGENT_SESSIONS_EXPIRE] = { "DELETE FROM agent_sessions WHERE expires_at <= $1", NULL },
  [RD_SQL_AGENT_TOKEN_ADD] = {
    "INSERT INTO api_tokens (agent_id, label, token_hash, created_at) VALUES ($1,$2,$3,$4) RETURNING id", NULL },
  [RD_SQL_AGENT_TOKEN_GET] = {
    "SELECT id, agent_id, coalesce(last_used_at, 0) FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    NULL },
  [RD_SQL_AGENT_TOKEN_USED] = { "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", NULL },
  [RD_SQL_AGENT_TOKEN_LIST] = {
    "SELECT t.id, a.email, t.label, t.created_at, t.last_used_at, t.revoked_at FROM api_tokens t"
    " JOIN agents a ON a.id = t.agent_id WHERE $1 = 0 OR t.agent_id = $1 ORDER BY t.id", NULL },
  [RD_SQL_AGENT_TOKEN_REVOKE] = {
    "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", NULL },
  [RD_SQL_ADMIN_AUDIT_ADD] = {
    "INSERT INTO admin_audit (at, actor, action, target, detail) VALUES ($1,$2,$3,$4,$5)", NULL },
  [RD_SQL_ADMIN_AUDIT_LIST] = {
    "SELECT id, at, actor, action, target, detail FROM admin_audit ORDER BY id DESC LIMIT $1", NULL },

  /* ---- the web desk: drafts, views, uploads, rule versions, counts (workspace.c) ---- */
  [RD_SQL_DRAFT_PUT] = {
    "INSERT INTO drafts (agent_id, ticket_number, body, updated_at) VALUES ($1,$2,$3,$4)"
    " ON CONFLICT (agent_id, ticket_number) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
    NULL },
  [RD_SQL_DRAFT_GET] = { "SELECT body, updated_at FROM drafts WHERE agent_id = $1 AND ticket_number = $2", NULL },
  [RD_SQL_DRAFT_DELETE] = { "DELETE FROM drafts WHERE agent_id = $1 AND ticket_number = $2", NULL },
  [RD_SQL_VIEW_ADD] = {
    "INSERT INTO saved_views (agent_id, name, filters, created_at) VALUES ($1,$2,$3,$4)"
    " ON CONFLICT (agent_id, name) DO UPDATE SET filters = excluded.filters RETURNING id", NULL },
  [RD_SQL_VIEW_LIST] = {
    "SELECT id, name, filters, created_at FROM saved_views WHERE agent_id = $1 ORDER BY name LIMIT 1000", NULL },
  [RD_SQL_VIEW_DELETE] = { "DELETE FROM saved_views WHERE id = $1 AND agent_id = $2", NULL },
  [RD_SQL_UPLOAD_ADD] = {
    "INSERT INTO uploads (agent_id, filename, content_type, sha256, created_at) VALUES ($1,$2,$3,$4,$5)"
    " RETURNING id", NULL },
  [RD_SQL_UPLOAD_GET] = {
    "SELECT u.id, u.filename, u.content_type, u.sha256, b.size, b.data FROM uploads u"
    " JOIN attachment_blobs b ON b.sha256 = u.sha256 WHERE u.id = $1 AND u.agent_id = $2", NULL },
  [RD_SQL_RULE_VERSION_ADD] = {
    "INSERT INTO rule_versions (script, body, saved_at, saved_by) VALUES ($1,$2,$3,$4) RETURNING id", NULL },
  [RD_SQL_RULE_VERSION_LIST] = {
    "SELECT id, script, saved_at, saved_by, length(body) FROM rule_versions WHERE script = $1"
    " ORDER BY id DESC LIMIT 200", NULL },
  [RD_SQL_RULE_VERSION_GET] = { "SELECT id, script, saved_at, saved_by, body FROM rule_versions WHERE id = $1", NULL },
  /* Kept by triggers (migration 0602): a few rows at any size. */
  [RD_SQL_QUEUE_COUNTS] = { "SELECT queue, status, n FROM queue_counts WHERE n > 0 ORDER BY queue, status", NULL },
  [RD_SQL_SPOOL_LIST_STATE] = {
    "SELECT id, queue_id, received_at, sender, client_addr, message_id, state_reason, length(raw) FROM spool"
    " WHERE state = $1 ORDER BY id DESC LIMIT $2", NULL },
};

#define NAME_(n) #n,
static const char *const names[RD_SQL_N] = { RD_SQL_STATEMENTS (NAME_) };

const char *
rd_sql_text (RdSql q, RdSqlDialect dialect)
{
  g_return_val_if_fail (q < RD_SQL_N, "");
  if (dialect == RD_SQL_POSTGRES && statements[q].pg)
    return statements[q].pg;
  return statements[q].sqlite;
}

const char *
rd_sql_name (RdSql q)
{
  return q < RD_SQL_N ? names[q] : "unknown";
}
