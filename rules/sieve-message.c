/* relaydesk — rules: what the Sieve tests read of the message.
 *
 * Values come from the parser's view (rd_message_*) and the envelope, and
 * are decoded and cached for the one message being evaluated (in the
 * SvRun): header fields (unfolded from the raw header block, RFC 2047
 * decoded), the addresses of address headers, the envelope parts, the
 * body (as text or raw) and the dates of date headers. Address syntax for
 * redirect and vacation lives here too.
 */
#include "sieve-run.h"
#include "rd-common.h"

#include <gmime/gmime.h>
#include <string.h>

/* ---- header fields ------------------------------------------------------- */

/* RFC 2047 decoding of an unstructured value (the parser's decoder, so a
 * header test sees what the ticket shows); white space between two
 * encoded words disappears (6.2). */
static char *
decode_header (const char *value)
{
  if (strstr (value, "=?") == NULL)
    {
      char *v = g_utf8_make_valid (value, -1);
      return g_strstrip (v);
    }
  char *v = rd_header_decode (value);
  return g_strstrip (v);
}

/* The header block of the raw message, unfolded (RFC 5322 2.2.3). The
 * parser's view leaves out the MIME headers of the top part (GMime keeps
 * Content-* there), and Sieve sees every header field. */
typedef struct {
  char name[64];  /* lower case; longer names are cut (and never match) */
  char *value;    /* unfolded, raw (in the arena) */
  char *decoded;  /* RFC 2047-decoded and trimmed, once asked for */
} RawHeader;

/* One pass over the header block into one arena: the unfolded values
 * (CRLF before white space removed, RFC 5322 2.2.3) are never longer than
 * their fields, so the block's size bounds them all. */
static void
scan_headers (SvRun *x)
{
  x->raw_headers = g_array_new (FALSE, FALSE, sizeof (RawHeader));
  gsize len;
  const char *p = g_bytes_get_data (rd_message_get_raw (x->msg), &len);
  const char *end = p + len;
  /* The header block ends at the first empty line. */
  const char *hb = p;
  while (hb < end && *hb != '\r' && *hb != '\n')
    {
      const char *nl = memchr (hb, '\n', (gsize) (end - hb));
      hb = nl ? nl + 1 : end;
    }
  end = hb;
  x->arena = g_malloc ((gsize) (end - p) + 1);
  char *out = x->arena;
  while (p < end && x->raw_headers->len < 2 * 1024)
    {
      /* The field runs to the first line end not followed by WSP. */
      const char *f = p;
      const char *fe = p;
      for (;;)
        {
          const char *nl = memchr (fe, '\n', (gsize) (end - fe));
          if (nl == NULL)
            {
              fe = end;
              break;
            }
          fe = nl + 1;
          if (fe >= end || (*fe != ' ' && *fe != '\t'))
            break;
        }
      p = fe;
      const char *colon = memchr (f, ':', (gsize) (fe - f));
      if (colon == NULL || colon == f || (*f == ' ' || *f == '\t'))
        continue;
      gsize n = (gsize) (colon - f);
      while (n && (f[n - 1] == ' ' || f[n - 1] == '\t'))
        n--;
      RawHeader h;
      if (n < sizeof h.name)
        {
          for (gsize i = 0; i < n; i++)
            h.name[i] = sv_lc (f[i]);
          h.name[n] = '\0';
        }
      else
        strcpy (h.name, "\x01");   /* too long to be asked for */
      gsize vl = MIN ((gsize) (fe - colon - 1), (gsize) 64 * 1024);
      h.value = out;
      for (const char *q = colon + 1; q < colon + 1 + vl; q++)
        if (*q != '\r' && *q != '\n')
          *out++ = *q;
      *out++ = '\0';
      h.decoded = NULL;
      g_array_append_val (x->raw_headers, h);
    }
}

#define RAW_HEADER(x, i) (&g_array_index ((x)->raw_headers, RawHeader, (i)))

/* The decoded value: the arena copy trimmed in place when it is plain
 * UTF-8 without encoded words (the usual case), else a decoded copy. */
static char *
decoded_value (SvRun *x, RawHeader *h)
{
  if (h->decoded)
    return h->decoded;
  char *v = h->value;
  if (strstr (v, "=?") == NULL && g_utf8_validate (v, -1, NULL))
    {
      h->decoded = g_strstrip (v);
      return h->decoded;
    }
  h->decoded = decode_header (v);
  if (x->owned == NULL)
    x->owned = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (x->owned, h->decoded);
  return h->decoded;
}

/* Decoded values of every header named @name (any case), in order; NULL
 * when there is none. Decoded on first use, cached for the message. */
GPtrArray *
sv_header_values (SvRun *x, const char *name)
{
  if (x->raw_headers == NULL)
    scan_headers (x);
  if (x->headers == NULL)
    x->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  char buf[128];
  gsize n = strlen (name);
  if (n >= sizeof buf)
    return NULL;
  for (gsize i = 0; i <= n; i++)
    buf[i] = sv_lc (name[i]);
  GPtrArray *vals = NULL;
  if (g_hash_table_lookup_extended (x->headers, buf, NULL, (gpointer *) &vals))
    return vals->len ? vals : NULL;
  vals = g_ptr_array_new ();
  for (guint i = 0; i < x->raw_headers->len; i++)
    {
      RawHeader *h = RAW_HEADER (x, i);
      if (!strcmp (h->name, buf))
        g_ptr_array_add (vals, decoded_value (x, h));
    }
  g_hash_table_insert (x->headers, g_strdup (buf), vals);
  return vals->len ? vals : NULL;
}

/* Appends the addr-specs of an address list (RFC 5322 3.4) to @out:
 * "Name <a@b>", "a@b (comment)", groups "g: a@b, c@d;". Tolerant, no
 * decoding (addr-specs are never encoded). */
static void
parse_address_list (const char *v, GPtrArray *out, GString *seg, GString *angle)
{
  /* @seg: the current mailbox, comments dropped; @angle: inside <>. */
  g_string_truncate (seg, 0);
  g_string_truncate (angle, 0);
  gboolean in_angle = FALSE, have_angle = FALSE, quoted = FALSE;
  int comment = 0;
  for (const char *p = v;; p++)
    {
      char c = *p;
      gboolean end_item = c == '\0' || (!quoted && !comment && !in_angle && (c == ',' || c == ';'));
      if (end_item)
        {
          const char *s;
          GString *src = have_angle ? angle : seg;
          s = src->str;
          while (*s == ' ' || *s == '\t')
            s++;
          gsize l = strlen (s);
          while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
          /* An obsolete route "@a,@b:x@y" (RFC 5322 4.4): the part after ':'. */
          if (have_angle && l && s[0] == '@')
            {
              const char *colon = memchr (s, ':', l);
              if (colon)
                {
                  l -= (gsize) (colon + 1 - s);
                  s = colon + 1;
                }
            }
          if (l && out->len < 1024)
            g_ptr_array_add (out, g_utf8_make_valid (s, (gssize) l));
          g_string_truncate (seg, 0);
          g_string_truncate (angle, 0);
          have_angle = in_angle = FALSE;
          if (c == '\0')
            break;
          continue;
        }
      if (comment)
        {
          if (c == '\\' && p[1])
            p++;
          else if (c == '(')
            comment++;
          else if (c == ')')
            comment--;
          continue;
        }
      if (quoted)
        {
          if (c == '\\' && p[1])
            {
              g_string_append_c (in_angle ? angle : seg, c);
              p++;
              c = *p;
            }
          else if (c == '"')
            quoted = FALSE;
          g_string_append_c (in_angle ? angle : seg, c);
          continue;
        }
      if (c == '(')
        {
          comment = 1;
          continue;
        }
      if (c == '"')
        {
          quoted = TRUE;
          g_string_append_c (in_angle ? angle : seg, c);
          continue;
        }
      if (c == '<' && !in_angle)
        {
          in_angle = have_angle = TRUE;
          g_string_truncate (angle, 0);
          continue;
        }
      if (c == '>' && in_angle)
        {
          in_angle = FALSE;
          continue;
        }
      if (c == ':' && !in_angle)
        {
          /* A group's display name: what came before is no address. */
          g_string_truncate (seg, 0);
          continue;
        }
      g_string_append_c (in_angle ? angle : seg, c);
    }
}

/* Bytes that cannot stand unquoted in a local part (1) or a domain (2). */
static const guint8 addr_bad[256] = {
  [0 ... 32] = 3, ['<'] = 3, ['>'] = 3, ['('] = 3, [')'] = 3, ['\\'] = 3, [','] = 3, [';'] = 3,
  ['"'] = 3, ['@'] = 3, ['['] = 1, [']'] = 1, [':'] = 1, [127] = 3,
};

/* An addr-spec as far as :localpart and :domain need one (RFC 5228
 * 2.7.4: an address that is not syntactically valid is not matched by
 * them): a local part (dot-atom or quoted string), "@", a domain. */
gboolean
sv_address_valid (const char *addr)
{
  const char *at = strrchr (addr, '@');
  if (at == NULL || at == addr || at[1] == '\0')
    return FALSE;
  if (addr[0] == '"')
    {
      if (at - addr < 2 || at[-1] != '"')
        return FALSE;
    }
  else
    for (const guchar *p = (const guchar *) addr; p < (const guchar *) at; p++)
      if (addr_bad[*p] & 1)
        return FALSE;
  for (const guchar *p = (const guchar *) at + 1; *p; p++)
    if (addr_bad[*p] & 2)
      return FALSE;
  return TRUE;
}

/* Addresses of every header named @name, in order. */
GPtrArray *
sv_address_values (SvRun *x, const char *name)
{
  if (x->addrs == NULL)
    x->addrs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  if (x->raw_headers == NULL)
    scan_headers (x);
  char lname[128];
  gsize n = strlen (name);
  if (n >= sizeof lname)
    n = sizeof lname - 1;
  for (gsize i = 0; i < n; i++)
    lname[i] = sv_lc (name[i]);
  lname[n] = '\0';
  GPtrArray *out = g_hash_table_lookup (x->addrs, lname);
  if (out)
    return out;
  out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < x->raw_headers->len; i++)
    {
      RawHeader *h = RAW_HEADER (x, i);
      if (!strcmp (h->name, lname))
        {
          if (x->addr_seg == NULL)
            {
              x->addr_seg = g_string_sized_new (128);
              x->addr_angle = g_string_sized_new (128);
            }
          guint first = out->len;
          parse_address_list (h->value, out, x->addr_seg, x->addr_angle);
          /* Checked once per message, not per test: see SV_ADDR_INVALID. */
          for (guint k = first; k < out->len; k++)
            if (!sv_address_valid (g_ptr_array_index (out, k)))
              {
                char *marked = g_strconcat (SV_ADDR_INVALID_S, (char *) g_ptr_array_index (out, k), NULL);
                g_free (g_ptr_array_index (out, k));
                out->pdata[k] = marked;
              }
        }
    }
  g_hash_table_insert (x->addrs, g_strdup (lname), out);
  return out;
}

/* The @part of @addr into @out; FALSE when the part does not exist
 * (e.g. :detail without a separator, RFC 5233 4). */
gboolean
sv_address_part (const char *addr, SvAddrPart part, GString *out)
{
  if (*addr == SV_ADDR_INVALID)
    {
      /* Only :all sees an address that is not valid (RFC 5228 2.7.4). */
      if (part != PART_ALL)
        return FALSE;
      addr++;
    }
  if (part == PART_ALL)
    {
      g_string_append (out, addr);
      return TRUE;
    }
  const char *at = strrchr (addr, '@');
  gsize local_len = (gsize) (at - addr);
  switch (part)
    {
    case PART_LOCAL:
      g_string_append_len (out, addr, local_len);
      return TRUE;
    case PART_DOMAIN:
      g_string_append (out, at + 1);
      return TRUE;
    case PART_USER:
    case PART_DETAIL:
      {
        const char *plus = memchr (addr, '+', local_len);
        if (part == PART_USER)
          g_string_append_len (out, addr, plus ? (gsize) (plus - addr) : local_len);
        else if (plus == NULL)
          return FALSE;
        else
          g_string_append_len (out, plus + 1, local_len - (plus + 1 - addr));
        return TRUE;
      }
    default:
      return FALSE;
    }
}

/* TRUE when a header field's name starts with @prefix (lower case). */
gboolean
sv_header_prefix_exists (SvRun *x, const char *prefix)
{
  if (x->raw_headers == NULL)
    scan_headers (x);
  for (guint i = 0; i < x->raw_headers->len; i++)
    if (g_str_has_prefix (RAW_HEADER (x, i)->name, prefix))
      return TRUE;
  return FALSE;
}

/* ---- envelope (RFC 5228 5.4) --------------------------------------------- */

const char *
sv_envelope_value (SvRun *x, const char *part)
{
  return !g_ascii_strcasecmp (part, "from") ? x->env->sender
       : !g_ascii_strcasecmp (part, "to") ? x->env->recipient : NULL;
}

/* ---- body (RFC 5173) ----------------------------------------------------- */

char *
sv_body_raw (SvRun *x, gsize *len)
{
  const char *text;
  gsize rl, n = 0;
  const char *raw = g_bytes_get_data (rd_message_get_raw (x->msg), &rl);
  const char *sep = raw ? g_strstr_len (raw, (gssize) rl, "\r\n\r\n") : NULL;
  if (sep)
    {
      text = sep + 4;
      n = rl - (gsize) (text - raw);
    }
  else
    text = "";
  *len = n;
  return g_strndup (text, n);
}

const char *
sv_body_text (SvRun *x, gsize *len)
{
  const char *text = rd_message_get_body_text (x->msg);
  if (text == NULL)
    return NULL;
  if (x->body_len == 0 && *text)
    x->body_len = strlen (text);
  *len = x->body_len;
  return text;
}

#define BODY_MAX_PARTS 1000
#define BODY_MAX_DEPTH 32

GPtrArray *
sv_body_parts (SvRun *x)
{
  if (x->body_parts == NULL)
    x->body_parts = rd_body_parts (rd_message_get_raw (x->msg), BODY_MAX_PARTS, BODY_MAX_DEPTH, FALSE);
  return x->body_parts;
}

GPtrArray *
sv_body_more_texts (SvRun *x)
{
  if (x->body_more == NULL)
    {
      /* The view has the text of every text attachment and attached
       * message (RdAttachment.texts). */
      GPtrArray *atts = rd_message_get_attachments (x->msg);
      x->body_more = g_ptr_array_new ();
      for (guint i = 0; i < atts->len && x->body_more->len < BODY_MAX_PARTS; i++)
        {
          const RdAttachment *a = g_ptr_array_index (atts, i);
          for (char **t = a->texts; t && *t && x->body_more->len < BODY_MAX_PARTS; t++)
            g_ptr_array_add (x->body_more, *t);
        }
    }
  return x->body_more;
}

const char *
sv_body_more_joined (SvRun *x, gsize *len)
{
  if (x->body_more_joined == NULL)
    {
      GPtrArray *more = sv_body_more_texts (x);
      if (more->len == 0)
        return NULL;
      GString *j = g_string_new (NULL);
      for (guint i = 0; i < more->len; i++)
        {
          if (i)
            g_string_append_c (j, '\0');
          g_string_append (j, g_ptr_array_index (more, i));
        }
      x->body_more_joined_len = j->len;
      x->body_more_joined = g_string_free (j, FALSE);
    }
  *len = x->body_more_joined_len;
  return x->body_more_joined;
}

/* ---- dates (RFC 5260 4) -------------------------------------------------- */

static void
date_unref0 (gpointer p)
{
  if (p)
    g_date_time_unref (p);
}

/* The dates of the header values @vals of @name, parsed once per message
 * (NULL where unparsable), aligned with @vals. */
GPtrArray *
sv_date_values (SvRun *x, const char *name, GPtrArray *vals)
{
  if (x->dates == NULL)
    x->dates = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  g_autofree char *key = g_ascii_strdown (name, -1);
  GPtrArray *out = g_hash_table_lookup (x->dates, key);
  if (out)
    return out;
  out = g_ptr_array_new_with_free_func (date_unref0);
  for (guint i = 0; i < vals->len; i++)
    {
      const char *v = g_ptr_array_index (vals, i);
      /* RFC 5260 4: a received header's date follows the last ";". */
      const char *semi = strrchr (v, ';');
      g_ptr_array_add (out, g_mime_utils_header_decode_date (semi ? semi + 1 : v));
    }
  g_hash_table_insert (x->dates, g_steal_pointer (&key), out);
  return out;
}

/* ---- address syntax ------------------------------------------------------ */

static gboolean
valid_addr_spec (const char *s, gsize len)
{
  const char *at = NULL;
  for (gsize i = 0; i < len; i++)
    if (s[i] == '@')
      at = s + i;
  if (at == NULL || at == s || at == s + len - 1)
    return FALSE;
  for (const char *p = s; p < at; p++)
    if ((guchar) *p <= ' ' || strchr ("<>()[]\\,;:\"", *p))
      return FALSE;
  for (const char *p = at + 1; p < s + len; p++)
    if (!(g_ascii_isalnum (*p) || *p == '-' || *p == '.' || *p == '[' || *p == ']' || *p == ':' || (guchar) *p >= 0x80))
      return FALSE;
  return at[1] != '.' && s[len - 1] != '.';
}

/* Accepts "a@b" or "Name <a@b>"; returns the addr-spec or NULL. */
char *
sv_address_extract (const char *text, gsize len)
{
  const char *lt = memchr (text, '<', len);
  const char *s = text, *e = text + len;
  if (lt)
    {
      const char *gt = memchr (lt, '>', e - lt);
      if (gt == NULL)
        return NULL;
      for (const char *q = gt + 1; q < e; q++)
        if (!g_ascii_isspace (*q))
          return NULL;
      s = lt + 1;
      e = gt;
    }
  while (s < e && g_ascii_isspace (*s))
    s++;
  while (e > s && g_ascii_isspace (e[-1]))
    e--;
  if (!valid_addr_spec (s, e - s))
    return NULL;
  return g_strndup (s, e - s);
}

gboolean
sv_same_address (const char *a, const char *b)
{
  const char *ea = strrchr (a, '@'), *eb = strrchr (b, '@');
  if (!ea || !eb || ea - a != eb - b)
    return !g_ascii_strcasecmp (a, b);
  return memcmp (a, b, (gsize) (ea - a)) == 0 && !g_ascii_strcasecmp (ea, eb);
}

void
sv_message_clear (SvRun *x)
{
  if (x->headers)
    g_hash_table_unref (x->headers);
  if (x->addrs)
    g_hash_table_unref (x->addrs);
  if (x->raw_headers)
    g_array_unref (x->raw_headers);
  g_free (x->arena);
  if (x->addr_seg)
    {
      g_string_free (x->addr_seg, TRUE);
      g_string_free (x->addr_angle, TRUE);
    }
  if (x->owned)
    g_ptr_array_unref (x->owned);
  if (x->dates)
    g_hash_table_unref (x->dates);
  if (x->body_parts)
    g_ptr_array_unref (x->body_parts);
  if (x->body_more)
    g_ptr_array_unref (x->body_more);
  g_free (x->body_more_joined);
}
