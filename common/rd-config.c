/* relaydesk — configuration (see rd-config.h for the file format; the
 * settings are declared in rd-config-schema.c). */
#include "rd-config.h"
#include "rd-common.h"

#include <stdarg.h>
#include <string.h>

struct _RdConfig {
  GKeyFile *kf;
  char *path;
  GString *errors;
  GMutex lock;
  GHashTable *interned; /* "group\x1fkey" -> string kept alive for callers */
};

RdConfig *
rd_config_new_default (void)
{
  RdConfig *c = g_new0 (RdConfig, 1);
  c->kf = g_key_file_new ();
  c->errors = g_string_new (NULL);
  c->interned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_mutex_init (&c->lock);
  return c;
}

/* Checking the file -----------------------------------------------------
 *
 * GKeyFile parses the file but gives no line numbers, so the text is
 * scanned a second time here with GKeyFile's line grammar (glib/gkeyfile.c):
 * leading white space is ignored; blank lines and lines starting with '#'
 * are comments; "[name]" followed by nothing but white space opens a group;
 * any other line with '=' is "key = value", white space around the key
 * dropped. A group may appear more than once (GKeyFile merges them); a key
 * given twice in a group keeps the last value, which is why that is an
 * error here: the first one would be silently ignored.
 */

typedef enum { LINE_BLANK, LINE_GROUP, LINE_KEY, LINE_BAD } LineKind;

/* Classifies one line (without its newline); @name gets the group or key. */
static LineKind
scan_line (const char *line, char **name)
{
  while (g_ascii_isspace (*line))
    line++;
  if (*line == '\0' || *line == '#')
    return LINE_BLANK;
  if (*line == '[')
    {
      const char *close = strchr (line, ']');
      const char *p = close ? close + 1 : NULL;
      while (p && (*p == ' ' || *p == '\t'))
        p++;
      if (p && *p == '\0')
        {
          *name = g_strndup (line + 1, close - line - 1);
          return LINE_GROUP;
        }
    }
  const char *eq = strchr (line, '=');
  if (eq == NULL || eq == line)
    return LINE_BAD;
  *name = g_strchomp (g_strndup (line, eq - line));
  return LINE_KEY;
}

/* Calls @func for each line of @text, numbered from 1, without "\r\n". */
typedef gboolean (*LineFunc) (guint number, const char *line, gpointer data);

static void
foreach_line (const char *text, LineFunc func, gpointer data)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      gsize n = strlen (lines[i]);
      if (n > 0 && lines[i][n - 1] == '\r')
        lines[i][n - 1] = '\0';
      if (!func (i + 1, lines[i], data))
        return;
    }
}

typedef struct {
  const char *path;
  GString *out;
  gboolean in_group;
} SyntaxScan;

static gboolean
find_syntax_error (guint number, const char *line, gpointer data)
{
  SyntaxScan *s = data;
  g_autofree char *name = NULL;
  g_autofree char *shown = rd_log_escape (line, -1, 80);
  switch (scan_line (line, &name))
    {
    case LINE_BLANK:
      return TRUE;
    case LINE_GROUP:
      if (*name == '\0')
        g_string_printf (s->out, "%s:%u: [] has no group name", s->path, number);
      s->in_group = TRUE;
      return *name != '\0';
    case LINE_KEY:
      if (!s->in_group)
        g_string_printf (s->out, "%s:%u: %s comes before the first [group]", s->path, number, shown);
      return s->in_group;
    case LINE_BAD:
      g_string_printf (s->out, "%s:%u: %s is not a [group], a key = value or a # comment", s->path, number, shown);
      return FALSE;
    }
  return TRUE;
}

/* The one RD_ERROR_CONFIG error, in valid UTF-8: its lines quote the
 * file's group and key names, which may be any bytes (found by
 * fuzz/fuzz-config.c). */
static void
config_error (GError **error, const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  g_set_error_literal (error, RD_ERROR, RD_ERROR_CONFIG, valid);
}

/* GKeyFile refused the file: say where, when the scan finds the line. */
static void
set_syntax_error (GError **error, const char *path, const char *text, const GError *kf_error)
{
  SyntaxScan s = { path, g_string_new (NULL), FALSE };
  foreach_line (text, find_syntax_error, &s);
  if (s.out->len == 0)
    g_string_printf (s.out, "%s: %s", path, kf_error->message);
  config_error (error, s.out->str);
  g_string_free (s.out, TRUE);
}

/* Edit distance ignoring case, a swap of two neighbours counting as one
 * edit ("smpt" is one from "smtp"): optimal string alignment. */
static guint
distance (const char *a, const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *d = g_new (guint, (la + 1) * (lb + 1));
#define D(i, j) d[(i) * (lb + 1) + (j)]
  for (gsize i = 0; i <= la; i++)
    D (i, 0) = (guint) i;
  for (gsize j = 0; j <= lb; j++)
    D (0, j) = (guint) j;
  for (gsize i = 1; i <= la; i++)
    for (gsize j = 1; j <= lb; j++)
      {
        char ca = g_ascii_tolower (a[i - 1]), cb = g_ascii_tolower (b[j - 1]);
        guint best = MIN (MIN (D (i - 1, j) + 1, D (i, j - 1) + 1), D (i - 1, j - 1) + (ca == cb ? 0 : 1));
        if (i > 1 && j > 1 && ca == g_ascii_tolower (b[j - 2]) && g_ascii_tolower (a[i - 2]) == cb)
          best = MIN (best, D (i - 2, j - 2) + 1);
        D (i, j) = best;
      }
  guint result = D (la, lb);
#undef D
  return result;
}

/* How far a typo may be from the name it was meant to be. */
static guint
typo_budget (const char *name)
{
  gsize n = strlen (name);
  return n <= 4 ? 1 : n <= 12 ? 2 : 3;
}

typedef struct {
  const char *group;     /* the group the unknown key is in, or NULL */
  const char *name;      /* the unknown key or group */
  char *best;
  guint best_distance;
  GString *elsewhere;    /* groups that do have this key */
} Suggest;

static void
offer (Suggest *s, const char *candidate, guint d)
{
  if (d <= typo_budget (s->name) && d < s->best_distance)
    {
      g_free (s->best);
      s->best = g_strdup (candidate);
      s->best_distance = d;
    }
}

static void
suggest_key (const RdConfigKey *k, gpointer data)
{
  Suggest *s = data;
  if (rd_config_schema_lookup (s->group, k->key) == k)
    offer (s, k->key, distance (s->name, k->key));
  else if (g_ascii_strcasecmp (k->key, s->name) == 0)
    g_string_append_printf (s->elsewhere, "%s[%s]", s->elsewhere->len ? ", " : "",
                            rd_config_key_group_display (k));
}

static void
suggest_group (const RdConfigKey *k, gpointer data)
{
  Suggest *s = data;
  const char *shown = rd_config_key_group_display (k);
  if (!g_str_has_suffix (k->group, ".*"))
    {
      offer (s, shown, distance (s->name, k->group));
      return;
    }
  /* [queues.billing] -> [queue.billing]; [queue] -> [queue.NAME] */
  g_autofree char *prefix = g_strndup (k->group, strlen (k->group) - 2);
  const char *dot = strchr (s->name, '.');
  g_autofree char *given = dot ? g_strndup (s->name, dot - s->name) : g_strdup (s->name);
  g_autofree char *candidate = dot && dot[1] ? g_strconcat (prefix, dot, NULL) : g_strdup (shown);
  offer (s, candidate, distance (given, prefix));
}

/* " (did you mean [smtp]?)" or "" (transfer full) */
static char *
suggestion (const char *group, const char *name)
{
  Suggest s = { group, name, NULL, G_MAXUINT, g_string_new (NULL) };
  rd_config_schema_foreach (group ? suggest_key : suggest_group, &s);
  char *out;
  if (s.best && group)
    out = g_strdup_printf (" (did you mean %s?)", s.best);
  else if (s.best)
    out = g_strdup_printf (" (did you mean [%s]?)", s.best);
  else if (s.elsewhere->len)
    out = g_strdup_printf (" (it is a key of %s)", s.elsewhere->str);
  else
    out = g_strdup ("");
  g_free (s.best);
  g_string_free (s.elsewhere, TRUE);
  return out;
}

typedef struct {
  RdConfig *config;
  GString *out;          /* one line per problem */
  char *group;           /* the current group */
  gboolean group_known;
  GHashTable *groups_reported;
  GHashTable *first_line; /* "group\x1fkey" -> first line number */
} Check;

static void G_GNUC_PRINTF (3, 4)
problem (Check *ck, guint number, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_string_append_printf (ck->out, "%s%s:%u: %s", ck->out->len ? "\n" : "", ck->config->path, number, what);
}

static void
check_key (Check *ck, guint number, const char *key)
{
  const char *group = ck->group;
  g_autofree char *id = g_strdup_printf ("%s\x1f%s", group, key);
  guint first = GPOINTER_TO_UINT (g_hash_table_lookup (ck->first_line, id));
  if (first != 0)
    {
      problem (ck, number, "[%s] %s: given again (first at line %u; only one may stand)", group, key, first);
      return;
    }
  g_hash_table_insert (ck->first_line, g_steal_pointer (&id), GUINT_TO_POINTER (number));
  const RdConfigKey *k = rd_config_schema_lookup (group, key);
  if (k == NULL)
    {
      g_autofree char *hint = suggestion (group, key);
      problem (ck, number, "[%s] %s: unknown key%s", group, key, hint);
      return;
    }
  g_autoptr(GError) e = NULL;
  /* GKeyFile returns what it could read of a bad escape ("\x") and an
   * error with it. */
  g_autofree char *value = g_key_file_get_string (ck->config->kf, group, key, &e);
  if (value == NULL || e != NULL)
    {
      problem (ck, number, "[%s] %s: the value cannot be read (a bad \\ escape?)", group, key);
      return;
    }
  if (!rd_config_key_parse (k, g_strstrip (value), NULL, &e))
    problem (ck, number, "[%s] %s: %s", group, key, e->message);
}

static gboolean
check_line (guint number, const char *line, gpointer data)
{
  Check *ck = data;
  g_autofree char *name = NULL;
  switch (scan_line (line, &name))
    {
    case LINE_GROUP:
      g_free (ck->group);
      ck->group = g_steal_pointer (&name);
      ck->group_known = rd_config_schema_has_group (ck->group);
      if (!ck->group_known && g_hash_table_add (ck->groups_reported, g_strdup (ck->group)))
        {
          g_autofree char *hint = suggestion (NULL, ck->group);
          problem (ck, number, "[%s]: unknown group%s", ck->group, hint);
        }
      break;
    case LINE_KEY:
      /* The keys of an unknown group are not reported one by one. */
      if (ck->group != NULL && ck->group_known)
        check_key (ck, number, name);
      break;
    case LINE_BLANK:
    case LINE_BAD: /* GKeyFile accepted the file: not reached */
      break;
    }
  return TRUE;
}

/* Every group, key and value of the file against the schema. */
static gboolean
check_file (RdConfig *c, const char *text, GError **error)
{
  Check ck = {
    c, g_string_new (NULL), NULL, FALSE,
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
  };
  foreach_line (text, check_line, &ck);
  gboolean ok = ck.out->len == 0;
  if (!ok)
    config_error (error, ck.out->str);
  g_string_free (ck.out, TRUE);
  g_free (ck.group);
  g_hash_table_unref (ck.groups_reported);
  g_hash_table_unref (ck.first_line);
  return ok;
}

RdConfig *
rd_config_load (const char *path, GError **error)
{
  g_autoptr(RdConfig) c = rd_config_new_default ();
  if (path == NULL)
    return g_steal_pointer (&c);
  g_autoptr(GError) local = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                   "cannot load config %s: %s", path, local->message);
      return NULL;
    }
  if (!g_key_file_load_from_data (c->kf, text, len, G_KEY_FILE_NONE, &local))
    {
      set_syntax_error (error, path, text, local);
      return NULL;
    }
  c->path = g_strdup (path);
  if (!check_file (c, text, error))
    return NULL;
  return g_steal_pointer (&c);
}

void
rd_config_free (RdConfig *c)
{
  if (c == NULL)
    return;
  g_key_file_unref (c->kf);
  g_free (c->path);
  g_string_free (c->errors, TRUE);
  g_hash_table_unref (c->interned);
  g_mutex_clear (&c->lock);
  g_free (c);
}

const char *
rd_config_get_path (const RdConfig *c)
{
  return c->path;
}

/* Getters ----------------------------------------------------------------- */

static void
note_error (RdConfig *c, const char *group, const char *key, const char *what)
{
  g_autofree char *line = g_strdup_printf ("%s%s: [%s] %s: %s",
                                           c->errors->len ? "; " : "",
                                           c->path ? c->path : "config",
                                           group, key, what);
  if (strstr (c->errors->str, line + (c->errors->len ? 2 : 0)) == NULL)
    g_string_append (c->errors, line);
}

/* Parsing rules for a key the schema lacks (a programming error, already
 * reported): the getter's type, no range. */
static const RdConfigKey undeclared[] = {
  [RD_CONFIG_STRING] = { "", "", RD_CONFIG_STRING },
  [RD_CONFIG_INT] = { "", "", RD_CONFIG_INT, .min = G_MININT64, .max = G_MAXINT64 },
  [RD_CONFIG_BOOL] = { "", "", RD_CONFIG_BOOL },
  [RD_CONFIG_SIZE] = { "", "", RD_CONFIG_SIZE },
  [RD_CONFIG_LIST] = { "", "", RD_CONFIG_LIST, .item = RD_CONFIG_STRING },
};

/* The schema's entry for a key a module reads. Reading a key the schema
 * does not declare, or as another type, is a programming error: the key
 * would escape the loader's checks and the documentation. */
static const RdConfigKey *
declared (const char *getter, const char *group, const char *key, RdConfigType type)
{
  const RdConfigKey *k = rd_config_schema_lookup (group, key);
  if (k == NULL)
    g_critical ("%s: [%s] %s is not in the config schema (common/rd-config-schema.c)", getter, group, key);
  else if (type != RD_CONFIG_STRING && k->type != type)
    g_critical ("%s: [%s] %s has another type in the config schema", getter, group, key);
  else
    return k;
  return &undeclared[type];
}

static void
drifted (const RdConfigKey *k, const char *group, const char *fallback)
{
  g_critical ("[%s] %s: the caller's default %s is not the schema's %s (common/rd-config-schema.c)",
              group, k->key, fallback, k->dflt);
}

/* The default of an absent INT, BOOL or SIZE: the schema's, which the
 * caller's @fallback must equal. */
static gint64
number_default (const RdConfigKey *k, const char *group, gint64 fallback)
{
  gint64 d = 0;
  if (k->dflt == NULL)
    return fallback;
  if (!rd_config_key_parse (k, k->dflt, &d, NULL))
    {
      g_critical ("[%s] %s: the schema's default %s is not valid", group, k->key, k->dflt);
      return fallback;
    }
  if (d != fallback)
    {
      g_autofree char *given = g_strdup_printf ("%" G_GINT64_FORMAT, fallback);
      drifted (k, group, given);
    }
  return d;
}

/* The stripped value in the file (or set), or NULL when absent. */
static const char *
raw_value (RdConfig *c, const char *group, const char *key)
{
  g_autofree char *v = g_key_file_get_string (c->kf, group, key, NULL);
  if (v == NULL)
    return NULL;
  g_strstrip (v);
  g_mutex_lock (&c->lock);
  char *k = g_strdup_printf ("%s\x1f%s", group, key);
  const char *old = g_hash_table_lookup (c->interned, k);
  const char *ret;
  if (old != NULL && strcmp (old, v) == 0)
    {
      g_free (k);
      ret = old;
    }
  else
    {
      /* Keep every returned string alive for the config's lifetime. */
      char *copy = g_strdup (v);
      g_hash_table_replace (c->interned, k, copy);
      ret = copy;
    }
  g_mutex_unlock (&c->lock);
  return ret;
}

static gint64
get_number (RdConfig *c, const char *getter, const char *group, const char *key, RdConfigType type, gint64 fallback)
{
  const RdConfigKey *k = declared (getter, group, key, type);
  gint64 dflt = number_default (k, group, fallback);
  const char *v = raw_value (c, group, key);
  if (v == NULL)
    return dflt;
  gint64 n = 0;
  g_autoptr(GError) e = NULL;
  if (!rd_config_key_parse (k, v, &n, &e))
    {
      note_error (c, group, key, e->message);
      return dflt;
    }
  return n;
}

const char *
rd_config_get_string (RdConfig *c, const char *group, const char *key, const char *fallback)
{
  const RdConfigKey *k = declared ("rd_config_get_string", group, key, RD_CONFIG_STRING);
  const char *v = raw_value (c, group, key);
  if (v != NULL)
    return v;
  /* A NULL fallback asks whether the key is set. */
  if (fallback == NULL || k->dflt == NULL)
    return fallback;
  if (strcmp (fallback, k->dflt) != 0)
    drifted (k, group, fallback);
  return k->dflt;
}

gint64
rd_config_get_int (RdConfig *c, const char *group, const char *key, gint64 fallback)
{
  return get_number (c, "rd_config_get_int", group, key, RD_CONFIG_INT, fallback);
}

gboolean
rd_config_get_bool (RdConfig *c, const char *group, const char *key, gboolean fallback)
{
  return get_number (c, "rd_config_get_bool", group, key, RD_CONFIG_BOOL, fallback ? TRUE : FALSE) != 0;
}

guint64
rd_config_get_size (RdConfig *c, const char *group, const char *key, guint64 fallback)
{
  return (guint64) get_number (c, "rd_config_get_size", group, key, RD_CONFIG_SIZE,
                               (gint64) MIN (fallback, (guint64) G_MAXINT64));
}

char **
rd_config_get_list (RdConfig *c, const char *group, const char *key)
{
  const RdConfigKey *k = declared ("rd_config_get_list", group, key, RD_CONFIG_LIST);
  const char *v = raw_value (c, group, key);
  if (v == NULL)
    v = k->dflt;
  if (v == NULL)
    return NULL;
  g_auto(GStrv) parts = g_strsplit_set (v, ";,", -1);
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; parts[i]; i++)
    {
      g_strstrip (parts[i]);
      if (*parts[i])
        g_ptr_array_add (out, g_strdup (parts[i]));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

void
rd_config_set_string (RdConfig *c, const char *group, const char *key, const char *value)
{
  g_key_file_set_string (c->kf, group, key, value);
}

gboolean
rd_config_check_errors (RdConfig *c, GError **error)
{
  if (c->errors->len == 0)
    return TRUE;
  config_error (error, c->errors->str);
  return FALSE;
}

const char *
rd_config_get_data_dir (RdConfig *c)
{
  return rd_config_get_string (c, "relaydesk", "data_dir", RD_DEFAULT_DATA_DIR);
}

const char *
rd_config_get_hostname (RdConfig *c)
{
  const char *h = rd_config_get_string (c, "relaydesk", "hostname", NULL);
  if (h != NULL)
    return h;
  return g_get_host_name ();
}

const char *
rd_config_get_raw (RdConfig *c, const char *group, const char *key)
{
  return raw_value (c, group, key);
}

GStrv
rd_config_get_groups (RdConfig *c)
{
  return g_key_file_get_groups (c->kf, NULL);
}
