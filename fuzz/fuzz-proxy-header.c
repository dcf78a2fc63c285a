/* Fuzz target proxy-header: arbitrary first octets of a connection from
 * a trusted proxy into the PROXY protocol parser (v1 and v2), whole and
 * then growing one octet at a time as the server receives them. The
 * parser must never read past @len, must agree with itself on every
 * prefix (MORE until DONE or INVALID, and the same header once DONE),
 * and a DONE header is never longer than the input. */
#include "proxy-protocol.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 4096)
    return 0;
  RdProxyHeader whole;
  RdProxyResult r = rd_proxy_parse (data, size, &whole, NULL);
  if (r == RD_PROXY_DONE && (whole.length > size || whole.length == 0))
    __builtin_trap ();
  /* Prefix by prefix, each in a buffer of exactly its size (ASan sees
   * any read past it). */
  for (size_t n = 0; n <= size; n++)
    {
      uint8_t *copy = g_memdup2 (data, n ? n : 1);
      RdProxyHeader h;
      RdProxyResult p = rd_proxy_parse (copy, n, &h, NULL);
      g_free (copy);
      if (p == RD_PROXY_MORE)
        continue;
      if (p != r || (p == RD_PROXY_DONE && (h.length != whole.length || h.local != whole.local
                                            || memcmp (h.src, whole.src, sizeof h.src) != 0
                                            || h.src_port != whole.src_port)))
        __builtin_trap ();
      break;
    }
  (void) rd_proxy_looks_like (data, size ? size : 0);
  return 0;
}
