/* docs/config.md from the schema (common/rd-config-schema.c).
 *
 *   config-doc               prints the page
 *   config-doc --check FILE  exits 1 when FILE is not what it would print
 *
 * meson test runs the check, so the page cannot drift from the code:
 * after changing the schema, run build/tests/config-doc > docs/config.md.
 */
#include "rd-config.h"

#include <stdio.h>
#include <string.h>

static const char intro[] =
  "# relaydesk.conf: every setting\n"
  "\n"
  "<!-- Generated from common/rd-config-schema.c by tests/common/config-doc.c:\n"
  "     build/tests/common/config-doc > docs/config.md (meson test checks it). -->\n"
  "\n"
  "`relaydesk.conf` is a GLib key file, given to every command with\n"
  "`--config FILE`; without one the defaults below apply. Lines are\n"
  "`[group]`, `key = value` or `# comment`. A `#` after a value is part of\n"
  "the value, so comments go on lines of their own. Lists separate their\n"
  "items with `;` or `,`. Sizes are bytes with an optional `K`, `M` or `G`\n"
  "(`25M`); durations are seconds with an optional `s`, `m`, `h` or `d`\n"
  "(`15m`); booleans are `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.\n"
  "\n"
  "Every command checks the whole file against this list when it starts.\n"
  "A malformed value, an unknown group or key, or a key given twice in a\n"
  "group is an error naming the file and line, e.g.\n"
  "`relaydesk.conf:12: [smtp] max_message_size: \"25 MB\" is not a size (e.g. 25M)`\n"
  "(with \"did you mean\" for a misspelt name), and the command exits 78\n"
  "(EX_CONFIG). `kill -HUP` of `relaydesk serve` refuses such a file, logs\n"
  "why and keeps the config it runs with.\n";

/* Table cells: a '|' would end the cell. */
static void
cell (GString *out, const char *text)
{
  for (const char *p = text; *p; p++)
    {
      if (*p == '|')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
}

static void
add_key (const RdConfigKey *k, gpointer data)
{
  GString *out = data;
  static const char *group = NULL;
  if (group == NULL || strcmp (group, k->group) != 0)
    {
      group = k->group;
      g_string_append_printf (out, "\n## [%s]\n\n", rd_config_key_group_display (k));
      g_string_append (out, "| key | value | default | meaning |\n|---|---|---|---|\n");
    }
  g_autofree char *what = rd_config_key_describe (k);
  g_autofree char *dflt = k->dflt == NULL ? g_strdup_printf ("(%s)", k->dflt_doc ? k->dflt_doc : "none")
                          : *k->dflt == '\0' ? g_strdup ("(empty)")
                          : g_strdup_printf ("`%s`", k->dflt);
  g_string_append_printf (out, "| `%s` | ", k->key);
  cell (out, what);
  g_string_append (out, " | ");
  cell (out, dflt);
  g_string_append (out, " | ");
  cell (out, k->doc);
  g_string_append (out, " |\n");
}

int
main (int argc, char **argv)
{
  GString *page = g_string_new (intro);
  rd_config_schema_foreach (add_key, page);
  if (argc == 3 && strcmp (argv[1], "--check") == 0)
    {
      g_autofree char *text = NULL;
      g_autoptr(GError) error = NULL;
      int rc = 0;
      if (!g_file_get_contents (argv[2], &text, NULL, &error))
        {
          fprintf (stderr, "%s\n", error->message);
          rc = 1;
        }
      else if (strcmp (text, page->str) != 0)
        {
          fprintf (stderr, "%s differs from the schema (common/rd-config-schema.c): "
                   "run build/tests/config-doc > docs/config.md\n", argv[2]);
          rc = 1;
        }
      g_string_free (page, TRUE);
      return rc;
    }
  if (argc != 1)
    {
      fprintf (stderr, "usage: config-doc [--check FILE]\n");
      g_string_free (page, TRUE);
      return 64;
    }
  fputs (page->str, stdout);
  g_string_free (page, TRUE);
  return 0;
}
