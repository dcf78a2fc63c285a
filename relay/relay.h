/* relaydesk — relay: the outbox worker and `relay check`.
 *
 * The worker owns one RdStore connection and one RdSmtpClient. Each round
 * it takes the rows that are due, passes each through the guard (guard.h),
 * waits for the rate limit, marks the row 'sending', hands it to the relay
 * and records the outcome at once: 'sent' with the relay's reply after its
 * 250, 'queued' again with exponential backoff and jitter after a 4xx or a
 * connection problem (until [relay] lifetime, default 5 days, is over:
 * then 'failed'), 'failed' after a 5xx. Consecutive messages share one
 * connection. See docs/relay.md.
 */
#pragma once

#include <glib.h>
#include <stdio.h>
#include "rd-config.h"
#include "store.h"

G_BEGIN_DECLS

typedef struct _RdRelayOutbox RdRelayOutbox;

/* Settings from [relay] (and the --relay/--relay-ca overrides); opens its
 * own store connection on @data_dir. (transfer full) */
RdRelayOutbox *rd_relay_outbox_new (RdConfig *config, const char *url, const char *ca_file, GError **error);
void rd_relay_outbox_free (RdRelayOutbox *ob);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdRelayOutbox, rd_relay_outbox_free)

/* Puts rows left 'sending' by a dead process back in the queue. */
gboolean rd_relay_outbox_recover (RdRelayOutbox *ob, guint *n, GError **error);

typedef struct {
  guint sent;
  guint deferred;
  guint failed;
  guint dropped;
  gboolean path_problem;  /* stopped early: the relay or the path failed */
} RdRelayRound;

/* Sends what is due now (at most @limit rows; 0: all due), then returns.
 * FALSE only on storage errors. */
gboolean rd_relay_outbox_run_once (RdRelayOutbox *ob, guint limit, RdRelayRound *round, GError **error);

/* Connections opened so far. */
guint rd_relay_outbox_connections (RdRelayOutbox *ob);

/* The worker thread inside `relaydesk serve`. */
typedef struct _RdRelayWorker RdRelayWorker;

/* (transfer full); takes @ob. */
RdRelayWorker *rd_relay_worker_start (RdRelayOutbox *ob);
void rd_relay_worker_wake (RdRelayWorker *worker);
/* Finishes the message at hand, then stops and frees. */
void rd_relay_worker_stop (RdRelayWorker *worker);

/* Parses a duration: "90", "90s", "15m", "2h", "5d". */
gboolean rd_relay_parse_duration (const char *text, gint64 *seconds);

/* `relaydesk relay check`: prints each step with ✓/✗ and its figure to
 * @out. @send_test: an address for a test message through libcurl, or
 * NULL. Returns TRUE when every step passed. */
gboolean rd_relay_check_run (RdConfig *config, const char *url, const char *ca_file,
                             const char *send_test, const char *send_from, FILE *out);

G_END_DECLS
