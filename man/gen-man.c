/* Manual pages and the installed config, generated at build time from the
 * one source of each: the config schema (common/rd-config-schema.c) and the
 * table of metrics (common/rd-metrics.c).
 *
 *   gen-man conf5 OUT                       relaydesk.conf(5)
 *   gen-man conf OUT [GROUP.KEY=VALUE...]   the commented default relaydesk.conf;
 *                                           the settings given are active lines
 *   gen-man rules OUT                       the example Sieve script serve also writes
 *   gen-man man8 TEMPLATE OUT VERSION SYSCONFDIR LOCALSTATEDIR DATADIR
 *                                           relaydesk(8): @METRICS@ and the
 *                                           paths filled in
 */
#include "rd-config.h"
#include "rd-metrics.h"
#include "example-rules.h"

#include <stdio.h>
#include <string.h>

/* Text for troff: backslashes and hyphens escaped, a leading dot or quote
 * kept from starting a request. */
static void
roff (GString *out, const char *text)
{
  if (*text == '.' || *text == '\'')
    g_string_append (out, "\\&");
  for (const char *p = text; *p; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\e");
      else if (*p == '-')
        g_string_append (out, "\\-");
      else
        g_string_append_c (out, *p);
    }
}

/* ---- relaydesk.conf(5) --------------------------------------------------- */

static const char conf5_head[] =
  ".\\\" Generated from common/rd-config-schema.c by man/gen-man.c: do not edit.\n"
  ".TH RELAYDESK.CONF 5 \"\" \"relaydesk @VERSION@\" \"File Formats\"\n"
  ".SH NAME\n"
  "relaydesk.conf \\- configuration of relaydesk\n"
  ".SH DESCRIPTION\n"
  ".B relaydesk.conf\n"
  "is a GLib key file, given to every command of\n"
  ".BR relaydesk (8)\n"
  "with \\fB\\-\\-config\\fR; without one the defaults below apply.\n"
  "Lines are \\fB[group]\\fR, \\fIkey\\fR = \\fIvalue\\fR or a comment starting with #.\n"
  "A # after a value is part of the value, so comments go on lines of their own.\n"
  "Lists separate their items with ; or ,.\n"
  "Sizes are bytes with an optional K, M or G (25M); durations are seconds\n"
  "with an optional s, m, h or d (15m); booleans are true/false, yes/no,\n"
  "on/off, 1/0.\n"
  ".PP\n"
  "Every command checks the whole file when it starts, and serve again on\n"
  "SIGHUP: a malformed value, an unknown group or key, or a key given twice\n"
  "is an error naming the file and line, e.g.\n"
  ".PP\n"
  ".RS\n"
  "relaydesk.conf:12: [smtp] max_message_size: \"25 MB\" is not a size (e.g. 25M)\n"
  ".RE\n"
  ".PP\n"
  "(with \"did you mean\" for a misspelt name), and the command exits 78.\n"
  ".B relaydesk config check\n"
  "does the check and prints the effective settings.\n"
  ".SH SETTINGS\n"
  "Each setting with its value type and default.\n";

static const char conf5_tail[] =
  ".SH FILES\n"
  ".TP\n"
  ".I @SYSCONFDIR@/relaydesk/relaydesk.conf\n"
  "The installed file, every setting commented out at its default.\n"
  ".SH SEE ALSO\n"
  ".BR relaydesk (8),\n"
  ".BR relaydesk\\-sieve (7)\n";

static void
conf5_key (const RdConfigKey *k, gpointer data)
{
  GString *out = data;
  static const char *group = NULL;
  if (group == NULL || strcmp (group, k->group) != 0)
    {
      group = k->group;
      g_string_append (out, ".SS [");
      roff (out, rd_config_key_group_display (k));
      g_string_append (out, "]\n");
    }
  g_autofree char *what = rd_config_key_describe (k);
  g_string_append (out, ".TP\n.B ");
  roff (out, k->key);
  g_string_append (out, "\n");
  roff (out, k->doc);
  g_string_append (out, ".\n.br\n");
  roff (out, what);
  g_string_append (out, "; default: ");
  if (k->dflt == NULL)
    roff (out, k->dflt_doc ? k->dflt_doc : "none");
  else if (*k->dflt == '\0')
    g_string_append (out, "empty");
  else
    {
      g_string_append (out, "\\fB");
      roff (out, k->dflt);
      g_string_append (out, "\\fR");
    }
  g_string_append (out, ".\n");
}

/* ---- the commented relaydesk.conf ----------------------------------------- */

typedef struct {
  GString *out;
  const char *group;
  char **set;   /* "group.key=value" */
} Conf;

static const char *
set_value (Conf *c, const RdConfigKey *k)
{
  g_autofree char *prefix = g_strdup_printf ("%s.%s=", k->group, k->key);
  for (guint i = 0; c->set && c->set[i]; i++)
    if (g_str_has_prefix (c->set[i], prefix))
      return c->set[i] + strlen (prefix);
  return NULL;
}

static void
conf_key (const RdConfigKey *k, gpointer data)
{
  Conf *c = data;
  GString *out = c->out;
  if (g_str_has_suffix (k->group, ".*"))
    {
      /* [queue.NAME] cannot be written commented out as a group of its
       * own: show it as an example. */
      if (c->group == NULL || strcmp (c->group, k->group) != 0)
        g_string_append_printf (out, "\n# [%s]: one queue's own settings, over [desk]:\n#[queue.billing]\n",
                                rd_config_key_group_display (k));
      c->group = k->group;
      g_string_append_printf (out, "# %s\n#%s =\n", k->doc, k->key);
      return;
    }
  if (c->group == NULL || strcmp (c->group, k->group) != 0)
    g_string_append_printf (out, "\n[%s]\n", k->group);
  c->group = k->group;
  g_autofree char *what = rd_config_key_describe (k);
  g_string_append_printf (out, "# %s.\n# %s; default: %s\n", k->doc, what,
                          k->dflt ? (*k->dflt ? k->dflt : "empty") : (k->dflt_doc ? k->dflt_doc : "none"));
  const char *v = set_value (c, k);
  if (v)
    g_string_append_printf (out, "%s = %s\n", k->key, v);
  else
    g_string_append_printf (out, "#%s =%s%s\n", k->key, k->dflt && *k->dflt ? " " : "", k->dflt ? k->dflt : "");
}

/* ---- relaydesk(8): the metrics ------------------------------------------- */

static void
metrics_section (GString *out)
{
  static const char *const types[] = { "counter", "gauge", "histogram" };
  g_string_append (out, "Exposed at /metrics (see HTTP ENDPOINTS), per process:\n");
  for (guint id = 0; id < RD_METRIC_N; id++)
    {
      const RdMetricInfo *m = rd_metric_info (id);
      g_string_append (out, ".TP\n.B ");
      roff (out, m->name);
      g_string_append_printf (out, "\n(%s", types[m->type]);
      if (m->labels && m->labels[0])
        {
          g_autofree char *l = g_strjoinv (", ", (char **) m->labels);
          g_string_append (out, "; labels ");
          roff (out, l);
        }
      g_string_append (out, ") ");
      roff (out, m->help);
      g_string_append (out, ".\n");
    }
}

static char *
replace_all (const char *text, const char *const *pairs)
{
  g_autoptr(GString) s = g_string_new (text);
  for (guint i = 0; pairs[i]; i += 2)
    g_string_replace (s, pairs[i], pairs[i + 1], 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static int
write_out (const char *path, const char *text)
{
  g_autoptr(GError) error = NULL;
  if (!g_file_set_contents (path, text, -1, &error))
    {
      fprintf (stderr, "gen-man: %s\n", error->message);
      return 1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "conf5") == 0)
    {
      g_autoptr(GString) page = g_string_new (conf5_head);
      rd_config_schema_foreach (conf5_key, page);
      g_string_append (page, conf5_tail);
      const char *const pairs[] = { "@VERSION@", argc > 3 ? argv[3] : "", "@SYSCONFDIR@",
                                    argc > 4 ? argv[4] : "/etc", NULL };
      g_autofree char *text = replace_all (page->str, pairs);
      return write_out (argv[2], text);
    }
  if (argc >= 3 && strcmp (argv[1], "conf") == 0)
    {
      g_autoptr(GString) out = g_string_new (
        "# relaydesk.conf: the configuration of relaydesk (see relaydesk.conf(5)).\n"
        "#\n"
        "# Every setting is here, commented out at its default; the lines without\n"
        "# '#' are the ones this installation sets. Check the file with\n"
        "#   relaydesk config check --config /etc/relaydesk/relaydesk.conf\n"
        "# A comment must be a line of its own: a '#' after a value is part of it.\n"
        "# Generated from common/rd-config-schema.c.\n");
      Conf c = { out, NULL, argv + 3 };
      rd_config_schema_foreach (conf_key, &c);
      return write_out (argv[2], out->str);
    }
  if (argc == 3 && strcmp (argv[1], "rules") == 0)
    return write_out (argv[2], RD_EXAMPLE_RULES);
  if (argc == 8 && strcmp (argv[1], "man8") == 0)
    {
      g_autofree char *tmpl = NULL;
      g_autoptr(GError) error = NULL;
      if (!g_file_get_contents (argv[2], &tmpl, NULL, &error))
        {
          fprintf (stderr, "gen-man: %s\n", error->message);
          return 1;
        }
      g_autoptr(GString) metrics = g_string_new (NULL);
      metrics_section (metrics);
      /* The section's text ends with a newline; the placeholder has one. */
      if (metrics->len && metrics->str[metrics->len - 1] == '\n')
        g_string_truncate (metrics, metrics->len - 1);
      const char *const pairs[] = { "@METRICS@", metrics->str, "@VERSION@", argv[4], "@SYSCONFDIR@", argv[5],
                                    "@LOCALSTATEDIR@", argv[6], "@DATADIR@", argv[7], NULL };
      g_autofree char *text = replace_all (tmpl, pairs);
      return write_out (argv[3], text);
    }
  fprintf (stderr, "usage: gen-man conf5 OUT [VERSION SYSCONFDIR] | conf OUT [GROUP.KEY=VALUE...] | "
                   "man8 TEMPLATE OUT VERSION SYSCONFDIR LOCALSTATEDIR DATADIR\n");
  return 64;
}
