/* The metrics registry (common/rd-metrics.c) and the JSON log format
 * (common/rd-common.c): exact exposition text, labels, histograms,
 * concurrent updates. */
#include "rd-metrics.h"
#include "rd-common.h"

#include <string.h>

static void
assert_contains (const char *text, const char *line)
{
  if (strstr (text, line) == NULL)
    g_error ("expected line not found: %s\n--- in ---\n%s", line, text);
}

static void
test_counter_labels (void)
{
  rd_metrics_reset ();
  rd_metric_inc (RD_METRIC_SMTP_REJECTIONS, "unknown_recipient", "550");
  rd_metric_inc (RD_METRIC_SMTP_REJECTIONS, "unknown_recipient", "550");
  rd_metric_inc (RD_METRIC_SMTP_REJECTIONS, "allowlist", "554");
  rd_metric_add (RD_METRIC_MESSAGE_BYTES, 1234);
  rd_metric_add (RD_METRIC_MESSAGE_BYTES, -5);   /* counters never go down */
  g_assert_cmpfloat (rd_metric_get (RD_METRIC_SMTP_REJECTIONS, "unknown_recipient", "550"), ==, 2);
  g_assert_cmpfloat (rd_metric_get (RD_METRIC_MESSAGE_BYTES), ==, 1234);
  g_autofree char *text = rd_metrics_render ();
  assert_contains (text, "# TYPE relaydesk_smtp_rejections_total counter\n"
                         "relaydesk_smtp_rejections_total{reason=\"allowlist\",code=\"554\"} 1\n"
                         "relaydesk_smtp_rejections_total{reason=\"unknown_recipient\",code=\"550\"} 2\n");
  assert_contains (text, "\nrelaydesk_message_bytes_total 1234\n");
  /* Unlabelled metrics show 0 before their first report. */
  assert_contains (text, "\nrelaydesk_spool_commits_total 0\n");
  assert_contains (text, "# HELP relaydesk_spool_backlog ");
}

static void
test_gauge_and_escaping (void)
{
  rd_metrics_reset ();
  rd_metric_set (RD_METRIC_OUTBOX_MESSAGES, 3, "queued");
  rd_metric_set (RD_METRIC_OUTBOX_MESSAGES, 1, "queued");
  rd_metric_set (RD_METRIC_BUILD_INFO, 1, "a\"b\\c\nd");
  rd_metric_set (RD_METRIC_SPOOL_OLDEST_AGE, 0.25);
  g_autofree char *text = rd_metrics_render ();
  assert_contains (text, "relaydesk_outbox_messages{state=\"queued\"} 1\n");
  assert_contains (text, "relaydesk_build_info{version=\"a\\\"b\\\\c\\nd\"} 1\n");
  assert_contains (text, "relaydesk_spool_oldest_unprocessed_age_seconds 0.25\n");
}

static void
test_histogram (void)
{
  rd_metrics_reset ();
  rd_metric_observe (RD_METRIC_SPOOL_COMMIT_MESSAGES, 1);
  rd_metric_observe (RD_METRIC_SPOOL_COMMIT_MESSAGES, 3);
  rd_metric_observe (RD_METRIC_SPOOL_COMMIT_MESSAGES, 3);
  rd_metric_observe (RD_METRIC_SPOOL_COMMIT_MESSAGES, 1000);
  g_autofree char *text = rd_metrics_render ();
  /* Cumulative buckets: le is "less or equal". */
  assert_contains (text,
                   "relaydesk_spool_commit_messages_bucket{le=\"1\"} 1\n"
                   "relaydesk_spool_commit_messages_bucket{le=\"2\"} 1\n"
                   "relaydesk_spool_commit_messages_bucket{le=\"4\"} 3\n"
                   "relaydesk_spool_commit_messages_bucket{le=\"8\"} 3\n");
  assert_contains (text,
                   "relaydesk_spool_commit_messages_bucket{le=\"256\"} 3\n"
                   "relaydesk_spool_commit_messages_bucket{le=\"+Inf\"} 4\n"
                   "relaydesk_spool_commit_messages_sum 1007\n"
                   "relaydesk_spool_commit_messages_count 4\n");
  g_assert_cmpfloat (rd_metric_get (RD_METRIC_SPOOL_COMMIT_MESSAGES), ==, 4);
}

static gpointer
hammer (gpointer data)
{
  for (guint i = 0; i < 10000; i++)
    {
      rd_metric_inc (RD_METRIC_SMTP_CONNECTIONS, (i & 1) ? "smtp" : "smtps");
      rd_metric_observe (RD_METRIC_PROCESSING_SECONDS, 0.001);
    }
  return NULL;
}

static void
test_threads (void)
{
  rd_metrics_reset ();
  GThread *t[4];
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    t[i] = g_thread_new ("hammer", hammer, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    g_thread_join (t[i]);
  g_assert_cmpfloat (rd_metric_get (RD_METRIC_SMTP_CONNECTIONS, "smtp"), ==, 20000);
  g_assert_cmpfloat (rd_metric_get (RD_METRIC_SMTP_CONNECTIONS, "smtps"), ==, 20000);
  g_assert_cmpfloat (rd_metric_get (RD_METRIC_PROCESSING_SECONDS), ==, 40000);
}

static void
test_series_cap (void)
{
  rd_metrics_reset ();
  for (guint i = 0; i < RD_METRICS_MAX_SERIES + 10; i++)
    {
      g_autofree char *code = g_strdup_printf ("%u", i);
      rd_metric_inc (RD_METRIC_RELAY_FAILURES, code, "deferred");
    }
  g_assert_cmpfloat (rd_metric_get (RD_METRIC_RELAY_FAILURES, "0", "deferred"), ==, 1);
  g_assert_cmpfloat (rd_metric_get (RD_METRIC_RELAY_FAILURES, "other", "other"), ==, 10);
}

static void
test_log_json (void)
{
  g_autofree char *a = rd_log_format_json ("2024-01-15T09:29:55.123Z", "info", "smtp.message",
                                           "session=ab12 sender=\"a \\\"b\\\"\\x0a\" size=42");
  g_assert_cmpstr (a, ==, "{\"ts\":\"2024-01-15T09:29:55.123Z\",\"level\":\"info\",\"event\":\"smtp.message\","
                          "\"session\":\"ab12\",\"sender\":\"a \\\"b\\\"\\n\",\"size\":\"42\"}");
  /* Not key=value: kept whole. */
  g_autofree char *b = rd_log_format_json ("t", "warn", "x", "free text here");
  g_assert_cmpstr (b, ==, "{\"ts\":\"t\",\"level\":\"warn\",\"event\":\"x\",\"msg\":\"free text here\"}");
  /* A key of ours is not overwritten; invalid UTF-8 is made valid. */
  g_autofree char *c = rd_log_format_json ("t", "info", "x", "level=\"\\xff\" event=y");
  g_assert_cmpstr (c, ==, "{\"ts\":\"t\",\"level\":\"info\",\"event\":\"x\",\"field.level\":\"\xef\xbf\xbd\","
                          "\"field.event\":\"y\"}");
  /* A bare value with spaces runs to the next key=. */
  g_autofree char *d = rd_log_format_json ("t", "info", "serve.start", "config=(embedded defaults) uid=0");
  g_assert_cmpstr (d, ==, "{\"ts\":\"t\",\"level\":\"info\",\"event\":\"serve.start\","
                          "\"config\":\"(embedded defaults)\",\"uid\":\"0\"}");
  RdLogFormat f;
  g_assert_true (rd_log_format_parse ("json", &f) && f == RD_LOG_FORMAT_JSON);
  g_assert_false (rd_log_format_parse ("xml", &f));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/counter-labels", test_counter_labels);
  g_test_add_func ("/metrics/gauge-escaping", test_gauge_and_escaping);
  g_test_add_func ("/metrics/histogram", test_histogram);
  g_test_add_func ("/metrics/threads", test_threads);
  g_test_add_func ("/metrics/series-cap", test_series_cap);
  g_test_add_func ("/log/json", test_log_json);
  return g_test_run ();
}
