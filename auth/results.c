/* relaydesk — auth: the Authentication-Results field (RFC 8601).
 *
 *   value   = authserv-id [ version ] ( "; none" / 1*( ";" resinfo ) )
 *   resinfo = method [ "/" version ] "=" result [ reason ] *( ptype "." property "=" pvalue )
 * with comments "( ... )" and quoted strings anywhere (RFC 5322 CFWS).
 * Reading is lenient (what MTAs write varies) but bounded: at most
 * RESINFO_MAX results, values cut at FIELD_MAX.
 */
#include "auth-private.h"
#include "mail-format.h"

#include <string.h>

#define RESINFO_MAX 32
#define FIELD_MAX 8192

/* One ";"-separated part: its words with comments removed, and the text
 * of its comments. */
typedef struct {
  GString *text;
  GString *comments;
} Part;

static void
part_clear (gpointer p)
{
  Part *x = p;
  g_string_free (x->text, TRUE);
  g_string_free (x->comments, TRUE);
}

/* Splits @value at ';' outside comments and quoted strings. */
static GArray *
split_parts (const char *value)
{
  GArray *parts = g_array_new (FALSE, TRUE, sizeof (Part));
  g_array_set_clear_func (parts, part_clear);
  Part cur = { g_string_new (NULL), g_string_new (NULL) };
  int depth = 0;
  gboolean quoted = FALSE;
  for (const char *p = value; *p && p - value < FIELD_MAX; p++)
    {
      char c = *p;
      if (c == '\\' && (quoted || depth) && p[1])
        {
          p++;
          g_string_append_c (depth ? cur.comments : cur.text, *p);
          continue;
        }
      if (quoted)
        {
          if (c == '"')
            quoted = FALSE;
          else
            g_string_append_c (cur.text, c);
          continue;
        }
      if (c == '(')
        {
          if (depth++ == 0 && cur.comments->len)
            g_string_append_c (cur.comments, ' ');
          continue;
        }
      if (c == ')' && depth)
        {
          depth--;
          continue;
        }
      if (depth)
        {
          g_string_append_c (cur.comments, c);
          continue;
        }
      if (c == '"')
        {
          quoted = TRUE;
          continue;
        }
      if (c == ';')
        {
          g_array_append_val (parts, cur);
          cur = (Part) { g_string_new (NULL), g_string_new (NULL) };
          if (parts->len > RESINFO_MAX)
            break;
          continue;
        }
      g_string_append_c (cur.text, (c == '\r' || c == '\n' || c == '\t') ? ' ' : c);
    }
  g_array_append_val (parts, cur);
  return parts;
}

/* The words of @text, with blanks around '=' removed ("dkim = pass"). */
static GStrv
words (const char *text)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (const char *p = text; *p; p++)
    {
      if (*p == ' ' && (p[1] == '=' || (s->len && s->str[s->len - 1] == '=')))
        continue;
      if (*p == ' ' && p[1] == ' ')
        continue;
      g_string_append_c (s, *p);
    }
  g_strstrip (s->str);
  return g_strsplit (s->str, " ", -1);
}

char *
rd_auth_results_authserv_id (const char *value)
{
  g_autoptr(GArray) parts = split_parts (value);
  g_auto(GStrv) w = words (g_array_index (parts, Part, 0).text->str);
  if (w[0] == NULL || *w[0] == '\0')
    return NULL;
  return g_ascii_strdown (w[0], -1);
}

static RdAuthResult
result_word (const char *method, const char *word)
{
  RdAuthResult r;
  g_autofree char *l = g_ascii_strdown (word, -1);
  if (rd_auth_result_from_string (l, &r))
    return r;
  /* RFC 7001 and older writers: "hardfail" for SPF fail. */
  if (g_strcmp0 (l, "hardfail") == 0)
    return RD_AUTH_FAIL;
  return RD_AUTH_NEUTRAL;
}

gboolean
rd_auth_results_parse (const char *value, char **authserv_id, RdAuthSummary *sum)
{
  memset (sum, 0, sizeof *sum);
  sum->spf = sum->dkim = sum->dmarc = RD_AUTH_NONE;
  if (authserv_id)
    *authserv_id = NULL;
  if (value == NULL)
    return FALSE;
  g_autoptr(GArray) parts = split_parts (value);
  g_auto(GStrv) head = words (g_array_index (parts, Part, 0).text->str);
  if (head[0] == NULL || *head[0] == '\0' || strchr (head[0], '=') != NULL)
    return FALSE;
  if (authserv_id)
    *authserv_id = g_ascii_strdown (head[0], -1);
  gboolean spf_seen = FALSE, dmarc_seen = FALSE, dkim_seen = FALSE, dkim_pass = FALSE;
  RdAuthResult dkim_first = RD_AUTH_NONE;
  for (guint i = 1; i < parts->len; i++)
    {
      Part *part = &g_array_index (parts, Part, i);
      g_auto(GStrv) w = words (part->text->str);
      if (w[0] == NULL || *w[0] == '\0')
        continue;
      char *eq = strchr (w[0], '=');
      if (eq == NULL)
        continue;
      *eq = '\0';
      char *slash = strchr (w[0], '/');
      if (slash)
        *slash = '\0';
      const char *method = w[0];
      RdAuthResult r = result_word (method, eq + 1);
      if (g_ascii_strcasecmp (method, "spf") == 0 && !spf_seen)
        {
          sum->spf = r;
          spf_seen = TRUE;
        }
      else if (g_ascii_strcasecmp (method, "dkim") == 0)
        {
          if (!dkim_seen)
            dkim_first = r;
          dkim_seen = TRUE;
          if (r == RD_AUTH_PASS)
            dkim_pass = TRUE;
        }
      else if (g_ascii_strcasecmp (method, "dmarc") == 0 && !dmarc_seen)
        {
          dmarc_seen = TRUE;
          sum->dmarc = r;
          for (guint k = 1; w[k]; k++)
            {
              if (g_ascii_strncasecmp (w[k], "header.from=", 12) == 0)
                {
                  g_autofree char *d = g_ascii_strdown (w[k] + 12, -1);
                  const char *at = strrchr (d, '@');
                  g_strlcpy (sum->from_domain, at ? at + 1 : d, sizeof sum->from_domain);
                }
              else if (g_ascii_strncasecmp (w[k], "policy.dmarc=", 13) == 0)
                g_strlcpy (sum->dmarc_policy, w[k] + 13, sizeof sum->dmarc_policy);
            }
          /* opendmarc and we write "(p=reject dis=none)". */
          g_auto(GStrv) cw = g_strsplit (part->comments->str, " ", -1);
          for (guint k = 0; cw[k] && !sum->dmarc_policy[0]; k++)
            if (g_ascii_strncasecmp (cw[k], "p=", 2) == 0)
              {
                g_autofree char *pl = g_ascii_strdown (cw[k] + 2, -1);
                g_strlcpy (sum->dmarc_policy, pl, sizeof sum->dmarc_policy);
              }
        }
    }
  sum->dkim = dkim_pass ? RD_AUTH_PASS : dkim_first;
  sum->verified = sum->dmarc == RD_AUTH_PASS && sum->from_domain[0] != '\0';
  return TRUE;
}

char *
rd_auth_results_fold (const char *value)
{
  /* RFC 5322 2.2.3: a CRLF before the blank after each ';'. */
  g_autoptr(GString) s = g_string_new (NULL);
  for (const char *p = value; *p; p++)
    {
      if (*p == ';' && p[1] == ' ')
        {
          g_string_append (s, ";\r\n\t");
          p++;
          continue;
        }
      if (*p == '\r' || *p == '\n')
        continue;
      g_string_append_c (s, *p);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

GBytes *
rd_auth_view_bytes (GBytes *raw, const char *authserv_id, const char *value)
{
  gsize len, body = 0;
  const char *p = g_bytes_get_data (raw, &len);
  gsize hlen = rd_mail_header_length (p, len, &body);
  gsize probe = 0;
  RdMailField first;
  if (p == NULL || !rd_mail_header_next (p, hlen, &probe, &first))
    return g_bytes_ref (raw); /* not a message: the parser says why, on the bytes received */
  GByteArray *out = g_byte_array_sized_new ((guint) len + 512);
  if (value)
    {
      g_autofree char *folded = rd_auth_results_fold (value);
      g_byte_array_append (out, (const guint8 *) RD_AUTH_RESULTS_HEADER ": ", sizeof RD_AUTH_RESULTS_HEADER + 1);
      g_byte_array_append (out, (const guint8 *) folded, (guint) strlen (folded));
      g_byte_array_append (out, (const guint8 *) "\r\n", 2);
    }
  gsize pos = 0, start = 0;
  RdMailField f;
  while (start = pos, rd_mail_header_next (p, hlen, &pos, &f))
    {
      if (authserv_id && rd_mail_field_is (&f, RD_AUTH_RESULTS_HEADER))
        {
          g_autofree char *v = rd_mail_field_value (&f);
          g_autofree char *id = rd_auth_results_authserv_id (v);
          if (g_strcmp0 (id, authserv_id) == 0)
            continue; /* claims to be ours: forged, or from an earlier pass */
        }
      g_byte_array_append (out, (const guint8 *) p + start, (guint) (pos - start));
    }
  g_byte_array_append (out, (const guint8 *) p + hlen, (guint) (len - hlen));
  return g_byte_array_free_to_bytes (out);
}

char *
rd_auth_from_domain (GBytes *raw, const char **reason)
{
  gsize len, pos = 0;
  const char *p = g_bytes_get_data (raw, &len);
  RdMailField f;
  guint fields = 0;
  g_autofree char *value = NULL;
  while (rd_mail_header_next (p, len, &pos, &f))
    if (rd_mail_field_is (&f, "From") && fields++ == 0)
      value = rd_mail_field_value (&f);
  *reason = "none";
  if (fields > 1)
    {
      *reason = "multiple";
      return NULL;
    }
  if (value == NULL)
    return NULL;
  g_autoptr(GPtrArray) addrs = rd_mail_address_list_parse (value);
  if (addrs->len > 1)
    {
      *reason = "multiple";
      return NULL;
    }
  if (addrs->len == 0)
    return NULL;
  const RdAddress *a = g_ptr_array_index (addrs, 0);
  const char *at = a->addr ? strrchr (a->addr, '@') : NULL;
  if (at == NULL || at[1] == '\0')
    return NULL;
  g_autofree char *d = g_ascii_strdown (at + 1, -1);
  gsize n = strlen (d);
  if (n && d[n - 1] == '.')
    d[n - 1] = '\0';
  if (*d == '\0' || strlen (d) >= RD_AUTH_DOMAIN_MAX)
    return NULL;
  /* A domain (LDH labels, or UTF-8 ones): nothing that could act on a
   * terminal, a log line or the Authentication-Results field. */
  for (const char *c = d; *c; c++)
    if ((guchar) *c <= ' ' || *c == 127 || strchr ("()<>[]\\\";:,@", *c))
      return NULL;
  return g_steal_pointer (&d);
}
