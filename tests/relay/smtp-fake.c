/* relaydesk tests — the scriptable SMTP server (smtp-fake.h). */
#include "smtp-fake.h"

#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define LINE_MAX_BYTES (1024 * 1024)
#define WAIT_LIMIT_US (10 * G_USEC_PER_SEC)

typedef struct {
  FakeAction action;
  char *reply;
} Step;

struct _FakeSmtp {
  FakeTls tls;
  SSL_CTX *ssl_ctx;        /* NULL for FAKE_TLS_NONE */
  char *tmp_dir;           /* holds ca_file */
  char *ca_file;
  GSocket *listener;
  guint16 port;
  GCancellable *cancel;
  GThread *thread;
  GMutex lock;
  GCond cond;
  GHashTable *script;      /* event -> GQueue of Step* */
  GPtrArray *transcripts;  /* GString*, one per connection */
  guint closed;
  char *hold_event;        /* stop before answering this event ... */
  gboolean holding;        /* ... (stopped there now) */
  gboolean stopping;
};

/* One connection being served. */
typedef struct {
  FakeSmtp *fs;
  GSocket *sock;
  GString *in;             /* received, not yet taken as lines */
  SSL *ssl;                /* once TLS is on */
  guint index;             /* into fs->transcripts */
} Conn;

static const struct {
  const char *event;
  FakeAction action;
  const char *reply;
} defaults[] = {
  { "CONNECT", FAKE_REPLY, "220 fake.test ESMTP" },
  { "EHLO", FAKE_REPLY, "250-fake.test\n250 8BITMIME" },
  { "HELO", FAKE_REPLY, "250 fake.test" },
  { "MAIL", FAKE_REPLY, "250 2.1.0 Ok" },
  { "RCPT", FAKE_REPLY, "250 2.1.5 Ok" },
  { "DATA", FAKE_REPLY, "354 End data with <CR><LF>.<CR><LF>" },
  { "BODY", FAKE_REPLY, NULL },
  { ".", FAKE_REPLY, "250 2.0.0 Ok" },
  { "AUTH", FAKE_REPLY, "334 " },
  { "AUTH-LINE", FAKE_REPLY, "235 2.7.0 Authentication successful" },
  { "STARTTLS", FAKE_REPLY, "454 4.7.0 TLS not available due to local problem" },
  { "RSET", FAKE_REPLY, "250 2.0.0 Ok" },
  { "NOOP", FAKE_REPLY, "250 2.0.0 Ok" },
  { "QUIT", FAKE_REPLY_CLOSE, "221 2.0.0 Bye" },
  { "OTHER", FAKE_REPLY, "502 5.5.2 Error: command not recognized" },
};

static void
step_free (gpointer p)
{
  Step *s = p;
  g_free (s->reply);
  g_free (s);
}

static void
queue_free (gpointer p)
{
  g_queue_free_full (p, step_free);
}

static void
gstring_free (gpointer p)
{
  g_string_free (p, TRUE);
}

/* fake_smtp_hold(): waits before answering @event until released. */
static void
maybe_hold (FakeSmtp *fs, const char *event)
{
  g_mutex_lock (&fs->lock);
  if (fs->hold_event && !strcmp (fs->hold_event, event))
    {
      fs->holding = TRUE;
      g_cond_broadcast (&fs->cond);
      while (fs->hold_event && !fs->stopping)
        g_cond_wait (&fs->cond, &fs->lock);
      fs->holding = FALSE;
    }
  g_mutex_unlock (&fs->lock);
}

/* The step for @event: the next queued one, else the default. A STARTTLS
 * server offers and accepts STARTTLS until TLS is on (RFC 3207). */
static Step *
next_step (Conn *c, const char *event)
{
  FakeSmtp *fs = c->fs;
  g_mutex_lock (&fs->lock);
  GQueue *q = g_hash_table_lookup (fs->script, event);
  Step *s = q ? g_queue_pop_head (q) : NULL;
  g_mutex_unlock (&fs->lock);
  if (s)
    return s;
  if (fs->tls == FAKE_TLS_STARTTLS && c->ssl == NULL
      && (!strcmp (event, "EHLO") || !strcmp (event, "STARTTLS")))
    {
      s = g_new0 (Step, 1);
      s->reply = g_strdup (!strcmp (event, "EHLO") ? "250-fake.test\n250-STARTTLS\n250 8BITMIME"
                                                   : "220 2.0.0 Ready to start TLS");
      return s;
    }
  for (guint i = 0; i < G_N_ELEMENTS (defaults); i++)
    if (!strcmp (defaults[i].event, event))
      {
        s = g_new0 (Step, 1);
        s->action = defaults[i].action;
        s->reply = g_strdup (defaults[i].reply);
        return s;
      }
  g_assert_not_reached ();
}

static void
record (Conn *c, const char *data, gsize len)
{
  g_mutex_lock (&c->fs->lock);
  g_string_append_len (g_ptr_array_index (c->fs->transcripts, c->index), data, (gssize) len);
  g_mutex_unlock (&c->fs->lock);
}

/* Waits for what OpenSSL wants after @rc; FALSE when it is an error. */
static gboolean
ssl_wait (Conn *c, int rc)
{
  int e = SSL_get_error (c->ssl, rc);
  if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
    return FALSE;
  return g_socket_condition_wait (c->sock, e == SSL_ERROR_WANT_READ ? G_IO_IN : G_IO_OUT, c->fs->cancel, NULL);
}

/* Reads into @buf (@out FALSE) or writes it (@out TRUE), in clear or
 * through TLS; what was moved, or <= 0 at the end. */
static gssize
conn_io (Conn *c, gboolean out, char *buf, gsize len)
{
  if (c->ssl == NULL)
    return out ? g_socket_send (c->sock, buf, len, c->fs->cancel, NULL)
               : g_socket_receive (c->sock, buf, len, c->fs->cancel, NULL);
  for (;;)
    {
      int n = out ? SSL_write (c->ssl, buf, (int) len) : SSL_read (c->ssl, buf, (int) len);
      if (n > 0)
        return n;
      if (!ssl_wait (c, n))
        return -1;
    }
}

/* The TLS handshake as the server; FALSE when it failed (the client did
 * not trust us, say). */
static gboolean
start_tls (Conn *c)
{
  c->ssl = SSL_new (c->fs->ssl_ctx);
  SSL_set_fd (c->ssl, g_socket_get_fd (c->sock));
  for (;;)
    {
      int rc = SSL_accept (c->ssl);
      if (rc == 1)
        return TRUE;
      if (!ssl_wait (c, rc))
        {
          ERR_clear_error ();
          return FALSE;
        }
    }
}

/* The next line with its line end, recorded; NULL at the end of the
 * connection (or when the server stops). (transfer full) */
static char *
read_line (Conn *c)
{
  for (;;)
    {
      const char *nl = memchr (c->in->str, '\n', c->in->len);
      if (nl)
        {
          gsize n = (gsize) (nl - c->in->str) + 1;
          char *line = g_strndup (c->in->str, n);
          g_string_erase (c->in, 0, (gssize) n);
          record (c, line, n);
          return line;
        }
      char buf[4096];
      gssize got = c->in->len < LINE_MAX_BYTES
          ? conn_io (c, FALSE, buf, sizeof buf) : -1;
      if (got <= 0)
        {
          record (c, c->in->str, c->in->len);
          g_string_truncate (c->in, 0);
          return NULL;
        }
      g_string_append_len (c->in, buf, got);
    }
}

static void
send_all (Conn *c, char *data, gsize len)
{
  while (len > 0)
    {
      gssize n = conn_io (c, TRUE, data, len);
      if (n <= 0)
        return;
      data += n;
      len -= (gsize) n;
    }
}

/* Closes our side and waits until the client's kernel has acknowledged
 * the FIN: from then on the client finds the connection closed. */
static void
close_and_wait (Conn *c)
{
  if (c->ssl)
    SSL_shutdown (c->ssl); /* close_notify; not waiting for the client's */
  g_socket_shutdown (c->sock, FALSE, TRUE, NULL);
  int fd = g_socket_get_fd (c->sock);
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_US / 2;
  while (g_get_monotonic_time () < deadline && !g_cancellable_is_cancelled (c->fs->cancel))
    {
      struct tcp_info ti;
      socklen_t len = sizeof ti;
      if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        break;
      if (ti.tcpi_state != TCP_ESTABLISHED && ti.tcpi_state != TCP_FIN_WAIT1
          && ti.tcpi_state != TCP_CLOSE_WAIT && ti.tcpi_state != TCP_LAST_ACK
          && ti.tcpi_state != TCP_CLOSING)
        break;
      g_usleep (1000);
    }
}

/* Reads and keeps whatever comes until the client closes. */
static void
hang (Conn *c)
{
  for (;;)
    {
      g_autofree char *line = read_line (c);
      if (line == NULL)
        return;
    }
}

/* Answers @event as scripted. Returns the reply code (0 when none), or -1
 * when the connection is over. */
static int
answer (Conn *c, const char *event)
{
  maybe_hold (c->fs, event);
  Step *s = next_step (c, event);
  int code = s->reply ? atoi (s->reply) : 0;
  if (s->reply && (s->action == FAKE_REPLY || s->action == FAKE_REPLY_CLOSE))
    {
      g_auto(GStrv) lines = g_strsplit (s->reply, "\n", -1);
      g_autofree char *joined = g_strjoinv ("\r\n", lines);
      g_autofree char *wire = g_strconcat (joined, "\r\n", NULL);
      send_all (c, wire, strlen (wire));
    }
  FakeAction action = s->action;
  step_free (s);
  switch (action)
    {
    case FAKE_REPLY:
      return code;
    case FAKE_REPLY_CLOSE:
    case FAKE_CLOSE:
      close_and_wait (c);
      return -1;
    case FAKE_HANG:
      hang (c);
      return -1;
    }
  return -1;
}

static const char *
event_of (const char *line)
{
  static const char *const verbs[] = { "EHLO", "HELO", "MAIL", "RCPT", "DATA", "AUTH", "STARTTLS",
                                       "RSET", "NOOP", "QUIT", NULL };
  gsize n = strcspn (line, " :\r\n");
  for (guint i = 0; verbs[i]; i++)
    if (n == strlen (verbs[i]) && !g_ascii_strncasecmp (line, verbs[i], n))
      return verbs[i];
  return "OTHER";
}

static void
serve_connection (Conn *c)
{
  if (c->fs->tls == FAKE_TLS_IMPLICIT && !start_tls (c))
    return;
  if (answer (c, "CONNECT") < 0)
    return;
  gboolean in_data = FALSE, first_line = FALSE, in_auth = FALSE;
  for (;;)
    {
      g_autofree char *line = read_line (c);
      if (line == NULL)
        return;
      if (in_auth)
        {
          /* a SASL response line (RFC 4954 4) */
          int code = answer (c, "AUTH-LINE");
          if (code < 0)
            return;
          in_auth = code == 334;
          continue;
        }
      if (in_data)
        {
          if (first_line)
            {
              first_line = FALSE;
              if (answer (c, "BODY") < 0)
                return;
            }
          if (!strcmp (line, ".\r\n"))
            {
              in_data = FALSE;
              if (answer (c, ".") < 0)
                return;
            }
          continue;
        }
      const char *event = event_of (line);
      int code = answer (c, event);
      if (code < 0)
        return;
      if (!strcmp (event, "DATA") && code == 354)
        in_data = first_line = TRUE;
      in_auth = !strcmp (event, "AUTH") && code == 334;
      if (!strcmp (event, "STARTTLS") && code == 220 && c->ssl == NULL)
        {
          /* RFC 3207 4.2: the session starts over, nothing kept */
          g_string_truncate (c->in, 0);
          if (c->fs->ssl_ctx == NULL || !start_tls (c))
            return;
        }
    }
}

static gpointer
serve (gpointer data)
{
  FakeSmtp *fs = data;
  for (;;)
    {
      g_autoptr(GSocket) sock = g_socket_accept (fs->listener, fs->cancel, NULL);
      if (sock == NULL)
        return NULL;
      Conn c = { .fs = fs, .sock = sock, .in = g_string_new (NULL) };
      g_mutex_lock (&fs->lock);
      c.index = fs->transcripts->len;
      g_ptr_array_add (fs->transcripts, g_string_new (NULL));
      g_mutex_unlock (&fs->lock);
      serve_connection (&c);
      g_clear_pointer (&c.ssl, SSL_free);
      g_socket_close (sock, NULL);
      g_string_free (c.in, TRUE);
      g_mutex_lock (&fs->lock);
      fs->closed++;
      g_cond_broadcast (&fs->cond);
      g_mutex_unlock (&fs->lock);
    }
}

/* A TCP socket bound to 127.0.0.1 on an ephemeral port. */
static GSocket *
bind_loopback (guint16 *port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (sock, addr, FALSE, &error));
  g_assert_no_error (error);
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  return g_steal_pointer (&sock);
}

/* A self-signed certificate for 127.0.0.1 (subjectAltName IP, which is
 * what curl checks for an IP URL), valid for a day. */
static void
make_certificate (FakeSmtp *fs)
{
  EVP_PKEY *key = EVP_EC_gen ("P-256");
  g_assert_nonnull (key);
  X509 *x = X509_new ();
  X509_set_version (x, 2);
  ASN1_INTEGER_set (X509_get_serialNumber (x), (long) g_random_int_range (1, G_MAXINT32));
  X509_gmtime_adj (X509_getm_notBefore (x), -3600);
  X509_gmtime_adj (X509_getm_notAfter (x), 86400);
  X509_set_pubkey (x, key);
  X509_NAME *name = X509_get_subject_name (x);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const unsigned char *) "fake.test", -1, -1, 0);
  X509_set_issuer_name (x, name);
  static const struct { int nid; const char *value; } exts[] = {
    { NID_basic_constraints, "critical,CA:TRUE" },
    { NID_subject_key_identifier, "hash" },
    { NID_subject_alt_name, "IP:127.0.0.1" },
  };
  X509V3_CTX v3;
  X509V3_set_ctx_nodb (&v3);
  X509V3_set_ctx (&v3, x, x, NULL, NULL, 0);
  for (guint i = 0; i < G_N_ELEMENTS (exts); i++)
    {
      X509_EXTENSION *ext = X509V3_EXT_conf_nid (NULL, &v3, exts[i].nid, exts[i].value);
      g_assert_nonnull (ext);
      X509_add_ext (x, ext, -1);
      X509_EXTENSION_free (ext);
    }
  g_assert_cmpint (X509_sign (x, key, EVP_sha256 ()), >, 0);

  fs->ssl_ctx = SSL_CTX_new (TLS_server_method ());
  g_assert_cmpint (SSL_CTX_use_certificate (fs->ssl_ctx, x), ==, 1);
  g_assert_cmpint (SSL_CTX_use_PrivateKey (fs->ssl_ctx, key), ==, 1);

  g_autoptr(GError) error = NULL;
  fs->tmp_dir = g_dir_make_tmp ("rd-fake-smtp-XXXXXX", &error);
  g_assert_no_error (error);
  fs->ca_file = g_build_filename (fs->tmp_dir, "ca.pem", NULL);
  FILE *fp = fopen (fs->ca_file, "w");
  g_assert_nonnull (fp);
  g_assert_cmpint (PEM_write_X509 (fp, x), ==, 1);
  fclose (fp);
  X509_free (x);
  EVP_PKEY_free (key);
}

FakeSmtp *
fake_smtp_new (void)
{
  return fake_smtp_new_tls (FAKE_TLS_NONE);
}

FakeSmtp *
fake_smtp_new_tls (FakeTls tls)
{
  FakeSmtp *fs = g_new0 (FakeSmtp, 1);
  fs->tls = tls;
  if (tls != FAKE_TLS_NONE)
    make_certificate (fs);
  g_mutex_init (&fs->lock);
  g_cond_init (&fs->cond);
  fs->script = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, queue_free);
  fs->transcripts = g_ptr_array_new_with_free_func (gstring_free);
  fs->cancel = g_cancellable_new ();
  fs->listener = bind_loopback (&fs->port);
  g_autoptr(GError) error = NULL;
  g_assert_true (g_socket_listen (fs->listener, &error));
  g_assert_no_error (error);
  fs->thread = g_thread_new ("fake-smtp", serve, fs);
  return fs;
}

void
fake_smtp_free (FakeSmtp *fs)
{
  if (fs == NULL)
    return;
  g_mutex_lock (&fs->lock);
  fs->stopping = TRUE;
  g_cond_broadcast (&fs->cond);
  g_mutex_unlock (&fs->lock);
  g_cancellable_cancel (fs->cancel);
  g_thread_join (fs->thread);
  g_socket_close (fs->listener, NULL);
  g_object_unref (fs->listener);
  g_object_unref (fs->cancel);
  g_hash_table_unref (fs->script);
  g_ptr_array_unref (fs->transcripts);
  g_free (fs->hold_event);
  if (fs->ssl_ctx)
    SSL_CTX_free (fs->ssl_ctx);
  if (fs->ca_file)
    g_unlink (fs->ca_file);
  if (fs->tmp_dir)
    g_rmdir (fs->tmp_dir);
  g_free (fs->ca_file);
  g_free (fs->tmp_dir);
  g_mutex_clear (&fs->lock);
  g_cond_clear (&fs->cond);
  g_free (fs);
}

char *
fake_smtp_url (FakeSmtp *fs)
{
  return g_strdup_printf ("%s://127.0.0.1:%u", fs->tls == FAKE_TLS_IMPLICIT ? "smtps" : "smtp", fs->port);
}

const char *
fake_smtp_ca_file (FakeSmtp *fs)
{
  return fs->ca_file;
}

void
fake_smtp_on (FakeSmtp *fs, const char *event, FakeAction action, const char *reply)
{
  Step *s = g_new0 (Step, 1);
  s->action = action;
  s->reply = g_strdup (reply);
  g_mutex_lock (&fs->lock);
  GQueue *q = g_hash_table_lookup (fs->script, event);
  if (q == NULL)
    {
      q = g_queue_new ();
      g_hash_table_insert (fs->script, g_strdup (event), q);
    }
  g_queue_push_tail (q, s);
  g_mutex_unlock (&fs->lock);
}

guint
fake_smtp_connections (FakeSmtp *fs)
{
  g_mutex_lock (&fs->lock);
  guint n = fs->transcripts->len;
  g_mutex_unlock (&fs->lock);
  return n;
}

char *
fake_smtp_transcript (FakeSmtp *fs, guint n)
{
  g_mutex_lock (&fs->lock);
  char *t = n < fs->transcripts->len ? g_strdup (((GString *) g_ptr_array_index (fs->transcripts, n))->str) : NULL;
  g_mutex_unlock (&fs->lock);
  return t;
}

void
fake_smtp_wait_closed (FakeSmtp *fs, guint n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_US;
  g_mutex_lock (&fs->lock);
  while (fs->closed < n && g_cond_wait_until (&fs->cond, &fs->lock, deadline))
    ;
  guint closed = fs->closed;
  g_mutex_unlock (&fs->lock);
  g_assert_cmpuint (closed, >=, n);
}

void
fake_smtp_hold (FakeSmtp *fs, const char *event)
{
  g_mutex_lock (&fs->lock);
  g_free (fs->hold_event);
  fs->hold_event = g_strdup (event);
  g_mutex_unlock (&fs->lock);
}

void
fake_smtp_wait_held (FakeSmtp *fs)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_US;
  g_mutex_lock (&fs->lock);
  while (!fs->holding && g_cond_wait_until (&fs->cond, &fs->lock, deadline))
    ;
  gboolean held = fs->holding;
  g_mutex_unlock (&fs->lock);
  g_assert_true (held);
}

void
fake_smtp_release (FakeSmtp *fs)
{
  g_mutex_lock (&fs->lock);
  g_clear_pointer (&fs->hold_event, g_free);
  g_cond_broadcast (&fs->cond);
  g_mutex_unlock (&fs->lock);
}

char *
fake_smtp_refusing_url (GSocket **keep)
{
  guint16 port = 0;
  *keep = bind_loopback (&port);
  return g_strdup_printf ("smtp://127.0.0.1:%u", port);
}
