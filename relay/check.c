/* relaydesk — relay: `relaydesk relay check` (relay.h).
 *
 * The steps a relay user otherwise does by hand with ping, telnet and
 * openssl s_client, each timed and explained: resolve, connect (from
 * which source address), TLS for smtps:// (RFC 8314), the greeting (and
 * the 554 of a relay that has not allowlisted us, RFC 5321 section 3.1),
 * EHLO and its extensions, STARTTLS (RFC 3207) with certificate and name
 * verification, AUTH PLAIN (RFC 4954, RFC 4616) when configured; then,
 * with --send-test, one real message through the libcurl client that the
 * outbox uses, reporting the relay's queue id. With [dkim] configured,
 * first whether the DNS record at SELECTOR._domainkey.DOMAIN carries the
 * public key of key_file (the resolver of [auth] dns_server).
 *
 * A hand-written client is used for the steps because libcurl does not
 * expose the greeting, the EHLO lines or the TLS details.
 */
#include "relay.h"
#include "smtp-client.h"
#include "rd-common.h"
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define LINE_MAX_LEN 1000  /* RFC 5321 4.5.3.1.5: 512 for replies; lenient */
#define REPLY_LINES_MAX 100

typedef struct {
  FILE *out;
  gboolean all_ok;
  gint64 t0;
} Report;

static void
step_begin (Report *r)
{
  r->t0 = g_get_monotonic_time ();
}

static void
step_end (Report *r, gboolean ok, const char *name, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static void
step_end (Report *r, gboolean ok, const char *name, const char *fmt, ...)
{
  double ms = (double) (g_get_monotonic_time () - r->t0) / 1000.0;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (r->out, "%s %-10s %s (%.1f ms)\n", ok ? "✓" : "✗", name, text, ms);
  fflush (r->out);
  if (!ok)
    r->all_ok = FALSE;
}

static void
hint (Report *r, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
hint (Report *r, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (r->out, "  → %s\n", text);
}

typedef struct {
  int fd;
  SSL_CTX *ctx;
  SSL *ssl;
  char buf[4096];
  gsize len;
} Conn;

static void
conn_close (Conn *c)
{
  if (c->ssl)
    {
      SSL_shutdown (c->ssl);
      SSL_free (c->ssl);
    }
  if (c->ctx)
    SSL_CTX_free (c->ctx);
  if (c->fd >= 0)
    close (c->fd);
  c->ssl = NULL;
  c->ctx = NULL;
  c->fd = -1;
}

static gssize
conn_read (Conn *c, char *buf, gsize n)
{
  if (c->ssl)
    {
      int k = SSL_read (c->ssl, buf, (int) MIN (n, G_MAXINT));
      return k > 0 ? k : -1;
    }
  gssize k;
  do
    k = read (c->fd, buf, n);
  while (k < 0 && errno == EINTR);
  return k > 0 ? k : -1;
}

static gboolean
conn_write (Conn *c, const char *text)
{
  gsize n = strlen (text);
  if (c->ssl)
    return SSL_write (c->ssl, text, (int) n) == (int) n;
  while (n > 0)
    {
      gssize k = write (c->fd, text, n);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return FALSE;
      text += k;
      n -= (gsize) k;
    }
  return TRUE;
}

/* One reply line without its line end; NULL on timeout, close or an
 * over-long line. (transfer full) */
static char *
conn_line (Conn *c)
{
  for (;;)
    {
      char *nl = memchr (c->buf, '\n', c->len);
      if (nl)
        {
          gsize n = (gsize) (nl - c->buf);
          char *line = g_strndup (c->buf, n > 0 && c->buf[n - 1] == '\r' ? n - 1 : n);
          memmove (c->buf, nl + 1, c->len - n - 1);
          c->len -= n + 1;
          return line;
        }
      if (c->len >= LINE_MAX_LEN)
        return NULL;
      gssize k = conn_read (c, c->buf + c->len, sizeof c->buf - c->len);
      if (k <= 0)
        return NULL;
      c->len += (gsize) k;
    }
}

/* A complete (multi-line) reply: its code, its lines. */
static guint
conn_reply (Conn *c, GPtrArray *lines)
{
  g_ptr_array_set_size (lines, 0);
  for (guint i = 0; i < REPLY_LINES_MAX; i++)
    {
      char *line = conn_line (c);
      if (line == NULL)
        return 0;
      g_ptr_array_add (lines, line);
      if (strlen (line) < 3 || !g_ascii_isdigit (line[0]))
        return 0;
      if (line[3] != '-')
        return (guint) g_ascii_strtoull (line, NULL, 10);
    }
  return 0;
}

static char *
join_reply (GPtrArray *lines)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < lines->len; i++)
    {
      if (i)
        g_string_append (s, " / ");
      g_autofree char *esc = rd_log_escape (g_ptr_array_index (lines, i), -1, 200);
      /* strip the quotes rd_log_escape adds */
      g_string_append_len (s, esc + 1, (gssize) strlen (esc) - 2);
    }
  return g_string_free (s, FALSE);
}

static const char *
addr_text (const struct sockaddr *sa, char *buf, gsize n)
{
  const void *a = sa->sa_family == AF_INET6 ? (const void *) &((const struct sockaddr_in6 *) sa)->sin6_addr
                                            : (const void *) &((const struct sockaddr_in *) sa)->sin_addr;
  return inet_ntop (sa->sa_family, a, buf, (socklen_t) n) ? buf : "?";
}

static int
connect_timeout (const struct addrinfo *ai, const char *source, guint timeout, int *err)
{
  int fd = socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0)
    {
      *err = errno;
      return -1;
    }
  if (source)
    {
      struct addrinfo hints = { .ai_family = ai->ai_family, .ai_flags = AI_NUMERICHOST };
      struct addrinfo *src = NULL;
      if (getaddrinfo (source, NULL, &hints, &src) != 0 || bind (fd, src->ai_addr, src->ai_addrlen) != 0)
        {
          *err = errno ? errno : EADDRNOTAVAIL;
          if (src)
            freeaddrinfo (src);
          close (fd);
          return -1;
        }
      freeaddrinfo (src);
    }
  int flags = fcntl (fd, F_GETFL);
  fcntl (fd, F_SETFL, flags | O_NONBLOCK);
  int rc = connect (fd, ai->ai_addr, ai->ai_addrlen);
  if (rc != 0 && errno == EINPROGRESS)
    {
      struct pollfd p = { .fd = fd, .events = POLLOUT };
      rc = poll (&p, 1, (int) timeout * 1000);
      if (rc == 0)
        {
          *err = ETIMEDOUT;
          close (fd);
          return -1;
        }
      socklen_t sl = sizeof *err;
      *err = 0;
      getsockopt (fd, SOL_SOCKET, SO_ERROR, err, &sl);
      rc = *err ? -1 : 0;
    }
  else if (rc != 0)
    *err = errno;
  if (rc != 0)
    {
      close (fd);
      return -1;
    }
  fcntl (fd, F_SETFL, flags);
  struct timeval tv = { .tv_sec = timeout };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

static gboolean
tls_handshake (Report *r, Conn *c, const char *host, const char *ca_file)
{
  step_begin (r);
  c->ctx = SSL_CTX_new (TLS_client_method ());
  SSL_CTX_set_min_proto_version (c->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify (c->ctx, SSL_VERIFY_PEER, NULL);
  if (ca_file ? SSL_CTX_load_verify_locations (c->ctx, ca_file, NULL) != 1
              : SSL_CTX_set_default_verify_paths (c->ctx) != 1)
    {
      step_end (r, FALSE, "TLS", "cannot load the CA file %s", ca_file ? ca_file : "(system store)");
      hint (r, "check [relay] ca_file / --relay-ca: a PEM file with the CA that signed the relay's certificate");
      ERR_clear_error ();
      return FALSE;
    }
  c->ssl = SSL_new (c->ctx);
  SSL_set_fd (c->ssl, c->fd);
  struct in6_addr a6;
  struct in_addr a4;
  gboolean is_ip = inet_pton (AF_INET, host, &a4) == 1 || inet_pton (AF_INET6, host, &a6) == 1;
  if (is_ip)
    X509_VERIFY_PARAM_set1_ip_asc (SSL_get0_param (c->ssl), host);
  else
    {
      SSL_set_tlsext_host_name (c->ssl, host);
      SSL_set1_host (c->ssl, host);
    }
  /* Bytes already buffered before STARTTLS would be a protocol error. */
  c->len = 0;
  if (SSL_connect (c->ssl) != 1)
    {
      long v = SSL_get_verify_result (c->ssl);
      char ebuf[256];
      ERR_error_string_n (ERR_get_error (), ebuf, sizeof ebuf);
      if (v != X509_V_OK)
        {
          step_end (r, FALSE, "TLS", "certificate verification failed: %s", X509_verify_cert_error_string (v));
          hint (r, "the relay's certificate must be valid for '%s' and signed by a CA in %s", host,
                ca_file ? ca_file : "the system store (or give --relay-ca / [relay] ca_file)");
        }
      else
        step_end (r, FALSE, "TLS", "handshake failed: %s", ebuf);
      ERR_clear_error ();
      SSL_free (c->ssl);
      c->ssl = NULL;
      return FALSE;
    }
  X509 *peer = SSL_get1_peer_certificate (c->ssl);
  char subject[256] = "?";
  if (peer)
    {
      X509_NAME_get_text_by_NID (X509_get_subject_name (peer), NID_commonName, subject, sizeof subject);
      X509_free (peer);
    }
  step_end (r, TRUE, "TLS", "%s %s, certificate CN=%s verified for %s", SSL_get_version (c->ssl),
            SSL_get_cipher_name (c->ssl), subject, host);
  return TRUE;
}

static gboolean
do_ehlo (Report *r, Conn *c, const char *helo, GPtrArray *lines, gboolean *starttls, char **auth)
{
  step_begin (r);
  g_autofree char *cmd = g_strdup_printf ("EHLO %s\r\n", helo);
  guint code = conn_write (c, cmd) ? conn_reply (c, lines) : 0;
  g_autofree char *text = join_reply (lines);
  if (code != 250)
    {
      step_end (r, FALSE, "EHLO", "%s", code ? text : "no answer (timeout or connection closed)");
      return FALSE;
    }
  GString *caps = g_string_new (NULL);
  *starttls = FALSE;
  for (guint i = 1; i < lines->len; i++)
    {
      const char *cap = (const char *) g_ptr_array_index (lines, i) + 4;
      if (caps->len)
        g_string_append (caps, ", ");
      g_string_append (caps, cap);
      if (!g_ascii_strcasecmp (cap, "STARTTLS"))
        *starttls = TRUE;
      if (auth && !g_ascii_strncasecmp (cap, "AUTH ", 5))
        {
          g_free (*auth);
          *auth = g_strdup (cap + 5);
        }
    }
  step_end (r, TRUE, "EHLO", "%s", caps->len ? caps->str : "(no extensions)");
  g_string_free (caps, TRUE);
  return TRUE;
}

static void
send_test (Report *r, RdConfig *config, const char *url, const char *ca_file, const char *to, const char *from)
{
  step_begin (r);
  RdSmtpClientOptions o;
  g_autoptr(GError) error = NULL;
  if (!rd_smtp_client_options_load (config, url, ca_file, &o, &error))
    {
      step_end (r, FALSE, "send-test", "%s", error->message);
      return;
    }
  g_autoptr(RdSmtpClient) client = rd_smtp_client_new (&o, &error);
  rd_smtp_client_options_clear (&o);
  if (client == NULL)
    {
      step_end (r, FALSE, "send-test", "%s", error->message);
      return;
    }
  g_autofree char *sender = from ? g_strdup (from)
      : g_strdup_printf ("relaydesk@%s", rd_config_get_hostname (config));
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *date = g_date_time_format (now, "%a, %d %b %Y %H:%M:%S %z");
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *msg = g_strdup_printf (
      "From: relaydesk <%s>\r\nTo: <%s>\r\nSubject: relaydesk relay check\r\nDate: %s\r\n"
      "Message-ID: <%s.relaycheck@%s>\r\nAuto-Submitted: auto-generated\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
      "This is a test message sent by 'relaydesk relay check --send-test'.\r\n",
      sender, to, date, uuid, rd_config_get_hostname (config));
  g_autoptr(GBytes) data = g_bytes_new_take (g_steal_pointer (&msg), strlen (msg));
  const char *rcpts[] = { to, NULL };
  RdSmtpOutcome out;
  rd_smtp_client_send (client, sender, rcpts, data, &out);
  if (out.status == RD_SMTP_OK)
    step_end (r, TRUE, "send-test", "relay accepted the test message to %s: queue id %s (reply: %s)", to,
              out.queue_id ? out.queue_id : "(none given)", out.reply);
  else
    step_end (r, FALSE, "send-test", "%s", out.error);
  rd_smtp_outcome_clear (&out);
}

/* [dkim]: the signer loads, and the published record matches its key. */
static void
check_dkim (Report *r, RdConfig *config)
{
  const char *key_file = rd_config_get_string (config, "dkim", "key_file", NULL);
  if (key_file == NULL)
    return;
  const char *sel = rd_config_get_string (config, "dkim", "selector", NULL);
  const char *dom = rd_config_get_string (config, "dkim", "domain", NULL);
  step_begin (r);
  g_autoptr(GError) error = NULL;
  g_autoptr(RdDkimSigner) signer = rd_dkim_signer_new (config, &error);
  if (signer == NULL)
    {
      step_end (r, FALSE, "dkim", "[dkim] %s", error ? error->message : "not usable");
      return;
    }
  g_autofree char *name = g_strdup_printf ("%s._domainkey.%s", sel, dom);
  g_autoptr(RdDns) dns = rd_dns_new_from_config (config, &error);
  g_autoptr(GPtrArray) recs = NULL;
  RdDnsStatus st = dns ? rd_dns_txt (dns, name, &recs) : RD_DNS_TEMPFAIL;
  if (st != RD_DNS_OK || recs->len == 0)
    {
      step_end (r, FALSE, "dkim", "%s: no TXT record (%s)", name, rd_dns_status_to_string (st));
      g_autofree char *want = rd_dkim_record_for_key (key_file, NULL);
      g_autofree char *line = want ? rd_dkim_zone_line (sel, dom, want) : NULL;
      if (line)
        hint (r, "publish: %s", line);
      return;
    }
  g_autoptr(GError) cerr = NULL;
  if (!rd_dkim_check_record (g_ptr_array_index (recs, 0), key_file, &cerr))
    {
      step_end (r, FALSE, "dkim", "%s: %s", name, cerr->message);
      hint (r, "relaydesk dkim keygen prints the record of a new key; publish the one of [dkim] key_file");
      return;
    }
  step_end (r, TRUE, "dkim", "%s matches %s (%s)", name, key_file, rd_dkim_signer_algorithm (signer));
}

gboolean
rd_relay_check_run (RdConfig *config, const char *url, const char *ca_file, const char *send_to,
                    const char *send_from, FILE *out)
{
  Report r = { .out = out, .all_ok = TRUE };
  RdSmtpClientOptions o;
  g_autoptr(GError) error = NULL;
  step_begin (&r);
  if (!rd_smtp_client_options_load (config, url, ca_file, &o, &error))
    {
      step_end (&r, FALSE, "config", "%s", error->message);
      return FALSE;
    }
  check_dkim (&r, config);
  gboolean implicit = FALSE;
  g_autofree char *host = NULL;
  guint16 port = 0;
  rd_smtp_client_url_split (o.url, &implicit, &host, &port, NULL);
  fprintf (out, "relay %s (%s)\n", o.url,
           implicit ? "implicit TLS" : o.starttls_required ? "STARTTLS required" : "STARTTLS opportunistic");

  /* 1. resolve */
  step_begin (&r);
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
  struct addrinfo *res = NULL;
  g_autofree char *portstr = g_strdup_printf ("%u", port);
  int gai = getaddrinfo (host, portstr, &hints, &res);
  if (gai != 0)
    {
      step_end (&r, FALSE, "resolve", "%s: %s", host, gai_strerror (gai));
      hint (&r, "check the host name in [relay] url / --relay and this host's DNS (/etc/resolv.conf)");
      rd_smtp_client_options_clear (&o);
      return FALSE;
    }
  GString *addrs = g_string_new (NULL);
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
    {
      char b[INET6_ADDRSTRLEN];
      g_string_append_printf (addrs, "%s%s", addrs->len ? ", " : "", addr_text (ai->ai_addr, b, sizeof b));
    }
  step_end (&r, TRUE, "resolve", "%s → %s", host, addrs->str);
  g_string_free (addrs, TRUE);

  /* 2. connect */
  Conn c = { .fd = -1 };
  step_begin (&r);
  int err = 0;
  char peer[INET6_ADDRSTRLEN] = "?";
  for (struct addrinfo *ai = res; ai && c.fd < 0; ai = ai->ai_next)
    {
      c.fd = connect_timeout (ai, o.source_address, o.timeout, &err);
      addr_text (ai->ai_addr, peer, sizeof peer);
    }
  freeaddrinfo (res);
  if (c.fd < 0)
    {
      step_end (&r, FALSE, "connect", "TCP port %u on %s: %s", port, host, g_strerror (err));
      if (err == ECONNREFUSED)
        hint (&r, "nothing listens on port %u: is the relay running, and is %u the right port (25 for smtp://, 465 for smtps://)?", port, port);
      else
        hint (&r, "no answer within %u s: a firewall rule allowing outbound TCP port %u from this host to %s may be missing", o.timeout, port, host);
      rd_smtp_client_options_clear (&o);
      return FALSE;
    }
  struct sockaddr_storage local;
  socklen_t ll = sizeof local;
  char source[INET6_ADDRSTRLEN] = "?";
  if (getsockname (c.fd, (struct sockaddr *) &local, &ll) == 0)
    addr_text ((struct sockaddr *) &local, source, sizeof source);
  step_end (&r, TRUE, "connect", "%s port %u from source address %s", peer, port, source);

  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;
  if (implicit)
    ok = tls_handshake (&r, &c, host, o.ca_file);

  /* 3. greeting */
  if (ok)
    {
      step_begin (&r);
      guint code = conn_reply (&c, lines);
      g_autofree char *text = join_reply (lines);
      if (code == 220)
        step_end (&r, TRUE, "banner", "%s", text);
      else if (code == 554 || (code >= 500 && code < 600))
        {
          step_end (&r, FALSE, "banner", "%s", text);
          hint (&r, "the relay refused this connection at once: it has not allowlisted our source address %s.", source);
          hint (&r, "ask the relay's operator to allow %s to relay, or set [relay] source_address to an allowlisted address of this host.", source);
          ok = FALSE;
        }
      else
        {
          step_end (&r, FALSE, "banner", "%s", code ? text : "no greeting (timeout or connection closed)");
          ok = FALSE;
        }
    }

  /* 4. EHLO, STARTTLS, EHLO again */
  gboolean starttls = FALSE;
  g_autofree char *auth = NULL;
  if (ok)
    ok = do_ehlo (&r, &c, o.helo_name, lines, &starttls, &auth);
  if (ok && !implicit)
    {
      if (starttls)
        {
          step_begin (&r);
          guint code = conn_write (&c, "STARTTLS\r\n") ? conn_reply (&c, lines) : 0;
          g_autofree char *text = join_reply (lines);
          if (code != 220)
            {
              step_end (&r, FALSE, "STARTTLS", "%s", code ? text : "no answer");
              ok = FALSE;
            }
          else
            {
              step_end (&r, TRUE, "STARTTLS", "%s", text);
              ok = tls_handshake (&r, &c, host, o.ca_file);
              if (ok)
                {
                  g_clear_pointer (&auth, g_free);
                  ok = do_ehlo (&r, &c, o.helo_name, lines, &starttls, &auth);
                }
            }
        }
      else
        {
          step_begin (&r);
          if (o.starttls_required)
            {
              step_end (&r, FALSE, "STARTTLS", "not offered by the relay, and [relay] starttls = required");
              hint (&r, "use smtps:// (port 465), enable STARTTLS on the relay, or set starttls = opportunistic to send unencrypted");
              ok = FALSE;
            }
          else
            step_end (&r, TRUE, "STARTTLS", "not offered: mail goes unencrypted (starttls = opportunistic)");
        }
    }

  /* 5. AUTH */
  if (ok && o.username)
    {
      step_begin (&r);
      if (auth == NULL || !strstr (auth, "PLAIN"))
        {
          step_end (&r, FALSE, "AUTH", "the relay offers no AUTH PLAIN (offers: %s)", auth ? auth : "none");
          ok = FALSE;
        }
      else
        {
          /* RFC 4616: authzid NUL authcid NUL passwd */
          gsize ul = strlen (o.username), pl = strlen (o.password ? o.password : "");
          g_autofree char *plain = g_malloc (ul + pl + 2);
          plain[0] = '\0';
          memcpy (plain + 1, o.username, ul);
          plain[ul + 1] = '\0';
          memcpy (plain + ul + 2, o.password ? o.password : "", pl);
          g_autofree char *b64 = g_base64_encode ((const guchar *) plain, ul + pl + 2);
          memset (plain, 0, ul + pl + 2);
          g_autofree char *cmd = g_strdup_printf ("AUTH PLAIN %s\r\n", b64);
          guint code = conn_write (&c, cmd) ? conn_reply (&c, lines) : 0;
          g_autofree char *text = join_reply (lines);
          if (code == 235)
            step_end (&r, TRUE, "AUTH", "PLAIN as %s: %s", o.username, text);
          else
            {
              step_end (&r, FALSE, "AUTH", "PLAIN as %s: %s", o.username, code ? text : "no answer");
              hint (&r, "check [relay] username and password");
              ok = FALSE;
            }
        }
    }
  if (c.fd >= 0 && c.len == 0)
    {
      if (conn_write (&c, "QUIT\r\n"))
        conn_reply (&c, lines);
    }
  conn_close (&c);
  rd_smtp_client_options_clear (&o);

  if (ok && send_to)
    send_test (&r, config, url, ca_file, send_to, send_from);
  fprintf (out, "%s\n", r.all_ok ? "relay check passed" : "relay check FAILED");
  return r.all_ok;
}
