/* relaydesk — configuration (see rd-config.h for the file format; the
 * settings are declared in rd-config-schema.c). */
#include "rd-config.h"
#include "rd-common.h"

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

RdConfig *
rd_config_load (const char *path, GError **error)
{
  g_autoptr(RdConfig) c = rd_config_new_default ();
  if (path == NULL)
    return g_steal_pointer (&c);
  g_autoptr(GError) local = NULL;
  if (!g_key_file_load_from_file (c->kf, path, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                   "cannot load config %s: %s", path, local->message);
      return NULL;
    }
  c->path = g_strdup (path);
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
  g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%s", c->errors->str);
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
