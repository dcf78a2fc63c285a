/* relaydesk — desk: attachments' bytes and DSN fields with GMime (see
 * mime-extras.h for why this is apart from the parser view). */
#include "mime-extras.h"
#include "rd-common.h"

#include <gmime/gmime.h>
#include <string.h>

#define DSN_TEXT_MAX (64 * 1024)
#define DSN_FIELD_MAX 512
#define MIME_DEPTH_MAX 16

/* GMime 3.2 declares no autoptr cleanups; these are local to this file. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)

void
rd_mime_attachment_free (RdMimeAttachment *a)
{
  if (a == NULL)
    return;
  g_free (a->filename);
  g_free (a->content_type);
  if (a->data)
    g_bytes_unref (a->data);
  g_free (a);
}

static GMimeMessage *
parse_raw (GBytes *raw)
{
  gsize len;
  const char *p = g_bytes_get_data (raw, &len);
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer (p ? p : "", len);
  g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream (stream);
  return g_mime_parser_construct_message (parser, NULL);
}

static char *
content_type_of (GMimeObject *obj)
{
  GMimeContentType *ct = g_mime_object_get_content_type (obj);
  if (ct == NULL)
    return g_strdup ("application/octet-stream");
  g_autofree char *mime = g_mime_content_type_get_mime_type (ct);
  return g_ascii_strdown (mime, -1);
}

/* The decoded content of a leaf part. (transfer full) */
static GBytes *
part_bytes (GMimePart *part)
{
  GMimeDataWrapper *w = g_mime_part_get_content (part);
  g_autoptr(GMimeStream) out = g_mime_stream_mem_new ();
  if (w != NULL)
    g_mime_data_wrapper_write_to_stream (w, out);
  GByteArray *arr = g_mime_stream_mem_get_byte_array (GMIME_STREAM_MEM (out));
  return g_bytes_new (arr->data, arr->len);
}

/* A whole object (a message part) as written. (transfer full) */
static GBytes *
object_bytes (GMimeObject *obj)
{
  g_autoptr(GMimeStream) out = g_mime_stream_mem_new ();
  g_mime_object_write_content_to_stream (obj, NULL, out);
  GByteArray *arr = g_mime_stream_mem_get_byte_array (GMIME_STREAM_MEM (out));
  return g_bytes_new (arr->data, arr->len);
}

static void
collect (GMimeObject *obj, GPtrArray *out, guint depth, gboolean *seen_body)
{
  if (obj == NULL || depth > MIME_DEPTH_MAX || out->len >= RD_MIME_ATTACHMENTS_MAX)
    return;
  if (GMIME_IS_MULTIPART (obj))
    {
      GMimeMultipart *mp = GMIME_MULTIPART (obj);
      int n = g_mime_multipart_get_count (mp);
      for (int i = 0; i < n; i++)
        collect (g_mime_multipart_get_part (mp, i), out, depth + 1, seen_body);
      return;
    }
  const char *filename = NULL;
  const char *disp = g_mime_object_get_disposition (obj);
  if (GMIME_IS_PART (obj))
    filename = g_mime_part_get_filename (GMIME_PART (obj));
  g_autofree char *ctype = content_type_of (obj);
  gboolean is_attachment_disp = disp && g_ascii_strcasecmp (disp, GMIME_DISPOSITION_ATTACHMENT) == 0;
  if (GMIME_IS_MESSAGE_PART (obj))
    {
      RdMimeAttachment *a = g_new0 (RdMimeAttachment, 1);
      a->filename = filename ? g_strdup (filename) : NULL;
      a->content_type = g_steal_pointer (&ctype);
      a->data = object_bytes (obj);
      g_ptr_array_add (out, a);
      return;
    }
  if (!GMIME_IS_PART (obj))
    return;
  gboolean text = g_str_has_prefix (ctype, "text/");
  if (text && filename == NULL && !is_attachment_disp)
    {
      *seen_body = TRUE;
      return; /* a body part: its text is in the view's body */
    }
  RdMimeAttachment *a = g_new0 (RdMimeAttachment, 1);
  a->filename = filename ? g_strdup (filename) : NULL;
  a->content_type = g_steal_pointer (&ctype);
  a->data = part_bytes (GMIME_PART (obj));
  g_ptr_array_add (out, a);
}

GPtrArray *
rd_mime_extract_attachments (GBytes *raw)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_mime_attachment_free);
  g_autoptr(GMimeMessage) m = parse_raw (raw);
  if (m == NULL)
    return out;
  GMimeObject *body = g_mime_message_get_mime_part (m);
  gboolean seen_body = FALSE;
  /* A single-part message is its own body, never an attachment, unless
   * it says it is one. */
  if (body && !GMIME_IS_MULTIPART (body) && GMIME_IS_PART (body))
    {
      const char *disp = g_mime_object_get_disposition (body);
      if (g_mime_part_get_filename (GMIME_PART (body)) == NULL
          && !(disp && g_ascii_strcasecmp (disp, GMIME_DISPOSITION_ATTACHMENT) == 0))
        return out;
    }
  collect (body, out, 0, &seen_body);
  return out;
}

/* ---- DSN (RFC 3464) --------------------------------------------------- */
