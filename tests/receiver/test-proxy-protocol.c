/* The PROXY protocol parser (receiver/proxy-protocol.c): v1 and v2
 * headers as HAProxy sends them, every prefix of each ("more"), what
 * follows the header left alone, and malformed headers refused. */
#include "proxy-protocol.h"

#include <string.h>
#include <arpa/inet.h>

static const guint8 sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

/* Parses @data whole and checks that every shorter prefix says MORE. */
static RdProxyResult
parse_all (const guint8 *data, gsize len, RdProxyHeader *h, const char **why)
{
  RdProxyResult r = rd_proxy_parse (data, len, h, why);
  gsize end = r == RD_PROXY_DONE ? h->length : 0;
  for (gsize n = 0; n < end; n++)
    {
      RdProxyHeader p;
      g_assert_cmpint (rd_proxy_parse (data, n, &p, NULL), ==, RD_PROXY_MORE);
    }
  return r;
}

static void
assert_addr (const RdProxyHeader *h, int family, const char *text)
{
  char buf[INET6_ADDRSTRLEN];
  g_assert_nonnull (inet_ntop (family, h->src, buf, sizeof buf));
  g_assert_cmpstr (buf, ==, text);
}

static void
test_v1 (void)
{
  RdProxyHeader h;
  const char *why = NULL;
  const char *t4 = "PROXY TCP4 192.0.2.10 198.51.100.1 51234 25\r\nEHLO x\r\n";
  g_assert_cmpint (parse_all ((const guint8 *) t4, strlen (t4), &h, &why), ==, RD_PROXY_DONE);
  g_assert_cmpuint (h.version, ==, 1);
  g_assert_false (h.local);
  g_assert_cmpuint (h.addr_len, ==, 4);
  assert_addr (&h, AF_INET, "192.0.2.10");
  g_assert_cmpuint (h.src_port, ==, 51234);
  g_assert_cmpuint (h.dst_port, ==, 25);
  g_assert_cmpuint (h.length, ==, strlen (t4) - strlen ("EHLO x\r\n"));
  const char *t6 = "PROXY TCP6 2001:db8::10 2001:db8::1 1 465\r\n";
  g_assert_cmpint (parse_all ((const guint8 *) t6, strlen (t6), &h, &why), ==, RD_PROXY_DONE);
  g_assert_cmpuint (h.addr_len, ==, 16);
  assert_addr (&h, AF_INET6, "2001:db8::10");
  const char *unknown = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
  g_assert_cmpint (parse_all ((const guint8 *) unknown, strlen (unknown), &h, &why), ==, RD_PROXY_DONE);
  g_assert_true (h.local);

  static const char *const bad[] = {
    "PROXY TCP4 192.0.2.10 198.51.100.1 051234 25\r\n",   /* leading zero */
    "PROXY TCP4 192.0.2.10 198.51.100.1 65536 25\r\n",    /* port range */
    "PROXY TCP4 2001:db8::1 198.51.100.1 1 25\r\n",       /* v6 under TCP4 */
    "PROXY TCP4 192.0.2.10  198.51.100.1 1 25\r\n",       /* two spaces */
    "PROXY TCP4 192.0.2.10 198.51.100.1 1 25\n",          /* no CR */
    "PROXY UDP4 192.0.2.10 198.51.100.1 1 25\r\n",
    "PROXY TCP4 192.0.2.10 198.51.100.1 1\r\n",
    "PROXYTCP4\r\n",
    "EHLO x\r\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      why = NULL;
      g_assert_cmpint (rd_proxy_parse ((const guint8 *) bad[i], strlen (bad[i]), &h, &why), ==, RD_PROXY_INVALID);
      g_assert_nonnull (why);
    }
  /* A line that never ends is refused at 107 octets (spec 2.1). */
  g_autofree char *endless = g_strnfill (200, '1');
  memcpy (endless, "PROXY TCP4 ", 11);
  g_assert_cmpint (rd_proxy_parse ((const guint8 *) endless, 106, &h, NULL), ==, RD_PROXY_MORE);
  g_assert_cmpint (rd_proxy_parse ((const guint8 *) endless, 107, &h, NULL), ==, RD_PROXY_INVALID);
}

static GByteArray *
v2 (guint8 ver_cmd, guint8 fam, const guint8 *body, gsize len)
{
  GByteArray *b = g_byte_array_new ();
  g_byte_array_append (b, sig, 12);
  guint8 hdr[4] = { ver_cmd, fam, (guint8) (len >> 8), (guint8) len };
  g_byte_array_append (b, hdr, 4);
  g_byte_array_append (b, body, (guint) len);
  return b;
}

static void
test_v2 (void)
{
  RdProxyHeader h;
  guint8 v4[12 + 5];
  inet_pton (AF_INET, "192.0.2.10", v4);
  inet_pton (AF_INET, "198.51.100.1", v4 + 4);
  v4[8] = 0xC8, v4[9] = 0x22, v4[10] = 0, v4[11] = 25;
  memcpy (v4 + 12, "\x01\x00\x02h2", 5); /* an ALPN TLV, skipped */
  g_autoptr(GByteArray) a = v2 (0x21, 0x11, v4, sizeof v4);
  g_byte_array_append (a, (const guint8 *) "EHLO x\r\n", 8);
  g_assert_cmpint (parse_all (a->data, a->len, &h, NULL), ==, RD_PROXY_DONE);
  g_assert_cmpuint (h.version, ==, 2);
  g_assert_false (h.local);
  assert_addr (&h, AF_INET, "192.0.2.10");
  g_assert_cmpuint (h.src_port, ==, 0xC822);
  g_assert_cmpuint (h.length, ==, 16 + sizeof v4);

  guint8 v6[36] = { 0 };
  inet_pton (AF_INET6, "2001:db8::10", v6);
  inet_pton (AF_INET6, "2001:db8::1", v6 + 16);
  v6[35] = 25;
  g_autoptr(GByteArray) b = v2 (0x21, 0x21, v6, sizeof v6);
  g_assert_cmpint (parse_all (b->data, b->len, &h, NULL), ==, RD_PROXY_DONE);
  assert_addr (&h, AF_INET6, "2001:db8::10");

  g_autoptr(GByteArray) local = v2 (0x20, 0x00, NULL, 0);
  g_assert_cmpint (parse_all (local->data, local->len, &h, NULL), ==, RD_PROXY_DONE);
  g_assert_true (h.local);
  g_assert_cmpuint (h.length, ==, 16);

  const char *why = NULL;
  g_autoptr(GByteArray) badver = v2 (0x11, 0x11, v4, 12);
  g_assert_cmpint (rd_proxy_parse (badver->data, badver->len, &h, &why), ==, RD_PROXY_INVALID);
  g_autoptr(GByteArray) badcmd = v2 (0x22, 0x11, v4, 12);
  g_assert_cmpint (rd_proxy_parse (badcmd->data, badcmd->len, &h, &why), ==, RD_PROXY_INVALID);
  g_autoptr(GByteArray) shortv4 = v2 (0x21, 0x11, v4, 8);
  g_assert_cmpint (rd_proxy_parse (shortv4->data, shortv4->len, &h, &why), ==, RD_PROXY_INVALID);
  g_autoptr(GByteArray) unix_fam = v2 (0x21, 0x31, v6, sizeof v6);
  g_assert_cmpint (rd_proxy_parse (unix_fam->data, unix_fam->len, &h, &why), ==, RD_PROXY_INVALID);
  /* a declared length over the cap is refused before it is read */
  guint8 huge[16];
  memcpy (huge, sig, 12);
  huge[12] = 0x21, huge[13] = 0x11, huge[14] = 0xFF, huge[15] = 0xFF;
  g_assert_cmpint (rd_proxy_parse (huge, sizeof huge, &h, &why), ==, RD_PROXY_INVALID);
}

static void
test_looks_like (void)
{
  g_assert_true (rd_proxy_looks_like ((const guint8 *) "PRO", 3));
  g_assert_true (rd_proxy_looks_like ((const guint8 *) "PROXY TCP4", 10));
  g_assert_true (rd_proxy_looks_like (sig, 5));
  g_assert_false (rd_proxy_looks_like ((const guint8 *) "EHLO x\r\n", 8));
  g_assert_false (rd_proxy_looks_like ((const guint8 *) "\x16\x03\x01", 3));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy-protocol/v1", test_v1);
  g_test_add_func ("/proxy-protocol/v2", test_v2);
  g_test_add_func ("/proxy-protocol/looks-like", test_looks_like);
  return g_test_run ();
}
