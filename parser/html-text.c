/* relaydesk — parser: HTML rendered to readable text with libxml2.
 *
 * libxml2's HTML parser (error-tolerant, entities decoded) builds the
 * tree; one iterative walk (no recursion, so hostile nesting cannot
 * exhaust the stack) writes the text: <head>, <script>, <style>,
 * <title> and comments dropped, a line break at <br> and around block
 * elements, link text kept as text, cells separated by a space, white
 * space collapsed outside <pre>. Then, per line, blanks (and NBSP)
 * squeezed and trimmed, and at most one empty line in a row.
 */
#include "parser-private.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <string.h>

void
rd_html_init (void)
{
  xmlInitParser ();
}

static gboolean
name_in (const char *name, const char *const *list)
{
  for (guint i = 0; list[i]; i++)
    if (!g_ascii_strcasecmp (name, list[i]))
      return TRUE;
  return FALSE;
}

static const char *const skipped[] = { "head", "script", "style", "title", "noscript", "template", NULL };
static const char *const blocks[] = {
  "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "ul", "ol",
  "dl", "dt", "dd", "center", "section", "article", "header", "footer", "hr", "address", "form",
  "fieldset", "figure", "figcaption", "main", "nav", "aside", "caption", "tbody", "thead", "tfoot", NULL };
static const char *const cells[] = { "td", "th", NULL };

typedef struct {
  GString *out;
  int pre;
} Render;

static void
put_text (Render *r, const char *t)
{
  if (r->pre)
    {
      g_string_append (r->out, t);
      return;
    }
  for (const char *p = t; *p; p++)
    {
      char c = *p;
      if (c == '\n' || c == '\r' || c == '\t' || c == '\f')
        c = ' ';
      g_string_append_c (r->out, c);
    }
}

/* Returns TRUE when the walk should enter @n's children. */
static gboolean
open_node (Render *r, xmlNode *n)
{
  if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
    {
      if (n->content)
        put_text (r, (const char *) n->content);
      return FALSE;
    }
  if (n->type != XML_ELEMENT_NODE || n->name == NULL)
    return n->type == XML_DOCUMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE;
  const char *name = (const char *) n->name;
  if (name_in (name, skipped))
    return FALSE;
  if (!g_ascii_strcasecmp (name, "br"))
    {
      g_string_append_c (r->out, '\n');
      return FALSE;
    }
  if (name_in (name, blocks))
    g_string_append_c (r->out, '\n');
  else if (name_in (name, cells))
    g_string_append_c (r->out, ' ');
  if (!g_ascii_strcasecmp (name, "pre"))
    r->pre++;
  return TRUE;
}

static void
close_node (Render *r, xmlNode *n)
{
  if (n->type != XML_ELEMENT_NODE || n->name == NULL)
    return;
  const char *name = (const char *) n->name;
  if (!g_ascii_strcasecmp (name, "pre"))
    r->pre--;
  if (name_in (name, blocks))
    g_string_append_c (r->out, '\n');
  else if (name_in (name, cells))
    g_string_append_c (r->out, ' ');
}

/* Per line: blanks and NBSP squeezed to one space, trimmed; at most one
 * empty line in a row; no empty lines at the start or end. */
static char *
tidy_lines (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));
  int empty_run = 0;
  gboolean started = FALSE;
  const char *p = text;
  while (TRUE)
    {
      const char *e = strchr (p, '\n');
      const char *end = e ? e : p + strlen (p);
      GString *line = g_string_new (NULL);
      gboolean space = FALSE;
      for (const char *c = p; c < end;)
        {
          if (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\f' || *c == '\v')
            {
              space = TRUE;
              c++;
              continue;
            }
          if ((guchar) c[0] == 0xc2 && c + 1 < end && (guchar) c[1] == 0xa0)
            {
              space = TRUE;
              c += 2;
              continue;
            }
          if (space && line->len)
            g_string_append_c (line, ' ');
          space = FALSE;
          g_string_append_c (line, *c++);
        }
      if (line->len == 0)
        empty_run++;
      else
        {
          if (started)
            g_string_append_c (out, '\n');
          if (started && empty_run > 0)
            g_string_append_c (out, '\n');
          g_string_append_len (out, line->str, line->len);
          started = TRUE;
          empty_run = 0;
        }
      g_string_free (line, TRUE);
      if (e == NULL)
        break;
      p = e + 1;
    }
  return g_string_free (out, FALSE);
}

char *
rd_html_to_text (const char *html, gsize len)
{
  if (len == 0 || len > G_MAXINT)
    return g_strdup ("");
  htmlDocPtr doc = htmlReadMemory (html, (int) len, NULL, "UTF-8",
                                   HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING
                                   | HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | HTML_PARSE_COMPACT);
  if (doc == NULL)
    return g_strdup ("");
  Render r = { g_string_sized_new (len / 2 + 16), 0 };
  xmlNode *n = doc->children;
  while (n)
    {
      if (open_node (&r, n) && n->children)
        {
          n = n->children;
          continue;
        }
      if (n->type == XML_ELEMENT_NODE && !(n->name && name_in ((const char *) n->name, skipped))
          && g_ascii_strcasecmp ((const char *) n->name, "br") != 0)
        close_node (&r, n);
      while (n && n->next == NULL)
        {
          n = n->parent;
          if (n == NULL || n == (xmlNode *) doc)
            {
              n = NULL;
              break;
            }
          close_node (&r, n);
        }
      if (n)
        n = n->next;
    }
  xmlFreeDoc (doc);
  char *text = tidy_lines (r.out->str);
  g_string_free (r.out, TRUE);
  return text;
}
