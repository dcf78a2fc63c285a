/* relaydesk — parse throughput: the full RdMessage view against a bare
 * GMime parse that walks and decodes every part, same messages, same run.
 *
 * Usage: parse-bench [--rounds N] [--only bare|view] [--top N] LIST.txt
 * (--only and --top are profiling aids: one side only; the N files that
 * cost the view most over the bare parse.)
 * LIST.txt holds message paths relative to its own folder (the shared
 * corpus's bench/list.txt). Every file is loaded into memory first; each
 * round parses every buffer in list order, bare then view for each
 * message, timed in thread CPU time (the machine is shared; wall time
 * would count other processes' work). Prints per-round figures and the
 * medians: messages/s, MB/s, and the ratio view/bare.
 */
#include "message.h"

#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static guint64 sink;

static void
bare_walk (GMimeObject *parent, GMimeObject *part, gpointer user_data)
{
  GMimeStream *null = user_data;
  if (GMIME_IS_MESSAGE_PART (part))
    {
      GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (part));
      if (inner)
        g_mime_message_foreach (inner, bare_walk, null);
      return;
    }
  if (!GMIME_IS_PART (part))
    return;
  GMimeDataWrapper *dw = g_mime_part_get_content (GMIME_PART (part));
  if (dw)
    sink += (guint64) g_mime_data_wrapper_write_to_stream (dw, null);
}

static void
bare_parse (GBytes *b)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (b, &len);
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer (data, len);
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  GMimeMessage *m = g_mime_parser_construct_message (parser, NULL);
  if (m)
    {
      GMimeStream *null = g_mime_stream_null_new ();
      g_mime_message_foreach (m, bare_walk, null);
      g_object_unref (null);
      g_object_unref (m);
    }
  g_object_unref (parser);
  g_object_unref (stream);
}

static void
view_parse (GBytes *b)
{
  RdMessage *m = rd_message_parse (b, NULL);
  if (m)
    {
      sink += rd_message_get_attachments (m)->len;
      rd_message_unref (m);
    }
}

/* CPU time of this thread: the machine is shared, and wall time would
 * charge other processes' work to whichever side was running. */
static double
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  int rounds = 5;
  int argi = 1;
  char only = 0; /* profiling aid: --only bare|view */
  gboolean per_file = FALSE; /* profiling aid: --top N files by view-bare */
  int top = 0;
  while (argi + 1 < argc && g_str_has_prefix (argv[argi], "--"))
    {
      if (!strcmp (argv[argi], "--rounds"))
        rounds = atoi (argv[argi + 1]);
      else if (!strcmp (argv[argi], "--only"))
        only = argv[argi + 1][0];
      else if (!strcmp (argv[argi], "--top"))
        {
          top = atoi (argv[argi + 1]);
          per_file = top > 0;
        }
      argi += 2;
    }
  if (argi >= argc || rounds < 1 || rounds > 100)
    {
      fprintf (stderr, "usage: parse-bench [--rounds N] LIST.txt\n");
      return 64;
    }
  rd_parser_init ();
  g_autofree char *list = NULL;
  if (!g_file_get_contents (argv[argi], &list, NULL, NULL))
    {
      fprintf (stderr, "parse-bench: cannot read %s\n", argv[argi]);
      return 66;
    }
  g_autofree char *base = g_path_get_dirname (argv[argi]);
  g_autofree char *root = g_path_get_dirname (base);
  g_auto(GStrv) lines = g_strsplit (list, "\n", -1);
  g_autoptr(GPtrArray) msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  guint64 total = 0;
  for (guint i = 0; lines[i]; i++)
    {
      g_strstrip (lines[i]);
      if (!*lines[i])
        continue;
      g_autofree char *path = g_build_filename (root, lines[i], NULL);
      char *data = NULL;
      gsize len = 0;
      if (!g_file_get_contents (path, &data, &len, NULL))
        {
          fprintf (stderr, "parse-bench: cannot read %s\n", path);
          return 66;
        }
      total += len;
      g_ptr_array_add (msgs, g_bytes_new_take (data, len));
      g_ptr_array_add (names, lines[i]);
    }
  printf ("messages: %u  bytes: %.1f MB  rounds: %d\n", msgs->len, total / 1e6, rounds);
  if (per_file)
    {
      /* extra cost of the view per file, summed over 5 passes */
      double *extra = g_new0 (double, msgs->len);
      for (int pass = 0; pass < 5; pass++)
        for (guint i = 0; i < msgs->len; i++)
          {
            double t0 = cpu_now ();
            bare_parse (g_ptr_array_index (msgs, i));
            double t1 = cpu_now ();
            view_parse (g_ptr_array_index (msgs, i));
            extra[i] += (cpu_now () - t1) - (t1 - t0);
          }
      for (int k = 0; k < top; k++)
        {
          guint best = 0;
          for (guint i = 1; i < msgs->len; i++)
            if (extra[i] > extra[best])
              best = i;
          printf ("%8.2f ms  %s\n", extra[best] * 1000 / 5, (const char *) g_ptr_array_index (names, best));
          extra[best] = -1e9;
        }
      g_free (extra);
      return 0;
    }
  double *bare = g_new (double, rounds), *view = g_new (double, rounds);
  /* one warm-up pass each (page faults, iconv caches) */
  for (guint i = 0; i < msgs->len; i++)
    {
      bare_parse (g_ptr_array_index (msgs, i));
      view_parse (g_ptr_array_index (msgs, i));
    }
  for (int r = 0; r < rounds; r++)
    {
      /* Bare and view alternate message by message, so that both meet
       * the same machine conditions (the machine is shared), and which
       * goes first alternates too, so that neither always finds the
       * message already in the cache. */
      bare[r] = view[r] = 1e-9;
      for (guint i = 0; i < msgs->len; i++)
        {
          GBytes *b = g_ptr_array_index (msgs, i);
          for (int k = 0; k < 2; k++)
            {
              gboolean do_bare = ((i + (guint) r + (guint) k) % 2) == 0;
              if ((do_bare && only == 'v') || (!do_bare && only == 'b'))
                continue;
              double t0 = cpu_now ();
              if (do_bare)
                bare_parse (b);
              else
                view_parse (b);
              double dt = cpu_now () - t0;
              if (do_bare)
                bare[r] += dt;
              else
                view[r] += dt;
            }
        }
      printf ("round %d: bare %.3f s (%.0f msg/s, %.1f MB/s)  view %.3f s (%.0f msg/s, %.1f MB/s)\n", r + 1,
              bare[r], msgs->len / bare[r], total / 1e6 / bare[r], view[r], msgs->len / view[r],
              total / 1e6 / view[r]);
    }
  qsort (bare, rounds, sizeof (double), cmp_double);
  qsort (view, rounds, sizeof (double), cmp_double);
  double mb = bare[rounds / 2], mv = view[rounds / 2];
  printf ("median bare GMime parse+decode: %.0f msg/s  %.1f MB/s\n", msgs->len / mb, total / 1e6 / mb);
  printf ("median full view:               %.0f msg/s  %.1f MB/s\n", msgs->len / mv, total / 1e6 / mv);
  printf ("view/bare speed ratio: %.2f (target >= 0.50)\n", mb / mv);
  g_free (bare);
  g_free (view);
  return sink == 42 ? 1 : 0;
}
