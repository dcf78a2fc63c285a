/* relaydesk — parser: the message view, built with GMime.
 *
 * Steps (rd_message_parse_with_limits):
 *  1. framing: a UTF-8 BOM and an mbox "From " envelope line are skipped,
 *     CR-only line ends become LF (GMime only knows LF and CRLF), and a
 *     header block over the cap is cut at a line boundary;
 *  2. GMime builds the MIME tree; its parser warnings are recorded;
 *  3. headers: decoded Subject, addresses (groups flattened), Date in
 *     UTC, ids, automation flags;
 *  4. one walk of the tree (capped in depth and part count) picks the body
 *     part the way Python's email.message.get_body() does (the shared
 *     corpus reference) and lists every other leaf as an attachment;
 *  5. the body is decoded to UTF-8 (html-text.c renders HTML), split into
 *     new text and quoted history (quote.c);
 *  6. delivery reports (RFC 3464) give the original Message-ID and the
 *     failed recipients.
 * The result holds no GMime object and never changes.
 */
#include "message.h"
#include "parser-private.h"
#include "rd-common.h"
#include "rd-config.h"

#include <gmime/gmime.h>
#include <openssl/sha.h>
#include <string.h>

#define MAX_WARNINGS 100

struct _RdMessage {
  gint refcount;
  GBytes *raw;
  char *subject;
  char *message_id;
  char *in_reply_to;
  char **references;
  gboolean has_date;
  gint64 date;
  GPtrArray *from, *to, *cc, *reply_to, *sender;
  GPtrArray *headers;
  char *body_source;
  char *body_text;
  char *body_new;        /* == body_text when there is no quoted part */
  const char *body_quoted; /* points into body_text */
  char *body_content_type;
  char *body_charset;
  GPtrArray *attachments;
  char *auto_submitted;
  char *precedence;
  char *list_id;
  char *x_auto_response_suppress;
  char *list_unsubscribe, *list_post, *list_help, *list_archive, *list_owner;
  gboolean is_bounce;
  char *dsn_original_message_id;
  GPtrArray *dsn_recipients;
  GPtrArray *warnings;
  guint part_count;
  guint max_depth;
  gboolean limits_hit;
};

void
rd_parser_init (void)
{
  static gsize done;
  if (g_once_init_enter (&done))
    {
      g_mime_init ();
      rd_html_init ();
      g_once_init_leave (&done, 1);
    }
}

void
rd_parser_limits_init (RdParserLimits *limits)
{
  limits->max_depth = RD_PARSER_DEFAULT_MAX_DEPTH;
  limits->max_parts = RD_PARSER_DEFAULT_MAX_PARTS;
  limits->max_header_bytes = RD_PARSER_DEFAULT_MAX_HEADER_BYTES;
  limits->max_text_bytes = RD_PARSER_DEFAULT_MAX_TEXT_BYTES;
}

void
rd_parser_limits_from_config (RdParserLimits *limits, RdConfig *c)
{
  rd_parser_limits_init (limits);
  if (c == NULL)
    return;
  gint64 depth = rd_config_get_int (c, "parser", "max_mime_depth", RD_PARSER_DEFAULT_MAX_DEPTH);
  gint64 parts = rd_config_get_int (c, "parser", "max_mime_parts", RD_PARSER_DEFAULT_MAX_PARTS);
  guint64 hdr = rd_config_get_size (c, "parser", "max_header_bytes", RD_PARSER_DEFAULT_MAX_HEADER_BYTES);
  guint64 text = rd_config_get_size (c, "parser", "max_text_bytes", RD_PARSER_DEFAULT_MAX_TEXT_BYTES);
  limits->max_depth = (guint) CLAMP (depth, 1, 1000);
  limits->max_parts = (guint) CLAMP (parts, 1, 1000000);
  limits->max_header_bytes = (gsize) CLAMP (hdr, 1024, G_GUINT64_CONSTANT (64) * 1024 * 1024);
  limits->max_text_bytes = (gsize) CLAMP (text, 1024, G_GUINT64_CONSTANT (1024) * 1024 * 1024);
}

static void
address_free (gpointer p)
{
  RdAddress *a = p;
  g_free (a->name);
  g_free (a->addr);
  g_free (a);
}

static void
header_free (gpointer p)
{
  RdHeader *h = p;
  g_free (h->name);
  g_free (h->value);
  g_free (h);
}

static void
attachment_free (gpointer p)
{
  RdAttachment *a = p;
  g_free (a->filename);
  g_free (a->content_type);
  g_free (a->disposition);
  g_free (a->content_id);
  g_free (a->sha256);
  g_free (a->embedded_subject);
  if (a->content)
    g_bytes_unref (a->content);
  g_free (a->charset);
  g_free (a);
}

static void
dsn_recipient_free (gpointer p)
{
  RdDsnRecipient *r = p;
  g_free (r->addr);
  g_free (r->action);
  g_free (r->status);
  g_free (r->diagnostic);
  g_free (r);
}

void
rd_message_warn (RdMessage *msg, const char *fmt, ...)
{
  if (msg->warnings->len >= MAX_WARNINGS)
    return;
  va_list ap;
  va_start (ap, fmt);
  char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  /* Warnings may quote message bytes: keep them valid UTF-8 and short. */
  char *valid = g_utf8_make_valid (text, MIN (strlen (text), 200));
  g_free (text);
  g_ptr_array_add (msg->warnings, valid);
}

/* ---- headers ---------------------------------------------------------- */

static char *
unfold (const char *raw)
{
  if (raw == NULL)
    return NULL;
  GString *s = g_string_sized_new (strlen (raw));
  for (const char *p = raw; *p; p++)
    if (*p != '\r' && *p != '\n')
      g_string_append_c (s, *p);
  return g_string_free (s, FALSE);
}

static char *
trimmed (const char *v)
{
  if (v == NULL)
    return NULL;
  char *u = g_strdup (v);
  g_strstrip (u);
  return u;
}

static char *
lower_trim (const char *v)
{
  if (v == NULL)
    return NULL;
  g_autofree char *u = trimmed (v);
  return g_utf8_strdown (u, -1);
}

/* Message ids as the corpus contract reads them: every <...> (without
 * brackets and whitespace, empty ones skipped); with no brackets at all,
 * the whitespace/comma separated tokens. */
static GPtrArray *
ids_from (const char *value)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  if (value == NULL)
    return out;
  const char *p = value;
  while ((p = strchr (p, '<')) != NULL)
    {
      const char *q = p + 1;
      while (*q && *q != '<' && *q != '>')
        q++;
      if (*q != '>')
        {
          if (*q == '\0')
            break;
          p = q; /* another '<': restart there */
          continue;
        }
      GString *id = g_string_new (NULL);
      for (const char *c = p + 1; c < q; c++)
        if (!g_ascii_isspace (*c))
          g_string_append_c (id, *c);
      if (id->len)
        g_ptr_array_add (out, g_string_free (id, FALSE));
      else
        g_string_free (id, TRUE);
      p = q + 1;
    }
  if (out->len)
    return out;
  g_auto(GStrv) tokens = g_strsplit_set (value, " \t\r\n,", -1);
  for (guint i = 0; tokens[i]; i++)
    if (*tokens[i])
      g_ptr_array_add (out, g_strdup (tokens[i]));
  return out;
}

static char *
first_id (const char *value)
{
  g_autoptr(GPtrArray) ids = ids_from (value);
  return ids->len ? g_strdup (g_ptr_array_index (ids, 0)) : NULL;
}

/* ---- charsets --------------------------------------------------------- */

char *
rd_charset_to_utf8 (RdMessage *msg, const guint8 *data, gsize len, const char *charset)
{
  return rd_convert_to_utf8 (data, len, charset, msg ? (RdWarnFunc) rd_message_warn : NULL, msg);
}

/* ---- the MIME walk ---------------------------------------------------- */

typedef struct {
  RdMessage *msg;
  const RdParserLimits *limits;
  GMimeParserOptions *opts;
  GMimeObject *body_part;
  gboolean stop;
} Walk;

static gboolean
is_attachment (GMimeObject *o)
{
  const char *v = g_mime_object_get_header (o, "Content-Disposition");
  if (v == NULL)
    return FALSE;
  GMimeContentDisposition *d = g_mime_object_get_content_disposition (o);
  return d && g_mime_content_disposition_get_disposition (d)
      && g_ascii_strcasecmp (g_mime_content_disposition_get_disposition (d), "attachment") == 0;
}

/* The type/subtype Python would report: text/plain when the header is
 * absent or unusable (message/rfc822 inside multipart/digest). */
static char *
content_type_of (GMimeObject *o, gboolean in_digest)
{
  const char *raw = g_mime_object_get_header (o, "Content-Type");
  GMimeContentType *ct = g_mime_object_get_content_type (o);
  if (raw == NULL || ct == NULL || strchr (raw, '/') == NULL)
    return g_strdup (in_digest ? "message/rfc822" : "text/plain");
  const char *type = g_mime_content_type_get_media_type (ct);
  const char *sub = g_mime_content_type_get_media_subtype (ct);
  if (type == NULL || sub == NULL || !*type || !*sub)
    return g_strdup (in_digest ? "message/rfc822" : "text/plain");
  char *s = g_strconcat (type, "/", sub, NULL);
  for (char *c = s; *c; c++)
    *c = g_ascii_tolower (*c);
  return s;
}

static gboolean
is_digest (GMimeObject *o)
{
  GMimeContentType *ct = g_mime_object_get_content_type (o);
  return ct && g_mime_content_type_is_type (ct, "multipart", "digest");
}

/* Python's email.message.MIMEPart._find_body() for one subtype: depth
 * first, skipping Content-Disposition: attachment; inside
 * multipart/related only the start part (or the first part). */
static GMimeObject *
find_body (Walk *w, GMimeObject *o, const char *want, gboolean in_digest, guint depth)
{
  if (depth > w->limits->max_depth)
    return NULL;
  if (is_attachment (o))
    return NULL;
  g_autofree char *ct = content_type_of (o, in_digest);
  if (g_str_has_prefix (ct, "text/"))
    return g_str_equal (ct + 5, want) && GMIME_IS_PART (o) ? o : NULL;
  if (!GMIME_IS_MULTIPART (o))
    return NULL;
  GMimeMultipart *mp = GMIME_MULTIPART (o);
  int n = g_mime_multipart_get_count (mp);
  if (!g_str_equal (ct, "multipart/related"))
    {
      gboolean digest = is_digest (o);
      for (int i = 0; i < n; i++)
        {
          GMimeObject *r = find_body (w, g_mime_multipart_get_part (mp, i), want, digest, depth + 1);
          if (r)
            return r;
        }
      return NULL;
    }
  GMimeObject *candidate = NULL;
  const char *start = g_mime_object_get_content_type_parameter (o, "start");
  if (start && *start)
    for (int i = 0; i < n && candidate == NULL; i++)
      {
        GMimeObject *sub = g_mime_multipart_get_part (mp, i);
        const char *cid = g_mime_object_get_header (sub, "Content-ID");
        g_autofree char *cid_t = trimmed (cid);
        if (cid_t && g_str_equal (cid_t, start))
          candidate = sub;
      }
  if (candidate == NULL && n > 0)
    candidate = g_mime_multipart_get_part (mp, 0);
  return candidate ? find_body (w, candidate, want, FALSE, depth + 1) : NULL;
}

/* Base64 (RFC 2045 section 6.8) decoded leniently, as Python's email
 * package does: characters outside the alphabet skipped, a final
 * incomplete quantum of 2 or 3 characters kept (as if padded; GMime drops
 * it, losing the last bytes of files whose encoder forgot the padding),
 * and padding that completes a quantum ends the data (what follows is
 * trailing junk, e.g. a signature glued after the attachment). */
static const gint8 b64_value[256] = {
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -2, -1, -1,
  -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
  -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* Base64 (RFC 2045 section 6.8) decoded leniently, as Python's email
 * package does: characters outside the alphabet skipped, a final
 * incomplete quantum of 2 or 3 characters kept (as if padded; GMime drops
 * it, losing the last bytes of files whose encoder forgot the padding),
 * and padding that completes a quantum ends the data (what follows is
 * trailing junk, e.g. a signature glued after the attachment). */
static GBytes *
base64_decode (GMimeStream *in)
{
  gint64 enc_len = g_mime_stream_length (in);
  gsize cap = enc_len > 0 ? (gsize) enc_len / 4 * 3 + 3 : 4096;
  guint8 *out = g_malloc (cap);
  gsize o = 0;
  char buf[16384];
  guint32 acc = 0;
  int quad = 0, pads = 0;
  gssize n;
  g_mime_stream_reset (in);
  while ((n = g_mime_stream_read (in, buf, sizeof buf)) > 0)
    {
      if (cap - o < (gsize) n)
        {
          cap = cap * 2 + (gsize) n;
          out = g_realloc (out, cap);
        }
      for (gssize i = 0; i < n; i++)
        {
          /* fast path: four alphabet characters at a quantum boundary */
          if (quad == 0 && i + 4 <= n)
            {
              int a = b64_value[(guchar) buf[i]], b = b64_value[(guchar) buf[i + 1]];
              int c = b64_value[(guchar) buf[i + 2]], d = b64_value[(guchar) buf[i + 3]];
              if ((a | b | c | d) >= 0)
                {
                  guint32 q = ((guint32) a << 18) | ((guint32) b << 12) | ((guint32) c << 6) | (guint32) d;
                  out[o++] = (guint8) (q >> 16);
                  out[o++] = (guint8) (q >> 8);
                  out[o++] = (guint8) q;
                  pads = 0;
                  i += 3;
                  continue;
                }
            }
          int v = b64_value[(guchar) buf[i]];
          if (G_LIKELY (v >= 0))
            {
              pads = 0;
              acc = (acc << 6) | (guint32) v;
              if (++quad == 4)
                {
                  out[o++] = (guint8) (acc >> 16);
                  out[o++] = (guint8) (acc >> 8);
                  out[o++] = (guint8) acc;
                  quad = 0;
                  acc = 0;
                }
            }
          else if (v == -2 && quad >= 2 && quad + ++pads >= 4)
            goto done; /* padding completes the last quantum: the end */
        }
    }
done:
  if (cap - o < 2)
    out = g_realloc (out, o + 2);
  if (quad == 2)
    out[o++] = (guint8) (acc >> 4);
  else if (quad == 3)
    {
      out[o++] = (guint8) (acc >> 10);
      out[o++] = (guint8) (acc >> 2);
    }
  return g_bytes_new_take (out, o);
}

/* Decodes a leaf part's content (transfer encoding undone). */
static GBytes *
part_bytes (GMimePart *part)
{
  GMimeDataWrapper *dw = g_mime_part_get_content (part);
  if (dw == NULL)
    return g_bytes_new (NULL, 0);
  if (g_mime_data_wrapper_get_encoding (dw) == GMIME_CONTENT_ENCODING_BASE64 && g_mime_data_wrapper_get_stream (dw))
    return base64_decode (g_mime_data_wrapper_get_stream (dw));
  /* decoded size <= encoded size for every transfer encoding but uuencode */
  GMimeStream *src = g_mime_data_wrapper_get_stream (dw);
  gint64 enc_len = src ? g_mime_stream_length (src) : -1;
  GByteArray *out = g_byte_array_sized_new (enc_len > 0 && enc_len < G_MAXINT ? (guint) enc_len + 1 : 256);
  GMimeStream *mem = g_mime_stream_mem_new_with_byte_array (out);
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (mem), FALSE);
  g_mime_data_wrapper_write_to_stream (dw, mem);
  g_object_unref (mem);
  return g_byte_array_free_to_bytes (out);
}

static char *
header_subject (GMimeObject *inner_headers_owner)
{
  GMimeHeaderList *hl = g_mime_object_get_header_list (inner_headers_owner);
  GMimeHeader *h = g_mime_header_list_get_header (hl, "Subject");
  if (h == NULL)
    return NULL;
  const char *v = g_mime_header_get_value (h);
  return g_utf8_make_valid (v ? v : "", -1);
}

/* OpenSSL's SHA-256 uses the CPU's SHA extensions: several times faster
 * than GChecksum on attachment-sized data. */
static char *
sha256_hex (const guint8 *data, gsize len)
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256 (data ? data : (const guint8 *) "", len, md);
  char *hex = g_malloc (SHA256_DIGEST_LENGTH * 2 + 1);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
    {
      hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
      hex[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
    }
  hex[SHA256_DIGEST_LENGTH * 2] = '\0';
  return hex;
}

static void
add_attachment (Walk *w, GMimeObject *o, const char *ct, guint depth)
{
  RdAttachment *a = g_new0 (RdAttachment, 1);
  a->content_type = g_strdup (ct);
  a->depth = depth;
  const char *filename = NULL;
  if (GMIME_IS_PART (o))
    filename = g_mime_part_get_filename (GMIME_PART (o));
  else
    {
      filename = g_mime_object_get_content_disposition_parameter (o, "filename");
      if (filename == NULL)
        filename = g_mime_object_get_content_type_parameter (o, "name");
    }
  if (filename)
    {
      /* surrounding blanks are never part of a name (Python strips them) */
      a->filename = rd_decode_parameter (w->opts, filename);
      g_strstrip (a->filename);
    }
  if (g_mime_object_get_header (o, "Content-Disposition"))
    {
      GMimeContentDisposition *d = g_mime_object_get_content_disposition (o);
      const char *disp = d ? g_mime_content_disposition_get_disposition (d) : NULL;
      if (disp && *disp)
        {
          g_autofree char *t = trimmed (disp);
          a->disposition = g_ascii_strdown (t, -1);
        }
    }
  const char *cid = g_mime_object_get_content_id (o);
  if (cid)
    a->content_id = g_utf8_make_valid (cid, -1);
  const char *cs = g_mime_object_get_content_type_parameter (o, "charset");
  if (cs)
    a->charset = g_utf8_make_valid (cs, -1);
  if (g_str_has_prefix (ct, "message/"))
    {
      /* Re-serialised bytes differ between parsers: no size, no hash. */
      a->size = -1;
      if (GMIME_IS_MESSAGE_PART (o))
        {
          GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (o));
          if (inner)
            a->embedded_subject = header_subject (GMIME_OBJECT (inner));
        }
      else if (GMIME_IS_PART (o))
        a->content = part_bytes (GMIME_PART (o));
    }
  else if (GMIME_IS_PART (o))
    {
      a->content = part_bytes (GMIME_PART (o));
      gsize len = 0;
      const guint8 *data = g_bytes_get_data (a->content, &len);
      a->size = (gint64) len;
      a->sha256 = sha256_hex (data, len);
    }
  else
    {
      a->size = 0;
      a->sha256 = sha256_hex (NULL, 0);
    }
  g_ptr_array_add (w->msg->attachments, a);
}

/* Every leaf in document order, not looking into message parts. */
static void
walk_leaves (Walk *w, GMimeObject *o, gboolean in_digest, guint depth)
{
  if (w->stop)
    return;
  if (depth > w->msg->max_depth)
    w->msg->max_depth = depth;
  if (depth > w->limits->max_depth)
    {
      w->msg->limits_hit = TRUE;
      rd_message_warn (w->msg, "limit: MIME depth over %u, deeper parts ignored", w->limits->max_depth);
      return;
    }
  if (++w->msg->part_count > w->limits->max_parts)
    {
      w->msg->limits_hit = TRUE;
      w->stop = TRUE;
      rd_message_warn (w->msg, "limit: more than %u MIME parts, the rest ignored", w->limits->max_parts);
      return;
    }
  if (GMIME_IS_MULTIPART (o))
    {
      GMimeMultipart *mp = GMIME_MULTIPART (o);
      int n = g_mime_multipart_get_count (mp);
      gboolean digest = is_digest (o);
      for (int i = 0; i < n; i++)
        walk_leaves (w, g_mime_multipart_get_part (mp, i), digest, depth + 1);
      return;
    }
  if (o == w->body_part)
    return;
  g_autofree char *ct = content_type_of (o, in_digest);
  if (g_str_has_prefix (ct, "multipart/"))
    return; /* a broken container (no boundary): Python skips it too */
  if ((g_str_equal (ct, "text/plain") || g_str_equal (ct, "text/html")) && !is_attachment (o))
    {
      gboolean named = GMIME_IS_PART (o) && g_mime_part_get_filename (GMIME_PART (o)) != NULL;
      if (!named)
        return; /* an alternative of the body or a list footer */
    }
  add_attachment (w, o, ct, depth);
}

/* ---- delivery reports ------------------------------------------------- */

/* Splits "Name: value" fields (folded lines joined) of one block. */
static GPtrArray *
parse_fields (const char *text, const char **next)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (header_free);
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
parse_delivery_status (RdMessage *msg, GBytes *content)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (content, &len);
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
      r->action = lower_trim (field (f, "Action"));
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
          g_autofree char *u = unfold (v);
          msg->dsn_original_message_id = first_id (u);
        }
      return;
    }
  GMimeContentType *ct = g_mime_object_get_content_type (o);
  if (GMIME_IS_PART (o) && ct && g_mime_content_type_is_type (ct, "text", "rfc822-headers"))
    {
      g_autoptr(GBytes) b = part_bytes (GMIME_PART (o));
      gsize len = 0;
      const char *data = g_bytes_get_data (b, &len);
      msg->dsn_original_message_id = rd_peek_message_id (data ? data : "", len);
    }
}

static void
collect_dsn (RdMessage *msg, GMimeObject *root)
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
  /* Non-standard bounces (Exim) name the failed recipients in a header. */
  const char *xf = rd_message_get_header (msg, "X-Failed-Recipients");
  if (msg->dsn_recipients->len == 0 && xf)
    {
      g_auto(GStrv) list = g_strsplit (xf, ",", 64);
      for (guint i = 0; list[i]; i++)
        {
          g_strstrip (list[i]);
          if (!*list[i])
            continue;
          RdDsnRecipient *r = g_new0 (RdDsnRecipient, 1);
          r->addr = g_utf8_make_valid (list[i], -1);
          r->action = g_strdup ("failed");
          g_ptr_array_add (msg->dsn_recipients, r);
        }
    }
}

/* ---- addresses -------------------------------------------------------- */

static GPtrArray *
address_header (GMimeMessage *m, const char *name, GMimeParserOptions *opts)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (address_free);
  GMimeHeaderList *hl = g_mime_object_get_header_list (GMIME_OBJECT (m));
  int n = g_mime_header_list_get_count (hl);
  /* Every header of that name, in order (the contract reads them all). */
  for (int i = 0; i < n; i++)
    {
      GMimeHeader *h = g_mime_header_list_get_header_at (hl, i);
      const char *hname = g_mime_header_get_name (h);
      if (g_ascii_tolower (hname[0]) != g_ascii_tolower (name[0]) || g_ascii_strcasecmp (hname, name) != 0)
        continue;
      const char *raw = g_mime_header_get_raw_value (h);
      if (raw == NULL)
        continue;
      rd_parse_address_list (opts, raw, out);
    }
  return out;
}

/* ---- framing ---------------------------------------------------------- */

/* RFC 5322 section 2.2 / 4.5: "name:" with printable non-colon name
 * characters (the obsolete syntax allows blanks before the colon). */
static gboolean
is_header_line (const guint8 *l, gsize len)
{
  gsize i = 0;
  while (i < len && l[i] >= 33 && l[i] <= 126 && l[i] != ':')
    i++;
  if (i == 0 && len >= 5 && memcmp (l, "From ", 5) == 0)
    return TRUE;
  gsize name_end = i;
  while (i < len && (l[i] == ' ' || l[i] == '\t'))
    i++;
  return i < len && l[i] == ':' && (name_end > 0 || i == 0);
}

static gsize
line_len (const guint8 *p, const guint8 *end, gsize *content_len)
{
  const guint8 *nl = memchr (p, '\n', (gsize) (end - p));
  gsize n = nl ? (gsize) (nl - p) + 1 : (gsize) (end - p);
  gsize c = nl ? n - 1 : n;
  if (c > 0 && p[c - 1] == '\r')
    c--;
  *content_len = c;
  return n;
}

#define MAX_BOUNDARIES 64

/* The boundary parameters anywhere in the message (cheap scan). */
static GPtrArray *
find_boundaries (const guint8 *p, gsize n)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  const guint8 *end = p + n;
  for (const guint8 *eq = memchr (p, '=', n); eq && out->len < MAX_BOUNDARIES;
       eq = memchr (eq + 1, '=', (gsize) (end - eq - 1)))
    {
      if (eq - p < 8 || g_ascii_strncasecmp ((const char *) eq - 8, "boundary", 8) != 0)
        continue;
      const guint8 *v = eq + 1;
      const guint8 *e;
      if (v < end && *v == '"')
        {
          v++;
          e = v;
          while (e < end && *e != '"' && *e != '\n')
            e++;
        }
      else
        {
          e = v;
          while (e < end && *e != ';' && *e != '\r' && *e != '\n' && *e != ' ' && *e != '\t')
            e++;
        }
      if (e > v && e - v <= 200)
        g_ptr_array_add (out, g_strndup ((const char *) v, (gsize) (e - v)));
    }
  return out;
}

static gboolean
is_boundary_line (const guint8 *l, gsize len, GPtrArray *boundaries, gboolean *closing)
{
  if (len < 3 || l[0] != '-' || l[1] != '-')
    return FALSE;
  while (len > 2 && (l[len - 1] == ' ' || l[len - 1] == '\t'))
    len--;
  for (guint i = 0; i < boundaries->len; i++)
    {
      const char *b = g_ptr_array_index (boundaries, i);
      gsize bl = strlen (b);
      if (len == bl + 2 && memcmp (l + 2, b, bl) == 0)
        {
          *closing = FALSE;
          return TRUE;
        }
      if (len == bl + 4 && memcmp (l + 2, b, bl) == 0 && l[bl + 2] == '-' && l[bl + 3] == '-')
        {
          *closing = TRUE;
          return TRUE;
        }
    }
  return FALSE;
}

/* A header block (top level or a MIME part's) that runs into its content
 * without the empty line: the first line that is neither a header field
 * nor a continuation starts the content, as Python reads it (GMime would
 * swallow the content as broken headers, or let a part's Content-Type
 * override the message's). A junk line followed by a header field is
 * left alone: a damaged field inside the header block. A second
 * Content-Type field in one block is renamed X-Duplicate-Content-Type.
 * Returns the repaired copy, or NULL when nothing needed repair. */
static guint8 *
insert_separators (const guint8 *p, gsize n, gsize cap, gsize *out_len, guint *inserted, guint *capped)
{
  const guint8 *end = p + n;
  g_autoptr(GPtrArray) boundaries = NULL;
  GByteArray *out = NULL;
  gboolean in_headers = TRUE;
  gboolean ct_seen = FALSE;
  gboolean is_message = FALSE;   /* the block's Content-Type is message/rfc822 */
  gboolean in_embedded = FALSE;  /* in the header block of an attached message */
  gsize embedded_bytes = 0;
  const guint8 *copied = p;
  *inserted = 0;
  *capped = 0;
  for (const guint8 *l = p; l < end;)
    {
      gsize clen;
      gsize llen = line_len (l, end, &clen);
      const guint8 *next = l + llen;
      if (in_embedded)
        {
          /* An attached message's header block gets the same cap as the
           * top level: GMime decodes its address fields eagerly, in time
           * quadratic in a hostile field's length. Fields past the cap
           * are dropped. */
          if (clen == 0)
            in_embedded = FALSE;
          else if ((embedded_bytes += llen) > cap)
            {
              if (out == NULL)
                out = g_byte_array_sized_new (n + 64);
              g_byte_array_append (out, copied, (guint) (l - copied));
              copied = next;
              if (embedded_bytes - llen <= cap)
                (*capped)++; /* the first field over the cap in this block */
            }
        }
      else if (in_headers)
        {
          if (clen == 0)
            {
              in_headers = FALSE;
              if (is_message)
                {
                  in_embedded = TRUE;
                  embedded_bytes = 0;
                }
            }
          else if (clen > 13 && g_ascii_strncasecmp ((const char *) l, "Content-Type", 12) == 0
                   && (l[12] == ':' || l[12] == ' ' || l[12] == '\t'))
            {
              /* RFC 2045 allows one Content-Type: the first one counts (as
               * Python reads it; GMime would take the last). */
              if (ct_seen)
                {
                  if (out == NULL)
                    out = g_byte_array_sized_new (n + 64);
                  g_byte_array_append (out, copied, (guint) (l - copied));
                  g_byte_array_append (out, (const guint8 *) "X-Duplicate-", 12);
                  copied = l;
                  (*inserted)++;
                }
              else
                {
                  const guint8 *v = memchr (l, ':', clen);
                  if (v)
                    {
                      v++;
                      while (v < l + clen && (*v == ' ' || *v == '\t'))
                        v++;
                      gsize vl = (gsize) (l + clen - v);
                      is_message = (vl >= 14 && g_ascii_strncasecmp ((const char *) v, "message/rfc822", 14) == 0)
                                   || (vl >= 14 && g_ascii_strncasecmp ((const char *) v, "message/global", 14) == 0);
                    }
                }
              ct_seen = TRUE;
            }
          else if (l[0] != ' ' && l[0] != '\t' && !is_header_line (l, clen))
            {
              gsize nlen;
              gboolean next_is_header = next < end && (line_len (next, end, &nlen), nlen > 0)
                                        && is_header_line (next, nlen);
              if (!next_is_header)
                {
                  if (out == NULL)
                    out = g_byte_array_sized_new (n + 64);
                  g_byte_array_append (out, copied, (guint) (l - copied));
                  gboolean crlf = llen > clen + 1;
                  g_byte_array_append (out, (const guint8 *) (crlf ? "\r\n" : "\n"), crlf ? 2 : 1);
                  copied = l;
                  (*inserted)++;
                  in_headers = FALSE;
                  if (is_message)
                    {
                      in_embedded = TRUE;
                      embedded_bytes = 0;
                      continue; /* this line starts the attached message's header */
                    }
                }
            }
        }
      else if (clen >= 3 && l[0] == '-' && l[1] == '-')
        {
          if (boundaries == NULL)
            boundaries = find_boundaries (p, n);
          gboolean closing = FALSE;
          if (is_boundary_line (l, clen, boundaries, &closing) && !closing)
            {
              in_headers = TRUE;
              ct_seen = FALSE;
              is_message = FALSE;
            }
        }
      if (!in_headers && !in_embedded && next < end)
        {
          /* in content only boundary lines matter: jump to the next "--" line */
          const guint8 *q = next;
          while ((q = memchr (q, '-', (gsize) (end - q))) != NULL
                 && !(q[-1] == '\n' && q + 1 < end && q[1] == '-'))
            q++; /* base64 has no '-': memchr runs through it */
          if (q == NULL)
            break;
          next = q;
        }
      l = next;
    }
  if (out == NULL)
    return NULL;
  g_byte_array_append (out, copied, (guint) (end - copied));
  *out_len = out->len;
  return g_byte_array_free (out, FALSE);
}

/* Returns the bytes GMime should see: BOM and "From " line skipped, lone
 * CRs made LF, an over-long header block cut. @owned receives a copy
 * when one was needed. */
static const guint8 *
frame (RdMessage *msg, const RdParserLimits *limits, const guint8 *data, gsize *len, guint8 **owned)
{
  const guint8 *p = data;
  gsize n = *len;
  *owned = NULL;
  if (n >= 3 && memcmp (p, "\xef\xbb\xbf", 3) == 0)
    {
      p += 3;
      n -= 3;
      rd_message_warn (msg, "framing: UTF-8 byte order mark skipped");
    }
  if (n >= 5 && memcmp (p, "From ", 5) == 0)
    {
      const guint8 *eol = memchr (p, '\n', n);
      const guint8 *cr = memchr (p, '\r', eol ? (gsize) (eol - p) : n);
      const guint8 *e = cr && (!eol || cr < eol) && !(cr + 1 < p + n && cr[1] == '\n') ? cr : eol;
      gsize skip = e ? (gsize) (e - p) + 1 : n;
      p += skip;
      n -= skip;
    }
  /* Continuation lines before the first header field have nothing to
   * continue (Python records FirstHeaderLineIsContinuationDefect and
   * skips them); GMime would give up on the header block. */
  gboolean skipped_cont = FALSE;
  while (n > 0 && (p[0] == ' ' || p[0] == '\t'))
    {
      const guint8 *eol = memchr (p, '\n', n);
      gsize skip = eol ? (gsize) (eol - p) + 1 : n;
      p += skip;
      n -= skip;
      skipped_cont = TRUE;
    }
  if (skipped_cont)
    rd_message_warn (msg, "framing: continuation lines before the first header field skipped");
  /* Lone CR line ends (old Mac files, mixed files): GMime would read one
   * endless line, Python reads CR as a line break. */
  gboolean lone_cr = FALSE;
  for (const guint8 *cr = memchr (p, '\r', n); cr; cr = memchr (cr + 1, '\r', n - (gsize) (cr + 1 - p)))
    if (cr + 1 == p + n || cr[1] != '\n')
      {
        lone_cr = TRUE;
        break;
      }
  if (lone_cr)
    {
      guint8 *c = g_malloc (n + 1);
      gsize o = 0;
      for (gsize i = 0; i < n; i++)
        {
          if (p[i] == '\r')
            {
              if (i + 1 < n && p[i + 1] == '\n')
                continue;
              c[o++] = '\n';
            }
          else
            c[o++] = p[i];
        }
      *owned = c;
      p = c;
      n = o;
      rd_message_warn (msg, "framing: lone CR line ends read as LF");
    }
  guint inserted = 0, capped = 0;
  gsize fixed_len = 0;
  guint8 *fixed = insert_separators (p, n, limits->max_header_bytes, &fixed_len, &inserted, &capped);
  if (fixed)
    {
      g_free (*owned);
      *owned = fixed;
      p = fixed;
      n = fixed_len;
      if (inserted)
        rd_message_warn (msg, "framing: %u header block(s) repaired (no empty line before the content,"
                         " or a second Content-Type)", inserted);
      if (capped)
        {
          msg->limits_hit = TRUE;
          rd_message_warn (msg, "limit: header block of an attached message over %" G_GSIZE_FORMAT
                           " bytes, later fields dropped", limits->max_header_bytes);
        }
    }
  /* The header block: up to the first empty line. */
  gsize hdr_end = n;
  for (const guint8 *nl = memchr (p, '\n', n); nl; nl = memchr (nl + 1, '\n', n - (gsize) (nl + 1 - p)))
    {
      gsize i = (gsize) (nl - p);
      if (i + 1 < n && (p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')))
        {
          hdr_end = i + 1;
          break;
        }
    }
  if (hdr_end > limits->max_header_bytes)
    {
      gsize cut = limits->max_header_bytes;
      /* cut before the header field that crosses the cap */
      while (cut > 0 && !(p[cut - 1] == '\n' && p[cut] != ' ' && p[cut] != '\t'))
        cut--;
      guint8 *c = g_malloc (n - (hdr_end - cut) + 1);
      memcpy (c, p, cut);
      memcpy (c + cut, p + hdr_end, n - hdr_end);
      gsize nn = n - (hdr_end - cut);
      g_free (*owned);
      *owned = c;
      p = c;
      n = nn;
      msg->limits_hit = TRUE;
      rd_message_warn (msg, "limit: header block over %" G_GSIZE_FORMAT " bytes, later fields dropped",
                       limits->max_header_bytes);
    }
  *len = n;
  return p;
}

static const char *
parser_warning_name (GMimeParserWarning code)
{
  switch (code)
    {
    case GMIME_WARN_DUPLICATED_HEADER: return "duplicated header";
    case GMIME_WARN_DUPLICATED_PARAMETER: return "duplicated parameter";
    case GMIME_WARN_UNENCODED_8BIT_HEADER: return "unencoded 8-bit header";
    case GMIME_WARN_INVALID_CONTENT_TYPE: return "invalid content type";
    case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE: return "invalid RFC 2047 header value";
    case GMIME_WARN_MALFORMED_MULTIPART: return "malformed multipart";
    case GMIME_WARN_TRUNCATED_MESSAGE: return "truncated message";
    case GMIME_WARN_MALFORMED_MESSAGE: return "malformed message";
    case GMIME_CRIT_INVALID_HEADER_NAME: return "invalid header name";
    case GMIME_CRIT_CONFLICTING_HEADER: return "conflicting header";
    case GMIME_CRIT_CONFLICTING_PARAMETER: return "conflicting parameter";
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: return "multipart without boundary";
    case GMIME_WARN_INVALID_PARAMETER: return "invalid parameter";
    case GMIME_WARN_INVALID_ADDRESS_LIST: return "invalid address list";
    case GMIME_CRIT_NESTING_OVERFLOW: return "MIME nesting overflow";
    case GMIME_WARN_PART_WITHOUT_CONTENT: return "part without content";
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: return "part without headers or content";
    default: return "parser warning";
    }
}

static void
on_warning (gint64 offset, GMimeParserWarning code, const gchar *item, gpointer user_data)
{
  RdMessage *msg = user_data;
  if (item)
    {
      g_autofree char *esc = rd_log_escape (item, -1, 80);
      rd_message_warn (msg, "gmime: %s at offset %" G_GINT64_FORMAT ": %s", parser_warning_name (code), offset, esc);
    }
  else
    rd_message_warn (msg, "gmime: %s at offset %" G_GINT64_FORMAT, parser_warning_name (code), offset);
}

/* ---- the view --------------------------------------------------------- */

static void
set_body (RdMessage *msg, Walk *w, const char *source)
{
  GMimeObject *part = w->body_part;
  msg->body_source = g_strdup (source);
  g_autoptr(GBytes) bytes = part_bytes (GMIME_PART (part));
  const char *charset = g_mime_object_get_content_type_parameter (part, "charset");
  if (charset)
    {
      g_autofree char *cs = trimmed (charset);
      msg->body_charset = g_ascii_strdown (cs, -1);
    }
  msg->body_content_type = g_strdup_printf ("text/%s", source);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  if (len > w->limits->max_text_bytes)
    {
      msg->limits_hit = TRUE;
      rd_message_warn (msg, "limit: body text over %" G_GSIZE_FORMAT " bytes, cut", w->limits->max_text_bytes);
      len = w->limits->max_text_bytes;
    }
  char *text = rd_charset_to_utf8 (msg, data ? data : (const guint8 *) "", len, msg->body_charset);
  if (g_str_equal (source, "html"))
    {
      char *rendered = rd_html_to_text (text, strlen (text));
      g_free (text);
      text = rendered;
    }
  rd_text_normalize_in_place (text);
  msg->body_text = text;
  /* The quoted history is the tail of the body text (no copy); the new
   * text is a copy only when there is a split. */
  gsize split = rd_quote_split (msg->body_text);
  msg->body_quoted = msg->body_text + split;
  msg->body_new = msg->body_text[split] ? g_strndup (msg->body_text, split) : msg->body_text;
}

static char *
decoded_header (GMimeParserOptions *opts, const char *raw)
{
  if (raw == NULL)
    return NULL;
  return rd_decode_unstructured (opts, raw);
}

RdMessage *
rd_message_parse (GBytes *raw, GError **error)
{
  return rd_message_parse_with_limits (raw, NULL, error);
}

RdMessage *
rd_message_parse_with_limits (GBytes *raw, const RdParserLimits *limits_in, GError **error)
{
  rd_parser_init ();
  RdParserLimits limits;
  if (limits_in)
    limits = *limits_in;
  else
    rd_parser_limits_init (&limits);
  if (limits.max_header_bytes < 1024)
    limits.max_header_bytes = 1024;

  gsize len = 0;
  const guint8 *data = g_bytes_get_data (raw, &len);
  if (len == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "empty message");
      return NULL;
    }
  RdMessage *msg = g_new0 (RdMessage, 1);
  msg->refcount = 1;
  msg->raw = g_bytes_ref (raw);
  msg->warnings = g_ptr_array_new_with_free_func (g_free);
  msg->headers = g_ptr_array_new_with_free_func (header_free);
  msg->attachments = g_ptr_array_new_with_free_func (attachment_free);
  msg->dsn_recipients = g_ptr_array_new_with_free_func (dsn_recipient_free);

  g_autofree guint8 *owned = NULL;
  gsize flen = len;
  const guint8 *fdata = frame (msg, &limits, data, &flen, &owned);

  GMimeParserOptions *opts = g_mime_parser_options_new ();
  g_mime_parser_options_set_warning_callback (opts, on_warning, msg);
  g_mime_parser_options_set_allow_addresses_without_domain (opts, TRUE);
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer ((const char *) fdata, flen);
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  g_mime_parser_set_format (parser, GMIME_FORMAT_MESSAGE);
  GMimeMessage *m = g_mime_parser_construct_message (parser, opts);
  g_object_unref (parser);
  g_object_unref (stream);
  if (m == NULL)
    {
      g_mime_parser_options_free (opts);
      rd_message_unref (msg);
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "not a message: no header block found");
      return NULL;
    }

  GMimeHeaderList *hl = g_mime_object_get_header_list (GMIME_OBJECT (m));
  int nh = g_mime_header_list_get_count (hl);
  for (int i = 0; i < nh; i++)
    {
      GMimeHeader *h = g_mime_header_list_get_header_at (hl, i);
      RdHeader *rh = g_new0 (RdHeader, 1);
      rh->name = g_utf8_make_valid (g_mime_header_get_name (h), -1);
      g_autofree char *v = unfold (g_mime_header_get_raw_value (h));
      rh->value = rd_header_bytes_to_utf8 (v ? g_strchug (v) : "");
      g_ptr_array_add (msg->headers, rh);
    }

  /* Subject: decoded from the raw value (RFC 2047 words, raw 8-bit read
   * as UTF-8), folding line breaks removed, the whitespace after kept. */
  {
    GMimeHeader *h = g_mime_header_list_get_header (hl, "Subject");
    const char *rawv = h ? g_mime_header_get_raw_value (h) : NULL;
    if (h)
      {
        g_autofree char *u = unfold (rawv ? rawv : "");
        msg->subject = decoded_header (opts, u);
      }
  }
  msg->message_id = first_id (rd_message_get_header (msg, "Message-ID"));
  msg->in_reply_to = first_id (rd_message_get_header (msg, "In-Reply-To"));
  {
    g_autoptr(GPtrArray) refs = ids_from (rd_message_get_header (msg, "References"));
    GPtrArray *r = g_ptr_array_new ();
    for (guint i = 0; i < refs->len && i < 1000; i++)
      g_ptr_array_add (r, g_strdup (g_ptr_array_index (refs, i)));
    g_ptr_array_add (r, NULL);
    msg->references = (char **) g_ptr_array_free (r, FALSE);
  }
  msg->has_date = rd_parse_date (rd_message_get_header (msg, "Date"), &msg->date);
  msg->from = address_header (m, "From", opts);
  msg->to = address_header (m, "To", opts);
  msg->cc = address_header (m, "Cc", opts);
  msg->reply_to = address_header (m, "Reply-To", opts);
  msg->sender = address_header (m, "Sender", opts);
  {
    g_autofree char *as = decoded_header (opts, rd_message_get_header (msg, "Auto-Submitted"));
    msg->auto_submitted = lower_trim (as);
    g_autofree char *pr = decoded_header (opts, rd_message_get_header (msg, "Precedence"));
    msg->precedence = lower_trim (pr);
    g_autofree char *xs = decoded_header (opts, rd_message_get_header (msg, "X-Auto-Response-Suppress"));
    msg->x_auto_response_suppress = trimmed (xs);
  }
  {
    g_autofree char *lid = decoded_header (opts, rd_message_get_header (msg, "List-Id"));
    if (lid)
      {
        g_autofree char *t = trimmed (lid);
        /* the last <...> (same bracket rule as message ids, spaces kept) */
        const char *p = t;
        const char *last_lt = NULL, *last_gt = NULL;
        while ((p = strchr (p, '<')) != NULL)
          {
            const char *q = p + 1;
            while (*q && *q != '<' && *q != '>')
              q++;
            if (*q == '>')
              {
                last_lt = p;
                last_gt = q;
                p = q + 1;
              }
            else if (*q == '<')
              p = q;
            else
              break;
          }
        if (last_lt)
          {
            g_autofree char *inner = g_strndup (last_lt + 1, last_gt - last_lt - 1);
            msg->list_id = trimmed (inner);
          }
        else
          msg->list_id = g_steal_pointer (&t);
      }
  }
  msg->list_unsubscribe = trimmed (rd_message_get_header (msg, "List-Unsubscribe"));
  msg->list_post = trimmed (rd_message_get_header (msg, "List-Post"));
  msg->list_help = trimmed (rd_message_get_header (msg, "List-Help"));
  msg->list_archive = trimmed (rd_message_get_header (msg, "List-Archive"));
  msg->list_owner = trimmed (rd_message_get_header (msg, "List-Owner"));

  GMimeObject *root = g_mime_message_get_mime_part (m);
  if (root)
    {
      g_autofree char *rct = content_type_of (root, FALSE);
      if (g_str_equal (rct, "multipart/report"))
        {
          const char *rt = g_mime_object_get_content_type_parameter (root, "report-type");
          g_autofree char *rtt = trimmed (rt);
          msg->is_bounce = rtt && g_ascii_strcasecmp (rtt, "delivery-status") == 0;
        }
      Walk w = { msg, &limits, opts, NULL, FALSE };
      const char *source = "plain";
      w.body_part = find_body (&w, root, "plain", FALSE, 0);
      if (w.body_part == NULL)
        {
          source = "html";
          w.body_part = find_body (&w, root, "html", FALSE, 0);
        }
      if (w.body_part)
        set_body (msg, &w, source);
      else
        msg->body_source = g_strdup ("none");
      walk_leaves (&w, root, FALSE, 0);
      collect_dsn (msg, root);
    }
  else
    msg->body_source = g_strdup ("none");

  g_object_unref (m);
  g_mime_parser_options_free (opts);
  return msg;
}

RdMessage *
rd_message_ref (RdMessage *msg)
{
  g_atomic_int_inc (&msg->refcount);
  return msg;
}

void
rd_message_unref (RdMessage *msg)
{
  if (msg == NULL || !g_atomic_int_dec_and_test (&msg->refcount))
    return;
  g_bytes_unref (msg->raw);
  g_free (msg->subject);
  g_free (msg->message_id);
  g_free (msg->in_reply_to);
  g_strfreev (msg->references);
  g_clear_pointer (&msg->from, g_ptr_array_unref);
  g_clear_pointer (&msg->to, g_ptr_array_unref);
  g_clear_pointer (&msg->cc, g_ptr_array_unref);
  g_clear_pointer (&msg->reply_to, g_ptr_array_unref);
  g_clear_pointer (&msg->sender, g_ptr_array_unref);
  g_ptr_array_unref (msg->headers);
  g_ptr_array_unref (msg->attachments);
  g_ptr_array_unref (msg->warnings);
  g_ptr_array_unref (msg->dsn_recipients);
  g_free (msg->body_source);
  g_free (msg->body_text);
  if (msg->body_new != msg->body_text)
    g_free (msg->body_new);
  g_free (msg->body_content_type);
  g_free (msg->body_charset);
  g_free (msg->auto_submitted);
  g_free (msg->precedence);
  g_free (msg->list_id);
  g_free (msg->x_auto_response_suppress);
  g_free (msg->list_unsubscribe);
  g_free (msg->list_post);
  g_free (msg->list_help);
  g_free (msg->list_archive);
  g_free (msg->list_owner);
  g_free (msg->dsn_original_message_id);
  g_free (msg);
}

GBytes *rd_message_get_raw (const RdMessage *msg) { return msg->raw; }
gsize rd_message_get_size (const RdMessage *msg) { return g_bytes_get_size (msg->raw); }
const char *rd_message_get_subject (const RdMessage *msg) { return msg->subject; }
const char *rd_message_get_message_id (const RdMessage *msg) { return msg->message_id; }
const char *rd_message_get_in_reply_to (const RdMessage *msg) { return msg->in_reply_to; }
const char *const *rd_message_get_references (const RdMessage *msg) { return (const char *const *) msg->references; }

gboolean
rd_message_get_date (const RdMessage *msg, gint64 *unix_seconds)
{
  if (msg->has_date && unix_seconds)
    *unix_seconds = msg->date;
  return msg->has_date;
}

GPtrArray *rd_message_get_from (const RdMessage *msg) { return msg->from; }
GPtrArray *rd_message_get_to (const RdMessage *msg) { return msg->to; }
GPtrArray *rd_message_get_cc (const RdMessage *msg) { return msg->cc; }
GPtrArray *rd_message_get_reply_to (const RdMessage *msg) { return msg->reply_to; }
GPtrArray *rd_message_get_sender (const RdMessage *msg) { return msg->sender; }
GPtrArray *rd_message_get_headers (const RdMessage *msg) { return msg->headers; }

const char *
rd_message_get_header (const RdMessage *msg, const char *name)
{
  char first = g_ascii_tolower (name[0]);
  for (guint i = 0; i < msg->headers->len; i++)
    {
      RdHeader *h = g_ptr_array_index (msg->headers, i);
      if (g_ascii_tolower (h->name[0]) == first && g_ascii_strcasecmp (h->name, name) == 0)
        return h->value;
    }
  return NULL;
}

const char *rd_message_get_body_source (const RdMessage *msg) { return msg->body_source; }
const char *rd_message_get_body_text (const RdMessage *msg) { return msg->body_text; }
GPtrArray *rd_message_get_attachments (const RdMessage *msg) { return msg->attachments; }
const char *rd_message_get_auto_submitted (const RdMessage *msg) { return msg->auto_submitted; }
const char *rd_message_get_precedence (const RdMessage *msg) { return msg->precedence; }
const char *rd_message_get_list_id (const RdMessage *msg) { return msg->list_id; }
gboolean rd_message_is_bounce (const RdMessage *msg) { return msg->is_bounce; }
GPtrArray *rd_message_get_warnings (const RdMessage *msg) { return msg->warnings; }
const char *rd_message_get_body_content_type (const RdMessage *msg) { return msg->body_content_type; }
const char *rd_message_get_body_charset (const RdMessage *msg) { return msg->body_charset; }
const char *rd_message_get_body_new_text (const RdMessage *msg) { return msg->body_new; }
const char *rd_message_get_body_quoted (const RdMessage *msg) { return msg->body_quoted; }
const char *rd_message_get_x_auto_response_suppress (const RdMessage *msg) { return msg->x_auto_response_suppress; }
const char *rd_message_get_list_unsubscribe (const RdMessage *msg) { return msg->list_unsubscribe; }
const char *rd_message_get_list_post (const RdMessage *msg) { return msg->list_post; }
const char *rd_message_get_list_help (const RdMessage *msg) { return msg->list_help; }
const char *rd_message_get_list_archive (const RdMessage *msg) { return msg->list_archive; }
const char *rd_message_get_list_owner (const RdMessage *msg) { return msg->list_owner; }
const char *rd_message_get_dsn_original_message_id (const RdMessage *msg) { return msg->dsn_original_message_id; }
GPtrArray *rd_message_get_dsn_recipients (const RdMessage *msg) { return msg->dsn_recipients; }
guint rd_message_get_part_count (const RdMessage *msg) { return msg->part_count; }
guint rd_message_get_max_depth (const RdMessage *msg) { return msg->max_depth; }
gboolean rd_message_get_limits_hit (const RdMessage *msg) { return msg->limits_hit; }

gboolean
rd_message_is_automated (const RdMessage *msg)
{
  if (msg->auto_submitted && g_strcmp0 (msg->auto_submitted, "no") != 0)
    return TRUE;
  if (msg->precedence && (g_str_equal (msg->precedence, "bulk") || g_str_equal (msg->precedence, "junk")
                          || g_str_equal (msg->precedence, "list")))
    return TRUE;
  return msg->list_id != NULL || msg->x_auto_response_suppress != NULL || msg->is_bounce;
}

char *
rd_header_decode (const char *raw_value)
{
  return rd_decode_unstructured (NULL, raw_value);
}
