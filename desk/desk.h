/* relaydesk — desk: turns spooled messages into tickets.
 *
 * Processing runs after the SMTP 250 and is idempotent (DESIGN.md): a
 * spooled message in state "new" is parsed, the rules decide, and the
 * ticket is opened in the same transaction that marks the message
 * processed. A message that cannot be parsed is quarantined with the
 * reason; storage trouble leaves it "new" for the next round.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "store.h"
#include "rules.h"
#include "message.h"

G_BEGIN_DECLS

typedef struct _RdDesk RdDesk;

/* @config and @store must outlive the desk. (transfer full) */
RdDesk *rd_desk_new (RdConfig *config, RdStore *store, GError **error);
void rd_desk_free (RdDesk *desk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdDesk, rd_desk_free)

/* Processes one spooled message. TRUE when it reached a final state
 * (ticket, discarded, quarantined); FALSE with a temporary error when it
 * should be tried again. @ticket_number is set when a ticket took it. */
gboolean rd_desk_process (RdDesk *desk, gint64 spool_id, gint64 *ticket_number, GError **error);

/* Compiles the scripts [rules] names again (SIGHUP). A script that fails
 * to compile keeps the inbox's previous one; the errors are logged and
 * FALSE is returned (what did compile is in force). */
gboolean rd_desk_reload_rules (RdDesk *desk, GError **error);

/* Processes every pending message; returns how many were handled, or -1
 * on a temporary error (what was done stays done). */
gint rd_desk_process_pending (RdDesk *desk, GError **error);

/* Compiles a Sieve script exactly as serve does: its include loader
 * (:personal beside @name or in @personal_dir, :global in @global_dir or
 * the config's [rules] global_dir) and the [rules] limits. @extensions:
 * NULL for all. Diagnostics (RdRulesDiagnostic*) are appended to
 * @diagnostics. (transfer full) */
RdRules *rd_desk_rules_compile_text (RdConfig *config, const char *name, const char *text, gsize len,
                                     const char *personal_dir, const char *global_dir,
                                     const char *const *extensions, GPtrArray *diagnostics, GError **error);
RdRules *rd_desk_rules_compile_file (RdConfig *config, const char *path, const char *global_dir,
                                     const char *const *extensions, GPtrArray *diagnostics, GError **error);

/* The folder relative script paths of [rules] resolve in: [rules]
 * script_dir, default the config file's folder. (transfer full) */
char *rd_desk_rules_script_dir (RdConfig *config);

/* What threading would decide for @msg, as a dry run (nothing written):
 * @number the ticket it continues (0: a new ticket), with its @queue and
 * subject @tag (transfer full; NULL for a new ticket). @auth: the
 * sender authentication to assume (NULL: an unverified sender). */
gboolean rd_desk_thread_preview (RdConfig *config, RdStore *store, const RdMessage *msg, const char *sender,
                                 const char *recipient, const RdAuthSummary *auth, gint64 *number, char **queue,
                                 char **tag, GError **error);

/* A background thread that processes pending messages whenever woken,
 * and every few seconds in any case (messages from `relaydesk deliver`). */
typedef struct _RdDeskWorker RdDeskWorker;

RdDeskWorker *rd_desk_worker_start (RdConfig *config, GError **error);
void rd_desk_worker_wake (RdDeskWorker *worker);
/* Reloads the rules in the worker thread, before its next message. */
void rd_desk_worker_reload (RdDeskWorker *worker);
/* Finishes the message at hand, then stops and frees. */
void rd_desk_worker_stop (RdDeskWorker *worker);

G_END_DECLS
