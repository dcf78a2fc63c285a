/* relaydesk — rules: Sieve "encoded-character" (RFC 5228 2.4.2.4).
 *
 * "${hex:41 42}" and "${unicode:1F600}" in any string argument stand for
 * the octets or characters they encode; the decoding happens once, at
 * compile time, before variables are looked for.
 */
#include "sieve-private.h"

#include <string.h>

/* RFC 5228 2.4.2.4: ${hex:..} and ${unicode:..}; a malformed one (no
 * value, a non-hex digit, a hex value of more than two digits) stays as
 * written; a unicode value that is no character (a surrogate, above
 * 10FFFF) is an error. */
static char *
decode (const char *text, gsize len, gsize *out_len, const char **error)
{
  GString *out = g_string_sized_new (len);
  gsize i = 0;
  while (i < len)
    {
      if (text[i] == '$' && i + 1 < len && text[i + 1] == '{')
        {
          const char *close = memchr (text + i, '}', len - i);
          gsize start = i + 2;
          gboolean hex = FALSE, uni = FALSE;
          if (close)
            {
              gsize n = close - (text + start);
              if (n >= 4 && g_ascii_strncasecmp (text + start, "hex:", 4) == 0)
                hex = TRUE;
              else if (n >= 8 && g_ascii_strncasecmp (text + start, "unicode:", 8) == 0)
                uni = TRUE;
            }
          if (hex || uni)
            {
              const char *p = text + start + (hex ? 4 : 8);
              GString *dec = g_string_new (NULL);
              gboolean ok = TRUE;
              guint items = 0;
              while (p < close && ok)
                {
                  while (p < close && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                    p++;
                  if (p >= close)
                    break;
                  guint64 v = 0;
                  guint digits = 0;
                  while (p < close && g_ascii_isxdigit (*p))
                    {
                      v = v * 16 + (guint64) g_ascii_xdigit_value (*p);
                      p++;
                      if (++digits > 8)
                        ok = FALSE;
                    }
                  if (digits == 0 || (p < close && !(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')))
                    ok = FALSE;
                  if (!ok)
                    break;
                  items++;
                  if (hex)
                    {
                      if (digits > 2)
                        ok = FALSE;
                      else
                        g_string_append_c (dec, (char) v);
                    }
                  else
                    {
                      if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                        {
                          /* Well-formed but not a character: an error. */
                          *error = "encoded-character: ${unicode:...} outside 0-D7FF and E000-10FFFF";
                          ok = FALSE;
                        }
                      else
                        g_string_append_unichar (dec, (gunichar) v);
                    }
                }
              /* At least one hex-pair or unicode-hex (2.4.2.4). */
              if (ok && items > 0)
                {
                  g_string_append_len (out, dec->str, dec->len);
                  g_string_free (dec, TRUE);
                  i = (close - text) + 1;
                  continue;
                }
              g_string_free (dec, TRUE);
            }
        }
      g_string_append_c (out, text[i]);
      i++;
    }
  *out_len = out->len;
  return g_string_free (out, FALSE);
}

const SvExtension sv_ext_encoded_character = {
  .capability = "encoded-character",
  .ext = EXT_ENCODED_CHARACTER,
  .decode_string = decode,
};
