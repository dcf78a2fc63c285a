/* relaydesk — auth: SPF (RFC 7208) with libspf2 over our resolver.
 *
 * libspf2 asks its DNS "layers" for records; ours (lookup_rr) answers
 * from the bounded resolver of dns.h and converts the answer into
 * libspf2's SPF_dns_rr_t as its own resolv layer would (A, AAAA, MX and
 * PTR names, TXT strings joined). The RFC 7208 4.6.4 limits (10 DNS
 * mechanisms, 2 void lookups) are libspf2's.
 *
 * libspf2 passes any loopback client ("localhost free ride"); we do not
 * ask it then: a message from 127.0.0.1 came through a local MTA or
 * program, whose own checks are the trusted Authentication-Results.
 */
#include "auth-private.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <string.h>

static SPF_dns_rr_t *
lookup_rr (SPF_dns_server_t *layer, const char *domain, ns_type type, int should_cache)
{
  RdDns *dns = layer->hook;
  g_autoptr(GBytes) answer = NULL;
  RdDnsStatus st = rd_dns_query (dns, domain, (guint16) type, &answer);
  switch (st)
    {
    case RD_DNS_NXDOMAIN:
      return SPF_dns_rr_new_init (layer, domain, type, 0, HOST_NOT_FOUND);
    case RD_DNS_NODATA:
      return SPF_dns_rr_new_init (layer, domain, type, 0, NO_DATA);
    case RD_DNS_TEMPFAIL:
      return SPF_dns_rr_new_init (layer, domain, type, 0, TRY_AGAIN);
    case RD_DNS_PERMFAIL:
      return SPF_dns_rr_new_init (layer, domain, type, 0, NO_RECOVERY);
    case RD_DNS_OK:
      break;
    }
  gsize len;
  const guint8 *p = g_bytes_get_data (answer, &len);
  ns_msg msg;
  if (ns_initparse (p, (int) len, &msg) < 0)
    return SPF_dns_rr_new_init (layer, domain, type, 0, NO_RECOVERY);
  SPF_dns_rr_t *rr = SPF_dns_rr_new_init (layer, domain, type, 0, NETDB_SUCCESS);
  if (rr == NULL)
    return NULL;
  int cnt = 0;
  for (int i = 0; i < ns_msg_count (msg, ns_s_an); i++)
    {
      ns_rr r;
      if (ns_parserr (&msg, ns_s_an, i, &r) != 0 || ns_rr_type (r) != type)
        continue;
      const guint8 *rd = ns_rr_rdata (r);
      gsize rdlen = ns_rr_rdlen (r);
      char name[NS_MAXDNAME];
      switch (type)
        {
        case ns_t_a:
          if (rdlen != 4 || SPF_dns_rr_buf_realloc (rr, cnt, sizeof (struct in_addr)) != SPF_E_SUCCESS)
            continue;
          memcpy (&rr->rr[cnt]->a, rd, 4);
          cnt++;
          break;
        case ns_t_aaaa:
          if (rdlen != 16 || SPF_dns_rr_buf_realloc (rr, cnt, sizeof (struct in6_addr)) != SPF_E_SUCCESS)
            continue;
          memcpy (&rr->rr[cnt]->aaaa, rd, 16);
          cnt++;
          break;
        case ns_t_mx:
        case ns_t_ptr:
          {
            const guint8 *at = type == ns_t_mx ? rd + NS_INT16SZ : rd;
            if (rdlen < (type == ns_t_mx ? NS_INT16SZ : 1)
                || ns_name_uncompress (p, p + len, at, name, sizeof name) < 0
                || SPF_dns_rr_buf_realloc (rr, cnt, strlen (name) + 1) != SPF_E_SUCCESS)
              continue;
            strcpy (type == ns_t_mx ? rr->rr[cnt]->mx : rr->rr[cnt]->ptr, name);
            cnt++;
            break;
          }
        case ns_t_txt:
          {
            if (SPF_dns_rr_buf_realloc (rr, cnt, rdlen + 1) != SPF_E_SUCCESS)
              continue;
            char *dst = rr->rr[cnt]->txt;
            for (gsize k = 0; k < rdlen;)
              {
                gsize n = MIN ((gsize) rd[k], rdlen - k - 1);
                memcpy (dst, rd + k + 1, n);
                dst += n;
                k += n + 1;
              }
            *dst = '\0';
            cnt++;
            break;
          }
        default:
          break;
        }
    }
  rr->num_rr = cnt;
  if (cnt == 0)
    rr->herrno = NO_DATA;
  return rr;
}

SPF_server_t *
rd_auth_spf_server_new (RdDns *dns, SPF_dns_server_t **layer_out)
{
  SPF_dns_server_t *layer = g_new0 (SPF_dns_server_t, 1);
  layer->destroy = NULL; /* ours: freed by rd_auth_spf_server_free */
  layer->lookup = lookup_rr;
  layer->name = "relaydesk";
  layer->hook = dns;
  *layer_out = layer;
  return SPF_server_new_dns (layer, 0);
}

static gboolean
is_loopback (const char *addr)
{
  struct in_addr v4;
  struct in6_addr v6;
  if (inet_pton (AF_INET, addr, &v4) == 1)
    return (ntohl (v4.s_addr) >> 24) == 127;
  if (inet_pton (AF_INET6, addr, &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK (&v6)
           || (IN6_IS_ADDR_V4MAPPED (&v6) && v6.s6_addr[12] == 127);
  return FALSE;
}

static RdAuthResult
map_result (SPF_result_t r)
{
  switch (r)
    {
    case SPF_RESULT_PASS: return RD_AUTH_PASS;
    case SPF_RESULT_FAIL: return RD_AUTH_FAIL;
    case SPF_RESULT_SOFTFAIL: return RD_AUTH_SOFTFAIL;
    case SPF_RESULT_NEUTRAL: return RD_AUTH_NEUTRAL;
    case SPF_RESULT_NONE: return RD_AUTH_NONE;
    case SPF_RESULT_TEMPERROR: return RD_AUTH_TEMPERROR;
    default: return RD_AUTH_PERMERROR;
    }
}

RdAuthResult
rd_auth_spf_check (SPF_server_t *server, const RdAuthInput *in, char **identity, gboolean *helo_identity,
                   char **comment)
{
  *comment = NULL;
  const char *sender = in->sender ? in->sender : "";
  const char *helo = in->helo && *in->helo ? in->helo : NULL;
  /* RFC 7208 2.4: with a null reverse-path the identity is
   * postmaster@HELO. */
  *helo_identity = *sender == '\0';
  *identity = *helo_identity ? (helo ? g_strdup_printf ("postmaster@%s", helo) : NULL) : g_strdup (sender);
  if (in->client_addr == NULL || *in->client_addr == '\0')
    {
      *comment = g_strdup ("not checked: no client address");
      return RD_AUTH_NONE;
    }
  if (is_loopback (in->client_addr))
    {
      *comment = g_strdup ("not checked: local client");
      return RD_AUTH_NONE;
    }
  if (*identity == NULL || strchr (*identity, '@') == NULL)
    {
      *comment = g_strdup ("no identity to check");
      return RD_AUTH_NONE;
    }
  SPF_request_t *req = SPF_request_new (server);
  SPF_errcode_t e = strchr (in->client_addr, ':') ? SPF_request_set_ipv6_str (req, in->client_addr)
                                                  : SPF_request_set_ipv4_str (req, in->client_addr);
  if (e != SPF_E_SUCCESS)
    {
      SPF_request_free (req);
      *comment = g_strdup ("bad client address");
      return RD_AUTH_PERMERROR;
    }
  if (helo)
    SPF_request_set_helo_dom (req, helo);
  if (SPF_request_set_env_from (req, *identity) != 0)
    {
      SPF_request_free (req);
      *comment = g_strdup ("bad envelope sender");
      return RD_AUTH_PERMERROR;
    }
  SPF_response_t *resp = NULL;
  SPF_request_query_mailfrom (req, &resp);
  RdAuthResult r = resp ? map_result (SPF_response_result (resp)) : RD_AUTH_TEMPERROR;
  if (resp)
    SPF_response_free (resp);
  SPF_request_free (req);
  return r;
}
