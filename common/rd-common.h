/* relaydesk — common helpers shared by every layer.
 *
 * The error domain, key=value logging with bounded escaping of untrusted
 * text, a few wire-format helpers that more than one layer needs.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RD_ERROR (rd_error_quark ())
GQuark rd_error_quark (void);

typedef enum {
  RD_ERROR_FAILED,        /* anything else */
  RD_ERROR_INVALID_DATA,  /* unusable input: permanent */
  RD_ERROR_TEMPORARY,     /* storage or network trouble: try again later */
  RD_ERROR_DISK_FULL,     /* storage full: try again later */
  RD_ERROR_NOT_FOUND,
  RD_ERROR_CONFIG,        /* bad configuration or option */
  RD_ERROR_LIMIT,         /* a configured limit was exceeded */
  RD_ERROR_PERMISSION,    /* the actor may not do this (admin only, ...) */
  RD_ERROR_CONFLICT,      /* the thing changed meanwhile (a newer version) */
} RdError;

/* Logging: one line per event, "ts level event key=value ...".
 * Values given to rd_log_kv() are formatted by the caller; untrusted text
 * must pass through rd_log_escape() first. */
typedef enum {
  RD_LOG_DEBUG,
  RD_LOG_INFO,
  RD_LOG_WARN,
  RD_LOG_ERROR,
} RdLogLevel;

void rd_log_set_level (RdLogLevel level);

/* Text (the default): "2024-01-15T09:29:55.123Z info event key=value ...".
 * JSON (--log-format json, for log shippers): one object per line,
 * {"ts":"...","level":"info","event":"...","key":"value",...}; the
 * key=value pairs of the line become members (a value quoted by
 * rd_log_escape() is unescaped first), and what does not parse as pairs
 * is kept whole in "msg". */
typedef enum {
  RD_LOG_FORMAT_TEXT,
  RD_LOG_FORMAT_JSON,
} RdLogFormat;

void rd_log_set_format (RdLogFormat format);
/* "text" or "json"; FALSE for anything else. */
gboolean rd_log_format_parse (const char *name, RdLogFormat *format);
/* The JSON line for one event (without the newline), as rd_log() prints
 * it in JSON format. (transfer full) */
char *rd_log_format_json (const char *ts, const char *level, const char *event, const char *body);
void rd_log (RdLogLevel level, const char *event, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Returns a newly allocated copy of @text (of @len bytes, -1 for NUL
 * terminated) cut to @max bytes, with quotes, backslashes, control and
 * non-ASCII bytes escaped, wrapped in double quotes. (transfer full) */
char *rd_log_escape (const char *text, gssize len, gsize max);

/* Wire helpers -------------------------------------------------------- */

/* Scans the header block of a raw RFC 5322 message for the first
 * Message-ID header and returns its id without angle brackets or
 * whitespace, or NULL. Tolerates CRLF, LF and folded headers; stops at
 * the first empty line. Cheap: no MIME parsing. (transfer full) */
char *rd_peek_message_id (const char *raw, gsize len);

/* Normalises a message id as the corpus contract does: the first <...>
 * without brackets and whitespace, else the first token. (transfer full) */
char *rd_msgid_normalize (const char *value);

/* "2024-01-15T09:29:55Z" for a unix time in seconds. (transfer full) */
char *rd_time_iso8601 (gint64 unix_seconds);

/* Parses "ADDR:PORT" or "[V6]:PORT". */
gboolean rd_parse_hostport (const char *text, char **host, guint16 *port, GError **error);

/* Parses a duration: "90", "90s", "15m", "2h", "5d" (at most G_MAXINT32
 * of the unit) into seconds. */
gboolean rd_parse_duration (const char *text, gint64 *seconds);

/* Parses "192.0.2.0/24", "2001:db8::/32" or one address (a /32 or /128)
 * into network bytes (@len 4 or 16) and prefix length. Bits beyond the
 * prefix must be zero. RD_ERROR_INVALID_DATA saying what is wrong. */
gboolean rd_parse_cidr (const char *text, guint8 net[16], gsize *len, guint *prefix, GError **error);

/* Splits "user+detail@domain" style things and lower-cases the domain.
 * Returns FALSE when @addr is not local@domain. */
gboolean rd_address_split (const char *addr, char **local, char **domain);

G_END_DECLS
