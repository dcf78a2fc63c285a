/* relaydesk — store: the SMTP client allowlist (see allowlist.h).
 *
 * Tables (migration 0100-allowlist):
 *   allowlist(id, cidr UNIQUE, created_at, expires_at NULL=never, staging,
 *             application, admin_name, admin_email, location, note)
 *   allowlist_version(id=1, version): bumped by triggers on every change.
 */
#include "allowlist.h"
#include "store-private.h"

#include <string.h>
#include <arpa/inet.h>

#define MAX_ALLOWLIST_ENTRIES 100000  /* a cap on what serve loads */

void
rd_allowlist_entry_free (RdAllowlistEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->cidr);
  g_free (e->application);
  g_free (e->admin_name);
  g_free (e->admin_email);
  g_free (e->location);
  g_free (e->note);
  g_free (e);
}

char *
rd_allowlist_normalize_cidr (const char *text, GError **error)
{
  guint8 net[16] = { 0 };
  gsize len = 0;
  guint prefix = 0;
  if (!rd_parse_cidr (text, net, &len, &prefix, error))
    return NULL;
  char buf[INET6_ADDRSTRLEN];
  inet_ntop (len == 4 ? AF_INET : AF_INET6, net, buf, sizeof buf);
  return g_strdup_printf ("%s/%u", buf, prefix);
}

gboolean
rd_store_allowlist_add (RdStore *store, RdAllowlistEntry *e, GError **error)
{
  g_autofree char *cidr = rd_allowlist_normalize_cidr (e->cidr, error);
  if (cidr == NULL)
    return FALSE;
  g_free (e->cidr);
  e->cidr = g_steal_pointer (&cidr);
  e->created_at = rd_store_now ();
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_ALLOWLIST_ADD, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, e->cidr);
  rd_db_bind_int64 (st, 2, e->created_at);
  rd_db_bind_id (st, 3, e->expires_at);
  rd_db_bind_int64 (st, 4, e->staging ? 1 : 0);
  rd_db_bind_text (st, 5, e->application);
  rd_db_bind_text (st, 6, e->admin_name);
  rd_db_bind_text (st, 7, e->admin_email);
  rd_db_bind_text (st, 8, e->location);
  rd_db_bind_text (st, 9, e->note);
  if (!rd_store_step_row (store, st, "cannot add allowlist entry", error, "cannot add allowlist entry"))
    return FALSE;
  e->id = rd_db_col_int64 (st, 0);
  rd_db_reset (st);
  return TRUE;
}

gboolean
rd_store_allowlist_remove (RdStore *store, const char *cidr, GError **error)
{
  gint64 id = 0;
  g_autofree char *norm = NULL;
  if (!g_ascii_string_to_signed (cidr, 10, 1, G_MAXINT64, &id, NULL))
    {
      norm = rd_allowlist_normalize_cidr (cidr, error);
      if (norm == NULL)
        return FALSE;
    }
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_ALLOWLIST_REMOVE, error);
  if (st == NULL)
    return FALSE;
  rd_db_bind_text (st, 1, norm);
  rd_db_bind_int64 (st, 2, id);
  if (!rd_store_step_done (store, st, "cannot remove allowlist entry", error))
    return FALSE;
  if (rd_store_changes (store) == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no allowlist entry '%s'", cidr);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
rd_store_allowlist_list (RdStore *store, GError **error)
{
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_ALLOWLIST_LIST, error);
  if (st == NULL)
    return NULL;
  rd_db_bind_int64 (st, 1, MAX_ALLOWLIST_ENTRIES);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_allowlist_entry_free);
  RdDbStep rc;
  while ((rc = rd_db_step (st, error)) == RD_DB_ROW)
    {
      RdAllowlistEntry *e = g_new0 (RdAllowlistEntry, 1);
      e->id = rd_db_col_int64 (st, 0);
      e->cidr = rd_db_col_strdup (st, 1);
      e->created_at = rd_db_col_int64 (st, 2);
      e->expires_at = rd_db_col_int64 (st, 3);
      e->staging = rd_db_col_int64 (st, 4) != 0;
      e->application = rd_db_col_strdup (st, 5);
      e->admin_name = rd_db_col_strdup (st, 6);
      e->admin_email = rd_db_col_strdup (st, 7);
      e->location = rd_db_col_strdup (st, 8);
      e->note = rd_db_col_strdup (st, 9);
      g_ptr_array_add (out, e);
    }
  if (!rd_store_rows_done (store, st, rc, "cannot list the allowlist", error))
    return NULL;
  return g_steal_pointer (&out);
}

gboolean
rd_store_allowlist_version (RdStore *store, gint64 *version, GError **error)
{
  /* SQLite: data_version changes only when another connection committed,
   * so most calls read no table at all. */
  gint64 dv = rd_store_dialect (store) == RD_SQL_SQLITE ? rd_sqlite_data_version (store->db) : -1;
  if (dv >= 0 && store->allowlist_version_known && store->allowlist_data_version == dv)
    {
      *version = store->allowlist_version;
      return TRUE;
    }
  RdDbStmt *st = rd_store_stmt (store, RD_SQL_ALLOWLIST_VERSION, error);
  if (st == NULL)
    return FALSE;
  gint64 v = 0;
  if (!rd_store_step_int (store, st, "cannot read the allowlist version", &v, error))
    return FALSE;
  store->allowlist_data_version = dv;
  store->allowlist_version = v;
  store->allowlist_version_known = dv >= 0;
  *version = v;
  return TRUE;
}

/* ---- matcher ---------------------------------------------------------- */

typedef struct {
  guint8 net[16];
  guint8 len;      /* 4 or 16 */
  guint8 prefix;
  gint64 expires_at;
} Block;

struct _RdAllowlist {
  GArray *blocks;  /* Block */
};

RdAllowlist *
rd_allowlist_new (void)
{
  RdAllowlist *l = g_new0 (RdAllowlist, 1);
  l->blocks = g_array_new (FALSE, TRUE, sizeof (Block));
  return l;
}

void
rd_allowlist_free (RdAllowlist *l)
{
  if (l == NULL)
    return;
  g_array_unref (l->blocks);
  g_free (l);
}

guint
rd_allowlist_get_size (RdAllowlist *l)
{
  return l->blocks->len;
}

gboolean
rd_allowlist_add (RdAllowlist *l, const char *cidr, gint64 expires_at, GError **error)
{
  Block b = { .expires_at = expires_at };
  gsize len = 0;
  guint prefix = 0;
  if (!rd_parse_cidr (cidr, b.net, &len, &prefix, error))
    return FALSE;
  /* An IPv4-mapped block (::ffff:192.0.2.0/120) is the IPv4 block: the
   * matcher sees mapped clients as IPv4 and never matched it (found by
   * fuzz/fuzz-cidr.c). */
  static const guint8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  if (len == 16 && prefix >= 96 && memcmp (b.net, v4mapped, 12) == 0)
    {
      memmove (b.net, b.net + 12, 4);
      memset (b.net + 4, 0, 12);
      len = 4;
      prefix -= 96;
    }
  b.len = (guint8) len;
  b.prefix = (guint8) prefix;
  g_array_append_val (l->blocks, b);
  return TRUE;
}

static gboolean
prefix_equal (const guint8 *a, const guint8 *b, guint bits)
{
  guint whole = bits / 8;
  if (memcmp (a, b, whole) != 0)
    return FALSE;
  guint rest = bits % 8;
  if (rest == 0)
    return TRUE;
  guint8 mask = (guint8) (0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

gboolean
rd_allowlist_match (RdAllowlist *l, const guint8 *addr, gsize len, gint64 now)
{
  static const guint8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  if (len == 16 && memcmp (addr, v4mapped, 12) == 0)
    {
      addr += 12;
      len = 4;
    }
  for (guint i = 0; i < l->blocks->len; i++)
    {
      const Block *b = &g_array_index (l->blocks, Block, i);
      if (b->len != len || (b->expires_at > 0 && b->expires_at <= now))
        continue;
      if (prefix_equal (b->net, addr, b->prefix))
        return TRUE;
    }
  return FALSE;
}

GStrv
rd_allowlist_config_clients (RdConfig *config)
{
  /* The schema's default (loopback) when the key is absent. */
  GStrv list = rd_config_get_list (config, "allowlist", "clients");
  return list ? list : g_new0 (char *, 1);
}

RdAllowlist *
rd_store_allowlist_load (RdStore *store, const char *const *fixed, GError **error)
{
  g_autoptr(RdAllowlist) l = rd_allowlist_new ();
  for (guint i = 0; fixed && fixed[i]; i++)
    if (!rd_allowlist_add (l, fixed[i], 0, error))
      {
        g_prefix_error (error, "[allowlist] clients: ");
        return NULL;
      }
  g_autoptr(GPtrArray) entries = rd_store_allowlist_list (store, error);
  if (entries == NULL)
    return NULL;
  for (guint i = 0; i < entries->len; i++)
    {
      RdAllowlistEntry *e = g_ptr_array_index (entries, i);
      g_autoptr(GError) local = NULL;
      if (!rd_allowlist_add (l, e->cidr, e->expires_at, &local))
        rd_log (RD_LOG_WARN, "allowlist.load", "id=%" G_GINT64_FORMAT " error=\"%s\"", e->id, local->message);
    }
  return g_steal_pointer (&l);
}
