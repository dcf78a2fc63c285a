/* relaydesk — auth: the stub resolver (dns.h).
 *
 * Wire format (RFC 1035 4.1): a 12-byte header (id, flags with RD set,
 * one question), the question (labels, type, class IN) and an EDNS0 OPT
 * record (RFC 6891) offering 1232-byte UDP answers; over TCP the same
 * message behind a two-byte length. An answer is taken only when its id,
 * QR bit and question match ours (a stray or spoofed datagram is read
 * past and the wait goes on).
 *
 * Cache (RFC 1035 7.4, RFC 2308): answers are kept per (type, name) for
 * their TTL (the smallest of the records asked for, at most
 * DNS_CACHE_TTL_MAX), NXDOMAIN/NODATA for the SOA's negative TTL when
 * the authority section has one (RFC 2308 5: not otherwise), never a
 * failure. At most [auth] dns_cache_entries of them (0: no cache); when
 * it is full the expired ones go, then all. Every message of a domain
 * asks for the same SPF, DKIM key and DMARC records: without the cache
 * each of them was a round trip per message, most of the verification's
 * time (bench/auth-bench.py).
 */
#include "dns.h"
#include "rd-common.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DNS_SERVERS_MAX 4
#define DNS_UDP_MAX 1232          /* RFC 9715 / DNS flag day 2020 */
#define DNS_TCP_MAX 65535
#define DNS_ANSWERS_MAX 64        /* TXT records kept per name */
#define DNS_CACHE_TTL_MAX 3600    /* seconds an answer is kept at most */

typedef struct {
  GBytes *answer;
  RdDnsStatus status;
  gint64 expires;           /* monotonic µs */
} CacheEntry;

static void
cache_entry_free (gpointer p)
{
  CacheEntry *e = p;
  g_bytes_unref (e->answer);
  g_free (e);
}

struct _RdDns {
  struct sockaddr_storage servers[DNS_SERVERS_MAX];
  socklen_t server_len[DNS_SERVERS_MAX];
  guint n_servers;
  guint timeout_ms;
  gint64 deadline;
  guint queries;
  GHashTable *cache;        /* "TYPE/name" (lower case) -> CacheEntry; NULL: none */
  guint cache_max;
};

static gboolean
add_server (RdDns *d, const char *host, guint16 port)
{
  if (d->n_servers >= DNS_SERVERS_MAX)
    return FALSE;
  struct sockaddr_storage *ss = &d->servers[d->n_servers];
  memset (ss, 0, sizeof *ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) ss;
  if (inet_pton (AF_INET, host, &v4->sin_addr) == 1)
    {
      v4->sin_family = AF_INET;
      v4->sin_port = htons (port);
      d->server_len[d->n_servers++] = sizeof *v4;
      return TRUE;
    }
  if (inet_pton (AF_INET6, host, &v6->sin6_addr) == 1)
    {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons (port);
      d->server_len[d->n_servers++] = sizeof *v6;
      return TRUE;
    }
  return FALSE;
}

/* The nameserver lines of /etc/resolv.conf (resolv.conf(5)). */
static void
system_servers (RdDns *d)
{
  g_autofree char *text = NULL;
  if (g_file_get_contents ("/etc/resolv.conf", &text, NULL, NULL))
    {
      g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
      for (guint i = 0; lines[i]; i++)
        {
          g_auto(GStrv) w = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);
          if (w[0] && g_strcmp0 (w[0], "nameserver") == 0 && w[1])
            {
              char *pct = strchr (w[1], '%'); /* fe80::1%eth0: no scope ids */
              if (pct == NULL)
                add_server (d, w[1], 53);
            }
        }
    }
  if (d->n_servers == 0)
    add_server (d, "127.0.0.1", 53); /* resolv.conf(5): the default */
}

RdDns *
rd_dns_new (const char *server, guint timeout_ms, GError **error)
{
  g_autoptr(RdDns) d = g_new0 (RdDns, 1);
  d->timeout_ms = MAX (timeout_ms, 1);
  if (server == NULL || *server == '\0')
    server = g_getenv ("RELAYDESK_DNS_SERVER");
  if (server && *server)
    {
      g_autofree char *host = NULL;
      guint16 port = 0;
      if (!rd_parse_hostport (server, &host, &port, error))
        return NULL;
      if (!add_server (d, host, port))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                       "[auth] dns_server: '%s' is not an IP address and port", server);
          return NULL;
        }
    }
  else
    system_servers (d);
  return g_steal_pointer (&d);
}

RdDns *
rd_dns_new_from_config (RdConfig *config, GError **error)
{
  gint64 ms = rd_config_get_int (config, "auth", "dns_timeout_ms", 2000);
  RdDns *d = rd_dns_new (rd_config_get_string (config, "auth", "dns_server", NULL), (guint) ms, error);
  if (d)
    rd_dns_set_cache_size (d, (guint) rd_config_get_int (config, "auth", "dns_cache_entries", 4096));
  return d;
}

void
rd_dns_set_cache_size (RdDns *d, guint entries)
{
  g_clear_pointer (&d->cache, g_hash_table_unref);
  d->cache_max = entries;
  if (entries)
    d->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, cache_entry_free);
}

void
rd_dns_free (RdDns *d)
{
  if (d == NULL)
    return;
  g_clear_pointer (&d->cache, g_hash_table_unref);
  g_free (d);
}

void
rd_dns_set_deadline (RdDns *d, gint64 deadline)
{
  d->deadline = deadline;
}

guint
rd_dns_query_count (RdDns *d)
{
  return d->queries;
}

const char *
rd_dns_status_to_string (RdDnsStatus s)
{
  static const char *const names[] = { "ok", "nxdomain", "nodata", "tempfail", "permfail" };
  return (guint) s < G_N_ELEMENTS (names) ? names[s] : "unknown";
}

/* The query message for @name, @type; FALSE for a name that cannot be
 * one (RFC 1035 2.3.4: labels of 1..63 octets, 255 in all). */
static gboolean
build_query (GByteArray *q, guint16 id, const char *name, guint16 type)
{
  guint8 hdr[12] = { id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1 };
  g_byte_array_append (q, hdr, sizeof hdr);
  gsize total = 1;
  const char *p = name;
  while (*p)
    {
      const char *dot = strchr (p, '.');
      gsize n = dot ? (gsize) (dot - p) : strlen (p);
      if (n == 0 || n > 63)
        return FALSE;
      total += n + 1;
      if (total > 255)
        return FALSE;
      guint8 len = (guint8) n;
      g_byte_array_append (q, &len, 1);
      g_byte_array_append (q, (const guint8 *) p, (guint) n);
      p += n;
      if (*p == '.')
        p++;
    }
  guint8 tail[] = { 0, type >> 8, type & 0xff, 0, 1,
                    /* OPT: root name, type 41, class = UDP size, ttl 0, rdlen 0 */
                    0, 0, 41, DNS_UDP_MAX >> 8, DNS_UDP_MAX & 0xff, 0, 0, 0, 0, 0, 0 };
  g_byte_array_append (q, tail, sizeof tail);
  return TRUE;
}

/* The question of the query (after its header, before the OPT record). */
static gboolean
answer_matches (const guint8 *q, gsize qlen, const guint8 *a, gsize alen)
{
  gsize question = qlen - 12 - 11;
  if (alen < 12 + question)
    return FALSE;
  if (a[0] != q[0] || a[1] != q[1] || !(a[2] & 0x80))
    return FALSE;
  /* Names compare case-insensitively (RFC 4343): some servers echo the
   * question in another case (0x20 randomisation). */
  for (gsize i = 12; i < 12 + question; i++)
    if (g_ascii_tolower (q[i]) != g_ascii_tolower (a[i]))
      return FALSE;
  return TRUE;
}

/* Milliseconds left before the per-attempt timeout or the deadline. */
static int
remaining_ms (RdDns *d, gint64 attempt_end)
{
  gint64 end = attempt_end;
  if (d->deadline && d->deadline < end)
    end = d->deadline;
  gint64 left = (end - g_get_monotonic_time ()) / 1000;
  return left > 0 ? (int) MIN (left, G_MAXINT) : 0;
}

static gboolean
wait_fd (RdDns *d, int fd, short events, gint64 attempt_end)
{
  for (;;)
    {
      int ms = remaining_ms (d, attempt_end);
      if (ms <= 0)
        return FALSE;
      struct pollfd p = { fd, events, 0 };
      int r = poll (&p, 1, ms);
      if (r > 0)
        return TRUE;
      if (r == 0 || errno != EINTR)
        return FALSE;
    }
}

/* One UDP exchange with server @i: the answer, or NULL (timeout, error).
 * @truncated: the server set TC. */
static GBytes *
exchange_udp (RdDns *d, guint i, const GByteArray *q, gboolean *truncated)
{
  *truncated = FALSE;
  int fd = socket (d->servers[i].ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return NULL;
  GBytes *result = NULL;
  gint64 attempt_end = g_get_monotonic_time () + (gint64) d->timeout_ms * 1000;
  /* connect(): ICMP port unreachable comes back as ECONNREFUSED at once
   * instead of a silent timeout. */
  if (connect (fd, (struct sockaddr *) &d->servers[i], d->server_len[i]) != 0
      || send (fd, q->data, q->len, 0) != (gssize) q->len)
    goto out;
  guint8 buf[DNS_UDP_MAX + 512];
  while (wait_fd (d, fd, POLLIN, attempt_end))
    {
      gssize n = recv (fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (n < 0)
        break;
      if (!answer_matches (q->data, q->len, buf, (gsize) n))
        continue; /* not ours: keep waiting */
      if (buf[2] & 0x02)
        *truncated = TRUE;
      else
        result = g_bytes_new (buf, (gsize) n);
      break;
    }
out:
  close (fd);
  return result;
}

static gboolean
io_all (RdDns *d, int fd, guint8 *buf, gsize len, gboolean writing, gint64 attempt_end)
{
  gsize done = 0;
  while (done < len)
    {
      if (!wait_fd (d, fd, writing ? POLLOUT : POLLIN, attempt_end))
        return FALSE;
      gssize n = writing ? send (fd, buf + done, len - done, MSG_NOSIGNAL) : recv (fd, buf + done, len - done, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (n <= 0)
        return FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

/* The same question over TCP (RFC 7766), after a truncated UDP answer. */
static GBytes *
exchange_tcp (RdDns *d, guint i, const GByteArray *q)
{
  int fd = socket (d->servers[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return NULL;
  GBytes *result = NULL;
  /* Declared before the first goto: a cleanup must never run on an
   * uninitialised pointer. */
  g_autofree guint8 *msg = NULL;
  g_autofree guint8 *ans = NULL;
  gint64 attempt_end = g_get_monotonic_time () + (gint64) d->timeout_ms * 1000;
  if (connect (fd, (struct sockaddr *) &d->servers[i], d->server_len[i]) != 0 && errno != EINPROGRESS)
    goto out;
  if (!wait_fd (d, fd, POLLOUT, attempt_end))
    goto out;
  int err = 0;
  socklen_t el = sizeof err;
  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)
    goto out;
  msg = g_malloc (q->len + 2);
  msg[0] = (guint8) (q->len >> 8);
  msg[1] = (guint8) (q->len & 0xff);
  memcpy (msg + 2, q->data, q->len);
  guint8 lenbuf[2];
  if (!io_all (d, fd, msg, q->len + 2, TRUE, attempt_end) || !io_all (d, fd, lenbuf, 2, FALSE, attempt_end))
    goto out;
  gsize alen = ((gsize) lenbuf[0] << 8) | lenbuf[1];
  ans = g_malloc (MAX (alen, 1));
  if (!io_all (d, fd, ans, alen, FALSE, attempt_end) || !answer_matches (q->data, q->len, ans, alen))
    goto out;
  result = g_bytes_new (ans, alen);
out:
  close (fd);
  return result;
}

static gboolean
expired (gpointer key, gpointer value, gpointer now)
{
  (void) key;
  return ((CacheEntry *) value)->expires <= *(gint64 *) now;
}

/* Seconds @a may be kept (0: not at all): the smallest TTL of the
 * answer's records of @type; for NXDOMAIN/NODATA the smaller of the
 * SOA's TTL and its MINIMUM (RFC 2308 5). */
static guint32
cache_ttl (const guint8 *p, gsize len, guint16 type, RdDnsStatus status)
{
  ns_msg msg;
  if (ns_initparse (p, (int) len, &msg) < 0)
    return 0;
  guint32 ttl = DNS_CACHE_TTL_MAX;
  gboolean any = FALSE;
  ns_sect sect = status == RD_DNS_OK ? ns_s_an : ns_s_ns;
  for (int i = 0; i < ns_msg_count (msg, sect); i++)
    {
      ns_rr rr;
      if (ns_parserr (&msg, sect, i, &rr) != 0)
        return 0;
      if (status == RD_DNS_OK && ns_rr_type (rr) == type)
        {
          ttl = MIN (ttl, ns_rr_ttl (rr));
          any = TRUE;
        }
      else if (status != RD_DNS_OK && ns_rr_type (rr) == ns_t_soa && ns_rr_rdlen (rr) >= 20)
        {
          const guint8 *r = ns_rr_rdata (rr) + ns_rr_rdlen (rr) - 4;
          guint32 minimum = ((guint32) r[0] << 24) | ((guint32) r[1] << 16) | ((guint32) r[2] << 8) | r[3];
          ttl = MIN (ttl, MIN (ns_rr_ttl (rr), minimum));
          any = TRUE;
        }
    }
  return any ? ttl : 0;
}

static void
cache_store (RdDns *d, char *key, GBytes *answer, RdDnsStatus status, guint16 type)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (answer, &len);
  guint32 ttl = cache_ttl (p, len, type, status);
  if (ttl == 0)
    {
      g_free (key);
      return;
    }
  gint64 now = g_get_monotonic_time ();
  if (g_hash_table_size (d->cache) >= d->cache_max)
    g_hash_table_foreach_remove (d->cache, expired, &now);
  if (g_hash_table_size (d->cache) >= d->cache_max)
    g_hash_table_remove_all (d->cache);
  CacheEntry *e = g_new (CacheEntry, 1);
  e->answer = g_bytes_ref (answer);
  e->status = status;
  e->expires = now + (gint64) ttl * G_USEC_PER_SEC;
  g_hash_table_replace (d->cache, key, e);
}

static RdDnsStatus rd_dns_query_wire (RdDns *d, const char *name, guint16 type, GBytes **answer);

RdDnsStatus
rd_dns_query (RdDns *d, const char *name, guint16 type, GBytes **answer)
{
  *answer = NULL;
  if (name == NULL)
    return RD_DNS_PERMFAIL;
  if (d->cache == NULL)
    return rd_dns_query_wire (d, name, type, answer);
  g_autofree char *lower = g_ascii_strdown (name, -1);
  gsize n = strlen (lower);
  if (n && lower[n - 1] == '.')
    lower[n - 1] = '\0';   /* "example.org." is "example.org" */
  char *key = g_strdup_printf ("%u/%s", type, lower);
  CacheEntry *e = g_hash_table_lookup (d->cache, key);
  if (e && e->expires > g_get_monotonic_time ())
    {
      g_free (key);
      *answer = g_bytes_ref (e->answer);
      return e->status;
    }
  RdDnsStatus st = rd_dns_query_wire (d, name, type, answer);
  if (*answer && (st == RD_DNS_OK || st == RD_DNS_NODATA || st == RD_DNS_NXDOMAIN))
    cache_store (d, key, *answer, st, type);
  else
    g_free (key);
  return st;
}

/* The question asked on the wire, no cache. */
static RdDnsStatus
rd_dns_query_wire (RdDns *d, const char *name, guint16 type, GBytes **answer)
{
  g_autoptr(GByteArray) q = g_byte_array_new ();
  guint16 id = (guint16) g_random_int_range (0, 65536);
  if (!build_query (q, id, name, type))
    return RD_DNS_PERMFAIL;
  GBytes *a = NULL;
  for (guint i = 0; i < d->n_servers && a == NULL; i++)
    {
      if (d->deadline && g_get_monotonic_time () >= d->deadline)
        break;
      d->queries++;
      gboolean truncated = FALSE;
      a = exchange_udp (d, i, q, &truncated);
      if (truncated)
        a = exchange_tcp (d, i, q);
    }
  if (a == NULL)
    return RD_DNS_TEMPFAIL;
  gsize len;
  const guint8 *p = g_bytes_get_data (a, &len);
  guint rcode = p[3] & 0x0f;
  if (rcode == ns_r_nxdomain)
    {
      *answer = a;
      return RD_DNS_NXDOMAIN;
    }
  if (rcode != ns_r_noerror)
    {
      g_bytes_unref (a);
      return rcode == ns_r_formerr ? RD_DNS_PERMFAIL : RD_DNS_TEMPFAIL;
    }
  ns_msg msg;
  if (ns_initparse (p, (int) len, &msg) < 0)
    {
      g_bytes_unref (a);
      return RD_DNS_PERMFAIL;
    }
  guint n = 0;
  for (int i = 0; i < ns_msg_count (msg, ns_s_an); i++)
    {
      ns_rr rr;
      if (ns_parserr (&msg, ns_s_an, i, &rr) == 0 && ns_rr_type (rr) == type)
        n++;
    }
  *answer = a;
  return n ? RD_DNS_OK : RD_DNS_NODATA;
}

RdDnsStatus
rd_dns_txt (RdDns *d, const char *name, GPtrArray **records)
{
  *records = NULL;
  g_autoptr(GBytes) a = NULL;
  RdDnsStatus st = rd_dns_query (d, name, ns_t_txt, &a);
  if (st != RD_DNS_OK)
    return st;
  gsize len;
  const guint8 *p = g_bytes_get_data (a, &len);
  ns_msg msg;
  if (ns_initparse (p, (int) len, &msg) < 0)
    return RD_DNS_PERMFAIL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < ns_msg_count (msg, ns_s_an) && out->len < DNS_ANSWERS_MAX; i++)
    {
      ns_rr rr;
      if (ns_parserr (&msg, ns_s_an, i, &rr) != 0 || ns_rr_type (rr) != ns_t_txt)
        continue;
      const guint8 *r = ns_rr_rdata (rr);
      gsize rl = ns_rr_rdlen (rr);
      GString *s = g_string_new (NULL);
      /* <character-string>s: a length octet and that many octets each. */
      for (gsize k = 0; k < rl;)
        {
          gsize n = r[k++];
          n = MIN (n, rl - k);
          g_string_append_len (s, (const char *) r + k, (gssize) n);
          k += n;
        }
      g_ptr_array_add (out, g_string_free (s, FALSE));
    }
  *records = g_steal_pointer (&out);
  return RD_DNS_OK;
}
