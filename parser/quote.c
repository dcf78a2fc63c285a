/* relaydesk — parser: where the quoted history of a reply begins.
 *
 * The new text of a reply is what precedes the first of:
 *  - a line quoted with ">" (RFC 3676 section 4.5 quoting);
 *  - an attribution line "On <date>, <name> wrote:" (Gmail, Apple Mail,
 *    Thunderbird; Gmail may wrap it over two lines), and its German and
 *    French forms ("Am ... schrieb ...:", "Le ... a écrit :");
 *  - "-----Original Message-----" (Outlook), "-------- Original Message
 *    --------" / "-------- Forwarded Message --------" (Thunderbird),
 *    "---------- Forwarded message ---------" (Gmail), "Begin forwarded
 *    message:" (Apple Mail);
 *  - Outlook's header block: an optional line of underscores, then
 *    "From:" followed within three lines by "Sent:" or "Date:".
 * When nothing precedes the marker (a bottom-posted reply), there is no
 * split: the new text would be empty and the reply lost in "history".
 */
#include "parser-private.h"

#include <string.h>

static gboolean
starts_ci (const char *line, gsize len, const char *prefix)
{
  gsize n = strlen (prefix);
  return len >= n && g_ascii_strncasecmp (line, prefix, n) == 0;
}

static gboolean
ends_with_trim (const char *line, gsize len, const char *suffix)
{
  while (len > 0 && g_ascii_isspace (line[len - 1]))
    len--;
  gsize n = strlen (suffix);
  return len >= n && g_ascii_strncasecmp (line + len - n, suffix, n) == 0;
}

static gboolean
contains_ci (const char *line, gsize len, const char *needle)
{
  gsize n = strlen (needle);
  for (gsize i = 0; i + n <= len; i++)
    if (g_ascii_strncasecmp (line + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

typedef struct {
  const char *s;
  gsize len;
  gsize off;
} Line;

static gboolean
is_attribution (const Line *l, const Line *next)
{
  if (starts_ci (l->s, l->len, "On ") && l->len < 400)
    {
      if (ends_with_trim (l->s, l->len, "wrote:"))
        return TRUE;
      if (next && next->len < 200 && ends_with_trim (next->s, next->len, "wrote:"))
        return TRUE;
    }
  if (starts_ci (l->s, l->len, "Am ") && contains_ci (l->s, l->len, "schrieb") && ends_with_trim (l->s, l->len, ":"))
    return TRUE;
  if (starts_ci (l->s, l->len, "Le ") && (ends_with_trim (l->s, l->len, "a écrit :")
                                          || ends_with_trim (l->s, l->len, "a écrit:")))
    return TRUE;
  return FALSE;
}

static gboolean
is_separator (const Line *l)
{
  const char *s = l->s;
  gsize len = l->len;
  while (len && (*s == ' ' || *s == '\t'))
    s++, len--;
  if (starts_ci (s, len, "Begin forwarded message:"))
    return TRUE;
  if (len >= 5 && s[0] == '-' && s[1] == '-')
    return contains_ci (s, len, "Original Message") || contains_ci (s, len, "Forwarded message")
        || contains_ci (s, len, "Ursprüngliche Nachricht") || contains_ci (s, len, "Message d'origine");
  return FALSE;
}

static gboolean
is_outlook_header (const Line *lines, guint i, guint n)
{
  const Line *l = &lines[i];
  if (!(starts_ci (l->s, l->len, "From:") || starts_ci (l->s, l->len, "*From:*")
        || starts_ci (l->s, l->len, "Von:") || starts_ci (l->s, l->len, "De :")
        || starts_ci (l->s, l->len, "De:")))
    return FALSE;
  for (guint j = i + 1; j < n && j <= i + 3; j++)
    if (starts_ci (lines[j].s, lines[j].len, "Sent:") || starts_ci (lines[j].s, lines[j].len, "*Sent:*")
        || starts_ci (lines[j].s, lines[j].len, "Date:") || starts_ci (lines[j].s, lines[j].len, "Gesendet:")
        || starts_ci (lines[j].s, lines[j].len, "Envoyé :"))
      return TRUE;
  return FALSE;
}

static gboolean
is_underscores (const Line *l)
{
  if (l->len < 10)
    return FALSE;
  for (gsize i = 0; i < l->len; i++)
    if (l->s[i] != '_')
      return FALSE;
  return TRUE;
}

gsize
rd_quote_split (const char *text)
{
  gsize total = strlen (text);
  g_autoptr(GArray) lines = g_array_new (FALSE, FALSE, sizeof (Line));
  const char *p = text;
  while (*p)
    {
      const char *e = strchr (p, '\n');
      Line l = { p, e ? (gsize) (e - p) : strlen (p), (gsize) (p - text) };
      g_array_append_val (lines, l);
      if (e == NULL)
        break;
      p = e + 1;
    }
  guint n = lines->len;
  Line *ls = (Line *) (void *) lines->data;
  gsize split = total;
  for (guint i = 0; i < n && split == total; i++)
    {
      const Line *l = &ls[i];
      if (l->len > 0 && l->s[0] == '>')
        split = l->off;
      else if (is_attribution (l, i + 1 < n ? &ls[i + 1] : NULL) || is_separator (l))
        split = l->off;
      else if (is_underscores (l) && i + 1 < n && is_outlook_header (ls, i + 1, n))
        split = l->off;
      else if (is_outlook_header (ls, i, n) && i > 0)
        split = l->off;
    }
  /* Nothing new above the marker: no split. */
  gboolean blank = TRUE;
  for (gsize i = 0; i < split && blank; i++)
    if (!g_ascii_isspace (text[i]))
      blank = FALSE;
  return blank ? total : split;
}
