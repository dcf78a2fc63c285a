/* relaydesk — replays a libFuzzer corpus without libFuzzer.
 *
 * Linked with one fuzz target (LLVMFuzzerTestOneInput) into an ordinary
 * executable that `meson test` runs over the target's seed corpus and
 * every crash reproducer committed beside it, so each fuzz finding stays
 * a regression test in every build (with or without clang).
 * Usage: replay FILE|DIR...
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv) __attribute__ ((weak));

static int
run_file (const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents (path, &data, &len, &error))
    {
      fprintf (stderr, "replay: %s\n", error->message);
      return 1;
    }
  LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
  return 0;
}

int
main (int argc, char **argv)
{
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize (&argc, &argv);
  guint n = 0;
  int bad = 0;
  for (int i = 1; i < argc; i++)
    {
      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          g_autoptr(GDir) dir = g_dir_open (argv[i], 0, NULL);
          const char *name;
          while (dir && (name = g_dir_read_name (dir)) != NULL)
            {
              g_autofree char *p = g_build_filename (argv[i], name, NULL);
              if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
                {
                  bad |= run_file (p);
                  n++;
                }
            }
        }
      else
        {
          bad |= run_file (argv[i]);
          n++;
        }
    }
  if (n == 0)
    {
      fprintf (stderr, "replay: no inputs\n");
      return 1;
    }
  printf ("replayed %u inputs\n", n);
  return bad;
}
