/* relaydesk — parser: header scanning, address lists, the automated-sender
 * policy and CRLF text (mail-format.h; composing is mail-draft.c).
 *
 * A header block on the wire (RFC 5322 section 2.2):
 *   field     = name ":" value CRLF, continued by lines that start with a
 *               blank (folding, section 2.2.3);
 *   the block ends at the first empty line; the body follows it.
 * Mail arrives with CRLF or bare LF line ends (MTA pipes, files), so both
 * are read; lines that are no field are skipped, as every MTA does.
 */
#include "mail-format.h"
#include "parser-private.h"

#include <string.h>

/* ---- header scanning ---------------------------------------------------- */

static gboolean
is_empty_line (const char *raw, gsize len, gsize p)
{
  return raw[p] == '\n' || (raw[p] == '\r' && p + 1 < len && raw[p + 1] == '\n');
}

gsize
rd_mail_header_length (const char *raw, gsize len, gsize *body)
{
  gsize p = 0;
  while (p < len)
    {
      if (is_empty_line (raw, len, p))
        {
          if (body)
            *body = p + (raw[p] == '\r' ? 2 : 1);
          return p;
        }
      const char *nl = memchr (raw + p, '\n', len - p);
      if (nl == NULL)
        break;
      p = (gsize) (nl - raw) + 1;
    }
  if (body)
    *body = len;
  return len;
}

/* A field name: printable US-ASCII except ':' (RFC 5322 section 3.6.8). */
static gboolean
is_field_name (const char *p, gsize n)
{
  if (n == 0)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if ((guchar) p[i] < 33 || (guchar) p[i] > 126)
      return FALSE;
  return TRUE;
}

gboolean
rd_mail_header_next (const char *raw, gsize len, gsize *pos, RdMailField *field)
{
  gsize p = *pos;
  while (p < len && !is_empty_line (raw, len, p))
    {
      gsize start = p;
      /* the field runs to the first line end not followed by a blank */
      for (;;)
        {
          const char *nl = memchr (raw + p, '\n', len - p);
          p = nl ? (gsize) (nl - raw) + 1 : len;
          if (p >= len || (raw[p] != ' ' && raw[p] != '\t'))
            break;
        }
      const char *colon = memchr (raw + start, ':', p - start);
      if (colon == NULL)
        continue;
      /* the obsolete syntax allows blanks before the colon (section 4.5) */
      gsize n = (gsize) (colon - (raw + start));
      while (n > 0 && (raw[start + n - 1] == ' ' || raw[start + n - 1] == '\t'))
        n--;
      if (!is_field_name (raw + start, n))
        continue;
      field->name = raw + start;
      field->name_len = n;
      field->value = colon + 1;
      field->value_len = (gsize) (raw + p - (colon + 1));
      *pos = p;
      return TRUE;
    }
  *pos = p;
  return FALSE;
}

gboolean
rd_mail_field_is (const RdMailField *field, const char *name)
{
  return field->name_len == strlen (name) && g_ascii_strncasecmp (field->name, name, field->name_len) == 0;
}

char *
rd_mail_field_value (const RdMailField *field)
{
  GString *s = g_string_sized_new (field->value_len);
  for (gsize i = 0; i < field->value_len; i++)
    if (field->value[i] != '\r' && field->value[i] != '\n')
      g_string_append_c (s, field->value[i]);
  return g_strstrip (g_string_free (s, FALSE));
}

char *
rd_mail_header_get (const char *raw, gsize len, const char *name)
{
  gsize pos = 0;
  RdMailField f;
  while (rd_mail_header_next (raw, len, &pos, &f))
    if (rd_mail_field_is (&f, name))
      return rd_mail_field_value (&f);
  return NULL;
}

/* ---- address lists ------------------------------------------------------- */

GPtrArray *
rd_mail_address_list_parse (const char *value)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (rd_address_free);
  rd_parser_init (); /* charset tables for encoded words */
  if (value)
    rd_parse_address_list (value, out);
  return out;
}

/* ---- the automated-sender policy ----------------------------------------- */

/* Local parts that never read what is sent to them, compared with '-',
 * '_' and '.' removed. RFC 3834 section 2 names the daemons and list
 * robots; the no-reply spellings are what senders of machine mail use. */
static const struct {
  const char *squeezed;
  gboolean prefix;     /* "noreply-billing" is one too */
  RdMailAuto reason;
} robot_locals[] = {
  { "mailerdaemon", FALSE, RD_MAIL_AUTO_MAILER_DAEMON },
  { "postmaster", FALSE, RD_MAIL_AUTO_POSTMASTER },
  { "listserv", FALSE, RD_MAIL_AUTO_LIST_ADDRESS },
  { "majordomo", FALSE, RD_MAIL_AUTO_LIST_ADDRESS },
  { "noreply", TRUE, RD_MAIL_AUTO_NOREPLY },
  { "donotreply", TRUE, RD_MAIL_AUTO_NOREPLY },
  { "dontreply", TRUE, RD_MAIL_AUTO_NOREPLY },
  { "noresponse", TRUE, RD_MAIL_AUTO_NOREPLY },
  { "bounce", FALSE, RD_MAIL_AUTO_NOREPLY },
  { "bounces", FALSE, RD_MAIL_AUTO_NOREPLY },
};

RdMailAuto
rd_mail_auto_address (const char *address)
{
  g_autofree char *a = g_strstrip (g_ascii_strdown (address ? address : "", -1));
  char *s = a;
  gsize n = strlen (s);
  if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
    {
      s[n - 1] = '\0';
      s++;
    }
  if (*s == '\0')
    return RD_MAIL_AUTO_NULL_SENDER;
  char *at = strrchr (s, '@');
  if (at)
    *at = '\0'; /* a bare local part ("MAILER-DAEMON") is read as one */
  if (*s == '"')
    {
      s++;
      char *q = strrchr (s, '"');
      if (q)
        *q = '\0';
    }
  char *plus = strchr (s, '+');
  if (plus)
    *plus = '\0'; /* subaddress (RFC 5233): bounces+1234 is bounces */
  /* RFC 3834 section 2: owner-* and *-request are list addresses. */
  if (g_str_has_prefix (s, "owner-") || strstr (s, "-request") != NULL)
    return RD_MAIL_AUTO_LIST_ADDRESS;
  GString *squeezed = g_string_sized_new (strlen (s));
  for (const char *c = s; *c; c++)
    if (*c != '-' && *c != '_' && *c != '.')
      g_string_append_c (squeezed, *c);
  RdMailAuto why = RD_MAIL_AUTO_NONE;
  for (guint i = 0; i < G_N_ELEMENTS (robot_locals) && why == RD_MAIL_AUTO_NONE; i++)
    if (robot_locals[i].prefix ? g_str_has_prefix (squeezed->str, robot_locals[i].squeezed)
                               : g_str_equal (squeezed->str, robot_locals[i].squeezed))
      why = robot_locals[i].reason;
  g_string_free (squeezed, TRUE);
  return why;
}

/* The first token of a field value: "auto-replied (rejected)" and
 * "no; reason=x" have parameters or comments after it (RFC 3834 5). */
static gboolean
first_token_is (const char *value, const char *word)
{
  gsize n = strcspn (value, "; \t(");
  return n == strlen (word) && g_ascii_strncasecmp (value, word, n) == 0;
}

RdMailAuto
rd_mail_auto_message (const RdMessage *msg, const char *envelope_sender)
{
  RdMailAuto why = RD_MAIL_AUTO_NONE;
  if (envelope_sender)
    why |= rd_mail_auto_address (envelope_sender);
  else
    {
      /* RFC 5321 section 4.4: the delivering MTA records the envelope
       * sender in Return-Path. */
      g_autoptr(GPtrArray) rp = rd_mail_address_list_parse (rd_message_get_header (msg, "Return-Path"));
      if (rp->len)
        why |= rd_mail_auto_address (((RdAddress *) g_ptr_array_index (rp, 0))->addr);
    }
  GPtrArray *headers = rd_message_get_headers (msg);
  for (guint i = 0; i < headers->len; i++)
    if (g_ascii_strncasecmp (((RdHeader *) g_ptr_array_index (headers, i))->name, "List-", 5) == 0)
      why |= RD_MAIL_AUTO_LIST;
  const char *as = rd_message_get_auto_submitted (msg);
  if (as && !first_token_is (as, "no"))
    why |= RD_MAIL_AUTO_SUBMITTED;
  const char *pr = rd_message_get_precedence (msg);
  if (pr && (first_token_is (pr, "bulk") || first_token_is (pr, "list") || first_token_is (pr, "junk")))
    why |= RD_MAIL_AUTO_PRECEDENCE;
  /* Exchange's field: "All" or "OOF" ask for no out-of-office answer;
   * "None", "DR", "RN" ... are about other reports. */
  const char *xs = rd_message_get_x_auto_response_suppress (msg);
  if (xs)
    {
      g_auto(GStrv) tokens = g_strsplit_set (xs, ", \t", 64);
      for (guint i = 0; tokens[i]; i++)
        if (g_ascii_strcasecmp (tokens[i], "all") == 0 || g_ascii_strcasecmp (tokens[i], "oof") == 0)
          why |= RD_MAIL_AUTO_SUPPRESS;
    }
  if (rd_message_is_bounce (msg))
    why |= RD_MAIL_AUTO_REPORT;
  return why;
}

const char *
rd_mail_auto_name (RdMailAuto reasons)
{
  static const char *const names[] = {
    "null-sender", "mailing-list", "auto-submitted", "precedence", "auto-response-suppress",
    "delivery-report", "mailer-daemon", "postmaster", "list-address", "noreply-address",
  };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (reasons & (1u << i))
      return names[i];
  return NULL;
}

/* ---- CRLF ---------------------------------------------------------------- */

char *
rd_mail_text_crlf (const char *text)
{
  const char *t = text ? text : "";
  GString *out = g_string_sized_new (strlen (t) + strlen (t) / 32 + 2);
  for (const char *p = t; *p; p++)
    {
      if (*p == '\r')
        {
          if (p[1] == '\n')
            p++;
          g_string_append (out, "\r\n");
        }
      else if (*p == '\n')
        g_string_append (out, "\r\n");
      else
        g_string_append_c (out, *p);
    }
  if (out->len > 0 && out->str[out->len - 1] != '\n')
    g_string_append (out, "\r\n");
  return g_string_free (out, FALSE);
}
