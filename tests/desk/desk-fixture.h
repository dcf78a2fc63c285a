/* A desk on a real temporary store, for the GTest tests of desk/.
 *
 * Each test gets a fresh folder (g_dir_make_tmp) with a database, a
 * config from the embedded defaults plus the settings the test asks for
 * (key-file text), and, when given, a Sieve script installed as [rules]
 * default. Messages are spooled with rd_store_spool_put() and processed
 * with rd_desk_process(), as `relaydesk deliver` does.
 *
 * The base config: hostname desk.test, reply address support@desk.test,
 * own address billing@desk.test, a queue "billing" with its own address.
 */
#pragma once

#include "desk.h"
#include "reply.h"
#include "ticket-ids.h"
#include "tickets.h"
#include "outbox.h"
#include "spool.h"
#include "message.h"
#include "rd-common.h"

G_BEGIN_DECLS

/* What a test asks for (the test data of g_test_add). */
typedef struct {
  const char *conf;    /* key-file text applied over the base config, or NULL */
  const char *script;  /* Sieve text for [rules] default, or NULL (implicit keep) */
} DeskSetup;

typedef struct {
  char *dir;
  RdConfig *config;
  RdStore *store;
  RdDesk *desk;
  RdTicketIds *ids;   /* to check the signatures of what the desk wrote */
} DeskFixture;

void desk_fixture_setup (DeskFixture *f, gconstpointer data);
void desk_fixture_teardown (DeskFixture *f, gconstpointer data);

/* @text with every line ending CRLF. (transfer full) */
GBytes *desk_mail (const char *text);
/* A text/plain message; @extra: more header lines ("\n"-separated, may
 * be NULL). (transfer full) */
GBytes *desk_mail_simple (const char *from, const char *to, const char *subject, const char *message_id,
                          const char *extra, const char *body);

/* Spools @raw from @sender to @rcpt and returns its spool id. */
gint64 desk_spool (DeskFixture *f, const char *sender, const char *rcpt, GBytes *raw);
/* Spools and processes; the ticket that took it (0: none). @spool_id
 * may be NULL. */
gint64 desk_deliver (DeskFixture *f, const char *sender, const char *rcpt, GBytes *raw, gint64 *spool_id);

/* A new ticket opened by @from's message to support@desk.test (Cc @cc
 * when not NULL); asserts it is new. */
gint64 desk_new_ticket (DeskFixture *f, const char *from, const char *cc, const char *subject,
                        const char *message_id);
/* Sets ticket @number's status as an agent would. */
void desk_set_status (DeskFixture *f, gint64 number, const char *status);

RdSpooled *desk_spooled (DeskFixture *f, gint64 spool_id);
RdTicket *desk_ticket (DeskFixture *f, gint64 number);
/* Tickets in the store. */
guint desk_ticket_count (DeskFixture *f);
/* Every outbox row, oldest first, with its body. (transfer full) */
GPtrArray *desk_outbox (DeskFixture *f);
/* The only outbox row; asserts there is exactly one. (transfer full) */
RdOutboxItem *desk_outbox_only (DeskFixture *f);
/* Audit entries of @number that match (NULL: any value). */
guint desk_audit_count (DeskFixture *f, gint64 number, const char *actor, const char *action,
                        const char *old_value, const char *new_value);
/* Rows of a table, read with SQLite directly (what no store API counts). */
gint64 desk_sql_count (DeskFixture *f, const char *table);

/* An agent's reply; asserts success. desk_reply: to the requester,
 * by "agent1". */
void desk_reply_draft (DeskFixture *f, const RdReplyDraft *draft, RdReplyResult *result);
void desk_reply (DeskFixture *f, gint64 number, const char *body, RdReplyResult *result);
/* The outbox row @id parsed back with the parser view. (transfer full) */
RdMessage *desk_outbox_message (DeskFixture *f, gint64 id, RdOutboxItem **item);

/* Everything rd_log() writes to stderr between begin and end. */
void desk_log_capture_begin (void);
char *desk_log_capture_end (void);

/* The addr-specs of RdAddress* @addresses (a header of the parser
 * view), lower-cased, sorted, joined with ",". (transfer full) */
char *desk_addr_list (GPtrArray *addresses);
/* The same for char* @strings (participants, recipients). (transfer full) */
char *desk_strv_sorted (GPtrArray *strings);

/* A test of @fn on a fresh desk set up as the DeskSetup @setup says. */
#define DESK_TEST_ADD(name, fn, setup) \
  g_test_add (name, DeskFixture, setup, desk_fixture_setup, fn, desk_fixture_teardown)

G_END_DECLS
