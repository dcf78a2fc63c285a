/* relaydesk — parser internals shared by the files of parser/ (not part
 * of the module's interface: message.h is). */
#pragma once

#include "message.h"
#include <gmime/gmime.h>

G_BEGIN_DECLS

typedef void (*RdWarnFunc) (RdMessage *msg, const char *fmt, ...);

/* Records one warning on @msg (capped, kept short, made valid UTF-8). */
void rd_message_warn (RdMessage *msg, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

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
void rd_parse_address_list (GMimeParserOptions *opts, const char *raw, GPtrArray *out);

/* html-text.c -------------------------------------------------------- */

void rd_html_init (void);
/* Renders HTML (UTF-8) to readable text with libxml2's HTML parser. */
char *rd_html_to_text (const char *html, gsize len);

/* quote.c ------------------------------------------------------------ */

/* Byte offset in @text where the quoted history of a reply starts
 * (strlen (text) when there is none). */
gsize rd_quote_split (const char *text);

G_END_DECLS
