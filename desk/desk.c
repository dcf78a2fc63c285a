/* relaydesk — desk: spooled message -> parse -> rules -> ticket. */
#include "desk-private.h"
#include <string.h>
#include "rd-metrics.h"

RdDesk *
rd_desk_new (RdConfig *config, RdStore *store, GError **error)
{
  rd_parser_init ();
  RdDesk *d = g_new0 (RdDesk, 1);
  d->config = config;
  d->store = store;
  d->default_queue = rd_config_get_string (config, "desk", "default_queue", RD_DEFAULT_QUEUE);
  d->ids = rd_ticket_ids_new (config, store, error);
  if (d->ids == NULL)
    {
      rd_desk_free (d);
      return NULL;
    }
  rd_parser_limits_from_config (&d->parse_limits, config);
  d->auth = rd_auth_new (config, error);
  if (d->auth == NULL)
    {
      rd_desk_free (d);
      return NULL;
    }
  d->rules = rd_desk_rules_load (config, NULL, NULL, error);
  if (d->rules == NULL)
    {
      rd_desk_free (d);
      return NULL;
    }
  return d;
}

gboolean
rd_desk_reload_rules (RdDesk *d, GError **error)
{
  /* Re-read the config file for [rules]; the rest of the config stays. */
  g_autoptr(RdConfig) fresh = NULL;
  const char *path = rd_config_get_path (d->config);
  if (path)
    {
      fresh = rd_config_load (path, error);
      if (fresh == NULL)
        return FALSE;
    }
  guint failed = 0;
  RdDeskRules *r = rd_desk_rules_load (fresh ? fresh : d->config, d->rules, &failed, error);
  if (r == NULL)
    return FALSE;
  rd_desk_rules_free (d->rules);
  d->rules = r;
  if (failed)
    {
      /* The others were reloaded; the failing ones kept their previous
       * version (or the default when they had none). */
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%u script(s) failed to compile, previous kept", failed);
      return FALSE;
    }
  return TRUE;
}

void
rd_desk_free (RdDesk *d)
{
  if (d == NULL)
    return;
  rd_desk_rules_free (d->rules);
  rd_ticket_ids_free (d->ids);
  rd_auth_free (d->auth);
  g_free (d);
}

/* What became of a message, for the metrics (rd-metrics.h). */
typedef struct {
  const char *result;       /* ticket, followup, discarded, quarantined, duplicate; NULL: nothing done */
  const char *quarantine;   /* parse, stranger: why it was quarantined */
  gint64 received_at;
} Outcome;

static gboolean
quarantine (RdDesk *d, RdSpooled *sp, const char *reason, GError **error)
{
  rd_log (RD_LOG_WARN, "desk.quarantine", "queue_id=%s reason=\"%s\"", sp->queue_id, reason);
  return rd_store_spool_set_state (d->store, sp->id, RD_SPOOL_QUARANTINED, reason, error);
}

static gboolean process_parsed (RdDesk *d, RdSpooled *sp, RdMessage *msg, RdAuthSummary *auth,
                                gint64 *ticket_number, Outcome *out, GError **error);

static gboolean
process (RdDesk *d, gint64 spool_id, gint64 *ticket_number, Outcome *out, GError **error)
{
  g_autoptr(RdSpooled) sp = rd_store_spool_get (d->store, spool_id, error);
  if (sp == NULL)
    return FALSE;
  if (ticket_number)
    *ticket_number = 0;
  if (sp->state != RD_SPOOL_NEW)
    return TRUE; /* already done (another process got there first) */
  out->received_at = sp->received_at;

  /* Sender authentication (auth/), once per spooled message: the results
   * are recorded beside the raw bytes, so that processing it again (after
   * a crash, or `spool reprocess`) sees the same ones. They are recorded
   * in the transaction that records the outcome (one commit per message,
   * and the spool row, raw bytes and all, rewritten once), or on their
   * own where processing ends before it. */
  RdAuthSummary auth;
  g_autofree char *ar = NULL;
  gboolean record_auth = FALSE;
  if (sp->auth_results && rd_auth_results_parse (sp->auth_results, NULL, &auth))
    ar = g_strdup (sp->auth_results);
  else
    {
      RdAuthInput in = { sp->client_addr, sp->helo, sp->sender };
      gint64 t0 = g_get_monotonic_time ();
      ar = rd_auth_verify (d->auth, &in, sp->raw, &auth);
      gint64 us = g_get_monotonic_time () - t0;
      g_autofree char *dom = rd_log_escape (auth.from_domain, -1, 256);
      rd_log (RD_LOG_INFO, "auth.result", "queue_id=%s spf=%s dkim=%s dmarc=%s from_domain=%s verified=%s"
              " dns_queries=%u us=%" G_GINT64_FORMAT, sp->queue_id, rd_auth_result_to_string (auth.spf),
              rd_auth_result_to_string (auth.dkim), rd_auth_result_to_string (auth.dmarc), *dom ? dom : "-",
              auth.verified ? "yes" : "no", rd_auth_last_queries (d->auth), us);
      record_auth = TRUE;
    }
  /* RFC 7489 6.7: a failing message of a domain whose policy is reject
   * is held, never dropped ([auth] dmarc_reject = keep takes it in). */
  if (auth.dmarc == RD_AUTH_FAIL && g_strcmp0 (auth.dmarc_policy, "reject") == 0
      && g_strcmp0 (rd_config_get_string (d->config, "auth", "dmarc_reject", "quarantine"), "quarantine") == 0)
    {
      g_autofree char *reason = g_strdup_printf ("dmarc: %s fails DMARC and its policy is reject", auth.from_domain);
      if (record_auth && !rd_store_spool_set_auth (d->store, sp->id, ar, error))
        return FALSE;
      return quarantine (d, sp, reason, error);
    }

  /* The view carries our Authentication-Results on top, and none that
   * claims our authserv-id but came with the mail (RFC 8601 5); the
   * spool keeps the raw bytes as received. */
  g_autoptr(GBytes) view_bytes = rd_auth_view_bytes (sp->raw, rd_auth_authserv_id (d->auth), ar);
  /* Usually the view is the raw bytes with one field in front: the raw
   * bytes are then that tail of the view, not a second copy of a message
   * of up to max_message_size (memory during processing). */
  gsize raw_len = g_bytes_get_size (sp->raw), view_len = g_bytes_get_size (view_bytes);
  if (view_bytes != sp->raw && view_len > raw_len
      && memcmp ((const char *) g_bytes_get_data (view_bytes, NULL) + (view_len - raw_len),
                 g_bytes_get_data (sp->raw, NULL), raw_len) == 0)
    {
      g_bytes_unref (sp->raw);
      sp->raw = g_bytes_new_from_bytes (view_bytes, view_len - raw_len, raw_len);
    }
  g_autoptr(GError) perr = NULL;
  g_autoptr(RdMessage) msg = rd_message_parse_with_limits (view_bytes, &d->parse_limits, &perr);
  if (msg == NULL)
    {
      g_autofree char *reason = g_strdup_printf ("parse: %s", perr->message);
      out->result = "quarantined";
      out->quarantine = "parse";
      if (record_auth && !rd_store_spool_set_auth (d->store, sp->id, ar, error))
        return FALSE;
      return quarantine (d, sp, reason, error);
    }

  /* The transactions below nest in this one (savepoints). */
  g_auto(RdStoreTx) outer = RD_STORE_TX_INIT;
  if (record_auth
      && (!rd_store_tx_begin (d->store, &outer, error) || !rd_store_spool_set_auth (d->store, sp->id, ar, error)))
    return FALSE;
  if (!process_parsed (d, sp, msg, &auth, ticket_number, out, error))
    return FALSE;
  return !record_auth || rd_store_tx_commit (&outer, error);
}

static gboolean
process_parsed (RdDesk *d, RdSpooled *sp, RdMessage *msg, RdAuthSummary *auth_in,
                gint64 *ticket_number, Outcome *out, GError **error)
{
  RdAuthSummary auth = *auth_in;

  /* Tickets (inbound.c): one transaction from here to the final state,
   * so dedupe, threading, the actions and the ticket model see one
   * consistent database and two processes working the same spool cannot
   * both record a message. Any early return rolls it back. */
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  gboolean done = FALSE;
  if (!rd_desk_inbound_begin (d, sp, msg, &auth, &tx, &done, error))
    return FALSE;
  if (done)
    {
      out->result = "duplicate";
      return TRUE; /* a duplicate, a delivery report, or done meanwhile */
    }

  g_auto(RdThreadMatch) match = { 0 };
  if (!rd_desk_thread_match (d, sp, msg, &auth, &match, error))
    return FALSE;
  if (match.quarantine)
    {
      out->result = "quarantined";
      out->quarantine = "stranger";
    }
  if (match.quarantine)
    return quarantine (d, sp, match.quarantine, error) && rd_store_tx_commit (&tx, error);

  const char *recipient = sp->recipients->len ? g_ptr_array_index (sp->recipients, 0) : "";
  RdDeskDuplicates dups = { d->store, g_ptr_array_new_with_free_func (g_free), g_array_new (FALSE, FALSE, sizeof (gint64)), NULL };
  RdEnvelope env = {
    .sender = sp->sender,
    .recipient = recipient,
    .followup = match.ticket_number > 0,
    .ticket_number = match.ticket_number,
    .ticket_queue = match.queue,
    .ticket_tag = match.tag,
    .defer_ticket_vars = TRUE,
    .duplicate = rd_desk_duplicate_check,
    .duplicate_data = &dups,
    .auth = &auth,
  };
  g_autoptr(GError) rerr = NULL;
  g_autoptr(GPtrArray) actions = rd_rules_evaluate (rd_desk_rules_for (d->rules, recipient), msg, &env, &rerr);
  if (dups.error)
    {
      /* Storage trouble while the rules ran: try the message again later. */
      g_propagate_error (error, dups.error);
      g_ptr_array_unref (dups.pending);
      g_array_unref (dups.seconds);
      return FALSE;
    }
  if (actions == NULL)
    {
      /* A runtime error falls back to the implicit keep (RFC 5228 2.10.6);
       * the error is logged and recorded on the spooled message. */
      g_autofree char *m = rd_log_escape (rerr ? rerr->message : "unknown", -1, 256);
      rd_log (RD_LOG_WARN, "desk.rules", "queue_id=%s error=%s action=implicit-keep", sp->queue_id, m);
      rd_metric_inc (RD_METRIC_SIEVE_ERRORS, "runtime");
      actions = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_action_free);
      RdAction *keep = g_new0 (RdAction, 1);
      keep->type = RD_ACTION_KEEP;
      g_ptr_array_add (actions, keep);
    }

  gint64 number = 0;
  RdDeskApplyContext ctx = { rerr ? rerr->message : NULL, &dups, recipient, &auth };
  gboolean ok = rd_desk_apply_actions_full (d, sp, msg, &match, actions, &ctx, &number, error);
  g_ptr_array_unref (dups.pending);
  g_array_unref (dups.seconds);
  if (!ok)
    {
      g_prefix_error (error, "process %s: ", sp->queue_id);
      return FALSE;
    }
  if (!rd_desk_inbound_finish (d, sp, msg, &match, number, &tx, error))
    {
      g_prefix_error (error, "process %s: ", sp->queue_id);
      return FALSE;
    }
  if (number)
    rd_log (RD_LOG_INFO, "desk.ticket", "queue_id=%s ticket=%" G_GINT64_FORMAT " followup=%s",
            sp->queue_id, number, match.ticket_number ? "yes" : "no");
  else
    rd_log (RD_LOG_INFO, "desk.discard", "queue_id=%s", sp->queue_id);
  if (ticket_number)
    *ticket_number = number;
  out->result = number == 0 ? "discarded" : match.ticket_number ? "followup" : "ticket";
  return TRUE;
}

gboolean
rd_desk_process (RdDesk *d, gint64 spool_id, gint64 *ticket_number, GError **error)
{
  Outcome out = { NULL, NULL, 0 };
  gint64 t0 = g_get_monotonic_time ();
  if (!process (d, spool_id, ticket_number, &out, error))
    return FALSE;
  if (out.result == NULL)
    return TRUE;
  /* Counted once the outcome is committed (every path above commits
   * before it returns TRUE). */
  rd_metric_inc (RD_METRIC_PROCESSED, out.result);
  if (out.quarantine)
    rd_metric_inc (RD_METRIC_QUARANTINED, out.quarantine);
  rd_metric_observe (RD_METRIC_PROCESSING_SECONDS, (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC);
  gint64 delay = g_get_real_time () / G_USEC_PER_SEC - out.received_at;
  rd_metric_observe (RD_METRIC_PROCESSING_DELAY_SECONDS, (double) MAX (delay, 0));
  return TRUE;
}

gint
rd_desk_process_pending (RdDesk *d, GError **error)
{
  gint done = 0;
  for (;;)
    {
      g_autoptr(GArray) ids = rd_store_spool_pending (d->store, 64, error);
      if (ids == NULL)
        return -1;
      if (ids->len == 0)
        return done;
      for (guint i = 0; i < ids->len; i++)
        {
          if (!rd_desk_process (d, g_array_index (ids, gint64, i), NULL, error))
            return -1;
          done++;
        }
    }
}

/* ---- worker ---------------------------------------------------------- */

#define WORKER_POLL_SECONDS 2

struct _RdDeskWorker {
  RdConfig *config;
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean wake;
  gboolean stop;
  gboolean reload;
  RdStore *store;
  RdDesk *desk;
};

static gboolean
worker_stopping (RdDeskWorker *w)
{
  g_mutex_lock (&w->lock);
  gboolean stop = w->stop;
  g_mutex_unlock (&w->lock);
  return stop;
}

/* rd_desk_process_pending, looking at the stop flag between messages: a
 * backlog of thousands (after a crash) must not hold up a SIGTERM; what
 * is left is processed after the next start. */
static gint
worker_process_pending (RdDeskWorker *w, GError **error)
{
  gint done = 0;
  while (!worker_stopping (w))
    {
      g_autoptr(GArray) ids = rd_store_spool_pending (w->desk->store, 64, error);
      if (ids == NULL)
        return -1;
      if (ids->len == 0)
        break;
      for (guint i = 0; i < ids->len && !worker_stopping (w); i++)
        {
          if (!rd_desk_process (w->desk, g_array_index (ids, gint64, i), NULL, error))
            return -1;
          done++;
        }
    }
  return done;
}

static gpointer
worker_thread (gpointer data)
{
  RdDeskWorker *w = data;
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_mutex_lock (&w->lock);
      gboolean reload = w->reload;
      w->reload = FALSE;
      g_mutex_unlock (&w->lock);
      if (reload)
        {
          g_autoptr(GError) rl = NULL;
          if (rd_desk_reload_rules (w->desk, &rl))
            rd_log (RD_LOG_INFO, "rules.reload", "result=ok");
          else
            {
              g_autofree char *m = rd_log_escape (rl->message, -1, 512);
              rd_log (RD_LOG_ERROR, "rules.reload", "result=kept-previous error=%s", m);
            }
        }
      gint n = worker_process_pending (w, &error);
      if (n < 0)
        rd_log (RD_LOG_WARN, "desk.process", "error=\"%s\" retry_in=%ds", error->message, WORKER_POLL_SECONDS);
      g_mutex_lock (&w->lock);
      if (!w->wake && !w->stop)
        {
          gint64 until = g_get_monotonic_time () + WORKER_POLL_SECONDS * G_USEC_PER_SEC;
          while (!w->wake && !w->stop)
            if (!g_cond_wait_until (&w->cond, &w->lock, until))
              break;
        }
      gboolean stop = w->stop;
      w->wake = FALSE;
      g_mutex_unlock (&w->lock);
      if (stop)
        break;
    }
  return NULL;
}

RdDeskWorker *
rd_desk_worker_start (RdConfig *config, GError **error)
{
  RdStore *store = rd_store_open (rd_config_get_data_dir (config), error);
  if (store == NULL)
    return NULL;
  /* Processing is redone from the spool after a crash (DESIGN.md,
   * durability contract), so its commits need not wait for the disk:
   * two fdatasyncs per message fewer, and fewer for the spool writer's
   * commits (the 250s) to queue behind. */
  if (!rd_store_redoable_commits (store, error))
    {
      rd_store_free (store);
      return NULL;
    }
  RdDesk *desk = rd_desk_new (config, store, error);
  if (desk == NULL)
    {
      rd_store_free (store);
      return NULL;
    }
  RdDeskWorker *w = g_new0 (RdDeskWorker, 1);
  w->config = config;
  w->store = store;
  w->desk = desk;
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  w->thread = g_thread_new ("desk", worker_thread, w);
  return w;
}

void
rd_desk_worker_wake (RdDeskWorker *w)
{
  g_mutex_lock (&w->lock);
  w->wake = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

void
rd_desk_worker_reload (RdDeskWorker *w)
{
  g_mutex_lock (&w->lock);
  w->reload = TRUE;
  w->wake = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

void
rd_desk_worker_stop (RdDeskWorker *w)
{
  if (w == NULL)
    return;
  g_mutex_lock (&w->lock);
  w->stop = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
  g_thread_join (w->thread);
  rd_desk_free (w->desk);
  rd_store_free (w->store);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  g_free (w);
}
