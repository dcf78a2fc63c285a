/* Fuzz target: HTML mail made safe for the web desk's sandboxed frame
 * (web/sanitize.c). Whatever comes in, what goes out is UTF-8 in which
 * every "<" opens an element of the allowlist: never script, frames,
 * objects, forms or SVG, never an event handler attribute. */
#include "web-private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const elements[] = {
  "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption", "center", "cite", "code", "col",
  "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
  "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub",
  "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
  /* the document around it */
  "!doctype", "html", "head", "meta", "body", NULL,
};

/* One tag of the output, "<name attr="value" ...>" or "</name>": an
 * element of the allowlist, attributes that are no event handlers, URLs
 * that run nothing. */
static void
check_tag (const char *tag)
{
  const char *p = tag + 1;
  if (*p == '/')
    p++;
  gsize n = strcspn (p, " >");
  g_autofree char *name = g_strndup (p, n);
  if (!g_strv_contains (elements, name))
    abort ();
  p += n;
  while (*p && *p != '>')
    {
      while (*p == ' ')
        p++;
      gsize an = strcspn (p, "= >");
      g_autofree char *attr = g_strndup (p, an);
      if (g_str_has_prefix (attr, "on"))
        abort ();
      p += an;
      if (*p == '=')
        {
          p++;
          if (*p != '"')
            abort ();   /* every value is quoted */
          const char *close = strchr (p + 1, '"');
          if (close == NULL)
            abort ();
          g_autofree char *value = g_strndup (p + 1, (gsize) (close - p - 1));
          if ((g_str_equal (attr, "href") || g_str_equal (attr, "src")) && strstr (value, "script:"))
            abort ();
          p = close + 1;
        }
    }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  for (int images = 0; images <= 1; images++)
    {
      guint blocked = 0;
      char *out = rd_web_sanitize_html ((const char *) data, size, images, &blocked);
      if (!g_utf8_validate (out, -1, NULL))
        abort ();
      g_autofree char *low = g_ascii_strdown (out, -1);
      /* Text is escaped: every "<" starts a tag, which ends at the next
       * ">" (values are escaped too). */
      for (const char *p = strchr (low, '<'); p; p = strchr (p + 1, '<'))
        {
          const char *end = strchr (p, '>');
          if (end == NULL)
            abort ();
          g_autofree char *tag = g_strndup (p, (gsize) (end - p + 1));
          check_tag (tag);
        }
      g_free (out);
    }
  return 0;
}
