/* relaydesk — bench/rules: messages per second through a realistic
 * 100-rule helpdesk script (helpdesk.sieve beside this file) over the
 * parsed corpus. The script is compiled once and every message parsed
 * once before timing: the figure is evaluation only. The peer measured in
 * the same run is the parser on the same messages.
 *
 * Usage: bench-rules SCRIPT CORPUS_DIR [ROUNDS]
 * Prints the median of ROUNDS (default 7) passes for each, in messages
 * per second of CPU time of the one thread doing the work. */
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this thread in microseconds: the figure is "on one core",
 * and other processes on a shared machine do not distort it. */
static gint64
cpu_usec (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, guint n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main (int argc, char **argv)
{
  if (argc < 3)
    {
      fprintf (stderr, "usage: %s SCRIPT CORPUS_DIR [ROUNDS]\n", argv[0]);
      return 64;
    }
  guint rounds = argc > 3 ? (guint) atoi (argv[3]) : 7;
  if (rounds == 0 || rounds > 1000)
    rounds = 7;
  rd_parser_init ();
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents (argv[1], &text, &len, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 66;
    }
  g_autoptr(RdRules) rules = rd_rules_compile (argv[1], text, len, NULL, NULL, &error);
  if (rules == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 65;
    }
  g_autoptr(GDir) dir = g_dir_open (argv[2], 0, &error);
  if (dir == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 66;
    }
  g_autoptr(GPtrArray) raws = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *name;
  while ((name = g_dir_read_name (dir)))
    {
      if (!g_str_has_suffix (name, ".eml"))
        continue;
      g_autofree char *path = g_build_filename (argv[2], name, NULL);
      char *data = NULL;
      gsize dl = 0;
      if (g_file_get_contents (path, &data, &dl, NULL))
        g_ptr_array_add (raws, g_bytes_new_take (data, dl));
    }
  g_autoptr(GPtrArray) msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_message_unref);
  for (guint i = 0; i < raws->len; i++)
    {
      RdMessage *m = rd_message_parse (g_ptr_array_index (raws, i), NULL);
      if (m)
        g_ptr_array_add (msgs, m);
    }
  if (msgs->len == 0)
    {
      fprintf (stderr, "no messages in %s\n", argv[2]);
      return 66;
    }
  guint64 body_bytes = 0;
  for (guint i = 0; i < msgs->len; i++)
    {
      const char *b = rd_message_get_body_text (g_ptr_array_index (msgs, i));
      body_bytes += b ? strlen (b) : 0;
    }
  double *eval = g_new0 (double, rounds), *parse = g_new0 (double, rounds);
  guint kept = 0, filed = 0, discarded = 0, errors = 0;
  for (guint r = 0; r < rounds; r++)
    {
      gint64 t0 = cpu_usec ();
      for (guint i = 0; i < msgs->len; i++)
        {
          RdMessage *m = g_ptr_array_index (msgs, i);
          RdEnvelope env = { .sender = "customer@example.com", .recipient = "support@example.org",
                             .defer_ticket_vars = TRUE };
          GError *e = NULL;
          GPtrArray *a = rd_rules_evaluate (rules, m, &env, &e);
          if (a == NULL)
            {
              errors += r == 0;
              g_clear_error (&e);
              continue;
            }
          if (r == 0)
            for (guint k = 0; k < a->len; k++)
              {
                RdAction *x = g_ptr_array_index (a, k);
                kept += x->type == RD_ACTION_KEEP;
                filed += x->type == RD_ACTION_FILEINTO;
                discarded += x->type == RD_ACTION_DISCARD;
              }
          g_ptr_array_unref (a);
        }
      gint64 t1 = cpu_usec ();
      eval[r] = msgs->len / ((t1 - t0) / 1e6);
      /* The peer: parsing the same messages (RD_BENCH_NO_PEER=1 skips it,
       * for profiling the evaluation alone). */
      if (g_getenv ("RD_BENCH_NO_PEER"))
        {
          parse[r] = 1;
          continue;
        }
      t0 = cpu_usec ();
      for (guint i = 0; i < raws->len; i++)
        {
          RdMessage *m = rd_message_parse (g_ptr_array_index (raws, i), NULL);
          if (m)
            rd_message_unref (m);
        }
      t1 = cpu_usec ();
      parse[r] = raws->len / ((t1 - t0) / 1e6);
    }
  double me = median (eval, rounds), mp = median (parse, rounds);
  printf ("bench/rules: %u messages, script %s (compiled once), %u rounds\n", msgs->len, argv[1], rounds);
  printf ("  average body text: %" G_GUINT64_FORMAT " bytes\n", body_bytes / msgs->len);
  printf ("  first pass: keep=%u fileinto=%u discard=%u runtime-errors=%u\n", kept, filed, discarded, errors);
  printf ("  rules evaluate: median %.0f msgs/s (%.1f us/msg)\n", me, 1e6 / me);
  printf ("  peer, parse:    median %.0f msgs/s (%.1f us/msg)\n", mp, 1e6 / mp);
  printf ("  ratio evaluate/parse: %.2f\n", me / mp);
  printf ("  target >= 20000 msgs/s: %s\n", me >= 20000 ? "met" : "NOT met");
  g_free (eval);
  g_free (parse);
  return 0;
}
