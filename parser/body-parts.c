/* relaydesk — parser: the MIME parts of a message for Sieve's body test
 * (body-parts.h). */
#include "body-parts.h"
#include "message.h"
#include "parser-private.h"

#include <gmime/gmime.h>
#include <string.h>

void
rd_body_part_free (gpointer p)
{
  RdBodyPart *part = p;
  if (part == NULL)
    return;
  g_free (part->content_type);
  g_free (part->content);
  g_free (part);
}

char *
rd_body_part_text (const char *content_type, const char *charset, const guint8 *data, gsize len)
{
  if (content_type == NULL || g_ascii_strncasecmp (content_type, "text/", 5) != 0)
    return NULL;
  g_autofree char *utf8 = rd_convert_to_utf8 (data, len, charset, NULL, NULL);
  if (g_ascii_strcasecmp (content_type, "text/html") == 0)
    return rd_html_to_text (utf8, strlen (utf8));
  return g_steal_pointer (&utf8);
}

typedef struct {
  GPtrArray *out;
  guint max_parts;
  guint max_depth;
  gboolean text_only;
} PartWalk;

static void
walk (PartWalk *w, GMimeObject *o, gboolean in_digest, guint depth)
{
  if (o == NULL || depth > w->max_depth || w->out->len >= w->max_parts)
    return;
  if (GMIME_IS_MULTIPART (o))
    {
      GMimeMultipart *mp = GMIME_MULTIPART (o);
      GMimeContentType *ct = g_mime_object_get_content_type (o);
      gboolean digest = ct && g_mime_content_type_is_type (ct, "multipart", "digest");
      int n = g_mime_multipart_get_count (mp);
      for (int i = 0; i < n; i++)
        walk (w, g_mime_multipart_get_part (mp, i), digest, depth + 1);
      return;
    }
  if (GMIME_IS_MESSAGE_PART (o))
    {
      GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (o));
      if (inner)
        walk (w, g_mime_message_get_mime_part (inner), FALSE, depth + 1);
      return;
    }
  if (!GMIME_IS_PART (o))
    return;
  g_autofree char *ct = rd_mime_content_type (o, in_digest);
  if (w->text_only && !g_str_has_prefix (ct, "text/"))
    return;
  RdBodyPart *part = g_new0 (RdBodyPart, 1);
  part->content_type = g_steal_pointer (&ct);
  g_autoptr(GBytes) bytes = rd_mime_part_bytes (GMIME_PART (o));
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  part->content = rd_body_part_text (part->content_type, g_mime_object_get_content_type_parameter (o, "charset"),
                                     data, len);
  if (part->content && g_str_equal (part->content_type, "text/html"))
    {
      /* :content matches the markup itself; only :text renders it. */
      g_free (part->content);
      part->content = rd_convert_to_utf8 (data, len, g_mime_object_get_content_type_parameter (o, "charset"),
                                          NULL, NULL);
    }
  if (part->content == NULL)
    part->content = g_utf8_make_valid ((const char *) data, (gssize) len);
  part->len = strlen (part->content);
  g_ptr_array_add (w->out, part);
}

char **
rd_body_texts_of (GMimeObject *root)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (rd_body_part_free);
  PartWalk w = { parts, 1000, 32, TRUE };
  walk (&w, root, FALSE, 0);
  gboolean plain = FALSE;
  for (guint k = 0; k < parts->len && !plain; k++)
    plain = !strcmp (((RdBodyPart *) g_ptr_array_index (parts, k))->content_type, "text/plain");
  GPtrArray *out = g_ptr_array_new ();
  for (guint k = 0; k < parts->len; k++)
    {
      RdBodyPart *part = g_ptr_array_index (parts, k);
      if (!strcmp (part->content_type, "text/html"))
        {
          if (!plain)
            g_ptr_array_add (out, rd_html_to_text (part->content, part->len));
        }
      else
        g_ptr_array_add (out, g_steal_pointer (&part->content));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

GPtrArray *
rd_body_parts (GBytes *raw, guint max_parts, guint max_depth, gboolean text_only)
{
  rd_parser_init ();
  GPtrArray *out = g_ptr_array_new_with_free_func (rd_body_part_free);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (raw, &len);
  if (len == 0)
    return out;
  GMimeParserOptions *opts = g_mime_parser_options_new ();
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer ((const char *) data, len);
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  g_mime_parser_set_format (parser, GMIME_FORMAT_MESSAGE);
  GMimeMessage *m = g_mime_parser_construct_message (parser, opts);
  g_object_unref (parser);
  g_object_unref (stream);
  if (m)
    {
      PartWalk w = { out, max_parts, max_depth, text_only };
      walk (&w, g_mime_message_get_mime_part (m), FALSE, 0);
      g_object_unref (m);
    }
  g_mime_parser_options_free (opts);
  return out;
}
