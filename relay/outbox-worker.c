/* relaydesk — relay: the outbox worker (relay.h).
 *
 * Exactly-once toward the relay, as far as SMTP allows: the row becomes
 * 'sending' (committed, fsynced) before MAIL FROM and 'sent' (committed)
 * right after the 250 to the end of DATA, before the next message starts
 * on the connection. The only window for a duplicate is a crash between
 * the relay's 250 and that commit (RFC 5321 section 6.1 accepts this
 * "duplicate rather than lose" behaviour for every MTA); the row is then
 * still 'sending' and rd_store_outbox_recover() queues it again.
 */
#include "relay.h"
#include "guard.h"
#include "smtp-client.h"
#include "outbox.h"
#include "rd-common.h"
#include "auth.h"
#include "rd-metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define RATE_WINDOW_US (60 * G_USEC_PER_SEC)
#define IDLE_CLOSE_US (10 * G_USEC_PER_SEC)
#define DEFAULT_LIFETIME (5 * 86400)

struct _RdRelayOutbox {
  int lock_fd;             /* DATA_DIR/outbox.lock, flock()ed: one sender per outbox */
  RdStore *store;
  RdSmtpClient *client;
  RdRelayGuard *guard;
  RdDkimSigner *signer;    /* [dkim]; NULL: mail goes out unsigned */
  char *relay_url;
  guint rate_per_minute;   /* 0: unlimited */
  gint64 lifetime;         /* seconds */
  gint64 retry_base;       /* seconds */
  gint64 retry_max;        /* seconds */
  GQueue attempts_window;  /* monotonic µs of the attempts of the last minute */
  guint path_failures;
  gint64 path_backoff_until; /* monotonic µs */
  gint64 last_used;          /* monotonic µs; 0: no connection */
  /* stop/wake, shared with the worker thread */
  GMutex lock;
  GCond cond;
  gboolean stopping;
  gboolean woken;
};

gboolean
rd_relay_parse_duration (const char *text, gint64 *seconds)
{
  return rd_parse_duration (text, seconds);
}

static gboolean
get_duration (RdConfig *config, const char *key, gint64 fallback, gint64 *out, GError **error)
{
  const char *v = rd_config_get_string (config, "relay", key, NULL);
  if (v == NULL)
    {
      *out = fallback;
      return TRUE;
    }
  if (!rd_relay_parse_duration (v, out))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                   "[relay] %s: '%s' is not a duration (e.g. 90s, 15m, 2h, 5d)", key, v);
      return FALSE;
    }
  return TRUE;
}

RdRelayOutbox *
rd_relay_outbox_new (RdConfig *config, const char *url, const char *ca_file, GError **error)
{
  RdSmtpClientOptions opts;
  if (!rd_smtp_client_options_load (config, url, ca_file, &opts, error))
    return NULL;
  g_autoptr(RdRelayOutbox) ob = g_new0 (RdRelayOutbox, 1);
  ob->lock_fd = -1;
  g_mutex_init (&ob->lock);
  g_cond_init (&ob->cond);
  g_queue_init (&ob->attempts_window);
  ob->relay_url = g_strdup (opts.url);
  ob->client = rd_smtp_client_new (&opts, error);
  rd_smtp_client_options_clear (&opts);
  if (ob->client == NULL)
    return NULL;
  gint64 rate = rd_config_get_int (config, "relay", "rate_per_minute", 60);
  ob->rate_per_minute = (guint) CLAMP (rate, 0, 1000000);
  if (!get_duration (config, "lifetime", DEFAULT_LIFETIME, &ob->lifetime, error)
      || !get_duration (config, "retry_base", 60, &ob->retry_base, error)
      || !get_duration (config, "retry_max", 3600, &ob->retry_max, error))
    return NULL;
  ob->retry_base = MAX (ob->retry_base, 1);
  ob->retry_max = MAX (ob->retry_max, ob->retry_base);
  if (!rd_config_check_errors (config, error))
    return NULL;
  ob->store = rd_store_open (rd_config_get_data_dir (config), error);
  if (ob->store == NULL)
    return NULL;
  /* One sender per outbox: recovery puts 'sending' rows back in the
   * queue, which is only right when no other process is sending them. */
  g_autofree char *lock_path = g_build_filename (rd_config_get_data_dir (config), "outbox.lock", NULL);
  ob->lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (ob->lock_fd < 0 || flock (ob->lock_fd, LOCK_EX | LOCK_NB) != 0)
    {
      int e = errno;
      g_set_error (error, RD_ERROR, e == EWOULDBLOCK ? RD_ERROR_TEMPORARY : RD_ERROR_FAILED,
                   "%s: %s", lock_path,
                   e == EWOULDBLOCK ? "another relaydesk process (serve or queue flush) is sending this outbox"
                                    : g_strerror (e));
      return NULL;
    }
  /* The rate limit counts the attempts of the last minute, including
   * those of a process that just stopped. */
  g_autoptr(GArray) recent = rd_store_outbox_attempts_since (ob->store, g_get_real_time () / G_USEC_PER_SEC - 60, error);
  if (recent == NULL)
    return NULL;
  gint64 real = g_get_real_time (), mono = g_get_monotonic_time ();
  for (guint i = 0; i < recent->len; i++)
    {
      gint64 t = mono - (real - g_array_index (recent, gint64, i) * G_USEC_PER_SEC);
      g_queue_push_tail (&ob->attempts_window, GSIZE_TO_POINTER ((gsize) MAX (t, 0)));
    }
  g_autofree char *install_id = rd_store_relay_installation_id (ob->store, error);
  if (install_id == NULL)
    return NULL;
  ob->guard = rd_relay_guard_new (config, install_id);
  g_autoptr(GError) kerr = NULL;
  ob->signer = rd_dkim_signer_new (config, &kerr);
  if (kerr)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&kerr), "[dkim] ");
      return NULL;
    }
  return g_steal_pointer (&ob);
}

void
rd_relay_outbox_free (RdRelayOutbox *ob)
{
  if (ob == NULL)
    return;
  rd_smtp_client_free (ob->client);
  rd_relay_guard_free (ob->guard);
  rd_dkim_signer_free (ob->signer);
  rd_store_free (ob->store);
  if (ob->lock_fd >= 0)
    close (ob->lock_fd); /* releases the flock */
  g_free (ob->relay_url);
  g_queue_clear (&ob->attempts_window);
  g_mutex_clear (&ob->lock);
  g_cond_clear (&ob->cond);
  g_free (ob);
}

guint
rd_relay_outbox_connections (RdRelayOutbox *ob)
{
  return rd_smtp_client_connections (ob->client);
}

gboolean
rd_relay_outbox_recover (RdRelayOutbox *ob, guint *n, GError **error)
{
  return rd_store_outbox_recover (ob->store, n, error);
}

/* Exponential backoff with jitter: base * 2^(n-1), capped, then a
 * uniformly random point in its upper half, so that many deferred rows
 * (or several relaydesk instances) do not come back in lockstep. */
static gint64
backoff (RdRelayOutbox *ob, guint n)
{
  gint64 d = ob->retry_base;
  for (guint i = 1; i < n && d < ob->retry_max; i++)
    d *= 2;
  d = MIN (d, ob->retry_max);
  gint64 half = d / 2;
  return MAX (1, d - half + (half > 0 ? g_random_int_range (0, (gint32) MIN (half + 1, G_MAXINT32)) : 0));
}

/* Waits until @deadline (monotonic µs) unless stopped; FALSE when stopped. */
static gboolean
wait_until (RdRelayOutbox *ob, gint64 deadline)
{
  g_mutex_lock (&ob->lock);
  while (!ob->stopping && g_get_monotonic_time () < deadline)
    g_cond_wait_until (&ob->cond, &ob->lock, deadline);
  gboolean go = !ob->stopping;
  g_mutex_unlock (&ob->lock);
  return go;
}

static gboolean
stopping (RdRelayOutbox *ob)
{
  g_mutex_lock (&ob->lock);
  gboolean s = ob->stopping;
  g_mutex_unlock (&ob->lock);
  return s;
}

/* The rate limit toward the relay: at most rate_per_minute attempts in
 * any 60 s window. */
static gboolean
rate_wait (RdRelayOutbox *ob)
{
  if (ob->rate_per_minute == 0)
    return TRUE;
  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      while (!g_queue_is_empty (&ob->attempts_window)
             && GPOINTER_TO_SIZE (g_queue_peek_head (&ob->attempts_window)) + RATE_WINDOW_US <= (gsize) now)
        g_queue_pop_head (&ob->attempts_window);
      if (g_queue_get_length (&ob->attempts_window) < ob->rate_per_minute)
        {
          g_queue_push_tail (&ob->attempts_window, GSIZE_TO_POINTER ((gsize) now));
          return TRUE;
        }
      gint64 until = (gint64) GPOINTER_TO_SIZE (g_queue_peek_head (&ob->attempts_window)) + RATE_WINDOW_US;
      rd_log (RD_LOG_DEBUG, "relay.rate_limit", "wait_ms=%" G_GINT64_FORMAT, (until - now) / 1000);
      if (!wait_until (ob, until))
        return FALSE;
    }
}

/* Storage writes after the relay's answer must not be lost to a busy
 * database: they are retried for a while (the CLI may hold the lock).
 * On a full disk they are retried until there is space again (the
 * outbox pauses meanwhile) or serve stops: giving up would leave the row
 * 'sending', to be sent a second time after the next restart. */
typedef gboolean (*Record) (RdRelayOutbox *ob, RdOutboxItem *it, const RdSmtpOutcome *o, gint64 t, GError **error);

static gboolean
record_sent (RdRelayOutbox *ob, RdOutboxItem *it, const RdSmtpOutcome *o, gint64 t, GError **error)
{
  return rd_store_outbox_mark_sent (ob->store, it->id, o->reply, error);
}

static gboolean
record_retry (RdRelayOutbox *ob, RdOutboxItem *it, const RdSmtpOutcome *o, gint64 t, GError **error)
{
  return rd_store_outbox_mark_retry (ob->store, it->id, o->error, o->reply, t, error);
}

/* @t: the row's age in seconds when its lifetime ran out (0 included:
 * [relay] lifetime = 0 means no retries), or -1 for a permanent failure. */
static gboolean
record_failed (RdRelayOutbox *ob, RdOutboxItem *it, const RdSmtpOutcome *o, gint64 t, GError **error)
{
  g_autofree char *text = t >= 0
      ? g_strdup_printf ("gave up after %u attempts over %" G_GINT64_FORMAT " s (lifetime): %s",
                         it->attempts + 1, t, o->error)
      : g_strdup (o->error);
  return rd_store_outbox_mark_failed (ob->store, it->id, text, o->reply, error);
}

static gboolean
record (RdRelayOutbox *ob, Record fn, RdOutboxItem *it, const RdSmtpOutcome *o, gint64 t, GError **error)
{
  for (guint i = 0;; i++)
    {
      g_autoptr(GError) local = NULL;
      if (fn (ob, it, o, t, &local))
        {
          if (i > 0)
            rd_log (RD_LOG_INFO, "relay.record", "id=%" G_GINT64_FORMAT " result=recorded tries=%u", it->id, i + 1);
          return TRUE;
        }
      if (g_error_matches (local, RD_ERROR, RD_ERROR_DISK_FULL))
        {
          if (i == 0)
            rd_log (RD_LOG_WARN, "relay.record", "id=%" G_GINT64_FORMAT " result=waiting error=\"%s\"",
                    it->id, local->message);
          if (wait_until (ob, g_get_monotonic_time () + G_USEC_PER_SEC / 2))
            continue;
        }
      if (i >= 100 || !g_error_matches (local, RD_ERROR, RD_ERROR_TEMPORARY))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      g_usleep (50 * 1000);
    }
}

typedef enum { NEXT, STOP_ROUND, STORAGE_ERROR } Step;

static Step
process (RdRelayOutbox *ob, gint64 id, RdRelayRound *round, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(RdOutboxItem) it = rd_store_outbox_get (ob->store, id, &local);
  if (it == NULL)
    {
      if (g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
        return NEXT;
      g_propagate_error (error, g_steal_pointer (&local));
      return STORAGE_ERROR;
    }
  if (it->state != RD_OUTBOX_QUEUED)
    return NEXT;

  g_ptr_array_add (it->recipients, NULL);
  g_autofree char *reason = NULL;
  g_autoptr(RdRelayGuarded) g = rd_relay_guard_apply (ob->guard, ob->store, it->kind, it->sender,
                                                      (const char *const *) it->recipients->pdata,
                                                      it->raw, &reason, error);
  g_ptr_array_remove_index (it->recipients, it->recipients->len - 1);
  if (g == NULL)
    {
      if (reason == NULL)
        return STORAGE_ERROR;
      g_autofree char *esc = rd_log_escape (reason, -1, 300);
      rd_log (RD_LOG_WARN, "relay.dropped", "id=%" G_GINT64_FORMAT " kind=%s reason=%s",
              it->id, rd_outbox_kind_to_string (it->kind), esc);
      g_autoptr(GError) derr = NULL;
      if (!rd_store_outbox_mark_dropped (ob->store, it->id, "guard", reason, &derr))
        {
          if (g_error_matches (derr, RD_ERROR, RD_ERROR_NOT_FOUND))
            return NEXT;
          g_propagate_error (error, g_steal_pointer (&derr));
          return STORAGE_ERROR;
        }
      round->dropped++;
      rd_metric_inc (RD_METRIC_RELAY_DROPPED);
      return NEXT;
    }
  for (guint i = 0; i < g->skipped->len; i++)
    if (!rd_store_outbox_add_event (ob->store, it->id, "skipped", g_ptr_array_index (g->skipped, i), error))
      return STORAGE_ERROR;
  if (g_strcmp0 (it->sender, g->envelope_sender) != 0)
    {
      g_autofree char *d = g_strdup_printf ("envelope sender <%s> replaced by <> (automatic mail, RFC 3834)", it->sender);
      if (!rd_store_outbox_add_event (ob->store, it->id, "guard", d, error))
        return STORAGE_ERROR;
    }

  if (!rate_wait (ob))
    return STOP_ROUND;
  if (!rd_store_outbox_mark_sending (ob->store, it->id, &local))
    {
      if (g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
        return NEXT; /* dropped by an operator meanwhile */
      g_propagate_error (error, g_steal_pointer (&local));
      return STORAGE_ERROR;
    }

  /* DKIM (RFC 6376) last, over the bytes the guard made: nothing may
   * change them after the signature. */
  GBytes *data = g->data;
  g_autoptr(GBytes) signed_data = NULL;
  if (ob->signer)
    {
      g_autoptr(GError) serr = NULL;
      signed_data = rd_dkim_sign (ob->signer, g->data, &serr);
      if (signed_data)
        data = signed_data;
      else
        {
          g_autofree char *esc = rd_log_escape (serr->message, -1, 300);
          rd_log (RD_LOG_ERROR, "relay.dkim", "id=%" G_GINT64_FORMAT " error=%s action=unsigned", it->id, esc);
          if (!rd_store_outbox_add_event (ob->store, it->id, "dkim", serr->message, error))
            return STORAGE_ERROR;
        }
    }

  g_ptr_array_add (g->recipients, NULL);
  RdSmtpOutcome o;
  gint64 t0 = g_get_monotonic_time ();
  rd_smtp_client_send (ob->client, g->envelope_sender, (const char *const *) g->recipients->pdata, data, &o);
  gint64 us = g_get_monotonic_time () - t0;
  gint64 ms = us / 1000;
  rd_metric_observe (RD_METRIC_RELAY_SEND_SECONDS, (double) us / G_USEC_PER_SEC);
  char code[16] = "none";
  if (o.code)
    g_snprintf (code, sizeof code, "%u", o.code);
  ob->last_used = g_get_monotonic_time ();
  g_autofree char *esc_reply = rd_log_escape (o.reply, -1, 300);
  gboolean ok;
  Step step = NEXT;
  if (o.status == RD_SMTP_OK)
    {
      ok = record (ob, record_sent, it, &o, 0, error);
      rd_log (RD_LOG_INFO, "relay.sent", "id=%" G_GINT64_FORMAT " kind=%s rcpts=%u queue_id=%s ms=%" G_GINT64_FORMAT " reply=%s",
              it->id, rd_outbox_kind_to_string (it->kind), g->recipients->len - 1,
              o.queue_id ? o.queue_id : "-", ms, esc_reply);
      round->sent++;
      rd_metric_inc (RD_METRIC_RELAY_SENT);
      ob->path_failures = 0;
    }
  else
    {
      gint64 now = g_get_real_time () / G_USEC_PER_SEC;
      gint64 age = now - it->lifetime_from;
      g_autofree char *esc_err = rd_log_escape (o.error, -1, 300);
      if (o.status == RD_SMTP_PERMFAIL)
        {
          ok = record (ob, record_failed, it, &o, -1, error);
          round->failed++;
          rd_metric_inc (RD_METRIC_RELAY_FAILURES, code, "failed");
          rd_log (RD_LOG_WARN, "relay.failed", "id=%" G_GINT64_FORMAT " permanent=yes error=%s", it->id, esc_err);
        }
      else if (age >= ob->lifetime)
        {
          ok = record (ob, record_failed, it, &o, age, error);
          round->failed++;
          rd_metric_inc (RD_METRIC_RELAY_FAILURES, code, "failed");
          rd_log (RD_LOG_WARN, "relay.failed", "id=%" G_GINT64_FORMAT " lifetime=over error=%s", it->id, esc_err);
        }
      else
        {
          gint64 next = now + backoff (ob, it->attempts + 1);
          ok = record (ob, record_retry, it, &o, next, error);
          round->deferred++;
          rd_metric_inc (RD_METRIC_RELAY_FAILURES, code, "deferred");
          rd_log (RD_LOG_INFO, "relay.deferred", "id=%" G_GINT64_FORMAT " attempts=%u retry_in=%" G_GINT64_FORMAT " error=%s",
                  it->id, it->attempts + 1, next - now, esc_err);
        }
      if (o.path_problem)
        {
          /* The relay or the way to it is the problem: pause the whole
           * queue instead of burning every row's attempts. */
          ob->path_failures++;
          gint64 pause = backoff (ob, ob->path_failures);
          ob->path_backoff_until = g_get_monotonic_time () + pause * G_USEC_PER_SEC;
          round->path_problem = TRUE;
          rd_log (RD_LOG_WARN, "relay.path_problem", "relay=%s pause_s=%" G_GINT64_FORMAT " error=%s",
                  ob->relay_url, pause, esc_err);
          step = STOP_ROUND;
        }
    }
  rd_smtp_outcome_clear (&o);
  if (!ok)
    {
      g_autofree char *msg = rd_log_escape ((*error)->message, -1, 300);
      rd_log (RD_LOG_ERROR, "relay.record_failed", "id=%" G_GINT64_FORMAT " error=%s", it->id, msg);
      return STORAGE_ERROR;
    }
  return step;
}

gboolean
rd_relay_outbox_run_once (RdRelayOutbox *ob, guint limit, RdRelayRound *round, GError **error)
{
  memset (round, 0, sizeof *round);
  if (g_get_monotonic_time () < ob->path_backoff_until)
    {
      round->path_problem = TRUE;
      return TRUE;
    }
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GArray) ids = rd_store_outbox_due (ob->store, now, limit ? limit : 10000, error);
  if (ids == NULL)
    return FALSE;
  if (ids->len == 0 && ob->last_used && g_get_monotonic_time () - ob->last_used > IDLE_CLOSE_US)
    {
      rd_smtp_client_close (ob->client);
      ob->last_used = 0;
    }
  for (guint i = 0; i < ids->len && !stopping (ob); i++)
    {
      Step s = process (ob, g_array_index (ids, gint64, i), round, error);
      if (s == STORAGE_ERROR)
        return FALSE;
      if (s == STOP_ROUND)
        break;
    }
  return TRUE;
}

/* ---- the worker thread --------------------------------------------- */

struct _RdRelayWorker {
  RdRelayOutbox *ob;
  GThread *thread;
};

static gpointer
worker_main (gpointer data)
{
  RdRelayWorker *w = data;
  RdRelayOutbox *ob = w->ob;
  guint recovered = 0;
  g_autoptr(GError) error = NULL;
  if (!rd_relay_outbox_recover (ob, &recovered, &error))
    {
      rd_log (RD_LOG_ERROR, "relay.recover", "error=%s", error->message);
      g_clear_error (&error);
    }
  else if (recovered > 0)
    rd_log (RD_LOG_WARN, "relay.recover", "requeued=%u note=\"were being sent when the previous process stopped\"", recovered);
  rd_log (RD_LOG_INFO, "relay.start", "relay=%s", ob->relay_url);
  while (!stopping (ob))
    {
      RdRelayRound round;
      gboolean busy = FALSE;
      if (!rd_relay_outbox_run_once (ob, 100, &round, &error))
        {
          rd_log (RD_LOG_ERROR, "relay.round", "error=%s", error->message);
          g_clear_error (&error);
        }
      else
        busy = (round.sent + round.deferred + round.failed + round.dropped) > 0 && !round.path_problem;
      if (busy)
        continue;
      /* Idle: look again in a second (rows from the CLI or other
       * processes), sooner when woken. */
      g_mutex_lock (&ob->lock);
      gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
      while (!ob->stopping && !ob->woken && g_get_monotonic_time () < deadline)
        g_cond_wait_until (&ob->cond, &ob->lock, deadline);
      ob->woken = FALSE;
      g_mutex_unlock (&ob->lock);
    }
  rd_smtp_client_close (ob->client);
  rd_log (RD_LOG_INFO, "relay.stop", "connections=%u", rd_smtp_client_connections (ob->client));
  return NULL;
}

RdRelayWorker *
rd_relay_worker_start (RdRelayOutbox *ob)
{
  RdRelayWorker *w = g_new0 (RdRelayWorker, 1);
  w->ob = ob;
  w->thread = g_thread_new ("relay-outbox", worker_main, w);
  return w;
}

void
rd_relay_worker_wake (RdRelayWorker *w)
{
  g_mutex_lock (&w->ob->lock);
  w->ob->woken = TRUE;
  g_cond_broadcast (&w->ob->cond);
  g_mutex_unlock (&w->ob->lock);
}

void
rd_relay_worker_stop (RdRelayWorker *w)
{
  if (w == NULL)
    return;
  g_mutex_lock (&w->ob->lock);
  w->ob->stopping = TRUE;
  g_cond_broadcast (&w->ob->cond);
  g_mutex_unlock (&w->ob->lock);
  g_thread_join (w->thread);
  rd_relay_outbox_free (w->ob);
  g_free (w);
}
