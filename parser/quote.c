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
 * Each in the localized wordings of Gmail, Outlook, Apple Mail and
 * Thunderbird for Spanish, Portuguese, Italian, Dutch, Russian, Polish,
 * Chinese, Japanese and Hindi too (the tables below; tests/parser has a
 * case from each client's strings): "El ... escribió:", "Em ...
 * escreveu:", "Il giorno ... ha scritto:", "Op ... schreef ...:",
 * "... написал(а):", "W dniu ... napisał(a):", "... 写道：", Gmail's
 * Japanese and Russian "<date> <name> <addr>:", "... ने लिखा:"; the
 * forwarded/original message separators and Outlook's localized
 * "De:/Enviado:", "Da:/Inviato:", "Van:/Verzonden:", "От:/Отправлено:",
 * "Od:/Wysłane:", "发件人:/发送时间:", "差出人:/送信日時:", "प्रेषक:/भेजा गया:".
 * When nothing precedes the marker (a bottom-posted reply), there is no
 * split: the new text would be empty and the reply lost in "history".
 */
#include "parser-private.h"

#include <string.h>

gboolean
rd_line_starts_ci (const char *line, gsize len, const char *prefix)
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

gboolean
rd_line_contains_ci (const char *line, gsize len, const char *needle)
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

/* How a localized attribution line ends (blanks trimmed): Gmail, Apple
 * Mail, Thunderbird and Outlook on the web. */
static const char *const attribution_endings[] = {
  "escribió:", "escribio:",                                  /* es */
  "escreveu:",                                               /* pt */
  "ha scritto:",                                             /* it */
  "написал(а):", "написал:", "написала:", "пишет:",          /* ru */
  "napisał(a):", "napisał:", "napisała:", "pisze:",          /* pl */
  "写道：", "写道:", "寫道：", "寫道:",                      /* zh */
  "のメール:", "のメール：", "は書きました:", "は書きました：", /* ja */
  "ने लिखा:",                                                /* hi */
  NULL
};

/* A year (19xx/20xx) and a time (h:mm) in the line: the date every
 * attribution carries. */
static gboolean
has_date_and_time (const char *s, gsize len)
{
  gboolean year = FALSE, time = FALSE;
  for (gsize i = 0; i + 4 <= len && !(year && time); i++)
    {
      if (!year && (s[i] == '1' || s[i] == '2') && (s[i + 1] == '9' || s[i + 1] == '0')
          && g_ascii_isdigit (s[i + 2]) && g_ascii_isdigit (s[i + 3])
          && (i == 0 || !g_ascii_isdigit (s[i - 1])) && (i + 4 == len || !g_ascii_isdigit (s[i + 4])))
        year = TRUE;
      if (!time && g_ascii_isdigit (s[i]) && s[i + 1] == ':' && g_ascii_isdigit (s[i + 2])
          && g_ascii_isdigit (s[i + 3]))
        time = TRUE;
    }
  return year && time;
}

static gboolean
ends_localized (const char *s, gsize len)
{
  /* Every ending ends with a colon, ASCII or full-width (EF BC 9A): most
   * lines are out after one byte. */
  while (len > 0 && g_ascii_isspace (s[len - 1]))
    len--;
  if (len == 0 || (s[len - 1] != ':' && (guchar) s[len - 1] != 0x9a))
    return FALSE;
  for (guint i = 0; attribution_endings[i]; i++)
    if (ends_with_trim (s, len, attribution_endings[i]))
      return TRUE;
  return FALSE;
}

static gboolean
is_attribution (const Line *l, const Line *next)
{
  if (rd_line_starts_ci (l->s, l->len, "On ") && l->len < 400)
    {
      if (ends_with_trim (l->s, l->len, "wrote:"))
        return TRUE;
      if (next && next->len < 200 && ends_with_trim (next->s, next->len, "wrote:"))
        return TRUE;
    }
  if (rd_line_starts_ci (l->s, l->len, "Am ") && rd_line_contains_ci (l->s, l->len, "schrieb") && ends_with_trim (l->s, l->len, ":"))
    return TRUE;
  if (rd_line_starts_ci (l->s, l->len, "Le ") && (ends_with_trim (l->s, l->len, "a écrit :")
                                          || ends_with_trim (l->s, l->len, "a écrit:")))
    return TRUE;
  if (l->len >= 400)
    return FALSE;
  /* nl: "Op ma 1 jan. 2024 om 10:00 schreef Ann <a@b>:" (Gmail),
   * "Op 01-01-2024 om 10:00 schreef Ann:" (Thunderbird) */
  if (rd_line_starts_ci (l->s, l->len, "Op ") && rd_line_contains_ci (l->s, l->len, " schreef ") && ends_with_trim (l->s, l->len, ":"))
    return TRUE;
  if (ends_localized (l->s, l->len) && (has_date_and_time (l->s, l->len) || memchr (l->s, '@', l->len)))
    return TRUE;
  /* Gmail wraps a long attribution: the date on this line, the ending on the next */
  if (next && next->len < 200 && ends_localized (next->s, next->len) && has_date_and_time (l->s, l->len))
    return TRUE;
  /* Gmail ja/ru: "2024年1月1日(月) 10:00 Ann <a@b>:",
   * "пн, 1 янв. 2024 г. в 10:00, Ann <a@b>:" */
  if (ends_with_trim (l->s, l->len, ">:") && has_date_and_time (l->s, l->len) && memchr (l->s, '@', l->len))
    return TRUE;
  return FALSE;
}

/* Lines that begin a forwarded message (Apple Mail). */
static const char *const forward_starts[] = {
  "Begin forwarded message:", "Inicio del mensaje reenviado:", "Início da mensagem reencaminhada:",
  "Começo da mensagem encaminhada:", "Inizio messaggio inoltrato:", "Begin doorgestuurd bericht:",
  "Начало переадресованного сообщения:", "Początek przekazywanej wiadomości:", "以下是转发的邮件：",
  "转发的邮件：", "転送されたメッセージ:", "転送されたメッセージ：", "अग्रेषित संदेश का आरंभ:", NULL
};

/* What a "-----...-----" line says: Outlook's original message,
 * Gmail's and Thunderbird's forwarded message. */
static const char *const separator_words[] = {
  "Original Message", "Forwarded message", "Ursprüngliche Nachricht", "Weitergeleitete Nachricht",
  "Message d'origine", "Message transféré",
  "Mensaje original", "Mensaje reenviado",                      /* es */
  "Mensagem original", "Mensagem encaminhada", "Mensagem reencaminhada", /* pt */
  "Messaggio originale", "Messaggio inoltrato",                 /* it */
  "Oorspronkelijk bericht", "Origineel bericht", "Doorgestuurd bericht", /* nl */
  "Исходное сообщение", "Пересылаемое сообщение", "Пересланное сообщение", /* ru */
  "Wiadomość oryginalna", "Oryginalna wiadomość", "Przekazana wiadomość", "Wiadomość przekazana", /* pl */
  "原始邮件", "原始郵件", "转发的邮件", "转发邮件", "转发的消息", "轉寄的郵件", /* zh */
  "元のメッセージ", "転送されたメッセージ", "転送メッセージ",   /* ja */
  "मूल संदेश", "अग्रेषित संदेश",                                /* hi */
  NULL
};

static gboolean
is_separator (const Line *l)
{
  const char *s = l->s;
  gsize len = l->len;
  while (len && (*s == ' ' || *s == '\t'))
    s++, len--;
  for (guint i = 0; forward_starts[i]; i++)
    if (rd_line_starts_ci (s, len, forward_starts[i]))
      return TRUE;
  if (len >= 5 && s[0] == '-' && s[1] == '-' && len < 200)
    for (guint i = 0; separator_words[i]; i++)
      if (rd_line_contains_ci (s, len, separator_words[i]))
        return TRUE;
  return FALSE;
}

/* Outlook's header block, localized: the first field and the date field
 * within three lines of it (ASCII or full-width colon). */
static const char *const outlook_from[] = {
  "From:", "*From:*", "Von:", "De :", "De:", "*De:*", "Da:", "*Da:*", "Van:", "*Van:*", "От:", "*От:*",
  "Od:", "*Od:*", "发件人:", "发件人：", "寄件者:", "寄件者：", "差出人:", "差出人：", "प्रेषक:", NULL
};
static const char *const outlook_sent[] = {
  "Sent:", "*Sent:*", "Date:", "Gesendet:", "Envoyé :", "Enviado:", "*Enviado:*", "Enviado el:",
  "Enviada em:", "*Enviada em:*", "Inviato:", "*Inviato:*", "Verzonden:", "*Verzonden:*",
  "Отправлено:", "*Отправлено:*", "Wysłane:", "*Wysłane:*", "Wysłano:", "发送时间:", "发送时间：",
  "日期:", "日期：", "傳送時間:", "傳送時間：", "送信日時:", "送信日時：", "भेजा गया:", NULL
};

static gboolean
starts_any (const Line *l, const char *const *list)
{
  for (guint i = 0; list[i]; i++)
    if (rd_line_starts_ci (l->s, l->len, list[i]))
      return TRUE;
  return FALSE;
}

static gboolean
is_outlook_header (const Line *lines, guint i, guint n)
{
  if (!starts_any (&lines[i], outlook_from))
    return FALSE;
  for (guint j = i + 1; j < n && j <= i + 3; j++)
    if (starts_any (&lines[j], outlook_sent))
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
  /* localized markers begin with any letter, a digit (a date first) or
   * a non-ASCII byte (Cyrillic, CJK, Devanagari) */
  return c == '>' || c == '-' || c == '_' || c == '*' || c == ' ' || c == '\t' || g_ascii_isalnum (c)
      || (guchar) c >= 0x80;
}

gsize
rd_quote_split (const char *text)
{
  gsize total = strlen (text);
  gsize split = total;
  const char *p = text;
  /* up to four lines of look-ahead for the multi-line markers, found once
   * each: the window slides by one line per step */
  Line ls[5];
  guint n = 0;
  while (*p && split == total)
    {
      if (n == 0)
        ls[n++] = line_at (text, p);
      if (may_start_quote (ls[0].s[0])) /* else no look-ahead is needed */
        while (n < 5 && ls[n - 1].s[ls[n - 1].len] != '\0')
          {
            ls[n] = line_at (text, ls[n - 1].s + ls[n - 1].len + 1);
            n++;
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
      memmove (ls, ls + 1, (n - 1) * sizeof *ls);
      n--;
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
