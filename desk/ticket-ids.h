/* relaydesk — desk: the identifiers that tie mail to a ticket.
 *
 * Three ways a message names a ticket (desk/threading.c decides, in this
 * order):
 *
 * 1. Message-IDs we generate for a ticket's outbound mail:
 *      rd-<N>-<nonce>-<mac>@<hostname>
 *    nonce: 8 random base32 characters; mac: HMAC-SHA256 under the
 *    installation secret over "msgid:<N>:<nonce>", first 10 bytes in
 *    lower-case base32 (RFC 4648 alphabet, 16 characters). A reply's
 *    In-Reply-To/References carry it back; nobody without the secret can
 *    make one that names another ticket.
 * 2. The ticket's reply address, used as Reply-To:
 *      <local>+<N>-<mac>@<domain>   (from [desk] reply_address, or the
 *    queue's) with mac = HMAC over "reply:<N>", 16 base32 characters.
 * 3. The subject tag "[<prefix> #<N>]" ([desk] subject_tag_prefix): a hint
 *    only, honoured when the sender is a participant of the ticket.
 *
 * The secret (32 random bytes) is created on first start and kept in the
 * database (store/tickets.h rd_store_desk_secret).
 */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "store.h"

G_BEGIN_DECLS

#define RD_DEFAULT_SUBJECT_TAG_PREFIX "RD"

typedef struct _RdTicketIds RdTicketIds;

/* Reads the secret (creating it on first use) and the [desk] settings.
 * @config and @store must outlive it. (transfer full) */
RdTicketIds *rd_ticket_ids_new (RdConfig *config, RdStore *store, GError **error);
void rd_ticket_ids_free (RdTicketIds *ids);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdTicketIds, rd_ticket_ids_free)

/* A new signed Message-ID for ticket @number, without brackets.
 * (transfer full) */
char *rd_ticket_ids_new_message_id (RdTicketIds *ids, gint64 number);
/* TRUE and @number when @message_id (brackets optional) is one of ours
 * with a valid signature. */
gboolean rd_ticket_ids_check_message_id (RdTicketIds *ids, const char *message_id, gint64 *number);

/* The ticket's reply address in @queue. (transfer full) */
char *rd_ticket_ids_reply_address (RdTicketIds *ids, const char *queue, gint64 number);
/* TRUE and @number when @addr carries a valid reply token. */
gboolean rd_ticket_ids_check_reply_address (RdTicketIds *ids, const char *addr, gint64 *number);

/* "[RD #42]". (transfer full) */
char *rd_ticket_ids_subject_tag (RdTicketIds *ids, gint64 number);
/* TRUE and @number when @subject carries a subject tag with our prefix. */
gboolean rd_ticket_ids_parse_subject_tag (RdTicketIds *ids, const char *subject, gint64 *number);

/* The queue's From: address and display name (config [queue.NAME]
 * from_address/from_name, else [desk] reply_address/from_name). */
const char *rd_ticket_ids_from_address (RdTicketIds *ids, const char *queue);
const char *rd_ticket_ids_from_name (RdTicketIds *ids, const char *queue);

/* TRUE when @addr is one of ours: a reply address (base or tokened) of
 * any configured queue, or listed in [desk] own_addresses. */
gboolean rd_ticket_ids_is_own_address (RdTicketIds *ids, const char *addr);

G_END_DECLS
