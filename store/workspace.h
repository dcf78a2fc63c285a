/* relaydesk — store: what the web desk keeps for its agents beside the
 * tickets: drafts, saved views, uploads waiting to be sent, versions of
 * rule scripts, the per-queue counters, the spool by state.
 *
 * Tables (migrations 0601-web-workspace, 0602-web-queue-counts): drafts
 * (one per agent and ticket), saved_views (filters as JSON text, the
 * web layer's format), uploads (bytes in attachment_blobs, once per
 * SHA-256, like every attachment), rule_versions, queue_counts (kept by
 * triggers on tickets).
 */
#pragma once

#include <glib.h>
#include "store.h"
#include "tickets.h"
#include "spool.h"

G_BEGIN_DECLS

/* ---- drafts --------------------------------------------------------------- */

gboolean rd_store_draft_put (RdStore *store, gint64 agent_id, gint64 number, const char *body, GError **error);
/* The draft, or NULL with no error when there is none. (transfer full) */
char *rd_store_draft_get (RdStore *store, gint64 agent_id, gint64 number, gint64 *updated_at, GError **error);
gboolean rd_store_draft_delete (RdStore *store, gint64 agent_id, gint64 number, GError **error);

/* ---- saved views -------------------------------------------------------- */

typedef struct {
  gint64 id;
  char *name;
  char *filters;     /* JSON object text */
  gint64 created_at;
} RdSavedView;

void rd_saved_view_free (RdSavedView *v);
/* Adds or replaces (by name) a view. */
gboolean rd_store_view_put (RdStore *store, gint64 agent_id, const char *name, const char *filters, gint64 *id,
                            GError **error);
GPtrArray *rd_store_views_list (RdStore *store, gint64 agent_id, GError **error);
/* RD_ERROR_NOT_FOUND when the agent has no view @id. */
gboolean rd_store_view_delete (RdStore *store, gint64 agent_id, gint64 id, GError **error);

/* ---- uploads ---------------------------------------------------------------- */

/* Stores @data once by SHA-256 (@sha256 gets its hex) and records the
 * upload for @agent_id. */
gboolean rd_store_upload_add (RdStore *store, gint64 agent_id, const char *filename, const char *content_type,
                              GBytes *data, gint64 *id, char **sha256, GError **error);
/* An upload of @agent_id with its bytes; RD_ERROR_NOT_FOUND otherwise. */
RdStoredAttachment *rd_store_upload_get (RdStore *store, gint64 agent_id, gint64 id, GBytes **data,
                                         GError **error);

/* ---- rule script versions ------------------------------------------------- */

typedef struct {
  gint64 id;
  char *script;
  gint64 saved_at;
  char *saved_by;
  char *body;        /* NULL in lists */
  gint64 size;
} RdRuleVersion;

void rd_rule_version_free (RdRuleVersion *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdRuleVersion, rd_rule_version_free)
gboolean rd_store_rule_version_add (RdStore *store, const char *script, const char *body, const char *actor,
                                    gint64 *id, GError **error);
GPtrArray *rd_store_rule_versions_list (RdStore *store, const char *script, GError **error);
RdRuleVersion *rd_store_rule_version_get (RdStore *store, gint64 id, GError **error);

/* ---- counts ------------------------------------------------------------------ */

typedef struct {
  char *queue;
  RdTicketStatus status;
  gint64 count;
} RdQueueCount;

void rd_queue_count_free (RdQueueCount *c);
/* Tickets per queue and status (queues with none left out). (transfer full) */
GPtrArray *rd_store_queue_counts (RdStore *store, GError **error);

/* ---- the spool by state -------------------------------------------------------- */

typedef struct {
  gint64 id;
  char *queue_id;
  gint64 received_at;
  char *sender;
  char *client_addr;
  char *message_id;
  char *reason;
  gint64 size;
} RdSpoolSummary;

void rd_spool_summary_free (RdSpoolSummary *s);
/* The newest @limit spooled messages in @state. (transfer full) */
GPtrArray *rd_store_spool_list_state (RdStore *store, RdSpoolState state, guint limit, GError **error);

G_END_DECLS
