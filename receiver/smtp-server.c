/* relaydesk — receiver: listeners and nonblocking connection I/O (see
 * smtp-server.h). */
#include "smtp-server.h"
#include "smtp-session.h"
#include "smtp-tls.h"
#include "proxy-protocol.h"
#include "allowlist.h"
#include "rd-common.h"
#include "rd-metrics.h"

#include <gio/gio.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <openssl/err.h>

#define READ_CHUNK 65536       /* fewer wakeups for big messages */
#define MAX_PENDING_OUTPUT (256 * 1024)
#define CLOSE_LINGER_SECONDS 10   /* a closing client that never reads */
#define DRAIN_MAX (64 * 1024)     /* bytes discarded after our last reply */
#define EPOLL_BATCH 256           /* connection events handled per main loop turn */
#define REFUSING_TLS_MAX 32       /* over-limit implicit-TLS clients shaken hands with to hear their 421 */

typedef struct _Conn Conn;

struct _RdSmtpServer {
  RdConfig *config;
  RdSpoolWriter *writer;
  RdSmtpLimits limits;
  char **accept_recipients;
  SSL_CTX *ssl_ctx;          /* NULL: no TLS */
  GPtrArray *listeners;      /* GSocket* */
  GPtrArray *accept_sources;
  GHashTable *conns;         /* Conn* set */
  GHashTable *per_ip;        /* char* ip -> count */
  /* Every connection's socket is in ONE epoll set, watched by one
   * GSource: GLib's main loop polls and checks each of its sources on
   * every turn, so a GSource per connection made every turn cost as much
   * as the number of idle connections (1,000 slowloris clients halved
   * the rate of a normal client). */
  int epfd;
  GSource *epoll_source;
  /* Memory for message data being received: the bytes read while a
   * session is in DATA, until its message is stored (the session holds
   * them in memory). Past [smtp] max_data_memory, sessions in DATA stop
   * reading (TCP backpressure) except one, the leader, which always
   * finishes its message: memory stays under the budget plus one
   * message, and no set of half-received messages can wait on each
   * other. */
  gsize data_budget;
  gsize data_inflight;
  Conn *data_leader;
  GQueue data_waiting;       /* Conn* paused for the budget (each holds a ref) */
  GSource *sweep;
  gboolean stopping;
  /* limits and timeouts (seconds) */
  guint max_connections;
  guint max_connections_per_ip;
  guint idle_timeout;
  guint command_timeout;
  guint data_timeout;
  guint rejected_timeout;
  /* allowlist */
  gboolean allowlist_enabled;
  char **allowlist_fixed;
  char *allowlist_contact;
  RdStore *store;
  RdAllowlist *allowlist;
  gint64 allowlist_version;
  /* PROXY protocol: the load balancers whose header names the client */
  RdAllowlist *proxy_trusted;  /* NULL: none */
  guint refusing_tls;          /* over-limit TLS clients in their handshake */
};

struct _Conn {
  gint refcount;
  RdSmtpServer *server;      /* NULL once detached */
  GSocket *socket;
  char *ip;
  enum { WATCH_NONE, WATCH_READ, WATCH_DRAIN } read_watch;   /* what readable means now */
  gboolean write_watch;      /* waiting for the socket to take more output */
  guint32 ep_events;         /* as registered in the server's epoll set (0: not in it) */
  GByteArray *out;           /* bytes for the socket (ciphertext under TLS) */
  RdSmtpSession *session;
  gboolean close_after_write;
  gboolean draining;         /* our last reply is out and FIN sent: reading only to discard */
  gsize drained;
  gboolean closed;
  gboolean storing;          /* reading paused until the commit answered */
  gsize data_inflight;       /* message bytes this connection holds (see data_budget) */
  gboolean data_waiting;     /* paused for the memory budget */
  gboolean rejected;
  gint64 last_activity;      /* monotonic µs */
  gint64 closing_since;
  /* TLS */
  SSL *ssl;
  BIO *rbio;                 /* ciphertext in (owned by ssl) */
  BIO *wbio;                 /* ciphertext out (owned by ssl) */
  gboolean implicit_tls;
  gboolean handshake_done;
  /* policy at connect */
  gboolean counted;          /* in per_ip under ip */
  const char *refuse_why;    /* over a limit on the TLS port: 421 after the handshake */
  gboolean refusing_tls;     /* counted in refusing_tls */
  /* PROXY protocol */
  char *peer;                /* the socket's peer (the proxy when proxied) */
  gboolean proxy_pending;    /* from a trusted proxy: its header comes first */
  GByteArray *proxy_buf;
  gboolean first_read_done;
};

static void conn_close (Conn *c);
static void conn_drain (Conn *c);
static void conn_start_reading (Conn *c);
static void proxy_input (Conn *c, const char *data, gsize len);
static void proxy_untrusted (Conn *c);
static char *refusal_line (RdSmtpServer *srv, const char *why);

/* The client went away or must go: the session (if one started) hears
 * of it, the socket is closed. */
static void
conn_lost (Conn *c)
{
  if (c->session)
    rd_smtp_session_disconnected (c->session);
  conn_close (c);
}

static Conn *
conn_ref (Conn *c)
{
  c->refcount++;
  return c;
}

static void
conn_unref (Conn *c)
{
  if (--c->refcount > 0)
    return;
  rd_smtp_session_free (c->session);
  g_byte_array_unref (c->out);
  if (c->proxy_buf)
    g_byte_array_unref (c->proxy_buf);
  g_free (c->peer);
  if (c->ssl)
    SSL_free (c->ssl);
  g_clear_object (&c->socket);
  g_free (c->ip);
  g_free (c);
}

/* Brings the connection's registration in the epoll set in line with
 * what it waits for; a connection waiting for nothing (storing) is taken
 * out, so that a hangup meanwhile is not reported over and over. */
static void
conn_watch_update (Conn *c)
{
  if (c->closed || c->server == NULL)
    return;
  guint32 ev = (c->read_watch != WATCH_NONE ? EPOLLIN : 0) | (c->write_watch ? EPOLLOUT : 0);
  if (ev == c->ep_events)
    return;
  struct epoll_event e = { .events = ev, .data.ptr = c };
  int op = ev == 0 ? EPOLL_CTL_DEL : c->ep_events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl (c->server->epfd, op, g_socket_get_fd (c->socket), &e) != 0)
    rd_log (RD_LOG_WARN, "smtp.epoll", "client=%s error=\"%s\"", c->ip, g_strerror (errno));
  c->ep_events = ev;
}

static void
conn_flush (Conn *c)
{
  while (c->out->len > 0 && !c->closed)
    {
      GError *error = NULL;
      gssize n = g_socket_send (c->socket, (const char *) c->out->data, c->out->len, NULL, &error);
      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              g_error_free (error);
              if (!c->write_watch)
                {
                  c->write_watch = TRUE;
                  conn_watch_update (c);
                }
              return;
            }
          g_error_free (error);
          conn_lost (c);
          return;
        }
      g_byte_array_remove_range (c->out, 0, n);
    }
  if (c->out->len == 0 && c->close_after_write)
    conn_drain (c);
}

static void
on_writable (Conn *c)
{
  c->write_watch = FALSE;
  conn_flush (c);
  conn_watch_update (c);
}

/* Moves the ciphertext OpenSSL produced to the socket buffer. */
static void
drain_wbio (Conn *c)
{
  char buf[16384];
  int n;
  while ((n = BIO_read (c->wbio, buf, sizeof buf)) > 0)
    g_byte_array_append (c->out, (const guint8 *) buf, n);
}

static void
queue_output (Conn *c, const char *data, gsize len)
{
  if (c->ssl == NULL)
    g_byte_array_append (c->out, (const guint8 *) data, len);
  else if (c->handshake_done)
    {
      /* Memory BIOs never block: SSL_write takes everything. */
      if (SSL_write (c->ssl, data, (int) len) <= 0)
        {
          g_autofree char *why = rd_smtp_tls_error_string ();
          rd_log (RD_LOG_WARN, "smtp.tls", "client=%s error=\"%s\"", c->ip, why);
        }
      drain_wbio (c);
    }
  /* else: during the handshake there is no channel for replies. */
}

static void
session_write (RdSmtpSession *s, const char *data, gsize len, gpointer user_data)
{
  Conn *c = user_data;
  if (c->closed)
    return;
  queue_output (c, data, len);
  if (c->out->len > MAX_PENDING_OUTPUT)
    {
      /* A client that pipelines without ever reading its replies. */
      rd_smtp_session_disconnected (c->session);
      conn_close (c);
      return;
    }
  conn_flush (c);
}

static void
session_close (RdSmtpSession *s, gpointer user_data)
{
  Conn *c = user_data;
  c->close_after_write = TRUE;
  c->closing_since = g_get_monotonic_time ();
  if (c->ssl && c->handshake_done)
    {
      SSL_shutdown (c->ssl);
      drain_wbio (c);
    }
  if (!c->write_watch)
    conn_flush (c);
}

/* Gives back what @c held of the data budget and lets the waiting
 * sessions read again (they check the budget anew). */
static void
data_release (Conn *c)
{
  RdSmtpServer *srv = c->server;
  if (srv == NULL || c->data_inflight == 0)
    return;
  srv->data_inflight -= MIN (c->data_inflight, srv->data_inflight);
  c->data_inflight = 0;
  if (srv->data_leader == c)
    srv->data_leader = NULL;
  while (!g_queue_is_empty (&srv->data_waiting) && srv->data_inflight < srv->data_budget)
    {
      Conn *w = g_queue_pop_head (&srv->data_waiting);
      w->data_waiting = FALSE;
      w->last_activity = g_get_monotonic_time ();
      conn_start_reading (w);
      conn_unref (w);
    }
}

/* Before reading from @c: FALSE (and @c paused until data_release) when
 * it is receiving message data past the budget and is not the leader. */
static gboolean
data_may_read (Conn *c)
{
  RdSmtpServer *srv = c->server;
  if (srv == NULL || srv->data_budget == 0 || c->data_inflight == 0
      || srv->data_inflight < srv->data_budget || srv->data_leader == c)
    return TRUE;
  /* The leader is the session furthest into its message: a client that
   * trickles its data cannot hold up the others for long. */
  if (srv->data_leader == NULL || c->data_inflight > srv->data_leader->data_inflight)
    {
      srv->data_leader = c;
      return TRUE;
    }
  c->data_waiting = TRUE;
  c->read_watch = WATCH_NONE;
  conn_watch_update (c);
  g_queue_push_tail (&srv->data_waiting, conn_ref (c));
  return FALSE;
}

static void
stored (RdSpoolItem *item, const GError *error, gpointer user_data)
{
  Conn *c = user_data;
  if (error == NULL)
    {
      rd_metric_inc (RD_METRIC_MESSAGES_ACCEPTED, item->protocol ? item->protocol : "SMTP");
      rd_metric_add (RD_METRIC_MESSAGE_BYTES, (double) g_bytes_get_size (item->raw));
    }
  if (!c->closed)
    {
      c->storing = FALSE;
      c->last_activity = g_get_monotonic_time ();
      rd_smtp_session_stored (c->session, item->queue_id, error);
      if (!c->closed && !c->storing)
        conn_start_reading (c);
    }
  rd_spool_item_free (item);
  data_release (c);
  conn_unref (c);
}

static void
session_submit (RdSmtpSession *s, RdSpoolItem *item, gpointer user_data)
{
  Conn *c = user_data;
  c->storing = TRUE;
  rd_spool_writer_submit (c->server->writer, item, stored, conn_ref (c));
}

static void
tls_begin (Conn *c)
{
  c->ssl = SSL_new (c->server->ssl_ctx);
  c->rbio = BIO_new (BIO_s_mem ());
  c->wbio = BIO_new (BIO_s_mem ());
  BIO_set_mem_eof_return (c->rbio, -1);
  SSL_set_bio (c->ssl, c->rbio, c->wbio);
  SSL_set_accept_state (c->ssl);
  c->handshake_done = FALSE;
}

static void
session_starttls (RdSmtpSession *s, gpointer user_data)
{
  Conn *c = user_data;
  /* The 220 is already in c->out, in plaintext; from here on every byte
   * in either direction goes through TLS. */
  tls_begin (c);
}

static const RdSmtpSessionCallbacks session_callbacks = {
  .write = session_write,
  .submit = session_submit,
  .close = session_close,
  .starttls = session_starttls,
};

static void
conn_tls_failed (Conn *c, const char *what)
{
  g_autofree char *why = rd_smtp_tls_error_string ();
  rd_metric_inc (RD_METRIC_SMTP_TLS_FAILURES);
  rd_log (RD_LOG_INFO, "smtp.tls", "session=%s client=%s result=%s error=\"%s\"",
          rd_smtp_session_get_id (c->session), c->ip, what, why);
  drain_wbio (c); /* a TLS alert, if any */
  rd_smtp_session_disconnected (c->session);
  c->close_after_write = TRUE;
  c->closing_since = g_get_monotonic_time ();
  conn_flush (c);
}

/* Feeds ciphertext to OpenSSL and the plaintext that comes out to the
 * session. Returns FALSE when the connection is gone. */
static gboolean
tls_input (Conn *c, const char *data, gsize len)
{
  if (BIO_write (c->rbio, data, (int) len) != (int) len)
    {
      conn_tls_failed (c, "bio_error");
      return FALSE;
    }
  if (!c->handshake_done)
    {
      int rc = SSL_do_handshake (c->ssl);
      drain_wbio (c);
      if (rc != 1)
        {
          int err = SSL_get_error (c->ssl, rc);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            {
              conn_flush (c);
              return !c->closed;
            }
          conn_tls_failed (c, "handshake_failed");
          return FALSE;
        }
      c->handshake_done = TRUE;
      conn_flush (c);
      rd_log (RD_LOG_DEBUG, "smtp.tls", "session=%s client=%s version=%s cipher=%s",
              rd_smtp_session_get_id (c->session), c->ip, SSL_get_version (c->ssl),
              SSL_get_cipher_name (c->ssl));
      rd_smtp_session_set_tls (c->session, SSL_get_version (c->ssl));
      if (c->implicit_tls)
        {
          if (c->refuse_why)
            {
              /* over a limit: the 421 the plain port gives at connect,
               * now that the client can read it */
              g_autofree char *line = refusal_line (c->server, c->refuse_why);
              rd_smtp_session_start_refused (c->session, line, c->refuse_why);
              return FALSE;
            }
          if (c->rejected)
            rd_smtp_session_start_rejected (c->session, c->server->allowlist_contact);
          else
            rd_smtp_session_start (c->session);
        }
    }
  char buf[READ_CHUNK];
  while (!c->closed)
    {
      int n = SSL_read (c->ssl, buf, sizeof buf);
      if (n <= 0)
        {
          int err = SSL_get_error (c->ssl, n);
          drain_wbio (c);
          conn_flush (c);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            break;
          if (err == SSL_ERROR_ZERO_RETURN)
            {
              rd_smtp_session_disconnected (c->session);
              conn_close (c);
              return FALSE;
            }
          conn_tls_failed (c, "read_failed");
          return FALSE;
        }
      rd_smtp_session_feed (c->session, buf, n);
    }
  return !c->closed;
}

static void
on_readable (Conn *c)
{
  char buf[READ_CHUNK];
  GError *error = NULL;
  if (!data_may_read (c))
    return;
  gssize n = g_socket_receive (c->socket, buf, sizeof buf, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_error_free (error);
      return;
    }
  g_clear_error (&error);
  if (n <= 0)
    {
      conn_lost (c);
      return;
    }
  c->last_activity = g_get_monotonic_time ();
  gboolean first = !c->first_read_done;
  c->first_read_done = TRUE;
  if (c->proxy_pending)
    proxy_input (c, buf, n);
  else if (first && !c->handshake_done && rd_proxy_looks_like ((const guint8 *) buf, n)
           && n >= (buf[0] == 'P' ? 6 : 12))
    proxy_untrusted (c);
  else if (c->ssl)
    tls_input (c, buf, n);
  else
    rd_smtp_session_feed (c->session, buf, n);
  if (c->closed)
    return;
  /* What was read in DATA is held until the message is stored (or the
   * transaction ends otherwise). */
  if (c->storing || (c->session && rd_smtp_session_get_wait (c->session) == RD_SMTP_WAIT_DATA))
    {
      c->data_inflight += (gsize) n;
      if (c->server)
        c->server->data_inflight += (gsize) n;
    }
  else
    data_release (c);
  if (c->closed || c->draining)
    return; /* conn_drain set its own watch */
  if (c->storing || c->close_after_write)
    {
      /* Backpressure: nothing more is read until the commit answered
       * (the session keeps what it already has). */
      c->read_watch = WATCH_NONE;
      conn_watch_update (c);
    }
}

/* A lingering close (as web servers do): after our last reply, send FIN
 * (shutdown for writing) and read on, discarding, until the client
 * closes too, up to DRAIN_MAX bytes or CLOSE_LINGER_SECONDS. Closing a
 * socket with unread input would send a reset instead, and the client
 * (still sending its pipelined or byte-by-byte commands) could lose our
 * reply before reading it. */
static void
on_drain_readable (Conn *c, guint32 events)
{
  char buf[READ_CHUNK];
  gssize n = g_socket_receive (c->socket, buf, sizeof buf, NULL, NULL);
  if (n < 0 && !(events & (EPOLLHUP | EPOLLERR)))
    return; /* would block */
  if (n > 0 && (c->drained += (gsize) n) < DRAIN_MAX)
    return;
  conn_close (c);
}

static void
conn_drain (Conn *c)
{
  if (c->closed || c->draining)
    return;
  c->draining = TRUE;
  if (!g_socket_shutdown (c->socket, FALSE, TRUE, NULL))
    {
      conn_close (c);
      return;
    }
  c->read_watch = WATCH_DRAIN;
  conn_watch_update (c);
}

static void
conn_start_reading (Conn *c)
{
  if (c->read_watch != WATCH_NONE || c->closed || c->close_after_write)
    return;
  c->read_watch = WATCH_READ;
  conn_watch_update (c);
}

/* One event of the epoll set for @c (referenced by the caller). */
static void
conn_event (Conn *c, guint32 events)
{
  if (c->closed)
    return;
  if (c->write_watch && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
    on_writable (c);
  if (c->closed || !(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
    return;
  if (c->read_watch == WATCH_READ)
    on_readable (c);
  else if (c->read_watch == WATCH_DRAIN)
    on_drain_readable (c, events);
}

typedef struct {
  GSource base;
  RdSmtpServer *server;
} EpollSource;

/* Dispatched when the epoll descriptor is readable: handles one batch
 * of ready connections. Each is referenced for the whole batch, since
 * handling one may close another (none is freed under our feet). */
static gboolean
epoll_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  RdSmtpServer *srv = ((EpollSource *) source)->server;
  struct epoll_event ev[EPOLL_BATCH];
  int n = epoll_wait (srv->epfd, ev, EPOLL_BATCH, 0);
  for (int i = 0; i < n; i++)
    conn_ref (ev[i].data.ptr);
  for (int i = 0; i < n; i++)
    conn_event (ev[i].data.ptr, ev[i].events);
  for (int i = 0; i < n; i++)
    conn_unref (ev[i].data.ptr);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs epoll_source_funcs = { NULL, NULL, epoll_dispatch, NULL, NULL, NULL };

static void
conn_close (Conn *c)
{
  if (c->closed)
    return;
  data_release (c);
  c->closed = TRUE;
  if (c->ep_events != 0 && c->server != NULL)
    epoll_ctl (c->server->epfd, EPOLL_CTL_DEL, g_socket_get_fd (c->socket), NULL);
  c->ep_events = 0;
  c->read_watch = WATCH_NONE;
  c->write_watch = FALSE;
  g_socket_close (c->socket, NULL);
  if (c->server)
    {
      RdSmtpServer *srv = c->server;
      c->server = NULL;
      if (c->refusing_tls)
        srv->refusing_tls--;
      if (c->counted)
        {
          guint n = GPOINTER_TO_UINT (g_hash_table_lookup (srv->per_ip, c->ip));
          if (n <= 1)
            g_hash_table_remove (srv->per_ip, c->ip);
          else
            g_hash_table_insert (srv->per_ip, g_strdup (c->ip), GUINT_TO_POINTER (n - 1));
        }
      g_hash_table_remove (srv->conns, c); /* drops the table's ref */
      rd_metric_set (RD_METRIC_SMTP_SESSIONS_ACTIVE, g_hash_table_size (srv->conns));
    }
}

/* ---- policy at connect ------------------------------------------------- */

/* Reloads the allowlist when its change counter moved (cheap otherwise:
 * one PRAGMA on an idle connection). On a read error the list in memory
 * stays in force. */
static void
allowlist_refresh (RdSmtpServer *srv)
{
  g_autoptr(GError) error = NULL;
  gint64 version = 0;
  if (!rd_store_allowlist_version (srv->store, &version, &error))
    {
      rd_log (RD_LOG_WARN, "allowlist.reload", "error=\"%s\"", error->message);
      return;
    }
  if (srv->allowlist != NULL && version == srv->allowlist_version)
    return;
  RdAllowlist *l = rd_store_allowlist_load (srv->store, (const char *const *) srv->allowlist_fixed, &error);
  if (l == NULL)
    {
      rd_log (RD_LOG_WARN, "allowlist.reload", "error=\"%s\"", error->message);
      return;
    }
  rd_allowlist_free (srv->allowlist);
  srv->allowlist = l;
  srv->allowlist_version = version;
  rd_log (RD_LOG_INFO, "allowlist.reload", "version=%" G_GINT64_FORMAT " entries=%u",
          version, rd_allowlist_get_size (l));
}

static gboolean
client_allowed (RdSmtpServer *srv, GInetAddress *ia)
{
  if (!srv->allowlist_enabled)
    return TRUE;
  allowlist_refresh (srv);
  if (srv->allowlist == NULL || ia == NULL)
    return FALSE;
  return rd_allowlist_match (srv->allowlist, g_inet_address_to_bytes (ia),
                             g_inet_address_get_native_size (ia), g_get_real_time () / G_USEC_PER_SEC);
}

static char *
refusal_line (RdSmtpServer *srv, const char *why)
{
  return g_strdup_printf ("421 4.7.0 %s Error: too many connections%s, try again later", srv->limits.hostname,
                          !strcmp (why, "per_ip_limit") ? " from your address" : "");
}

static void
refusal_counted (const char *ip, const char *peer, const char *why)
{
  if (peer && strcmp (peer, ip) != 0)
    rd_log (RD_LOG_WARN, "smtp.connect", "client=%s proxy=%s result=refused reason=%s", ip, peer, why);
  else
    rd_log (RD_LOG_WARN, "smtp.connect", "client=%s result=refused reason=%s", ip, why);
  rd_metric_inc (RD_METRIC_SMTP_REJECTIONS, why, "421");
}

/* Refuses a connection over the total limit before anything is
 * allocated for it: a plaintext 421 and close. */
static void
refuse_now (RdSmtpServer *srv, GSocket *sock, const char *ip, const char *why)
{
  refusal_counted (ip, NULL, why);
  g_autofree char *line = refusal_line (srv, why);
  g_autofree char *crlf = g_strconcat (line, "\r\n", NULL);
  g_socket_send (sock, crlf, strlen (crlf), NULL, NULL);
  g_socket_close (sock, NULL);
}

static Conn *
conn_new (RdSmtpServer *srv, GSocket *sock, const char *addr, gboolean tls)
{
  Conn *c = g_new0 (Conn, 1);
  c->refcount = 1; /* the table's */
  c->server = srv;
  c->socket = sock;
  c->ip = g_strdup (addr);
  c->peer = g_strdup (addr);
  c->out = g_byte_array_new ();
  c->implicit_tls = tls;
  c->last_activity = g_get_monotonic_time ();
  g_hash_table_add (srv->conns, c);
  rd_metric_set (RD_METRIC_SMTP_SESSIONS_ACTIVE, g_hash_table_size (srv->conns));
  return c;
}

static void
conn_session (Conn *c)
{
  RdSmtpLimits limits = c->server->limits;
  limits.tls_available = c->server->ssl_ctx != NULL && !c->implicit_tls;
  c->session = rd_smtp_session_new (&limits, c->ip, &session_callbacks, c);
}

/* The policy at connect, for the client's address (@ia: the socket's
 * peer, or the client a trusted proxy named): the per-IP limit, the
 * allowlist, then the banner (plain port) or the TLS handshake (the
 * banner, a 554 or a 421 follows it). */
static void
conn_admit (Conn *c, GInetAddress *ia)
{
  RdSmtpServer *srv = c->server;
  guint from_ip = GPOINTER_TO_UINT (g_hash_table_lookup (srv->per_ip, c->ip));
  /* The per-IP cap holds for refused clients too: they are held open
   * for rejected_timeout seconds each. */
  gboolean allowed = client_allowed (srv, ia);
  conn_session (c);
  if (from_ip >= srv->max_connections_per_ip)
    {
      refusal_counted (c->ip, c->peer, "per_ip_limit");
      c->refuse_why = "per_ip_limit";
    }
  else
    {
      g_hash_table_insert (srv->per_ip, g_strdup (c->ip), GUINT_TO_POINTER (from_ip + 1));
      c->counted = TRUE;
    }
  c->rejected = !allowed;
  if (c->implicit_tls)
    tls_begin (c); /* the banner follows the handshake */
  else if (c->refuse_why)
    {
      g_autofree char *line = refusal_line (srv, c->refuse_why);
      rd_smtp_session_start_refused (c->session, line, c->refuse_why);
    }
  else if (c->rejected)
    rd_smtp_session_start_rejected (c->session, srv->allowlist_contact);
  else
    rd_smtp_session_start (c->session);
}

/* A connection from a trusted proxy that did not begin with a valid
 * PROXY header: refused (the header is required from them, so a
 * misconfigured balancer cannot make every client look like itself). */
static void
proxy_refused (Conn *c, const char *why)
{
  rd_log (RD_LOG_WARN, "smtp.proxy", "proxy=%s result=refused reason=\"%s\"", c->peer, why);
  rd_metric_inc (RD_METRIC_SMTP_REJECTIONS, "proxy_header", "421");
  if (!c->implicit_tls)
    {
      g_autofree char *line = g_strdup_printf ("421 4.7.0 %s Error: PROXY protocol header required from %s\r\n",
                                               c->server->limits.hostname, c->peer);
      g_byte_array_append (c->out, (const guint8 *) line, strlen (line));
    }
  c->proxy_pending = FALSE;
  c->close_after_write = TRUE;
  c->closing_since = g_get_monotonic_time ();
  conn_flush (c);
}

/* Octets from a trusted proxy before its header is complete. */
static void
proxy_input (Conn *c, const char *data, gsize len)
{
  if (c->proxy_buf == NULL)
    c->proxy_buf = g_byte_array_new ();
  gsize room = RD_PROXY_V2_MAX + READ_CHUNK - c->proxy_buf->len;
  g_byte_array_append (c->proxy_buf, (const guint8 *) data, (guint) MIN (len, room));
  RdProxyHeader h;
  const char *why = NULL;
  RdProxyResult r = rd_proxy_parse (c->proxy_buf->data, c->proxy_buf->len, &h, &why);
  if (r == RD_PROXY_MORE)
    return;
  if (r == RD_PROXY_INVALID)
    {
      proxy_refused (c, why);
      return;
    }
  c->proxy_pending = FALSE;
  g_autoptr(GInetAddress) ia = NULL;
  if (h.local)
    {
      /* A health check or an unknown client: the proxy's own address. */
      ia = g_inet_address_new_from_string (c->peer);
      rd_log (RD_LOG_DEBUG, "smtp.proxy", "proxy=%s version=%u client=local", c->peer, h.version);
    }
  else
    {
      ia = g_inet_address_new_from_bytes (h.src, h.addr_len == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
      g_free (c->ip);
      c->ip = g_inet_address_to_string (ia);
      rd_log (RD_LOG_INFO, "smtp.proxy", "client=%s port=%u proxy=%s version=%u", c->ip, h.src_port, c->peer,
              h.version);
    }
  GByteArray *buf = g_steal_pointer (&c->proxy_buf);
  conn_admit (c, ia);
  /* What followed the header (a TLS ClientHello, pipelined commands) */
  if (!c->closed && !c->close_after_write && buf->len > h.length)
    {
      if (c->ssl)
        tls_input (c, (const char *) buf->data + h.length, buf->len - h.length);
      else
        rd_smtp_session_feed (c->session, (const char *) buf->data + h.length, buf->len - h.length);
    }
  g_byte_array_unref (buf);
}

/* A PROXY header from an address not in [smtp] proxy_trusted: refused,
 * never taken as the client's address. */
static void
proxy_untrusted (Conn *c)
{
  if (!c->implicit_tls)
    {
      rd_smtp_session_feed (c->session, "PROXY \r\n", 8); /* the session's refusal (554 5.7.0) */
      return;
    }
  rd_log (RD_LOG_WARN, "smtp.proxy", "client=%s result=refused reason=untrusted", c->ip);
  rd_metric_inc (RD_METRIC_SMTP_REJECTIONS, "proxy_untrusted", "554");
  const char *line = "554 5.7.0 Error: PROXY protocol header from an address not in [smtp] proxy_trusted\r\n";
  g_byte_array_append (c->out, (const guint8 *) line, strlen (line));
  rd_smtp_session_disconnected (c->session);
  c->close_after_write = TRUE;
  c->closing_since = g_get_monotonic_time ();
  conn_flush (c);
}

static gboolean
proxy_trusted (RdSmtpServer *srv, GInetAddress *ia)
{
  return srv->proxy_trusted != NULL && ia != NULL
      && rd_allowlist_match (srv->proxy_trusted, g_inet_address_to_bytes (ia), g_inet_address_get_native_size (ia),
                             0);
}

static gboolean
on_accept (GSocket *listener, GIOCondition cond, gpointer data)
{
  RdSmtpServer *srv = data;
  gboolean tls = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (listener), "rd-implicit-tls"));
  for (guint i = 0; i < 64; i++)
    {
      GError *error = NULL;
      GSocket *sock = g_socket_accept (listener, NULL, &error);
      if (sock == NULL)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            rd_log (RD_LOG_WARN, "smtp.accept", "error=\"%s\"", error->message);
          g_error_free (error);
          break;
        }
      g_socket_set_blocking (sock, FALSE);
      rd_metric_inc (RD_METRIC_SMTP_CONNECTIONS, tls ? "smtps" : "smtp");
      g_autofree char *addr = NULL;
      g_autoptr(GSocketAddress) remote = g_socket_get_remote_address (sock, NULL);
      GInetAddress *ia = NULL;
      if (remote && G_IS_INET_SOCKET_ADDRESS (remote))
        {
          ia = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
          addr = g_inet_address_to_string (ia);
        }
      if (addr == NULL)
        addr = g_strdup ("unknown");
      Conn *c;
      if (g_hash_table_size (srv->conns) >= srv->max_connections)
        {
          /* On the TLS port the 421 can only be read inside TLS: a few
           * such handshakes at a time, beyond that a plain close. */
          if (!tls || srv->refusing_tls >= REFUSING_TLS_MAX)
            {
              refuse_now (srv, sock, addr, "total_limit");
              g_object_unref (sock);
              continue;
            }
          refusal_counted (addr, NULL, "total_limit");
          c = conn_new (srv, sock, addr, tls);
          c->refuse_why = "total_limit";
          c->refusing_tls = TRUE;
          srv->refusing_tls++;
          conn_session (c);
          conn_start_reading (c);
          tls_begin (c);
          continue;
        }
      c = conn_new (srv, sock, addr, tls);
      conn_start_reading (c);
      conn_ref (c);
      if (proxy_trusted (srv, ia))
        c->proxy_pending = TRUE; /* the client's address comes first */
      else
        conn_admit (c, ia);
      conn_unref (c);
    }
  return G_SOURCE_CONTINUE;
}

/* Once a second: the RFC 5321 §4.5.3.2 timeouts, per what the session
 * waits for, and the hard close of clients that never read our close. */
static gboolean
on_sweep (gpointer data)
{
  RdSmtpServer *srv = data;
  gint64 now = g_get_monotonic_time ();
  GList *conns = g_hash_table_get_keys (srv->conns);
  for (GList *l = conns; l; l = l->next)
    {
      Conn *c = l->data;
      if (c->close_after_write)
        {
          if (now - c->closing_since > CLOSE_LINGER_SECONDS * G_USEC_PER_SEC)
            {
              conn_ref (c);
              conn_close (c);
              conn_unref (c);
            }
          continue;
        }
      guint limit = 0;
      if (c->session == NULL)
        limit = srv->command_timeout; /* a trusted proxy's header */
      else if (c->ssl && !c->handshake_done)
        limit = c->rejected ? srv->rejected_timeout : srv->command_timeout;
      else
        switch (rd_smtp_session_get_wait (c->session))
          {
          case RD_SMTP_WAIT_IDLE: limit = srv->idle_timeout; break;
          case RD_SMTP_WAIT_COMMAND: limit = srv->command_timeout; break;
          case RD_SMTP_WAIT_DATA: limit = srv->data_timeout; break;
          case RD_SMTP_WAIT_REJECTED: limit = srv->rejected_timeout; break;
          case RD_SMTP_WAIT_NOTHING: limit = 0; break;
          }
      if (c->storing || c->data_waiting || limit == 0 || now - c->last_activity < (gint64) limit * G_USEC_PER_SEC)
        continue;
      conn_ref (c);
      if (c->session == NULL || (c->ssl && !c->handshake_done))
        conn_lost (c);
      else
        rd_smtp_session_timeout (c->session);
      conn_unref (c);
    }
  g_list_free (conns);
  return G_SOURCE_CONTINUE;
}

static guint
config_uint (RdConfig *config, const char *group, const char *key, gint64 fallback)
{
  gint64 v = rd_config_get_int (config, group, key, fallback);
  return (guint) CLAMP (v, 0, G_MAXINT);
}

RdSmtpServer *
rd_smtp_server_new (RdConfig *config, RdSpoolWriter *writer, GError **error)
{
  return rd_smtp_server_new_with_tls (config, writer, NULL, error);
}

RdSmtpServer *
rd_smtp_server_new_with_tls (RdConfig *config, RdSpoolWriter *writer, SSL_CTX *tls, GError **error)
{
  g_autoptr(RdSmtpServer) srv = g_new0 (RdSmtpServer, 1);
  srv->epfd = -1;
  srv->config = config;
  srv->writer = writer;
  srv->listeners = g_ptr_array_new_with_free_func (g_object_unref);
  srv->accept_sources = g_ptr_array_new ();
  srv->conns = g_hash_table_new_full (g_direct_hash, g_direct_equal, (GDestroyNotify) conn_unref, NULL);
  srv->per_ip = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  srv->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (srv->epfd < 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "epoll_create1: %s", g_strerror (errno));
      return NULL;
    }
  srv->epoll_source = g_source_new (&epoll_source_funcs, sizeof (EpollSource));
  ((EpollSource *) srv->epoll_source)->server = srv;
  g_source_add_unix_fd (srv->epoll_source, srv->epfd, G_IO_IN);
  g_source_attach (srv->epoll_source, NULL);
  srv->limits.hostname = rd_config_get_hostname (config);
  srv->limits.max_message_size = rd_config_get_size (config, "smtp", "max_message_size", 25 * 1024 * 1024);
  srv->limits.max_recipients = config_uint (config, "smtp", "max_recipients", 100);
  srv->limits.max_errors = config_uint (config, "smtp", "max_errors", 10);
  srv->limits.strict_bare_lf = rd_config_get_bool (config, "smtp", "strict_bare_lf", FALSE);
  srv->limits.tls_required = rd_config_get_bool (config, "smtp", "require_tls", FALSE);
  srv->accept_recipients = rd_config_get_list (config, "smtp", "accept_recipients");
  srv->limits.accept_recipients = (const char *const *) srv->accept_recipients;
  srv->max_connections = config_uint (config, "smtp", "max_connections", 2000);
  srv->data_budget = rd_config_get_size (config, "smtp", "max_data_memory", 32 * 1024 * 1024);
  g_queue_init (&srv->data_waiting);
  srv->max_connections_per_ip = config_uint (config, "smtp", "max_connections_per_ip", 100);
  srv->idle_timeout = config_uint (config, "smtp", "idle_timeout", 300);
  srv->command_timeout = config_uint (config, "smtp", "command_timeout", 300);
  srv->data_timeout = config_uint (config, "smtp", "data_timeout", 180);
  srv->rejected_timeout = config_uint (config, "smtp", "rejected_timeout", 10);
  srv->allowlist_enabled = rd_config_get_bool (config, "allowlist", "enabled", TRUE);
  srv->allowlist_fixed = rd_allowlist_config_clients (config);
  srv->allowlist_contact = g_strdup (rd_config_get_string (config, "allowlist", "contact",
      "Access denied: your address is not on this relay's allowlist; "
      "ask the relay administrator (postmaster) to add it"));
  g_strdelimit (srv->allowlist_contact, "\r\n", ' ');
  gboolean tls_enabled = rd_config_get_bool (config, "tls", "enabled", TRUE);
  if (tls_enabled && tls != NULL)
    srv->ssl_ctx = g_steal_pointer (&tls);
  if (tls)
    SSL_CTX_free (tls);
  if (!rd_config_check_errors (config, error))
    return NULL;
  if (srv->limits.tls_required && !tls_enabled)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "[smtp] require_tls needs [tls] enabled");
      return NULL;
    }
  if (tls_enabled && srv->ssl_ctx == NULL)
    {
      srv->ssl_ctx = rd_smtp_tls_context_new (config, error);
      if (srv->ssl_ctx == NULL)
        return NULL;
    }
  g_auto(GStrv) proxies = rd_config_get_list (config, "smtp", "proxy_trusted");
  for (guint i = 0; proxies && proxies[i]; i++)
    {
      if (srv->proxy_trusted == NULL)
        srv->proxy_trusted = rd_allowlist_new ();
      if (!rd_allowlist_add (srv->proxy_trusted, proxies[i], 0, error))
        {
          g_prefix_error (error, "[smtp] proxy_trusted: ");
          return NULL;
        }
    }
  srv->store = rd_store_open (rd_config_get_data_dir (config), error);
  if (srv->store == NULL)
    return NULL;
  allowlist_refresh (srv);
  if (srv->allowlist == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "cannot load the allowlist (see the log)");
      return NULL;
    }
  srv->sweep = g_timeout_source_new_seconds (1);
  g_source_set_callback (srv->sweep, on_sweep, srv, NULL);
  g_source_attach (srv->sweep, NULL);
  return g_steal_pointer (&srv);
}

GSocket *
rd_smtp_server_bind (const char *hostport, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  if (!rd_parse_hostport (hostport, &host, &port, error))
    return NULL;
  g_autoptr(GInetAddress) ia = g_inet_address_new_from_string (host);
  if (ia == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "listen address '%s' is not an IP address", host);
      return NULL;
    }
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (ia, port);
  g_autoptr(GSocket) sock = g_socket_new (g_inet_address_get_family (ia), G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, error);
  if (sock == NULL)
    return NULL;
  if (!g_socket_bind (sock, sa, TRUE, error))
    {
      g_prefix_error (error, "cannot listen on %s: ", hostport);
      return NULL;
    }
  g_socket_set_listen_backlog (sock, 4096);
  if (!g_socket_listen (sock, error))
    return NULL;
  return g_steal_pointer (&sock);
}

gboolean
rd_smtp_server_add_listener (RdSmtpServer *srv, GSocket *sock, gboolean tls, guint16 *port_out, GError **error)
{
  if (tls && srv->ssl_ctx == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "implicit TLS (SMTPS) needs [tls] enabled");
      return FALSE;
    }
  if (g_socket_get_socket_type (sock) != G_SOCKET_TYPE_STREAM)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "listener %d is not a stream socket", g_socket_get_fd (sock));
      return FALSE;
    }
  g_socket_set_blocking (sock, FALSE);
  g_object_set_data (G_OBJECT (sock), "rd-implicit-tls", GINT_TO_POINTER (tls));
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (sock, NULL);
  guint16 bound = 0;
  g_autofree char *host = NULL;
  if (local && G_IS_INET_SOCKET_ADDRESS (local))
    {
      bound = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
      host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
    }
  if (port_out)
    *port_out = bound;
  GSource *src = g_socket_create_source (sock, G_IO_IN, NULL);
  g_source_set_callback (src, (GSourceFunc) (void (*) (void)) on_accept, srv, NULL);
  g_source_attach (src, NULL);
  g_ptr_array_add (srv->accept_sources, src);
  g_ptr_array_add (srv->listeners, g_object_ref (sock));
  rd_log (RD_LOG_INFO, "smtp.listen", "addr=%s port=%u tls=%s", host ? host : "?", bound,
          tls ? "implicit" : (srv->ssl_ctx ? "starttls" : "none"));
  return TRUE;
}

static gboolean
listen_on (RdSmtpServer *srv, const char *hostport, gboolean tls, guint16 *port_out, GError **error)
{
  if (tls && srv->ssl_ctx == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "implicit TLS on %s needs [tls] enabled", hostport);
      return FALSE;
    }
  g_autoptr(GSocket) sock = rd_smtp_server_bind (hostport, error);
  return sock != NULL && rd_smtp_server_add_listener (srv, sock, tls, port_out, error);
}

gboolean
rd_smtp_server_listen (RdSmtpServer *srv, const char *hostport, guint16 *port_out, GError **error)
{
  return listen_on (srv, hostport, FALSE, port_out, error);
}

gboolean
rd_smtp_server_listen_tls (RdSmtpServer *srv, const char *hostport, guint16 *port_out, GError **error)
{
  return listen_on (srv, hostport, TRUE, port_out, error);
}

void
rd_smtp_server_stop (RdSmtpServer *srv)
{
  srv->stopping = TRUE;
  for (guint i = 0; i < srv->accept_sources->len; i++)
    {
      GSource *s = g_ptr_array_index (srv->accept_sources, i);
      g_source_destroy (s);
      g_source_unref (s);
    }
  g_ptr_array_set_size (srv->accept_sources, 0);
  for (guint i = 0; i < srv->listeners->len; i++)
    g_socket_close (g_ptr_array_index (srv->listeners, i), NULL);
  g_ptr_array_set_size (srv->listeners, 0);
  /* Close every connection: a message not yet answered with 250 was not
   * accepted, and the client will retry it. */
  GList *conns = g_hash_table_get_keys (srv->conns);
  for (GList *l = conns; l; l = l->next)
    {
      Conn *c = l->data;
      conn_ref (c);
      if (!c->storing && c->session)
        rd_smtp_session_shutdown (c->session);
      conn_lost (c);
      conn_unref (c);
    }
  g_list_free (conns);
  Conn *w;
  while ((w = g_queue_pop_head (&srv->data_waiting)) != NULL)
    conn_unref (w);
}

void
rd_smtp_server_free (RdSmtpServer *srv)
{
  if (srv == NULL)
    return;
  rd_smtp_server_stop (srv);
  if (srv->sweep)
    {
      g_source_destroy (srv->sweep);
      g_source_unref (srv->sweep);
    }
  if (srv->epoll_source)
    {
      g_source_destroy (srv->epoll_source);
      g_source_unref (srv->epoll_source);
    }
  if (srv->epfd >= 0)
    close (srv->epfd);
  g_ptr_array_unref (srv->listeners);
  g_ptr_array_unref (srv->accept_sources);
  g_hash_table_unref (srv->conns);
  g_hash_table_unref (srv->per_ip);
  g_strfreev (srv->accept_recipients);
  g_strfreev (srv->allowlist_fixed);
  g_free (srv->allowlist_contact);
  rd_allowlist_free (srv->allowlist);
  rd_allowlist_free (srv->proxy_trusted);
  rd_store_free (srv->store);
  if (srv->ssl_ctx)
    SSL_CTX_free (srv->ssl_ctx);
  g_free (srv);
}

guint
rd_smtp_server_get_n_connections (RdSmtpServer *srv)
{
  return g_hash_table_size (srv->conns);
}
