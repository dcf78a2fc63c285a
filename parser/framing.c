/* relaydesk — parser: framing repair, before GMime sees the bytes.
 *
 * The raw bytes are never changed (the spool keeps them); GMime parses a
 * repaired copy when one is needed (docs/parser.md, "Repairs before GMime
 * sees the bytes"): a UTF-8 BOM and an mbox "From " envelope line are
 * skipped, continuation lines before the first field dropped, CR-only
 * line ends become LF (GMime only knows LF and CRLF), header blocks that
 * run into their content get their empty line, a second Content-Type is
 * renamed, and header blocks over the cap are cut at a field boundary.
 */
#include "mail-format.h"
#include "parser-private.h"

#include <string.h>

/* RFC 5322 section 2.2 / 4.5: "name:" with printable non-colon name
 * characters (the obsolete syntax allows blanks before the colon). */
static gboolean
is_header_line (const guint8 *l, gsize len)
{
  gsize i = 0;
  while (i < len && l[i] >= 33 && l[i] <= 126 && l[i] != ':')
    i++;
  if (i == 0 && len >= 5 && memcmp (l, "From ", 5) == 0)
    return TRUE;
  gsize name_end = i;
  while (i < len && (l[i] == ' ' || l[i] == '\t'))
    i++;
  return i < len && l[i] == ':' && (name_end > 0 || i == 0);
}

static gsize
line_len (const guint8 *p, const guint8 *end, gsize *content_len)
{
  const guint8 *nl = memchr (p, '\n', (gsize) (end - p));
  gsize n = nl ? (gsize) (nl - p) + 1 : (gsize) (end - p);
  gsize c = nl ? n - 1 : n;
  if (c > 0 && p[c - 1] == '\r')
    c--;
  *content_len = c;
  return n;
}

#define MAX_BOUNDARIES 64

/* The boundary parameters anywhere in the message (cheap scan). */
static GPtrArray *
find_boundaries (const guint8 *p, gsize n)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  const guint8 *end = p + n;
  for (const guint8 *eq = memchr (p, '=', n); eq && out->len < MAX_BOUNDARIES;
       eq = memchr (eq + 1, '=', (gsize) (end - eq - 1)))
    {
      if (eq - p < 8 || g_ascii_strncasecmp ((const char *) eq - 8, "boundary", 8) != 0)
        continue;
      const guint8 *v = eq + 1;
      const guint8 *e;
      if (v < end && *v == '"')
        {
          v++;
          e = v;
          while (e < end && *e != '"' && *e != '\n')
            e++;
        }
      else
        {
          e = v;
          while (e < end && *e != ';' && *e != '\r' && *e != '\n' && *e != ' ' && *e != '\t')
            e++;
        }
      if (e > v && e - v <= 200)
        g_ptr_array_add (out, g_strndup ((const char *) v, (gsize) (e - v)));
    }
  return out;
}

static gboolean
is_boundary_line (const guint8 *l, gsize len, GPtrArray *boundaries, gboolean *closing)
{
  if (len < 3 || l[0] != '-' || l[1] != '-')
    return FALSE;
  while (len > 2 && (l[len - 1] == ' ' || l[len - 1] == '\t'))
    len--;
  for (guint i = 0; i < boundaries->len; i++)
    {
      const char *b = g_ptr_array_index (boundaries, i);
      gsize bl = strlen (b);
      if (len == bl + 2 && memcmp (l + 2, b, bl) == 0)
        {
          *closing = FALSE;
          return TRUE;
        }
      if (len == bl + 4 && memcmp (l + 2, b, bl) == 0 && l[bl + 2] == '-' && l[bl + 3] == '-')
        {
          *closing = TRUE;
          return TRUE;
        }
    }
  return FALSE;
}

/* A header block (top level or a MIME part's) that runs into its content
 * without the empty line: the first line that is neither a header field
 * nor a continuation starts the content, as Python reads it (GMime would
 * swallow the content as broken headers, or let a part's Content-Type
 * override the message's). A junk line followed by a header field is
 * left alone: a damaged field inside the header block. A second
 * Content-Type field in one block is renamed X-Duplicate-Content-Type.
 * Returns the repaired copy, or NULL when nothing needed repair. */
static guint8 *
insert_separators (const guint8 *p, gsize n, gsize cap, gsize *out_len, guint *inserted, guint *capped)
{
  const guint8 *end = p + n;
  g_autoptr(GPtrArray) boundaries = NULL;
  GByteArray *out = NULL;
  gboolean in_headers = TRUE;
  gboolean ct_seen = FALSE;
  gboolean is_message = FALSE;   /* the block's Content-Type is message/rfc822 */
  gboolean in_embedded = FALSE;  /* in the header block of an attached message */
  gsize embedded_bytes = 0;
  const guint8 *copied = p;
  *inserted = 0;
  *capped = 0;
  for (const guint8 *l = p; l < end;)
    {
      gsize clen;
      gsize llen = line_len (l, end, &clen);
      const guint8 *next = l + llen;
      if (in_embedded)
        {
          /* An attached message's header block gets the same cap as the
           * top level: GMime decodes its address fields eagerly, in time
           * quadratic in a hostile field's length. Fields past the cap
           * are dropped. */
          if (clen == 0)
            in_embedded = FALSE;
          else if ((embedded_bytes += llen) > cap)
            {
              if (out == NULL)
                out = g_byte_array_sized_new (n + 64);
              g_byte_array_append (out, copied, (guint) (l - copied));
              copied = next;
              if (embedded_bytes - llen <= cap)
                (*capped)++; /* the first field over the cap in this block */
            }
        }
      else if (in_headers)
        {
          if (clen == 0)
            {
              in_headers = FALSE;
              if (is_message)
                {
                  in_embedded = TRUE;
                  embedded_bytes = 0;
                }
            }
          else if (clen > 13 && g_ascii_strncasecmp ((const char *) l, "Content-Type", 12) == 0
                   && (l[12] == ':' || l[12] == ' ' || l[12] == '\t'))
            {
              /* RFC 2045 allows one Content-Type: the first one counts (as
               * Python reads it; GMime would take the last). */
              if (ct_seen)
                {
                  if (out == NULL)
                    out = g_byte_array_sized_new (n + 64);
                  g_byte_array_append (out, copied, (guint) (l - copied));
                  g_byte_array_append (out, (const guint8 *) "X-Duplicate-", 12);
                  copied = l;
                  (*inserted)++;
                }
              else
                {
                  const guint8 *v = memchr (l, ':', clen);
                  if (v)
                    {
                      v++;
                      while (v < l + clen && (*v == ' ' || *v == '\t'))
                        v++;
                      gsize vl = (gsize) (l + clen - v);
                      is_message = (vl >= 14 && g_ascii_strncasecmp ((const char *) v, "message/rfc822", 14) == 0)
                                   || (vl >= 14 && g_ascii_strncasecmp ((const char *) v, "message/global", 14) == 0);
                    }
                }
              ct_seen = TRUE;
            }
          else if (l[0] != ' ' && l[0] != '\t' && !is_header_line (l, clen))
            {
              gsize nlen;
              gboolean next_is_header = next < end && (line_len (next, end, &nlen), nlen > 0)
                                        && is_header_line (next, nlen);
              if (!next_is_header)
                {
                  if (out == NULL)
                    out = g_byte_array_sized_new (n + 64);
                  g_byte_array_append (out, copied, (guint) (l - copied));
                  gboolean crlf = llen > clen + 1;
                  g_byte_array_append (out, (const guint8 *) (crlf ? "\r\n" : "\n"), crlf ? 2 : 1);
                  copied = l;
                  (*inserted)++;
                  in_headers = FALSE;
                  if (is_message)
                    {
                      in_embedded = TRUE;
                      embedded_bytes = 0;
                      continue; /* this line starts the attached message's header */
                    }
                }
            }
        }
      else if (clen >= 3 && l[0] == '-' && l[1] == '-')
        {
          if (boundaries == NULL)
            boundaries = find_boundaries (p, n);
          gboolean closing = FALSE;
          if (is_boundary_line (l, clen, boundaries, &closing) && !closing)
            {
              in_headers = TRUE;
              ct_seen = FALSE;
              is_message = FALSE;
            }
        }
      if (!in_headers && !in_embedded && next < end)
        {
          /* in content only boundary lines matter: jump to the next "--" line */
          const guint8 *q = next;
          while ((q = memchr (q, '-', (gsize) (end - q))) != NULL
                 && !(q[-1] == '\n' && q + 1 < end && q[1] == '-'))
            q++; /* base64 has no '-': memchr runs through it */
          if (q == NULL)
            break;
          next = q;
        }
      l = next;
    }
  if (out == NULL)
    return NULL;
  g_byte_array_append (out, copied, (guint) (end - copied));
  *out_len = out->len;
  return g_byte_array_free (out, FALSE);
}

/* Returns the bytes GMime should see: BOM and "From " line skipped, lone
 * CRs made LF, an over-long header block cut. @owned receives a copy
 * when one was needed. */
const guint8 *
rd_framing_repair (RdMessage *msg, const RdParserLimits *limits, const guint8 *data, gsize *len, guint8 **owned)
{
  const guint8 *p = data;
  gsize n = *len;
  *owned = NULL;
  if (n >= 3 && memcmp (p, "\xef\xbb\xbf", 3) == 0)
    {
      p += 3;
      n -= 3;
      rd_message_warn (msg, "framing: UTF-8 byte order mark skipped");
    }
  if (n >= 5 && memcmp (p, "From ", 5) == 0)
    {
      const guint8 *eol = memchr (p, '\n', n);
      const guint8 *cr = memchr (p, '\r', eol ? (gsize) (eol - p) : n);
      const guint8 *e = cr && (!eol || cr < eol) && !(cr + 1 < p + n && cr[1] == '\n') ? cr : eol;
      gsize skip = e ? (gsize) (e - p) + 1 : n;
      p += skip;
      n -= skip;
    }
  /* Continuation lines before the first header field have nothing to
   * continue (Python records FirstHeaderLineIsContinuationDefect and
   * skips them); GMime would give up on the header block. */
  gboolean skipped_cont = FALSE;
  while (n > 0 && (p[0] == ' ' || p[0] == '\t'))
    {
      const guint8 *eol = memchr (p, '\n', n);
      gsize skip = eol ? (gsize) (eol - p) + 1 : n;
      p += skip;
      n -= skip;
      skipped_cont = TRUE;
    }
  if (skipped_cont)
    rd_message_warn (msg, "framing: continuation lines before the first header field skipped");
  /* Lone CR line ends (old Mac files, mixed files): GMime would read one
   * endless line, Python reads CR as a line break. */
  gboolean lone_cr = FALSE;
  for (const guint8 *cr = memchr (p, '\r', n); cr; cr = memchr (cr + 1, '\r', n - (gsize) (cr + 1 - p)))
    if (cr + 1 == p + n || cr[1] != '\n')
      {
        lone_cr = TRUE;
        break;
      }
  if (lone_cr)
    {
      guint8 *c = g_malloc (n + 1);
      gsize o = 0;
      for (gsize i = 0; i < n; i++)
        {
          if (p[i] == '\r')
            {
              if (i + 1 < n && p[i + 1] == '\n')
                continue;
              c[o++] = '\n';
            }
          else
            c[o++] = p[i];
        }
      *owned = c;
      p = c;
      n = o;
      rd_message_warn (msg, "framing: lone CR line ends read as LF");
    }
  guint inserted = 0, capped = 0;
  gsize fixed_len = 0;
  guint8 *fixed = insert_separators (p, n, limits->max_header_bytes, &fixed_len, &inserted, &capped);
  if (fixed)
    {
      g_free (*owned);
      *owned = fixed;
      p = fixed;
      n = fixed_len;
      if (inserted)
        rd_message_warn (msg, "framing: %u header block(s) repaired (no empty line before the content,"
                         " or a second Content-Type)", inserted);
      if (capped)
        {
          msg->limits_hit = TRUE;
          rd_message_warn (msg, "limit: header block of an attached message over %" G_GSIZE_FORMAT
                           " bytes, later fields dropped", limits->max_header_bytes);
        }
    }
  /* The header block: up to the first empty line. */
  gsize hdr_end = rd_mail_header_length ((const char *) p, n, NULL);
  if (hdr_end > limits->max_header_bytes)
    {
      gsize cut = limits->max_header_bytes;
      /* cut before the header field that crosses the cap */
      while (cut > 0 && !(p[cut - 1] == '\n' && p[cut] != ' ' && p[cut] != '\t'))
        cut--;
      guint8 *c = g_malloc (n - (hdr_end - cut) + 1);
      memcpy (c, p, cut);
      memcpy (c + cut, p + hdr_end, n - hdr_end);
      gsize nn = n - (hdr_end - cut);
      g_free (*owned);
      *owned = c;
      p = c;
      n = nn;
      msg->limits_hit = TRUE;
      rd_message_warn (msg, "limit: header block over %" G_GSIZE_FORMAT " bytes, later fields dropped",
                       limits->max_header_bytes);
    }
  *len = n;
  return p;
}
