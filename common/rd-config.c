/* relaydesk — configuration (see rd-config.h for the file format). */
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

const char *
rd_config_get_string (RdConfig *c, const char *group, const char *key, const char *fallback)
{
  g_autofree char *v = g_key_file_get_string (c->kf, group, key, NULL);
  if (v == NULL)
    return fallback;
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

gint64
rd_config_get_int (RdConfig *c, const char *group, const char *key, gint64 fallback)
{
  const char *v = rd_config_get_string (c, group, key, NULL);
  if (v == NULL)
    return fallback;
  gint64 out;
  if (!g_ascii_string_to_signed (v, 10, G_MININT64, G_MAXINT64, &out, NULL))
    {
      note_error (c, group, key, "not an integer");
      return fallback;
    }
  return out;
}

gboolean
rd_config_get_bool (RdConfig *c, const char *group, const char *key, gboolean fallback)
{
  const char *v = rd_config_get_string (c, group, key, NULL);
  if (v == NULL)
    return fallback;
  if (!g_ascii_strcasecmp (v, "true") || !g_ascii_strcasecmp (v, "yes") || !strcmp (v, "1") || !g_ascii_strcasecmp (v, "on"))
    return TRUE;
  if (!g_ascii_strcasecmp (v, "false") || !g_ascii_strcasecmp (v, "no") || !strcmp (v, "0") || !g_ascii_strcasecmp (v, "off"))
    return FALSE;
  note_error (c, group, key, "not a boolean (true/false)");
  return fallback;
}

char **
rd_config_get_list (RdConfig *c, const char *group, const char *key)
{
  const char *v = rd_config_get_string (c, group, key, NULL);
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

guint64
rd_config_get_size (RdConfig *c, const char *group, const char *key, guint64 fallback)
{
  const char *v = rd_config_get_string (c, group, key, NULL);
  if (v == NULL)
    return fallback;
  char *end = NULL;
  guint64 n = g_ascii_strtoull (v, &end, 10);
  if (end == v)
    {
      note_error (c, group, key, "not a size (e.g. 25M)");
      return fallback;
    }
  switch (g_ascii_toupper (*end))
    {
    case '\0': break;
    case 'K': n *= 1024; end++; break;
    case 'M': n *= 1024 * 1024; end++; break;
    case 'G': n *= 1024ull * 1024 * 1024; end++; break;
    default:
      note_error (c, group, key, "not a size (e.g. 25M)");
      return fallback;
    }
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end != '\0')
    {
      note_error (c, group, key, "not a size (e.g. 25M)");
      return fallback;
    }
  return n;
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
