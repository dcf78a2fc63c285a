/* relaydesk — parser internals shared by the files of parser/ (not part
 * of the module's interface: message.h is). */
#pragma once

#include "message.h"
#include <gmime/gmime.h>

G_BEGIN_DECLS

typedef void (*RdWarnFunc) (RdMessage *msg, const char *fmt, ...);

/* message.c ---------------------------------------------------------- */

/* The view. Filled by the files of parser/ while it is built
 * (rd_message_parse_with_limits), never changed afterwards. */
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

/* Records one warning on @msg (capped, kept short, made valid UTF-8). */
void rd_message_warn (RdMessage *msg, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
void rd_header_free (gpointer header);
/* Line breaks removed (RFC 5322 section 2.2.3), NULL for NULL. (transfer full) */
char *rd_header_unfold (const char *raw);
/* Copies with surrounding blanks removed (and lower-cased), NULL for NULL. */
char *rd_str_trimmed (const char *v);
char *rd_str_lower_trim (const char *v);
/* The first message id of a header value as the corpus contract reads
 * it (the first <...> without blanks, else the first token), or NULL. */
char *rd_msgid_first (const char *value);

/* framing.c ---------------------------------------------------------- */

/* Returns the bytes GMime should see (docs/parser.md, framing): BOM and
 * "From " line skipped, lone CRs made LF, broken header blocks repaired,
 * an over-long header block cut; *@len is updated. @owned receives a
 * copy when one was needed (transfer full), else NULL and the result
 * points into @data. Repairs and caps reached are warnings on @msg. */
const guint8 *rd_framing_repair (RdMessage *msg, const RdParserLimits *limits, const guint8 *data, gsize *len,
                                 guint8 **owned);

/* mime-walk.c -------------------------------------------------------- */

/* Picks and decodes the body, lists every other leaf of @root in
 * msg->attachments (capped by @limits). @data/@len: the bytes GMime
 * parsed, attached messages are slices of them; @in_raw: @data points
 * into msg->raw (no repair copy), so the slices need no copy. */
void rd_mime_walk (RdMessage *msg, GMimeObject *root, const RdParserLimits *limits, GMimeParserOptions *opts,
                   const guint8 *data, gsize len, gboolean in_raw);
/* The lower-case type/subtype Python would report (text/plain when the
 * header is absent or unusable, message/rfc822 in a digest). (transfer full) */
char *rd_mime_content_type (GMimeObject *o, gboolean in_digest);
/* A leaf part's content with its transfer encoding undone. (transfer full) */
GBytes *rd_mime_part_bytes (GMimePart *part);
/* The same, decoding no more than needed for its first @max bytes (the
 * result may be longer: callers cut it). (transfer full) */
GBytes *rd_mime_part_bytes_max (GMimePart *part, gsize max);
void rd_attachment_free (gpointer attachment);

/* dsn.c -------------------------------------------------------------- */

/* Delivery report fields (RFC 3464) from the attachments listed and the
 * tree under @root: msg->dsn_recipients, msg->dsn_original_message_id. */
void rd_dsn_collect (RdMessage *msg, GMimeObject *root);
void rd_dsn_recipient_free (gpointer recipient);

/* charset.c ---------------------------------------------------------- */

/* Converts @data in @charset (a MIME label, possibly misspelled, NULL for
 * none) to UTF-8. Never fails: undecodable bytes become U+FFFD, an
 * unknown label falls back to UTF-8 when the bytes are valid UTF-8, else
 * windows-1252; each fall-back is reported through @warn. (transfer full) */
char *rd_convert_to_utf8 (const guint8 *data, gsize len, const char *charset,
                          RdWarnFunc warn, RdMessage *msg);
char *rd_charset_to_utf8 (RdMessage *msg, const guint8 *data, gsize len, const char *charset);
/* The iconv name for a MIME charset label after alias and misspelling
 * repair, or NULL when unknown. (transfer full) */
char *rd_charset_canonical (const char *label);
/* Raw header bytes as UTF-8: kept when valid, else read as windows-1252. */
char *rd_header_bytes_to_utf8 (const char *raw);
/* An unstructured header value (unfolded) with RFC 2047 words decoded. */
char *rd_decode_unstructured (GMimeParserOptions *opts, const char *raw);
/* A display name (RFC 5322 phrase) with RFC 2047 words decoded; a word
 * may contain blanks here (broken encoders; Python's reading too). */
char *rd_decode_phrase (const char *raw);
/* A parameter value as GMime returns it, with RFC 2047 words left in it
 * decoded and made valid UTF-8. */
char *rd_decode_parameter (GMimeParserOptions *opts, const char *value);
/* RFC 5322 section 3.3 date (with the obsolete forms) to unix seconds,
 * "-0000" or no zone read as UTC. */
gboolean rd_parse_date (const char *value, gint64 *unix_seconds);
/* The contract normalisation: CRLF/CR -> LF, trailing blanks per line and
 * trailing empty lines removed. */
char *rd_text_normalize (const char *text);
void rd_text_normalize_in_place (char *text);

/* address.c ---------------------------------------------------------- */

/* Appends the mailboxes (RdAddress*) of one address header value,
 * groups flattened. */
void rd_parse_address_list (const char *raw, GPtrArray *out);
void rd_address_free (gpointer address);

/* body-parts.c ------------------------------------------------------- */

/* RdAttachment.texts of an attached message: @root is its top part.
 * (transfer full) */
char **rd_body_texts_of (GMimeObject *root);

/* html-text.c -------------------------------------------------------- */

void rd_html_init (void);
/* Renders HTML (UTF-8) to readable text with libxml2's HTML parser. */
char *rd_html_to_text (const char *html, gsize len);

/* quote.c ------------------------------------------------------------ */

/* Byte offset in @text where the quoted history of a reply starts
 * (strlen (text) when there is none). */
gsize rd_quote_split (const char *text);
/* ASCII case-insensitive tests on a line of @len bytes (not
 * NUL-terminated), shared with dsn.c's bounce reader. */
gboolean rd_line_starts_ci (const char *line, gsize len, const char *prefix);
gboolean rd_line_contains_ci (const char *line, gsize len, const char *needle);

G_END_DECLS
