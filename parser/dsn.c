/* relaydesk — parser: delivery reports (RFC 3464) and free-text bounces.
 *
 * From the view's attachments (message/delivery-status parts, decoded)
 * the per-recipient fields; from the MIME tree the Message-ID of the
 * message that bounced (an attached message/rfc822 or a
 * text/rfc822-headers part).
 *
 * Many MTAs send no RFC 3464 report (qmail, Exim without DSN, Exchange
 * 2003, Lotus Notes, many filtering appliances) or one the MIME parser
 * cannot reach (a broken boundary). For a message that looks like a
 * delivery failure (bounce_like(): a MAILER-DAEMON/postmaster sender or a
 * failure subject) the same fields are read from its text, in this order:
 *   1. Exim's X-Failed-Recipients header names the recipients;
 *   2. report fields written into the text ("Final-Recipient:", Amazon
 *      SES, broken multipart/report) are read as a report;
 *   3. otherwise free text: the failure section is the text up to the copy
 *      of the original message ("--- Below this line is a copy ...",
 *      "------- Returned Message", a header block); every address in it
 *      that is not the bounce's own sender or recipient is a failed
 *      recipient, with the first RFC 3463 code (else the first SMTP reply
 *      code, as x.0.0) on its line or the few lines after it, else the
 *      first one of the section. "Warning"/"delayed" texts give action
 *      "delayed"; a text that says the failure is permanent but gives no
 *      code gets 5.0.0.
 *   4. the original Message-ID from the copy's header block in the text.
 * Steps 2-4 read the body text, then (nothing found) the raw body.
 * The one consumer (desk/inbound.c) takes these exactly as an RFC 3464
 * report's fields.
 */
#include "parser-private.h"
#include "rd-common.h"
#include "mail-format.h"

#include <string.h>

void
rd_dsn_recipient_free (gpointer p)
{
  RdDsnRecipient *r = p;
  if (r == NULL)
    return;
  g_free (r->addr);
  g_free (r->action);
  g_free (r->status);
  g_free (r->diagnostic);
  g_free (r);
}

/* Splits "Name: value" fields (folded lines joined) of one block. */
static GPtrArray *
parse_fields (const char *text, const char **next)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (rd_header_free);
  const char *p = text;
  /* skip leading empty lines */
  while (*p == '\n' || *p == '\r')
    p++;
  while (*p)
    {
      const char *eol = strchr (p, '\n');
      const char *end = eol ? eol : p + strlen (p);
      gsize l = end - p;
      if (l > 0 && p[l - 1] == '\r')
        l--;
      if (l == 0)
        {
          p = eol ? eol + 1 : end;
          break; /* blank line ends the block */
        }
      if ((*p == ' ' || *p == '\t') && out->len)
        {
          RdHeader *last = g_ptr_array_index (out, out->len - 1);
          if (strlen (last->value) > 4096)
            {
              /* long enough for any diagnostic; appending more would be quadratic */
              p = eol ? eol + 1 : end;
              continue;
            }
          g_autofree char *cont = g_strndup (p, l);
          char *joined = g_strconcat (last->value, " ", g_strstrip (cont), NULL);
          g_free (last->value);
          last->value = joined;
        }
      else
        {
          const char *colon = memchr (p, ':', l);
          if (colon)
            {
              RdHeader *h = g_new0 (RdHeader, 1);
              h->name = g_strndup (p, colon - p);
              g_strstrip (h->name);
              h->value = g_strndup (colon + 1, l - (colon + 1 - p));
              g_strstrip (h->value);
              g_ptr_array_add (out, h);
            }
        }
      p = eol ? eol + 1 : end;
    }
  if (next)
    *next = p;
  return out;
}

static const char *
field (GPtrArray *fields, const char *name)
{
  for (guint i = 0; i < fields->len; i++)
    {
      RdHeader *h = g_ptr_array_index (fields, i);
      if (g_ascii_strcasecmp (h->name, name) == 0)
        return h->value;
    }
  return NULL;
}

/* "rfc822; user@example.com" -> "user@example.com" */
static char *
typed_address (const char *v)
{
  if (v == NULL)
    return NULL;
  const char *semi = strchr (v, ';');
  g_autofree char *a = g_strdup (semi ? semi + 1 : v);
  g_strstrip (a);
  if (a[0] == '<' && a[strlen (a) - 1] == '>')
    {
      a[strlen (a) - 1] = '\0';
      return g_utf8_make_valid (a + 1, -1);
    }
  return g_utf8_make_valid (a, -1);
}

static void
parse_delivery_status_text (RdMessage *msg, const char *data, gsize len)
{
  g_autofree char *text = g_strndup (data ? data : "", len);
  const char *p = text;
  /* RFC 3464 section 2.1: the per-message fields, then one block of
   * per-recipient fields per recipient. A block is taken as a recipient's
   * when it names one (some MTAs omit the per-message block or put blank
   * lines first). */
  guint blocks = 0;
  while (*p && blocks++ < 1000)
    {
      g_autoptr(GPtrArray) f = parse_fields (p, &p);
      if (f->len == 0)
        continue;
      const char *rcpt = field (f, "Final-Recipient");
      if (rcpt == NULL)
        rcpt = field (f, "Original-Recipient");
      if (rcpt == NULL)
        continue;
      RdDsnRecipient *r = g_new0 (RdDsnRecipient, 1);
      r->addr = typed_address (rcpt);
      r->action = rd_str_lower_trim (field (f, "Action"));
      const char *st = field (f, "Status");
      if (st)
        {
          /* "5.1.1 (bad destination mailbox)": keep the code only. */
          g_autofree char *s = g_strdup (st);
          char *sp = strpbrk (s, " \t(");
          if (sp)
            *sp = '\0';
          r->status = g_utf8_make_valid (s, -1);
        }
      const char *diag = field (f, "Diagnostic-Code");
      if (diag)
        r->diagnostic = typed_address (diag);
      g_ptr_array_add (msg->dsn_recipients, r);
    }
}

static void
parse_delivery_status (RdMessage *msg, GBytes *content)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (content, &len);
  parse_delivery_status_text (msg, data, len);
}

static void
find_original_id (RdMessage *msg, GMimeObject *o, guint depth)
{
  if (msg->dsn_original_message_id || depth > 8)
    return;
  if (GMIME_IS_MULTIPART (o))
    {
      int n = g_mime_multipart_get_count (GMIME_MULTIPART (o));
      for (int i = 0; i < n && !msg->dsn_original_message_id; i++)
        find_original_id (msg, g_mime_multipart_get_part (GMIME_MULTIPART (o), i), depth + 1);
      return;
    }
  if (GMIME_IS_MESSAGE_PART (o))
    {
      GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (o));
      if (inner)
        {
          const char *v = g_mime_object_get_header (GMIME_OBJECT (inner), "Message-ID");
          g_autofree char *u = rd_header_unfold (v);
          msg->dsn_original_message_id = rd_msgid_first (u);
        }
      return;
    }
  GMimeContentType *ct = g_mime_object_get_content_type (o);
  /* text/rfc822-headers, or the message/partial some MTAs return (the
   * original's first part, its header included) */
  if (GMIME_IS_PART (o) && ct && (g_mime_content_type_is_type (ct, "text", "rfc822-headers")
                                  || g_mime_content_type_is_type (ct, "message", "partial")))
    {
      g_autoptr(GBytes) b = rd_mime_part_bytes (GMIME_PART (o));
      gsize len = 0;
      const char *data = g_bytes_get_data (b, &len);
      msg->dsn_original_message_id = rd_peek_message_id (data ? data : "", len);
    }
}

/* ---- free-text bounces ------------------------------------------------ */

#define BOUNCE_TEXT_MAX (256 * 1024)  /* bytes of text read for a bounce */
#define BOUNCE_LINES_MAX 4000
#define BOUNCE_RCPT_MAX 50
#define STATUS_WINDOW 6               /* lines after an address searched for its code */

static gboolean
contains_any (const char *hay, gsize len, const char *const *needles)
{
  for (guint i = 0; needles[i]; i++)
    if (rd_line_contains_ci (hay, len, needles[i]))
      return TRUE;
  return FALSE;
}

/* Senders and subjects of delivery failures (the MTAs' own wording). */
static const char *const daemon_words[] = {
  "mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "postmaster", "post_master",
  "mail delivery", "mail deliver system", "mail.delivery", NULL
};
static const char *const subject_words[] = {
  "undeliverable", "undelivered", "undeliverd", "not delivered", "could not be delivered",
  "delivery status notification", "delivery failure", "delivery failed", "delivery has failed",
  "delivery notification", "delivery problem", "failure notice", "returned mail", "returning message",
  "returned to sender", "nondeliverable", "non remis", "unzustellbar", "nicht zustellbar",
  "no se pudo entregar", "non recapitabile", "niet bezorgd", "メールエラー", "配信できません", NULL
};

static gboolean
bounce_like (const RdMessage *msg)
{
  if (rd_message_get_header (msg, "X-Failed-Recipients"))
    return TRUE;
  for (guint i = 0; i < msg->from->len; i++)
    {
      const RdAddress *a = g_ptr_array_index (msg->from, i);
      if ((a->addr && contains_any (a->addr, strlen (a->addr), daemon_words))
          || (a->name && contains_any (a->name, strlen (a->name), daemon_words)))
        return TRUE;
    }
  /* A person forwarding or answering a bounce ("Fwd: Undeliverable: ...")
   * is no MTA reporting one. */
  static const char *const person_prefixes[] = { "Fwd:", "Fw:", "Re:", "AW:", "WG:", "TR:", "RV:", "R:", "I:", NULL };
  if (msg->subject == NULL)
    return FALSE;
  const char *subj = msg->subject;
  while (*subj == ' ' || *subj == '\t')
    subj++;
  for (guint i = 0; person_prefixes[i]; i++)
    if (g_ascii_strncasecmp (subj, person_prefixes[i], strlen (person_prefixes[i])) == 0)
      return FALSE;
  return contains_any (subj, strlen (subj), subject_words);
}

typedef struct {
  const char *s;
  gsize len;
} TextLine;

static const char *
skip_blanks (const char *s, gsize *len)
{
  while (*len && (*s == ' ' || *s == '\t' || *s == '-' || *s == '=' || *s == '*' || *s == '_' || *s == '>'))
    s++, (*len)--;
  return s;
}

/* Where the copy of the original message begins. */
static gboolean
is_original_marker (const TextLine *l)
{
  static const char *const header_starts[] = {
    "Received:", "Return-Path:", "Message-ID:", "DKIM-Signature:", "X-Received:", NULL
  };
  for (guint i = 0; header_starts[i]; i++)
    if (rd_line_starts_ci (l->s, l->len, header_starts[i]))
      return TRUE;
  static const char *const markers[] = {
    "This is a copy of", "Below this line is a copy", "Below is a copy", "Original message",
    "Original mail", "Returned Message", "Message headers follow", "The header of the original",
    "Included is a copy", "Enclosed is a copy", "Undelivered message", "Headers of the original",
    "Copy of the original", "The original message headers", "Original message headers",
    "The text of the original", "Unsent message below", NULL
  };
  gsize len = l->len;
  const char *s = skip_blanks (l->s, &len);
  for (guint i = 0; markers[i]; i++)
    if (rd_line_starts_ci (s, len, markers[i]))
      return TRUE;
  return FALSE;
}

/* Lines naming the original's sender and headers, not a failed recipient. */
static gboolean
is_excluded_line (const TextLine *l)
{
  static const char *const starts[] = {
    "From:", "To:", "Cc:", "Sender:", "Reply-To:", "Subject:", "MAIL FROM:", "Return-Path:",
    "Original Sender:", "Sent:", "X-Postfix-Sender:", "Reporting-MTA:", "Message-ID:", "References:",
    "In-Reply-To:", "Received:", "Date:", NULL
  };
  gsize len = l->len;
  const char *s = l->s;
  while (len && (*s == ' ' || *s == '\t' || *s == '>'))
    s++, len--;
  for (guint i = 0; starts[i]; i++)
    if (rd_line_starts_ci (s, len, starts[i]))
      return TRUE;
  /* "For further assistance, please contact <postmaster@...>" */
  return rd_line_contains_ci (s, len, "contact") || rd_line_contains_ci (s, len, "assistance");
}

static gboolean
local_char (char c)
{
  return g_ascii_isalnum (c) || (c && strchr (".!#$%&'*+/=?^_`{|}~-", c));
}

/* The next addr-spec in @l from byte @from (@start/@end set), or NULL.
 * (transfer full) */
static char *
next_address (const TextLine *l, gsize from, gsize *end)
{
  for (gsize at = from; at < l->len; at++)
    {
      if (l->s[at] != '@')
        continue;
      gsize a = at, b = at + 1;
      while (a > 0 && local_char (l->s[a - 1]))
        a--;
      while (b < l->len && (g_ascii_isalnum (l->s[b]) || l->s[b] == '.' || l->s[b] == '-'))
        b++;
      while (b > at + 1 && (l->s[b - 1] == '.' || l->s[b - 1] == '-'))
        b--;
      *end = b;
      if (a == at || b == at + 1)
        continue;
      /* part of a URL or a key=value token, not an address */
      if (a > 0 && (l->s[a - 1] == '/' || l->s[a - 1] == '='))
        continue;
      /* the envelope sender in a transcript: "MAIL FROM:<a@b>" */
      gsize k = a;
      while (k > 0 && (l->s[k - 1] == '<' || l->s[k - 1] == ' '))
        k--;
      if (k >= 5 && g_ascii_strncasecmp (l->s + k - 5, "FROM:", 5) == 0)
        continue;
      g_autofree char *domain = g_strndup (l->s + at + 1, b - at - 1);
      if (strchr (domain, '.') == NULL || domain[0] == '.' || domain[0] == '-')
        continue;
      gsize la = a;
      while (la < at && l->s[la] == '.')
        la++;
      if (la == at)
        continue;
      return g_strndup (l->s + la, b - la);
    }
  return NULL;
}

/* An RFC 3463 code "5.1.1" (class 4 or 5 only) in @l, else an SMTP reply
 * code "550" made "5.0.0". @diag gets the line. */
static char *
status_in_line (const TextLine *l, gboolean *basic)
{
  const char *s = l->s;
  gsize n = l->len;
  for (gsize i = 0; i + 5 <= n; i++)
    {
      if ((s[i] != '4' && s[i] != '5') || (i > 0 && (g_ascii_isalnum (s[i - 1]) || s[i - 1] == '.')))
        continue;
      gsize j = i + 1;
      if (s[j] != '.')
        continue;
      gsize d1 = ++j;
      while (j < n && g_ascii_isdigit (s[j]) && j - d1 < 3)
        j++;
      if (j == d1 || j >= n || s[j] != '.')
        continue;
      gsize d2 = ++j;
      while (j < n && g_ascii_isdigit (s[j]) && j - d2 < 3)
        j++;
      if (j == d2 || (j < n && (g_ascii_isalnum (s[j]) || (s[j] == '.' && j + 1 < n && g_ascii_isdigit (s[j + 1])))))
        continue;
      *basic = FALSE;
      return g_strndup (s + i, j - i);
    }
  for (gsize i = 0; i + 3 <= n; i++)
    {
      if ((s[i] != '4' && s[i] != '5') || !g_ascii_isdigit (s[i + 1]) || !g_ascii_isdigit (s[i + 2]))
        continue;
      if (i > 0 && (g_ascii_isalnum (s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '-' || s[i - 1] == ':'))
        continue;
      if (i + 3 < n && !(s[i + 3] == ' ' || s[i + 3] == '-' || s[i + 3] == '\t' || s[i + 3] == ']'))
        continue;
      if (s[i + 1] > '5')
        continue; /* 4xx/5xx replies use 0-5 in the second digit (RFC 5321 4.2.1) */
      *basic = TRUE;
      return g_strdup_printf ("%c.0.0", s[i]);
    }
  return NULL;
}

static gboolean
is_own_address (const RdMessage *msg, const char *addr)
{
  GPtrArray *lists[] = { msg->from, msg->to, msg->reply_to, msg->sender };
  for (guint k = 0; k < G_N_ELEMENTS (lists); k++)
    for (guint i = 0; lists[k] && i < lists[k]->len; i++)
      {
        const RdAddress *a = g_ptr_array_index (lists[k], i);
        if (a->addr && g_ascii_strcasecmp (a->addr, addr) == 0)
          return TRUE;
      }
  return FALSE;
}

static RdDsnRecipient *
find_recipient (GPtrArray *list, const char *addr)
{
  for (guint i = 0; i < list->len; i++)
    {
      RdDsnRecipient *r = g_ptr_array_index (list, i);
      if (r->addr && g_ascii_strcasecmp (r->addr, addr) == 0)
        return r;
    }
  return NULL;
}

static char *
line_text (const TextLine *l)
{
  g_autofree char *t = g_strndup (l->s, MIN (l->len, 300));
  g_strstrip (t);
  return g_utf8_make_valid (t, -1);
}

static gboolean
addr_equal (gconstpointer a, gconstpointer b)
{
  return g_ascii_strcasecmp (a, b) == 0;
}

/* The code for the address on line @i: its line and the few after it,
 * up to a line naming another of the @recipients (char*). */
static void
status_near (GArray *lines, guint i, guint end, GPtrArray *recipients, RdDsnRecipient *r)
{
  for (guint k = i; k < end && k <= i + STATUS_WINDOW; k++)
    {
      const TextLine *l = &g_array_index (lines, TextLine, k);
      if (k > i)
        {
          gsize e = 0;
          g_autofree char *other = next_address (l, 0, &e);
          if (other && g_ascii_strcasecmp (other, r->addr) != 0
              && g_ptr_array_find_with_equal_func (recipients, other, addr_equal, NULL))
            break; /* the next recipient's lines */
        }
      gboolean basic = FALSE;
      g_autofree char *st = status_in_line (l, &basic);
      if (st && (r->status == NULL || (basic == FALSE && r->status[2] == '0' && r->status[4] == '0'
                                       && r->status[0] == st[0])))
        {
          g_free (r->status);
          r->status = g_steal_pointer (&st);
          g_free (r->diagnostic);
          r->diagnostic = line_text (l);
          if (!basic)
            return;
        }
    }
}

static const char *const delayed_words[] = {
  "warning message only", "warning only", "will be retried", "will retry", "still being retried",
  "has been delayed", "is delayed", "delivery delayed", "do not need to resend", "not need to re-send",
  "temporary failure report", NULL
};
static const char *const permanent_words[] = {
  "permanent", "fatal error", "user unknown", "unknown user", "does not exist", "no such user",
  "not recognized", "recipient address rejected", "given up", "no mailbox", NULL
};

/* The original's Message-ID, from the copy's header block after line
 * @start. */
static void
find_inline_message_id (RdMessage *msg, GArray *lines, guint start)
{
  for (guint i = start; i < lines->len && msg->dsn_original_message_id == NULL; i++)
    {
      const TextLine *l = &g_array_index (lines, TextLine, i);
      gsize tl = l->len;
      const char *s = l->s;
      while (tl && (*s == ' ' || *s == '\t'))
        s++, tl--;
      if (rd_line_starts_ci (s, tl, "Message-ID:"))
        {
          g_autofree char *v = g_strndup (s + 11, MIN (tl - 11, 998));
          g_autofree char *id = rd_msgid_first (v);
          if (id && *id)
            msg->dsn_original_message_id = g_utf8_make_valid (id, -1);
        }
    }
}

/* Words of every delivery failure text seen (sisimai's set, the corpus). */
static const char *const failure_words[] = {
  "deliver", "recipient", "failed", "failure", "could not", "couldn't", "unable", "rejected", "undeliver",
  "permanent", "error", "not reach", "unknown", "does not exist", "returned", "配信", "送信", "エラー", NULL
};

/* Reads @text (UTF-8 or not, LF or CRLF lines) as a free-text bounce. */
static void
free_text_recipients (RdMessage *msg, const char *text, gsize len, const char *xfailed)
{
  len = MIN (len, BOUNCE_TEXT_MAX);
  g_autoptr(GArray) lines = g_array_new (FALSE, FALSE, sizeof (TextLine));
  const char *p = text, *stop = text + len;
  while (p < stop && lines->len < BOUNCE_LINES_MAX)
    {
      const char *nl = memchr (p, '\n', stop - p);
      const char *e = nl ? nl : stop;
      TextLine l = { p, (gsize) (e - p) };
      if (l.len && l.s[l.len - 1] == '\r')
        l.len--;
      g_array_append_val (lines, l);
      p = nl ? nl + 1 : stop;
    }
  /* 2. report fields in the text */
  for (guint i = 0; i < lines->len; i++)
    {
      const TextLine *l = &g_array_index (lines, TextLine, i);
      if (rd_line_starts_ci (l->s, l->len, "Final-Recipient:") || rd_line_starts_ci (l->s, l->len, "Reporting-MTA:")
          || rd_line_starts_ci (l->s, l->len, "Action:"))
        {
          parse_delivery_status_text (msg, l->s, (gsize) (stop - l->s));
          break;
        }
    }
  if (msg->dsn_recipients->len > 0 && xfailed == NULL)
    {
      find_inline_message_id (msg, lines, 0);
      return;
    }
  /* 3. free text: the failure section */
  guint end = lines->len;
  for (guint i = 0; i < lines->len; i++)
    if (is_original_marker (&g_array_index (lines, TextLine, i)))
      {
        end = i;
        break;
      }
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (rd_dsn_recipient_free);
  g_autoptr(GPtrArray) names = g_ptr_array_new (); /* borrowed from found */
  gboolean delayed = FALSE, permanent = FALSE, failure = FALSE;
  char *first_status = NULL, *first_diag = NULL;
  for (guint i = 0; i < end; i++)
    {
      const TextLine *l = &g_array_index (lines, TextLine, i);
      delayed = delayed || contains_any (l->s, l->len, delayed_words);
      permanent = permanent || contains_any (l->s, l->len, permanent_words);
      failure = failure || contains_any (l->s, l->len, failure_words);
      if (first_status == NULL)
        {
          gboolean basic;
          first_status = status_in_line (l, &basic);
          if (first_status)
            first_diag = line_text (l);
        }
      if (is_excluded_line (l))
        continue;
      gsize from = 0, e = 0;
      char *addr;
      while (found->len < BOUNCE_RCPT_MAX && (addr = next_address (l, from, &e)) != NULL)
        {
          from = e;
          if (is_own_address (msg, addr) || find_recipient (found, addr))
            {
              g_free (addr);
              continue;
            }
          RdDsnRecipient *r = g_new0 (RdDsnRecipient, 1);
          r->addr = g_utf8_make_valid (addr, -1);
          g_free (addr);
          g_ptr_array_add (found, r);
          g_ptr_array_add (names, r->addr);
        }
    }
  g_autofree char *fs = first_status, *fd = first_diag;
  if (xfailed)
    {
      /* The header is authoritative for who failed; the text may say why. */
      g_ptr_array_set_size (msg->dsn_recipients, 0);
      g_auto(GStrv) list = g_strsplit (xfailed, ",", BOUNCE_RCPT_MAX);
      g_ptr_array_set_size (names, 0);
      for (guint i = 0; list[i]; i++)
        g_ptr_array_add (names, g_strstrip (list[i]));
      for (guint i = 0; list[i]; i++)
        {
          if (!*list[i])
            continue;
          RdDsnRecipient *r = g_new0 (RdDsnRecipient, 1);
          r->addr = g_utf8_make_valid (list[i], -1);
          r->action = g_strdup ("failed");
          for (guint k = 0; k < end; k++)
            {
              const TextLine *l = &g_array_index (lines, TextLine, k);
              if (rd_line_contains_ci (l->s, l->len, r->addr))
                {
                  status_near (lines, k, end, names, r);
                  if (r->status)
                    break;
                }
            }
          if (r->status == NULL && fs)
            {
              r->status = g_strdup (fs);
              r->diagnostic = g_strdup (fd);
            }
          if (r->status == NULL && permanent)
            r->status = g_strdup ("5.0.0");
          g_ptr_array_add (msg->dsn_recipients, r);
        }
    }
  /* A text that says nothing of a failed delivery (a person writing
   * from a postmaster address) names no failed recipient. */
  for (guint n = 0; xfailed == NULL && (failure || first_status) && n < found->len; n++)
    {
      RdDsnRecipient *r = g_ptr_array_index (found, n);
      for (guint k = 0; k < end && r->status == NULL; k++)
        {
          const TextLine *l = &g_array_index (lines, TextLine, k);
          if (!is_excluded_line (l) && rd_line_contains_ci (l->s, l->len, r->addr))
            status_near (lines, k, end, names, r);
        }
      if (r->status == NULL && fs)
        {
          r->status = g_strdup (fs);
          r->diagnostic = g_strdup (fd);
        }
      if (r->status == NULL && permanent && !delayed)
        r->status = g_strdup ("5.0.0");
      r->action = g_strdup (delayed && !(r->status && r->status[0] == '5') ? "delayed" : "failed");
      g_ptr_array_add (msg->dsn_recipients, g_ptr_array_steal_index (found, n));
      g_ptr_array_insert (found, (gint) n, NULL);
    }
  /* 4. the original's Message-ID */
  find_inline_message_id (msg, lines, end);
}

static void
free_text_bounce (RdMessage *msg)
{
  const char *xf = rd_message_get_header (msg, "X-Failed-Recipients");
  if (msg->body_text && *msg->body_text)
    free_text_recipients (msg, msg->body_text, strlen (msg->body_text), xf);
  if (msg->dsn_recipients->len > 0 && msg->dsn_original_message_id)
    return;
  /* A report the MIME parser could not take apart (a broken boundary):
   * its raw body. */
  gsize len = 0, body = 0;
  const char *raw = g_bytes_get_data (msg->raw, &len);
  if (raw == NULL)
    return;
  rd_mail_header_length (raw, len, &body);
  if (body >= len)
    return;
  guint had = msg->dsn_recipients->len;
  g_autoptr(GPtrArray) keep = NULL;
  if (had)
    {
      /* keep what the text gave; the raw body only adds the Message-ID */
      keep = msg->dsn_recipients;
      msg->dsn_recipients = g_ptr_array_new_with_free_func (rd_dsn_recipient_free);
    }
  free_text_recipients (msg, raw + body, len - body, xf);
  if (keep)
    {
      g_ptr_array_unref (msg->dsn_recipients);
      msg->dsn_recipients = g_steal_pointer (&keep);
    }
}

void
rd_dsn_collect (RdMessage *msg, GMimeObject *root)
{
  for (guint i = 0; i < msg->attachments->len; i++)
    {
      RdAttachment *a = g_ptr_array_index (msg->attachments, i);
      if ((g_str_equal (a->content_type, "message/delivery-status")
           || g_str_equal (a->content_type, "message/global-delivery-status")) && a->content)
        parse_delivery_status (msg, a->content);
    }
  find_original_id (msg, root, 0);
  if (msg->dsn_original_message_id && !g_utf8_validate (msg->dsn_original_message_id, -1, NULL))
    {
      /* raw header bytes of the bounced message (found by fuzzing) */
      char *v = rd_header_bytes_to_utf8 (msg->dsn_original_message_id);
      g_free (msg->dsn_original_message_id);
      msg->dsn_original_message_id = v;
    }
  if (msg->dsn_recipients->len == 0 && bounce_like (msg))
    free_text_bounce (msg);
}
