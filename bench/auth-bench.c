/* auth-bench: the cost of sender authentication per message (µs), and
 * of parsing the same message (the peer measured in the same run).
 *   auth-bench DNS_SERVER ROUNDS CLIENT_ADDR SENDER FILE...
 * Prints one line per file: median µs of rd_auth_verify (SPF, DKIM,
 * DMARC) with the DNS cache ([auth] dns_cache_entries, the default: the
 * records of a domain are asked once, then kept for their TTL), the same
 * without it (every lookup a round trip to the DNS server on loopback),
 * of rd_message_parse, and the ratio cached/parse, with the DNS queries
 * each verification sent. bench/auth-bench.py starts the DNS server and
 * makes the files. */
#include "auth.h"
#include "message.h"
#include "rd-common.h"

#include <stdio.h>
#include <stdlib.h>

static int
cmp (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  if (argc < 6)
    {
      fprintf (stderr, "usage: auth-bench DNS_SERVER ROUNDS CLIENT_ADDR SENDER FILE...\n");
      return 64;
    }
  rd_parser_init ();
  rd_log_set_level (RD_LOG_ERROR);
  g_autoptr(RdConfig) config = rd_config_new_default ();
  rd_config_set_string (config, "relaydesk", "hostname", "bench.test");
  rd_config_set_string (config, "auth", "dns_server", argv[1]);
  g_autoptr(GError) error = NULL;
  g_autoptr(RdAuth) cached = rd_auth_new (config, &error);
  rd_config_set_string (config, "auth", "dns_cache_entries", "0");
  g_autoptr(RdAuth) uncached = cached ? rd_auth_new (config, &error) : NULL;
  if (uncached == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  guint rounds = (guint) atoi (argv[2]);
  if (rounds == 0)
    return 64;
  RdAuthInput in = { argv[3], "mx.bench.test", argv[4] };
  printf ("%-16s %10s %7s %10s %7s %9s %7s  %s\n", "message", "verify_us", "queries", "nocache_us", "queries",
          "parse_us", "ratio", "results");
  for (int f = 5; f < argc; f++)
    {
      gchar *text = NULL;
      gsize len = 0;
      if (!g_file_get_contents (argv[f], &text, &len, NULL))
        return 1;
      g_autoptr(GBytes) raw = g_bytes_new_take (text, len);
      gint64 *v = g_new (gint64, rounds), *u = g_new (gint64, rounds), *p = g_new (gint64, rounds);
      RdAuthSummary s;
      guint q_cached = 0, q_uncached = 0;
      for (guint i = 0; i < rounds; i++)
        {
          /* in turn, so that both see the same machine */
          gint64 t0 = g_get_monotonic_time ();
          g_autofree char *ar = rd_auth_verify (cached, &in, raw, &s);
          gint64 t1 = g_get_monotonic_time ();
          g_autofree char *ar2 = rd_auth_verify (uncached, &in, raw, &s);
          gint64 t2 = g_get_monotonic_time ();
          RdMessage *m = rd_message_parse (raw, NULL);
          gint64 t3 = g_get_monotonic_time ();
          rd_message_unref (m);
          v[i] = t1 - t0;
          u[i] = t2 - t1;
          p[i] = t3 - t2;
          q_cached = rd_auth_last_queries (cached);
          q_uncached = rd_auth_last_queries (uncached);
        }
      qsort (v, rounds, sizeof *v, cmp);
      qsort (u, rounds, sizeof *u, cmp);
      qsort (p, rounds, sizeof *p, cmp);
      g_autofree char *base = g_path_get_basename (argv[f]);
      printf ("%-16s %10" G_GINT64_FORMAT " %7u %10" G_GINT64_FORMAT " %7u %9" G_GINT64_FORMAT " %7.1f  spf=%s dkim=%s dmarc=%s\n",
              base, v[rounds / 2], q_cached, u[rounds / 2], q_uncached, p[rounds / 2],
              p[rounds / 2] ? (double) v[rounds / 2] / (double) p[rounds / 2] : 0.0,
              rd_auth_result_to_string (s.spf), rd_auth_result_to_string (s.dkim), rd_auth_result_to_string (s.dmarc));
      g_free (v);
      g_free (u);
      g_free (p);
    }
  return 0;
}
