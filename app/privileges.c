/* relaydesk — app: privilege drop (see privileges.h). */
#include "privileges.h"
#include "rd-common.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *
owner_name (uid_t uid)
{
  struct passwd *pw = getpwuid (uid);
  return pw ? g_strdup_printf ("%s (uid %u)", pw->pw_name, (guint) uid) : g_strdup_printf ("uid %u", (guint) uid);
}

static gboolean
is_empty_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  return d != NULL && g_dir_read_name (d) == NULL;
}

gboolean
rd_privileges_drop (RdConfig *config, gboolean warn_root, RdPrivResult *result, GError **error)
{
  *result = RD_PRIV_KEPT;
  const char *user = rd_config_get_string (config, "relaydesk", "user", NULL);
  if (geteuid () != 0)
    return TRUE;
  if (user == NULL || *user == '\0')
    {
      if (warn_root)
        rd_log (RD_LOG_WARN, "privileges.root",
                "reason=\"running as root: set [relaydesk] user (e.g. relaydesk) so that serve gives up root "
                "after binding its ports\"");
      return TRUE;
    }
  errno = 0;
  struct passwd *pw = getpwnam (user);
  if (pw == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG,
                   "[relaydesk] user: there is no user '%s' on this system%s%s (create it with "
                   "adduser --system --group %s)", user, errno ? ": " : "", errno ? g_strerror (errno) : "", user);
      return FALSE;
    }
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  g_autofree char *name = g_strdup (pw->pw_name);
  if (uid == 0)
    return TRUE;
  /* A missing data directory is made now: the user could not make it in
   * /var/lib. An empty one of root's (meson install makes it) is given to
   * the user. Any other is left as it is, and checked after the switch. */
  const char *dir = rd_config_get_data_dir (config);
  struct stat st;
  if (lstat (dir, &st) == 0 && S_ISDIR (st.st_mode) && st.st_uid == 0 && is_empty_dir (dir))
    {
      if (chown (dir, uid, gid) != 0 || chmod (dir, 0700) != 0)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "cannot give the data directory %s to %s: %s",
                       dir, name, g_strerror (errno));
          return FALSE;
        }
      rd_log (RD_LOG_INFO, "privileges.data_dir", "path=%s owner=%s result=given", dir, name);
    }
  else if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    {
      if (g_mkdir_with_parents (dir, 0700) != 0 || chown (dir, uid, gid) != 0)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "cannot create the data directory %s for %s: %s",
                       dir, name, g_strerror (errno));
          return FALSE;
        }
      rd_log (RD_LOG_INFO, "privileges.data_dir", "path=%s owner=%s result=created", dir, name);
    }
  if (setgroups (0, NULL) != 0 || setgid (gid) != 0 || setuid (uid) != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "cannot become user %s (uid %u, gid %u): %s",
                   name, (guint) uid, (guint) gid, g_strerror (errno));
      return FALSE;
    }
  /* Paranoia, as OpenSMTPD does: root must be gone for good. */
  if (getuid () != uid || geteuid () != uid || getgid () != gid || getegid () != gid || setuid (0) == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "giving up root for %s did not hold", name);
      return FALSE;
    }
  g_setenv ("USER", name, TRUE);
  g_setenv ("LOGNAME", name, TRUE);
  g_setenv ("HOME", pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/", TRUE);
  rd_log (RD_LOG_DEBUG, "privileges.drop", "user=%s uid=%u gid=%u groups=0", name, (guint) uid, (guint) gid);
  *result = RD_PRIV_DROPPED;
  return TRUE;
}

gboolean
rd_privileges_check_data_dir (RdConfig *config, GError **error)
{
  const char *dir = rd_config_get_data_dir (config);
  uid_t me = geteuid ();
  const char *const names[] = { NULL, "relaydesk.db", "relaydesk.db-wal", "relaydesk.db-shm", "tls-key.pem" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = names[i] ? g_build_filename (dir, names[i], NULL) : g_strdup (dir);
      struct stat st;
      if (lstat (path, &st) != 0)
        {
          if (i == 0)
            return TRUE; /* made at start, by us */
          continue;
        }
      if (st.st_uid == me)
        continue;
      g_autofree char *owner = owner_name (st.st_uid);
      g_autofree char *us = owner_name (me);
      struct passwd *pw = getpwuid (me);
      g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION,
                   "%s %s is owned by %s, not by %s, who runs relaydesk: fix it with "
                   "chown -R %s: %s (or set [relaydesk] user to its owner)",
                   i == 0 ? "the data directory" : "the file", path, owner, us,
                   pw ? pw->pw_name : "USER", dir);
      return FALSE;
    }
  return TRUE;
}
