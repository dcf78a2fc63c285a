/* relaydesk — auth: a small stub resolver with bounded time.
 *
 * SPF, DKIM and DMARC each need DNS (TXT, A, AAAA, MX, PTR); the
 * libraries' own resolvers (res_query, per library) cannot be pointed at
 * one server or given a deadline in milliseconds. This one sends one
 * query at a time over UDP (TCP when the answer is truncated, RFC 7766)
 * to the configured server ([auth] dns_server, ADDR:PORT, for tests and
 * split horizon) or to the nameservers of /etc/resolv.conf, waits at most
 * [auth] dns_timeout per attempt and never past the deadline set for the
 * message (rd_dns_set_deadline), so a slow or silent DNS makes the checks
 * temperror, never a stuck worker. Answers are parsed with libresolv's
 * ns_initparse()/ns_parserr() (part of glibc). Answers are cached for
 * their TTL ([auth] dns_cache_entries, dns.c), failures never.
 *
 * One RdDns per thread (it is not locked).
 */
#pragma once

#include <glib.h>
#include "rd-config.h"

G_BEGIN_DECLS

typedef struct _RdDns RdDns;

typedef enum {
  RD_DNS_OK,          /* an answer with records of the type asked */
  RD_DNS_NXDOMAIN,    /* the name does not exist */
  RD_DNS_NODATA,      /* the name exists, no record of that type */
  RD_DNS_TEMPFAIL,    /* timeout, SERVFAIL, REFUSED, network error, deadline */
  RD_DNS_PERMFAIL,    /* a malformed name or answer */
} RdDnsStatus;

/* @server: "ADDR:PORT" or "[V6]:PORT" (NULL or "": $RELAYDESK_DNS_SERVER
 * when set, else the nameservers of /etc/resolv.conf). (transfer full) */
RdDns *rd_dns_new (const char *server, guint timeout_ms, GError **error);
/* From [auth] dns_server and dns_timeout. (transfer full) */
RdDns *rd_dns_new_from_config (RdConfig *config, GError **error);
void rd_dns_free (RdDns *dns);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdDns, rd_dns_free)

/* Keep at most @entries answers for their TTL (0: no cache; from
 * [auth] dns_cache_entries by rd_dns_new_from_config). Clears the cache. */
void rd_dns_set_cache_size (RdDns *dns, guint entries);

/* Every query fails with RD_DNS_TEMPFAIL once the monotonic clock passes
 * @deadline (µs, g_get_monotonic_time); 0: no deadline. */
void rd_dns_set_deadline (RdDns *dns, gint64 deadline);
/* Queries sent since rd_dns_new (for logs and the bench): answers from
 * the cache are not counted. */
guint rd_dns_query_count (RdDns *dns);

/* The whole answer message of a query of @type (ns_t_txt, ...) for
 * @name, in @answer (transfer full) when RD_DNS_OK, NODATA or NXDOMAIN. */
RdDnsStatus rd_dns_query (RdDns *dns, const char *name, guint16 type, GBytes **answer);

/* The TXT records of @name, each one's strings joined (RFC 7208 3.3,
 * RFC 6376 3.6.2.2), as char* in @records (transfer full) when RD_DNS_OK. */
RdDnsStatus rd_dns_txt (RdDns *dns, const char *name, GPtrArray **records);

const char *rd_dns_status_to_string (RdDnsStatus status);

G_END_DECLS
