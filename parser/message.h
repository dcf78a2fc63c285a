/* relaydesk — parser: an immutable, plain view of one message.
 *
 * Built with GMime from the raw bytes; once built it never changes and
 * holds no GMime objects, so it can be shared across threads (refcounted).
 * All strings are UTF-8. Malformed mail is parsed as far as it goes;
 * problems are recorded as warnings on the view, never as a crash.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Call once at start-up, before any thread parses (GMime's global init). */
void rd_parser_init (void);

typedef struct {
  char *name;   /* decoded display name, "" when none */
  char *addr;   /* addr-spec */
} RdAddress;

typedef struct {
  char *name;   /* header field name as written */
  char *value;  /* raw value, unfolded (CRLF+WSP -> WSP), not decoded */
} RdHeader;

typedef struct {
  char *filename;        /* decoded, NULL when none */
  char *content_type;    /* lower case "type/subtype" */
  char *disposition;     /* "attachment", "inline" or NULL */
  char *content_id;      /* without brackets, or NULL */
  gint64 size;           /* decoded bytes; -1 for message parts */
  char *sha256;          /* hex of decoded bytes; NULL for message parts */
  char *embedded_subject;/* message/rfc822: the inner Subject */
} RdAttachment;

typedef struct _RdMessage RdMessage;

/* Parses @raw. Never fails on malformed mail; returns NULL only when @raw
 * is empty or not a message at all (RD_ERROR_INVALID_DATA). (transfer full) */
RdMessage *rd_message_parse (GBytes *raw, GError **error);
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

/* Parse warnings (char*), never NULL. */
GPtrArray *rd_message_get_warnings (const RdMessage *msg);

G_END_DECLS
