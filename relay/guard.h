/* relaydesk — relay: the guard every outbound message passes.
 *
 * Run by the outbox worker at send time, for every kind of message, so
 * that no producer (rules, tickets, notifications) can get around it:
 *
 *  - no recipient that is <>, MAILER-DAEMON, postmaster, a list robot or
 *    noreply-style (RFC 3834 section 2: do not answer such addresses; the
 *    policy is rd_mail_auto_address of parser/mail-format.h), one of our
 *    own addresses or domains ([relay] own_addresses, own_domains), or on
 *    the suppression list;
 *  - automatic mail (kinds autoreply, reject, notification) carries
 *    Auto-Submitted: auto-replied / auto-generated (RFC 3834 section 5),
 *    added when missing, and goes out with envelope sender <> (section 3.3
 *    of RFC 3834 recommends a null or dedicated return path; we use <> so
 *    that nothing answers it);
 *  - per-recipient caps per hour and per day for automatic mail and
 *    redirects stop mail storms;
 *  - a message that already carries our own loop marker (it went out
 *    through us before: a redirect or forward come back) is dropped;
 *  - automatic mail whose In-Reply-To is a message of our own outbox is
 *    dropped (our mail came back and is being answered: a loop);
 *  - everything we send carries "X-Relaydesk-Loop: <installation id>",
 *    and rd_relay_is_own_loop() tells the inbound side that a message came
 *    back to us, so it is never answered.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "store.h"
#include "outbox.h"

G_BEGIN_DECLS

#define RD_RELAY_LOOP_HEADER "X-Relaydesk-Loop"

/* TRUE when the header block of @raw (@len bytes, -1: NUL-terminated; a
 * header block alone is fine) carries an X-Relaydesk-Loop field whose
 * value is @installation_id (rd_store_relay_installation_id()): the
 * message is one we sent, come back. The rules/desk side calls this
 * before any automatic answer and must not answer when it is TRUE. */
gboolean rd_relay_is_own_loop (const char *raw, gssize len, const char *installation_id);

/* TRUE for the kinds that must go out as automatic mail with <>. */
gboolean rd_relay_kind_is_automatic (RdOutboxKind kind);

typedef struct _RdRelayGuard RdRelayGuard;

typedef struct {
  guint cap_per_hour;   /* 0: no cap */
  guint cap_per_day;
} RdRelayGuardCaps;

/* Reads [relay] own_addresses, own_domains, cap_per_hour (10),
 * cap_per_day (50). (transfer full) */
RdRelayGuard *rd_relay_guard_new (RdConfig *config, const char *installation_id);
void rd_relay_guard_free (RdRelayGuard *guard);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdRelayGuard, rd_relay_guard_free)

/* The caps read from the configuration. */
const RdRelayGuardCaps *rd_relay_guard_caps (RdRelayGuard *guard);

/* The reason @address must never get mail from us, or NULL: the name of
 * rd_mail_auto_address's reason ("null-sender", "mailer-daemon", ...) or
 * one of our own addresses or domains. Checks the address alone (not the
 * suppression list nor caps). */
const char *rd_relay_guard_address_reason (RdRelayGuard *guard, const char *address);

/* What the worker sends after the guard. */
typedef struct {
  char *envelope_sender;   /* "" for <> */
  GPtrArray *recipients;   /* char*, the ones that passed */
  GPtrArray *skipped;      /* char*, "address: reason" */
  GBytes *data;            /* the message with the headers the guard adds */
} RdRelayGuarded;

void rd_relay_guarded_free (RdRelayGuarded *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdRelayGuarded, rd_relay_guarded_free)

/* Applies every rule to one message. Returns NULL with @reason set (transfer
 * full) when nothing may be sent (no recipient left, automatic mail marked
 * "Auto-Submitted: no"), or with a storage error in @error. */
RdRelayGuarded *rd_relay_guard_apply (RdRelayGuard *guard, RdStore *store, RdOutboxKind kind,
                                      const char *sender, const char *const *recipients,
                                      GBytes *raw, char **reason, GError **error);

G_END_DECLS
