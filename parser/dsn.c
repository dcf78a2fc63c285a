/* relaydesk — parser: delivery reports (RFC 3464).
 *
 * From the view's attachments (message/delivery-status parts, decoded)
 * the per-recipient fields; from the MIME tree the Message-ID of the
 * message that bounced (an attached message/rfc822 or a
 * text/rfc822-headers part); Exim's X-Failed-Recipients when there is no
 * report at all.
 */
#include "parser-private.h"
#include "rd-common.h"

#include <string.h>

void
rd_dsn_recipient_free (gpointer p)
{
  RdDsnRecipient *r = p;
  g_free (r->addr);
  g_free (r->action);
  g_free (r->status);
  g_free (r->diagnostic);
  g_free (r);
}

/* Splits "Name: value" fields (folded lines joined) of one block. */
static GPtrArray *
parse_fields (const char *text, const char **next)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (rd_header_free);
  const char *p = text;
  /* skip leading empty lines */
  while (*p == '\n' || *p == '\r')
    p++;
  while (*p)
    {
      const char *eol = strchr (p, '\n');
      const char *end = eol ? eol : p + strlen (p);
      gsize l = end - p;
      if (l > 0 && p[l - 1] == '\r')
        l--;
      if (l == 0)
        {
          p = eol ? eol + 1 : end;
          break; /* blank line ends the block */
        }
      if ((*p == ' ' || *p == '\t') && out->len)
        {
          RdHeader *last = g_ptr_array_index (out, out->len - 1);
          if (strlen (last->value) > 4096)
            {
              /* long enough for any diagnostic; appending more would be quadratic */
              p = eol ? eol + 1 : end;
              continue;
            }
          g_autofree char *cont = g_strndup (p, l);
          char *joined = g_strconcat (last->value, " ", g_strstrip (cont), NULL);
          g_free (last->value);
          last->value = joined;
        }
      else
        {
          const char *colon = memchr (p, ':', l);
          if (colon)
            {
              RdHeader *h = g_new0 (RdHeader, 1);
              h->name = g_strndup (p, colon - p);
              g_strstrip (h->name);
              h->value = g_strndup (colon + 1, l - (colon + 1 - p));
              g_strstrip (h->value);
              g_ptr_array_add (out, h);
            }
        }
      p = eol ? eol + 1 : end;
    }
  if (next)
    *next = p;
  return out;
}

static const char *
field (GPtrArray *fields, const char *name)
{
  for (guint i = 0; i < fields->len; i++)
    {
      RdHeader *h = g_ptr_array_index (fields, i);
      if (g_ascii_strcasecmp (h->name, name) == 0)
        return h->value;
    }
  return NULL;
}

/* "rfc822; user@example.com" -> "user@example.com" */
static char *
typed_address (const char *v)
{
  if (v == NULL)
    return NULL;
  const char *semi = strchr (v, ';');
  g_autofree char *a = g_strdup (semi ? semi + 1 : v);
  g_strstrip (a);
  if (a[0] == '<' && a[strlen (a) - 1] == '>')
    {
      a[strlen (a) - 1] = '\0';
      return g_utf8_make_valid (a + 1, -1);
    }
  return g_utf8_make_valid (a, -1);
}

static void
parse_delivery_status (RdMessage *msg, GBytes *content)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (content, &len);
  g_autofree char *text = g_strndup (data ? data : "", len);
  const char *p = text;
  /* RFC 3464 section 2.1: the per-message fields, then one block of
   * per-recipient fields per recipient. A block is taken as a recipient's
   * when it names one (some MTAs omit the per-message block or put blank
   * lines first). */
  guint blocks = 0;
  while (*p && blocks++ < 1000)
    {
      g_autoptr(GPtrArray) f = parse_fields (p, &p);
      if (f->len == 0)
        continue;
      const char *rcpt = field (f, "Final-Recipient");
      if (rcpt == NULL)
        rcpt = field (f, "Original-Recipient");
      if (rcpt == NULL)
        continue;
      RdDsnRecipient *r = g_new0 (RdDsnRecipient, 1);
      r->addr = typed_address (rcpt);
      r->action = rd_str_lower_trim (field (f, "Action"));
      const char *st = field (f, "Status");
      if (st)
        {
          /* "5.1.1 (bad destination mailbox)": keep the code only. */
          g_autofree char *s = g_strdup (st);
          char *sp = strpbrk (s, " \t(");
          if (sp)
            *sp = '\0';
          r->status = g_utf8_make_valid (s, -1);
        }
      const char *diag = field (f, "Diagnostic-Code");
      if (diag)
        r->diagnostic = typed_address (diag);
      g_ptr_array_add (msg->dsn_recipients, r);
    }
}

static void
find_original_id (RdMessage *msg, GMimeObject *o, guint depth)
{
  if (msg->dsn_original_message_id || depth > 8)
    return;
  if (GMIME_IS_MULTIPART (o))
    {
      int n = g_mime_multipart_get_count (GMIME_MULTIPART (o));
      for (int i = 0; i < n && !msg->dsn_original_message_id; i++)
        find_original_id (msg, g_mime_multipart_get_part (GMIME_MULTIPART (o), i), depth + 1);
      return;
    }
  if (GMIME_IS_MESSAGE_PART (o))
    {
      GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (o));
      if (inner)
        {
          const char *v = g_mime_object_get_header (GMIME_OBJECT (inner), "Message-ID");
          g_autofree char *u = rd_header_unfold (v);
          msg->dsn_original_message_id = rd_msgid_first (u);
        }
      return;
    }
  GMimeContentType *ct = g_mime_object_get_content_type (o);
  if (GMIME_IS_PART (o) && ct && g_mime_content_type_is_type (ct, "text", "rfc822-headers"))
    {
      g_autoptr(GBytes) b = rd_mime_part_bytes (GMIME_PART (o));
      gsize len = 0;
      const char *data = g_bytes_get_data (b, &len);
      msg->dsn_original_message_id = rd_peek_message_id (data ? data : "", len);
    }
}

void
rd_dsn_collect (RdMessage *msg, GMimeObject *root)
{
  for (guint i = 0; i < msg->attachments->len; i++)
    {
      RdAttachment *a = g_ptr_array_index (msg->attachments, i);
      if ((g_str_equal (a->content_type, "message/delivery-status")
           || g_str_equal (a->content_type, "message/global-delivery-status")) && a->content)
        parse_delivery_status (msg, a->content);
    }
  find_original_id (msg, root, 0);
  if (msg->dsn_original_message_id && !g_utf8_validate (msg->dsn_original_message_id, -1, NULL))
    {
      /* raw header bytes of the bounced message (found by fuzzing) */
      char *v = rd_header_bytes_to_utf8 (msg->dsn_original_message_id);
      g_free (msg->dsn_original_message_id);
      msg->dsn_original_message_id = v;
    }
  /* Non-standard bounces (Exim) name the failed recipients in a header. */
  const char *xf = rd_message_get_header (msg, "X-Failed-Recipients");
  if (msg->dsn_recipients->len == 0 && xf)
    {
      g_auto(GStrv) list = g_strsplit (xf, ",", 64);
      for (guint i = 0; list[i]; i++)
        {
          g_strstrip (list[i]);
          if (!*list[i])
            continue;
          RdDsnRecipient *r = g_new0 (RdDsnRecipient, 1);
          r->addr = g_utf8_make_valid (list[i], -1);
          r->action = g_strdup ("failed");
          g_ptr_array_add (msg->dsn_recipients, r);
        }
    }
}
