/* relaydesk — store: the spool of received messages.
 *
 * A message is spooled with its envelope in one transaction; the COMMIT
 * is the durability point behind the SMTP 250 (DESIGN.md). Processing
 * later moves it from 'new' to a final state (model.h RdSpoolState).
 */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

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
  char *auth_results;    /* our Authentication-Results value (auth/), NULL until verified */
} RdSpooled;

void rd_spooled_free (RdSpooled *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdSpooled, rd_spooled_free)

/* Ids of up to @limit messages in state NEW, oldest first. (transfer full:
 * GArray of gint64) */
GArray *rd_store_spool_pending (RdStore *store, guint limit, GError **error);
/* Claims up to @limit messages in state NEW for processing by this node,
 * oldest first: a lease of rd_store_set_lease() seconds, so that several
 * nodes share the work and a dead node's claims are taken over when they
 * run out (PostgreSQL: FOR UPDATE SKIP LOCKED). SQLite has one writer:
 * the same as rd_store_spool_pending(). (transfer full: GArray of gint64) */
GArray *rd_store_spool_claim (RdStore *store, guint limit, GError **error);
/* With PostgreSQL, inside a transaction, the row stays locked against
 * other nodes until the transaction ends. */
RdSpooled *rd_store_spool_get (RdStore *store, gint64 id, GError **error);
/* The newest spooled message whose Message-ID is @message_id (brackets
 * optional). RD_ERROR_NOT_FOUND when none. */
RdSpooled *rd_store_spool_find_by_message_id (RdStore *store, const char *message_id, GError **error);
/* Sets a final state (or NEW again, to reprocess) with its reason. */
gboolean rd_store_spool_set_state (RdStore *store, gint64 id, RdSpoolState state,
                                   const char *reason, GError **error);
/* Records the Authentication-Results value sender authentication found
 * for spooled message @id (beside its raw bytes, which never change). */
gboolean rd_store_spool_set_auth (RdStore *store, gint64 id, const char *auth_results, GError **error);
/* Number of messages per state, indexed by RdSpoolState. */
gboolean rd_store_spool_counts (RdStore *store, gint64 counts[RD_SPOOL_STATE_N], GError **error);

G_END_DECLS
