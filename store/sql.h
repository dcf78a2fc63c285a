/* relaydesk — store internals: the statements, by name.
 *
 * Every SQL statement the store runs has a name here; store/sql.c holds
 * its text in each dialect, side by side. Names read as what the
 * statement does (TICKET_SET_STATUS); the entity code (tickets.c, ...)
 * uses the names, so one piece of logic serves every backend.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  RD_SQL_SQLITE,
  RD_SQL_POSTGRES,
} RdSqlDialect;

#define RD_SQL_STATEMENTS(X) \
  X (ALLOWLIST_ADD) \
  X (ALLOWLIST_LIST) \
  X (ALLOWLIST_REMOVE) \
  X (ALLOWLIST_VERSION) \
  X (ATTACHMENT_ADD) \
  X (ATTACHMENT_GET) \
  X (AUDIT_INSERT) \
  X (AUDIT_LIST) \
  X (BLOB_ADD) \
  X (DUPLICATE_EXPIRE) \
  X (DUPLICATE_GET) \
  X (DUPLICATE_RECORD) \
  X (FTS_INSERT) \
  X (FOREIGN_KEY_CHECK) \
  X (HEALTH_PROBE) \
  X (INSTALLATION_ID) \
  X (INTEGRITY_CHECK) \
  X (LINK_ADD) \
  X (MESSAGE_BY_SPOOL) \
  X (MESSAGE_FIND_DUPLICATE) \
  X (MESSAGE_FIND_OUTBOUND) \
  X (MESSAGE_INSERT) \
  X (MESSAGE_ORDINAL) \
  X (MESSAGE_SET_DELIVERY) \
  X (MIGRATION_COUNT) \
  X (MIGRATION_DONE) \
  X (MIGRATION_LIST) \
  X (MIGRATION_RECORD) \
  X (OUTBOX_ATTEMPTS_SINCE) \
  X (OUTBOX_COUNTS) \
  X (OUTBOX_DROP_BY_GUARD) \
  X (OUTBOX_DROP_BY_OPERATOR) \
  X (OUTBOX_DUE) \
  X (OUTBOX_EVENTS) \
  X (OUTBOX_EVENT_ADD) \
  X (OUTBOX_GET) \
  X (OUTBOX_HAS_MESSAGE_ID) \
  X (OUTBOX_INSERT) \
  X (OUTBOX_INSERT_RECIPIENT) \
  X (OUTBOX_LIST) \
  X (OUTBOX_MARK_FAILED) \
  X (OUTBOX_MARK_RETRY) \
  X (OUTBOX_MARK_SENDING) \
  X (OUTBOX_MARK_SENT) \
  X (OUTBOX_OLDEST_WAITING) \
  X (OUTBOX_RECIPIENTS) \
  X (OUTBOX_RECOVER) \
  X (OUTBOX_RECOVER_EVENTS) \
  X (OUTBOX_REQUEUE) \
  X (OUTBOX_SENT_COUNT) \
  X (OUTBOX_TICKET_OF) \
  X (PARTICIPANT_ADD) \
  X (PARTICIPANT_CHECK) \
  X (RESPONSE_LAST) \
  X (RESPONSE_RECORD) \
  X (SEARCH) \
  X (SECRET_CREATE) \
  X (SECRET_GET) \
  X (SESSION_REDOABLE_COMMITS) \
  X (SPOOL_COUNTS) \
  X (SPOOL_FIND_BY_MESSAGE_ID) \
  X (SPOOL_GET) \
  X (SPOOL_INSERT) \
  X (SPOOL_INSERT_RECIPIENT) \
  X (SPOOL_OLDEST_NEW) \
  X (SPOOL_PENDING) \
  X (SPOOL_RECIPIENTS) \
  X (SPOOL_SET_AUTH) \
  X (SPOOL_SET_STATE) \
  X (SUPPRESSION_ADD) \
  X (SUPPRESSION_CHECK) \
  X (TAG_ADD) \
  X (TAG_REMOVE) \
  X (TICKET_ATTACHMENTS) \
  X (TICKET_COLUMNS) \
  X (TICKET_GET) \
  X (TICKET_GET_ASSIGNEE) \
  X (TICKET_GET_PRIORITY) \
  X (TICKET_GET_QUEUE) \
  X (TICKET_GET_STATUS) \
  X (TICKET_INSERT) \
  X (TICKET_LINKS) \
  X (TICKET_MESSAGES) \
  X (TICKET_MESSAGE_IDS) \
  X (TICKET_NEXT_NUMBER) \
  X (TICKET_PARTICIPANTS) \
  X (TICKET_SET_ASSIGNEE) \
  X (TICKET_SET_PRIORITY) \
  X (TICKET_SET_QUEUE) \
  X (TICKET_SET_STATUS) \
  X (TICKET_TAGS) \
  X (TICKET_TOUCH)

#define RD_SQL_ENUM_(n) RD_SQL_##n,
typedef enum { RD_SQL_STATEMENTS (RD_SQL_ENUM_) RD_SQL_N } RdSql;

/* The text of statement @q in @dialect. (transfer none) */
const char *rd_sql_text (RdSql q, RdSqlDialect dialect);
/* "TICKET_SET_STATUS", for messages. */
const char *rd_sql_name (RdSql q);

/* The search index addresses a message by (ticket << RD_FTS_ORDINAL_BITS)
 * | its ordinal in the ticket, so the ticket numbers come straight from
 * the index in order. */
#define RD_FTS_ORDINAL_BITS 22

G_END_DECLS
