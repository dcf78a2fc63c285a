/* relaydesk — receiver: the PROXY protocol header (see proxy-protocol.h). */
#include "proxy-protocol.h"

#include <string.h>
#include <arpa/inet.h>

static const guint8 v2_signature[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

static RdProxyResult
invalid (const char **why, const char *text)
{
  if (why)
    *why = text;
  return RD_PROXY_INVALID;
}

gboolean
rd_proxy_looks_like (const guint8 *data, gsize len)
{
  return memcmp (data, "PROXY ", MIN (len, 6)) == 0 || memcmp (data, v2_signature, MIN (len, 12)) == 0;
}

/* A decimal port: 1 to 5 digits, no leading zero (spec 2.1), <= 65535. */
static gboolean
parse_port (const char *s, guint16 *port)
{
  gsize n = strlen (s);
  if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
    return FALSE;
  guint v = 0;
  for (gsize i = 0; i < n; i++)
    {
      if (!g_ascii_isdigit (s[i]))
        return FALSE;
      v = v * 10 + (guint) (s[i] - '0');
    }
  if (v > 65535)
    return FALSE;
  *port = (guint16) v;
  return TRUE;
}

static RdProxyResult
parse_v1 (const guint8 *data, gsize len, RdProxyHeader *out, const char **why)
{
  const guint8 *lf = memchr (data, '\n', MIN (len, (gsize) RD_PROXY_V1_MAX));
  if (lf == NULL)
    return len >= RD_PROXY_V1_MAX ? invalid (why, "v1 line too long") : RD_PROXY_MORE;
  gsize n = (gsize) (lf - data);
  if (n < 1 || data[n - 1] != '\r')
    return invalid (why, "v1 line not ended by CRLF");
  g_autofree char *line = g_strndup ((const char *) data, n - 1);
  if (strlen (line) != n - 1)
    return invalid (why, "NUL in v1 line");
  out->version = 1;
  out->length = n + 1;
  /* "PROXY" SP proto [SP src SP dst SP sport SP dport], single spaces */
  g_auto(GStrv) w = g_strsplit (line, " ", 8);
  guint nw = g_strv_length (w);
  if (nw >= 2 && strcmp (w[1], "UNKNOWN") == 0)
    {
      out->local = TRUE; /* spec 2.1: whatever follows is ignored */
      return RD_PROXY_DONE;
    }
  if (nw != 6)
    return invalid (why, "v1 line does not have six fields");
  int family;
  if (strcmp (w[1], "TCP4") == 0)
    family = AF_INET, out->addr_len = 4;
  else if (strcmp (w[1], "TCP6") == 0)
    family = AF_INET6, out->addr_len = 16;
  else
    return invalid (why, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
  if (inet_pton (family, w[2], out->src) != 1 || inet_pton (family, w[3], out->dst) != 1)
    return invalid (why, "v1 address malformed");
  if (!parse_port (w[4], &out->src_port) || !parse_port (w[5], &out->dst_port))
    return invalid (why, "v1 port malformed");
  return RD_PROXY_DONE;
}

static RdProxyResult
parse_v2 (const guint8 *data, gsize len, RdProxyHeader *out, const char **why)
{
  if (len < 16)
    return RD_PROXY_MORE;
  guint8 ver = data[12] >> 4, cmd = data[12] & 0x0F, fam = data[13];
  gsize body = ((gsize) data[14] << 8) | data[15];
  if (ver != 2)
    return invalid (why, "v2 version is not 2");
  if (cmd > 1)
    return invalid (why, "v2 command is not LOCAL or PROXY");
  if (16 + body > RD_PROXY_V2_MAX)
    return invalid (why, "v2 header too long");
  if (len < 16 + body)
    return RD_PROXY_MORE;
  out->version = 2;
  out->length = 16 + body;
  if (cmd == 0)
    {
      out->local = TRUE; /* the proxy's own connection (a health check) */
      return RD_PROXY_DONE;
    }
  const guint8 *a = data + 16;
  switch (fam)
    {
    case 0x00:
      out->local = TRUE; /* unspecified: spec 2.2 says use the real endpoints */
      return RD_PROXY_DONE;
    case 0x11: /* TCP over IPv4 */
      if (body < 12)
        return invalid (why, "v2 IPv4 block too short");
      out->addr_len = 4;
      memcpy (out->src, a, 4);
      memcpy (out->dst, a + 4, 4);
      out->src_port = (guint16) ((a[8] << 8) | a[9]);
      out->dst_port = (guint16) ((a[10] << 8) | a[11]);
      return RD_PROXY_DONE;
    case 0x21: /* TCP over IPv6 */
      if (body < 36)
        return invalid (why, "v2 IPv6 block too short");
      out->addr_len = 16;
      memcpy (out->src, a, 16);
      memcpy (out->dst, a + 16, 16);
      out->src_port = (guint16) ((a[32] << 8) | a[33]);
      out->dst_port = (guint16) ((a[34] << 8) | a[35]);
      return RD_PROXY_DONE;
    default:
      return invalid (why, "v2 family is not TCP over IPv4 or IPv6");
    }
}

RdProxyResult
rd_proxy_parse (const guint8 *data, gsize len, RdProxyHeader *out, const char **why)
{
  memset (out, 0, sizeof *out);
  if (len == 0)
    return RD_PROXY_MORE;
  if (data[0] == 'P')
    {
      if (memcmp (data, "PROXY ", MIN (len, 6)) != 0)
        return invalid (why, "not a PROXY header");
      return len < 6 ? RD_PROXY_MORE : parse_v1 (data, len, out, why);
    }
  if (memcmp (data, v2_signature, MIN (len, 12)) != 0)
    return invalid (why, "not a PROXY header");
  return len < 12 ? RD_PROXY_MORE : parse_v2 (data, len, out, why);
}
