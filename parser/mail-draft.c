/* relaydesk — parser: composing outgoing mail (RdMailDraft, mail-format.h).
 *
 * The draft keeps plain strings until rd_mail_draft_to_bytes, which
 * builds the GMime message and writes it with CRLF line ends. Shapes:
 *   text/plain                              (rd_mail_draft_set_text)
 *   the entity given                        (rd_mail_draft_set_mime_entity)
 *   multipart/mixed: body, attachments...   (rd_mail_draft_add_attachment)
 *   multipart/report; report-type=disposition-notification (RFC 6522,
 *     RFC 8098): text/plain, message/disposition-notification,
 *     text/rfc822-headers                   (rd_mail_draft_set_mdn)
 * Every value given is flattened to one line before GMime sees it: a
 * CR or LF in a subject, name or field value (a Sieve script's text, a
 * ticket subject) must never start a header field of its own.
 */
#include "mail-format.h"
#include "parser-private.h"

#include <gmime/gmime.h>
#include <string.h>

/* GMime 3.2 declares no autoptr cleanups; these are local to this file. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeObject, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimePart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMultipart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeDataWrapper, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeContentType, g_object_unref)

typedef struct {
  char *filename;
  char *content_type;
  GBytes *data;
} DraftAttachment;

struct _RdMailDraft {
  RdAddress *from, *reply_to;
  GPtrArray *to, *cc;          /* RdAddress* */
  char *subject;
  char *message_id;
  gboolean has_date;
  gint64 date;
  char *in_reply_to;
  GPtrArray *references;       /* char*, oldest first, capped */
  GPtrArray *headers;          /* RdHeader*, flattened */
  char *text;
  char *entity;
  GPtrArray *attachments;      /* DraftAttachment* */
  gboolean has_mdn;
  char *mdn_ua, *mdn_recipient, *mdn_original_id, *mdn_disposition;
  GBytes *mdn_original;
};

static void
draft_attachment_free (gpointer p)
{
  DraftAttachment *a = p;
  g_free (a->filename);
  g_free (a->content_type);
  g_bytes_unref (a->data);
  g_free (a);
}

RdMailDraft *
rd_mail_draft_new (void)
{
  RdMailDraft *d = g_new0 (RdMailDraft, 1);
  d->to = g_ptr_array_new_with_free_func (rd_address_free);
  d->cc = g_ptr_array_new_with_free_func (rd_address_free);
  d->references = g_ptr_array_new_with_free_func (g_free);
  d->headers = g_ptr_array_new_with_free_func (rd_header_free);
  d->attachments = g_ptr_array_new_with_free_func (draft_attachment_free);
  return d;
}

void
rd_mail_draft_free (RdMailDraft *d)
{
  if (d == NULL)
    return;
  g_clear_pointer (&d->from, rd_address_free);
  g_clear_pointer (&d->reply_to, rd_address_free);
  g_ptr_array_unref (d->to);
  g_ptr_array_unref (d->cc);
  g_free (d->subject);
  g_free (d->message_id);
  g_free (d->in_reply_to);
  g_ptr_array_unref (d->references);
  g_ptr_array_unref (d->headers);
  g_free (d->text);
  g_free (d->entity);
  g_ptr_array_unref (d->attachments);
  g_free (d->mdn_ua);
  g_free (d->mdn_recipient);
  g_free (d->mdn_original_id);
  g_free (d->mdn_disposition);
  g_clear_pointer (&d->mdn_original, g_bytes_unref);
  g_free (d);
}

/* One line of valid UTF-8: CR, LF and the other control characters
 * become blanks (no header injection), surrounding blanks dropped.
 * (transfer full) */
static char *
flat (const char *text)
{
  char *s = g_utf8_make_valid (text ? text : "", -1);
  for (char *p = s; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  return g_strstrip (s);
}

/* An addr-spec or message id: like flat(), and no blanks at all. */
static char *
flat_token (const char *text)
{
  char *s = flat (text);
  char *o = s;
  for (const char *p = s; *p; p++)
    if (*p != ' ')
      *o++ = *p;
  *o = '\0';
  return s;
}

static RdAddress *
mailbox (const char *name, const char *addr)
{
  RdAddress *a = g_new0 (RdAddress, 1);
  a->name = flat (name);
  a->addr = flat_token (addr);
  return a;
}

void
rd_mail_draft_set_from (RdMailDraft *d, const char *name, const char *addr)
{
  g_clear_pointer (&d->from, rd_address_free);
  d->from = mailbox (name, addr);
}

void
rd_mail_draft_set_reply_to (RdMailDraft *d, const char *name, const char *addr)
{
  g_clear_pointer (&d->reply_to, rd_address_free);
  d->reply_to = mailbox (name, addr);
}

void
rd_mail_draft_add_to (RdMailDraft *d, const char *name, const char *addr)
{
  g_ptr_array_add (d->to, mailbox (name, addr));
}

void
rd_mail_draft_add_cc (RdMailDraft *d, const char *name, const char *addr)
{
  g_ptr_array_add (d->cc, mailbox (name, addr));
}

void
rd_mail_draft_set_subject (RdMailDraft *d, const char *subject)
{
  g_free (d->subject);
  d->subject = flat (subject);
}

void
rd_mail_draft_set_message_id (RdMailDraft *d, const char *id)
{
  g_free (d->message_id);
  d->message_id = id && *id ? flat_token (id) : NULL;
}

void
rd_mail_draft_set_date (RdMailDraft *d, gint64 unix_seconds)
{
  d->has_date = TRUE;
  d->date = unix_seconds;
}

void
rd_mail_draft_set_in_reply_to (RdMailDraft *d, const char *id)
{
  g_free (d->in_reply_to);
  d->in_reply_to = id && *id ? flat_token (id) : NULL;
}

void
rd_mail_draft_set_references (RdMailDraft *d, const char *const *ids, gssize n_ids)
{
  g_ptr_array_set_size (d->references, 0);
  gsize n = n_ids >= 0 ? (gsize) n_ids : (ids ? g_strv_length ((char **) ids) : 0);
  /* "<id>" and a blank each; the newest kept, the oldest dropped. */
  gsize total = 0, first = n;
  while (first > 0)
    {
      const char *id = ids[first - 1];
      gsize cost = (id ? strlen (id) : 0) + 3;
      if (total + cost > RD_MAIL_REFERENCES_MAX)
        break;
      total += cost;
      first--;
    }
  for (gsize i = first; i < n; i++)
    if (ids[i] && *ids[i])
      g_ptr_array_add (d->references, flat_token (ids[i]));
}

void
rd_mail_draft_set_parent (RdMailDraft *d, const RdMessage *parent)
{
  const char *mid = rd_message_get_message_id (parent);
  rd_mail_draft_set_in_reply_to (d, mid);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  for (const char *const *r = rd_message_get_references (parent); *r; r++)
    g_ptr_array_add (ids, (gpointer) *r);
  if (ids->len == 0 && rd_message_get_in_reply_to (parent))
    g_ptr_array_add (ids, (gpointer) rd_message_get_in_reply_to (parent));
  if (mid && *mid)
    g_ptr_array_add (ids, (gpointer) mid);
  rd_mail_draft_set_references (d, (const char *const *) ids->pdata, ids->len);
}

static gboolean
is_field_name (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *p = name; *p; p++)
    if ((guchar) *p < 33 || (guchar) *p > 126 || *p == ':')
      return FALSE;
  return TRUE;
}

void
rd_mail_draft_add_header (RdMailDraft *d, const char *name, const char *value)
{
  g_return_if_fail (is_field_name (name));
  RdHeader *h = g_new0 (RdHeader, 1);
  h->name = g_strdup (name);
  h->value = flat (value);
  g_ptr_array_add (d->headers, h);
}

void
rd_mail_draft_set_text (RdMailDraft *d, const char *text)
{
  g_free (d->text);
  d->text = g_utf8_make_valid (text ? text : "", -1);
  g_clear_pointer (&d->entity, g_free);
}

void
rd_mail_draft_set_mime_entity (RdMailDraft *d, const char *entity)
{
  const char *e = entity ? entity : "";
  gsize pos = 0;
  RdMailField f;
  /* An entity starts with its header fields (RFC 2045 section 3); text
   * that does not is what the script author meant as the body. */
  if (!rd_mail_header_next (e, strlen (e), &pos, &f) || f.name != e)
    {
      rd_mail_draft_set_text (d, e);
      return;
    }
  g_free (d->entity);
  d->entity = g_strdup (e);
  g_clear_pointer (&d->text, g_free);
}

void
rd_mail_draft_add_attachment (RdMailDraft *d, const char *filename, const char *content_type, GBytes *data)
{
  DraftAttachment *a = g_new0 (DraftAttachment, 1);
  a->filename = filename ? flat (filename) : NULL;
  a->content_type = flat_token (content_type && *content_type ? content_type : "application/octet-stream");
  a->data = data ? g_bytes_ref (data) : g_bytes_new (NULL, 0);
  g_ptr_array_add (d->attachments, a);
}

void
rd_mail_draft_set_mdn (RdMailDraft *d, const RdMailMdn *mdn)
{
  d->has_mdn = TRUE;
  g_free (d->mdn_ua);
  d->mdn_ua = flat (mdn->reporting_ua);
  g_free (d->mdn_recipient);
  d->mdn_recipient = flat_token (mdn->final_recipient);
  g_free (d->mdn_original_id);
  d->mdn_original_id = mdn->original_message_id && *mdn->original_message_id
                         ? flat_token (mdn->original_message_id) : NULL;
  g_free (d->mdn_disposition);
  d->mdn_disposition = flat (mdn->disposition);
  g_clear_pointer (&d->mdn_original, g_bytes_unref);
  if (mdn->original)
    d->mdn_original = g_bytes_ref (mdn->original);
}

/* ---- building the GMime message ----------------------------------------- */

/* A leaf part of @type/@subtype holding @data (copied). */
static GMimePart *
leaf (const char *type, const char *subtype, const void *data, gsize len)
{
  GMimePart *part = g_mime_part_new_with_type (type, subtype);
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer (data ? data : "", len);
  g_autoptr(GMimeDataWrapper) dw = g_mime_data_wrapper_new_with_stream (stream, GMIME_CONTENT_ENCODING_DEFAULT);
  g_mime_part_set_content (part, dw);
  return part;
}

/* text/plain; charset=utf-8 with CRLF lines, 7bit when the text allows
 * it (ASCII, lines up to 998 bytes), else quoted-printable. */
static GMimeObject *
text_part (const char *text)
{
  g_autofree char *crlf = rd_mail_text_crlf (text);
  GMimePart *part = leaf ("text", "plain", crlf, strlen (crlf));
  g_mime_object_set_content_type_parameter (GMIME_OBJECT (part), "charset", "utf-8");
  g_mime_part_set_content_encoding (part, g_mime_part_get_best_content_encoding (part, GMIME_ENCODING_CONSTRAINT_7BIT));
  return GMIME_OBJECT (part);
}

/* The :mime entity as GMime reads it; NULL when it cannot. */
static GMimeObject *
entity_part (const char *entity)
{
  g_autofree char *crlf = rd_mail_text_crlf (entity);
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer (crlf, strlen (crlf));
  g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream (stream);
  return g_mime_parser_construct_part (parser, NULL);
}

static GMimeObject *
attachment_part (const DraftAttachment *a)
{
  g_autoptr(GMimeContentType) ct = g_mime_content_type_parse (NULL, a->content_type);
  const char *type = ct ? g_mime_content_type_get_media_type (ct) : NULL;
  const char *sub = ct ? g_mime_content_type_get_media_subtype (ct) : NULL;
  gboolean usable = type && sub && *type && *sub && strcmp (type, "multipart") != 0 && strcmp (type, "message") != 0;
  gsize len = 0;
  const void *data = g_bytes_get_data (a->data, &len);
  GMimePart *part = leaf (usable ? type : "application", usable ? sub : "octet-stream", data, len);
  g_mime_object_set_disposition (GMIME_OBJECT (part), GMIME_DISPOSITION_ATTACHMENT);
  if (a->filename && *a->filename)
    g_mime_part_set_filename (part, a->filename);
  /* base64 whatever the type: bytes pass unchanged, CRLF or not */
  g_mime_part_set_content_encoding (part, GMIME_CONTENT_ENCODING_BASE64);
  return GMIME_OBJECT (part);
}

/* The original's header block, cut at a field boundary to the cap. */
static GMimeObject *
returned_headers_part (GBytes *original)
{
  gsize len = 0;
  const char *raw = g_bytes_get_data (original, &len);
  gsize hlen = rd_mail_header_length (raw ? raw : "", len, NULL);
  if (hlen > RD_MAIL_MDN_HEADERS_MAX)
    {
      gsize pos = 0, keep = 0;
      RdMailField f;
      while (rd_mail_header_next (raw, len, &pos, &f) && pos <= RD_MAIL_MDN_HEADERS_MAX)
        keep = pos;
      hlen = keep;
    }
  return GMIME_OBJECT (leaf ("text", "rfc822-headers", raw, hlen));
}

static GMimeObject *
mdn_part (const RdMailDraft *d)
{
  /* RFC 8098 section 3.1: one field per line. */
  g_autoptr(GString) f = g_string_new (NULL);
  g_string_append_printf (f, "Reporting-UA: %s\r\n", d->mdn_ua);
  g_string_append_printf (f, "Final-Recipient: rfc822; %s\r\n", d->mdn_recipient);
  if (d->mdn_original_id)
    g_string_append_printf (f, "Original-Message-ID: <%s>\r\n", d->mdn_original_id);
  g_string_append_printf (f, "Disposition: %s\r\n", d->mdn_disposition);
  return GMIME_OBJECT (leaf ("message", "disposition-notification", f->str, f->len));
}

static GMimeObject *
body_part (const RdMailDraft *d)
{
  GMimeObject *body = d->entity ? entity_part (d->entity) : NULL;
  if (body == NULL)
    body = text_part (d->entity ? d->entity : d->text);
  if (d->has_mdn)
    {
      g_autoptr(GMimeMultipart) report = g_mime_multipart_new_with_subtype ("report");
      g_mime_object_set_content_type_parameter (GMIME_OBJECT (report), "report-type", "disposition-notification");
      g_mime_multipart_add (report, body);
      g_object_unref (body);
      g_autoptr(GMimeObject) fields = mdn_part (d);
      g_mime_multipart_add (report, fields);
      if (d->mdn_original)
        {
          g_autoptr(GMimeObject) headers = returned_headers_part (d->mdn_original);
          g_mime_multipart_add (report, headers);
        }
      return GMIME_OBJECT (g_steal_pointer (&report));
    }
  if (d->attachments->len == 0)
    return body;
  g_autoptr(GMimeMultipart) mixed = g_mime_multipart_new_with_subtype ("mixed");
  g_mime_multipart_add (mixed, body);
  g_object_unref (body);
  for (guint i = 0; i < d->attachments->len; i++)
    {
      g_autoptr(GMimeObject) part = attachment_part (g_ptr_array_index (d->attachments, i));
      g_mime_multipart_add (mixed, part);
    }
  return GMIME_OBJECT (g_steal_pointer (&mixed));
}

static char *
bracketed_ids (GPtrArray *ids)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (s, "%s<%s>", s->len ? " " : "", (const char *) g_ptr_array_index (ids, i));
  return g_string_free (g_steal_pointer (&s), FALSE);
}

GBytes *
rd_mail_draft_to_bytes (RdMailDraft *d)
{
  rd_parser_init ();
  g_autoptr(GMimeMessage) m = g_mime_message_new (TRUE);
  GMimeObject *o = GMIME_OBJECT (m);
  if (d->from && *d->from->addr)
    g_mime_message_add_mailbox (m, GMIME_ADDRESS_TYPE_FROM, d->from->name, d->from->addr);
  if (d->reply_to && *d->reply_to->addr)
    g_mime_message_add_mailbox (m, GMIME_ADDRESS_TYPE_REPLY_TO, d->reply_to->name, d->reply_to->addr);
  for (guint i = 0; i < d->to->len; i++)
    {
      const RdAddress *a = g_ptr_array_index (d->to, i);
      g_mime_message_add_mailbox (m, GMIME_ADDRESS_TYPE_TO, a->name, a->addr);
    }
  for (guint i = 0; i < d->cc->len; i++)
    {
      const RdAddress *a = g_ptr_array_index (d->cc, i);
      g_mime_message_add_mailbox (m, GMIME_ADDRESS_TYPE_CC, a->name, a->addr);
    }
  if (d->subject)
    g_mime_message_set_subject (m, d->subject, "utf-8");
  g_autoptr(GDateTime) date = d->has_date ? g_date_time_new_from_unix_utc (d->date) : g_date_time_new_now_utc ();
  g_mime_message_set_date (m, date);
  if (d->message_id)
    g_mime_message_set_message_id (m, d->message_id);
  if (d->in_reply_to)
    {
      g_autofree char *v = g_strdup_printf ("<%s>", d->in_reply_to);
      g_mime_object_set_header (o, "In-Reply-To", v, NULL);
    }
  if (d->references->len)
    {
      g_autofree char *v = bracketed_ids (d->references);
      g_mime_object_set_header (o, "References", v, NULL);
    }
  for (guint i = 0; i < d->headers->len; i++)
    {
      const RdHeader *h = g_ptr_array_index (d->headers, i);
      g_mime_object_append_header (o, h->name, h->value, "utf-8");
    }
  g_autoptr(GMimeObject) body = body_part (d);
  g_mime_message_set_mime_part (m, body);

  GMimeFormatOptions *fo = g_mime_format_options_new ();
  g_mime_format_options_set_newline_format (fo, GMIME_NEWLINE_FORMAT_DOS);
  GByteArray *out = g_byte_array_new ();
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_byte_array (out);
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (stream), FALSE);
  g_mime_object_write_to_stream (o, fo, stream);
  g_mime_format_options_free (fo);
  return g_byte_array_free_to_bytes (out);
}
