/* relaydesk — ops internals shared by the ops/ files. */
#pragma once

#include "ops.h"
#include "ticket-ids.h"
#include "rd-common.h"

struct _RdOps {
  RdConfig *config;
  RdStore *store;       /* may be NULL: operations that need none (rules check) */
  RdTicketIds *ids;     /* made on first use */
};

/* RD_ERROR_NOT_FOUND when there is no database behind @ops. */
gboolean rd_ops_need_store (RdOps *ops, GError **error);
/* RD_ERROR_PERMISSION unless @actor is an administrator. */
gboolean rd_ops_need_admin (const RdActor *actor, const char *what, GError **error);
/* RD_ERROR_NOT_FOUND unless ticket @number exists and @actor sees it. */
gboolean rd_ops_check_ticket (RdOps *ops, const RdActor *actor, gint64 number, GError **error);
/* The signed ids of this installation. (transfer none) */
RdTicketIds *rd_ops_ids (RdOps *ops, GError **error);
