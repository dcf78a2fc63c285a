/* relaydesk — the database schema, as an append-only list of named
 * migrations. Never edit a migration that has shipped: add a new one.
 *
 * Times are unix seconds (INTEGER). Addresses are stored as given; the
 * envelope sender of a bounce is the empty string.
 */
#include "store-private.h"

const RdStoreMigration rd_store_migrations[] = {
  { "0001-spool",
    "CREATE TABLE spool ("
    "  id INTEGER PRIMARY KEY,"
    "  queue_id TEXT NOT NULL UNIQUE,"
    "  received_at INTEGER NOT NULL,"
    "  sender TEXT NOT NULL,"
    "  client_addr TEXT,"
    "  helo TEXT,"
    "  protocol TEXT,"
    "  message_id TEXT,"
    "  size INTEGER NOT NULL,"
    "  raw BLOB NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (state IN ('new','processed','discarded','quarantined')),"
    "  state_reason TEXT,"
    "  processed_at INTEGER"
    ");"
    "CREATE INDEX spool_pending ON spool(id) WHERE state = 'new';"
    "CREATE INDEX spool_message_id ON spool(message_id);"
    "CREATE TABLE spool_recipients ("
    "  spool_id INTEGER NOT NULL REFERENCES spool(id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL,"
    "  address TEXT NOT NULL,"
    "  PRIMARY KEY (spool_id, position)"
    ") WITHOUT ROWID;" },
  { "0002-tickets",
    "CREATE TABLE tickets ("
    "  number INTEGER PRIMARY KEY,"
    "  queue TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (status IN ('new','open','pending','resolved','closed')),"
    "  priority TEXT NOT NULL DEFAULT 'normal'"
    "    CHECK (priority IN ('low','normal','high','urgent')),"
    "  assignee TEXT,"
    "  subject TEXT NOT NULL,"
    "  requester_name TEXT,"
    "  requester_addr TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX tickets_queue_status ON tickets(queue, status, number);"
    "CREATE INDEX tickets_status ON tickets(status, number);"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_number INTEGER NOT NULL REFERENCES tickets(number),"
    "  spool_id INTEGER UNIQUE REFERENCES spool(id),"
    "  direction TEXT NOT NULL CHECK (direction IN ('inbound','outbound','note')),"
    "  message_id TEXT,"
    "  from_name TEXT,"
    "  from_addr TEXT,"
    "  subject TEXT,"
    "  body_text TEXT,"
    "  created_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX messages_ticket ON messages(ticket_number, id);"
    "CREATE INDEX messages_message_id ON messages(message_id);" },
  { "0003-outbox",
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL"
    "    CHECK (kind IN ('reply','autoreply','redirect','reject','notification')),"
    "  ticket_number INTEGER REFERENCES tickets(number),"
    "  sender TEXT NOT NULL,"
    "  message_id TEXT,"
    "  raw BLOB NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued'"
    "    CHECK (state IN ('queued','sending','sent','failed','dropped')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  relay_reply TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  next_attempt_at INTEGER NOT NULL,"
    "  sent_at INTEGER"
    ");"
    "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state = 'queued';"
    "CREATE TABLE outbox_recipients ("
    "  outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL,"
    "  address TEXT NOT NULL,"
    "  PRIMARY KEY (outbox_id, position)"
    ") WITHOUT ROWID;" },
  { "0004-suppressions",
    "CREATE TABLE suppressions ("
    "  address TEXT PRIMARY KEY,"
    "  reason TEXT,"
    "  created_at INTEGER NOT NULL"
    ");" },
  { "0200-rules-responses",
    /* The vacation response log (RFC 5230 4.2): one row per inbox, sender
     * and handle, the time of the last reply. */
    "CREATE TABLE rules_responses ("
    "  inbox TEXT NOT NULL,"
    "  sender TEXT NOT NULL,"
    "  handle TEXT NOT NULL,"
    "  sent_at INTEGER NOT NULL,"
    "  PRIMARY KEY (inbox, sender, handle)"
    ");"
    /* duplicate (RFC 7352): ids seen, until they expire. */
    "CREATE TABLE rules_duplicates ("
    "  id TEXT PRIMARY KEY,"
    "  expires_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX rules_duplicates_expiry ON rules_duplicates(expires_at);" },
  { "0201-ticket-tags",
    "CREATE TABLE ticket_tags ("
    "  ticket_number INTEGER NOT NULL REFERENCES tickets(number),"
    "  tag TEXT NOT NULL,"
    "  PRIMARY KEY (ticket_number, tag)"
    ");" },
  /* Later migrations go here, named "NNNN-area-what", appended in order. */
  { NULL, NULL }
};
