/* relaydesk — parser: an immutable, plain view of one message.
 *
 * Built with GMime from the raw bytes; once built it never changes and
 * holds no GMime objects, so it can be shared across threads (refcounted).
 * All strings are UTF-8. Malformed mail is parsed as far as it goes;
 * problems are recorded as warnings on the view, never as a crash.
 * docs/parser.md describes every field and the rules behind them.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"

G_BEGIN_DECLS

/* Call once at start-up, before any thread parses (GMime's global init). */
void rd_parser_init (void);

typedef struct {
  char *name;   /* decoded display name, "" when none */
  char *addr;   /* addr-spec */
} RdAddress;

typedef struct {
  char *name;   /* header field name as written */
  char *value;  /* raw value, unfolded (line breaks removed), leading blanks
                 * removed, not RFC 2047 decoded; raw 8-bit bytes read as
                 * UTF-8, else windows-1252 (so always valid UTF-8) */
} RdHeader;

typedef struct {
  char *filename;        /* decoded, NULL when none */
  char *content_type;    /* lower case "type/subtype" */
  char *disposition;     /* "attachment", "inline" or NULL */
  char *content_id;      /* without brackets, or NULL */
  gint64 size;           /* decoded bytes; -1 for message parts */
  char *sha256;          /* hex of decoded bytes; NULL for message parts */
  char *embedded_subject;/* message/rfc822: the inner Subject */
  /* Added fields (append only). */
  GBytes *content;       /* the decoded bytes; for message/rfc822 parts
                          * the attached message as written (its bytes
                          * in the raw message, from its first header
                          * field to the delimiter after it); size and
                          * sha256 stay unset for those (the contract) */
  char *charset;         /* charset parameter, or NULL */
  guint depth;           /* MIME nesting depth of the part (0: top level) */
  char **texts;          /* The part's text for Sieve's body :text, UTF-8,
                          * NULL-terminated: for a text part its content
                          * converted (HTML rendered); for message/rfc822
                          * and message/global the text of the attached
                          * message's text parts (HTML only when it has no
                          * text/plain part). NULL for other parts */
} RdAttachment;

/* One recipient of a delivery status notification (RFC 3464 section 2.3),
 * or of a non-standard bounce where the recipient could be recognised. */
typedef struct {
  char *addr;            /* Final-Recipient (or Original-Recipient) addr, no "rfc822;" */
  char *action;          /* "failed", "delayed", "delivered", ... lower case, or NULL */
  char *status;          /* "5.1.1" etc., or NULL */
  char *diagnostic;      /* Diagnostic-Code text, or NULL */
} RdDsnRecipient;

/* Caps applied while building the view (STYLE.md: a cap on everything
 * that grows). Exceeding one is recorded as a warning and in
 * rd_message_get_limits_hit(); the message is still parsed as far as
 * the limit allows. */
typedef struct {
  guint max_depth;        /* MIME nesting levels walked (default 32) */
  guint max_parts;        /* leaf parts looked at (default 1000) */
  gsize max_header_bytes; /* bytes of the top-level header block (default
                           * 100 KiB, as Postfix's header_size_limit) */
  gsize max_text_bytes;   /* bytes of body text kept (default 4 MiB) */
} RdParserLimits;

#define RD_PARSER_DEFAULT_MAX_DEPTH 32
#define RD_PARSER_DEFAULT_MAX_PARTS 1000
#define RD_PARSER_DEFAULT_MAX_HEADER_BYTES (100 * 1024)
#define RD_PARSER_DEFAULT_MAX_TEXT_BYTES (4 * 1024 * 1024)

/* The defaults above. */
void rd_parser_limits_init (RdParserLimits *limits);

/* The defaults, overridden by the [parser] group of @config (may be
 * NULL): max_mime_depth, max_mime_parts, max_header_bytes,
 * max_text_bytes (sizes accept "100K", "4M"). Values are clamped to
 * sane ranges. */
void rd_parser_limits_from_config (RdParserLimits *limits, RdConfig *config);

typedef struct _RdMessage RdMessage;

/* Parses @raw. Never fails on malformed mail; returns NULL only when @raw
 * is empty or not a message at all (RD_ERROR_INVALID_DATA). (transfer full) */
RdMessage *rd_message_parse (GBytes *raw, GError **error);
/* The same with explicit caps (NULL: defaults). (transfer full) */
RdMessage *rd_message_parse_with_limits (GBytes *raw, const RdParserLimits *limits, GError **error);
RdMessage *rd_message_ref (RdMessage *msg);
void rd_message_unref (RdMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdMessage, rd_message_unref)

/* (transfer none) for everything below. */
GBytes *rd_message_get_raw (const RdMessage *msg);
gsize rd_message_get_size (const RdMessage *msg);

const char *rd_message_get_subject (const RdMessage *msg);       /* NULL if absent */
const char *rd_message_get_message_id (const RdMessage *msg);    /* no brackets */
const char *rd_message_get_in_reply_to (const RdMessage *msg);
/* NULL-terminated, never NULL itself. */
const char *const *rd_message_get_references (const RdMessage *msg);
/* Date header in UTC unix seconds; FALSE when absent or unparsable. */
gboolean rd_message_get_date (const RdMessage *msg, gint64 *unix_seconds);

/* Arrays of RdAddress*; never NULL (empty when the header is absent). */
GPtrArray *rd_message_get_from (const RdMessage *msg);
GPtrArray *rd_message_get_to (const RdMessage *msg);
GPtrArray *rd_message_get_cc (const RdMessage *msg);
GPtrArray *rd_message_get_reply_to (const RdMessage *msg);
GPtrArray *rd_message_get_sender (const RdMessage *msg);

/* Top-level header fields in order (RdHeader*). */
GPtrArray *rd_message_get_headers (const RdMessage *msg);
/* Raw (unfolded, undecoded) value of the first header named @name
 * (case-insensitive), or NULL. */
const char *rd_message_get_header (const RdMessage *msg, const char *name);

/* "plain", "html" or "none". */
const char *rd_message_get_body_source (const RdMessage *msg);
/* The body text (UTF-8, LF line ends), NULL when body_source is "none". */
const char *rd_message_get_body_text (const RdMessage *msg);

/* RdAttachment*, in document order; never NULL. */
GPtrArray *rd_message_get_attachments (const RdMessage *msg);

/* Automation flags, trimmed and lower-cased where the corpus contract says so. */
const char *rd_message_get_auto_submitted (const RdMessage *msg);
const char *rd_message_get_precedence (const RdMessage *msg);
const char *rd_message_get_list_id (const RdMessage *msg);
gboolean rd_message_is_bounce (const RdMessage *msg);

/* RFC 2047 decoding of one unstructured header value (as the view's
 * Subject is decoded): encoded words decoded in any charset the parser
 * knows, white space between adjacent words dropped, raw 8-bit bytes read
 * as UTF-8 (else windows-1252). For other layers that read raw header
 * fields, e.g. Sieve's header test. (transfer full) */
char *rd_header_decode (const char *raw_value);

/* Parse warnings (char*), never NULL: GMime's parser warnings, charset
 * fall-backs and limits reached, each one short line. At most 100. */
GPtrArray *rd_message_get_warnings (const RdMessage *msg);

/* ---- additions --------------------------------------------------------- */

/* Content-Type of the body part ("text/plain", ...) and its charset
 * parameter as written (lower case), or NULL. */
const char *rd_message_get_body_content_type (const RdMessage *msg);
const char *rd_message_get_body_charset (const RdMessage *msg);

/* The body split into the new text of a reply and the quoted history
 * (">" quoting, "On ... wrote:", the Outlook/Gmail/Apple Mail/Thunderbird
 * separators). new_text + quoted is the body text; quoted is "" when
 * nothing looked quoted. Never NULL when the body text is not NULL. */
const char *rd_message_get_body_new_text (const RdMessage *msg);
const char *rd_message_get_body_quoted (const RdMessage *msg);

/* Other automation headers, trimmed; NULL when absent. */
const char *rd_message_get_x_auto_response_suppress (const RdMessage *msg);
const char *rd_message_get_list_unsubscribe (const RdMessage *msg);
const char *rd_message_get_list_post (const RdMessage *msg);
const char *rd_message_get_list_help (const RdMessage *msg);
const char *rd_message_get_list_archive (const RdMessage *msg);
const char *rd_message_get_list_owner (const RdMessage *msg);
/* TRUE when the message is machine-generated or must not be answered
 * automatically (RFC 3834 section 2): rd_mail_auto_message (msg, NULL)
 * of mail-format.h finds a reason (Auto-Submitted other than "no",
 * Precedence bulk/junk/list, a List-* field, X-Auto-Response-Suppress
 * All/OOF, a delivery report, a Return-Path of <> or of a robot). */
gboolean rd_message_is_automated (const RdMessage *msg);

/* Delivery reports (RFC 3464): the Message-ID of the message that
 * bounced (from the message/rfc822 or text/rfc822-headers part), NULL if
 * unknown; and the per-recipient fields (RdDsnRecipient*, never NULL). */
const char *rd_message_get_dsn_original_message_id (const RdMessage *msg);
GPtrArray *rd_message_get_dsn_recipients (const RdMessage *msg);

/* Number of MIME parts walked, the deepest nesting seen, and whether a
 * cap in RdParserLimits was reached. */
guint rd_message_get_part_count (const RdMessage *msg);
guint rd_message_get_max_depth (const RdMessage *msg);
gboolean rd_message_get_limits_hit (const RdMessage *msg);

/* Byte offset in @text (a body text) where the quoted history of a reply
 * starts, strlen (@text) when there is none: the same rules as the
 * view's body_new_text, for texts read back from the store. */
gsize rd_text_quote_split (const char *text);

G_END_DECLS
