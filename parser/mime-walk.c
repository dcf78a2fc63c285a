/* relaydesk — parser: the MIME walk (step 4 and 5 of message.c).
 *
 * One walk of GMime's tree, capped in depth and part count, picks the
 * body part the way Python's email.message.get_body() does (the shared
 * corpus reference), decodes it to UTF-8 (html-text.c renders HTML) and
 * splits it into new text and quoted history (quote.c); every other leaf
 * is listed as an attachment with its decoded bytes.
 */
#include "parser-private.h"
#include "body-parts.h"

#include <openssl/sha.h>
#include <string.h>

void
rd_attachment_free (gpointer p)
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
  g_strfreev (a->texts);
  g_free (a);
}

typedef struct {
  RdMessage *msg;
  const RdParserLimits *limits;
  GMimeParserOptions *opts;
  GMimeObject *body_part;
  gboolean stop;
  const guint8 *data;   /* the bytes GMime parsed */
  gsize len;
  gboolean in_raw;      /* @data points into msg->raw (no repair copy) */
} Walk;

/* The boundaries of the multiparts around a part, innermost first. */
typedef struct Bounds {
  const char *boundary;
  const struct Bounds *outer;
} Bounds;

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
char *
rd_mime_content_type (GMimeObject *o, gboolean in_digest)
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
  g_autofree char *ct = rd_mime_content_type (o, in_digest);
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
        g_autofree char *cid_t = rd_str_trimmed (cid);
        if (cid_t && g_str_equal (cid_t, start))
          candidate = sub;
      }
  if (candidate == NULL && n > 0)
    candidate = g_mime_multipart_get_part (mp, 0);
  return candidate ? find_body (w, candidate, want, FALSE, depth + 1) : NULL;
}

/* Base64 alphabet values; -2 for the pad character "=". */
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
base64_decode (GMimeStream *in, gsize max)
{
  gint64 enc_len = g_mime_stream_length (in);
  gsize cap = enc_len > 0 ? (gsize) enc_len / 4 * 3 + 3 : 4096;
  if (max < G_MAXSIZE - 16)
    cap = MIN (cap, max + 16); /* a bounded decode: the rest is never read */
  guint8 *out = g_malloc (cap);
  gsize o = 0;
  char buf[16384];
  guint32 acc = 0;
  int quad = 0, pads = 0;
  gssize n;
  g_mime_stream_reset (in);
  while (o < max && (n = g_mime_stream_read (in, buf, sizeof buf)) > 0)
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

/* Decodes a leaf part's content (transfer encoding undone), at least
 * the first @max bytes of it (more may come: callers cut). The body text
 * needs no more than [parser] max_text_bytes of a part that may decode
 * to a gigabyte. */
GBytes *
rd_mime_part_bytes_max (GMimePart *part, gsize max)
{
  GMimeDataWrapper *dw = g_mime_part_get_content (part);
  if (dw == NULL)
    return g_bytes_new (NULL, 0);
  if (g_mime_data_wrapper_get_encoding (dw) == GMIME_CONTENT_ENCODING_BASE64 && g_mime_data_wrapper_get_stream (dw))
    return base64_decode (g_mime_data_wrapper_get_stream (dw), max);
  /* decoded size <= encoded size for every transfer encoding but uuencode */
  GMimeStream *src = g_mime_data_wrapper_get_stream (dw);
  gint64 enc_len = src ? g_mime_stream_length (src) : -1;
  gsize want = enc_len > 0 && enc_len < G_MAXINT ? (gsize) enc_len + 1 : 256;
  gboolean bounded = max < G_MAXINT && want > max + 1;
  GByteArray *out = g_byte_array_sized_new ((guint) (bounded ? max + 1 : want));
  GMimeStream *mem = g_mime_stream_mem_new_with_byte_array (out);
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (mem), FALSE);
  if (bounded)
    {
      /* A filter stream on the source, read up to the bound. */
      GMimeStream *f = g_mime_stream_filter_new (src);
      GMimeFilter *dec = g_mime_filter_basic_new (g_mime_data_wrapper_get_encoding (dw), FALSE);
      g_mime_stream_filter_add (GMIME_STREAM_FILTER (f), dec);
      g_object_unref (dec);
      g_mime_stream_reset (src);
      char buf[16384];
      gssize n;
      while (out->len <= max && (n = g_mime_stream_read (f, buf, sizeof buf)) > 0)
        g_byte_array_append (out, (const guint8 *) buf, (guint) n);
      g_object_unref (f);
    }
  else
    g_mime_data_wrapper_write_to_stream (dw, mem);
  g_object_unref (mem);
  return g_byte_array_free_to_bytes (out);
}

GBytes *
rd_mime_part_bytes (GMimePart *part)
{
  return rd_mime_part_bytes_max (part, G_MAXSIZE);
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

/* TRUE when the line at @l (up to @end) is a delimiter of one of
 * @bounds: "--" boundary, then "--", blanks or the line end (RFC 2046
 * section 5.1.1; GMime reads trailing blanks as part of it too). */
static gboolean
is_delimiter (const guint8 *l, const guint8 *end, const Bounds *bounds)
{
  for (const Bounds *b = bounds; b; b = b->outer)
    {
      if (b->boundary == NULL)
        continue;
      gsize bl = strlen (b->boundary);
      if ((gsize) (end - l) < bl + 2 || memcmp (l + 2, b->boundary, bl) != 0)
        continue;
      const guint8 *t = l + 2 + bl;
      if (t == end || *t == '\r' || *t == '\n' || *t == ' ' || *t == '\t' || (t + 1 < end && t[0] == '-' && t[1] == '-'))
        return TRUE;
    }
  return FALSE;
}

/* An attached message as written: the bytes GMime parsed from its first
 * header field up to the line end before the delimiter that closes it
 * (that line end belongs to the delimiter, RFC 2046 section 5.1.1), or
 * to the end. A slice of the raw message when no repair copy was
 * needed; GMime's re-serialisation only when the offsets are unknown. */
static GBytes *
message_bytes (Walk *w, GMimeMessage *inner, const Bounds *bounds)
{
  GMimeHeaderList *hl = g_mime_object_get_header_list (GMIME_OBJECT (inner));
  gint64 off = g_mime_header_list_get_count (hl) > 0
                 ? g_mime_header_get_offset (g_mime_header_list_get_header_at (hl, 0)) : -1;
  if (off < 0 || (guint64) off >= w->len)
    {
      GByteArray *out = g_byte_array_new ();
      GMimeStream *mem = g_mime_stream_mem_new_with_byte_array (out);
      g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (mem), FALSE);
      g_mime_object_write_to_stream (GMIME_OBJECT (inner), NULL, mem);
      g_object_unref (mem);
      return g_byte_array_free_to_bytes (out);
    }
  const guint8 *start = w->data + off, *end = w->data + w->len, *stop = end;
  for (const guint8 *nl = bounds ? memmem (start, (gsize) (end - start), "\n--", 3) : NULL; nl;
       nl = memmem (nl + 1, (gsize) (end - nl - 1), "\n--", 3))
    if (is_delimiter (nl + 1, end, bounds))
      {
        stop = nl > start && nl[-1] == '\r' ? nl - 1 : nl;
        break;
      }
  if (w->in_raw)
    {
      const guint8 *raw = g_bytes_get_data (w->msg->raw, NULL);
      return g_bytes_new_from_bytes (w->msg->raw, (gsize) (start - raw), (gsize) (stop - start));
    }
  return g_bytes_new (start, (gsize) (stop - start));
}

static void
add_attachment (Walk *w, GMimeObject *o, const char *ct, guint depth, const Bounds *bounds)
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
          g_autofree char *t = rd_str_trimmed (disp);
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
            {
              a->embedded_subject = header_subject (GMIME_OBJECT (inner));
              a->content = message_bytes (w, inner, bounds);
              a->texts = rd_body_texts_of (g_mime_message_get_mime_part (inner));
            }
        }
      else if (GMIME_IS_PART (o))
        a->content = rd_mime_part_bytes (GMIME_PART (o));
    }
  else if (GMIME_IS_PART (o))
    {
      a->content = rd_mime_part_bytes (GMIME_PART (o));
      gsize len = 0;
      const guint8 *data = g_bytes_get_data (a->content, &len);
      a->size = (gint64) len;
      a->sha256 = sha256_hex (data, len);
      char *text = rd_body_part_text (ct, a->charset, data, len);
      if (text)
        {
          a->texts = g_new0 (char *, 2);
          a->texts[0] = text;
        }
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
walk_leaves (Walk *w, GMimeObject *o, gboolean in_digest, guint depth, const Bounds *bounds)
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
      Bounds inner = { g_mime_multipart_get_boundary (mp), bounds };
      for (int i = 0; i < n; i++)
        walk_leaves (w, g_mime_multipart_get_part (mp, i), digest, depth + 1, &inner);
      return;
    }
  if (o == w->body_part)
    return;
  g_autofree char *ct = rd_mime_content_type (o, in_digest);
  if (g_str_has_prefix (ct, "multipart/"))
    return; /* a broken container (no boundary): Python skips it too */
  if ((g_str_equal (ct, "text/plain") || g_str_equal (ct, "text/html")) && !is_attachment (o))
    {
      gboolean named = GMIME_IS_PART (o) && g_mime_part_get_filename (GMIME_PART (o)) != NULL;
      if (!named)
        return; /* an alternative of the body or a list footer */
    }
  add_attachment (w, o, ct, depth, bounds);
}

static void
set_body (RdMessage *msg, Walk *w, const char *source)
{
  GMimeObject *part = w->body_part;
  msg->body_source = g_strdup (source);
  g_autoptr(GBytes) bytes = rd_mime_part_bytes_max (GMIME_PART (part), w->limits->max_text_bytes + 1);
  const char *charset = g_mime_object_get_content_type_parameter (part, "charset");
  if (charset)
    {
      g_autofree char *cs = rd_str_trimmed (charset);
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

void
rd_mime_walk (RdMessage *msg, GMimeObject *root, const RdParserLimits *limits, GMimeParserOptions *opts,
              const guint8 *data, gsize len, gboolean in_raw)
{
  Walk w = { msg, limits, opts, NULL, FALSE, data, len, in_raw };
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
  walk_leaves (&w, root, FALSE, 0, NULL);
}
