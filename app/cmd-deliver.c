/* relaydesk deliver — one message from stdin, for an MTA's pipe transport.
 *
 * Exit codes (sysexits.h), as Postfix's pipe(8) and Exim expect:
 *   0  stored (and processed, unless processing must wait for serve)
 *  75  EX_TEMPFAIL: storage trouble, the MTA keeps the message and retries
 *  65  EX_DATAERR: unusable input (empty, no header block), bounced
 *  64  EX_USAGE: bad command line
 */
#include "app.h"
#include "rd-common.h"
#include "store.h"
#include "desk.h"
#include "message.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#define DELIVER_MAX_DEFAULT (25 * 1024 * 1024)

/* Reads stdin whole, normalising line ends to CRLF (as SMTP stores them),
 * up to @max bytes. */
static GBytes *
read_stdin (guint64 max, gboolean *too_big, GError **error)
{
  GByteArray *buf = g_byte_array_new ();
  char chunk[65536];
  gboolean prev_cr = FALSE;
  *too_big = FALSE;
  for (;;)
    {
      ssize_t n = read (STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_TEMPORARY, "read stdin: %s", g_strerror (errno));
          g_byte_array_unref (buf);
          return NULL;
        }
      if (n == 0)
        break;
      for (ssize_t i = 0; i < n; i++)
        {
          char c = chunk[i];
          if (c == '\n' && !prev_cr)
            g_byte_array_append (buf, (const guint8 *) "\r", 1);
          g_byte_array_append (buf, (const guint8 *) &c, 1);
          prev_cr = c == '\r';
        }
      if (buf->len > max)
        {
          *too_big = TRUE;
          g_byte_array_unref (buf);
          return NULL;
        }
    }
  return g_byte_array_free_to_bytes (buf);
}

static gboolean
looks_like_message (GBytes *raw)
{
  gsize len;
  const char *p = g_bytes_get_data (raw, &len);
  /* The first line must be a header field "Name: value" (or an mbox From
   * line); anything else is not a message. */
  const char *e = memchr (p, '\n', len);
  gsize l = e ? (gsize) (e - p) : len;
  if (l >= 5 && memcmp (p, "From ", 5) == 0)
    return TRUE;
  for (gsize i = 0; i < l; i++)
    {
      if (p[i] == ':')
        return i > 0;
      if ((guchar) p[i] <= ' ' || (guchar) p[i] >= 127)
        return FALSE;
    }
  return FALSE;
}

int
rd_cmd_deliver (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *from = NULL;
  gboolean no_process = FALSE;
  GOptionEntry entries[] = {
    { "from", 'f', 0, G_OPTION_ARG_STRING, &from, "Envelope sender (default: empty, as for <>)", "ADDR" },
    { "no-process", 0, 0, G_OPTION_ARG_NONE, &no_process, "Only spool; leave processing to a running serve", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "deliver", "RCPT...",
      "Reads one message on stdin and stores it like one received by SMTP.\n"
      "For an MTA's pipe transport, e.g. Postfix master.cf:\n"
      "  relaydesk unix - n n - - pipe flags=R user=relaydesk\n"
      "    argv=/usr/local/bin/relaydesk deliver --data-dir /var/lib/relaydesk --from ${sender} ${recipient}\n\n"
      "Exit codes: 0 stored, 65 unusable data, 75 temporary failure (retry), 64 usage,\n"
      "78 configuration error.", 0, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc < 2)
    return rd_app_usage ("deliver: at least one recipient is needed");
  /* The store is opened below: every storage failure is a temporary one
   * for the MTA (75), whatever its kind. */
  int code = rd_app_open (&app, RD_APP_NO_STORE);
  if (code)
    return code;
  RdConfig *config = app.config;
  guint64 max = rd_config_get_size (config, "smtp", "max_message_size", DELIVER_MAX_DEFAULT);

  g_autoptr(GError) error = NULL;
  gboolean too_big = FALSE;
  g_autoptr(GBytes) raw = read_stdin (max, &too_big, &error);
  if (too_big)
    {
      rd_app_error ("message exceeds the size limit of %" G_GUINT64_FORMAT " octets", max);
      return RD_EXIT_DATAERR;
    }
  if (raw == NULL)
    {
      rd_app_error ("%s", error->message);
      return RD_EXIT_TEMPFAIL;
    }
  if (g_bytes_get_size (raw) == 0 || !looks_like_message (raw))
    {
      rd_app_error ("stdin is not a message (no header block)");
      return RD_EXIT_DATAERR;
    }

  g_autoptr(RdSpoolItem) item = rd_spool_item_new ();
  item->sender = g_strdup (from ? from : "");
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (item->recipients, g_strdup (argv[i]));
  item->protocol = g_strdup ("deliver");
  item->raw = g_bytes_ref (raw);

  g_autoptr(RdStore) store = rd_store_open (rd_config_get_store_location (config), &error);
  RdSpoolItem *items[] = { item };
  if (store == NULL || !rd_store_spool_put (store, items, 1, &error))
    {
      rd_app_error ("cannot store message: %s", error->message);
      /* Everything short of bad input is worth a retry by the MTA. */
      return RD_EXIT_TEMPFAIL;
    }
  rd_log (RD_LOG_INFO, "deliver.stored", "queue_id=%s rcpts=%u size=%" G_GSIZE_FORMAT,
          item->queue_id, item->recipients->len, g_bytes_get_size (raw));
  printf ("%s\n", item->queue_id);

  if (!no_process)
    {
      /* The message is safe in the spool; processing it now is a
       * convenience. On failure serve picks it up later. */
      g_autoptr(RdDesk) desk = rd_desk_new (config, store, &error);
      gint64 number = 0;
      if (desk == NULL || !rd_desk_process (desk, item->spool_id, &number, &error))
        rd_log (RD_LOG_WARN, "deliver.process", "queue_id=%s error=\"%s\" action=deferred",
                item->queue_id, error ? error->message : "unknown");
    }
  return RD_EXIT_OK;
}
