/* relaydesk — store: state the Sieve rules keep between messages.
 *
 * The vacation response log (RFC 5230 4.2, RFC 6131): when an inbox last
 * answered a sender under a handle, so that one sender gets at most one
 * reply per period. The duplicate ids of RFC 7352. Both are keyed by
 * plain strings the desk builds; timestamps are unix seconds.
 */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

/* TRUE in @due when no reply went from @inbox to @sender under @handle
 * within the last @period seconds (compared case-insensitively on the
 * addresses). Does not record anything. */
gboolean rd_store_response_due (RdStore *store, const char *inbox, const char *sender, const char *handle,
                                gint64 period, gint64 now, gboolean *due, GError **error);
/* Records a reply sent at @now. Joins the caller's transaction. */
gboolean rd_store_response_record (RdStore *store, const char *inbox, const char *sender, const char *handle,
                                   gint64 now, GError **error);

/* TRUE in @seen when @id was recorded and has not expired at @now. */
gboolean rd_store_duplicate_seen (RdStore *store, const char *id, gint64 now, gboolean *seen, GError **error);
/* Records @id until @now + @seconds (a later record extends it), and
 * drops expired ids. */
gboolean rd_store_duplicate_record (RdStore *store, const char *id, gint64 seconds, gint64 now, GError **error);

G_END_DECLS
