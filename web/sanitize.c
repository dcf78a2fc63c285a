/* relaydesk — web: HTML mail made safe for the sandboxed frame.
 *
 * The mail's HTML is parsed by libxml2's HTML parser (which recovers
 * from anything, as browsers do) and written out again by this file,
 * element by element, from an allowlist: unknown elements are dropped
 * but their text kept; script, style, frames, objects, forms and SVG are
 * dropped with their content; attributes come from an allowlist (no
 * event handlers), links only to http, https and mailto (never
 * javascript: or data:), opening in a new window without a referrer;
 * images only from data: URIs unless the agent asked for remote ones
 * (a remote image is a read receipt). Every text and attribute value is
 * escaped on the way out, so what reaches the browser is well-formed
 * whatever came in. The frame's CSP (api-tickets.c) is the second wall.
 */
#include "web-private.h"

#include <string.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#define OUT_MAX (8 * 1024 * 1024)
#define DEPTH_MAX 200

static const char *const kept_elements[] = {
  "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption", "center", "cite", "code", "col",
  "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
  "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub",
  "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr", NULL,
};

static const char *const dropped_elements[] = {
  "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript", "template", "title",
  "svg", "math", "form", "input", "button", "select", "textarea", "option", "link", "meta", "base", "head",
  "audio", "video", "source", "track", "canvas", "portal", "dialog", "xml", NULL,
};

static const char *const void_elements[] = { "br", "col", "hr", "img", "wbr", NULL };

static const char *const kept_attributes[] = {
  "href", "src", "alt", "title", "align", "valign", "width", "height", "colspan", "rowspan", "bgcolor", "color",
  "face", "size", "border", "cellpadding", "cellspacing", "dir", "lang", "style", "start", "type", "cite", NULL,
};

static gboolean
in (const char *const *list, const char *name)
{
  for (guint i = 0; list[i]; i++)
    if (g_ascii_strcasecmp (list[i], name) == 0)
      return TRUE;
  return FALSE;
}

static void
escape (GString *out, const char *text)
{
  for (const char *p = text; p && *p; p++)
    switch (*p)
      {
      case '&': g_string_append (out, "&amp;"); break;
      case '<': g_string_append (out, "&lt;"); break;
      case '>': g_string_append (out, "&gt;"); break;
      case '"': g_string_append (out, "&quot;"); break;
      case '\'': g_string_append (out, "&#39;"); break;
      default: g_string_append_c (out, *p);
      }
}

/* A URL's scheme, lower-cased, ignoring the blanks and control
 * characters browsers ignore ("java\tscript:"). */
static char *
url_scheme (const char *url)
{
  GString *s = g_string_new (NULL);
  for (const char *p = url; *p; p++)
    {
      if ((guchar) *p <= 0x20)
        continue;
      if (*p == ':')
        return g_string_free (s, FALSE);
      if (!g_ascii_isalnum (*p) && !strchr ("+-.", *p))
        break;
      g_string_append_c (s, g_ascii_tolower (*p));
    }
  g_string_free (s, TRUE);
  return NULL;
}

static gboolean
style_ok (const char *v)
{
  g_autofree char *low = g_ascii_strdown (v, -1);
  return !strstr (low, "url") && !strstr (low, "expression") && !strstr (low, "\\") && !strstr (low, "@")
         && !strstr (low, "javascript") && !strstr (low, "behavior") && !strstr (low, "position");
}

typedef struct {
  GString *out;
  gboolean images;
  guint blocked;
} Walk;

static void
walk (Walk *w, xmlNode *node, guint depth)
{
  for (xmlNode *n = node; n && w->out->len < OUT_MAX; n = n->next)
    {
      if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
        {
          escape (w->out, (const char *) n->content);
          continue;
        }
      if (n->type != XML_ELEMENT_NODE || n->name == NULL)
        continue;
      const char *name = (const char *) n->name;
      if (in (dropped_elements, name))
        continue;
      if (depth > DEPTH_MAX || !in (kept_elements, name))
        {
          if (depth <= DEPTH_MAX)
            walk (w, n->children, depth + 1);
          continue;
        }
      g_autofree char *lname = g_ascii_strdown (name, -1);
      g_string_append_printf (w->out, "<%s", lname);
      gboolean is_a = g_str_equal (lname, "a"), is_img = g_str_equal (lname, "img");
      for (xmlAttr *a = n->properties; a; a = a->next)
        {
          const char *an = (const char *) a->name;
          if (!in (kept_attributes, an))
            continue;
          g_autofree char *value = (char *) xmlNodeListGetString (n->doc, a->children, 1);
          if (value == NULL)
            continue;
          g_autofree char *lan = g_ascii_strdown (an, -1);
          if (g_str_equal (lan, "style") && !style_ok (value))
            continue;
          if (g_str_equal (lan, "href") || g_str_equal (lan, "cite"))
            {
              g_autofree char *scheme = url_scheme (value);
              if (!is_a || g_str_equal (lan, "cite") || scheme == NULL
                  || !(g_str_equal (scheme, "http") || g_str_equal (scheme, "https") || g_str_equal (scheme, "mailto")))
                continue;
            }
          if (g_str_equal (lan, "src"))
            {
              g_autofree char *scheme = url_scheme (value);
              g_autofree char *low = g_ascii_strdown (value, 32);
              gboolean data_image = scheme && g_str_equal (scheme, "data")
                                    && (g_str_has_prefix (g_strstrip (low), "data:image/png")
                                        || g_str_has_prefix (low, "data:image/gif")
                                        || g_str_has_prefix (low, "data:image/jpeg")
                                        || g_str_has_prefix (low, "data:image/webp"));
              gboolean remote = scheme && (g_str_equal (scheme, "http") || g_str_equal (scheme, "https"));
              if (!is_img || !(data_image || (remote && w->images)))
                {
                  if (is_img && remote)
                    w->blocked++;
                  continue;
                }
            }
          g_string_append_printf (w->out, " %s=\"", lan);
          escape (w->out, value);
          g_string_append_c (w->out, '"');
        }
      if (is_a)
        g_string_append (w->out, " target=\"_blank\" rel=\"noopener noreferrer\"");
      if (is_img)
        g_string_append (w->out, " referrerpolicy=\"no-referrer\"");
      g_string_append_c (w->out, '>');
      if (in (void_elements, lname))
        continue;
      walk (w, n->children, depth + 1);
      g_string_append_printf (w->out, "</%s>", lname);
    }
}

char *
rd_web_sanitize_html (const char *html, gsize len, gboolean images, guint *blocked)
{
  Walk w = { g_string_new ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                           "<meta name=\"referrer\" content=\"no-referrer\"></head><body>\n"),
             images, 0 };
  /* UTF-8 in (a part's text already is; anything else is repaired), so
   * the parser neither guesses a charset nor passes bytes through. */
  g_autofree char *valid = g_utf8_make_valid (html, (gssize) MIN (len, (gsize) G_MAXINT));
  len = strlen (valid);
  htmlDocPtr doc = len ? htmlReadMemory (valid, (int) len, NULL, "UTF-8",
                                         HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING
                                         | HTML_PARSE_NONET)
                       : NULL;
  if (doc)
    {
      walk (&w, xmlDocGetRootElement (doc) ? doc->children : NULL, 0);
      xmlFreeDoc (doc);
    }
  g_string_append (w.out, "\n</body></html>\n");
  if (blocked)
    *blocked = w.blocked;
  return g_string_free (w.out, FALSE);
}
