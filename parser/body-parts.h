/* relaydesk — parser: the MIME parts of a message as Sieve's body test
 * reads them (RFC 5173 5.2, 5.3). The view (message.h) keeps one body
 * text; the body test's :content needs every leaf, decoded. Separate from
 * the view so the view's cost does not grow for what few scripts use. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *content_type;   /* "type/subtype", lower case */
  char *content;        /* transfer encoding undone; text/ types converted to
                         * UTF-8, other types as bytes made valid UTF-8 */
  gsize len;
} RdBodyPart;

void rd_body_part_free (gpointer part);

/* Every leaf part of the message @raw in document order (RdBodyPart*),
 * descending into multiparts and attached messages (message/rfc822,
 * message/global), at most @max_parts leaves and @max_depth levels.
 * A message that is not MIME is one text/plain part. With @text_only,
 * only the text parts (the others are not decoded). (transfer full) */
GPtrArray *rd_body_parts (GBytes *raw, guint max_parts, guint max_depth, gboolean text_only);

/* The text of one part for Sieve's :text: text/html rendered as the
 * view renders it, other text types converted from @charset (may be
 * NULL) to UTF-8; NULL when @content_type is not text/... (transfer full) */
char *rd_body_part_text (const char *content_type, const char *charset, const guint8 *data, gsize len);

G_END_DECLS
