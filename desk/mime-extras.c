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

static void
dsn_recipient_free (RdDsnRecipient *r)
{
  g_free (r->recipient);
  g_free (r->action);
  g_free (r->status);
  g_free (r->diagnostic);
  g_free (r);
}

void
rd_dsn_free (RdDsn *dsn)
{
  if (dsn == NULL)
    return;
  g_free (dsn->original_message_id);
  if (dsn->recipients)
    g_ptr_array_unref (dsn->recipients);
  g_free (dsn);
}

static GMimeMultipart *
find_report (GMimeObject *obj, guint depth)
{
  if (obj == NULL || depth > MIME_DEPTH_MAX || !GMIME_IS_MULTIPART (obj))
    return NULL;
  GMimeContentType *ct = g_mime_object_get_content_type (obj);
  if (g_mime_content_type_is_type (ct, "multipart", "report"))
    {
      const char *rt = g_mime_content_type_get_parameter (ct, "report-type");
      if (rt && g_ascii_strcasecmp (rt, "delivery-status") == 0)
        return GMIME_MULTIPART (obj);
    }
  GMimeMultipart *mp = GMIME_MULTIPART (obj);
  for (int i = 0; i < g_mime_multipart_get_count (mp); i++)
    {
      GMimeMultipart *r = find_report (g_mime_multipart_get_part (mp, i), depth + 1);
      if (r)
        return r;
    }
  return NULL;
}

/* The text of a part whichever class GMime gave it. (transfer full) */
static char *
part_text (GMimeObject *obj)
{
  g_autoptr(GBytes) b = NULL;
  if (GMIME_IS_PART (obj))
    b = part_bytes (GMIME_PART (obj));
  else if (GMIME_IS_MESSAGE_PART (obj))
    {
      GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (obj));
      if (inner == NULL)
        return NULL;
      g_autofree char *s = g_mime_object_to_string (GMIME_OBJECT (inner), NULL);
      return s ? g_strndup (s, DSN_TEXT_MAX) : NULL;
    }
  else
    return NULL;
  gsize len;
  const char *p = g_bytes_get_data (b, &len);
  return g_strndup (p ? p : "", MIN (len, DSN_TEXT_MAX));
}

/* "rfc822; a@b" -> "a@b". */
static char *
typed_value (const char *v)
{
  const char *semi = strchr (v, ';');
  g_autofree char *s = g_strdup (semi ? semi + 1 : v);
  g_strstrip (s);
  if (*s == '<')
    {
      char *end = strchr (s, '>');
      if (end)
        *end = '\0';
      return g_strdup (s + 1);
    }
  return g_steal_pointer (&s);
}

static char *
bounded (const char *v)
{
  g_autofree char *s = g_utf8_make_valid (v, MIN (strlen (v), DSN_FIELD_MAX));
  return g_strstrip (g_steal_pointer (&s));
}

/* Parses the message/delivery-status body: a per-message block, then one
 * block per recipient, separated by empty lines (RFC 3464 2.1). */
static void
parse_status_fields (const char *text, RdDsn *dsn)
{
  g_autofree char *norm = g_strdup (text);
  /* Unfold: CRLF/LF + WSP continues the field. */
  g_auto(GStrv) lines = g_strsplit (norm, "\n", -1);
  GPtrArray *fields = g_ptr_array_new_with_free_func (g_free);
  RdDsnRecipient *cur = NULL;
  gboolean per_message = TRUE;
  for (guint i = 0; lines[i]; i++)
    {
      char *l = lines[i];
      gsize n = strlen (l);
      if (n && l[n - 1] == '\r')
        l[--n] = '\0';
      if (n == 0)
        {
          if (cur && dsn->recipients->len < RD_DSN_RECIPIENTS_MAX)
            g_ptr_array_add (dsn->recipients, cur);
          else if (cur)
            dsn_recipient_free (cur);
          cur = NULL;
          per_message = FALSE;
          continue;
        }
      if ((l[0] == ' ' || l[0] == '\t') && fields->len)
        continue; /* continuation: the first line carries what we use */
      char *colon = strchr (l, ':');
      if (colon == NULL)
        continue;
      *colon = '\0';
      const char *name = g_strstrip (l);
      const char *value = colon + 1;
      g_ptr_array_add (fields, g_strdup (name));
      if (per_message)
        continue;
      if (cur == NULL)
        cur = g_new0 (RdDsnRecipient, 1);
      if (g_ascii_strcasecmp (name, "Final-Recipient") == 0)
        {
          g_free (cur->recipient);
          cur->recipient = typed_value (value);
        }
      else if (g_ascii_strcasecmp (name, "Original-Recipient") == 0 && cur->recipient == NULL)
        cur->recipient = typed_value (value);
      else if (g_ascii_strcasecmp (name, "Action") == 0)
        {
          g_autofree char *b = bounded (value);
          cur->action = g_ascii_strdown (b, -1);
        }
      else if (g_ascii_strcasecmp (name, "Status") == 0)
        {
          g_autofree char *b = bounded (value);
          /* "5.1.1 (comment)" -> "5.1.1" */
          b[strcspn (b, " \t(")] = '\0';
          cur->status = g_steal_pointer (&b);
        }
      else if (g_ascii_strcasecmp (name, "Diagnostic-Code") == 0)
        cur->diagnostic = bounded (value);
    }
  if (cur && dsn->recipients->len < RD_DSN_RECIPIENTS_MAX)
    g_ptr_array_add (dsn->recipients, cur);
  else if (cur)
    dsn_recipient_free (cur);
  g_ptr_array_unref (fields);
}

RdDsn *
rd_dsn_parse (GBytes *raw)
{
  g_autoptr(GMimeMessage) m = parse_raw (raw);
  if (m == NULL)
    return NULL;
  GMimeMultipart *report = find_report (g_mime_message_get_mime_part (m), 0);
  if (report == NULL)
    return NULL;
  g_autoptr(RdDsn) dsn = g_new0 (RdDsn, 1);
  dsn->recipients = g_ptr_array_new_with_free_func ((GDestroyNotify) dsn_recipient_free);
  gboolean have_status = FALSE;
  for (int i = 0; i < g_mime_multipart_get_count (report); i++)
    {
      GMimeObject *part = g_mime_multipart_get_part (report, i);
      GMimeContentType *ct = g_mime_object_get_content_type (part);
      if (g_mime_content_type_is_type (ct, "message", "delivery-status")
          || g_mime_content_type_is_type (ct, "message", "global-delivery-status"))
        {
          g_autofree char *text = part_text (part);
          if (text)
            {
              parse_status_fields (text, dsn);
              have_status = TRUE;
            }
        }
      else if (GMIME_IS_MESSAGE_PART (part) && dsn->original_message_id == NULL)
        {
          GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (part));
          const char *id = inner ? g_mime_message_get_message_id (inner) : NULL;
          if (id)
            dsn->original_message_id = rd_msgid_normalize (id);
        }
      else if (g_mime_content_type_is_type (ct, "text", "rfc822-headers") && dsn->original_message_id == NULL)
        {
          g_autofree char *text = part_text (part);
          if (text)
            dsn->original_message_id = rd_peek_message_id (text, strlen (text));
        }
    }
  if (!have_status)
    return NULL;
  return g_steal_pointer (&dsn);
}
