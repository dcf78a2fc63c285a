/* relaydesk — metrics: the table of every metric and the registry (see
 * rd-metrics.h).
 *
 * The exposition format (Prometheus text format 0.0.4):
 *
 *   # HELP relaydesk_smtp_rejections_total SMTP replies 4xx/5xx ...
 *   # TYPE relaydesk_smtp_rejections_total counter
 *   relaydesk_smtp_rejections_total{reason="unknown_recipient",code="550"} 3
 *
 * a histogram as NAME_bucket{le="..."} (cumulative), NAME_sum and
 * NAME_count. Label values escape backslash, double quote and newline;
 * HELP text escapes backslash and newline.
 */
#include "rd-metrics.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#define L(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define B(...) ((const double[]) { __VA_ARGS__, INFINITY })

/* Seconds, from a millisecond to minutes: processing, relay sends. */
#define SECONDS_BUCKETS B (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
/* From the 250 to the ticket: seconds to hours (a backlog). */
#define DELAY_BUCKETS B (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)

static const RdMetricInfo table[RD_METRIC_N] = {
  [RD_METRIC_BUILD_INFO] = { "relaydesk_build_info", RD_METRIC_GAUGE,
    "Always 1; the version in a label", L ("version"), NULL, "app" },
  [RD_METRIC_START_TIME] = { "relaydesk_start_time_seconds", RD_METRIC_GAUGE,
    "When serve started, unix seconds", NULL, NULL, "app" },

  [RD_METRIC_SMTP_CONNECTIONS] = { "relaydesk_smtp_connections_total", RD_METRIC_COUNTER,
    "SMTP connections accepted by a listener (smtp: port 25 with STARTTLS, smtps: implicit TLS)",
    L ("listener"), NULL, "receiver" },
  [RD_METRIC_SMTP_SESSIONS_ACTIVE] = { "relaydesk_smtp_sessions", RD_METRIC_GAUGE,
    "SMTP sessions open now", NULL, NULL, "receiver" },
  [RD_METRIC_SMTP_REJECTIONS] = { "relaydesk_smtp_rejections_total", RD_METRIC_COUNTER,
    "SMTP replies 4xx/5xx by reason and reply code (connections refused at a limit included)",
    L ("reason", "code"), NULL, "receiver" },
  [RD_METRIC_SMTP_TLS_FAILURES] = { "relaydesk_smtp_tls_failures_total", RD_METRIC_COUNTER,
    "TLS handshakes that failed (STARTTLS or implicit TLS)", NULL, NULL, "receiver" },
  [RD_METRIC_MESSAGES_ACCEPTED] = { "relaydesk_messages_accepted_total", RD_METRIC_COUNTER,
    "Messages answered 250 after they were committed (SMTP, SMTPS, deliver)", L ("protocol"), NULL, "receiver" },
  [RD_METRIC_MESSAGE_BYTES] = { "relaydesk_message_bytes_total", RD_METRIC_COUNTER,
    "Bytes of the messages accepted", NULL, NULL, "receiver" },

  [RD_METRIC_SPOOL_COMMITS] = { "relaydesk_spool_commits_total", RD_METRIC_COUNTER,
    "Durable commits of the group-commit spool writer", NULL, NULL, "store" },
  [RD_METRIC_SPOOL_COMMIT_MESSAGES] = { "relaydesk_spool_commit_messages", RD_METRIC_HISTOGRAM,
    "Messages per group commit", NULL, B (1, 2, 4, 8, 16, 32, 64, 128, 256), "store" },
  [RD_METRIC_SPOOL_COMMIT_FAILURES] = { "relaydesk_spool_commit_failures_total", RD_METRIC_COUNTER,
    "Group commits that failed (their messages were answered 451/452)", NULL, NULL, "store" },
  [RD_METRIC_SPOOL_BACKLOG] = { "relaydesk_spool_backlog", RD_METRIC_GAUGE,
    "Spooled messages not processed yet (state new)", NULL, NULL, "store" },
  [RD_METRIC_SPOOL_OLDEST_AGE] = { "relaydesk_spool_oldest_unprocessed_age_seconds", RD_METRIC_GAUGE,
    "Age of the oldest spooled message not processed yet; 0 when none", NULL, NULL, "store" },
  [RD_METRIC_SPOOL_MESSAGES] = { "relaydesk_spool_messages", RD_METRIC_GAUGE,
    "Spooled messages by state (quarantined ones included)", L ("state"), NULL, "store" },

  [RD_METRIC_PROCESSED] = { "relaydesk_processed_total", RD_METRIC_COUNTER,
    "Spooled messages processed, by result (ticket, followup, discarded, quarantined, duplicate)",
    L ("result"), NULL, "desk" },
  [RD_METRIC_PROCESSING_SECONDS] = { "relaydesk_processing_seconds", RD_METRIC_HISTOGRAM,
    "Time to process one message: parse, rules, ticket, outbox, commit", NULL, SECONDS_BUCKETS, "desk" },
  [RD_METRIC_PROCESSING_DELAY_SECONDS] = { "relaydesk_processing_delay_seconds", RD_METRIC_HISTOGRAM,
    "Time from a message's 250 to the end of its processing (whole seconds of the spool's clock)",
    NULL, DELAY_BUCKETS, "desk" },
  [RD_METRIC_QUARANTINED] = { "relaydesk_quarantined_total", RD_METRIC_COUNTER,
    "Messages quarantined (unparsable, or a stranger's mail with a subject tag)", L ("reason"), NULL, "desk" },
  [RD_METRIC_SIEVE_ERRORS] = { "relaydesk_sieve_errors_total", RD_METRIC_COUNTER,
    "Sieve errors: runtime (the message fell back to keep) and compile (a script kept its previous version)",
    L ("kind"), NULL, "desk" },
  [RD_METRIC_VACATION] = { "relaydesk_vacation_responses_total", RD_METRIC_COUNTER,
    "Vacation responses queued (sent) and suppressed (automated sender, response log, suppression list)",
    L ("result"), NULL, "desk" },

  [RD_METRIC_OUTBOX_MESSAGES] = { "relaydesk_outbox_messages", RD_METRIC_GAUGE,
    "Outbox rows by state", L ("state"), NULL, "store" },
  [RD_METRIC_OUTBOX_OLDEST_AGE] = { "relaydesk_outbox_oldest_queued_age_seconds", RD_METRIC_GAUGE,
    "Age of the oldest outbox row waiting to be sent (queued or sending); 0 when none", NULL, NULL, "store" },
  [RD_METRIC_RELAY_SEND_SECONDS] = { "relaydesk_relay_send_seconds", RD_METRIC_HISTOGRAM,
    "Time of one send through the relay, connect (or reuse) to the final reply", NULL, SECONDS_BUCKETS, "relay" },
  [RD_METRIC_RELAY_SENT] = { "relaydesk_relay_sent_total", RD_METRIC_COUNTER,
    "Messages the relay accepted (250)", NULL, NULL, "relay" },
  [RD_METRIC_RELAY_FAILURES] = { "relaydesk_relay_failures_total", RD_METRIC_COUNTER,
    "Sends that failed, by the relay's reply code (none: no reply, e.g. connection or TLS) and result "
    "(deferred: retried later, failed: given up)", L ("code", "result"), NULL, "relay" },
  [RD_METRIC_RELAY_DROPPED] = { "relaydesk_relay_dropped_total", RD_METRIC_COUNTER,
    "Outbox rows the loop and storm guard dropped", NULL, NULL, "relay" },

  [RD_METRIC_SQLITE_BUSY] = { "relaydesk_sqlite_busy_total", RD_METRIC_COUNTER,
    "Statements that found the database locked and waited", NULL, NULL, "store" },
  [RD_METRIC_SQLITE_BUSY_RETRIES] = { "relaydesk_sqlite_busy_retries_total", RD_METRIC_COUNTER,
    "Retries while waiting for a locked database", NULL, NULL, "store" },
  [RD_METRIC_SQLITE_BUSY_ERRORS] = { "relaydesk_sqlite_busy_errors_total", RD_METRIC_COUNTER,
    "Waits for a locked database that gave up (the statement failed with a temporary error)", NULL, NULL, "store" },

  [RD_METRIC_READY] = { "relaydesk_ready", RD_METRIC_GAUGE,
    "1 when the last readiness check passed (database writable, backlog under [metrics] max_backlog)",
    NULL, NULL, "app" },
};

typedef struct {
  char **values;        /* label values */
  double value;         /* counter, gauge; histogram: sum */
  guint64 count;        /* histogram */
  guint64 *buckets;     /* histogram: per bucket, not cumulative */
} Series;

typedef struct {
  GMutex lock;
  GHashTable *series;   /* joined label values -> Series */
  guint n_labels;
  guint n_buckets;
} Family;

static Family families[RD_METRIC_N];
static gsize initialised;

static void
series_free (gpointer data)
{
  Series *s = data;
  g_strfreev (s->values);
  g_free (s->buckets);
  g_free (s);
}

static void
init_once (void)
{
  if (!g_once_init_enter (&initialised))
    return;
  for (guint i = 0; i < RD_METRIC_N; i++)
    {
      const RdMetricInfo *m = &table[i];
      g_assert (m->name != NULL);
      Family *f = &families[i];
      g_mutex_init (&f->lock);
      f->series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, series_free);
      f->n_labels = m->labels ? g_strv_length ((char **) m->labels) : 0;
      if (m->type == RD_METRIC_HISTOGRAM)
        {
          g_assert (m->buckets != NULL);
          while (!isinf (m->buckets[f->n_buckets]))
            f->n_buckets++;
          f->n_buckets++; /* +Inf */
        }
    }
  g_once_init_leave (&initialised, 1);
}

const RdMetricInfo *
rd_metric_info (RdMetricId id)
{
  g_return_val_if_fail (id < RD_METRIC_N, NULL);
  return &table[id];
}

/* The series of @id for the label values in @ap; the family's lock is
 * held on return. */
static Series *
lookup (RdMetricId id, va_list ap)
{
  init_once ();
  Family *f = &families[id];
  const char *values[8] = { NULL };
  g_assert (f->n_labels < G_N_ELEMENTS (values));
  GString *key = g_string_new (NULL);
  for (guint i = 0; i < f->n_labels; i++)
    {
      values[i] = va_arg (ap, const char *);
      if (values[i] == NULL)
        values[i] = "";
      if (i)
        g_string_append_c (key, '\x1f');
      g_string_append (key, values[i]);
    }
  g_mutex_lock (&f->lock);
  Series *s = g_hash_table_lookup (f->series, key->str);
  if (s == NULL && g_hash_table_size (f->series) >= RD_METRICS_MAX_SERIES)
    {
      /* Too many label sets: the rest is counted together. */
      g_string_truncate (key, 0);
      for (guint i = 0; i < f->n_labels; i++)
        {
          values[i] = "other";
          g_string_append (key, i ? "\x1fother" : "other");
        }
      s = g_hash_table_lookup (f->series, key->str);
    }
  if (s == NULL)
    {
      s = g_new0 (Series, 1);
      s->values = g_new0 (char *, f->n_labels + 1);
      for (guint i = 0; i < f->n_labels; i++)
        s->values[i] = g_strdup (values[i]);
      if (f->n_buckets)
        s->buckets = g_new0 (guint64, f->n_buckets);
      g_hash_table_insert (f->series, g_string_free (key, FALSE), s);
    }
  else
    g_string_free (key, TRUE);
  return s;
}

static void
update (RdMetricId id, RdMetricType type, double v, va_list ap)
{
  g_return_if_fail (id < RD_METRIC_N);
  g_return_if_fail (table[id].type == type || (type == RD_METRIC_COUNTER && table[id].type == RD_METRIC_GAUGE));
  Series *s = lookup (id, ap);
  Family *f = &families[id];
  switch (table[id].type)
    {
    case RD_METRIC_COUNTER:
      if (v > 0)
        s->value += v;
      break;
    case RD_METRIC_GAUGE:
      if (type == RD_METRIC_COUNTER)
        s->value += v;   /* rd_metric_add on a gauge: up or down */
      else
        s->value = v;
      break;
    case RD_METRIC_HISTOGRAM:
      {
        guint i = 0;
        while (i + 1 < f->n_buckets && v > table[id].buckets[i])
          i++;
        s->buckets[i]++;
        s->count++;
        s->value += v;
      }
      break;
    }
  g_mutex_unlock (&f->lock);
}

void
rd_metric_inc (RdMetricId id, ...)
{
  va_list ap;
  va_start (ap, id);
  update (id, RD_METRIC_COUNTER, 1, ap);
  va_end (ap);
}

void
rd_metric_add (RdMetricId id, double v, ...)
{
  va_list ap;
  va_start (ap, v);
  update (id, RD_METRIC_COUNTER, v, ap);
  va_end (ap);
}

void
rd_metric_set (RdMetricId id, double v, ...)
{
  va_list ap;
  va_start (ap, v);
  update (id, RD_METRIC_GAUGE, v, ap);
  va_end (ap);
}

void
rd_metric_observe (RdMetricId id, double v, ...)
{
  va_list ap;
  va_start (ap, v);
  update (id, RD_METRIC_HISTOGRAM, v, ap);
  va_end (ap);
}

double
rd_metric_get (RdMetricId id, ...)
{
  g_return_val_if_fail (id < RD_METRIC_N, 0);
  va_list ap;
  va_start (ap, id);
  Series *s = lookup (id, ap);
  va_end (ap);
  double v = table[id].type == RD_METRIC_HISTOGRAM ? (double) s->count : s->value;
  g_mutex_unlock (&families[id].lock);
  return v;
}

/* ---- the exposition format -------------------------------------------- */

static void
append_number (GString *out, double v)
{
  if (isinf (v))
    g_string_append (out, v > 0 ? "+Inf" : "-Inf");
  else if (isnan (v))
    g_string_append (out, "NaN");
  else if (v == floor (v) && fabs (v) < 1e15)
    g_string_append_printf (out, "%.0f", v);
  else
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append (out, g_ascii_dtostr (buf, sizeof buf, v));
    }
}

static void
append_escaped (GString *out, const char *text, gboolean quote)
{
  for (const char *p = text; *p; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if (*p == '"' && quote)
        g_string_append (out, "\\\"");
      else
        g_string_append_c (out, *p);
    }
}

/* {a="x",b="y"} plus @extra (le="..."), or nothing without labels. */
static void
append_labels (GString *out, const RdMetricInfo *m, char **values, const char *le)
{
  if ((m->labels == NULL || m->labels[0] == NULL) && le == NULL)
    return;
  g_string_append_c (out, '{');
  guint n = 0;
  for (guint i = 0; m->labels && m->labels[i]; i++, n++)
    {
      g_string_append_printf (out, "%s%s=\"", n ? "," : "", m->labels[i]);
      append_escaped (out, values[i], TRUE);
      g_string_append_c (out, '"');
    }
  if (le)
    g_string_append_printf (out, "%sle=\"%s\"", n ? "," : "", le);
  g_string_append_c (out, '}');
}

static gint
compare_keys (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char *
rd_metrics_render (void)
{
  init_once ();
  GString *out = g_string_new (NULL);
  static const char *const types[] = { "counter", "gauge", "histogram" };
  for (guint id = 0; id < RD_METRIC_N; id++)
    {
      const RdMetricInfo *m = &table[id];
      Family *f = &families[id];
      g_string_append_printf (out, "# HELP %s ", m->name);
      append_escaped (out, m->help, FALSE);
      g_string_append_printf (out, "\n# TYPE %s %s\n", m->name, types[m->type]);
      g_mutex_lock (&f->lock);
      /* A metric without labels shows 0 before its first report, so a
       * rate() has a start; labelled ones appear with their first. */
      if (f->n_labels == 0 && g_hash_table_size (f->series) == 0)
        {
          if (m->type == RD_METRIC_HISTOGRAM)
            {
              for (guint i = 0; i < f->n_buckets; i++)
                {
                  g_autofree char *le = NULL;
                  GString *num = g_string_new (NULL);
                  append_number (num, m->buckets[i]);
                  le = g_string_free (num, FALSE);
                  g_string_append_printf (out, "%s_bucket{le=\"%s\"} 0\n", m->name, le);
                }
              g_string_append_printf (out, "%s_sum 0\n%s_count 0\n", m->name, m->name);
            }
          else
            g_string_append_printf (out, "%s 0\n", m->name);
          g_mutex_unlock (&f->lock);
          continue;
        }
      guint n = 0;
      g_autofree gpointer *keys = g_hash_table_get_keys_as_array (f->series, &n);
      qsort (keys, n, sizeof *keys, compare_keys);
      for (guint k = 0; k < n; k++)
        {
          Series *s = g_hash_table_lookup (f->series, keys[k]);
          if (m->type != RD_METRIC_HISTOGRAM)
            {
              g_string_append (out, m->name);
              append_labels (out, m, s->values, NULL);
              g_string_append_c (out, ' ');
              append_number (out, s->value);
              g_string_append_c (out, '\n');
              continue;
            }
          guint64 cumulative = 0;
          for (guint i = 0; i < f->n_buckets; i++)
            {
              cumulative += s->buckets[i];
              GString *num = g_string_new (NULL);
              append_number (num, m->buckets[i]);
              g_string_append_printf (out, "%s_bucket", m->name);
              append_labels (out, m, s->values, num->str);
              g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", cumulative);
              g_string_free (num, TRUE);
            }
          g_string_append_printf (out, "%s_sum", m->name);
          append_labels (out, m, s->values, NULL);
          g_string_append_c (out, ' ');
          append_number (out, s->value);
          g_string_append_printf (out, "\n%s_count", m->name);
          append_labels (out, m, s->values, NULL);
          g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", s->count);
        }
      g_mutex_unlock (&f->lock);
    }
  return g_string_free (out, FALSE);
}

void
rd_metrics_reset (void)
{
  init_once ();
  for (guint id = 0; id < RD_METRIC_N; id++)
    {
      g_mutex_lock (&families[id].lock);
      g_hash_table_remove_all (families[id].series);
      g_mutex_unlock (&families[id].lock);
    }
}
