/* relaydesk — ops: what the web desk adds to the operations: counts,
 * an agent's drafts, saved views and uploads, the spool's quarantine,
 * and the rule scripts with their versions (the rule playground).
 *
 * Authorization as everywhere in ops/: drafts check the ticket is one
 * the actor sees (else RD_ERROR_NOT_FOUND); the quarantine and rule
 * scripts need an admin. Drafts, views and uploads belong to an agent
 * (@agent_id) and are never another's.
 *
 * Rule scripts are only the files [rules] names (before, after,
 * default, scripts), by the name written there, resolved in [rules]
 * script_dir: a name that is not one of them is RD_ERROR_NOT_FOUND, so
 * no other file can be read or written. Saving compiles first (a
 * script that does not compile is never written: RD_ERROR_INVALID_DATA
 * with the diagnostics), keeps the text as a new version, then writes
 * the file atomically (a temporary file renamed over it).
 */
#pragma once

#include "ops.h"
#include "agents.h"
#include "workspace.h"

G_BEGIN_DECLS

GPtrArray *rd_ops_queue_counts (RdOps *ops, const RdActor *actor, GError **error);
/* The tickets the filters of @q match among the actor's queues, at most
 * @cap (rd_store_tickets_count). */
gboolean rd_ops_tickets_count (RdOps *ops, const RdActor *actor, const RdTicketQuery *q, gint64 cap, gint64 *count,
                               gboolean *capped, GError **error);

char *rd_ops_draft_get (RdOps *ops, const RdActor *actor, gint64 agent_id, gint64 number, gint64 *updated_at,
                        GError **error);
gboolean rd_ops_draft_put (RdOps *ops, const RdActor *actor, gint64 agent_id, gint64 number, const char *text,
                           GError **error);
gboolean rd_ops_draft_delete (RdOps *ops, const RdActor *actor, gint64 agent_id, gint64 number, GError **error);

GPtrArray *rd_ops_views_list (RdOps *ops, gint64 agent_id, GError **error);
gboolean rd_ops_view_put (RdOps *ops, gint64 agent_id, const char *name, const char *filters, gint64 *id,
                          GError **error);
gboolean rd_ops_view_delete (RdOps *ops, gint64 agent_id, gint64 id, GError **error);

/* @max: the largest upload ([http] max_upload), RD_ERROR_LIMIT beyond. */
gboolean rd_ops_upload_add (RdOps *ops, gint64 agent_id, const char *filename, const char *content_type,
                            GBytes *data, guint64 max, gint64 *id, char **sha256, GError **error);
RdStoredAttachment *rd_ops_upload_get (RdOps *ops, gint64 agent_id, gint64 id, GBytes **data, GError **error);

/* The spooled original (raw bytes and envelope) of inbound message
 * @message_row (0: the first inbound one) of ticket @number, when the
 * actor sees the ticket; @message_row gets the one chosen. (transfer full) */
RdSpooled *rd_ops_message_spooled (RdOps *ops, const RdActor *actor, gint64 number, gint64 *message_row,
                                   GError **error);

/* ---- the spool (admin) ---------------------------------------------------------- */

GPtrArray *rd_ops_spool_quarantine (RdOps *ops, const RdActor *actor, guint limit, GError **error);
RdSpooled *rd_ops_spool_get (RdOps *ops, const RdActor *actor, gint64 id, GError **error);
/* A quarantined (or discarded) message back to "new": serve's desk
 * processes it again. */
gboolean rd_ops_spool_reprocess (RdOps *ops, const RdActor *actor, gint64 id, GError **error);

/* ---- rule scripts (admin) ------------------------------------------------------- */

typedef struct {
  char *name;        /* as [rules] writes it */
  char *path;        /* resolved */
  char *role;        /* before, after, default, inbox */
  char *inbox;       /* role inbox: the address */
  gboolean exists;
  gint64 size;
} RdRuleScript;

void rd_rule_script_free (RdRuleScript *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdRuleScript, rd_rule_script_free)
/* The scripts [rules] names. (transfer full: RdRuleScript*) */
GPtrArray *rd_ops_rules_scripts (RdOps *ops, const RdActor *actor, char **script_dir, GError **error);
/* The script named @name (transfer full), with its text. */
RdRuleScript *rd_ops_rules_read (RdOps *ops, const RdActor *actor, const char *name, char **text, GError **error);
/* Compiles @text as @name would be (its includes); appends diagnostics;
 * FALSE (RD_ERROR_INVALID_DATA) when it does not compile. */
gboolean rd_ops_rules_check_text (RdOps *ops, const RdActor *actor, const char *name, const char *text,
                                  GPtrArray *diagnostics, GError **error);
/* Compiles, saves a version and writes the file atomically. The caller
 * reloads serve's rules (SIGHUP's work). */
gboolean rd_ops_rules_save (RdOps *ops, const RdActor *actor, const char *name, const char *text,
                            GPtrArray *diagnostics, gint64 *version, GError **error);
GPtrArray *rd_ops_rules_versions (RdOps *ops, const RdActor *actor, const char *name, GError **error);
RdRuleVersion *rd_ops_rules_version (RdOps *ops, const RdActor *actor, gint64 id, GError **error);

GPtrArray *rd_ops_admin_audit (RdOps *ops, const RdActor *actor, guint limit, GError **error);

G_END_DECLS
