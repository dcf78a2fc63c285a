/* relaydesk — receiver: the SMTP server session state machine.
 *
 * One state enum, one command table (verb, states in which it is allowed,
 * handler), one set_state() that logs transitions. Replies carry RFC 3463
 * enhanced status codes. Input is split into lines at LF; a line ended by
 * CRLF is normal, one ended by a bare LF is tolerated in commands and data
 * (stored as CRLF), except that a lone "." ended by a bare LF or CR never
 * ends a message: that is the SMTP smuggling signature and is refused with
 * 550 5.5.2 and the connection closed (CVE-2023-51764 family).
 */
#include "smtp-session.h"
#include "rd-common.h"

#include <string.h>

#define MAX_COMMAND_LINE 512      /* RFC 5321 4.5.3.1.4 */
#define MAX_UNTERMINATED 4096     /* a command line that never ends */

typedef enum {
  ST_INIT,       /* banner sent, waiting for HELO/EHLO */
  ST_READY,      /* greeted, no transaction */
  ST_MAIL,       /* MAIL accepted */
  ST_RCPT,       /* at least one RCPT accepted */
  ST_DATA,       /* reading message data */
  ST_STORING,    /* waiting for the commit */
  ST_CLOSED,
} State;

static const char *state_names[] = { "init", "ready", "mail", "rcpt", "data", "storing", "closed" };

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
  guint errors;
  /* transaction */
  char *sender;
  GPtrArray *rcpts;
  GByteArray *data;
  gboolean data_too_big;
  gboolean data_at_line_start;
  guint messages;
};

#define B(s) (1u << (s))

static void
set_state (RdSmtpSession *s, State next)
{
  if (s->state == next)
    return;
  rd_log (RD_LOG_DEBUG, "smtp.state", "session=%s %s->%s", s->id,
          state_names[s->state], state_names[next]);
  s->state = next;
}

static void
reply (RdSmtpSession *s, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* The one function that writes replies. @fmt holds one or more lines
 * separated by '\n'; CRLF is appended to each. */
static void
reply (RdSmtpSession *s, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  GString *out = g_string_new (NULL);
  for (char *p = text; *p;)
    {
      char *nl = strchr (p, '\n');
      gsize n = nl ? (gsize) (nl - p) : strlen (p);
      g_string_append_len (out, p, n);
      g_string_append (out, "\r\n");
      p += n + (nl ? 1 : 0);
    }
  s->cb.write (s, out->str, out->len, s->user_data);
  g_string_free (out, TRUE);
}

static void
close_session (RdSmtpSession *s)
{
  if (s->state == ST_CLOSED)
    return;
  set_state (s, ST_CLOSED);
  s->cb.close (s, s->user_data);
}

static void
reset_transaction (RdSmtpSession *s)
{
  g_clear_pointer (&s->sender, g_free);
  g_ptr_array_set_size (s->rcpts, 0);
  g_byte_array_set_size (s->data, 0);
  s->data_too_big = FALSE;
}

/* Counts a client error; too many closes the session with 421. */
static gboolean
count_error (RdSmtpSession *s)
{
  s->errors++;
  if (s->limits.max_errors && s->errors >= s->limits.max_errors)
    {
      reply (s, "421 4.7.0 %s Error: too many errors", s->hostname);
      close_session (s);
      return FALSE;
    }
  return TRUE;
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

void
rd_smtp_session_start (RdSmtpSession *s)
{
  rd_log (RD_LOG_INFO, "smtp.connect", "session=%s client=%s", s->id, s->client_addr);
  reply (s, "220 %s ESMTP relaydesk", s->hostname);
}

/* ---- argument parsing ------------------------------------------------ */

/* Parses the path of "MAIL FROM:" / "RCPT TO:" after the colon. Accepts
 * "<addr> params", and, as people type it by hand, " addr" without brackets.
 * Returns the address (may be "" for <>) and points @params at the rest. */
static char *
parse_path (const char *arg, const char **params)
{
  const char *p = arg;
  while (*p == ' ')
    p++;
  if (*p == '<')
    {
      const char *gt = strchr (p, '>');
      if (gt == NULL)
        return NULL;
      const char *a = p + 1;
      /* Source routes "@a,@b:user@c" are ignored (RFC 5321 4.1.2). */
      if (*a == '@')
        {
          const char *colon = memchr (a, ':', gt - a);
          if (colon)
            a = colon + 1;
        }
      if (params)
        *params = gt + 1;
      return g_strndup (a, gt - a);
    }
  const char *e = p;
  while (*e && *e != ' ')
    e++;
  if (e == p)
    return NULL;
  if (params)
    *params = e;
  return g_strndup (p, e - p);
}

static gboolean
address_ok (const char *addr)
{
  if (*addr == '\0')
    return TRUE; /* <> */
  if (strlen (addr) > 254)
    return FALSE;
  for (const char *p = addr; *p; p++)
    if ((guchar) *p <= ' ' || *p == '<' || *p == '>')
      return FALSE;
  const char *at = strrchr (addr, '@');
  return at != NULL && at != addr && at[1] != '\0';
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
  s->helo = g_strdup (arg);
  s->esmtp = ehlo;
  set_state (s, ST_READY);
  if (ehlo)
    reply (s, "250-%s\n250-PIPELINING\n250-SIZE %" G_GUINT64_FORMAT "\n250-8BITMIME\n"
              "250-ENHANCEDSTATUSCODES\n250 SMTPUTF8",
           s->hostname, s->limits.max_message_size);
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
  const char *params = NULL;
  g_autofree char *addr = parse_path (arg + 5, &params);
  if (addr == NULL || !address_ok (addr))
    {
      reply (s, "501 5.1.7 Bad sender address syntax");
      count_error (s);
      return;
    }
  /* ESMTP parameters: SIZE is checked; BODY, SMTPUTF8 accepted. */
  g_auto(GStrv) words = g_strsplit (params ? params : "", " ", -1);
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
      else if (g_ascii_strncasecmp (words[i], "BODY=", 5) == 0
               || g_ascii_strcasecmp (words[i], "SMTPUTF8") == 0)
        ;
      else
        {
          reply (s, "555 5.5.4 Unsupported parameter %.64s", words[i]);
          count_error (s);
          return;
        }
    }
  s->sender = g_steal_pointer (&addr);
  set_state (s, ST_MAIL);
  reply (s, "250 2.1.0 Ok");
}

static void
cmd_rcpt (RdSmtpSession *s, const char *arg)
{
  if (g_ascii_strncasecmp (arg, "TO:", 3) != 0)
    {
      reply (s, "501 5.5.4 Syntax: RCPT TO:<address>");
      count_error (s);
      return;
    }
  g_autofree char *addr = parse_path (arg + 3, NULL);
  if (addr == NULL || *addr == '\0' || !address_ok (addr))
    {
      /* "postmaster" without a domain is always accepted (RFC 5321 4.5.1). */
      if (addr == NULL || g_ascii_strcasecmp (addr, "postmaster") != 0)
        {
          reply (s, "501 5.1.3 Bad recipient address syntax");
          count_error (s);
          return;
        }
    }
  if (s->rcpts->len >= s->limits.max_recipients)
    {
      reply (s, "452 4.5.3 Error: too many recipients");
      return;
    }
  g_ptr_array_add (s->rcpts, g_steal_pointer (&addr));
  set_state (s, ST_RCPT);
  reply (s, "250 2.1.5 Ok");
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
  s->data_too_big = FALSE;
  s->data_at_line_start = TRUE;
  set_state (s, ST_DATA);
  reply (s, "354 End data with <CR><LF>.<CR><LF>");
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
  close_session (s);
}

static void cmd_helo_w (RdSmtpSession *s, const char *a) { cmd_helo (s, a, FALSE); }
static void cmd_ehlo_w (RdSmtpSession *s, const char *a) { cmd_helo (s, a, TRUE); }

typedef struct {
  const char *verb;
  guint states;      /* where the command may be used */
  void (*proceed) (RdSmtpSession *s, const char *arg);
} Command;

static const Command commands[] = {
  { "HELO", B (ST_INIT) | B (ST_READY) | B (ST_MAIL) | B (ST_RCPT), cmd_helo_w },
  { "EHLO", B (ST_INIT) | B (ST_READY) | B (ST_MAIL) | B (ST_RCPT), cmd_ehlo_w },
  { "MAIL", B (ST_READY), cmd_mail },
  { "RCPT", B (ST_MAIL) | B (ST_RCPT), cmd_rcpt },
  { "DATA", B (ST_RCPT), cmd_data },
  { "RSET", B (ST_INIT) | B (ST_READY) | B (ST_MAIL) | B (ST_RCPT), cmd_rset },
  { "NOOP", B (ST_INIT) | B (ST_READY) | B (ST_MAIL) | B (ST_RCPT), cmd_noop },
  { "VRFY", B (ST_INIT) | B (ST_READY) | B (ST_MAIL) | B (ST_RCPT), cmd_vrfy },
  { "QUIT", B (ST_INIT) | B (ST_READY) | B (ST_MAIL) | B (ST_RCPT), cmd_quit },
};

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
      if (!(c->states & B (s->state)))
        {
          const char *why = s->state == ST_INIT ? "send HELO/EHLO first"
                          : (!strcmp (c->verb, "MAIL") ? "nested MAIL command"
                          : (!strcmp (c->verb, "RCPT") ? "need MAIL command"
                          : (!strcmp (c->verb, "DATA") ? "need RCPT command"
                          : "bad sequence of commands")));
          if (s->state == ST_INIT && !strcmp (c->verb, "DATA"))
            why = "send HELO/EHLO first";
          reply (s, "503 5.5.1 Error: %s", why);
          count_error (s);
          return;
        }
      c->proceed (s, arg);
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
  item->protocol = g_strdup (s->esmtp ? "ESMTP" : "SMTP");
  item->raw = g_byte_array_free_to_bytes (g_steal_pointer (&s->data));
  s->data = g_byte_array_new ();
  set_state (s, ST_STORING);
  s->cb.submit (s, item, s->user_data);
}

/* Appends message data: @unstuff removes a leading dot (RFC 5321 4.5.2),
 * @eol adds the CRLF that ended the line. Past the size limit the bytes
 * are counted as too big and dropped, never buffered. */
static void
append_data (RdSmtpSession *s, const char *text, gsize len, gboolean unstuff, gboolean eol)
{
  if (unstuff && len > 0 && text[0] == '.')
    {
      text++;
      len--;
    }
  if (s->data_too_big || s->data->len + len + (eol ? 2 : 0) > s->limits.max_message_size)
    {
      s->data_too_big = TRUE;
      return;
    }
  g_byte_array_append (s->data, (const guint8 *) text, len);
  if (eol)
    g_byte_array_append (s->data, (const guint8 *) "\r\n", 2);
}

static void
smuggling (RdSmtpSession *s, const char *what)
{
  rd_log (RD_LOG_WARN, "smtp.smuggling", "session=%s client=%s ending=%s", s->id, s->client_addr, what);
  reply (s, "550 5.5.2 Error: bare %s after '.' is not allowed: end the message with "
            "<CR><LF>.<CR><LF> (netcat needs -C)", what);
  close_session (s);
}

static void
process_input (RdSmtpSession *s)
{
  gsize pos = 0;
  while (s->state != ST_CLOSED && s->state != ST_STORING)
    {
      const char *base = (const char *) s->in->data + pos;
      gsize avail = s->in->len - pos;
      const char *nl = memchr (base, '\n', avail);
      if (nl == NULL)
        {
          if (s->state != ST_DATA && avail > MAX_UNTERMINATED)
            {
              reply (s, "500 5.5.2 Error: line too long, closing connection");
              close_session (s);
            }
          else if (s->state == ST_DATA && s->data_at_line_start && avail >= 3
                   && base[0] == '.' && base[1] == '\r')
            smuggling (s, "<CR>"); /* ".\r" then not LF */
          else if (s->state == ST_DATA && avail > 65536)
            {
              /* A data line that never ends is not buffered without
               * bound: take it in pieces (a trailing CR waits for its LF). */
              gsize take = base[avail - 1] == '\r' ? avail - 1 : avail;
              append_data (s, base, take, s->data_at_line_start, FALSE);
              s->data_at_line_start = FALSE;
              pos += take;
            }
          break;
        }
      gsize linelen = nl - base;
      gboolean crlf = linelen > 0 && base[linelen - 1] == '\r';
      gsize textlen = crlf ? linelen - 1 : linelen;
      pos += linelen + 1;
      if (s->state == ST_DATA)
        {
          gboolean line_start = s->data_at_line_start;
          s->data_at_line_start = TRUE;
          if (line_start && textlen == 1 && base[0] == '.')
            {
              if (!crlf)
                {
                  smuggling (s, "<LF>");
                  break;
                }
              finish_message (s);
              continue;
            }
          if (line_start && textlen >= 2 && base[0] == '.' && base[1] == '\r')
            {
              smuggling (s, "<CR>");
              break;
            }
          append_data (s, base, textlen, line_start, TRUE);
          continue;
        }
      g_autofree char *line = g_strndup (base, textlen);
      handle_command (s, line, textlen);
    }
  if (pos > 0)
    g_byte_array_remove_range (s->in, 0, MIN (pos, s->in->len));
}

void
rd_smtp_session_feed (RdSmtpSession *s, const char *data, gsize len)
{
  if (s->state == ST_CLOSED)
    return;
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
      rd_log (RD_LOG_INFO, "smtp.message", "session=%s client=%s sender=%s rcpts=%u queue_id=%s result=accepted",
              s->id, s->client_addr, sender, nrcpt, queue_id);
      reply (s, "250 2.0.0 Ok: message %s accepted", queue_id);
    }
  else
    {
      rd_log (RD_LOG_WARN, "smtp.message", "session=%s client=%s sender=%s rcpts=%u result=tempfail error=\"%s\"",
              s->id, s->client_addr, sender, nrcpt, error->message);
      if (g_error_matches (error, RD_ERROR, RD_ERROR_DISK_FULL))
        reply (s, "452 4.3.1 Insufficient system storage, try again later");
      else
        reply (s, "451 4.3.0 Local error in processing, try again later");
    }
  reset_transaction (s);
  set_state (s, ST_READY);
  process_input (s); /* pipelined commands waiting behind the data */
}

void
rd_smtp_session_disconnected (RdSmtpSession *s)
{
  if (s->state != ST_CLOSED)
    {
      rd_log (RD_LOG_INFO, "smtp.disconnect", "session=%s client=%s messages=%u state=%s",
              s->id, s->client_addr, s->messages, state_names[s->state]);
      s->state = ST_CLOSED;
    }
}
