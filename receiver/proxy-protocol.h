/* relaydesk — receiver: the PROXY protocol header (HAProxy, versions 1
 * and 2; https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt).
 *
 * A load balancer in TCP mode opens its connection to us with one header
 * naming the client it accepted, before any SMTP or TLS byte:
 *
 *   v1: "PROXY TCP4 192.0.2.1 198.51.100.2 51234 25\r\n" (text, at most
 *       107 octets with the CRLF; "PROXY UNKNOWN ...\r\n" names nobody);
 *   v2: the 12-octet signature \r\n\r\n\0\r\nQUIT\n, one octet version
 *       (high nibble 2) and command (0 LOCAL, 1 PROXY), one octet family
 *       and transport (0x11 TCP over IPv4, 0x21 TCP over IPv6, 0x00
 *       unspecified), a 16-bit big-endian length, then the addresses and
 *       ports (12 or 36 octets) and optional TLVs, which are skipped.
 *
 * The parser does no I/O and keeps no state: give it the bytes received
 * so far; it says "more", "done" (with the header's length, so the
 * octets after it go to TLS or the SMTP session) or "invalid". Who may
 * send a header is the server's policy ([smtp] proxy_trusted).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RD_PROXY_V1_MAX 107          /* spec 2.1: the longest v1 line */
#define RD_PROXY_V2_MAX (16 + 1024)  /* our cap: addresses and a few TLVs */

typedef enum {
  RD_PROXY_MORE,     /* a valid beginning: read more */
  RD_PROXY_DONE,     /* a complete header */
  RD_PROXY_INVALID,  /* not a PROXY header, or a malformed one */
} RdProxyResult;

typedef struct {
  guint version;         /* 1 or 2 */
  gboolean local;        /* no client named (v2 LOCAL, v1 UNKNOWN, v2
                          * unspecified family): use the socket's peer */
  guint addr_len;        /* 4 or 16 (0 when local) */
  guint8 src[16];        /* the client's address, network order */
  guint8 dst[16];        /* the address the proxy accepted it on */
  guint16 src_port, dst_port;
  gsize length;          /* octets of the header */
} RdProxyHeader;

/* Reads a header at the start of @data (@len octets received so far).
 * On RD_PROXY_INVALID, @why (may be NULL) says what is wrong (static). */
RdProxyResult rd_proxy_parse (const guint8 *data, gsize len, RdProxyHeader *out, const char **why);

/* TRUE when @data (@len octets, len >= 1) could begin a PROXY header of
 * either version: the first octets of "PROXY " or of the v2 signature. */
gboolean rd_proxy_looks_like (const guint8 *data, gsize len);

G_END_DECLS
