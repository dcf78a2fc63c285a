/* relaydesk tests — where a test's store is: its temporary directory
 * (SQLite), or, when the test runs in its PostgreSQL row (tests/meson.build
 * runs it through tests/pg/pgserver.py, which sets RD_TEST_DATABASE_URL),
 * a schema of that server named after the directory. The same directory
 * gives the same schema, so reopening a store finds its data; another
 * directory starts empty, as SQLite would.
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

/* TRUE when the test runs against PostgreSQL. */
static inline gboolean
rd_test_store_is_pg (void)
{
  const char *url = g_getenv ("RD_TEST_DATABASE_URL");
  return url && *url;
}

/* (transfer full) */
static inline char *
rd_test_store_location (const char *dir)
{
  const char *url = g_getenv ("RD_TEST_DATABASE_URL");
  if (!url || !*url)
    return g_strdup (dir);
  g_autofree char *canon = g_canonicalize_filename (dir, NULL);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA1, canon, -1);
  g_autofree char *schema = g_strdup_printf ("t_%.20s", hash);
  PGconn *c = PQconnectdb (url);
  g_assert_cmpint (PQstatus (c), ==, CONNECTION_OK);
  g_autofree char *sql = g_strdup_printf ("SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS %s", schema);
  PGresult *r = PQexec (c, sql);
  g_assert_cmpint (PQresultStatus (r), ==, PGRES_COMMAND_OK);
  PQclear (r);
  PQfinish (c);
  return g_strdup_printf ("%s%soptions=-csearch_path%%3D%s", url, strchr (url, '?') ? "&" : "?", schema);
}

/* One integer from @sql run on the store of @dir (tests that count rows
 * behind the store's back). */
static inline gint64
rd_test_store_query_int (const char *dir, const char *sql)
{
  g_autofree char *loc = rd_test_store_location (dir);
  PGconn *c = PQconnectdb (loc);
  g_assert_cmpint (PQstatus (c), ==, CONNECTION_OK);
  PGresult *r = PQexec (c, sql);
  g_assert_cmpint (PQresultStatus (r), ==, PGRES_TUPLES_OK);
  g_assert_cmpint (PQntuples (r), ==, 1);
  gint64 v = g_ascii_strtoll (PQgetvalue (r, 0, 0), NULL, 10);
  PQclear (r);
  PQfinish (c);
  return v;
}
