/* relaydesk — the systemd notify and socket-activation protocols (see
 * rd-systemd.h). */
#include "rd-systemd.h"
#include "rd-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

gboolean
rd_systemd_notify (const char *state, GError **error)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  if (path == NULL || *path == '\0')
    return TRUE;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  gsize len = strlen (path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "NOTIFY_SOCKET=%s is not a socket path", path);
      return FALSE;
    }
  memcpy (sa.sun_path, path, len);
  if (path[0] == '@')
    sa.sun_path[0] = '\0';   /* abstract namespace */
  socklen_t salen = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "notify socket: %s", g_strerror (errno));
      return FALSE;
    }
  ssize_t n = sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *) &sa, salen);
  int e = errno;
  close (fd);
  if (n < 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "notify %s: %s", path, g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

gint
rd_systemd_listen_fds (GArray *fds, GPtrArray *names, GError **error)
{
  const char *pid = g_getenv ("LISTEN_PID");
  const char *count = g_getenv ("LISTEN_FDS");
  if (pid == NULL || count == NULL)
    return 0;
  guint64 p = 0, n = 0;
  if (!g_ascii_string_to_unsigned (pid, 10, 1, G_MAXINT, &p, NULL)
      || !g_ascii_string_to_unsigned (count, 10, 0, 1024, &n, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "malformed LISTEN_PID=%s or LISTEN_FDS=%s", pid, count);
      return -1;
    }
  if ((pid_t) p != getpid ())
    return 0;   /* meant for another process (we were exec'd by it) */
  g_auto(GStrv) fdnames = NULL;
  const char *nm = g_getenv ("LISTEN_FDNAMES");
  if (nm != NULL)
    fdnames = g_strsplit (nm, ":", -1);
  for (guint i = 0; i < n; i++)
    {
      int fd = RD_SYSTEMD_LISTEN_FDS_START + (int) i;
      int flags = fcntl (fd, F_GETFD);
      if (flags < 0)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "LISTEN_FDS=%s but descriptor %d is not open", count, fd);
          return -1;
        }
      fcntl (fd, F_SETFD, flags | FD_CLOEXEC);
      g_array_append_val (fds, fd);
      const char *name = fdnames && i < g_strv_length (fdnames) && *fdnames[i] ? fdnames[i] : "unknown";
      g_ptr_array_add (names, g_strdup (name));
    }
  g_unsetenv ("LISTEN_PID");
  g_unsetenv ("LISTEN_FDS");
  g_unsetenv ("LISTEN_FDNAMES");
  return (gint) n;
}
