/* relaydesk — store: tickets, their messages, attachments and search.
 *
 * One writer per entity (STYLE.md 10):
 *   - rd_store_ticket_open() and rd_store_ticket_add_message() are the
 *     only ways a message reaches a ticket. Each records the message,
 *     stores its attachments once by hash, adds it to the search index,
 *     touches the ticket, writes the audit log and (inbound) marks the
 *     spooled message processed, in one transaction. Inbound mail,
 *     delivery reports, agents' replies and notes and the relay's
 *     failure notes all go through them.
 *   - rd_store_ticket_set() and rd_store_ticket_tag() are the only ways a
 *     ticket's attributes change: validated against model.h, audited
 *     with the actor (an agent, "rules", "system").
 *   - rd_store_message_set_delivery() is the only way an outbound
 *     message's delivery state changes (the outbox and delivery reports).
 *
 * Tables: tickets, messages (direction, delivery state), ticket_tags,
 * ticket_participants, ticket_links, ticket_audit, attachment_blobs
 * (each content once, by SHA-256), message_attachments, the search index
 * (SQLite FTS5 messages_fts; rowid = (ticket << 22) | ordinal of the
 * message in its ticket) and desk_secret (the installation secret that
 * signs our Message-IDs). Every function joins the transaction open on
 * the connection.
 */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

#define RD_TICKET_TAG_MAX 64        /* bytes per tag */
#define RD_TICKET_TAGS_MAX 32       /* tags per ticket */
#define RD_TICKET_PARTICIPANTS_MAX 100
#define RD_TICKET_ASSIGNEE_MAX 320
#define RD_TICKET_QUEUE_MAX 128
#define RD_TICKET_QUERY_LIMIT_MAX 1000

/* ---- reading ---------------------------------------------------------- */

typedef struct {
  gint64 id;
  gint64 spool_id;            /* inbound: the spooled message; 0 otherwise */
  RdMessageDirection direction;
  char *message_id;
  char *from_name;
  char *from_addr;
  char *subject;
  char *body_text;
  gint64 created_at;
  char *to_addrs;
  char *cc_addrs;
  char *author;               /* the agent, for outbound and notes */
  gint64 outbox_id;           /* outbound: its outbox row; 0 otherwise */
  gboolean has_delivery;      /* outbound: delivery state known */
  RdOutboxState delivery;     /* queued, sent, failed, dropped */
  char *delivery_code;        /* failed by a delivery report: its status, e.g. "5.1.1" */
  gboolean has_auth;          /* inbound: sender authentication recorded (auth/) */
  RdAuthSummary auth;         /* with has_auth */
} RdTicketMessage;

typedef struct {
  gint64 number;
  char *queue;
  RdTicketStatus status;
  RdTicketPriority priority;
  char *assignee;             /* NULL: unassigned */
  char *subject;
  char *requester_name;
  char *requester_addr;
  gint64 created_at;
  gint64 updated_at;
  guint message_count;
  GStrv tags;                 /* sorted; never NULL once read */
  GPtrArray *messages;        /* RdTicketMessage*, by rd_store_ticket_get */
  GPtrArray *participants;    /* char* addresses, by rd_store_ticket_get */
  GArray *links;              /* gint64 linked ticket numbers, by rd_store_ticket_get */
} RdTicket;

void rd_ticket_message_free (RdTicketMessage *m);
void rd_ticket_free (RdTicket *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdTicket, rd_ticket_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdTicketMessage, rd_ticket_message_free)

/* The number the next ticket would get (for dry runs; another process
 * may take it first). */
gboolean rd_store_ticket_next_number (RdStore *store, gint64 *number, GError **error);
/* One ticket with its messages, participants and links;
 * RD_ERROR_NOT_FOUND when absent. (transfer full) */
RdTicket *rd_store_ticket_get (RdStore *store, gint64 number, GError **error);
/* A ticket without its messages (cheap): tags filled. (transfer full) */
RdTicket *rd_store_ticket_peek (RdStore *store, gint64 number, GError **error);

typedef enum {
  RD_TICKET_SORT_NUMBER,     /* newest ticket first */
  RD_TICKET_SORT_UPDATED,    /* most recently updated first */
  RD_TICKET_SORT_CREATED,    /* oldest first */
} RdTicketSort;

typedef struct {
  const char *queue;
  const char *const *queues;  /* NULL-terminated: only tickets in these (the
                               * queues an agent may see); NULL: any */
  gboolean has_status;
  RdTicketStatus status;
  const char *assignee;      /* "-" or "none": unassigned */
  const char *tag;
  gint64 since;              /* updated at or after (unix s); 0: any */
  gboolean has_priority;
  RdTicketPriority priority;
  const char *requester;     /* the requester's address (any case) */
  RdTicketSort sort;
  guint limit;               /* 0: 50; capped at RD_TICKET_QUERY_LIMIT_MAX */
  guint offset;
} RdTicketQuery;

/* Tickets with their tags, without messages. (transfer full) */
GPtrArray *rd_store_tickets_query (RdStore *store, const RdTicketQuery *q, GError **error);
/* How many tickets match the filters of @q (sort, limit and offset
 * ignored), counting at most @cap (0: all); @capped (may be NULL) is set
 * when there are more. */
gboolean rd_store_tickets_count (RdStore *store, const RdTicketQuery *q, gint64 cap, gint64 *count,
                                 gboolean *capped, GError **error);
/* Tickets whose messages match the words of @query (ANDed; taken
 * literally, never as search syntax), newest first. (transfer full) */
GPtrArray *rd_store_tickets_search (RdStore *store, const char *query, guint limit, guint offset,
                                    GError **error);
/* The same among tickets of @queues (NULL-terminated; NULL: any), paged
 * among those. */
GPtrArray *rd_store_tickets_search_queues (RdStore *store, const char *query, const char *const *queues,
                                           guint limit, guint offset, GError **error);

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

/* ---- the message writer ------------------------------------------------- */

typedef struct {
  const char *filename;      /* may be NULL */
  const char *content_type;  /* "type/subtype"; NULL: application/octet-stream */
  GBytes *data;
} RdAttachmentDraft;

typedef struct {
  RdMessageDirection direction;
  gint64 spool_id;           /* inbound: the spooled message, marked processed
                              * in the same transaction (idempotent: a spooled
                              * message already on a ticket is not added twice) */
  const char *message_id;    /* no brackets */
  const char *from_name;
  const char *from_addr;
  const char *to_addrs;      /* ", "-joined */
  const char *cc_addrs;
  const char *subject;
  const char *body_text;
  const char *body_hash;     /* inbound: hex SHA-256 of the body, for dedupe */
  const char *author;        /* outbound, note: the agent (or "system", "relay") */
  gint64 outbox_id;          /* outbound: the outbox row its delivery follows */
  const RdAttachmentDraft *attachments;
  guint n_attachments;
  const RdAuthSummary *auth; /* inbound: what sender authentication found; NULL: not known */
  /* The audit line: action (NULL: "followup", "reply" or "note" by
   * direction; a new ticket's first message: "created"), its old value
   * (e.g. how a follow-up was threaded) and detail (NULL: "message N"). */
  const char *audit_action;
  const char *audit_old;
  const char *audit_detail;
} RdMessageDraft;

typedef struct {
  const char *queue;
  const char *subject;
  const char *requester_name;
  const char *requester_addr;
} RdTicketDraft;

/* Opens a ticket with its first message @first. Processing the same
 * spooled message twice opens one ticket: the second call returns the
 * existing number. */
gboolean rd_store_ticket_open (RdStore *store, const RdTicketDraft *ticket, const RdMessageDraft *first,
                               gint64 *number, gint64 *message_row, GError **error);
/* Adds a message to ticket @number (RD_ERROR_NOT_FOUND when absent). */
gboolean rd_store_ticket_add_message (RdStore *store, gint64 number, const RdMessageDraft *draft,
                                      gint64 *message_row, GError **error);

/* The delivery state of outbound message @message_row (queued, sent,
 * failed, dropped) with a status code (a DSN's "5.1.1", or NULL) and a
 * detail text; failures and drops are audited as "delivery-failed" /
 * "delivery-dropped" by @actor. */
gboolean rd_store_message_set_delivery (RdStore *store, gint64 message_row, RdOutboxState state,
                                        const char *code, const char *detail, const char *actor,
                                        GError **error);

/* ---- attributes ------------------------------------------------------- */

typedef enum {
  RD_TICKET_FIELD_STATUS,    /* model.h RdTicketStatus words */
  RD_TICKET_FIELD_PRIORITY,  /* model.h RdTicketPriority words */
  RD_TICKET_FIELD_ASSIGNEE,  /* any text up to RD_TICKET_ASSIGNEE_MAX; NULL or "" unassigns */
  RD_TICKET_FIELD_QUEUE,
} RdTicketField;

const char *rd_ticket_field_to_string (RdTicketField field);

/* Sets one field and records the change in the audit log; a value that
 * is not allowed is RD_ERROR_INVALID_DATA, a missing ticket
 * RD_ERROR_NOT_FOUND. Setting the current value changes nothing. */
gboolean rd_store_ticket_set (RdStore *store, gint64 number, RdTicketField field, const char *value,
                              const char *actor, GError **error);
/* Adds or removes a tag (audited). Tags are lower-cased, at most
 * RD_TICKET_TAG_MAX bytes of [a-z0-9_.:-] (a leading $: an IMAP keyword), at most RD_TICKET_TAGS_MAX per
 * ticket (RD_ERROR_LIMIT). Adding a tag it has changes nothing. */
gboolean rd_store_ticket_tag (RdStore *store, gint64 number, const char *tag, gboolean add,
                              const char *actor, GError **error);
/* TRUE when @tag is a valid tag (before lower-casing). */
gboolean rd_ticket_tag_is_valid (const char *tag);

/* ---- participants and links ----------------------------------------- */

/* Adds @addr (lower-cased) to the ticket's participants, at most
 * RD_TICKET_PARTICIPANTS_MAX. */
gboolean rd_store_ticket_add_participant (RdStore *store, gint64 number, const char *addr,
                                          const char *name, GError **error);
/* Sets @found; FALSE only on a storage error. */
gboolean rd_store_ticket_is_participant (RdStore *store, gint64 number, const char *addr,
                                         gboolean *found, GError **error);
/* Links two tickets (audited as "linked" by @actor on @number). */
gboolean rd_store_ticket_link (RdStore *store, gint64 number, gint64 other, const char *reason,
                               const char *actor, GError **error);

/* ---- looking messages up ---------------------------------------------- */

/* Dedupe: an inbound message already recorded with the same Message-ID
 * and body hash. Sets @message_row/@ticket_number to 0 when none. */
gboolean rd_store_message_find_duplicate (RdStore *store, const char *message_id, const char *body_hash,
                                          gint64 *message_row, gint64 *ticket_number, GError **error);
/* The outbound message we recorded with Message-ID @message_id; 0 when
 * none. */
gboolean rd_store_message_find_outbound (RdStore *store, const char *message_id, gint64 *message_row,
                                         gint64 *ticket_number, GError **error);
/* The message recorded for spooled message @spool_id (0 when none). */
gboolean rd_store_message_find_by_spool (RdStore *store, gint64 spool_id, gint64 *message_row,
                                         gint64 *ticket_number, GError **error);
/* Message ids (no brackets) of a ticket's messages that have one, in
 * order: for In-Reply-To/References. (transfer full) */
GPtrArray *rd_store_ticket_message_ids (RdStore *store, gint64 number, GError **error);

/* ---- attachments -------------------------------------------------------- */

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

/* RdStoredAttachment* of one ticket (all its messages). (transfer full) */
GPtrArray *rd_store_ticket_attachments (RdStore *store, gint64 number, GError **error);
/* One attachment with its bytes; RD_ERROR_NOT_FOUND when absent.
 * @ticket_number gets the ticket it belongs to (may be NULL). */
RdStoredAttachment *rd_store_attachment_get (RdStore *store, gint64 id, gint64 *ticket_number,
                                             GBytes **data, GError **error);

/* ---- the installation secret ------------------------------------------ */

/* 32 random bytes that sign our Message-IDs and reply addresses, created
 * atomically on first call. (transfer full) */
GBytes *rd_store_desk_secret (RdStore *store, GError **error);

G_END_DECLS
