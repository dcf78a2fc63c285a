/* relaydesk — store: the SMTP client allowlist.
 *
 * Entries are CIDR blocks (IPv4 or IPv6) with an optional expiry and
 * metadata that says whose they are: application, administrator name and
 * email, server location, note. `--staging` entries expire after at most
 * RD_ALLOWLIST_STAGING_MAX_DAYS days.
 *
 * "Effective without restart": every change bumps a version counter
 * (table allowlist_version, by triggers), so `serve` checks one cheap
 * number — PRAGMA data_version first, then the counter — and reloads the
 * list only when it changed, never scanning it per connection.
 *
 * RdAllowlist is the in-memory matcher the receiver uses: a plain array
 * of (network, prefix, expiry); an IPv4-mapped IPv6 client (::ffff:a.b.c.d)
 * matches IPv4 entries.
 */
#pragma once

#include <glib.h>
#include "store.h"
#include "rd-config.h"

G_BEGIN_DECLS

#define RD_ALLOWLIST_STAGING_MAX_DAYS 15

typedef struct {
  gint64 id;
  char *cidr;            /* normalised: "10.1.0.0/16", "2001:db8::/32" */
  gint64 created_at;     /* unix seconds */
  gint64 expires_at;     /* unix seconds, 0: never */
  gboolean staging;
  char *application;     /* may be NULL, each of the metadata */
  char *admin_name;
  char *admin_email;
  char *location;
  char *note;
} RdAllowlistEntry;

void rd_allowlist_entry_free (RdAllowlistEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdAllowlistEntry, rd_allowlist_entry_free)

/* Parses "a.b.c.d", "a.b.c.d/n", "v6", "v6/n" (host bits must be zero)
 * into its normalised text form. RD_ERROR_INVALID_DATA when malformed.
 * (transfer full) */
char *rd_allowlist_normalize_cidr (const char *text, GError **error);

/* Adds @entry (its cidr is normalised; id and created_at are filled).
 * An existing entry for the same block is replaced. */
gboolean rd_store_allowlist_add (RdStore *store, RdAllowlistEntry *entry, GError **error);
/* Removes the entry for @cidr (any spelling) or with id @cidr.
 * RD_ERROR_NOT_FOUND when there is none. */
gboolean rd_store_allowlist_remove (RdStore *store, const char *cidr, GError **error);
/* Every entry, expired ones included, by id. (transfer full: RdAllowlistEntry*) */
GPtrArray *rd_store_allowlist_list (RdStore *store, GError **error);
/* The change counter: any add or remove changes it. Cheap to call often:
 * it reads the counter only when another connection wrote since the
 * last call (PRAGMA data_version), else returns the cached value. */
gboolean rd_store_allowlist_version (RdStore *store, gint64 *version, GError **error);

/* ---- the matcher ----------------------------------------------------- */

typedef struct _RdAllowlist RdAllowlist;

/* (transfer full) */
RdAllowlist *rd_allowlist_new (void);
void rd_allowlist_free (RdAllowlist *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdAllowlist, rd_allowlist_free)
/* @expires_at 0: never. */
gboolean rd_allowlist_add (RdAllowlist *list, const char *cidr, gint64 expires_at, GError **error);
guint rd_allowlist_get_size (RdAllowlist *list);
/* @addr is 4 (IPv4) or 16 (IPv6) octets in network order. */
gboolean rd_allowlist_match (RdAllowlist *list, const guint8 *addr, gsize len, gint64 now);
/* The entries of the config file, [allowlist] clients (default
 * loopback: 127.0.0.0/8 and ::1; an empty value: none). (transfer full) */
GStrv rd_allowlist_config_clients (RdConfig *config);
/* Builds the matcher from the config entries @fixed plus the stored
 * entries. (transfer full) */
RdAllowlist *rd_store_allowlist_load (RdStore *store, const char *const *fixed, GError **error);

G_END_DECLS
