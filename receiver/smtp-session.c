/* relaydesk — receiver: the SMTP server session state machine.
 *
 * One state enum, one command table (verb, states in which it is allowed,
 * handler), one set_state() that logs transitions, one reply() that writes.
 * Replies carry RFC 3463 enhanced status codes (RFC 2034 §3: all but the
 * greeting and the HELO/EHLO answers).
 *
 * Input framing. Commands and DATA are split into lines at LF; a line
 * ended by CRLF is normal, one ended by a bare LF is tolerated (stored as
 * CRLF) unless strict_bare_lf is set. The message ends ONLY at
 * CRLF "." CRLF: a lone "." whose own ending or whose preceding line's
 * ending is a bare LF or CR is the SMTP smuggling signature (CVE-2023-51764
 * family, and what netcat without -C sends): it is refused with 550 5.5.2
 * and the connection closed, so nothing after it is ever read as commands
 * or as a second message. BDAT chunks (RFC 3030) are counted octets, never
 * lines; their bare LFs are stored as CRLF too, so the spool holds CRLF
 * (refused like in DATA under strict_bare_lf).
 *
 * Caps: a command line over 512 octets (RFC 5321 §4.5.3.1.4) gets 500 and
 * the session continues; a line with no LF after MAX_UNTERMINATED octets
 * closes the session; message data past max_message_size is counted and
 * dropped, never buffered.
 */
#include "smtp-session.h"
#include "rd-common.h"
#include "rd-metrics.h"

#include <string.h>

#define MAX_COMMAND_LINE 512      /* RFC 5321 4.5.3.1.4, including CRLF */
#define MAX_UNTERMINATED 4096     /* a command line that never ends */
#define MAX_DATA_LINE_PIECE 65536 /* an endless data line is taken in pieces */
#define MAX_ADDRESSES_PER_RCPT 1000

typedef enum {
  ST_INIT,       /* banner sent, waiting for HELO/EHLO */
  ST_READY,      /* greeted, no transaction */
  ST_MAIL,       /* MAIL accepted */
  ST_RCPT,       /* at least one RCPT accepted */
  ST_DATA,       /* reading DATA lines */
  ST_BDAT,       /* between BDAT chunks (at least one received, not LAST) */
  ST_STORING,    /* waiting for the commit */
  ST_TLS,        /* 220 to STARTTLS sent, waiting for the handshake */
  ST_REJECTED,   /* client refused at connect: 503 until QUIT */
  ST_CLOSED,
} State;

static const char *state_names[] = {
  "init", "ready", "mail", "rcpt", "data", "bdat", "storing", "tls", "rejected", "closed"
};

/* How the previous data line ended: a "." after anything but CRLF is
 * smuggling, not an end of data. */
typedef enum { EOL_CRLF, EOL_LF } Eol;

struct _RdSmtpSession {
  char *id;
  RdSmtpLimits limits;
  char *hostname;
  char *client_addr;
  RdSmtpSessionCallbacks cb;
  gpointer user_data;
  State state;
  GByteArray *in;          /* unconsumed input */
  char *helo;
  gboolean esmtp;
  char *tls_version;       /* NULL: plaintext */
  guint errors;
  guint messages;
  /* transaction */
  char *sender;
  GPtrArray *rcpts;
  GByteArray *data;
  guint64 data_size;       /* octets received, also past the limit */
  gboolean data_too_big;
  gboolean data_at_line_start;
  Eol prev_eol;
  gboolean used_bdat;      /* DATA is refused after BDAT (RFC 3030 §3) */
  guint64 bdat_remaining;  /* octets of the current chunk still to read */
  gboolean bdat_last;
  gboolean bdat_discard;   /* chunk of a failed BDAT: read and drop */
  gboolean bdat_prev_cr;
  gboolean processing;     /* re-entrancy guard of process_input() */
  gsize consumed;          /* octets of @in already parsed by process_input() */
};

#define B(s) (1u << (s))

static void process_input (RdSmtpSession *s);

static void
set_state (RdSmtpSession *s, State next)
{
  if (s->state == next)
    return;
  rd_log (RD_LOG_DEBUG, "smtp.state", "session=%s %s->%s", s->id,
          state_names[s->state], state_names[next]);
  s->state = next;
}

static void reply (RdSmtpSession *s, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* Why a 4xx/5xx reply was given, for relaydesk_smtp_rejections_total:
 * the first entry whose prefix starts the reply. */
static const struct { const char *prefix; const char *reason; } rejection_reasons[] = {
  { "554 5.7.1", "allowlist" },
  { "503 5.7.1", "refused_client" },
  { "550 5.1.1", "unknown_recipient" },
  { "501 5.1.3", "bad_address" },
  { "501 5.1.7", "bad_address" },
  { "452 4.5.3", "too_many_recipients" },
  { "552 5.3.4", "message_too_big" },
  { "530 5.7.0", "tls_required" },
  { "421 4.7.0", "too_many_errors" },
  { "421 4.4.2", "timeout" },
  { "421 4.3.2", "shutdown" },
  { "554 5.7.0 Error: PROXY", "proxy_untrusted" },
  { "451 4.3.0", "storage_error" },
  { "452 4.3.1", "disk_full" },
  { "550 5.5.2 Error: bare <LF>", "bare_lf" },
  { "550 5.5.2", "smuggling" },
  { "503 5.5.1", "bad_sequence" },
  { "555 5.5.4", "unsupported_parameter" },
  { "500 5.5.2", "syntax" },
  { "501 ", "syntax" },
};

static void
count_rejection (const char *text)
{
  if (text[0] != '4' && text[0] != '5')
    return;
  const char *reason = "other";
  for (guint i = 0; i < G_N_ELEMENTS (rejection_reasons); i++)
    if (g_str_has_prefix (text, rejection_reasons[i].prefix))
      {
        reason = rejection_reasons[i].reason;
        break;
      }
  char code[4] = { text[0], text[1], text[2], '\0' };
  rd_metric_inc (RD_METRIC_SMTP_REJECTIONS, reason, code);
}

/* The one function that writes replies. @fmt holds one or more lines
 * separated by '\n'; CRLF is appended to each. */
static void
write_reply (RdSmtpSession *s, const char *text)
{
  GString *out = g_string_new (NULL);
  for (const char *p = text; *p;)
    {
      const char *nl = strchr (p, '\n');
      gsize n = nl ? (gsize) (nl - p) : strlen (p);
      g_string_append_len (out, p, n);
      g_string_append (out, "\r\n");
      p += n + (nl ? 1 : 0);
    }
  s->cb.write (s, out->str, out->len, s->user_data);
  g_string_free (out, TRUE);
}

static void
reply (RdSmtpSession *s, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  count_rejection (text);
  write_reply (s, text);
}

static void
log_session_end (RdSmtpSession *s, const char *result)
{
  g_autofree char *helo = rd_log_escape (s->helo ? s->helo : "", -1, 64);
  rd_log (RD_LOG_INFO, "smtp.session",
          "session=%s client=%s helo=%s tls=%s messages=%u errors=%u state=%s result=%s",
          s->id, s->client_addr, helo, s->tls_version ? s->tls_version : "none",
          s->messages, s->errors, state_names[s->state], result);
}

static void
close_session (RdSmtpSession *s, const char *result)
{
  if (s->state == ST_CLOSED)
    return;
  log_session_end (s, result);
  set_state (s, ST_CLOSED);
  s->cb.close (s, s->user_data);
}

static void
reset_transaction (RdSmtpSession *s)
{
  g_clear_pointer (&s->sender, g_free);
  g_ptr_array_set_size (s->rcpts, 0);
  g_byte_array_set_size (s->data, 0);
  s->data_size = 0;
  s->data_too_big = FALSE;
  s->used_bdat = FALSE;
  s->bdat_last = FALSE;
  s->bdat_prev_cr = FALSE;
}

/* Counts a client error; too many closes the session with 421. */
static void
count_error (RdSmtpSession *s)
{
  s->errors++;
  if (s->limits.max_errors && s->errors >= s->limits.max_errors && s->state != ST_CLOSED)
    {
      reply (s, "421 4.7.0 %s Error: too many errors", s->hostname);
      close_session (s, "too_many_errors");
    }
}

RdSmtpSession *
rd_smtp_session_new (const RdSmtpLimits *limits, const char *client_addr,
                     const RdSmtpSessionCallbacks *callbacks, gpointer user_data)
{
  static gint counter;
  RdSmtpSession *s = g_new0 (RdSmtpSession, 1);
  s->id = g_strdup_printf ("%x%04x", (guint) (g_get_real_time () / G_USEC_PER_SEC),
                           (guint) g_atomic_int_add (&counter, 1) & 0xffff);
  s->limits = *limits;
  s->hostname = g_strdup (limits->hostname ? limits->hostname : "localhost");
  s->limits.hostname = s->hostname;
  if (s->limits.max_recipients == 0)
    s->limits.max_recipients = 100;
  if (s->limits.max_message_size == 0)
    s->limits.max_message_size = 25 * 1024 * 1024;
  s->client_addr = g_strdup (client_addr ? client_addr : "unknown");
  s->cb = *callbacks;
  s->user_data = user_data;
  s->in = g_byte_array_new ();
  s->rcpts = g_ptr_array_new_with_free_func (g_free);
  s->data = g_byte_array_new ();
  return s;
}

void
rd_smtp_session_free (RdSmtpSession *s)
{
  if (s == NULL)
    return;
  g_free (s->id);
  g_free (s->hostname);
  g_free (s->client_addr);
  g_byte_array_unref (s->in);
  g_free (s->helo);
  g_free (s->tls_version);
  g_free (s->sender);
  g_ptr_array_unref (s->rcpts);
  g_byte_array_unref (s->data);
  g_free (s);
}

const char *
rd_smtp_session_get_id (RdSmtpSession *s)
{
  return s->id;
}

gboolean
rd_smtp_session_is_closed (RdSmtpSession *s)
{
  return s->state == ST_CLOSED;
}

RdSmtpWait
rd_smtp_session_get_wait (RdSmtpSession *s)
{
  switch (s->state)
    {
    case ST_INIT:
    case ST_READY:
      return RD_SMTP_WAIT_IDLE;
    case ST_MAIL:
    case ST_RCPT:
      return RD_SMTP_WAIT_COMMAND;
    case ST_DATA:
    case ST_BDAT:
      return RD_SMTP_WAIT_DATA;
    case ST_REJECTED:
      return RD_SMTP_WAIT_REJECTED;
    default:
      return s->bdat_remaining > 0 ? RD_SMTP_WAIT_DATA : RD_SMTP_WAIT_NOTHING;
    }
}

void
rd_smtp_session_start (RdSmtpSession *s)
{
  rd_log (RD_LOG_INFO, "smtp.connect", "session=%s client=%s tls=%s", s->id, s->client_addr,
          s->tls_version ? s->tls_version : "none");
  reply (s, "220 %s ESMTP relaydesk", s->hostname);
}

void
rd_smtp_session_start_rejected (RdSmtpSession *s, const char *text)
{
  rd_log (RD_LOG_WARN, "smtp.connect", "session=%s client=%s result=rejected reason=allowlist",
          s->id, s->client_addr);
  set_state (s, ST_REJECTED);
  reply (s, "554 5.7.1 %s", text);
}

void
rd_smtp_session_start_refused (RdSmtpSession *s, const char *line, const char *result)
{
  if (s->state == ST_CLOSED)
    return;
  write_reply (s, line); /* counted by the server, which knows why */
  close_session (s, result);
}

/* ---- argument parsing ------------------------------------------------ */

/* Parses one path of "MAIL FROM:" / "RCPT TO:" at *@pp. Accepts
 * "<addr>", and, as people type it by hand, "addr" without brackets
 * (ended by a space or a comma). Returns the address ("" for <>) and
 * advances *@pp past it, or NULL. */
static char *
parse_one_path (const char **pp)
{
  const char *p = *pp;
  while (*p == ' ')
    p++;
  if (*p == '<')
    {
      const char *gt = strchr (p, '>');
      if (gt == NULL)
        return NULL;
      const char *a = p + 1;
      /* Source routes "@a,@b:user@c" are ignored (RFC 5321 §4.1.2). */
      if (*a == '@')
        {
          const char *colon = memchr (a, ':', gt - a);
          if (colon)
            a = colon + 1;
        }
      *pp = gt + 1;
      return g_strndup (a, gt - a);
    }
  const char *e = p;
  while (*e && *e != ' ' && *e != ',')
    e++;
  if (e == p)
    return NULL;
  *pp = e;
  return g_strndup (p, e - p);
}

static gboolean
address_ok (const char *addr)
{
  if (*addr == '\0')
    return TRUE; /* <> */
  if (strlen (addr) > 254 || !g_utf8_validate (addr, -1, NULL))
    return FALSE;
  for (const char *p = addr; *p; p++)
    if ((guchar) *p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == 0x7f)
      return FALSE;
  const char *at = strrchr (addr, '@');
  return at != NULL && at != addr && at[1] != '\0';
}

static gboolean
is_postmaster (const char *addr)
{
  const char *at = strrchr (addr, '@');
  gsize n = at ? (gsize) (at - addr) : strlen (addr);
  return n == 10 && g_ascii_strncasecmp (addr, "postmaster", 10) == 0;
}

gboolean
rd_smtp_recipient_accepted (const char *const *accept, const char *addr)
{
  if (is_postmaster (addr))
    return TRUE;
  if (accept == NULL || accept[0] == NULL)
    return TRUE; /* embedded default: every recipient (DESIGN.md) */
  g_autofree char *local = NULL;
  g_autofree char *domain = NULL;
  if (!rd_address_split (addr, &local, &domain))
    return FALSE;
  /* Plus-addressing: support+billing@ is support@. */
  char *plus = strchr (local, '+');
  if (plus && plus != local)
    *plus = '\0';
  for (guint i = 0; accept[i]; i++)
    {
      const char *e = accept[i];
      const char *at = strrchr (e, '@');
      if (at == NULL || at == e)
        {
          /* "domain" or "@domain" */
          if (g_ascii_strcasecmp (at ? at + 1 : e, domain) == 0)
            return TRUE;
          continue;
        }
      if (g_ascii_strcasecmp (at + 1, domain) == 0
          && (gsize) (at - e) == strlen (local) && g_ascii_strncasecmp (e, local, at - e) == 0)
        return TRUE;
    }
  return FALSE;
}

/* ---- commands -------------------------------------------------------- */

static void
cmd_helo (RdSmtpSession *s, const char *arg, gboolean ehlo)
{
  while (*arg == ' ')
    arg++;
  if (*arg == '\0')
    {
      reply (s, "501 5.5.4 Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
      count_error (s);
      return;
    }
  reset_transaction (s);
  g_free (s->helo);
  s->helo = g_strndup (arg, 255);
  s->esmtp = ehlo;
  set_state (s, ST_READY);
  if (ehlo)
    reply (s, "250-%s\n250-PIPELINING\n250-SIZE %" G_GUINT64_FORMAT "\n250-8BITMIME\n"
              "250-ENHANCEDSTATUSCODES\n250-SMTPUTF8\n%s250 CHUNKING",
           s->hostname, s->limits.max_message_size,
           s->limits.tls_available && s->tls_version == NULL ? "250-STARTTLS\n" : "");
  else
    reply (s, "250 %s", s->hostname);
}

static void
cmd_mail (RdSmtpSession *s, const char *arg)
{
  if (g_ascii_strncasecmp (arg, "FROM:", 5) != 0)
    {
      reply (s, "501 5.5.4 Syntax: MAIL FROM:<address>");
      count_error (s);
      return;
    }
  if (s->limits.tls_required && s->tls_version == NULL)
    {
      reply (s, "530 5.7.0 Must issue a STARTTLS command first");
      count_error (s);
      return;
    }
  const char *params = arg + 5;
  g_autofree char *addr = parse_one_path (&params);
  if (addr == NULL || !address_ok (addr))
    {
      reply (s, "501 5.1.7 Bad sender address syntax");
      count_error (s);
      return;
    }
  /* ESMTP parameters: SIZE is checked (RFC 1870); BODY and SMTPUTF8 are
   * the ones advertised (RFC 6152, RFC 3030, RFC 6531). */
  g_auto(GStrv) words = g_strsplit (params, " ", 16);
  for (guint i = 0; words[i]; i++)
    {
      if (words[i][0] == '\0')
        continue;
      if (g_ascii_strncasecmp (words[i], "SIZE=", 5) == 0)
        {
          guint64 size = 0;
          if (!g_ascii_string_to_unsigned (words[i] + 5, 10, 0, G_MAXUINT64, &size, NULL))
            {
              reply (s, "501 5.5.4 Bad SIZE parameter");
              count_error (s);
              return;
            }
          if (size > s->limits.max_message_size)
            {
              reply (s, "552 5.3.4 Message size exceeds fixed limit of %" G_GUINT64_FORMAT " octets",
                     s->limits.max_message_size);
              return;
            }
        }
      else if (g_ascii_strcasecmp (words[i], "BODY=7BIT") == 0
               || g_ascii_strcasecmp (words[i], "BODY=8BITMIME") == 0
               || g_ascii_strcasecmp (words[i], "SMTPUTF8") == 0)
        ;
      else
        {
          g_autofree char *shown = rd_log_escape (words[i], -1, 64);
          reply (s, "555 5.5.4 Unsupported parameter %s", shown);
          count_error (s);
          return;
        }
    }
  s->sender = g_steal_pointer (&addr);
  set_state (s, ST_MAIL);
  reply (s, "250 2.1.0 Ok");
}

/* RCPT TO: one address, or — as relay users type it by hand — several
 * separated by commas ("rcpt to: a@x, b@y"). The command is all or
 * nothing: every address is checked before any is added, so one reply
 * describes it. */
static void
cmd_rcpt (RdSmtpSession *s, const char *arg)
{
  if (g_ascii_strncasecmp (arg, "TO:", 3) != 0)
    {
      reply (s, "501 5.5.4 Syntax: RCPT TO:<address>");
      count_error (s);
      return;
    }
  g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func (g_free);
  const char *p = arg + 3;
  for (;;)
    {
      char *addr = parse_one_path (&p);
      if (addr == NULL || *addr == '\0' || (!address_ok (addr) && !is_postmaster (addr)))
        {
          g_free (addr);
          reply (s, "501 5.1.3 Bad recipient address syntax");
          count_error (s);
          return;
        }
      g_ptr_array_add (addrs, addr);
      while (*p == ' ')
        p++;
      if (*p != ',')
        break;
      p++;
      if (addrs->len >= MAX_ADDRESSES_PER_RCPT)
        break;
    }
  /* Only DSN parameters could follow; none are advertised. */
  if (*p != '\0')
    {
      g_autofree char *shown = rd_log_escape (p, -1, 64);
      reply (s, "555 5.5.4 Unsupported parameter %s", shown);
      count_error (s);
      return;
    }
  for (guint i = 0; i < addrs->len; i++)
    {
      const char *a = g_ptr_array_index (addrs, i);
      if (!rd_smtp_recipient_accepted (s->limits.accept_recipients, a))
        {
          g_autofree char *shown = rd_log_escape (a, -1, 128);
          rd_log (RD_LOG_INFO, "smtp.rcpt", "session=%s client=%s rcpt=%s result=unknown_user",
                  s->id, s->client_addr, shown);
          reply (s, "550 5.1.1 <%s>: Recipient address rejected: User unknown", a);
          count_error (s);
          return;
        }
    }
  if (s->rcpts->len + addrs->len > s->limits.max_recipients)
    {
      reply (s, "452 4.5.3 Error: too many recipients");
      return;
    }
  for (guint i = 0; i < addrs->len; i++)
    g_ptr_array_add (s->rcpts, g_strdup (g_ptr_array_index (addrs, i)));
  set_state (s, ST_RCPT);
  if (addrs->len == 1)
    reply (s, "250 2.1.5 Ok");
  else
    reply (s, "250 2.1.5 Ok: %u recipients", addrs->len);
}

static void
cmd_data (RdSmtpSession *s, const char *arg)
{
  if (*arg)
    {
      reply (s, "501 5.5.4 Syntax: DATA");
      count_error (s);
      return;
    }
  g_byte_array_set_size (s->data, 0);
  s->data_size = 0;
  s->data_too_big = FALSE;
  s->data_at_line_start = TRUE;
  s->prev_eol = EOL_CRLF;
  set_state (s, ST_DATA);
  reply (s, "354 End data with <CR><LF>.<CR><LF>");
}

/* Parses "SIZE [LAST]" of BDAT (RFC 3030 §2). */
static gboolean
parse_bdat (const char *arg, guint64 *size, gboolean *last)
{
  g_auto(GStrv) words = g_strsplit (arg, " ", 3);
  if (words[0] == NULL || !g_ascii_string_to_unsigned (words[0], 10, 0, G_MAXUINT64, size, NULL))
    return FALSE;
  *last = FALSE;
  if (words[1] == NULL)
    return TRUE;
  if (g_ascii_strcasecmp (words[1], "LAST") != 0 || words[2] != NULL)
    return FALSE;
  *last = TRUE;
  return TRUE;
}

static void finish_message (RdSmtpSession *s);

static void
bdat_chunk_done (RdSmtpSession *s)
{
  if (s->bdat_discard)
    {
      s->bdat_discard = FALSE;
      return;
    }
  if (s->data_too_big)
    {
      reply (s, "552 5.3.4 Message size exceeds fixed limit of %" G_GUINT64_FORMAT " octets",
             s->limits.max_message_size);
      reset_transaction (s);
      set_state (s, ST_READY);
      return;
    }
  if (s->bdat_last)
    {
      finish_message (s);
      return;
    }
  set_state (s, ST_BDAT);
  reply (s, "250 2.0.0 Ok: %" G_GUINT64_FORMAT " octets received", s->data_size);
}

/* BDAT is handled outside the command table's state check because its
 * chunk must be read and dropped even when the command is refused:
 * otherwise the chunk's octets would be read as commands. */
static void
cmd_bdat (RdSmtpSession *s, const char *arg)
{
  guint64 size = 0;
  gboolean last = FALSE;
  if (!parse_bdat (arg, &size, &last))
    {
      /* Without a size the chunk cannot be skipped: nothing safe to do
       * but close. */
      reply (s, "501 5.5.4 Syntax: BDAT size [LAST], closing connection");
      close_session (s, "bad_bdat");
      return;
    }
  if (s->state != ST_RCPT && s->state != ST_BDAT)
    {
      reply (s, "503 5.5.1 Error: %s", s->state == ST_INIT ? "send HELO/EHLO first"
                                      : s->state == ST_READY ? "need MAIL command"
                                      : "need RCPT command");
      count_error (s);
      s->bdat_discard = TRUE;
      s->bdat_remaining = size;
      if (size == 0)
        s->bdat_discard = FALSE;
      return;
    }
  s->used_bdat = TRUE;
  s->bdat_last = last;
  s->bdat_remaining = size;
  s->bdat_discard = FALSE;
  set_state (s, ST_BDAT);
  if (size == 0)
    bdat_chunk_done (s);
}

static void
cmd_rset (RdSmtpSession *s, const char *arg)
{
  reset_transaction (s);
  if (s->state != ST_INIT)
    set_state (s, ST_READY);
  reply (s, "250 2.0.0 Ok");
}

static void
cmd_noop (RdSmtpSession *s, const char *arg)
{
  reply (s, "250 2.0.0 Ok");
}

static void
cmd_vrfy (RdSmtpSession *s, const char *arg)
{
  reply (s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void
cmd_quit (RdSmtpSession *s, const char *arg)
{
  reply (s, "221 2.0.0 Bye");
  close_session (s, "quit");
}

static void
cmd_starttls (RdSmtpSession *s, const char *arg)
{
  if (!s->limits.tls_available || s->tls_version != NULL || s->cb.starttls == NULL)
    {
      reply (s, s->tls_version ? "503 5.5.1 Error: TLS already active"
                               : "502 5.5.1 Error: command not implemented");
      count_error (s);
      return;
    }
  if (*arg)
    {
      reply (s, "501 5.5.4 Syntax: STARTTLS");
      count_error (s);
      return;
    }
  reply (s, "220 2.0.0 Ready to start TLS");
  /* CVE-2011-0411: whatever followed STARTTLS in the same read was sent
   * in plaintext and could be injected; it is never executed. */
  if (s->in->len > s->consumed)
    rd_log (RD_LOG_WARN, "smtp.starttls", "session=%s client=%s discarded=%u",
            s->id, s->client_addr, (guint) (s->in->len - s->consumed));
  g_byte_array_set_size (s->in, 0);
  reset_transaction (s);
  set_state (s, ST_TLS);
  s->cb.starttls (s, s->user_data);
}

static void cmd_helo_w (RdSmtpSession *s, const char *a) { cmd_helo (s, a, FALSE); }
static void cmd_ehlo_w (RdSmtpSession *s, const char *a) { cmd_helo (s, a, TRUE); }

typedef struct {
  const char *verb;
  guint states;      /* where the command may be used (0: it checks itself) */
  void (*proceed) (RdSmtpSession *s, const char *arg);
} Command;

#define SESSION_STATES (B (ST_INIT) | B (ST_READY) | B (ST_MAIL) | B (ST_RCPT) | B (ST_BDAT))

/* A PROXY protocol header (receiver/proxy-protocol.h) reaching the
 * session: the server takes one only from [smtp] proxy_trusted, before
 * the session starts; from anyone else it is refused, never read as the
 * client's address. */
static void
cmd_proxy (RdSmtpSession *s, const char *arg)
{
  rd_log (RD_LOG_WARN, "smtp.proxy", "session=%s client=%s result=refused reason=untrusted", s->id, s->client_addr);
  reply (s, "554 5.7.0 Error: PROXY protocol header from an address not in [smtp] proxy_trusted");
  close_session (s, "proxy_untrusted");
}

static const Command commands[] = {
  { "HELO", SESSION_STATES, cmd_helo_w },
  { "EHLO", SESSION_STATES, cmd_ehlo_w },
  { "MAIL", B (ST_READY), cmd_mail },
  { "RCPT", B (ST_MAIL) | B (ST_RCPT), cmd_rcpt },
  { "DATA", B (ST_RCPT), cmd_data },
  { "BDAT", 0, cmd_bdat },
  { "RSET", SESSION_STATES, cmd_rset },
  { "NOOP", SESSION_STATES, cmd_noop },
  { "VRFY", SESSION_STATES, cmd_vrfy },
  { "QUIT", SESSION_STATES | B (ST_REJECTED), cmd_quit },
  { "STARTTLS", B (ST_INIT) | B (ST_READY), cmd_starttls },
  { "PROXY", 0, cmd_proxy },
};

static const char *
sequence_error (RdSmtpSession *s, const char *verb)
{
  if (s->state == ST_INIT)
    return "send HELO/EHLO first";
  if (!strcmp (verb, "MAIL"))
    return s->state == ST_BDAT ? "BDAT transaction in progress" : "nested MAIL command";
  if (!strcmp (verb, "RCPT"))
    return s->state == ST_BDAT ? "BDAT transaction in progress" : "need MAIL command";
  if (!strcmp (verb, "DATA"))
    return s->used_bdat ? "DATA after BDAT" : (s->state == ST_MAIL ? "need RCPT command" : "need MAIL command");
  if (!strcmp (verb, "STARTTLS"))
    return "STARTTLS inside a transaction";
  return "bad sequence of commands";
}

static void
handle_command (RdSmtpSession *s, const char *line, gsize len)
{
  if (len > MAX_COMMAND_LINE - 2)
    {
      reply (s, "500 5.5.2 Error: line too long");
      count_error (s);
      return;
    }
  if (memchr (line, '\0', len) != NULL)
    {
      reply (s, "500 5.5.2 Error: NUL character in command");
      count_error (s);
      return;
    }
  const char *sp = memchr (line, ' ', len);
  gsize vlen = sp ? (gsize) (sp - line) : len;
  const char *arg = sp ? sp + 1 : line + len;
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      const Command *c = &commands[i];
      if (vlen != strlen (c->verb) || g_ascii_strncasecmp (line, c->verb, vlen) != 0)
        continue;
      if (s->state == ST_REJECTED && c->proceed != cmd_quit)
        break;
      if (c->states != 0 && !(c->states & B (s->state)))
        {
          reply (s, "503 5.5.1 Error: %s", sequence_error (s, c->verb));
          count_error (s);
          return;
        }
      c->proceed (s, arg);
      return;
    }
  if (s->state == ST_REJECTED)
    {
      /* RFC 5321 §3.1: after a 554 greeting, 503 to everything but QUIT.
       * Not counted: the server's short timeout ends this. */
      reply (s, "503 5.7.1 Error: access denied, send QUIT");
      return;
    }
  g_autofree char *shown = rd_log_escape (line, vlen, 32);
  rd_log (RD_LOG_INFO, "smtp.unknown", "session=%s verb=%s", s->id, shown);
  reply (s, "500 5.5.2 Error: command not recognized");
  count_error (s);
}

static void
finish_message (RdSmtpSession *s)
{
  if (s->data_too_big)
    {
      rd_log (RD_LOG_INFO, "smtp.message", "session=%s client=%s size=%" G_GUINT64_FORMAT " result=too_big",
              s->id, s->client_addr, s->data_size);
      reply (s, "552 5.3.4 Message size exceeds fixed limit of %" G_GUINT64_FORMAT " octets",
             s->limits.max_message_size);
      reset_transaction (s);
      set_state (s, ST_READY);
      return;
    }
  RdSpoolItem *item = rd_spool_item_new ();
  item->sender = g_strdup (s->sender);
  for (guint i = 0; i < s->rcpts->len; i++)
    g_ptr_array_add (item->recipients, g_strdup (g_ptr_array_index (s->rcpts, i)));
  item->client_addr = g_strdup (s->client_addr);
  item->helo = g_strdup (s->helo);
  /* RFC 3848 protocol names. */
  item->protocol = g_strdup (s->esmtp ? (s->tls_version ? "ESMTPS" : "ESMTP") : "SMTP");
  item->raw = g_byte_array_free_to_bytes (g_steal_pointer (&s->data));
  s->data = g_byte_array_new ();
  set_state (s, ST_STORING);
  s->cb.submit (s, item, s->user_data);
}

/* Appends message data; past the size limit the octets are counted and
 * dropped, never buffered. */
static void
append_raw (RdSmtpSession *s, const char *text, gsize len)
{
  s->data_size += len;
  if (s->data_too_big || s->data->len + len > s->limits.max_message_size)
    {
      s->data_too_big = TRUE;
      return;
    }
  g_byte_array_append (s->data, (const guint8 *) text, len);
}

/* A DATA line: @unstuff removes a leading dot (RFC 5321 §4.5.2), @eol
 * adds the CRLF that ended the line (also for a bare LF). */
static void
append_line (RdSmtpSession *s, const char *text, gsize len, gboolean unstuff, gboolean eol)
{
  if (unstuff && len > 0 && text[0] == '.')
    {
      text++;
      len--;
    }
  append_raw (s, text, len);
  if (eol)
    append_raw (s, "\r\n", 2);
}

static void bare_lf_refused (RdSmtpSession *s);

/* A BDAT chunk piece: octets as they are, except that a bare LF is
 * stored as CRLF like in DATA, or, under strict_bare_lf, refused as in
 * DATA (550 5.5.2 and close; FALSE). */
static gboolean
append_bdat (RdSmtpSession *s, const char *p, gsize len)
{
  const char *end = p + len;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      if (nl == NULL)
        {
          append_raw (s, p, end - p);
          s->bdat_prev_cr = end[-1] == '\r';
          return TRUE;
        }
      gboolean cr_before = nl > p ? nl[-1] == '\r' : s->bdat_prev_cr;
      if (!cr_before && s->limits.strict_bare_lf)
        {
          bare_lf_refused (s);
          return FALSE;
        }
      append_raw (s, p, nl - p);
      append_raw (s, cr_before ? "\n" : "\r\n", cr_before ? 1 : 2);
      s->bdat_prev_cr = FALSE;
      p = nl + 1;
    }
  return TRUE;
}

static void
smuggling (RdSmtpSession *s, const char *what)
{
  rd_log (RD_LOG_WARN, "smtp.smuggling", "session=%s client=%s ending=%s", s->id, s->client_addr, what);
  reply (s, "550 5.5.2 Error: bare %s near '.' is not allowed: end the message with "
            "<CR><LF>.<CR><LF> (netcat needs -C)", what);
  close_session (s, "smuggling");
}

static void
bare_lf_refused (RdSmtpSession *s)
{
  rd_log (RD_LOG_WARN, "smtp.bare_lf", "session=%s client=%s", s->id, s->client_addr);
  reply (s, "550 5.5.2 Error: bare <LF> received, lines must end with <CR><LF> (netcat needs -C)");
  close_session (s, "bare_lf");
}

/* Consumes input at @base (@avail octets) in state ST_DATA; returns the
 * octets used, 0 when more input is needed. */
static gsize
data_step (RdSmtpSession *s, const char *base, gsize avail)
{
  const char *nl = memchr (base, '\n', avail);
  if (nl == NULL)
    {
      if (s->data_at_line_start && avail >= 2 && base[0] == '.' && base[1] == '\r'
          && (avail > 2 || s->prev_eol != EOL_CRLF))
        {
          /* ".\r" then not LF, or "." after a bare LF */
          if (avail > 2)
            smuggling (s, "<CR>");
          return 0;
        }
      if (avail > MAX_DATA_LINE_PIECE)
        {
          /* A data line that never ends is not buffered without bound:
           * take it in pieces (a trailing CR waits for its LF). */
          gsize take = base[avail - 1] == '\r' ? avail - 1 : avail;
          append_line (s, base, take, s->data_at_line_start, FALSE);
          s->data_at_line_start = FALSE;
          return take;
        }
      return 0;
    }
  gsize linelen = nl - base;
  gboolean crlf = linelen > 0 && base[linelen - 1] == '\r';
  gsize textlen = crlf ? linelen - 1 : linelen;
  gboolean line_start = s->data_at_line_start;
  Eol before = s->prev_eol;
  s->data_at_line_start = TRUE;
  s->prev_eol = crlf ? EOL_CRLF : EOL_LF;
  if (!crlf && s->limits.strict_bare_lf)
    {
      bare_lf_refused (s);
      return linelen + 1;
    }
  if (line_start && textlen == 1 && base[0] == '.')
    {
      if (!crlf)
        smuggling (s, "<LF>");
      else if (before != EOL_CRLF)
        smuggling (s, "<LF>"); /* <LF>.<CR><LF> */
      else
        finish_message (s);
      return linelen + 1;
    }
  if (line_start && textlen >= 2 && base[0] == '.' && base[1] == '\r')
    {
      smuggling (s, "<CR>");
      return linelen + 1;
    }
  /* Dot-stuffing is undone only at a real line start (after CRLF): a
   * client sending bare LFs does not stuff after them (curl uploading a
   * Unix file), and a dot there is data. */
  gboolean unstuff = line_start && before == EOL_CRLF;
  if (crlf && !(unstuff && base[0] == '.'))
    append_raw (s, base, linelen + 1);  /* the common case: one copy, CRLF included */
  else
    append_line (s, base, textlen, unstuff, TRUE);
  return linelen + 1;
}

static void
process_input (RdSmtpSession *s)
{
  /* A submit callback that completes at once calls back into
   * rd_smtp_session_stored(): the running loop goes on by itself. */
  if (s->processing)
    return;
  s->processing = TRUE;
  gsize pos = 0;
  while (s->state != ST_CLOSED && s->state != ST_STORING && s->state != ST_TLS && pos < s->in->len)
    {
      const char *base = (const char *) s->in->data + pos;
      gsize avail = s->in->len - pos;
      if (s->bdat_remaining > 0)
        {
          gsize take = (gsize) MIN ((guint64) avail, s->bdat_remaining);
          if (!s->bdat_discard && !append_bdat (s, base, take))
            break; /* refused: the session is closed */
          s->bdat_remaining -= take;
          pos += take;
          if (s->bdat_remaining == 0)
            bdat_chunk_done (s);
          continue;
        }
      if (s->state == ST_DATA)
        {
          gsize used = data_step (s, base, avail);
          if (used == 0)
            break;
          pos += used;
          continue;
        }
      const char *nl = memchr (base, '\n', avail);
      if (nl == NULL)
        {
          if (avail > MAX_UNTERMINATED)
            {
              reply (s, "500 5.5.2 Error: line too long, closing connection");
              close_session (s, "line_too_long");
            }
          break;
        }
      gsize linelen = nl - base;
      gboolean crlf = linelen > 0 && base[linelen - 1] == '\r';
      gsize textlen = crlf ? linelen - 1 : linelen;
      pos += linelen + 1;
      if (!crlf && s->limits.strict_bare_lf)
        {
          bare_lf_refused (s);
          break;
        }
      /* STARTTLS may empty the buffer under us: copy the line first. */
      g_autofree char *line = g_strndup (base, textlen);
      gsize before = s->in->len;
      s->consumed = pos;
      handle_command (s, line, textlen);
      if (s->in->len != before)
        {
          pos = 0;
          break;
        }
    }
  if (pos > 0)
    g_byte_array_remove_range (s->in, 0, MIN (pos, s->in->len));
  s->processing = FALSE;
}

void
rd_smtp_session_feed (RdSmtpSession *s, const char *data, gsize len)
{
  if (s->state == ST_CLOSED)
    return;
  if (s->state == ST_TLS)
    return; /* plaintext after STARTTLS: never executed */
  g_byte_array_append (s->in, (const guint8 *) data, len);
  process_input (s);
}

void
rd_smtp_session_stored (RdSmtpSession *s, const char *queue_id, const GError *error)
{
  g_return_if_fail (s->state == ST_STORING);
  guint nrcpt = s->rcpts->len;
  g_autofree char *sender = rd_log_escape (s->sender, -1, 128);
  if (error == NULL)
    {
      s->messages++;
      rd_log (RD_LOG_INFO, "smtp.message",
              "session=%s client=%s tls=%s sender=%s rcpts=%u size=%" G_GUINT64_FORMAT
              " queue_id=%s result=accepted",
              s->id, s->client_addr, s->tls_version ? s->tls_version : "none", sender, nrcpt,
              s->data_size, queue_id);
      reply (s, "250 2.0.0 Ok: message %s accepted", queue_id);
    }
  else
    {
      gboolean full = g_error_matches (error, RD_ERROR, RD_ERROR_DISK_FULL);
      g_autofree char *why = rd_log_escape (error->message, -1, 256);
      rd_log (RD_LOG_WARN, "smtp.message",
              "session=%s client=%s tls=%s sender=%s rcpts=%u size=%" G_GUINT64_FORMAT
              " result=%s error=%s",
              s->id, s->client_addr, s->tls_version ? s->tls_version : "none", sender, nrcpt,
              s->data_size, full ? "disk_full" : "tempfail", why);
      if (full)
        reply (s, "452 4.3.1 Insufficient system storage, try again later");
      else
        reply (s, "451 4.3.0 Local error in processing, try again later");
    }
  reset_transaction (s);
  set_state (s, ST_READY);
  process_input (s); /* pipelined commands waiting behind the data */
}

void
rd_smtp_session_set_tls (RdSmtpSession *s, const char *version)
{
  g_free (s->tls_version);
  s->tls_version = g_strdup (version ? version : "TLS");
  if (s->state == ST_TLS)
    {
      /* RFC 3207 §4.2: forget everything learnt before the handshake. */
      g_clear_pointer (&s->helo, g_free);
      s->esmtp = FALSE;
      reset_transaction (s);
      g_byte_array_set_size (s->in, 0);
      set_state (s, ST_INIT);
    }
}

void
rd_smtp_session_disconnected (RdSmtpSession *s)
{
  if (s->state != ST_CLOSED)
    {
      log_session_end (s, s->state == ST_STORING ? "disconnect_while_storing" : "disconnect");
      s->state = ST_CLOSED;
    }
}

void
rd_smtp_session_timeout (RdSmtpSession *s)
{
  if (s->state == ST_CLOSED)
    return;
  reply (s, "421 4.4.2 %s Error: timeout exceeded", s->hostname);
  close_session (s, "timeout");
}

void
rd_smtp_session_shutdown (RdSmtpSession *s)
{
  if (s->state == ST_CLOSED)
    return;
  if (s->state != ST_TLS)
    reply (s, "421 4.3.2 %s Service shutting down, closing connection", s->hostname);
  close_session (s, "shutdown");
}
