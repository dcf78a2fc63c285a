/* relaydesk — parser: the message view, built with GMime.
 *
 * Steps (rd_message_parse_with_limits):
 *  1. framing (framing.c): a UTF-8 BOM and an mbox "From " envelope line
 *     are skipped, CR-only line ends become LF (GMime only knows LF and
 *     CRLF), broken header blocks repaired, a header block over the cap
 *     cut at a line boundary;
 *  2. GMime builds the MIME tree; its parser warnings are recorded;
 *  3. headers (here): decoded Subject, addresses (groups flattened), Date
 *     in UTC, ids, automation flags;
 *  4. one walk of the tree (mime-walk.c) picks and decodes the body and
 *     lists every other leaf as an attachment;
 *  5. delivery reports (dsn.c, RFC 3464) give the original Message-ID and
 *     the failed recipients.
 * The result holds no GMime object and never changes.
 */
#include "message.h"
#include "mail-format.h"
#include "parser-private.h"
#include "rd-common.h"
#include "rd-config.h"

#include <gmime/gmime.h>
#include <string.h>

#define MAX_WARNINGS 100

void
rd_parser_init (void)
{
  static gsize done;
  if (g_once_init_enter (&done))
    {
      g_mime_init ();
      rd_html_init ();
      g_once_init_leave (&done, 1);
    }
}

void
rd_parser_limits_init (RdParserLimits *limits)
{
  limits->max_depth = RD_PARSER_DEFAULT_MAX_DEPTH;
  limits->max_parts = RD_PARSER_DEFAULT_MAX_PARTS;
  limits->max_header_bytes = RD_PARSER_DEFAULT_MAX_HEADER_BYTES;
  limits->max_text_bytes = RD_PARSER_DEFAULT_MAX_TEXT_BYTES;
}

void
rd_parser_limits_from_config (RdParserLimits *limits, RdConfig *c)
{
  rd_parser_limits_init (limits);
  if (c == NULL)
    return;
  gint64 depth = rd_config_get_int (c, "parser", "max_mime_depth", RD_PARSER_DEFAULT_MAX_DEPTH);
  gint64 parts = rd_config_get_int (c, "parser", "max_mime_parts", RD_PARSER_DEFAULT_MAX_PARTS);
  guint64 hdr = rd_config_get_size (c, "parser", "max_header_bytes", RD_PARSER_DEFAULT_MAX_HEADER_BYTES);
  guint64 text = rd_config_get_size (c, "parser", "max_text_bytes", RD_PARSER_DEFAULT_MAX_TEXT_BYTES);
  limits->max_depth = (guint) CLAMP (depth, 1, 1000);
  limits->max_parts = (guint) CLAMP (parts, 1, 1000000);
  limits->max_header_bytes = (gsize) CLAMP (hdr, 1024, G_GUINT64_CONSTANT (64) * 1024 * 1024);
  limits->max_text_bytes = (gsize) CLAMP (text, 1024, G_GUINT64_CONSTANT (1024) * 1024 * 1024);
}

void
rd_header_free (gpointer p)
{
  RdHeader *h = p;
  g_free (h->name);
  g_free (h->value);
  g_free (h);
}

void
rd_message_warn (RdMessage *msg, const char *fmt, ...)
{
  if (msg->warnings->len >= MAX_WARNINGS)
    return;
  va_list ap;
  va_start (ap, fmt);
  char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  /* Warnings may quote message bytes: keep them valid UTF-8 and short. */
  char *valid = g_utf8_make_valid (text, MIN (strlen (text), 200));
  g_free (text);
  g_ptr_array_add (msg->warnings, valid);
}

/* ---- headers ---------------------------------------------------------- */

char *
rd_header_unfold (const char *raw)
{
  if (raw == NULL)
    return NULL;
  GString *s = g_string_sized_new (strlen (raw));
  for (const char *p = raw; *p; p++)
    if (*p != '\r' && *p != '\n')
      g_string_append_c (s, *p);
  return g_string_free (s, FALSE);
}

char *
rd_str_trimmed (const char *v)
{
  if (v == NULL)
    return NULL;
  char *u = g_strdup (v);
  g_strstrip (u);
  return u;
}

char *
rd_str_lower_trim (const char *v)
{
  if (v == NULL)
    return NULL;
  g_autofree char *u = rd_str_trimmed (v);
  return g_utf8_strdown (u, -1);
}

/* Message ids as the corpus contract reads them: every <...> (without
 * brackets and whitespace, empty ones skipped); with no brackets at all,
 * the whitespace/comma separated tokens. */
static GPtrArray *
ids_from (const char *value)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  if (value == NULL)
    return out;
  const char *p = value;
  while ((p = strchr (p, '<')) != NULL)
    {
      const char *q = p + 1;
      while (*q && *q != '<' && *q != '>')
        q++;
      if (*q != '>')
        {
          if (*q == '\0')
            break;
          p = q; /* another '<': restart there */
          continue;
        }
      GString *id = g_string_new (NULL);
      for (const char *c = p + 1; c < q; c++)
        if (!g_ascii_isspace (*c))
          g_string_append_c (id, *c);
      if (id->len)
        g_ptr_array_add (out, g_string_free (id, FALSE));
      else
        g_string_free (id, TRUE);
      p = q + 1;
    }
  if (out->len)
    return out;
  g_auto(GStrv) tokens = g_strsplit_set (value, " \t\r\n,", -1);
  for (guint i = 0; tokens[i]; i++)
    if (*tokens[i])
      g_ptr_array_add (out, g_strdup (tokens[i]));
  return out;
}

char *
rd_msgid_first (const char *value)
{
  g_autoptr(GPtrArray) ids = ids_from (value);
  return ids->len ? g_strdup (g_ptr_array_index (ids, 0)) : NULL;
}

/* ---- charsets --------------------------------------------------------- */

char *
rd_charset_to_utf8 (RdMessage *msg, const guint8 *data, gsize len, const char *charset)
{
  return rd_convert_to_utf8 (data, len, charset, msg ? (RdWarnFunc) rd_message_warn : NULL, msg);
}

/* ---- addresses -------------------------------------------------------- */

static GPtrArray *
address_header (GMimeMessage *m, const char *name)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (rd_address_free);
  GMimeHeaderList *hl = g_mime_object_get_header_list (GMIME_OBJECT (m));
  int n = g_mime_header_list_get_count (hl);
  /* Every header of that name, in order (the contract reads them all). */
  for (int i = 0; i < n; i++)
    {
      GMimeHeader *h = g_mime_header_list_get_header_at (hl, i);
      const char *hname = g_mime_header_get_name (h);
      if (g_ascii_tolower (hname[0]) != g_ascii_tolower (name[0]) || g_ascii_strcasecmp (hname, name) != 0)
        continue;
      const char *raw = g_mime_header_get_raw_value (h);
      if (raw == NULL)
        continue;
      rd_parse_address_list (raw, out);
    }
  return out;
}

static const char *
parser_warning_name (GMimeParserWarning code)
{
  switch (code)
    {
    case GMIME_WARN_DUPLICATED_HEADER: return "duplicated header";
    case GMIME_WARN_DUPLICATED_PARAMETER: return "duplicated parameter";
    case GMIME_WARN_UNENCODED_8BIT_HEADER: return "unencoded 8-bit header";
    case GMIME_WARN_INVALID_CONTENT_TYPE: return "invalid content type";
    case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE: return "invalid RFC 2047 header value";
    case GMIME_WARN_MALFORMED_MULTIPART: return "malformed multipart";
    case GMIME_WARN_TRUNCATED_MESSAGE: return "truncated message";
    case GMIME_WARN_MALFORMED_MESSAGE: return "malformed message";
    case GMIME_CRIT_INVALID_HEADER_NAME: return "invalid header name";
    case GMIME_CRIT_CONFLICTING_HEADER: return "conflicting header";
    case GMIME_CRIT_CONFLICTING_PARAMETER: return "conflicting parameter";
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: return "multipart without boundary";
    case GMIME_WARN_INVALID_PARAMETER: return "invalid parameter";
    case GMIME_WARN_INVALID_ADDRESS_LIST: return "invalid address list";
    case GMIME_CRIT_NESTING_OVERFLOW: return "MIME nesting overflow";
    case GMIME_WARN_PART_WITHOUT_CONTENT: return "part without content";
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: return "part without headers or content";
    default: return "parser warning";
    }
}

static void
on_warning (gint64 offset, GMimeParserWarning code, const gchar *item, gpointer user_data)
{
  RdMessage *msg = user_data;
  if (item)
    {
      g_autofree char *esc = rd_log_escape (item, -1, 80);
      rd_message_warn (msg, "gmime: %s at offset %" G_GINT64_FORMAT ": %s", parser_warning_name (code), offset, esc);
    }
  else
    rd_message_warn (msg, "gmime: %s at offset %" G_GINT64_FORMAT, parser_warning_name (code), offset);
}

/* ---- the view --------------------------------------------------------- */

static char *
decoded_header (GMimeParserOptions *opts, const char *raw)
{
  if (raw == NULL)
    return NULL;
  return rd_decode_unstructured (opts, raw);
}

RdMessage *
rd_message_parse (GBytes *raw, GError **error)
{
  return rd_message_parse_with_limits (raw, NULL, error);
}

RdMessage *
rd_message_parse_with_limits (GBytes *raw, const RdParserLimits *limits_in, GError **error)
{
  rd_parser_init ();
  RdParserLimits limits;
  if (limits_in)
    limits = *limits_in;
  else
    rd_parser_limits_init (&limits);
  if (limits.max_header_bytes < 1024)
    limits.max_header_bytes = 1024;

  gsize len = 0;
  const guint8 *data = g_bytes_get_data (raw, &len);
  if (len == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "empty message");
      return NULL;
    }
  RdMessage *msg = g_new0 (RdMessage, 1);
  msg->refcount = 1;
  msg->raw = g_bytes_ref (raw);
  msg->warnings = g_ptr_array_new_with_free_func (g_free);
  msg->headers = g_ptr_array_new_with_free_func (rd_header_free);
  msg->attachments = g_ptr_array_new_with_free_func (rd_attachment_free);
  msg->dsn_recipients = g_ptr_array_new_with_free_func (rd_dsn_recipient_free);

  g_autofree guint8 *owned = NULL;
  gsize flen = len;
  const guint8 *fdata = rd_framing_repair (msg, &limits, data, &flen, &owned);

  GMimeParserOptions *opts = g_mime_parser_options_new ();
  g_mime_parser_options_set_warning_callback (opts, on_warning, msg);
  g_mime_parser_options_set_allow_addresses_without_domain (opts, TRUE);
  /* GMime makes an object (header list, content stream) per MIME part
   * before the walk's max_parts applies: 100,000 tiny parts took 200 MB.
   * The bytes after the (4 x max_parts)-th line starting with "--" (a
   * boundary, or text that looks like one) are not given to it; the
   * spool keeps the message whole. */
  gsize boundary_lines = 0, cap_lines = (gsize) limits.max_parts * 4 + 64;
  for (gsize i = 0; i + 2 < flen; i++)
    if ((i == 0 || fdata[i - 1] == '\n') && fdata[i] == '-' && fdata[i + 1] == '-' && ++boundary_lines > cap_lines)
      {
        rd_message_warn (msg, "limit: more than %" G_GSIZE_FORMAT " boundary lines, the rest is not parsed", cap_lines);
        msg->limits_hit = TRUE;
        flen = i;
        break;
      }
  /* The stream reads the bytes where they are: g_mime_stream_mem_new_with_buffer
   * would copy them (a 25 MB message was parsed from a second 32 MB
   * buffer). The array is only read, never grown, and given back
   * without freeing the bytes. */
  GByteArray *wrap = g_byte_array_new_take ((guint8 *) fdata, flen);
  GMimeStream *stream = g_mime_stream_mem_new_with_byte_array (wrap);
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (stream), FALSE);
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  g_mime_parser_set_format (parser, GMIME_FORMAT_MESSAGE);
  GMimeMessage *m = g_mime_parser_construct_message (parser, opts);
  g_object_unref (parser);
  g_object_unref (stream);
  if (m == NULL)
    {
      g_byte_array_free (wrap, FALSE); /* the bytes stay: fdata's */
      g_mime_parser_options_free (opts);
      rd_message_unref (msg);
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "not a message: no header block found");
      return NULL;
    }

  GMimeHeaderList *hl = g_mime_object_get_header_list (GMIME_OBJECT (m));
  int nh = g_mime_header_list_get_count (hl);
  for (int i = 0; i < nh; i++)
    {
      GMimeHeader *h = g_mime_header_list_get_header_at (hl, i);
      RdHeader *rh = g_new0 (RdHeader, 1);
      rh->name = g_utf8_make_valid (g_mime_header_get_name (h), -1);
      g_autofree char *v = rd_header_unfold (g_mime_header_get_raw_value (h));
      rh->value = rd_header_bytes_to_utf8 (v ? g_strchug (v) : "");
      g_ptr_array_add (msg->headers, rh);
    }

  /* Subject: decoded from the raw value (RFC 2047 words, raw 8-bit read
   * as UTF-8), folding line breaks removed, the whitespace after kept. */
  {
    GMimeHeader *h = g_mime_header_list_get_header (hl, "Subject");
    const char *rawv = h ? g_mime_header_get_raw_value (h) : NULL;
    if (h)
      {
        g_autofree char *u = rd_header_unfold (rawv ? rawv : "");
        msg->subject = decoded_header (opts, u);
      }
  }
  msg->message_id = rd_msgid_first (rd_message_get_header (msg, "Message-ID"));
  msg->in_reply_to = rd_msgid_first (rd_message_get_header (msg, "In-Reply-To"));
  {
    g_autoptr(GPtrArray) refs = ids_from (rd_message_get_header (msg, "References"));
    GPtrArray *r = g_ptr_array_new ();
    for (guint i = 0; i < refs->len && i < 1000; i++)
      g_ptr_array_add (r, g_strdup (g_ptr_array_index (refs, i)));
    g_ptr_array_add (r, NULL);
    msg->references = (char **) g_ptr_array_free (r, FALSE);
  }
  msg->has_date = rd_parse_date (rd_message_get_header (msg, "Date"), &msg->date);
  msg->from = address_header (m, "From");
  msg->to = address_header (m, "To");
  msg->cc = address_header (m, "Cc");
  msg->reply_to = address_header (m, "Reply-To");
  msg->sender = address_header (m, "Sender");
  {
    g_autofree char *as = decoded_header (opts, rd_message_get_header (msg, "Auto-Submitted"));
    msg->auto_submitted = rd_str_lower_trim (as);
    g_autofree char *pr = decoded_header (opts, rd_message_get_header (msg, "Precedence"));
    msg->precedence = rd_str_lower_trim (pr);
    g_autofree char *xs = decoded_header (opts, rd_message_get_header (msg, "X-Auto-Response-Suppress"));
    msg->x_auto_response_suppress = rd_str_trimmed (xs);
  }
  {
    g_autofree char *lid = decoded_header (opts, rd_message_get_header (msg, "List-Id"));
    if (lid)
      {
        g_autofree char *t = rd_str_trimmed (lid);
        /* the last <...> (same bracket rule as message ids, spaces kept) */
        const char *p = t;
        const char *last_lt = NULL, *last_gt = NULL;
        while ((p = strchr (p, '<')) != NULL)
          {
            const char *q = p + 1;
            while (*q && *q != '<' && *q != '>')
              q++;
            if (*q == '>')
              {
                last_lt = p;
                last_gt = q;
                p = q + 1;
              }
            else if (*q == '<')
              p = q;
            else
              break;
          }
        if (last_lt)
          {
            g_autofree char *inner = g_strndup (last_lt + 1, last_gt - last_lt - 1);
            msg->list_id = rd_str_trimmed (inner);
          }
        else
          msg->list_id = g_steal_pointer (&t);
      }
  }
  msg->list_unsubscribe = rd_str_trimmed (rd_message_get_header (msg, "List-Unsubscribe"));
  msg->list_post = rd_str_trimmed (rd_message_get_header (msg, "List-Post"));
  msg->list_help = rd_str_trimmed (rd_message_get_header (msg, "List-Help"));
  msg->list_archive = rd_str_trimmed (rd_message_get_header (msg, "List-Archive"));
  msg->list_owner = rd_str_trimmed (rd_message_get_header (msg, "List-Owner"));

  GMimeObject *root = g_mime_message_get_mime_part (m);
  if (root)
    {
      g_autofree char *rct = rd_mime_content_type (root, FALSE);
      if (g_str_equal (rct, "multipart/report"))
        {
          const char *rt = g_mime_object_get_content_type_parameter (root, "report-type");
          g_autofree char *rtt = rd_str_trimmed (rt);
          msg->is_bounce = rtt && g_ascii_strcasecmp (rtt, "delivery-status") == 0;
        }
      rd_mime_walk (msg, root, &limits, opts, fdata, flen, owned == NULL);
      rd_dsn_collect (msg, root);
    }
  else
    msg->body_source = g_strdup ("none");

  g_object_unref (m);
  /* Only now: the parts' content streams are substreams of the stream
   * on @wrap, alive as long as the message. */
  g_byte_array_free (wrap, FALSE);
  g_mime_parser_options_free (opts);
  return msg;
}

RdMessage *
rd_message_ref (RdMessage *msg)
{
  g_atomic_int_inc (&msg->refcount);
  return msg;
}

void
rd_message_unref (RdMessage *msg)
{
  if (msg == NULL || !g_atomic_int_dec_and_test (&msg->refcount))
    return;
  g_bytes_unref (msg->raw);
  g_free (msg->subject);
  g_free (msg->message_id);
  g_free (msg->in_reply_to);
  g_strfreev (msg->references);
  g_clear_pointer (&msg->from, g_ptr_array_unref);
  g_clear_pointer (&msg->to, g_ptr_array_unref);
  g_clear_pointer (&msg->cc, g_ptr_array_unref);
  g_clear_pointer (&msg->reply_to, g_ptr_array_unref);
  g_clear_pointer (&msg->sender, g_ptr_array_unref);
  g_ptr_array_unref (msg->headers);
  g_ptr_array_unref (msg->attachments);
  g_ptr_array_unref (msg->warnings);
  g_ptr_array_unref (msg->dsn_recipients);
  g_free (msg->body_source);
  g_free (msg->body_text);
  if (msg->body_new != msg->body_text)
    g_free (msg->body_new);
  g_free (msg->body_content_type);
  g_free (msg->body_charset);
  g_free (msg->auto_submitted);
  g_free (msg->precedence);
  g_free (msg->list_id);
  g_free (msg->x_auto_response_suppress);
  g_free (msg->list_unsubscribe);
  g_free (msg->list_post);
  g_free (msg->list_help);
  g_free (msg->list_archive);
  g_free (msg->list_owner);
  g_free (msg->dsn_original_message_id);
  g_free (msg);
}

GBytes *rd_message_get_raw (const RdMessage *msg) { return msg->raw; }
gsize rd_message_get_size (const RdMessage *msg) { return g_bytes_get_size (msg->raw); }
const char *rd_message_get_subject (const RdMessage *msg) { return msg->subject; }
const char *rd_message_get_message_id (const RdMessage *msg) { return msg->message_id; }
const char *rd_message_get_in_reply_to (const RdMessage *msg) { return msg->in_reply_to; }
const char *const *rd_message_get_references (const RdMessage *msg) { return (const char *const *) msg->references; }

gboolean
rd_message_get_date (const RdMessage *msg, gint64 *unix_seconds)
{
  if (msg->has_date && unix_seconds)
    *unix_seconds = msg->date;
  return msg->has_date;
}

GPtrArray *rd_message_get_from (const RdMessage *msg) { return msg->from; }
GPtrArray *rd_message_get_to (const RdMessage *msg) { return msg->to; }
GPtrArray *rd_message_get_cc (const RdMessage *msg) { return msg->cc; }
GPtrArray *rd_message_get_reply_to (const RdMessage *msg) { return msg->reply_to; }
GPtrArray *rd_message_get_sender (const RdMessage *msg) { return msg->sender; }
GPtrArray *rd_message_get_headers (const RdMessage *msg) { return msg->headers; }

const char *
rd_message_get_header (const RdMessage *msg, const char *name)
{
  char first = g_ascii_tolower (name[0]);
  for (guint i = 0; i < msg->headers->len; i++)
    {
      RdHeader *h = g_ptr_array_index (msg->headers, i);
      if (g_ascii_tolower (h->name[0]) == first && g_ascii_strcasecmp (h->name, name) == 0)
        return h->value;
    }
  return NULL;
}

const char *rd_message_get_body_source (const RdMessage *msg) { return msg->body_source; }
const char *rd_message_get_body_text (const RdMessage *msg) { return msg->body_text; }
GPtrArray *rd_message_get_attachments (const RdMessage *msg) { return msg->attachments; }
const char *rd_message_get_auto_submitted (const RdMessage *msg) { return msg->auto_submitted; }
const char *rd_message_get_precedence (const RdMessage *msg) { return msg->precedence; }
const char *rd_message_get_list_id (const RdMessage *msg) { return msg->list_id; }
gboolean rd_message_is_bounce (const RdMessage *msg) { return msg->is_bounce; }
GPtrArray *rd_message_get_warnings (const RdMessage *msg) { return msg->warnings; }
const char *rd_message_get_body_content_type (const RdMessage *msg) { return msg->body_content_type; }
const char *rd_message_get_body_charset (const RdMessage *msg) { return msg->body_charset; }
const char *rd_message_get_body_new_text (const RdMessage *msg) { return msg->body_new; }
const char *rd_message_get_body_quoted (const RdMessage *msg) { return msg->body_quoted; }
const char *rd_message_get_x_auto_response_suppress (const RdMessage *msg) { return msg->x_auto_response_suppress; }
const char *rd_message_get_list_unsubscribe (const RdMessage *msg) { return msg->list_unsubscribe; }
const char *rd_message_get_list_post (const RdMessage *msg) { return msg->list_post; }
const char *rd_message_get_list_help (const RdMessage *msg) { return msg->list_help; }
const char *rd_message_get_list_archive (const RdMessage *msg) { return msg->list_archive; }
const char *rd_message_get_list_owner (const RdMessage *msg) { return msg->list_owner; }
const char *rd_message_get_dsn_original_message_id (const RdMessage *msg) { return msg->dsn_original_message_id; }
GPtrArray *rd_message_get_dsn_recipients (const RdMessage *msg) { return msg->dsn_recipients; }
guint rd_message_get_part_count (const RdMessage *msg) { return msg->part_count; }
guint rd_message_get_max_depth (const RdMessage *msg) { return msg->max_depth; }
gboolean rd_message_get_limits_hit (const RdMessage *msg) { return msg->limits_hit; }

/* One policy for every layer: mail-format.c. */
gboolean
rd_message_is_automated (const RdMessage *msg)
{
  return rd_mail_auto_message (msg, NULL) != RD_MAIL_AUTO_NONE;
}

char *
rd_header_decode (const char *raw_value)
{
  return rd_decode_unstructured (NULL, raw_value);
}
