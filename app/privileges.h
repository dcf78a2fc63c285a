/* relaydesk — app: who the process runs as ([relaydesk] user).
 *
 * Started as root with [relaydesk] user set, serve binds its listeners,
 * then becomes that user: its primary group, no supplementary groups
 * (setgroups(0)), then its uid, so root cannot be regained; all before
 * it reads mail or opens the store. The other commands run as root
 * become the user before they open the store too, so no file of the data
 * directory (the database, its -wal and -shm) is ever made by root.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"

G_BEGIN_DECLS

typedef enum {
  RD_PRIV_KEPT,      /* not root, or no user set: nothing changed */
  RD_PRIV_DROPPED,   /* now [relaydesk] user */
} RdPrivResult;

/* Run as root: when @config names a user, makes the data directory if it
 * is missing (mode 0700, owned by the user) and becomes the user. Not
 * root: nothing (the permissions of the files decide). @warn_root: say
 * in a warning that root keeps running when no user is set (serve).
 * Errors: RD_ERROR_CONFIG (no such user), RD_ERROR_PERMISSION (the
 * change failed). */
gboolean rd_privileges_drop (RdConfig *config, gboolean warn_root, RdPrivResult *result, GError **error);

/* The data directory (when it exists), and the database and TLS key in
 * it, must belong to the user we run as: a clear RD_ERROR_PERMISSION
 * naming the owner and the chown that fixes it, instead of SQLite's
 * "unable to open database file" later. */
gboolean rd_privileges_check_data_dir (RdConfig *config, GError **error);

G_END_DECLS
