/* The allowlist: CIDR parsing and normalisation, matching (IPv4, IPv6,
 * IPv4-mapped IPv6, expiry), and its persistence with the change counter
 * that lets serve reload it without a restart. */
#include "allowlist.h"
#include "rd-common.h"
#include "../pg/store-location.h"

#include <arpa/inet.h>
#include <glib/gstdio.h>
#include <stdlib.h>

static void
test_normalize (void)
{
  struct { const char *in, *out; } ok[] = {
    { "10.1.2.3", "10.1.2.3/32" }, { " 10.0.0.0/8 ", "10.0.0.0/8" }, { "0.0.0.0/0", "0.0.0.0/0" },
    { "::1", "::1/128" }, { "2001:DB8::/32", "2001:db8::/32" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autofree char *n = rd_allowlist_normalize_cidr (ok[i].in, NULL);
      g_assert_cmpstr (n, ==, ok[i].out);
    }
  const char *bad[] = { "", "10.1", "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/-1", "::1/129", "host.example", "1.2.3.4/x" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *n = rd_allowlist_normalize_cidr (bad[i], &error);
      g_assert_null (n);
      g_assert_error (error, RD_ERROR, RD_ERROR_INVALID_DATA);
    }
}

static gboolean
match (RdAllowlist *l, const char *ip, gint64 now)
{
  guint8 buf[16];
  if (inet_pton (AF_INET, ip, buf) == 1)
    return rd_allowlist_match (l, buf, 4, now);
  g_assert_true (inet_pton (AF_INET6, ip, buf) == 1);
  return rd_allowlist_match (l, buf, 16, now);
}

static void
test_match (void)
{
  g_autoptr(RdAllowlist) l = rd_allowlist_new ();
  g_assert_true (rd_allowlist_add (l, "127.0.0.0/8", 0, NULL));
  g_assert_true (rd_allowlist_add (l, "10.20.0.0/14", 0, NULL));
  g_assert_true (rd_allowlist_add (l, "2001:db8:1::/48", 0, NULL));
  g_assert_true (rd_allowlist_add (l, "192.0.2.7", 1000, NULL));
  g_assert_true (match (l, "127.0.0.1", 0));
  g_assert_true (match (l, "127.255.255.255", 0));
  g_assert_false (match (l, "128.0.0.1", 0));
  g_assert_true (match (l, "10.23.255.1", 0));
  g_assert_false (match (l, "10.24.0.1", 0));
  g_assert_true (match (l, "2001:db8:1:ffff::1", 0));
  g_assert_false (match (l, "2001:db8:2::1", 0));
  g_assert_false (match (l, "::1", 0));
  g_assert_true (match (l, "::ffff:127.0.0.1", 0));   /* IPv4-mapped */
  g_assert_true (match (l, "192.0.2.7", 999));         /* before expiry */
  g_assert_false (match (l, "192.0.2.7", 1000));       /* expired */
}

static void
test_store (void)
{
  g_autofree char *dir = g_dir_make_tmp ("rd-allowlist-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *loc = rd_test_store_location (dir);
  g_autoptr(RdStore) store = rd_store_open (loc, &error);
  g_assert_no_error (error);
  g_autoptr(RdStore) other = rd_store_open (loc, &error);
  g_assert_no_error (error);
  gint64 v0 = -1, v1 = -1, v2 = -1;
  g_assert_true (rd_store_allowlist_version (store, &v0, &error));
  /* A change by another connection (the CLI) moves the counter. */
  RdAllowlistEntry e = { .expires_at = 0, .staging = TRUE,
                         .application = (char *) "Payroll", .admin_email = (char *) "a@gov.example" };
  e.cidr = g_strdup ("192.0.2.0/24");
  g_assert_true (rd_store_allowlist_add (other, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpint (e.id, >, 0);
  g_free (e.cidr);
  /* PostgreSQL: the change arrives as a notification (LISTEN/NOTIFY),
   * a moment after the other connection's COMMIT. */
  for (guint i = 0; i < 100; i++)
    {
      g_assert_true (rd_store_allowlist_version (store, &v1, &error));
      if (v1 != v0)
        break;
      g_usleep (10000);
    }
  g_assert_cmpint (v1, !=, v0);
  g_assert_true (rd_store_allowlist_version (store, &v2, &error));
  g_assert_cmpint (v2, ==, v1);
  g_autoptr(GPtrArray) list = rd_store_allowlist_list (store, &error);
  g_assert_cmpuint (list->len, ==, 1);
  RdAllowlistEntry *got = g_ptr_array_index (list, 0);
  g_assert_cmpstr (got->cidr, ==, "192.0.2.0/24");
  g_assert_cmpstr (got->application, ==, "Payroll");
  g_assert_true (got->staging);
  const char *fixed[] = { "127.0.0.0/8", NULL };
  g_autoptr(RdAllowlist) l = rd_store_allowlist_load (store, fixed, &error);
  g_assert_nonnull (l);
  g_assert_cmpuint (rd_allowlist_get_size (l), ==, 2);
  g_assert_true (match (l, "192.0.2.200", 0));
  /* An expired stored entry is kept (and listed) but matches nobody. */
  RdAllowlistEntry old = { .cidr = g_strdup ("198.51.100.0/24"), .expires_at = 1000 };
  g_assert_true (rd_store_allowlist_add (other, &old, &error));
  g_free (old.cidr);
  g_autoptr(RdAllowlist) l2 = rd_store_allowlist_load (store, fixed, &error);
  g_assert_cmpuint (rd_allowlist_get_size (l2), ==, 3);
  g_assert_false (match (l2, "198.51.100.1", g_get_real_time () / G_USEC_PER_SEC));
  g_assert_true (match (l2, "198.51.100.1", 999));
  g_assert_true (rd_store_allowlist_remove (other, "198.51.100.0/24", &error));
  g_assert_true (rd_store_allowlist_remove (other, "192.0.2.0/24", &error));
  g_assert_false (rd_store_allowlist_remove (other, "192.0.2.0/24", &error));
  g_assert_error (error, RD_ERROR, RD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  gint64 v3 = v2;
  for (guint i = 0; i < 100 && v3 == v2; i++)
    {
      if (i)
        g_usleep (10000);
      g_assert_true (rd_store_allowlist_version (store, &v3, &error));
    }
  g_assert_cmpint (v3, !=, v2);
  g_clear_pointer (&store, rd_store_free);
  g_clear_pointer (&other, rd_store_free);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (cmd), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_ERROR);
  g_test_add_func ("/allowlist/normalize", test_normalize);
  g_test_add_func ("/allowlist/match", test_match);
  g_test_add_func ("/allowlist/store", test_store);
  return g_test_run ();
}
