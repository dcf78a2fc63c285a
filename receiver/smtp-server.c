/* relaydesk — receiver: listeners and nonblocking connection I/O. */
#include "smtp-server.h"
#include "smtp-session.h"
#include "rd-common.h"

#include <gio/gio.h>
#include <string.h>

#define READ_CHUNK 16384
#define MAX_PENDING_OUTPUT (256 * 1024)

typedef struct _Conn Conn;

struct _RdSmtpServer {
  RdConfig *config;
  RdSpoolWriter *writer;
  RdSmtpLimits limits;
  GPtrArray *listeners;     /* GSocket* */
  GPtrArray *accept_sources;
  GHashTable *conns;        /* Conn* set */
  gboolean stopping;
};

struct _Conn {
  gint refcount;
  RdSmtpServer *server;     /* NULL once detached */
  GSocket *socket;
  GSource *read_source;
  GSource *write_source;
  GByteArray *out;
  RdSmtpSession *session;
  gboolean close_after_write;
  gboolean closed;
};

static void conn_close (Conn *c);

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
  g_clear_object (&c->socket);
  g_free (c);
}

static gboolean on_writable (GSocket *sock, GIOCondition cond, gpointer data);

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
              if (c->write_source == NULL)
                {
                  c->write_source = g_socket_create_source (c->socket, G_IO_OUT, NULL);
                  g_source_set_callback (c->write_source, (GSourceFunc) (void (*) (void)) on_writable,
                                         conn_ref (c), (GDestroyNotify) conn_unref);
                  g_source_attach (c->write_source, NULL);
                }
              return;
            }
          g_error_free (error);
          rd_smtp_session_disconnected (c->session);
          conn_close (c);
          return;
        }
      g_byte_array_remove_range (c->out, 0, n);
    }
  if (c->out->len == 0 && c->close_after_write)
    conn_close (c);
}

static gboolean
on_writable (GSocket *sock, GIOCondition cond, gpointer data)
{
  Conn *c = data;
  g_source_unref (c->write_source);
  c->write_source = NULL;
  conn_flush (c);
  return G_SOURCE_REMOVE;
}

static void
session_write (RdSmtpSession *s, const char *data, gsize len, gpointer user_data)
{
  Conn *c = user_data;
  if (c->closed)
    return;
  g_byte_array_append (c->out, (const guint8 *) data, len);
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
  if (c->write_source == NULL)
    conn_flush (c);
}

static void
stored (RdSpoolItem *item, const GError *error, gpointer user_data)
{
  Conn *c = user_data;
  if (!c->closed)
    rd_smtp_session_stored (c->session, item->queue_id, error);
  rd_spool_item_free (item);
  conn_unref (c);
}

static void
session_submit (RdSmtpSession *s, RdSpoolItem *item, gpointer user_data)
{
  Conn *c = user_data;
  rd_spool_writer_submit (c->server->writer, item, stored, conn_ref (c));
}

static const RdSmtpSessionCallbacks session_callbacks = {
  .write = session_write,
  .submit = session_submit,
  .close = session_close,
};

static gboolean
on_readable (GSocket *sock, GIOCondition cond, gpointer data)
{
  Conn *c = data;
  char buf[READ_CHUNK];
  GError *error = NULL;
  gssize n = g_socket_receive (sock, buf, sizeof buf, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_error_free (error);
      return G_SOURCE_CONTINUE;
    }
  g_clear_error (&error);
  if (n <= 0)
    {
      rd_smtp_session_disconnected (c->session);
      conn_close (c);
      return G_SOURCE_REMOVE;
    }
  rd_smtp_session_feed (c->session, buf, n);
  return c->closed ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static void
conn_close (Conn *c)
{
  if (c->closed)
    return;
  c->closed = TRUE;
  if (c->read_source)
    {
      g_source_destroy (c->read_source);
      g_source_unref (c->read_source);
      c->read_source = NULL;
    }
  if (c->write_source)
    {
      g_source_destroy (c->write_source);
      g_source_unref (c->write_source);
      c->write_source = NULL;
    }
  g_socket_close (c->socket, NULL);
  if (c->server)
    {
      RdSmtpServer *srv = c->server;
      c->server = NULL;
      g_hash_table_remove (srv->conns, c); /* drops the table's ref */
    }
}

static gboolean
on_accept (GSocket *listener, GIOCondition cond, gpointer data)
{
  RdSmtpServer *srv = data;
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
      g_autofree char *addr = NULL;
      g_autoptr(GSocketAddress) remote = g_socket_get_remote_address (sock, NULL);
      if (remote && G_IS_INET_SOCKET_ADDRESS (remote))
        addr = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
      Conn *c = g_new0 (Conn, 1);
      c->refcount = 1; /* the table's */
      c->server = srv;
      c->socket = sock;
      c->out = g_byte_array_new ();
      c->session = rd_smtp_session_new (&srv->limits, addr, &session_callbacks, c);
      g_hash_table_add (srv->conns, c);
      c->read_source = g_socket_create_source (sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
      g_source_set_callback (c->read_source, (GSourceFunc) (void (*) (void)) on_readable,
                             conn_ref (c), (GDestroyNotify) conn_unref);
      g_source_attach (c->read_source, NULL);
      conn_ref (c);
      rd_smtp_session_start (c->session);
      conn_unref (c);
    }
  return G_SOURCE_CONTINUE;
}

RdSmtpServer *
rd_smtp_server_new (RdConfig *config, RdSpoolWriter *writer, GError **error)
{
  RdSmtpServer *srv = g_new0 (RdSmtpServer, 1);
  srv->config = config;
  srv->writer = writer;
  srv->limits.hostname = rd_config_get_hostname (config);
  srv->limits.max_message_size = rd_config_get_size (config, "smtp", "max_message_size", 25 * 1024 * 1024);
  srv->limits.max_recipients = (guint) rd_config_get_int (config, "smtp", "max_recipients", 100);
  srv->limits.max_errors = (guint) rd_config_get_int (config, "smtp", "max_errors", 10);
  srv->listeners = g_ptr_array_new_with_free_func (g_object_unref);
  srv->accept_sources = g_ptr_array_new ();
  srv->conns = g_hash_table_new_full (g_direct_hash, g_direct_equal, (GDestroyNotify) conn_unref, NULL);
  if (!rd_config_check_errors (config, error))
    {
      rd_smtp_server_free (srv);
      return NULL;
    }
  return srv;
}

gboolean
rd_smtp_server_listen (RdSmtpServer *srv, const char *hostport, guint16 *port_out, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  if (!rd_parse_hostport (hostport, &host, &port, error))
    return FALSE;
  g_autoptr(GInetAddress) ia = g_inet_address_new_from_string (host);
  if (ia == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "listen address '%s' is not an IP address", host);
      return FALSE;
    }
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (ia, port);
  g_autoptr(GSocket) sock = g_socket_new (g_inet_address_get_family (ia), G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, error);
  if (sock == NULL)
    return FALSE;
  if (!g_socket_bind (sock, sa, TRUE, error))
    {
      g_prefix_error (error, "cannot listen on %s: ", hostport);
      return FALSE;
    }
  g_socket_set_listen_backlog (sock, 1024);
  if (!g_socket_listen (sock, error))
    return FALSE;
  g_socket_set_blocking (sock, FALSE);
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (sock, NULL);
  guint16 bound = local ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : port;
  if (port_out)
    *port_out = bound;
  GSource *src = g_socket_create_source (sock, G_IO_IN, NULL);
  g_source_set_callback (src, (GSourceFunc) (void (*) (void)) on_accept, srv, NULL);
  g_source_attach (src, NULL);
  g_ptr_array_add (srv->accept_sources, src);
  g_ptr_array_add (srv->listeners, g_steal_pointer (&sock));
  rd_log (RD_LOG_INFO, "smtp.listen", "addr=%s port=%u", host, bound);
  return TRUE;
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
      rd_smtp_session_disconnected (c->session);
      conn_close (c);
      conn_unref (c);
    }
  g_list_free (conns);
}

void
rd_smtp_server_free (RdSmtpServer *srv)
{
  if (srv == NULL)
    return;
  rd_smtp_server_stop (srv);
  g_ptr_array_unref (srv->listeners);
  g_ptr_array_unref (srv->accept_sources);
  g_hash_table_unref (srv->conns);
  g_free (srv);
}

guint
rd_smtp_server_get_n_connections (RdSmtpServer *srv)
{
  return g_hash_table_size (srv->conns);
}
