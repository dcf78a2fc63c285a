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

/* The line starting at @p (up to the LF, not included). */
static Line
line_at (const char *text, const char *p)
{
  const char *e = strchr (p, '\n');
  Line l = { p, e ? (gsize) (e - p) : strlen (p), (gsize) (p - text) };
  return l;
}

/* Only lines starting with one of these can begin the quoted history
 * (a cheap filter before the matchers, bodies can be megabytes). */
static gboolean
may_start_quote (char c)
{
  return c == '>' || c == '-' || c == '_' || c == '*' || c == ' ' || c == '\t' || strchr ("OoAaLlFfVvDdBb", c);
}

gsize
rd_quote_split (const char *text)
{
  gsize total = strlen (text);
  gsize split = total;
  const char *p = text;
  /* up to four lines of look-ahead for the multi-line markers */
  while (*p && split == total)
    {
      Line ls[5];
      guint n = 0;
      const char *q = p;
      while (n < 5)
        {
          ls[n] = line_at (text, q);
          n++;
          if (q[ls[n - 1].len] == '\0')
            break;
          q += ls[n - 1].len + 1;
          if (!may_start_quote (ls[0].s[0]) && n == 1)
            break; /* no look-ahead needed for this line */
        }
      const Line *l = &ls[0];
      if (l->len > 0 && may_start_quote (l->s[0]))
        {
          if (l->s[0] == '>')
            split = l->off;
          else if (is_attribution (l, n > 1 ? &ls[1] : NULL) || is_separator (l))
            split = l->off;
          else if (is_underscores (l) && n > 1 && is_outlook_header (ls, 1, n))
            split = l->off;
          else if (l->off > 0 && is_outlook_header (ls, 0, n))
            split = l->off;
        }
      if (l->s[l->len] == '\0')
        break;
      p = l->s + l->len + 1;
    }
  /* Nothing new above the marker: no split. */
  for (gsize i = 0; i < split; i++)
    if (!g_ascii_isspace (text[i]))
      return split;
  return total;
}

gsize
rd_text_quote_split (const char *text)
{
  return text ? rd_quote_split (text) : 0;
}
