/* relaydesk — ops: the operations every front end calls.
 *
 * The CLI (app/) and the HTTP API and web desk call these and nothing
 * below them: parsing input and rendering output is theirs; validation,
 * authorization, audit and the daemon's limits are here, so a rule
 * enforced once holds everywhere (STYLE.md 10). The JSON of each entity
 * is made in one place too (ops/json.h), so `--json` and /api/v1 print
 * the same fields.
 *
 * Every operation takes the actor: who acts (recorded in the audit log)
 * and what they may see and do. The CLI acts as a local administrator.
 * Authorization, at this layer:
 *   - a ticket of a queue the actor is not a member of does not exist
 *     for them (RD_ERROR_NOT_FOUND, the same as a missing ticket, so its
 *     existence does not leak); lists and searches show none of them;
 *   - administration (outbox, allowlist, rules, spool) needs an admin
 *     (RD_ERROR_PERMISSION).
 *
 * Errors: RD_ERROR_NOT_FOUND, RD_ERROR_INVALID_DATA (bad input, with a
 * message saying why), RD_ERROR_PERMISSION, RD_ERROR_LIMIT, RD_ERROR_CONFLICT,
 * RD_ERROR_CONFIG, and the store's RD_ERROR_TEMPORARY/DISK_FULL.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "store.h"
#include "spool.h"
#include "tickets.h"
#include "outbox.h"
#include "allowlist.h"
#include "reply.h"
#include "rules.h"

G_BEGIN_DECLS

typedef struct {
  const char *name;             /* recorded in the audit log */
  gboolean admin;               /* may administer (outbox, allowlist, rules, spool) */
  const char *const *queues;    /* the queues the actor may see; NULL: all */
} RdActor;

typedef struct _RdOps RdOps;

/* @config and @store must outlive the ops; one RdOps per thread, like
 * its store connection. (transfer full) */
RdOps *rd_ops_new (RdConfig *config, RdStore *store, GError **error);
void rd_ops_free (RdOps *ops);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdOps, rd_ops_free)

RdConfig *rd_ops_get_config (RdOps *ops);
RdStore *rd_ops_get_store (RdOps *ops);

/* TRUE when @actor may see tickets of @queue. */
gboolean rd_actor_sees_queue (const RdActor *actor, const char *queue);

/* ---- tickets ---------------------------------------------------------- */

/* Tickets by the filters of @q (its queue must be one the actor sees, or
 * NULL for all theirs). (transfer full: RdTicket*) */
GPtrArray *rd_ops_tickets_list (RdOps *ops, const RdActor *actor, const RdTicketQuery *q, GError **error);
/* Full-text search over subjects, bodies, addresses and attachment names,
 * limited to the actor's queues. (transfer full: RdTicket*) */
GPtrArray *rd_ops_tickets_search (RdOps *ops, const RdActor *actor, const char *query, guint limit,
                                  guint offset, GError **error);

/* One ticket as an agent sees it. */
typedef struct {
  RdTicket *ticket;          /* with messages, participants, links */
  GPtrArray *attachments;    /* RdStoredAttachment* of every message */
  GPtrArray *audit;          /* RdAuditEntry* */
  char *subject_tag;         /* "[RD #42]" */
  char *reply_address;       /* the signed reply address */
} RdTicketView;

void rd_ticket_view_free (RdTicketView *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdTicketView, rd_ticket_view_free)

RdTicketView *rd_ops_ticket_view (RdOps *ops, const RdActor *actor, gint64 number, GError **error);
/* A ticket without its thread (after a change). (transfer full) */
RdTicket *rd_ops_ticket_peek (RdOps *ops, const RdActor *actor, gint64 number, GError **error);

/* A body with its quoted history folded: the new text (transfer full)
 * and the number of non-empty lines folded. */
char *rd_ops_fold_quoted (const char *body, guint *folded);

/* Replies to the requester (desk/reply.h: composed, queued for the relay,
 * recorded on the ticket); the author is the actor. */
gboolean rd_ops_reply (RdOps *ops, const RdActor *actor, const RdReplyDraft *draft, RdReplyResult *result,
                       GError **error);
/* An internal note, never sent. Sets @message_row. */
gboolean rd_ops_note (RdOps *ops, const RdActor *actor, gint64 number, const char *text, gint64 *message_row,
                      GError **error);
/* Status, priority, assignee ("" or "-" unassigns) or queue (the actor
 * must see the new queue too). */
gboolean rd_ops_ticket_set (RdOps *ops, const RdActor *actor, gint64 number, RdTicketField field,
                            const char *value, GError **error);
/* Adds @add and removes @remove (NULL-terminated, may be NULL), all or
 * nothing. */
gboolean rd_ops_ticket_tags (RdOps *ops, const RdActor *actor, gint64 number, const char *const *add,
                             const char *const *remove, GError **error);
/* One attachment with its bytes, when the actor sees its ticket. */
RdStoredAttachment *rd_ops_attachment_get (RdOps *ops, const RdActor *actor, gint64 id, GBytes **data,
                                           GError **error);

/* ---- the outbox (admin) ------------------------------------------------- */

GPtrArray *rd_ops_outbox_list (RdOps *ops, const RdActor *actor, const char *state, guint limit, GError **error);
/* One row with its body; @events gets its history. */
RdOutboxItem *rd_ops_outbox_show (RdOps *ops, const RdActor *actor, gint64 id, GPtrArray **events,
                                  GError **error);
/* failed/dropped/queued -> queued now, with a fresh lifetime; a sent or
 * sending row is RD_ERROR_INVALID_DATA (it would go twice). */
gboolean rd_ops_outbox_retry (RdOps *ops, const RdActor *actor, gint64 id, GError **error);
/* queued/failed -> dropped with @reason (NULL: "dropped by NAME"). */
gboolean rd_ops_outbox_drop (RdOps *ops, const RdActor *actor, gint64 id, const char *reason, GError **error);
/* Queues @copies copies of @raw (CRLF is made) as a producer would:
 * the operator's and tests' tool. @ids gets the new rows (gint64). */
gboolean rd_ops_outbox_inject (RdOps *ops, const RdActor *actor, RdOutboxKind kind, const char *sender,
                               const char *const *recipients, gint64 ticket, GBytes *raw, guint copies,
                               GArray *ids, GError **error);

/* ---- the allowlist (admin) ------------------------------------------------ */

/* What an admin asks for: the relay request form's fields. */
typedef struct {
  const char *cidr;
  gboolean staging;          /* expires within RD_ALLOWLIST_STAGING_MAX_DAYS (default that) */
  gint64 expires_at;         /* unix s; 0: never (staging: the maximum) */
  const char *application;
  const char *admin_name;
  const char *admin_email;
  const char *location;
  const char *note;
} RdAllowlistRequest;

/* Validates (CIDR, expiry in the future, a staging entry within 15 days,
 * an e-mail address that is one) and adds; @entry gets what was stored.
 * (transfer full) */
RdAllowlistEntry *rd_ops_allowlist_add (RdOps *ops, const RdActor *actor, const RdAllowlistRequest *req,
                                        GError **error);
/* An entry of the list, where it comes from. */
typedef struct {
  RdAllowlistEntry *entry;   /* id 0 for config entries */
  gboolean from_config;      /* [allowlist] clients */
  gboolean expired;
} RdAllowlistItem;

void rd_allowlist_item_free (RdAllowlistItem *item);
/* The config entries, then the stored ones. (transfer full: RdAllowlistItem*) */
GPtrArray *rd_ops_allowlist_list (RdOps *ops, const RdActor *actor, GError **error);
/* Removes a stored entry by CIDR or id; an entry that comes from the
 * config file cannot be removed here (RD_ERROR_INVALID_DATA naming the
 * setting). */
gboolean rd_ops_allowlist_remove (RdOps *ops, const RdActor *actor, const char *cidr_or_id, GError **error);

/* ---- the spool (admin) -------------------------------------------------- */

/* The newest spooled message with Message-ID @message_id. */
RdSpooled *rd_ops_spool_find (RdOps *ops, const RdActor *actor, const char *message_id, GError **error);
gboolean rd_ops_spool_counts (RdOps *ops, const RdActor *actor, gint64 counts[RD_SPOOL_STATE_N], GError **error);

/* ---- operating the daemon (admin; ops/maintenance.c) -------------------- */

typedef struct {
  gboolean ready;        /* database writable and backlog under the threshold */
  gboolean writable;
  char *write_error;     /* why not writable, or NULL */
  gint64 backlog;        /* spooled messages not processed yet */
  gint64 max_backlog;
  gint64 oldest_age;     /* seconds, of the oldest unprocessed message; 0: none */
} RdOpsHealth;

void rd_ops_health_clear (RdOpsHealth *h);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdOpsHealth, rd_ops_health_clear)

/* Reads the store's figures into the gauges of the metrics registry
 * (spool backlog and age, spool and outbox by state, outbox age); with
 * @health, also probes a write and judges readiness against
 * @max_backlog (the metric relaydesk_ready follows). */
gboolean rd_ops_metrics_collect (RdOps *ops, const RdActor *actor, gint64 max_backlog, RdOpsHealth *health,
                                 GError **error);

/* A backup: the folder @dest (made, mode 0700; it must not exist or be
 * empty) gets the database copied while serve runs (relaydesk.db, with
 * the secret that signs Message-IDs and reply addresses, which lives in
 * it), the TLS certificate and key serve uses, and MANIFEST (format in
 * maintenance.c). @files gets the names written (transfer full: char*). */
gboolean rd_ops_backup (RdOps *ops, const RdActor *actor, const char *dest, GPtrArray *files, GError **error);

/* Restores the backup in @src into the data directory of the config of
 * @ops, which must hold no database (RD_ERROR_CONFLICT otherwise: a
 * running serve or an earlier install is never overwritten). Checks every
 * file against MANIFEST first. A TLS file that came from outside the data
 * directory is put back only where none is now; @notes says what was
 * done (transfer full: char*). Then checks the database as
 * rd_ops_verify does, adding its problems to @notes. */
gboolean rd_ops_restore (RdOps *ops, const RdActor *actor, const char *src, GPtrArray *notes, GError **error);

/* Checks the store (integrity, foreign keys, migrations): @problems gets
 * each problem in words (transfer full: char*). */
gboolean rd_ops_verify (RdOps *ops, const RdActor *actor, GPtrArray *problems, GError **error);

/* Copies the store of @ops into the empty PostgreSQL database at @url
 * (migrated first), then checks every table's row count and SHA-256
 * against the source: @report gets one line per table (transfer full:
 * char*). Admin only. */
gboolean rd_ops_store_copy (RdOps *ops, const RdActor *actor, const char *url, GPtrArray *report, GError **error);

/* ---- rules (admin) ----------------------------------------------------------- */

/* Compiles @path as serve would (its include loader, the global folder
 * — @global_dir or [rules] global_dir — and the [rules] limits):
 * appends RdRulesDiagnostic* to @diagnostics; FALSE with the first error
 * when it does not compile. */
gboolean rd_ops_rules_check (RdOps *ops, const RdActor *actor, const char *path, const char *global_dir,
                             GPtrArray *diagnostics, GError **error);

typedef struct {
  const char *script_path;         /* the script file */
  const char *script_text;         /* or its text (named @script_path in diagnostics) */
  const char *global_dir;          /* NULL: [rules] global_dir */
  const char *const *extensions;   /* NULL: every extension */
  GBytes *message;                 /* the raw message */
  const char *sender;              /* envelope; "" or "<>": the null sender */
  const char *recipient;           /* envelope: the inbox */
  gint64 now;                      /* for currentdate; 0: the clock */
  /* Given (followup or ticket_number set): what threading says; else,
   * with a store, threading is run (read only) on the message. */
  gboolean followup;
  gint64 ticket_number;
  const char *ticket_queue;
  const char *ticket_tag;
  /* Sender authentication: TRUE takes the From domain as DMARC-verified;
   * FALSE reads it from the message's Authentication-Results with our
   * authserv-id (a message saved from the spool view), else unverified. */
  gboolean authenticated;
} RdRulesTest;

typedef struct {
  gboolean compiled;               /* FALSE: diagnostics say why */
  GPtrArray *actions;              /* RdAction*, ${ticket.*} filled; the implicit
                                    * keep after a run-time error */
  char *runtime_error;             /* NULL when none */
  gint64 ticket_number;            /* the ticket continued, or the next number */
  gboolean followup;
  char *queue;                     /* ${ticket.queue} */
  char *tag;                       /* ${ticket.tag} */
} RdRulesTestResult;

void rd_rules_test_result_clear (RdRulesTestResult *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdRulesTestResult, rd_rules_test_result_clear)

/* Dry-runs a script on one message: nothing is stored or sent; the
 * duplicate test remembers only this run; ${ticket.*} are filled as they
 * would be (the ticket the message threads to, or the next number).
 * FALSE on a bad message or storage trouble; a script that does not
 * compile is TRUE with result->compiled FALSE and @diagnostics. */
gboolean rd_ops_rules_test (RdOps *ops, const RdActor *actor, const RdRulesTest *test,
                            RdRulesTestResult *result, GPtrArray *diagnostics, GError **error);

G_END_DECLS
