/* relaydesk — parser: charsets, header decoding, dates, text normalisation.
 *
 * Mail in the wild labels its charsets loosely: misspelled names
 * ("iso8859-1", "utf8", "charset=us-ascii"), vendor aliases
 * ("ks_c_5601-1987", "unicode-1-1-utf-7"), invented ones ("fakescii").
 * Text is never dropped: a known label is converted with iconv, each
 * undecodable byte becoming U+FFFD; an unknown label falls back to UTF-8
 * when the bytes are valid UTF-8, else to windows-1252 (which maps every
 * byte), and the fall-back is recorded as a warning on the view.
 */
#include "parser-private.h"
#include "rd-common.h"

#include <errno.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd"

/* Aliases iconv does not know, or where a superset decodes more of what
 * is really sent under the label (RFC 1557/1922 charsets as Windows
 * writes them). Left: lower-case label; right: iconv name. */
static const char *const aliases[][2] = {
  { "ks_c_5601-1987", "CP949" },
  { "ks_c_5601", "CP949" },
  { "ks_c_5601-1989", "CP949" },
  { "euc-kr", "CP949" },
  { "x-euc-kr", "CP949" },
  { "gb2312", "GB18030" },
  { "gbk", "GB18030" },
  { "x-gbk", "GB18030" },
  { "cp936", "GB18030" },
  { "euc-cn", "GB18030" },
  { "big5", "CP950" },
  { "x-big5", "CP950" },
  { "shift_jis", "CP932" },
  { "shift-jis", "CP932" },
  { "x-sjis", "CP932" },
  { "sjis", "CP932" },
  { "windows-31j", "CP932" },
  { "unicode-1-1-utf-7", "UTF-7" },
  { "x-unicode-2-0-utf-7", "UTF-7" },
  { "utf7", "UTF-7" },
  { "x-mac-cyrillic", "MAC-CYRILLIC" },
  { "x-mac-roman", "MACINTOSH" },
  { "macintosh", "MACINTOSH" },
  { "iso-8859-8-i", "ISO-8859-8" },
  { "iso-8859-6-i", "ISO-8859-6" },
  { "x-user-defined", "WINDOWS-1252" },
  { "ansi_x3.4-1968", "ASCII" },
  { "iso-2022-jp", "ISO-2022-JP-2" },
  { "latin1", "ISO-8859-1" },
  { "latin-1", "ISO-8859-1" },
  { "l1", "ISO-8859-1" },
  { "cp-1252", "WINDOWS-1252" },
  { "win-1252", "WINDOWS-1252" },
};

static gboolean
is_ascii_label (const char *l)
{
  return !strcmp (l, "us-ascii") || !strcmp (l, "ascii") || !strcmp (l, "us_ascii") || !strcmp (l, "usascii")
      || !strcmp (l, "ansi_x3.4-1968") || !strcmp (l, "iso646-us") || !strcmp (l, "646");
}

static gboolean
is_utf8_label (const char *l)
{
  return !strcmp (l, "utf-8") || !strcmp (l, "utf8") || !strcmp (l, "x-utf-8") || !strcmp (l, "utf_8");
}

/* The label cleaned: trimmed, unquoted, lower case, a leading "charset="
 * (a doubled parameter name) removed. */
static char *
clean_label (const char *label)
{
  g_autofree char *l = g_ascii_strdown (label, -1);
  char *p = g_strstrip (l);
  while (*p == '"' || *p == '\'')
    p++;
  if (g_str_has_prefix (p, "charset="))
    p += 8;
  while (*p == '"' || *p == '\'')
    p++;
  gsize n = strlen (p);
  while (n > 0 && (p[n - 1] == '"' || p[n - 1] == '\'' || p[n - 1] == ';' || g_ascii_isspace (p[n - 1])))
    p[--n] = '\0';
  return g_strdup (p);
}

static gboolean
iconv_known (const char *name)
{
  GIConv cd = g_iconv_open ("UTF-8", name);
  if (cd == (GIConv) -1)
    return FALSE;
  g_iconv_close (cd);
  return TRUE;
}

static char *charset_lookup (const char *label);

/* Labels seen are few; their answers are cached (probing iconv opens a
 * converter each time). Bounded: at most CANON_CACHE_MAX labels. */
#define CANON_CACHE_MAX 512
G_LOCK_DEFINE_STATIC (canon_cache);
static GHashTable *canon_cache;

/* iconv name for @label or NULL; "UTF-8"/"ASCII" for those two. */
char *
rd_charset_canonical (const char *label)
{
  if (label == NULL)
    return NULL;
  if (strlen (label) > 64)
    return charset_lookup (label);
  G_LOCK (canon_cache);
  if (canon_cache == NULL)
    canon_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gpointer key, value;
  if (g_hash_table_lookup_extended (canon_cache, label, &key, &value))
    {
      char *r = g_strdup (value);
      G_UNLOCK (canon_cache);
      return r;
    }
  G_UNLOCK (canon_cache);
  char *r = charset_lookup (label);
  G_LOCK (canon_cache);
  if (g_hash_table_size (canon_cache) < CANON_CACHE_MAX)
    g_hash_table_insert (canon_cache, g_strdup (label), g_strdup (r));
  G_UNLOCK (canon_cache);
  return r;
}

static char *
charset_lookup (const char *label)
{
  g_autofree char *l = clean_label (label);
  if (*l == '\0')
    return NULL;
  if (is_ascii_label (l))
    return g_strdup ("ASCII");
  if (is_utf8_label (l))
    return g_strdup ("UTF-8");
  for (guint i = 0; i < G_N_ELEMENTS (aliases); i++)
    if (!strcmp (l, aliases[i][0]))
      return g_strdup (aliases[i][1]);
  /* A label glued to following text ("utf-8return-path: ..."): the
   * longest known charset name it starts with. */
  if (strlen (l) > 40 || strpbrk (l, " :;=/") != NULL)
    {
      static const char *const prefixes[] = { "utf-8", "us-ascii", "iso-8859-15", "iso-8859-1", "windows-1252" };
      for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
        if (g_str_has_prefix (l, prefixes[i]))
          return rd_charset_canonical (prefixes[i]);
      return NULL;
    }
  const char *gm = g_mime_charset_iconv_name (l);
  if (gm && iconv_known (gm))
    return g_strdup (gm);
  if (iconv_known (l))
    return g_strdup (l);
  /* Misspellings: "iso8859-1", "iso_8859-1", "x-iso-8859-1", "win1252". */
  g_autofree char *fixed = NULL;
  if (g_str_has_prefix (l, "x-"))
    fixed = g_strdup (l + 2);
  else if (g_str_has_prefix (l, "iso8859"))
    fixed = g_strdup_printf ("iso-8859%s", l + 7);
  else if (g_str_has_prefix (l, "win") && g_ascii_isdigit (l[3]))
    fixed = g_strdup_printf ("windows-%s", l + 3);
  else if (g_str_has_prefix (l, "cp") && g_ascii_isdigit (l[2]))
    fixed = g_strdup_printf ("windows-%s", l + 2);
  if (fixed)
    {
      if (g_str_has_prefix (fixed, "iso-8859") && fixed[8] != '-' && fixed[8] != '\0')
        {
          char *f2 = g_strdup_printf ("iso-8859-%s", fixed + 8 + (fixed[8] == '_'));
          g_free (fixed);
          fixed = f2;
        }
      const char *gm2 = g_mime_charset_iconv_name (fixed);
      if (gm2 && iconv_known (gm2))
        return g_strdup (gm2);
    }
  return NULL;
}

static gboolean
all_ascii (const guint8 *data, gsize len)
{
  gsize i = 0;
  guint64 acc = 0;
  for (; i + 8 <= len; i += 8)
    {
      guint64 w;
      memcpy (&w, data + i, 8);
      acc |= w;
    }
  for (; i < len; i++)
    acc |= data[i];
  return (acc & G_GUINT64_CONSTANT (0x8080808080808080)) == 0;
}

/* iconv_open() loads a gconv module each time (dlopen): a few converters
 * are kept per thread, reset before each use. */
#define CONV_CACHE 8

typedef struct {
  char name[48];
  GIConv cd;
} ConvSlot;

typedef struct {
  ConvSlot slot[CONV_CACHE];
  guint next;
} ConvCache;

static void
conv_cache_free (gpointer p)
{
  ConvCache *c = p;
  for (guint i = 0; i < CONV_CACHE; i++)
    if (c->slot[i].name[0])
      g_iconv_close (c->slot[i].cd);
  g_free (c);
}

static GPrivate conv_cache_key = G_PRIVATE_INIT (conv_cache_free);

static GIConv
conv_get (const char *from)
{
  ConvCache *c = g_private_get (&conv_cache_key);
  if (c == NULL)
    {
      c = g_new0 (ConvCache, 1);
      g_private_set (&conv_cache_key, c);
    }
  for (guint i = 0; i < CONV_CACHE; i++)
    if (c->slot[i].name[0] && !strcmp (c->slot[i].name, from))
      {
        g_iconv (c->slot[i].cd, NULL, NULL, NULL, NULL); /* initial shift state */
        return c->slot[i].cd;
      }
  if (strlen (from) >= sizeof c->slot[0].name)
    return (GIConv) -1;
  GIConv cd = g_iconv_open ("UTF-8", from);
  if (cd == (GIConv) -1)
    return cd;
  ConvSlot *s = &c->slot[c->next];
  c->next = (c->next + 1) % CONV_CACHE;
  if (s->name[0])
    g_iconv_close (s->cd);
  g_strlcpy (s->name, from, sizeof s->name);
  s->cd = cd;
  return cd;
}

/* Converts with iconv; an invalid byte becomes U+FFFD and is skipped. */
static char *
iconv_to_utf8 (const guint8 *data, gsize len, const char *from)
{
  GIConv cd = conv_get (from);
  if (cd == (GIConv) -1)
    return NULL;
  GString *out = g_string_sized_new (len + len / 2 + 16);
  char buf[4096];
  char *in = (char *) data;
  gsize inleft = len;
  while (inleft > 0)
    {
      char *o = buf;
      gsize oleft = sizeof buf;
      gsize r = g_iconv (cd, &in, &inleft, &o, &oleft);
      g_string_append_len (out, buf, o - buf);
      if (r == (gsize) -1)
        {
          if (errno == E2BIG)
            continue;
          /* EILSEQ or EINVAL (truncated at the end): one byte lost. */
          g_string_append (out, REPLACEMENT);
          in++;
          inleft--;
        }
    }
  /* flush shift state (ISO-2022-JP, UTF-7) */
  char *o = buf;
  gsize oleft = sizeof buf;
  g_iconv (cd, NULL, NULL, &o, &oleft);
  g_string_append_len (out, buf, o - buf);
  /* A decoder may still produce invalid output for hostile input. */
  if (!g_utf8_validate_len (out->str, out->len, NULL))
    {
      char *v = g_utf8_make_valid (out->str, out->len);
      g_string_free (out, TRUE);
      return v;
    }
  return g_string_free (out, FALSE);
}

/* Neither label nor byte gives the charset: UTF-8 when the bytes are
 * valid UTF-8, else windows-1252 (the usual truth behind 8-bit text in
 * "us-ascii" or unlabelled mail). */
static char *
guess_to_utf8 (const guint8 *data, gsize len)
{
  if (g_utf8_validate_len ((const char *) data, len, NULL))
    return g_strndup ((const char *) data, len);
  char *r = iconv_to_utf8 (data, len, "WINDOWS-1252");
  return r ? r : g_utf8_make_valid ((const char *) data, len);
}

char *
rd_convert_to_utf8 (const guint8 *data, gsize len, const char *charset, RdWarnFunc warn, RdMessage *msg)
{
  g_autofree char *name = rd_charset_canonical (charset);
  if (len == 0)
    return g_strdup ("");
  if (name == NULL || g_str_equal (name, "ASCII"))
    {
      if (all_ascii (data, len))
        return g_strndup ((const char *) data, len);
      if (warn && charset && name == NULL)
        {
          g_autofree char *esc = rd_log_escape (charset, -1, 40);
          warn (msg, "charset: unknown label %s, text guessed as UTF-8 or windows-1252", esc);
        }
      else if (warn)
        warn (msg, "charset: 8-bit text labelled US-ASCII or unlabelled, guessed as UTF-8 or windows-1252");
      return guess_to_utf8 (data, len);
    }
  if (!g_ascii_strcasecmp (name, "ISO-8859-1") || !g_ascii_strcasecmp (name, "ISO_8859-1") || !g_ascii_strcasecmp (name, "LATIN1"))
    {
      /* every byte is its code point: no converter needed */
      GString *out = g_string_sized_new (len + len / 8 + 1);
      for (gsize i = 0; i < len; i++)
        {
          guint8 c = data[i];
          if (c < 0x80)
            g_string_append_c (out, (char) c);
          else
            {
              g_string_append_c (out, (char) (0xc0 | (c >> 6)));
              g_string_append_c (out, (char) (0x80 | (c & 0x3f)));
            }
        }
      return g_string_free (out, FALSE);
    }
  if (g_str_equal (name, "UTF-8"))
    {
      if (g_utf8_validate_len ((const char *) data, len, NULL))
        return g_strndup ((const char *) data, len);
      return g_utf8_make_valid ((const char *) data, len);
    }
  char *r = iconv_to_utf8 (data, len, name);
  if (r)
    return r;
  if (warn)
    warn (msg, "charset: %s not available, text guessed", name);
  return guess_to_utf8 (data, len);
}

char *
rd_header_bytes_to_utf8 (const char *raw)
{
  if (g_utf8_validate (raw, -1, NULL))
    return g_strdup (raw);
  return guess_to_utf8 ((const guint8 *) raw, strlen (raw));
}

/* ---- RFC 2047 --------------------------------------------------------- */

static int
hexval (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = g_ascii_tolower (c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes one encoded word's text (B or Q) into bytes. */
static GByteArray *
ew_payload (char enc, const char *text, gsize len)
{
  GByteArray *b = g_byte_array_sized_new (len);
  if (enc == 'q' || enc == 'Q')
    {
      for (gsize i = 0; i < len; i++)
        {
          guint8 c = text[i];
          if (c == '_')
            c = ' ';
          else if (c == '=' && i + 2 < len && hexval (text[i + 1]) >= 0 && hexval (text[i + 2]) >= 0)
            {
              c = (guint8) (hexval (text[i + 1]) * 16 + hexval (text[i + 2]));
              i += 2;
            }
          g_byte_array_append (b, &c, 1);
        }
      return b;
    }
  /* base64, lenient about padding and stray characters */
  guint32 acc = 0;
  int bits = 0;
  for (gsize i = 0; i < len; i++)
    {
      int c = text[i], v;
      if (c >= 'A' && c <= 'Z') v = c - 'A';
      else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
      else if (c >= '0' && c <= '9') v = c - '0' + 52;
      else if (c == '+') v = 62;
      else if (c == '/') v = 63;
      else continue;
      acc = (acc << 6) | (guint32) v;
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          guint8 o = (guint8) (acc >> bits);
          g_byte_array_append (b, &o, 1);
        }
    }
  return b;
}

/* Recognises "=?charset?X?text?=" at @p; returns its end or NULL. */
static const char *
match_ew (const char *p, gboolean spaces, const char **cs, gsize *cs_len, char *enc, const char **text,
          gsize *text_len)
{
  if (p[0] != '=' || p[1] != '?')
    return NULL;
  const char *c = p + 2;
  const char *q = c;
  while (*q && *q != '?' && !g_ascii_isspace (*q) && q - c < 100)
    q++;
  if (*q != '?' || q == c)
    return NULL;
  if (!(q[1] == 'b' || q[1] == 'B' || q[1] == 'q' || q[1] == 'Q') || q[2] != '?')
    return NULL;
  const char *t = q + 3;
  const char *e = t;
  /* bounded: a header full of "=?" must cost linear time */
  while (*e && !(e[0] == '?' && e[1] == '=') && (spaces ? (*e != '\r' && *e != '\n') : !g_ascii_isspace (*e))
         && e - p < 1000)
    e++;
  if (e[0] != '?' || e[1] != '=')
    return NULL;
  *cs = c;
  *cs_len = q - c;
  *enc = q[1];
  *text = t;
  *text_len = e - t;
  return e + 2;
}

/* Decodes RFC 2047 encoded words anywhere in @raw (also inside words, as
 * Python's reading does), dropping the whitespace between two adjacent
 * encoded words (RFC 2047 section 6.2); other bytes are read as UTF-8,
 * else windows-1252. Adjacent words in the same charset are joined
 * before conversion, so a character split across two words survives. */
typedef struct {
  GString *out;
  GString *run;          /* raw bytes outside encoded words */
  GByteArray *pending;
  char *pending_cs;
} EwState;

static void
run_flush (EwState *st)
{
  if (st->run->len == 0)
    return;
  char *s = rd_header_bytes_to_utf8 (st->run->str);
  g_string_append (st->out, s);
  g_free (s);
  g_string_truncate (st->run, 0);
}

static void
ew_flush (EwState *st)
{
  if (st->pending == NULL)
    return;
  char *s = rd_convert_to_utf8 (st->pending->data, st->pending->len, st->pending_cs, NULL, NULL);
  g_string_append (st->out, s);
  g_free (s);
  g_byte_array_unref (st->pending);
  g_free (st->pending_cs);
  st->pending = NULL;
  st->pending_cs = NULL;
}

static char *
decode_words (const char *raw, gboolean spaces)
{
  EwState st = { g_string_new (NULL), g_string_new (NULL), NULL, NULL };
  const char *p = raw;
  gboolean after_ew = FALSE;
  while (*p)
    {
      const char *cs, *text;
      gsize cs_len, text_len;
      char enc;
      const char *end = match_ew (p, spaces, &cs, &cs_len, &enc, &text, &text_len);
      if (end)
        {
          g_autofree char *charset = g_strndup (cs, cs_len);
          char *star = strchr (charset, '*'); /* RFC 2231 language suffix */
          if (star)
            *star = '\0';
          g_autoptr(GByteArray) bytes = ew_payload (enc, text, text_len);
          run_flush (&st);
          if (!(st.pending && g_ascii_strcasecmp (st.pending_cs, charset) == 0))
            {
              ew_flush (&st);
              st.pending = g_byte_array_new ();
              st.pending_cs = g_strdup (charset);
            }
          g_byte_array_append (st.pending, bytes->data, bytes->len);
          p = end;
          after_ew = TRUE;
          continue;
        }
      if (after_ew && (*p == ' ' || *p == '\t'))
        {
          const char *q = p;
          while (*q == ' ' || *q == '\t')
            q++;
          if (match_ew (q, spaces, &cs, &cs_len, &enc, &text, &text_len))
            {
              p = q; /* whitespace between two encoded words: dropped */
              continue;
            }
        }
      ew_flush (&st);
      after_ew = FALSE;
      g_string_append_c (st.run, *p++);
    }
  ew_flush (&st);
  run_flush (&st);
  g_string_free (st.run, TRUE);
  return g_string_free (st.out, FALSE);
}

char *
rd_decode_unstructured (GMimeParserOptions *opts, const char *raw)
{
  if (raw == NULL)
    return NULL;
  while (*raw == ' ' || *raw == '\t')
    raw++;
  return decode_words (raw, FALSE);
}

char *
rd_decode_parameter (GMimeParserOptions *opts, const char *value)
{
  if (value == NULL)
    return NULL;
  g_autofree char *v = g_utf8_make_valid (value, -1);
  if (strstr (v, "=?") == NULL)
    return g_steal_pointer (&v);
  return decode_words (v, FALSE);
}

char *
rd_decode_phrase (const char *raw)
{
  if (raw == NULL)
    return NULL;
  return decode_words (raw, TRUE);
}

/* ---- dates ------------------------------------------------------------ */

/* Python's int(): optional sign, ASCII digits, surrounding blanks. */
static gboolean
py_int (const char *s, gint64 *out)
{
  while (g_ascii_isspace (*s))
    s++;
  gboolean neg = FALSE;
  if (*s == '+' || *s == '-')
    neg = *s++ == '-';
  if (!g_ascii_isdigit (*s))
    return FALSE;
  gint64 v = 0;
  while (g_ascii_isdigit (*s) || (*s == '_' && g_ascii_isdigit (s[1])))
    {
      if (*s != '_')
        {
          if (v > G_MAXINT64 / 20)
            return FALSE;
          v = v * 10 + (*s - '0');
        }
      s++;
    }
  while (g_ascii_isspace (*s))
    s++;
  if (*s)
    return FALSE;
  *out = neg ? -v : v;
  return TRUE;
}

static int
month_index (const char *m)
{
  static const char *const names[] = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (!g_ascii_strcasecmp (m, names[i]))
      return (int) (i % 12) + 1;
  return 0;
}

/* RFC 5322 section 3.3 with the obsolete forms of section 4.3, read the
 * way Python's email.utils.parsedate_to_datetime reads them (the corpus
 * reference): tokens in any of the usual orders, two-digit years,
 * US zone names, "-0000" and a missing zone taken as UTC. */
gboolean
rd_parse_date (const char *value, gint64 *unix_seconds)
{
  if (value == NULL)
    return FALSE;
  g_auto(GStrv) raw = g_strsplit_set (value, " \t\r\n", -1);
  g_autoptr(GPtrArray) tok = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; raw[i]; i++)
    if (*raw[i] && tok->len < 64)
      g_ptr_array_add (tok, g_strdup (raw[i]));
  if (tok->len == 0)
    return FALSE;
  char *t0 = g_ptr_array_index (tok, 0);
  static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
  gboolean dayname = g_str_has_suffix (t0, ",");
  for (guint i = 0; i < G_N_ELEMENTS (days) && !dayname; i++)
    if (!g_ascii_strcasecmp (t0, days[i]))
      dayname = TRUE;
  if (dayname)
    g_ptr_array_remove_index (tok, 0);
  else
    {
      char *comma = strrchr (t0, ',');
      if (comma)
        memmove (t0, comma + 1, strlen (comma + 1) + 1);
    }
  if (tok->len == 3)
    {
      g_auto(GStrv) stuff = g_strsplit (g_ptr_array_index (tok, 0), "-", -1);
      if (g_strv_length (stuff) == 3)
        {
          g_ptr_array_remove_index (tok, 0);
          for (int i = 2; i >= 0; i--)
            g_ptr_array_insert (tok, 0, g_strdup (stuff[i]));
        }
    }
  if (tok->len == 4)
    {
      char *s = g_ptr_array_index (tok, 3);
      char *sign = strchr (s, '+');
      if (sign == NULL)
        sign = strchr (s, '-');
      if (sign && sign > s)
        {
          char *zone = g_strdup (sign);
          *sign = '\0';
          g_ptr_array_add (tok, zone);
        }
      else
        g_ptr_array_add (tok, g_strdup (""));
    }
  if (tok->len < 5)
    return FALSE;
  g_autofree char *dd = g_strdup (g_ptr_array_index (tok, 0));
  g_autofree char *mm = g_strdup (g_ptr_array_index (tok, 1));
  g_autofree char *yy = g_strdup (g_ptr_array_index (tok, 2));
  g_autofree char *tm = g_strdup (g_ptr_array_index (tok, 3));
  g_autofree char *tz = g_strdup (g_ptr_array_index (tok, 4));
  if (!*dd || !*mm || !*yy)
    return FALSE;
  int month = month_index (mm);
  if (month == 0)
    {
      month = month_index (dd);
      if (month == 0)
        return FALSE;
      char *swap = dd;
      dd = mm;
      mm = swap;
    }
  if (dd[strlen (dd) - 1] == ',')
    dd[strlen (dd) - 1] = '\0';
  char *colon = strchr (yy, ':');
  if (colon && colon > yy)
    {
      char *swap = yy;
      yy = tm;
      tm = swap;
    }
  if (!*yy)
    return FALSE;
  if (yy[strlen (yy) - 1] == ',')
    {
      yy[strlen (yy) - 1] = '\0';
      if (!*yy)
        return FALSE;
    }
  if (!g_ascii_isdigit (yy[0]))
    {
      char *swap = yy;
      yy = tz;
      tz = swap;
    }
  if (!*tm)
    return FALSE;
  if (tm[strlen (tm) - 1] == ',')
    {
      tm[strlen (tm) - 1] = '\0';
      if (!*tm)
        return FALSE;
    }
  g_auto(GStrv) hms = g_strsplit (tm, ":", -1);
  guint nparts = g_strv_length (hms);
  if (nparts == 1 && strchr (tm, '.'))
    {
      g_strfreev (hms);
      hms = g_strsplit (tm, ".", -1);
      nparts = g_strv_length (hms);
    }
  if (nparts != 2 && nparts != 3)
    return FALSE;
  gint64 year, day, hh, mi, ss = 0;
  if (!py_int (yy, &year) || !py_int (dd, &day) || !py_int (hms[0], &hh) || !py_int (hms[1], &mi)
      || (nparts == 3 && !py_int (hms[2], &ss)))
    return FALSE;
  if (year < 100)
    year += year > 68 ? 1900 : 2000;
  gint64 offset = 0;
  gboolean have_zone = TRUE;
  g_autofree char *zu = g_ascii_strup (tz, -1);
  static const struct { const char *name; int off; } zones[] = {
    { "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 }, { "AST", -400 }, { "ADT", -300 },
    { "EST", -500 }, { "EDT", -400 }, { "CST", -600 }, { "CDT", -500 }, { "MST", -700 },
    { "MDT", -600 }, { "PST", -800 }, { "PDT", -700 } };
  gboolean named = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (zones); i++)
    if (!strcmp (zu, zones[i].name))
      {
        offset = zones[i].off;
        named = TRUE;
      }
  if (!named)
    {
      if (!py_int (zu, &offset))
        {
          offset = 0;
          have_zone = FALSE; /* unknown zone: naive, read as UTC */
        }
      else if (offset == 0 && zu[0] == '-')
        have_zone = FALSE;
    }
  gint64 secs = 0;
  if (have_zone && offset)
    {
      gint64 a = offset < 0 ? -offset : offset;
      /* Python's floor division and modulo on the absolute value */
      secs = (offset < 0 ? -1 : 1) * ((a / 100) * 3600 + (a % 100) * 60);
      if (secs <= -86400 || secs >= 86400)
        return FALSE; /* datetime.timezone refuses it */
    }
  if (year < 1 || year > 9999 || hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59 || day < 1
      || day > g_date_get_days_in_month ((GDateMonth) month, (GDateYear) MIN (year, 9999)))
    return FALSE;
  g_autoptr(GDateTime) dt = g_date_time_new_utc ((gint) year, month, (gint) day, (gint) hh, (gint) mi, (gdouble) ss);
  if (dt == NULL)
    return FALSE;
  *unix_seconds = g_date_time_to_unix (dt) - secs;
  return TRUE;
}

/* ---- text ------------------------------------------------------------- */

void
rd_text_normalize_in_place (char *text)
{
  /* Output never grows (CRLF -> LF, blanks removed): compact in place. */
  char *w = text;
  const char *p = text;
  while (*p)
    {
      const char *e = p;
      while (*e && *e != '\r' && *e != '\n')
        e++;
      const char *t = e;
      while (t > p && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\f' || t[-1] == '\v'))
        t--;
      if (w != p)
        memmove (w, p, (gsize) (t - p));
      w += t - p;
      char end = *e;
      if (end == '\0')
        break;
      if (end == '\r' && e[1] == '\n')
        e++;
      *w++ = '\n'; /* w <= e: written after e was read */
      p = e + 1;
    }
  while (w > text && w[-1] == '\n')
    w--;
  *w = '\0';
}

char *
rd_text_normalize (const char *text)
{
  GString *s = g_string_sized_new (strlen (text) + 1);
  const char *p = text;
  while (*p)
    {
      const char *e = p;
      while (*e && *e != '\r' && *e != '\n')
        e++;
      const char *t = e;
      while (t > p && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\f' || t[-1] == '\v'))
        t--;
      g_string_append_len (s, p, t - p);
      if (*e == '\0')
        break;
      g_string_append_c (s, '\n');
      if (*e == '\r' && e[1] == '\n')
        e++;
      p = e + 1;
    }
  while (s->len > 0 && s->str[s->len - 1] == '\n')
    g_string_truncate (s, s->len - 1);
  return g_string_free (s, FALSE);
}
