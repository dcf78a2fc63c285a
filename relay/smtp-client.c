/* relaydesk — relay: the libcurl SMTP client (smtp-client.h). */
#include "smtp-client.h"
#include "rd-common.h"

#include <curl/curl.h>
#include <string.h>

#define REPLY_MAX 2048

/* What the last reply answered (set from the commands curl writes). */
typedef enum {
  STAGE_CONNECT,   /* greeting */
  STAGE_EHLO,
  STAGE_STARTTLS,
  STAGE_AUTH,
  STAGE_MAIL,
  STAGE_RCPT,
  STAGE_DATA,
  STAGE_BODY,      /* the reply to the end of the message */
  STAGE_QUIT,
} Stage;

static const char *stage_names[] = { "greeting", "EHLO", "STARTTLS", "AUTH", "MAIL FROM", "RCPT TO",
                                     "DATA", "end of data", "QUIT" };

struct _RdSmtpClient {
  RdSmtpClientOptions o;
  char *url;
  CURL *curl;
  guint connections;
  /* per transfer */
  Stage stage;
  Stage reply_stage;
  gboolean new_reply;
  GString *reply;
  const char *body;
  gsize body_len;
  gsize body_pos;
  char errbuf[CURL_ERROR_SIZE];
};

void
rd_smtp_client_options_clear (RdSmtpClientOptions *o)
{
  g_clear_pointer (&o->url, g_free);
  g_clear_pointer (&o->ca_file, g_free);
  g_clear_pointer (&o->username, g_free);
  if (o->password)
    memset (o->password, 0, strlen (o->password));
  g_clear_pointer (&o->password, g_free);
  g_clear_pointer (&o->source_address, g_free);
  g_clear_pointer (&o->helo_name, g_free);
}

void
rd_smtp_outcome_clear (RdSmtpOutcome *o)
{
  g_clear_pointer (&o->reply, g_free);
  g_clear_pointer (&o->queue_id, g_free);
  g_clear_pointer (&o->error, g_free);
}

gboolean
rd_smtp_client_url_split (const char *url, gboolean *implicit_tls, char **host, guint16 *port, GError **error)
{
  gboolean tls;
  const char *rest;
  if (g_str_has_prefix (url, "smtps://"))
    tls = TRUE, rest = url + 8;
  else if (g_str_has_prefix (url, "smtp://"))
    tls = FALSE, rest = url + 7;
  else
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                   "relay URL '%s' must be smtp://HOST[:PORT] (STARTTLS) or smtps://HOST[:PORT] (implicit TLS)", url);
      return FALSE;
    }
  g_autofree char *hp = g_strndup (rest, strcspn (rest, "/?#"));
  g_autofree char *h = NULL;
  guint16 p = tls ? 465 : 25;
  if (hp[0] == '[' || strchr (hp, ':') != NULL)
    {
      g_autoptr(GError) local = NULL;
      if (!rd_parse_hostport (hp, &h, &p, &local))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "relay URL '%s': %s", url, local->message);
          return FALSE;
        }
    }
  else
    h = g_strdup (hp);
  if (h == NULL || h[0] == '\0')
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "relay URL '%s' has no host", url);
      return FALSE;
    }
  if (implicit_tls)
    *implicit_tls = tls;
  if (host)
    *host = g_steal_pointer (&h);
  if (port)
    *port = p;
  return TRUE;
}

gboolean
rd_smtp_client_options_load (RdConfig *config, const char *url, const char *ca_file,
                             RdSmtpClientOptions *o, GError **error)
{
  memset (o, 0, sizeof *o);
  const char *u = url ? url : rd_config_get_string (config, "relay", "url", NULL);
  if (u == NULL || u[0] == '\0')
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "no relay configured ([relay] url or --relay URL)");
      return FALSE;
    }
  if (!rd_smtp_client_url_split (u, NULL, NULL, NULL, error))
    return FALSE;
  o->url = g_strdup (u);
  const char *ca = ca_file ? ca_file : rd_config_get_string (config, "relay", "ca_file", NULL);
  o->ca_file = ca && *ca ? g_strdup (ca) : NULL;
  const char *user = rd_config_get_string (config, "relay", "username", NULL);
  o->username = user && *user ? g_strdup (user) : NULL;
  o->password = g_strdup (rd_config_get_string (config, "relay", "password", ""));
  const char *starttls = rd_config_get_string (config, "relay", "starttls", "required");
  if (!strcmp (starttls, "required"))
    o->starttls_required = TRUE;
  else if (!strcmp (starttls, "opportunistic"))
    o->starttls_required = FALSE;
  else
    {
      rd_smtp_client_options_clear (o);
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                   "[relay] starttls must be 'required' or 'opportunistic', not '%s'", starttls);
      return FALSE;
    }
  o->timeout = (guint) CLAMP (rd_config_get_int (config, "relay", "timeout", 30), 1, 3600);
  const char *src = rd_config_get_string (config, "relay", "source_address", NULL);
  o->source_address = src && *src ? g_strdup (src) : NULL;
  o->helo_name = g_strdup (rd_config_get_string (config, "relay", "helo_name", rd_config_get_hostname (config)));
  o->reuse_connection = rd_config_get_bool (config, "relay", "reuse_connection", TRUE);
  if (!rd_config_check_errors (config, error))
    {
      rd_smtp_client_options_clear (o);
      return FALSE;
    }
  return TRUE;
}

static gpointer
global_init (gpointer data)
{
  curl_global_init (CURL_GLOBAL_DEFAULT);
  return NULL;
}

static void
set_stage (RdSmtpClient *c, Stage s)
{
  c->stage = s;
  c->new_reply = TRUE;
}

/* Watches the dialogue: commands set the stage, reply lines are kept. */
static int
on_debug (CURL *handle, curl_infotype type, char *data, size_t size, void *userp)
{
  RdSmtpClient *c = userp;
  switch (type)
    {
    case CURLINFO_HEADER_OUT:
      if (size >= 4 && (!g_ascii_strncasecmp (data, "EHLO", 4) || !g_ascii_strncasecmp (data, "HELO", 4)))
        set_stage (c, STAGE_EHLO);
      else if (size >= 8 && !g_ascii_strncasecmp (data, "STARTTLS", 8))
        set_stage (c, STAGE_STARTTLS);
      else if (size >= 4 && !g_ascii_strncasecmp (data, "MAIL", 4))
        set_stage (c, STAGE_MAIL);
      else if (size >= 4 && !g_ascii_strncasecmp (data, "RCPT", 4))
        set_stage (c, STAGE_RCPT);
      else if (size >= 4 && !g_ascii_strncasecmp (data, "DATA", 4))
        set_stage (c, STAGE_DATA);
      else if (size >= 4 && !g_ascii_strncasecmp (data, "QUIT", 4))
        set_stage (c, STAGE_QUIT);
      else if ((size >= 4 && !g_ascii_strncasecmp (data, "AUTH", 4)) || c->stage == STAGE_AUTH)
        set_stage (c, STAGE_AUTH); /* AUTH and its continuation lines */
      else
        set_stage (c, c->stage);
      break;
    case CURLINFO_DATA_OUT:
      if (c->stage == STAGE_DATA || c->stage == STAGE_BODY)
        set_stage (c, STAGE_BODY);
      break;
    case CURLINFO_HEADER_IN:
      /* After a failure libcurl says QUIT: keep the reply that failed. */
      if (c->stage == STAGE_QUIT)
        break;
      if (c->new_reply)
        {
          g_string_truncate (c->reply, 0);
          c->new_reply = FALSE;
          c->reply_stage = c->stage;
        }
      gsize n = size;
      while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n'))
        n--;
      if (c->reply->len + n + 3 <= REPLY_MAX)
        {
          if (c->reply->len)
            g_string_append (c->reply, " / ");
          g_string_append_len (c->reply, data, (gssize) n);
        }
      break;
    default:
      break;
    }
  return 0;
}

static size_t
on_read (char *buf, size_t size, size_t nitems, void *userp)
{
  RdSmtpClient *c = userp;
  gsize n = MIN (size * nitems, c->body_len - c->body_pos);
  memcpy (buf, c->body + c->body_pos, n);
  c->body_pos += n;
  return n;
}

RdSmtpClient *
rd_smtp_client_new (const RdSmtpClientOptions *o, GError **error)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, global_init, NULL);
  g_autofree char *host = NULL;
  if (!rd_smtp_client_url_split (o->url, NULL, &host, NULL, error))
    return NULL;
  RdSmtpClient *c = g_new0 (RdSmtpClient, 1);
  c->o = *o;
  c->o.url = g_strdup (o->url);
  c->o.ca_file = g_strdup (o->ca_file);
  c->o.username = g_strdup (o->username);
  c->o.password = g_strdup (o->password);
  c->o.source_address = g_strdup (o->source_address);
  c->o.helo_name = g_strdup (o->helo_name);
  c->reply = g_string_sized_new (256);
  /* libcurl takes the EHLO name from the URL path (RFC 5321 4.1.1.1). */
  const char *after = strstr (o->url, "://") + 3;
  const char *slash = strchr (after, '/');
  if (slash == NULL || slash[1] == '\0')
    c->url = g_strdup_printf ("%.*s/%s", (int) (slash ? slash - o->url : (gssize) strlen (o->url)), o->url,
                              o->helo_name ? o->helo_name : "localhost");
  else
    c->url = g_strdup (o->url);
  return c;
}

static CURL *
make_handle (RdSmtpClient *c)
{
  CURL *h = curl_easy_init ();
  if (h == NULL)
    return NULL;
  curl_easy_setopt (h, CURLOPT_URL, c->url);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
  curl_easy_setopt (h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
  if (g_str_has_prefix (c->o.url, "smtp://"))
    curl_easy_setopt (h, CURLOPT_USE_SSL, (long) (c->o.starttls_required ? CURLUSESSL_ALL : CURLUSESSL_TRY));
  /* Verification stays on (the defaults); only the trust anchors change. */
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (c->o.ca_file)
    curl_easy_setopt (h, CURLOPT_CAINFO, c->o.ca_file);
  if (c->o.username)
    {
      curl_easy_setopt (h, CURLOPT_USERNAME, c->o.username);
      curl_easy_setopt (h, CURLOPT_PASSWORD, c->o.password ? c->o.password : "");
    }
  if (c->o.source_address)
    {
      g_autofree char *iface = g_strdup_printf ("host!%s", c->o.source_address);
      curl_easy_setopt (h, CURLOPT_INTERFACE, iface);
    }
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, (long) c->o.timeout);
  curl_easy_setopt (h, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long) c->o.timeout);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME, (long) c->o.timeout);
  if (!c->o.reuse_connection)
    curl_easy_setopt (h, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt (h, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt (h, CURLOPT_DEBUGFUNCTION, on_debug);
  curl_easy_setopt (h, CURLOPT_DEBUGDATA, c);
  curl_easy_setopt (h, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt (h, CURLOPT_READDATA, c);
  curl_easy_setopt (h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, c->errbuf);
  return h;
}

void
rd_smtp_client_close (RdSmtpClient *c)
{
  /* curl_easy_cleanup sends QUIT on the cached connection. */
  g_clear_pointer (&c->curl, curl_easy_cleanup);
}

void
rd_smtp_client_free (RdSmtpClient *c)
{
  if (c == NULL)
    return;
  rd_smtp_client_close (c);
  rd_smtp_client_options_clear (&c->o);
  g_free (c->url);
  g_string_free (c->reply, TRUE);
  g_free (c);
}

guint
rd_smtp_client_connections (RdSmtpClient *c)
{
  return c->connections;
}

/* A relay's refusal of us rather than of the message, even when it comes
 * as a 5xx to RCPT (Postfix evaluates client restrictions there by
 * default): failing every queued message at once would lose them all. */
static gboolean
reply_is_policy_refusal (guint code, const char *reply)
{
  if (code == 530 || code == 535 || code == 538)
    return TRUE;
  static const char *const marks[] = {
    "Client host rejected", "Relay access denied", "poor reputation", "not permitted to relay",
    "Authentication required", "Must issue a STARTTLS", NULL,
  };
  for (guint i = 0; marks[i]; i++)
    if (reply && strstr (reply, marks[i]))
      return TRUE;
  return FALSE;
}

static char *
find_queue_id (const char *reply)
{
  const char *p = reply ? strstr (reply, "queued as ") : NULL;
  if (p == NULL)
    return NULL;
  p += 10;
  gsize n = strspn (p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.<>@");
  return n > 0 && n < 128 ? g_strndup (p, n) : NULL;
}

void
rd_smtp_client_send (RdSmtpClient *c, const char *sender, const char *const *recipients,
                     GBytes *data, RdSmtpOutcome *out)
{
  memset (out, 0, sizeof *out);
  if (c->curl == NULL)
    c->curl = make_handle (c);
  if (c->curl == NULL)
    {
      out->status = RD_SMTP_TEMPFAIL;
      out->path_problem = TRUE;
      out->error = g_strdup ("libcurl could not create a handle");
      return;
    }
  struct curl_slist *rcpts = NULL;
  for (guint i = 0; recipients[i]; i++)
    rcpts = curl_slist_append (rcpts, recipients[i]);
  /* An empty MAIL_FROM makes libcurl send MAIL FROM:<> (the null path). */
  curl_easy_setopt (c->curl, CURLOPT_MAIL_FROM, sender ? sender : "");
  curl_easy_setopt (c->curl, CURLOPT_MAIL_RCPT, rcpts);
  c->body = g_bytes_get_data (data, &c->body_len);
  c->body_pos = 0;
  curl_easy_setopt (c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) c->body_len);
  c->stage = STAGE_CONNECT;
  c->reply_stage = STAGE_CONNECT;
  c->new_reply = TRUE;
  g_string_truncate (c->reply, 0);
  c->errbuf[0] = '\0';

  CURLcode res = curl_easy_perform (c->curl);

  long nconn = 0;
  if (curl_easy_getinfo (c->curl, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK && nconn > 0)
    c->connections += (guint) nconn;
  curl_easy_setopt (c->curl, CURLOPT_MAIL_RCPT, NULL);
  curl_slist_free_all (rcpts);
  c->body = NULL;

  out->reply = g_strdup (c->reply->str);
  out->code = c->reply->len >= 3 && g_ascii_isdigit (c->reply->str[0])
      ? (guint) g_ascii_strtoull (c->reply->str, NULL, 10) : 0;
  if (res == CURLE_OK)
    {
      out->status = RD_SMTP_OK;
      out->queue_id = find_queue_id (c->reply->str);
      return;
    }
  gboolean message_stage = c->reply_stage >= STAGE_MAIL && c->reply_stage <= STAGE_BODY && out->code >= 400;
  /* 421 is the relay closing the channel (RFC 5321 3.8: shutting down,
   * overloaded, too many errors), whatever command it answered: pausing
   * the queue is right, deferring row after row into it is not. */
  out->path_problem = !message_stage || out->code == 421 || reply_is_policy_refusal (out->code, c->reply->str);
  out->status = (!out->path_problem && out->code >= 500) ? RD_SMTP_PERMFAIL : RD_SMTP_TEMPFAIL;
  if (out->code >= 400)
    out->error = g_strdup_printf ("relay answered %u to %s: %s", out->code, stage_names[c->reply_stage], c->reply->str);
  else
    out->error = g_strdup_printf ("%s (%s)", curl_easy_strerror (res), c->errbuf[0] ? c->errbuf : "no detail");
  /* After a failure the session state is unknown: start afresh. */
  rd_smtp_client_close (c);
}
