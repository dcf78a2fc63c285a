/* Fuzz target smtp-command: arbitrary client bytes into the SMTP session
 * state machine (command lines, DATA, BDAT, STARTTLS, pipelining). The
 * first byte picks the settings and how the rest is chunked; commits
 * succeed or fail in turn. Anything the session does must stay within its
 * caps and never crash, leak or hang. */
#include "smtp-session.h"
#include "rd-common.h"

#include <stdint.h>
#include <string.h>

typedef struct {
  RdSpoolItem *pending;
  gboolean starttls;
  gsize out;
  guint n;
} Fuzz;

static void f_write (RdSmtpSession *s, const char *d, gsize n, gpointer u) { ((Fuzz *) u)->out += n; }
static void f_submit (RdSmtpSession *s, RdSpoolItem *i, gpointer u) { ((Fuzz *) u)->pending = i; }
static void f_close (RdSmtpSession *s, gpointer u) { }
static void f_starttls (RdSmtpSession *s, gpointer u) { ((Fuzz *) u)->starttls = TRUE; }

static const RdSmtpSessionCallbacks callbacks = { f_write, f_submit, f_close, f_starttls };

static void
settle (Fuzz *f, RdSmtpSession *s)
{
  while (f->pending)
    {
      RdSpoolItem *item = f->pending;
      f->pending = NULL;
      if (f->n++ % 3 == 2)
        {
          GError *error = g_error_new_literal (RD_ERROR, RD_ERROR_TEMPORARY, "fuzz");
          rd_smtp_session_stored (s, NULL, error);
          g_error_free (error);
        }
      else
        rd_smtp_session_stored (s, "FUZZ", NULL);
      rd_spool_item_free (item);
    }
  if (f->starttls)
    {
      f->starttls = FALSE;
      rd_smtp_session_set_tls (s, "TLSv1.3");
    }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  static gboolean init;
  if (!init)
    {
      rd_log_set_level (RD_LOG_ERROR);
      init = TRUE;
    }
  guint8 mode = data[0];
  data++;
  size--;
  const char *const accept[] = { "support@desk.example", "help.example", NULL };
  RdSmtpLimits limits = {
    .hostname = "fuzz.test",
    .max_message_size = 4096,
    .max_recipients = 5,
    .max_errors = (mode & 0x40) ? 0 : 20,
    .strict_bare_lf = mode & 1,
    .tls_available = !(mode & 2),
    .tls_required = mode & 4,
    .accept_recipients = (mode & 8) ? accept : NULL,
  };
  Fuzz f = { 0 };
  RdSmtpSession *s = rd_smtp_session_new (&limits, "192.0.2.1", &callbacks, &f);
  if (mode & 16)
    rd_smtp_session_start_rejected (s, "denied");
  else
    rd_smtp_session_start (s);
  gsize chunk = (mode & 32) ? 1 : 7 + (mode >> 6) * 61;
  for (gsize pos = 0; pos < size && !rd_smtp_session_is_closed (s); pos += chunk)
    {
      gsize n = MIN (chunk, size - pos);
      rd_smtp_session_feed (s, (const char *) data + pos, n);
      settle (&f, s);
    }
  (void) rd_smtp_session_get_wait (s);
  if (mode & 0x80)
    rd_smtp_session_timeout (s);
  rd_smtp_session_disconnected (s);
  rd_smtp_session_free (s);
  return 0;
}
