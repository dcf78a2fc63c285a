/* relaydesk — common helpers. */
#include "rd-common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <stdarg.h>
#include <arpa/inet.h>

G_DEFINE_QUARK (relaydesk-error-quark, rd_error)

static RdLogLevel log_level = RD_LOG_INFO;
static RdLogFormat log_format = RD_LOG_FORMAT_TEXT;
static GMutex log_lock;

void
rd_log_set_level (RdLogLevel level)
{
  log_level = level;
}

void
rd_log_set_format (RdLogFormat format)
{
  log_format = format;
}

gboolean
rd_log_format_parse (const char *name, RdLogFormat *format)
{
  if (g_strcmp0 (name, "text") == 0)
    *format = RD_LOG_FORMAT_TEXT;
  else if (g_strcmp0 (name, "json") == 0)
    *format = RD_LOG_FORMAT_JSON;
  else
    return FALSE;
  return TRUE;
}

/* A JSON string: UTF-8 kept (invalid sequences replaced), control
 * characters, quote and backslash escaped. */
static void
json_string (GString *out, const char *text, gssize len)
{
  g_autofree char *valid = g_utf8_make_valid (text, len);
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) valid; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if (*p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_string_append_c (out, '"');
}

/* Whether @p starts "key=" (the next pair of a line). */
static gboolean
at_key (const char *p)
{
  const char *k = p;
  while (*p && (g_ascii_isalnum (*p) || *p == '_' || *p == '-' || *p == '.'))
    p++;
  return p > k && *p == '=';
}

/* One value of a key=value line: quoted as rd_log_escape() writes it
 * ("a \"b\" \x0a"), unescaped into @out; or bare, up to the space before
 * the next key= (so "config=(embedded defaults) uid=0" keeps its words).
 * Returns the position after it, or NULL when it does not parse. */
static const char *
parse_value (const char *p, GString *out)
{
  if (*p != '"')
    {
      const char *e = p;
      while (*e && !(*e == ' ' && at_key (e + 1)))
        e++;
      while (e > p && e[-1] == ' ')
        e--;
      g_string_append_len (out, p, e - p);
      return e;
    }
  for (p++; *p && *p != '"'; p++)
    {
      if (*p != '\\')
        {
          g_string_append_c (out, *p);
          continue;
        }
      p++;
      if (*p == 'x' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
        {
          g_string_append_c (out, (char) (g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2])));
          p += 2;
        }
      else if (*p == '\0')
        return NULL;
      else
        g_string_append_c (out, *p);
    }
  if (*p != '"')
    return NULL;
  p++;
  /* "..." after a cut value belongs to it. */
  if (g_str_has_prefix (p, "..."))
    p += 3;
  return *p == '\0' || *p == ' ' ? p : NULL;
}

/* Parses "k=v k2=\"v 2\"" into pairs; FALSE when the body is not that. */
static gboolean
parse_pairs (const char *body, GPtrArray *keys, GPtrArray *values)
{
  const char *p = body;
  while (*p == ' ')
    p++;
  while (*p)
    {
      const char *k = p;
      while (*p && (g_ascii_isalnum (*p) || *p == '_' || *p == '-' || *p == '.'))
        p++;
      if (p == k || *p != '=')
        return FALSE;
      g_ptr_array_add (keys, g_strndup (k, p - k));
      GString *v = g_string_new (NULL);
      p = parse_value (p + 1, v);
      g_ptr_array_add (values, g_string_free (v, FALSE));
      if (p == NULL)
        return FALSE;
      while (*p == ' ')
        p++;
    }
  return TRUE;
}

char *
rd_log_format_json (const char *ts, const char *level, const char *event, const char *body)
{
  GString *out = g_string_new ("{\"ts\":");
  json_string (out, ts, -1);
  g_string_append (out, ",\"level\":");
  json_string (out, level, -1);
  g_string_append (out, ",\"event\":");
  json_string (out, event, -1);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  if (parse_pairs (body, keys, values))
    {
      for (guint i = 0; i < keys->len; i++)
        {
          const char *k = g_ptr_array_index (keys, i);
          /* A key of ours would be shadowed: keep both. */
          gboolean ours = !strcmp (k, "ts") || !strcmp (k, "level") || !strcmp (k, "event") || !strcmp (k, "msg");
          g_string_append_c (out, ',');
          if (ours)
            {
              g_autofree char *renamed = g_strconcat ("field.", k, NULL);
              json_string (out, renamed, -1);
            }
          else
            json_string (out, k, -1);
          g_string_append_c (out, ':');
          json_string (out, g_ptr_array_index (values, i), -1);
        }
    }
  else if (*body)
    {
      g_string_append (out, ",\"msg\":");
      json_string (out, body, -1);
    }
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

void
rd_log (RdLogLevel level, const char *event, const char *fmt, ...)
{
  static const char *names[] = { "debug", "info", "warn", "error" };
  if (level < log_level)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *body = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *sec = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  g_autofree char *ts = g_strdup_printf ("%s.%03dZ", sec, g_date_time_get_microsecond (now) / 1000);
  g_autofree char *line = log_format == RD_LOG_FORMAT_JSON
      ? rd_log_format_json (ts, names[level], event, body)
      : g_strdup_printf ("%s %s %s %s", ts, names[level], event, body);
  g_mutex_lock (&log_lock);
  fprintf (stderr, "%s\n", line);
  fflush (stderr);
  g_mutex_unlock (&log_lock);
}

char *
rd_log_escape (const char *text, gssize len, gsize max)
{
  if (text == NULL)
    return g_strdup ("\"\"");
  gsize n = len < 0 ? strlen (text) : (gsize) len;
  gboolean cut = n > max;
  if (cut)
    n = max;
  GString *out = g_string_sized_new (n + 4);
  g_string_append_c (out, '"');
  for (gsize i = 0; i < n; i++)
    {
      guchar c = (guchar) text[i];
      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20 || c >= 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_c (out, (char) c);
    }
  if (cut)
    g_string_append (out, "...");
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

char *
rd_msgid_normalize (const char *value)
{
  if (value == NULL)
    return NULL;
  const char *lt = strchr (value, '<');
  if (lt != NULL)
    {
      const char *gt = strchr (lt + 1, '>');
      if (gt != NULL)
        {
          GString *id = g_string_new (NULL);
          for (const char *p = lt + 1; p < gt; p++)
            if (!g_ascii_isspace (*p))
              g_string_append_c (id, *p);
          if (id->len > 0)
            return g_string_free (id, FALSE);
          g_string_free (id, TRUE);
          return NULL;
        }
    }
  /* No brackets: the first whitespace/comma separated token. */
  const char *p = value;
  while (*p && (g_ascii_isspace (*p) || *p == ','))
    p++;
  const char *e = p;
  while (*e && !g_ascii_isspace (*e) && *e != ',')
    e++;
  if (e == p)
    return NULL;
  return g_strndup (p, e - p);
}

char *
rd_peek_message_id (const char *raw, gsize len)
{
  const char *p = raw;
  const char *end = raw + len;
  /* Skip a UTF-8 BOM and an mbox "From " line. */
  if (end - p >= 3 && memcmp (p, "\xef\xbb\xbf", 3) == 0)
    p += 3;
  while (p < end)
    {
      const char *eol = memchr (p, '\n', end - p);
      const char *line_end = eol ? eol : end;
      gsize line_len = line_end - p;
      if (line_len > 0 && p[line_len - 1] == '\r')
        line_len--;
      if (line_len == 0)
        return NULL; /* end of header block */
      if (line_len >= 11 && g_ascii_strncasecmp (p, "Message-ID:", 11) == 0)
        {
          GString *val = g_string_new_len (p + 11, line_len - 11);
          /* Unfold continuation lines. */
          const char *q = eol ? eol + 1 : end;
          while (q < end && (*q == ' ' || *q == '\t'))
            {
              const char *e2 = memchr (q, '\n', end - q);
              const char *le = e2 ? e2 : end;
              gsize l = le - q;
              if (l > 0 && q[l - 1] == '\r')
                l--;
              g_string_append_len (val, q, l);
              q = e2 ? e2 + 1 : end;
            }
          char *id = rd_msgid_normalize (val->str);
          g_string_free (val, TRUE);
          return id;
        }
      p = eol ? eol + 1 : end;
    }
  return NULL;
}

char *
rd_time_iso8601 (gint64 unix_seconds)
{
  /* gmtime_r, not GDateTime: every time of every ticket of an API list
   * page comes through here, and g_date_time_format costs ten times
   * more. The same range as GDateTime (years 1 to 9999). */
  time_t t = (time_t) unix_seconds;
  struct tm tm;
  if ((gint64) t != unix_seconds || gmtime_r (&t, &tm) == NULL || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
    return NULL;
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                          tm.tm_min, tm.tm_sec);
}

gboolean
rd_parse_hostport (const char *text, char **host, guint16 *port, GError **error)
{
  const char *colon;
  g_autofree char *h = NULL;
  if (text == NULL || *text == '\0')
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "empty address");
      return FALSE;
    }
  if (text[0] == '[')
    {
      const char *rb = strchr (text, ']');
      if (rb == NULL || rb[1] != ':')
        {
          g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                       "bad address '%s': expected [IPV6]:PORT", text);
          return FALSE;
        }
      h = g_strndup (text + 1, rb - text - 1);
      colon = rb + 1;
    }
  else
    {
      colon = strrchr (text, ':');
      if (colon == NULL)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                       "bad address '%s': expected ADDR:PORT", text);
          return FALSE;
        }
      h = g_strndup (text, colon - text);
    }
  guint64 v = 0;
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &v, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                   "bad port in '%s'", text);
      return FALSE;
    }
  *host = g_steal_pointer (&h);
  *port = (guint16) v;
  return TRUE;
}

gboolean
rd_address_split (const char *addr, char **local, char **domain)
{
  if (addr == NULL)
    return FALSE;
  const char *at = strrchr (addr, '@');
  if (at == NULL || at == addr || at[1] == '\0')
    return FALSE;
  if (local)
    *local = g_strndup (addr, at - addr);
  if (domain)
    *domain = g_ascii_strdown (at + 1, -1);
  return TRUE;
}

gboolean
rd_parse_cidr (const char *text, guint8 net[16], gsize *len, guint *prefix, GError **error)
{
  g_autofree char *copy = g_strstrip (g_strdup (text));
  g_autofree char *shown = g_utf8_make_valid (text, -1); /* quoted in errors: any bytes (fuzz/fuzz-cidr.c) */
  char *slash = strchr (copy, '/');
  if (slash)
    *slash = '\0';
  if (inet_pton (AF_INET, copy, net) == 1)
    *len = 4;
  else if (inet_pton (AF_INET6, copy, net) == 1)
    *len = 16;
  else
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "'%s' is not an IP address or CIDR block", shown);
      return FALSE;
    }
  guint max = (guint) *len * 8;
  guint64 p = max;
  if (slash && !g_ascii_string_to_unsigned (slash + 1, 10, 0, max, &p, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "'%s': bad prefix length (0-%u)", shown, max);
      return FALSE;
    }
  *prefix = (guint) p;
  for (guint bit = *prefix; bit < max; bit++)
    if (net[bit / 8] & (0x80 >> (bit % 8)))
      {
        g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                     "'%s': address has bits set beyond the /%u prefix", shown, *prefix);
        return FALSE;
      }
  return TRUE;
}

gboolean
rd_parse_duration (const char *text, gint64 *seconds)
{
  if (text == NULL || !g_ascii_isdigit (text[0]))
    return FALSE;
  char *end = NULL;
  guint64 n = g_ascii_strtoull (text, &end, 10);
  guint64 mul = 1;
  switch (*end)
    {
    case '\0': case 's': break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    default: return FALSE;
    }
  if (*end && end[1] != '\0')
    return FALSE;
  if (n > G_MAXINT32)
    return FALSE;
  *seconds = (gint64) (n * mul);
  return TRUE;
}
