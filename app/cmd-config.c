/* relaydesk config check — the whole config file checked against the
 * schema (common/rd-config-schema.c), then every setting as serve would
 * use it: the file's value, or the default. */
#include "app.h"
#include "rd-common.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  RdConfig *config;
  const char *group;      /* the group being printed, as written */
  const char *pattern;    /* its schema group ("queue.*") */
} Printer;

static void
print_key (const RdConfigKey *k, gpointer data)
{
  Printer *p = data;
  if (strcmp (k->group, p->pattern) != 0)
    return;
  const char *v = rd_config_get_raw (p->config, p->group, k->key);
  if (v != NULL)
    printf ("%s = %s\n", k->key, v);
  else if (k->dflt != NULL)
    printf ("%s = %s    # default\n", k->key, k->dflt);
  else
    printf ("# %s: not set (%s)\n", k->key, k->dflt_doc ? k->dflt_doc : "none");
}

/* The schema's groups in order, each once. */
static void
collect_group (const RdConfigKey *k, gpointer data)
{
  GPtrArray *groups = data;
  if (groups->len == 0 || strcmp (g_ptr_array_index (groups, groups->len - 1), k->group) != 0)
    g_ptr_array_add (groups, (gpointer) k->group);
}

static int
cmd_check (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "config check", NULL,
      "Checks the config file (--config) against every setting relaydesk knows: an\n"
      "unknown group or key, a malformed value or a key given twice is an error\n"
      "with FILE:LINE (exit 78). Then prints the effective settings: the file's\n"
      "value, or the default. serve checks the same at start and on SIGHUP.",
      0, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc > 1)
    return rd_app_usage ("config check: unexpected argument '%s'", argv[1]);
  int code = rd_app_load_config (&app);
  if (code)
    return code;
  const char *path = rd_config_get_path (app.config);
  printf ("# %s: no problems; the effective settings follow\n", path ? path : "embedded defaults (no --config)");
  g_autoptr(GPtrArray) groups = g_ptr_array_new ();
  rd_config_schema_foreach (collect_group, groups);
  g_auto(GStrv) present = rd_config_get_groups (app.config);
  for (guint i = 0; i < groups->len; i++)
    {
      const char *pattern = g_ptr_array_index (groups, i);
      if (g_str_has_suffix (pattern, ".*"))
        {
          /* [queue.NAME]: each one the file has. */
          for (guint j = 0; present && present[j]; j++)
            if (g_str_has_prefix (present[j], "queue.") && present[j][6] != '\0')
              {
                Printer p = { app.config, present[j], pattern };
                printf ("\n[%s]\n", present[j]);
                rd_config_schema_foreach (print_key, &p);
              }
          continue;
        }
      Printer p = { app.config, pattern, pattern };
      printf ("\n[%s]\n", pattern);
      rd_config_schema_foreach (print_key, &p);
    }
  return RD_EXIT_OK;
}

int
rd_cmd_config (int argc, char **argv)
{
  static const RdCommand subs[] = {
    { "check", "check the config file, print the effective settings", cmd_check },
  };
  return rd_app_dispatch ("config", subs, G_N_ELEMENTS (subs), NULL, argc, argv);
}
