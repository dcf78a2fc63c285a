/* relaydesk — parser: HTML rendered to readable text with libxml2.
 *
 * libxml2's HTML parser (error-tolerant, entities decoded) reports SAX
 * events; no tree is built and nothing of ours recurses, so hostile
 * nesting cannot exhaust the stack. The text is written as events come:
 * <head>, <script>, <style>, <title> and comments dropped, a line break
 * at <br> and around block elements, link text kept as text, cells
 * separated by a space, white space collapsed outside <pre>. Then, per
 * line, blanks (and NBSP) squeezed and trimmed, and at most one empty
 * line in a row.
 *
 * libxml2 is opened (dlopen) on the first HTML part, not linked: the
 * programs that never render HTML (most CLI commands) do not load it and
 * ICU and libstdc++ behind it, a third of their start-up (bench/perf).
 */
#include "parser-private.h"
#include "rd-common.h"

#include <dlfcn.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <string.h>

#define LIBXML2_SONAME "libxml2.so.2"

static struct {
  void (*init_parser) (void);
  htmlParserCtxtPtr (*create_memory_parser_ctxt) (const char *buffer, int size);
  int (*ctxt_use_options) (htmlParserCtxtPtr ctxt, int options);
  int (*switch_encoding) (xmlParserCtxtPtr ctxt, xmlCharEncoding enc);
  int (*parse_document) (htmlParserCtxtPtr ctxt);
  void (*free_doc) (xmlDocPtr doc);
  void (*free_parser_ctxt) (htmlParserCtxtPtr ctxt);
} xml;

static gboolean
xml_load (void)
{
  static gsize done;
  static gboolean ok;
  if (g_once_init_enter (&done))
    {
      void *h = dlopen (LIBXML2_SONAME, RTLD_NOW | RTLD_LOCAL);
      if (h)
        {
          *(void **) &xml.init_parser = dlsym (h, "xmlInitParser");
          *(void **) &xml.create_memory_parser_ctxt = dlsym (h, "htmlCreateMemoryParserCtxt");
          *(void **) &xml.ctxt_use_options = dlsym (h, "htmlCtxtUseOptions");
          *(void **) &xml.switch_encoding = dlsym (h, "xmlSwitchEncoding");
          *(void **) &xml.parse_document = dlsym (h, "htmlParseDocument");
          *(void **) &xml.free_doc = dlsym (h, "xmlFreeDoc");
          *(void **) &xml.free_parser_ctxt = dlsym (h, "htmlFreeParserCtxt");
          ok = xml.init_parser && xml.create_memory_parser_ctxt && xml.ctxt_use_options && xml.switch_encoding
               && xml.parse_document && xml.free_doc && xml.free_parser_ctxt;
        }
      if (ok)
        xml.init_parser ();
      else
        rd_log (RD_LOG_ERROR, "parser.html", "error=\"cannot load %s: %s\" effect=\"HTML parts have no text\"",
                LIBXML2_SONAME, h ? "a function is missing" : dlerror ());
      g_once_init_leave (&done, 1);
    }
  return ok;
}

typedef enum { TAG_OTHER, TAG_SKIP, TAG_BLOCK, TAG_CELL, TAG_BR, TAG_PRE } TagClass;

/* Tag name (lower case, as libxml2's HTML parser reports them) -> class.
 * Filled once by rd_html_init(), read-only afterwards. */
static GHashTable *tag_classes;

static const char *const skipped[] = { "head", "script", "style", "title", "noscript", "template", NULL };
static const char *const blocks[] = {
  "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "ul", "ol",
  "dl", "dt", "dd", "center", "section", "article", "header", "footer", "hr", "address", "form",
  "fieldset", "figure", "figcaption", "main", "nav", "aside", "caption", "tbody", "thead", "tfoot", NULL };
static const char *const cells[] = { "td", "th", NULL };

void
rd_html_init (void)
{
  GHashTable *h = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; skipped[i]; i++)
    g_hash_table_insert (h, (gpointer) skipped[i], GINT_TO_POINTER (TAG_SKIP));
  for (guint i = 0; blocks[i]; i++)
    g_hash_table_insert (h, (gpointer) blocks[i], GINT_TO_POINTER (TAG_BLOCK));
  for (guint i = 0; cells[i]; i++)
    g_hash_table_insert (h, (gpointer) cells[i], GINT_TO_POINTER (TAG_CELL));
  g_hash_table_insert (h, (gpointer) "br", GINT_TO_POINTER (TAG_BR));
  g_hash_table_insert (h, (gpointer) "pre", GINT_TO_POINTER (TAG_PRE));
  tag_classes = h;
}

static TagClass
tag_class (const xmlChar *name)
{
  char lower[16];
  gsize n = 0;
  for (; name[n] && n < sizeof lower - 1; n++)
    lower[n] = g_ascii_tolower ((char) name[n]);
  if (name[n])
    return TAG_OTHER; /* longer than any tag of interest */
  lower[n] = '\0';
  return (TagClass) GPOINTER_TO_INT (g_hash_table_lookup (tag_classes, lower));
}

typedef struct {
  GString *out;
  int pre;
  int skip;     /* inside head/script/style/title: text dropped */
  gsize cap;    /* output bound */
} Render;

static void
put_text (Render *r, const char *t, int len)
{
  if (r->skip > 0 || r->out->len >= r->cap)
    return;
  if (r->pre)
    {
      g_string_append_len (r->out, t, len);
      return;
    }
  gsize start = r->out->len;
  g_string_append_len (r->out, t, len);
  for (gsize i = start; i < r->out->len; i++)
    {
      char c = r->out->str[i];
      if (c == '\n' || c == '\r' || c == '\t' || c == '\f')
        r->out->str[i] = ' ';
    }
}

static void
sax_characters (void *ctx, const xmlChar *ch, int len)
{
  put_text (ctx, (const char *) ch, len);
}

static void
sax_start (void *ctx, const xmlChar *xname, const xmlChar **atts)
{
  Render *r = ctx;
  TagClass c = tag_class (xname);
  if (c == TAG_SKIP)
    {
      r->skip++;
      return;
    }
  if (r->skip > 0 || r->out->len >= r->cap)
    return;
  if (c == TAG_BR || c == TAG_BLOCK)
    g_string_append_c (r->out, '\n');
  else if (c == TAG_CELL)
    g_string_append_c (r->out, ' ');
  else if (c == TAG_PRE)
    {
      g_string_append_c (r->out, '\n'); /* pre is a block too */
      r->pre++;
    }
}

static void
sax_end (void *ctx, const xmlChar *xname)
{
  Render *r = ctx;
  TagClass c = tag_class (xname);
  if (c == TAG_SKIP)
    {
      if (r->skip > 0)
        r->skip--;
      return;
    }
  if (r->skip > 0 || r->out->len >= r->cap)
    return;
  if (c == TAG_PRE)
    {
      if (r->pre > 0)
        r->pre--;
      g_string_append_c (r->out, '\n');
    }
  else if (c == TAG_BLOCK)
    g_string_append_c (r->out, '\n');
  else if (c == TAG_CELL)
    g_string_append_c (r->out, ' ');
}

static void
sax_quiet (void *ctx, const char *msg, ...)
{
}

/* Per line: blanks and NBSP squeezed to one space, trimmed; at most one
 * empty line in a row; no empty lines at the start or end. In place (the
 * output is never longer than the input). */
static void
tidy_lines (char *text)
{
  char *w = text;
  const char *c = text;
  int empty_run = 0;
  gboolean started = FALSE;
  while (TRUE)
    {
      /* one line: [c, end) */
      const char *end = strchr (c, '\n');
      if (end == NULL)
        end = c + strlen (c);
      char *line_start = w;
      gboolean wrote = FALSE, space = FALSE;
      /* the separator goes first; it is taken back if the line is empty */
      if (started)
        {
          *w++ = '\n';
          if (empty_run > 0)
            *w++ = '\n';
        }
      while (c < end)
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
          if (space && wrote)
            *w++ = ' ';
          space = FALSE;
          *w++ = *c++;
          wrote = TRUE;
        }
      if (!wrote)
        {
          w = line_start;
          empty_run++;
        }
      else
        {
          started = TRUE;
          empty_run = 0;
        }
      if (*end == '\0')
        break;
      c = end + 1;
    }
  *w = '\0';
}

static gboolean
is_name_start (char c)
{
  return g_ascii_isalpha (c) || c == '_' || c == ':';
}

/* libxml2 reports every stray "&" and "<?" as an error, and each error
 * is formatted and copied even when nobody reads it: spam made of such
 * characters parses several times slower. Both are rewritten to what
 * libxml2 makes of them anyway (a literal "&"; a malformed "<?" is
 * dropped), so the text is the same, minus the errors. Returns a copy,
 * or NULL when nothing needed rewriting. */
static char *
defuse (const char *html, gsize len, gsize *out_len)
{
  GString *out = NULL;
  const char *copied = html;
  const char *end = html + len;
  for (const char *p = html; p < end; p++)
    {
      if (*p == '&' && (p + 1 == end || !(g_ascii_isalnum (p[1]) || p[1] == '#')))
        {
          if (out == NULL)
            out = g_string_sized_new (len + len / 8);
          g_string_append_len (out, copied, p - copied);
          g_string_append (out, "&amp;");
          copied = p + 1;
        }
      else if (*p == '<' && p + 1 < end && p[1] == '?' && (p + 2 == end || !is_name_start (p[2])))
        {
          if (out == NULL)
            out = g_string_sized_new (len);
          g_string_append_len (out, copied, p - copied);
          copied = p + 2;
          p++;
        }
    }
  if (out == NULL)
    return NULL;
  g_string_append_len (out, copied, end - copied);
  *out_len = out->len;
  return g_string_free (out, FALSE);
}

char *
rd_html_to_text (const char *html, gsize len)
{
  if (len == 0 || len > G_MAXINT)
    return g_strdup ("");
  gsize dlen = 0;
  g_autofree char *defused = defuse (html, len, &dlen);
  if (defused)
    {
      html = defused;
      len = dlen;
    }
  if (!xml_load ())
    return g_strdup ("");
  htmlParserCtxtPtr ctxt = xml.create_memory_parser_ctxt (html, (int) len);
  if (ctxt == NULL)
    return g_strdup ("");
  xml.ctxt_use_options (ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING
                              | HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | HTML_PARSE_NOIMPLIED);
  xml.switch_encoding (ctxt, XML_CHAR_ENCODING_UTF8);
  /* SAX events only: no tree is built (a third of the time). */
  xmlSAXHandler *sax = ctxt->sax;
  memset (sax, 0, sizeof *sax);
  sax->startElement = sax_start;
  sax->endElement = sax_end;
  sax->characters = sax_characters;
  sax->ignorableWhitespace = sax_characters;
  sax->cdataBlock = sax_characters;
  sax->warning = sax_quiet;
  sax->error = sax_quiet;
  Render r = { g_string_sized_new (len / 2 + 16), 0, 0, len * 2 + 1024 };
  ctxt->userData = &r;
  xml.parse_document (ctxt);
  if (ctxt->myDoc)
    xml.free_doc (ctxt->myDoc);
  ctxt->myDoc = NULL;
  xml.free_parser_ctxt (ctxt);
  char *text = g_string_free (r.out, FALSE);
  tidy_lines (text);
  return text;
}
