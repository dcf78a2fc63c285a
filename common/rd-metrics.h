/* relaydesk — metrics: the numbers an operator watches, in one registry.
 *
 * Every metric of the program is declared once, in the table of
 * rd-metrics.c (name, type, help, label names, histogram buckets), under
 * an id of the enum below; every layer reports through the id, from any
 * thread (a mutex per metric; a report is a hash lookup and an add, a few
 * per message). serve exposes them at /metrics in the Prometheus text
 * format 0.0.4 (ops/metrics-http.h); relaydesk(8) lists them, generated
 * from the same table.
 *
 * Labels are given as strings after the value, exactly as many as the
 * metric declares, in its order:
 *
 *   rd_metric_inc (RD_METRIC_SMTP_REJECTIONS, "unknown_recipient", "550");
 *   rd_metric_observe (RD_METRIC_PROCESSING_SECONDS, 0.012);
 *
 * Label values come from our own code (reasons, states, reply codes),
 * never from a client; even so each metric holds at most
 * RD_METRICS_MAX_SERIES label sets, and reports past that are counted
 * under the label values "other".
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RD_METRICS_MAX_SERIES 256

typedef enum {
  RD_METRIC_COUNTER,
  RD_METRIC_GAUGE,
  RD_METRIC_HISTOGRAM,
} RdMetricType;

typedef enum {
  RD_METRIC_BUILD_INFO,
  RD_METRIC_START_TIME,
  /* receiver */
  RD_METRIC_SMTP_CONNECTIONS,
  RD_METRIC_SMTP_SESSIONS_ACTIVE,
  RD_METRIC_SMTP_REJECTIONS,
  RD_METRIC_SMTP_TLS_FAILURES,
  RD_METRIC_MESSAGES_ACCEPTED,
  RD_METRIC_MESSAGE_BYTES,
  /* store: the spool */
  RD_METRIC_SPOOL_COMMITS,
  RD_METRIC_SPOOL_COMMIT_MESSAGES,
  RD_METRIC_SPOOL_COMMIT_FAILURES,
  RD_METRIC_SPOOL_BACKLOG,
  RD_METRIC_SPOOL_OLDEST_AGE,
  RD_METRIC_SPOOL_MESSAGES,
  /* desk */
  RD_METRIC_PROCESSED,
  RD_METRIC_PROCESSING_SECONDS,
  RD_METRIC_PROCESSING_DELAY_SECONDS,
  RD_METRIC_QUARANTINED,
  RD_METRIC_SIEVE_ERRORS,
  RD_METRIC_VACATION,
  /* outbox and relay */
  RD_METRIC_OUTBOX_MESSAGES,
  RD_METRIC_OUTBOX_OLDEST_AGE,
  RD_METRIC_RELAY_SEND_SECONDS,
  RD_METRIC_RELAY_SENT,
  RD_METRIC_RELAY_FAILURES,
  RD_METRIC_RELAY_DROPPED,
  /* SQLite */
  RD_METRIC_SQLITE_BUSY,
  RD_METRIC_SQLITE_BUSY_RETRIES,
  RD_METRIC_SQLITE_BUSY_ERRORS,
  /* the process */
  RD_METRIC_READY,
  RD_METRIC_N
} RdMetricId;

/* What the table says of a metric. */
typedef struct {
  const char *name;              /* relaydesk_..., _total for counters */
  RdMetricType type;
  const char *help;              /* one line */
  const char *const *labels;     /* NULL-terminated, or NULL: none */
  const double *buckets;         /* HISTOGRAM: upper bounds, ascending, ending with +Inf */
  const char *where;             /* which layer reports it, for the manual */
} RdMetricInfo;

/* (transfer none) */
const RdMetricInfo *rd_metric_info (RdMetricId id);

/* A counter goes up by one (or @v); a gauge is set; a histogram counts
 * one observation. Each is followed by the label values. Thread-safe. */
void rd_metric_inc (RdMetricId id, ...);
void rd_metric_add (RdMetricId id, double v, ...);
void rd_metric_set (RdMetricId id, double v, ...);
void rd_metric_observe (RdMetricId id, double v, ...);

/* The value of a counter or gauge, or the count of a histogram, for the
 * given label values; 0 when never reported. For tests and /readyz. */
double rd_metric_get (RdMetricId id, ...);

/* Every metric in the Prometheus text exposition format 0.0.4, families in
 * the order of the table, series sorted by their labels. (transfer full) */
char *rd_metrics_render (void);

/* Forgets every reported value (tests). */
void rd_metrics_reset (void);

G_END_DECLS
