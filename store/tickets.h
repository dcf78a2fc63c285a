/* relaydesk — store: the ticket model beyond opening tickets (store.h).
 *
 * Tags, participants, links between tickets, the audit log, outbound
 * messages and notes, attachments stored once by content hash, the
 * installation secret that signs our Message-IDs, dedupe look-ups,
 * delivery failures and full-text search (SQLite FTS5).
 *
 * Tables (migration 0300-tickets-model in schema.c):
 *   desk_secret          one row: 32 random bytes, created on first use
 *   ticket_tags          (tag, ticket_number)
 *   ticket_participants  (ticket_number, addr lower case, name)
 *   ticket_links         (ticket_number, other_number, reason)
 *   ticket_audit         (ticket_number, at, actor, action, old, new)
 *   attachment_blobs     (sha256 hex, size, data): each content once
 *   message_attachments  (message_row, position, filename, type, sha256)
 *   messages_fts         FTS5: subject, body, addresses, attachment
 *                        names; rowid = (ticket << 22) | ordinal of the
 *                        message in its ticket
 * Every function joins the caller's rd_store_begin() transaction when
 * there is one.
 */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

#define RD_TICKET_TAG_MAX 64        /* bytes per tag */
#define RD_TICKET_TAGS_MAX 32       /* tags per ticket */
#define RD_TICKET_PARTICIPANTS_MAX 100

/* The installation secret (32 bytes), created atomically on first call.
 * (transfer full) */
GBytes *rd_store_desk_secret (RdStore *store, GError **error);

/* A ticket without its messages (cheap); RD_ERROR_NOT_FOUND when absent.
 * Tags are filled. (transfer full) */
RdTicket *rd_store_ticket_peek (RdStore *store, gint64 number, GError **error);

/* ---- participants, links, audit ------------------------------------ */

gboolean rd_store_ticket_add_participant (RdStore *store, gint64 number, const char *addr,
                                          const char *name, GError **error);
/* Sets @found; FALSE only on a storage error. */
gboolean rd_store_ticket_is_participant (RdStore *store, gint64 number, const char *addr,
                                         gboolean *found, GError **error);
gboolean rd_store_ticket_link (RdStore *store, gint64 number, gint64 other, const char *reason,
                               GError **error);
gboolean rd_store_ticket_audit (RdStore *store, gint64 number, const char *actor, const char *action,
                                const char *old_value, const char *new_value, GError **error);

typedef struct {
  gint64 id;
  gint64 at;
  char *actor;
  char *action;
  char *old_value;
  char *new_value;
} RdAuditEntry;

void rd_audit_entry_free (RdAuditEntry *e);
/* RdAuditEntry*, oldest first. (transfer full) */
GPtrArray *rd_store_ticket_audit_list (RdStore *store, gint64 number, GError **error);

/* ---- changes by agents (each audited) ------------------------------- */

typedef enum {
  RD_TICKET_FIELD_STATUS,    /* new, open, pending, resolved, closed */
  RD_TICKET_FIELD_PRIORITY,  /* low, normal, high, urgent */
  RD_TICKET_FIELD_ASSIGNEE,  /* any text; NULL or "" unassigns */
  RD_TICKET_FIELD_QUEUE,
} RdTicketField;

/* Sets one field and records the change in the audit log; a value that
 * is not allowed is RD_ERROR_INVALID_DATA, a missing ticket
 * RD_ERROR_NOT_FOUND. Setting the current value changes nothing. */
gboolean rd_store_ticket_set (RdStore *store, gint64 number, RdTicketField field, const char *value,
                              const char *actor, GError **error);
/* Adds or removes a tag (audited). Tags are lower-cased, at most
 * RD_TICKET_TAG_MAX bytes of [a-z0-9_.:-]. */
gboolean rd_store_ticket_tag (RdStore *store, gint64 number, const char *tag, gboolean add,
                              const char *actor, GError **error);

/* ---- messages ------------------------------------------------------- */

/* What an inbound message adds beyond store.h's drafts: recorded on the
 * message row of spooled message @spool_id (after rd_store_ticket_open
 * or rd_store_ticket_add_message put it there). */
typedef struct {
  gint64 spool_id;
  const char *body_hash;     /* hex sha256 for dedupe */
  const char *to_addrs;      /* ", "-joined, for display and search */
  const char *cc_addrs;
} RdInboundExtra;

/* Sets the extras and returns the message row (0 when the spooled
 * message is on no ticket). */
gboolean rd_store_message_set_inbound_extra (RdStore *store, const RdInboundExtra *x,
                                             gint64 *message_row, GError **error);

/* An outbound reply or an internal note by an agent. */
typedef struct {
  gint64 ticket_number;
  const char *direction;     /* "outbound" or "note" */
  const char *author;        /* the agent */
  const char *message_id;    /* outbound: no brackets */
  const char *from_name;
  const char *from_addr;
  const char *to_addrs;
  const char *cc_addrs;
  const char *subject;
  const char *body_text;
  gint64 outbox_id;          /* outbound: the outbox row */
} RdAgentMessageDraft;

/* Records the message, touches the ticket, audits it. */
gboolean rd_store_message_add_agent (RdStore *store, const RdAgentMessageDraft *d, gint64 *message_row,
                                     GError **error);

/* Adds the message to the full-text index (once per message; call it in
 * the transaction that recorded the message). */
gboolean rd_store_message_index (RdStore *store, gint64 message_row, const char *subject, const char *body,
                                 const char *addresses, const char *attachment_names, GError **error);

/* Dedupe: an inbound message already recorded with the same Message-ID
 * and body hash. Sets @message_row/@ticket_number to 0 when none. */
gboolean rd_store_message_find_duplicate (RdStore *store, const char *message_id, const char *body_hash,
                                          gint64 *message_row, gint64 *ticket_number, GError **error);

/* The outbound message we recorded with Message-ID @message_id; 0 when
 * none. */
gboolean rd_store_message_find_outbound (RdStore *store, const char *message_id, gint64 *message_row,
                                         gint64 *ticket_number, GError **error);
/* Marks an outbound message failed with its DSN status code. */
gboolean rd_store_message_mark_failed (RdStore *store, gint64 message_row, const char *code,
                                       const char *detail, GError **error);

/* Message ids (no brackets) of a ticket's messages that have one, in
 * order: for In-Reply-To/References. (transfer full) */
GPtrArray *rd_store_ticket_message_ids (RdStore *store, gint64 number, GError **error);

/* ---- attachments ---------------------------------------------------- */

typedef struct {
  gint64 id;
  gint64 message_row;
  char *filename;
  char *content_type;
  char *sha256;
  gint64 size;
} RdStoredAttachment;

void rd_stored_attachment_free (RdStoredAttachment *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdStoredAttachment, rd_stored_attachment_free)

/* Stores @data once by hash and links it to the message. */
gboolean rd_store_attachment_add (RdStore *store, gint64 message_row, guint position, const char *filename,
                                  const char *content_type, GBytes *data, GError **error);
/* RdStoredAttachment* of one ticket (all its messages). (transfer full) */
GPtrArray *rd_store_ticket_attachments (RdStore *store, gint64 number, GError **error);
/* One attachment with its bytes; RD_ERROR_NOT_FOUND when absent. */
RdStoredAttachment *rd_store_attachment_get (RdStore *store, gint64 id, GBytes **data, GError **error);

/* ---- listing and search --------------------------------------------- */

typedef enum {
  RD_TICKET_SORT_NUMBER,     /* newest ticket first */
  RD_TICKET_SORT_UPDATED,    /* most recently updated first */
  RD_TICKET_SORT_CREATED,    /* oldest first */
} RdTicketSort;

typedef struct {
  const char *queue;
  const char *status;
  const char *assignee;      /* "-" or "none": unassigned */
  const char *tag;
  gint64 since;              /* updated at or after (unix s); 0: any */
  RdTicketSort sort;
  guint limit;               /* 0: 50; capped at 1000 */
  guint offset;
} RdTicketQuery;

/* Tickets with their tags, without messages. (transfer full) */
GPtrArray *rd_store_tickets_query (RdStore *store, const RdTicketQuery *q, GError **error);
/* Tickets whose messages match the FTS5 @query (words are ANDed; the
 * text is quoted, so FTS syntax in it is taken literally), newest first.
 * (transfer full) */
GPtrArray *rd_store_tickets_search (RdStore *store, const char *query, guint limit, guint offset,
                                    GError **error);

G_END_DECLS
