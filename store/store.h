/* relaydesk — store: the only place that knows SQL.
 *
 * One RdStore is one SQLite connection (WAL, synchronous=FULL, foreign keys
 * on). A connection belongs to one thread at a time; open one per thread.
 * Functions speak in relaydesk terms (spool a message, open a ticket) so that
 * another backend can stand behind the same API later (DESIGN.md).
 *
 * On-disk layout: DATA_DIR/relaydesk.db (+ -wal, -shm). The schema is created
 * and migrated by rd_store_open(); migrations are named and recorded in
 * table schema_migrations, so they run once each, in order.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RdStore RdStore;

/* Opens (creating DATA_DIR and the database if needed) and migrates.
 * Errors: RD_ERROR_TEMPORARY (busy, I/O), RD_ERROR_DISK_FULL, RD_ERROR_FAILED.
 * (transfer full) */
RdStore *rd_store_open (const char *data_dir, GError **error);
/* Opens an existing database (RD_ERROR_NOT_FOUND when there is none, so
 * a mistyped --data-dir is reported instead of creating an empty one),
 * migrating it when needed. For the CLI against a live database. */
RdStore *rd_store_open_existing (const char *data_dir, GError **error);
void rd_store_free (RdStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdStore, rd_store_free)

const char *rd_store_get_path (RdStore *store);
/* Names of the migrations applied, in order. (transfer full) */
GStrv rd_store_list_migrations (RdStore *store, GError **error);

/* Groups several calls into one atomic unit: every store function called
 * between rd_store_begin() and rd_store_commit() joins this transaction
 * instead of committing on its own. rd_store_rollback() undoes it.
 * Calls nest (SAVEPOINTs inside the outermost BEGIN): an inner
 * rd_store_rollback() undoes only the inner part. */
gboolean rd_store_begin (RdStore *store, GError **error);
gboolean rd_store_commit (RdStore *store, GError **error);
void rd_store_rollback (RdStore *store);

/* ---- spool ---------------------------------------------------------- */

typedef enum {
  RD_SPOOL_NEW,          /* stored, not processed yet */
  RD_SPOOL_PROCESSED,    /* turned into a ticket or a follow-up */
  RD_SPOOL_DISCARDED,    /* rules said discard: kept here, no ticket */
  RD_SPOOL_QUARANTINED,  /* could not be processed; reason recorded */
} RdSpoolState;

const char *rd_spool_state_to_string (RdSpoolState state);

/* One message to spool. The caller fills the envelope and raw bytes;
 * rd_store_spool_put() fills queue_id and spool_id. */
typedef struct {
  char *sender;          /* envelope sender, "" for <> */
  GPtrArray *recipients; /* char*, at least one */
  char *client_addr;     /* "127.0.0.1" or NULL (deliver) */
  char *helo;            /* HELO/EHLO name or NULL */
  char *protocol;        /* "SMTP", "ESMTP", "ESMTPS", "deliver", ... */
  GBytes *raw;           /* the message, CRLF line ends as received */
  /* out */
  char *queue_id;
  gint64 spool_id;
} RdSpoolItem;

RdSpoolItem *rd_spool_item_new (void);
void rd_spool_item_free (RdSpoolItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdSpoolItem, rd_spool_item_free)

/* Stores @n items in ONE transaction and commits it durably: when this
 * returns TRUE every item is on disk (this is what group commit uses).
 * On FALSE nothing was stored. */
gboolean rd_store_spool_put (RdStore *store, RdSpoolItem **items, guint n, GError **error);

/* A spooled message as read back. */
typedef struct {
  gint64 id;
  char *queue_id;
  gint64 received_at;    /* unix seconds */
  char *sender;
  GPtrArray *recipients; /* char* */
  char *client_addr;
  char *helo;
  char *protocol;
  char *message_id;      /* from the header, may be NULL */
  GBytes *raw;
  RdSpoolState state;
  char *state_reason;
} RdSpooled;

void rd_spooled_free (RdSpooled *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdSpooled, rd_spooled_free)

/* Ids of up to @limit messages in state NEW, oldest first. (transfer full:
 * GArray of gint64) */
GArray *rd_store_spool_pending (RdStore *store, guint limit, GError **error);
RdSpooled *rd_store_spool_get (RdStore *store, gint64 id, GError **error);
/* The newest spooled message whose Message-ID is @message_id (brackets
 * optional). RD_ERROR_NOT_FOUND when none. */
RdSpooled *rd_store_spool_find_by_message_id (RdStore *store, const char *message_id, GError **error);
gboolean rd_store_spool_set_state (RdStore *store, gint64 id, RdSpoolState state,
                                   const char *reason, GError **error);
/* Number of messages per state, indexed by RdSpoolState. */
gboolean rd_store_spool_counts (RdStore *store, gint64 counts[4], GError **error);

/* ---- tickets -------------------------------------------------------- */

typedef struct {
  gint64 id;
  gint64 spool_id;       /* 0 for outbound/notes */
  char *direction;       /* "inbound", "outbound", "note" */
  char *message_id;
  char *from_name;
  char *from_addr;
  char *subject;
  char *body_text;
  gint64 created_at;
  /* Filled by rd_store_ticket_get (store/tickets.h model). */
  char *to_addrs;
  char *cc_addrs;
  char *author;          /* the agent, for outbound and notes */
  char *delivery_status; /* outbound: "queued", "failed" */
  char *delivery_code;   /* outbound failed: DSN status, e.g. "5.1.1" */
} RdTicketMessage;

typedef struct {
  gint64 number;
  char *queue;
  char *status;          /* new, open, pending, resolved, closed */
  char *priority;        /* low, normal, high, urgent */
  char *assignee;        /* may be NULL */
  char *subject;
  char *requester_name;
  char *requester_addr;
  gint64 created_at;
  gint64 updated_at;
  guint message_count;
  GPtrArray *messages;   /* RdTicketMessage*, filled by rd_store_ticket_get */
  GStrv tags;            /* sorted; never NULL once read */
  GPtrArray *participants; /* char* "addr" or "Name <addr>", by rd_store_ticket_get */
  GArray *links;         /* gint64 linked ticket numbers, by rd_store_ticket_get */
} RdTicket;

void rd_ticket_message_free (RdTicketMessage *m);
void rd_ticket_free (RdTicket *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdTicket, rd_ticket_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdTicketMessage, rd_ticket_message_free)

/* What opening a ticket from an inbound message needs. */
typedef struct {
  const char *queue;
  const char *subject;
  const char *requester_name;
  const char *requester_addr;
  /* The first message. */
  gint64 spool_id;       /* marked PROCESSED in the same transaction */
  const char *message_id;
  const char *body_text;
} RdTicketDraft;

/* Opens a ticket with its first message and marks the spooled message
 * processed, atomically: processing the same spool id twice opens one
 * ticket (the second call returns the existing number). */
gboolean rd_store_ticket_open (RdStore *store, const RdTicketDraft *draft,
                               gint64 *number, GError **error);

/* Adds an inbound message to an existing ticket (a follow-up) and marks
 * the spooled message processed, atomically and idempotently. */
typedef struct {
  gint64 ticket_number;
  gint64 spool_id;
  const char *message_id;
  const char *from_name;
  const char *from_addr;
  const char *subject;
  const char *body_text;
} RdFollowupDraft;

gboolean rd_store_ticket_add_message (RdStore *store, const RdFollowupDraft *draft,
                                      gint64 *message_row, GError **error);

typedef struct {
  const char *queue;     /* NULL: any */
  const char *status;    /* NULL: any */
  guint limit;           /* 0: 50 */
  guint offset;
} RdTicketFilter;

/* Tickets, newest first, without their messages. (transfer full) */
GPtrArray *rd_store_tickets_list (RdStore *store, const RdTicketFilter *filter, GError **error);
/* One ticket with its messages; RD_ERROR_NOT_FOUND when absent. */
RdTicket *rd_store_ticket_get (RdStore *store, gint64 number, GError **error);

G_END_DECLS
