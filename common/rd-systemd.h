/* relaydesk — the two pieces of the systemd protocol serve speaks,
 * written small (no libsystemd): readiness notification and socket
 * activation. Both are a handful of environment variables and one
 * datagram; without systemd (the quick start, CI) they do nothing.
 *
 * sd_notify(3): "READY=1", "STOPPING=1", "STATUS=..." as one datagram to
 * the AF_UNIX socket named by $NOTIFY_SOCKET (a leading '@' is the
 * abstract namespace).
 *
 * sd_listen_fds(3): $LISTEN_PID is our pid, $LISTEN_FDS says how many
 * descriptors start at 3, $LISTEN_FDNAMES names them, ':' separated
 * (FileDescriptorName= of the socket unit; "unknown" when not set).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RD_SYSTEMD_LISTEN_FDS_START 3

/* Sends @state (e.g. "READY=1\nSTATUS=serving") to the service manager.
 * TRUE when sent, FALSE (with @error) when $NOTIFY_SOCKET is set but
 * the datagram could not go; TRUE and nothing done without it. */
gboolean rd_systemd_notify (const char *state, GError **error);

/* The descriptors systemd passed (socket activation), with their names:
 * @fds gets ints, @names strings ("unknown" when unnamed). Marks them
 * close-on-exec and unsets the variables so children do not see them.
 * Returns how many (0 when not socket-activated), or -1 with @error
 * when the variables are malformed. */
gint rd_systemd_listen_fds (GArray *fds, GPtrArray *names, GError **error);

G_END_DECLS
