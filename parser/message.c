/* relaydesk — parser: the message view, built with GMime. */
#include "message.h"
#include "rd-common.h"

#include <gmime/gmime.h>
#include <string.h>

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
  GPtrArray *attachments;
  char *auto_submitted;
  char *precedence;
  char *list_id;
  gboolean is_bounce;
  GPtrArray *warnings;
};

void
rd_parser_init (void)
{
  static gsize done;
  if (g_once_init_enter (&done))
    {
      g_mime_init ();
      g_once_init_leave (&done, 1);
    }
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
  g_free (a);
}

static void
flatten_addresses (InternetAddressList *list, GPtrArray *out)
{
  if (list == NULL)
    return;
  int n = internet_address_list_length (list);
  for (int i = 0; i < n; i++)
    {
      InternetAddress *ia = internet_address_list_get_address (list, i);
      if (INTERNET_ADDRESS_IS_GROUP (ia))
        {
          flatten_addresses (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (ia)), out);
          continue;
        }
      if (!INTERNET_ADDRESS_IS_MAILBOX (ia))
        continue;
      const char *addr = internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (ia));
      const char *name = internet_address_get_name (ia);
      RdAddress *a = g_new0 (RdAddress, 1);
      a->name = g_utf8_make_valid (name ? name : "", -1);
      a->addr = g_utf8_make_valid (addr ? addr : "", -1);
      g_ptr_array_add (out, a);
    }
}

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
      if (g_ascii_strcasecmp (g_mime_header_get_name (h), name) != 0)
        continue;
      const char *raw = g_mime_header_get_raw_value (h);
      if (raw == NULL)
        continue;
      InternetAddressList *list = internet_address_list_parse (opts, raw);
      flatten_addresses (list, out);
      if (list)
        g_object_unref (list);
    }
  return out;
}

static char *
unfold (const char *raw)
{
  if (raw == NULL)
    return NULL;
  GString *s = g_string_new (NULL);
  for (const char *p = raw; *p; p++)
    {
      if (*p == '\r' || *p == '\n')
        continue;
      g_string_append_c (s, *p);
    }
  return g_string_free (s, FALSE);
}

static char *
lower_trim (const char *v)
{
  if (v == NULL)
    return NULL;
  g_autofree char *u = unfold (v);
  g_strstrip (u);
  return g_ascii_strdown (u, -1);
}

/* Decodes a leaf part's content (transfer encoding) into bytes. */
static GByteArray *
part_bytes (GMimePart *part)
{
  GMimeDataWrapper *w = g_mime_part_get_content (part);
  GByteArray *out = g_byte_array_new ();
  if (w == NULL)
    return out;
  GMimeStream *mem = g_mime_stream_mem_new_with_byte_array (out);
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (mem), FALSE);
  g_mime_data_wrapper_write_to_stream (w, mem);
  g_object_unref (mem);
  return out;
}

/* Converts bytes in @charset to UTF-8; unknown or broken charsets fall
 * back to replacement characters rather than losing the text. */
static char *
to_utf8 (const guint8 *data, gsize len, const char *charset)
{
  if (len == 0)
    return g_strdup ("");  /* an empty part: GByteArray data may be NULL */
  if (charset == NULL || !g_ascii_strcasecmp (charset, "us-ascii") || !g_ascii_strcasecmp (charset, "utf-8"))
    return g_utf8_make_valid ((const char *) data, len);
  const char *iconv_name = g_mime_charset_iconv_name (charset);
  gsize written = 0;
  char *out = g_convert_with_fallback ((const char *) data, len, "UTF-8", iconv_name, "\xef\xbf\xbd", NULL, &written, NULL);
  if (out != NULL)
    {
      char *valid = g_utf8_make_valid (out, written);
      g_free (out);
      return valid;
    }
  return g_utf8_make_valid ((const char *) data, len);
}

static char *
normalize_text (const char *text)
{
  /* CRLF and lone CR -> LF; trailing whitespace per line and trailing
   * empty lines removed (the corpus contract's normalisation). */
  GString *s = g_string_new (NULL);
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

typedef struct {
  RdMessage *msg;
  GMimeObject *body_part;
} Walk;

static gboolean
is_attachment_disposition (GMimeObject *o)
{
  GMimeContentDisposition *d = g_mime_object_get_content_disposition (o);
  return d && g_mime_content_disposition_is_attachment (d);
}

/* The body: the first text/plain part, depth first, not an attachment,
 * never inside an attached message; only the root of multipart/related. */
static GMimeObject *
find_body (GMimeObject *o, const char *subtype)
{
  if (GMIME_IS_MULTIPART (o))
    {
      GMimeContentType *ct = g_mime_object_get_content_type (o);
      int n = g_mime_multipart_get_count (GMIME_MULTIPART (o));
      if (ct && g_mime_content_type_is_type (ct, "multipart", "related") && n > 0)
        n = 1;
      for (int i = 0; i < n; i++)
        {
          GMimeObject *r = find_body (g_mime_multipart_get_part (GMIME_MULTIPART (o), i), subtype);
          if (r)
            return r;
        }
      return NULL;
    }
  if (GMIME_IS_PART (o))
    {
      GMimeContentType *ct = g_mime_object_get_content_type (o);
      if (ct && g_mime_content_type_is_type (ct, "text", subtype) && !is_attachment_disposition (o))
        return o;
    }
  return NULL;
}

static void
collect_attachments (Walk *w, GMimeObject *o)
{
  if (GMIME_IS_MULTIPART (o))
    {
      int n = g_mime_multipart_get_count (GMIME_MULTIPART (o));
      for (int i = 0; i < n; i++)
        collect_attachments (w, g_mime_multipart_get_part (GMIME_MULTIPART (o), i));
      return;
    }
  if (o == w->body_part)
    return;
  GMimeContentType *ct = g_mime_object_get_content_type (o);
  const char *filename = GMIME_IS_PART (o) ? g_mime_part_get_filename (GMIME_PART (o)) : NULL;
  if (ct && (g_mime_content_type_is_type (ct, "text", "plain") || g_mime_content_type_is_type (ct, "text", "html"))
      && filename == NULL && !is_attachment_disposition (o))
    return;
  RdAttachment *a = g_new0 (RdAttachment, 1);
  a->filename = filename ? g_utf8_make_valid (filename, -1) : NULL;
  g_autofree char *mime_type = ct ? g_mime_content_type_get_mime_type (ct) : NULL;  /* transfer full */
  a->content_type = mime_type ? g_ascii_strdown (mime_type, -1) : g_strdup ("text/plain");
  GMimeContentDisposition *d = g_mime_object_get_content_disposition (o);
  a->disposition = d && g_mime_content_disposition_get_disposition (d)
      ? g_ascii_strdown (g_mime_content_disposition_get_disposition (d), -1) : NULL;
  const char *cid = g_mime_object_get_content_id (o);
  a->content_id = cid ? g_strdup (cid) : NULL;
  if (GMIME_IS_MESSAGE_PART (o))
    {
      a->size = -1;
      GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (o));
      if (inner && g_mime_message_get_subject (inner))
        a->embedded_subject = g_utf8_make_valid (g_mime_message_get_subject (inner), -1);
    }
  else if (GMIME_IS_PART (o))
    {
      g_autoptr(GByteArray) bytes = part_bytes (GMIME_PART (o));
      a->size = bytes->len;
      a->sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, bytes->data, bytes->len);
    }
  g_ptr_array_add (w->msg->attachments, a);
}

static void
on_warning (gint64 offset, GMimeParserWarning errcode, const gchar *item, gpointer user_data)
{
  RdMessage *msg = user_data;
  if (msg->warnings->len < 100)
    g_ptr_array_add (msg->warnings,
                     g_strdup_printf ("offset %" G_GINT64_FORMAT ": warning %d%s%s",
                                      offset, (int) errcode, item ? ": " : "", item ? item : ""));
}

RdMessage *
rd_message_parse (GBytes *raw, GError **error)
{
  rd_parser_init ();
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

  GMimeParserOptions *opts = g_mime_parser_options_new ();
  g_mime_parser_options_set_warning_callback (opts, on_warning, msg);
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer ((const char *) data, len);
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
      rh->value = g_utf8_make_valid (v ? g_strchug (v) : "", -1);
      g_ptr_array_add (msg->headers, rh);
    }

  const char *subject = g_mime_message_get_subject (m);
  msg->subject = subject ? g_utf8_make_valid (subject, -1) : NULL;
  msg->message_id = rd_msgid_normalize (rd_message_get_header (msg, "Message-ID"));
  msg->in_reply_to = rd_msgid_normalize (rd_message_get_header (msg, "In-Reply-To"));
  {
    GPtrArray *refs = g_ptr_array_new ();
    const char *r = rd_message_get_header (msg, "References");
    while (r && (r = strchr (r, '<')) != NULL)
      {
        const char *gt = strchr (r, '>');
        if (gt == NULL)
          break;
        g_autofree char *one = g_strndup (r, gt - r + 1);
        char *id = rd_msgid_normalize (one);
        if (id)
          g_ptr_array_add (refs, id);
        r = gt + 1;
      }
    g_ptr_array_add (refs, NULL);
    msg->references = (char **) g_ptr_array_free (refs, FALSE);
  }
  GDateTime *date = g_mime_message_get_date (m);
  if (date && rd_message_get_header (msg, "Date"))
    {
      msg->has_date = TRUE;
      msg->date = g_date_time_to_unix (date);
    }
  msg->from = address_header (m, "From", opts);
  msg->to = address_header (m, "To", opts);
  msg->cc = address_header (m, "Cc", opts);
  msg->reply_to = address_header (m, "Reply-To", opts);
  msg->sender = address_header (m, "Sender", opts);
  msg->auto_submitted = lower_trim (rd_message_get_header (msg, "Auto-Submitted"));
  msg->precedence = lower_trim (rd_message_get_header (msg, "Precedence"));
  {
    const char *lid = rd_message_get_header (msg, "List-Id");
    if (lid)
      {
        const char *lt = strrchr (lid, '<');
        const char *gt = lt ? strchr (lt, '>') : NULL;
        if (lt && gt)
          msg->list_id = g_strndup (lt + 1, gt - lt - 1);
        else
          msg->list_id = g_strstrip (g_strdup (lid));
      }
  }

  GMimeObject *root = g_mime_message_get_mime_part (m);
  if (root)
    {
      GMimeContentType *ct = g_mime_object_get_content_type (root);
      if (ct && g_mime_content_type_is_type (ct, "multipart", "report"))
        {
          const char *rt = g_mime_content_type_get_parameter (ct, "report-type");
          msg->is_bounce = rt && g_ascii_strcasecmp (rt, "delivery-status") == 0;
        }
      Walk w = { msg, NULL };
      w.body_part = find_body (root, "plain");
      msg->body_source = g_strdup ("plain");
      if (w.body_part == NULL)
        {
          w.body_part = find_body (root, "html");
          g_free (msg->body_source);
          msg->body_source = g_strdup ("html");
        }
      if (w.body_part != NULL)
        {
          g_autoptr(GByteArray) bytes = part_bytes (GMIME_PART (w.body_part));
          const char *charset = g_mime_object_get_content_type_parameter (w.body_part, "charset");
          g_autofree char *text = to_utf8 (bytes->data, bytes->len, charset);
          msg->body_text = normalize_text (text);
        }
      else
        {
          g_free (msg->body_source);
          msg->body_source = g_strdup ("none");
        }
      collect_attachments (&w, root);
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
  if (msg->from) g_ptr_array_unref (msg->from);
  if (msg->to) g_ptr_array_unref (msg->to);
  if (msg->cc) g_ptr_array_unref (msg->cc);
  if (msg->reply_to) g_ptr_array_unref (msg->reply_to);
  if (msg->sender) g_ptr_array_unref (msg->sender);
  g_ptr_array_unref (msg->headers);
  g_ptr_array_unref (msg->attachments);
  g_ptr_array_unref (msg->warnings);
  g_free (msg->body_source);
  g_free (msg->body_text);
  g_free (msg->auto_submitted);
  g_free (msg->precedence);
  g_free (msg->list_id);
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
  for (guint i = 0; i < msg->headers->len; i++)
    {
      RdHeader *h = g_ptr_array_index (msg->headers, i);
      if (g_ascii_strcasecmp (h->name, name) == 0)
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
