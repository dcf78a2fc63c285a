/* relaydesk — store: ticket attributes the rules set (vnd.relaydesk.ticket
 * and imap4flags): priority, assignee, status, tags. */
#pragma once

#include <glib.h>
#include "store.h"

G_BEGIN_DECLS

/* Sets the attributes given (NULL: unchanged) on ticket @number; @tags
 * (NULL-terminated, may be NULL) are added to its tags. Joins the
 * caller's transaction. RD_ERROR_NOT_FOUND when there is no such ticket. */
gboolean rd_store_ticket_set_attrs (RdStore *store, gint64 number, const char *priority, const char *assignee,
                                    const char *status, const char *const *tags, GError **error);

/* The ticket's tags, sorted. (transfer full) */
GStrv rd_store_ticket_get_tags (RdStore *store, gint64 number, GError **error);

G_END_DECLS
