/* relaydesk — ops: the JSON of every entity, made once for the CLI's
 * --json and the HTTP API (the field names are the same in both;
 * docs/api.md lists them). Times are ISO 8601 UTC strings, null when
 * unset; absent texts are null. */
#pragma once

#include <json-glib/json-glib.h>
#include "ops.h"
#include "agents.h"
#include "ops-web.h"

G_BEGIN_DECLS

/* Member @name with a string value, or null when @value is NULL. */
void rd_json_add_str (JsonBuilder *b, const char *name, const char *value);
void rd_json_add_int (JsonBuilder *b, const char *name, gint64 value);
void rd_json_add_bool (JsonBuilder *b, const char *name, gboolean value);
/* An integer, or null for 0 ("none"). */
void rd_json_add_id (JsonBuilder *b, const char *name, gint64 value);
/* ISO 8601 UTC ("2024-01-15T09:29:55Z"), or null for 0 (never). */
void rd_json_add_time (JsonBuilder *b, const char *name, gint64 unix_seconds);
/* An array of strings (@n 0: NULL-terminated). */
void rd_json_add_strv (JsonBuilder *b, const char *name, const char *const *v, guint n);
/* The builder's root as text, pretty or compact. (transfer full) */
char *rd_json_to_string (JsonBuilder *b, gboolean pretty);
/* Prints the builder's root, pretty, followed by a newline. */
void rd_json_print (JsonBuilder *b);

/* A ticket without its thread (lists, and after a change): number,
 * queue, status, priority, assignee, tags, subject, requester {name,
 * addr}, subject_tag, reply_address, created_at, updated_at,
 * message_count. */
void rd_json_ticket (RdOps *ops, JsonBuilder *b, const RdTicket *t);
/* A ticket with participants, links, messages (each with attachments)
 * and its audit log. */
void rd_json_ticket_view (JsonBuilder *b, const RdTicketView *v);
/* The answer to a reply: number, message, outbox_id, message_id,
 * subject, recipients, suppressed. */
void rd_json_reply_result (JsonBuilder *b, gint64 number, const RdReplyResult *r);
/* An attachment's metadata (id, message, filename, content_type, size,
 * sha256), with @data its bytes as content_base64. */
void rd_json_attachment (JsonBuilder *b, const RdStoredAttachment *a, GBytes *data);
/* An outbox row: id, kind, state, ticket, sender, recipients,
 * message_id, attempts, last_error, relay_reply, created_at,
 * next_attempt_at, sent_at (+ events, + raw). */
void rd_json_outbox_item (JsonBuilder *b, const RdOutboxItem *it, GPtrArray *events, gboolean raw);
/* An allowlist entry: id, cidr, source (config|store), created_at,
 * expires_at, expired, staging, application, admin_name, admin_email,
 * location, note. */
void rd_json_allowlist_item (JsonBuilder *b, const RdAllowlistItem *item);

/* An agent: id, email, name, role (admin|agent), queues, totp (bool),
 * created_at. Never the password hash or the TOTP secret. */
void rd_json_agent (JsonBuilder *b, const RdAgent *a);
/* An API token's metadata: id, email, label, created_at, last_used_at,
 * revoked_at (never the token). */
void rd_json_api_token (JsonBuilder *b, const RdApiToken *t);
/* One message of a ticket (as in rd_json_ticket_view's "messages"), with
 * the attachments of @attachments that belong to it. */
void rd_json_message (JsonBuilder *b, const RdTicketMessage *m, GPtrArray *attachments);
/* A quarantined spool message: id, queue_id, received_at, sender,
 * client_addr, message_id, reason, size. */
void rd_json_spool_summary (JsonBuilder *b, const RdSpoolSummary *s);
/* A line of the administrators' audit: id, at, actor, action, target,
 * detail. */
void rd_json_admin_audit_entry (JsonBuilder *b, const RdAdminAuditEntry *e);
/* A rule script of the script directory: name, role, inbox, size,
 * exists. */
void rd_json_rule_script (JsonBuilder *b, const RdRuleScript *s);
/* A saved version of a rule script: id, saved_at, saved_by, size. */
void rd_json_rule_version (JsonBuilder *b, const RdRuleVersion *v);
/* A compiler diagnostic: line, column, severity (warning|error),
 * message, file. */
void rd_json_rules_diagnostic (JsonBuilder *b, const RdRulesDiagnostic *d);

G_END_DECLS
