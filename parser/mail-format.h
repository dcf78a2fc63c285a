/* relaydesk — parser: the mail format, for the layers that read or write
 * mail without building a whole view of it.
 *
 *  - header scanning on raw bytes, no MIME parse (RFC 5322 section 2.2):
 *    where the header block ends (CRLF or bare LF), the fields one by
 *    one, the unfolded value of the first field of a name;
 *  - address lists: one header value into mailboxes, read exactly as the
 *    view reads From/To/Cc (RFC 5322 section 3.4 and the obsolete forms
 *    of section 4.4, RFC 2047 names, RFC 6532 UTF-8);
 *  - the automated-sender policy: the one place that decides that a
 *    message or a sender is machine-generated and must not be answered
 *    automatically (RFC 3834 section 2, RFC 5230 section 4.5);
 *  - CRLF line ends for the wire (RFC 5322 section 2.3);
 *  - RdMailDraft: outgoing mail composed with GMime and written as CRLF
 *    bytes, RFC 2047 words where a header needs them, and no header
 *    injection: CR, LF and other control characters in any value given
 *    become blanks.
 * The functions are pure: no I/O, no global state; any thread.
 */
#pragma once

#include <glib.h>
#include "message.h"

G_BEGIN_DECLS

/* ---- header scanning ---------------------------------------------------- */

/* One header field as it stands in the raw bytes (not NUL-terminated). */
typedef struct {
  const char *name;    /* as written, blanks before the colon excluded */
  gsize name_len;
  const char *value;   /* from after the colon to the end of the field,
                        * folding line breaks and the last one included */
  gsize value_len;
} RdMailField;

/* The length of the header block of @raw (@len bytes): its fields with
 * their line ends, without the empty line (CRLF or LF) that ends it.
 * @body (may be NULL) receives where the body starts, after that empty
 * line, or @len when there is none (a header block alone). */
gsize rd_mail_header_length (const char *raw, gsize len, gsize *body);

/* Reads the field at *@pos (0 for the first) of the header block of @raw
 * and moves *@pos past it; FALSE at the end of the header block. A field
 * runs to the first line end not followed by a blank; a line that is no
 * "name:" with a printable name (garbage, an mbox "From " line, a
 * continuation with nothing to continue) is skipped. */
gboolean rd_mail_header_next (const char *raw, gsize len, gsize *pos, RdMailField *field);

/* TRUE when @field is named @name (ASCII case-insensitive). */
gboolean rd_mail_field_is (const RdMailField *field, const char *name);

/* @field's value unfolded (line breaks removed, RFC 5322 section 2.2.3)
 * and trimmed; not RFC 2047 decoded. (transfer full) */
char *rd_mail_field_value (const RdMailField *field);

/* The value (as rd_mail_field_value) of the first field @name in the
 * header block of @raw, or NULL. (transfer full) */
char *rd_mail_header_get (const char *raw, gsize len, const char *name);

/* ---- address lists ------------------------------------------------------- */

/* The mailboxes (RdAddress*) of one address-list header value (From, To,
 * Cc, Reply-To, ...; folded or not), read as the view reads them
 * (docs/parser.md): groups flattened ("undisclosed-recipients:;" gives
 * none), display names unquoted and RFC 2047-decoded, a comment is never
 * a name, obsolete routes dropped, <> kept as "<>", local parts quoted
 * where needed, raw 8-bit read as UTF-8 (else windows-1252). Never fails:
 * garbage gives what could be read. At most 10000. (transfer full) */
GPtrArray *rd_mail_address_list_parse (const char *value);

/* ---- the automated-sender policy ----------------------------------------- */

/* Why a message or a sender must not get an automatic answer. Bits, in
 * the order a check reports them (rd_mail_auto_name names the first);
 * the names of the first six are the Sieve vacation classes of the
 * conformance suite. */
typedef enum {
  RD_MAIL_AUTO_NONE = 0,
  RD_MAIL_AUTO_NULL_SENDER = 1 << 0,    /* "null-sender": <> (RFC 3834 section 2, RFC 5321 4.5.5) */
  RD_MAIL_AUTO_LIST = 1 << 1,           /* "mailing-list": a List-* field (RFC 2369, RFC 2919) */
  RD_MAIL_AUTO_SUBMITTED = 1 << 2,      /* "auto-submitted": Auto-Submitted other than "no" (RFC 3834 5) */
  RD_MAIL_AUTO_PRECEDENCE = 1 << 3,     /* "precedence": Precedence bulk, list or junk */
  RD_MAIL_AUTO_SUPPRESS = 1 << 4,       /* "auto-response-suppress": X-Auto-Response-Suppress All or OOF */
  RD_MAIL_AUTO_REPORT = 1 << 5,         /* "delivery-report": multipart/report of delivery-status (RFC 3464) */
  RD_MAIL_AUTO_MAILER_DAEMON = 1 << 6,  /* "mailer-daemon" */
  RD_MAIL_AUTO_POSTMASTER = 1 << 7,     /* "postmaster" (RFC 5321 4.5.1) */
  RD_MAIL_AUTO_LIST_ADDRESS = 1 << 8,   /* "list-address": owner-*, *-request*, listserv, majordomo */
  RD_MAIL_AUTO_NOREPLY = 1 << 9,        /* "noreply-address": noreply*, do-not-reply*, bounce(s), ... */
} RdMailAuto;

/* The bits that come from an address (the others come from the header). */
#define RD_MAIL_AUTO_ADDRESS_BITS \
  (RD_MAIL_AUTO_NULL_SENDER | RD_MAIL_AUTO_MAILER_DAEMON | RD_MAIL_AUTO_POSTMASTER \
   | RD_MAIL_AUTO_LIST_ADDRESS | RD_MAIL_AUTO_NOREPLY)

/* What @address (an addr-spec, with or without <>; "" or NULL: <>) says
 * about its owner: the null sender, a mailer daemon, postmaster, a list
 * robot or a no-reply address. The local part is compared lower-cased,
 * without a +detail (RFC 5233) and, for the no-reply and daemon
 * spellings, without '-', '_' and '.' ("No_Reply", "Mailer-Daemon"). */
RdMailAuto rd_mail_auto_address (const char *address);

/* The whole policy for an inbound message: the header signs of @msg and
 * the address signs of its sender: @envelope_sender (the SMTP MAIL FROM,
 * "" for <>), or, when that is NULL (not known, e.g. `relaydesk parse`),
 * the Return-Path field the delivering MTA wrote. RD_MAIL_AUTO_NONE:
 * a person wrote it and may be answered. */
RdMailAuto rd_mail_auto_message (const RdMessage *msg, const char *envelope_sender);

/* The name of the first reason in @reasons (see RdMailAuto), NULL for
 * none. For logs (key=value) and for the classes rules report. */
const char *rd_mail_auto_name (RdMailAuto reasons);

/* ---- CRLF ---------------------------------------------------------------- */

/* @text (NULL: "") with every line end CRLF as the wire wants (RFC 5322
 * section 2.3): bare LF and bare CR become CRLF, and a last line without
 * a line end gets one. Dots are left alone: dot-stuffing is the SMTP
 * client's (RFC 5321 section 4.5.2). (transfer full) */
char *rd_mail_text_crlf (const char *text);

/* ---- composing: RdMailDraft ---------------------------------------------- */

/* References kept in a composed message, in bytes: the oldest ids are
 * dropped until the field fits (RFC 5322 section 3.6.4 asks for the
 * parent's References plus its Message-ID; long threads would grow the
 * field without end). */
#define RD_MAIL_REFERENCES_MAX 1500
/* The original header block returned in an MDN (text/rfc822-headers) is
 * cut at a field boundary to at most this many bytes. */
#define RD_MAIL_MDN_HEADERS_MAX (64 * 1024)

/* The machine-readable part of a message disposition notification
 * (RFC 8098 section 3), as a Sieve reject sends it (RFC 5429 section
 * 2.1). */
typedef struct {
  const char *reporting_ua;        /* "host; product" */
  const char *final_recipient;     /* addr-spec, written "rfc822; ADDR" */
  const char *original_message_id; /* without brackets, or NULL */
  const char *disposition;         /* "automatic-action/MDN-sent-automatically; deleted" */
  GBytes *original;                /* the original message (its header block is
                                    * returned as text/rfc822-headers), or NULL */
} RdMailMdn;

typedef struct _RdMailDraft RdMailDraft;

/* (transfer full) */
RdMailDraft *rd_mail_draft_new (void);
void rd_mail_draft_free (RdMailDraft *draft);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdMailDraft, rd_mail_draft_free)

/* Mailboxes: @name may be NULL or "" (none); @addr an addr-spec without
 * brackets. Names that are not ASCII are RFC 2047-encoded. */
void rd_mail_draft_set_from (RdMailDraft *draft, const char *name, const char *addr);
void rd_mail_draft_set_reply_to (RdMailDraft *draft, const char *name, const char *addr);
void rd_mail_draft_add_to (RdMailDraft *draft, const char *name, const char *addr);
void rd_mail_draft_add_cc (RdMailDraft *draft, const char *name, const char *addr);
/* UTF-8; RFC 2047-encoded when not ASCII, folded when long. */
void rd_mail_draft_set_subject (RdMailDraft *draft, const char *subject);
/* Without brackets. */
void rd_mail_draft_set_message_id (RdMailDraft *draft, const char *id);
/* Unix seconds, written in UTC; unset: the time rd_mail_draft_to_bytes runs. */
void rd_mail_draft_set_date (RdMailDraft *draft, gint64 unix_seconds);
/* Threading (RFC 5322 section 3.6.4), ids without brackets: In-Reply-To,
 * and References oldest first (@n_ids -1: NULL-terminated), capped at
 * RD_MAIL_REFERENCES_MAX bytes with the oldest dropped. */
void rd_mail_draft_set_in_reply_to (RdMailDraft *draft, const char *id);
void rd_mail_draft_set_references (RdMailDraft *draft, const char *const *ids, gssize n_ids);
/* Both for an answer to @parent: In-Reply-To its Message-ID, References
 * its References (else its In-Reply-To) and its Message-ID. */
void rd_mail_draft_set_parent (RdMailDraft *draft, const RdMessage *parent);
/* Any other field (Auto-Submitted, X-Auto-Response-Suppress, ...),
 * appended in order; @name must be printable ASCII without ':'. */
void rd_mail_draft_add_header (RdMailDraft *draft, const char *name, const char *value);

/* The body: a text/plain UTF-8 part (7bit when it can be, else
 * quoted-printable), ... */
void rd_mail_draft_set_text (RdMailDraft *draft, const char *text);
/* ... or a whole MIME entity, its header fields included (a Sieve
 * vacation :mime reason, RFC 5230 section 4.4); when @entity does not
 * start with a header field it is taken as text. */
void rd_mail_draft_set_mime_entity (RdMailDraft *draft, const char *entity);
/* Attachments after the body (multipart/mixed), base64, with
 * Content-Disposition: attachment and the file name (RFC 2231 when not
 * ASCII). @content_type "type/subtype" (NULL: application/octet-stream). */
void rd_mail_draft_add_attachment (RdMailDraft *draft, const char *filename, const char *content_type,
                                   GBytes *data);
/* Makes the message a multipart/report (RFC 6522) of
 * report-type=disposition-notification: the text body (the human part),
 * the message/disposition-notification fields of @mdn, and the
 * original's header block. Attachments are not sent with a report. */
void rd_mail_draft_set_mdn (RdMailDraft *draft, const RdMailMdn *mdn);

/* The message, CRLF line ends throughout. (transfer full) */
GBytes *rd_mail_draft_to_bytes (RdMailDraft *draft);

G_END_DECLS
