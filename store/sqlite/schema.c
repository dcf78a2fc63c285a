/* relaydesk — store: the SQLite schema, as an append-only list of named
 * migrations. Never change what a shipped migration does: add a new one.
 * The lists of words in CHECK constraints come from store/model.h
 * (@TICKET_STATUSES@ and friends, expanded by store.c).
 *
 * Times are unix seconds (INTEGER). Addresses are stored as given; the
 * envelope sender of a bounce is the empty string.
 */
#include "store-private.h"

const RdStoreMigration rd_sqlite_migrations[] = {
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
    "    CHECK (state IN (@SPOOL_STATES@)),"
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
    "    CHECK (status IN (@TICKET_STATUSES@)),"
    "  priority TEXT NOT NULL DEFAULT 'normal'"
    "    CHECK (priority IN (@TICKET_PRIORITIES@)),"
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
    "  direction TEXT NOT NULL CHECK (direction IN (@MESSAGE_DIRECTIONS@)),"
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
    "    CHECK (kind IN (@OUTBOX_KINDS@)),"
    "  ticket_number INTEGER REFERENCES tickets(number),"
    "  sender TEXT NOT NULL,"
    "  message_id TEXT,"
    "  raw BLOB NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued'"
    "    CHECK (state IN (@OUTBOX_STATES@)),"
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
  /* 0100-0199: receiver. The allowlist of SMTP clients, and a counter
   * bumped on every change so that serve reloads it only when needed. */
  { "0100-allowlist",
    "CREATE TABLE allowlist ("
    "  id INTEGER PRIMARY KEY,"
    "  cidr TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER,"
    "  staging INTEGER NOT NULL DEFAULT 0,"
    "  application TEXT,"
    "  admin_name TEXT,"
    "  admin_email TEXT,"
    "  location TEXT,"
    "  note TEXT"
    ");"
    "CREATE TABLE allowlist_version ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  version INTEGER NOT NULL"
    ");"
    "INSERT INTO allowlist_version (id, version) VALUES (1, 0);"
    "CREATE TRIGGER allowlist_ins AFTER INSERT ON allowlist BEGIN"
    "  UPDATE allowlist_version SET version = version + 1 WHERE id = 1; END;"
    "CREATE TRIGGER allowlist_upd AFTER UPDATE ON allowlist BEGIN"
    "  UPDATE allowlist_version SET version = version + 1 WHERE id = 1; END;"
    "CREATE TRIGGER allowlist_del AFTER DELETE ON allowlist BEGIN"
    "  UPDATE allowlist_version SET version = version + 1 WHERE id = 1; END;" },
  /* 0200-0299: rules. */
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
  { "0300-tickets-model",
    /* The per-installation secret that signs our Message-IDs and reply
     * addresses (desk/threading.c); one row, created on first use. */
    "CREATE TABLE desk_secret ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  secret BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ");"
    /* The rules stage (0201-ticket-tags, Sieve addflag) creates the same
     * table; whichever runs first makes it. */
    "CREATE TABLE IF NOT EXISTS ticket_tags ("
    "  ticket_number INTEGER NOT NULL REFERENCES tickets(number),"
    "  tag TEXT NOT NULL,"
    "  PRIMARY KEY (ticket_number, tag)"
    ");"
    /* `tickets list --tag T` walks one tag's tickets in number order. */
    "CREATE INDEX ticket_tags_tag ON ticket_tags(tag, ticket_number);"
    /* From/To/Cc of the thread minus our own addresses; addr lower case. */
    "CREATE TABLE ticket_participants ("
    "  ticket_number INTEGER NOT NULL REFERENCES tickets(number),"
    "  addr TEXT NOT NULL,"
    "  name TEXT,"
    "  PRIMARY KEY (ticket_number, addr)"
    ") WITHOUT ROWID;"
    "CREATE TABLE ticket_links ("
    "  ticket_number INTEGER NOT NULL REFERENCES tickets(number),"
    "  other_number INTEGER NOT NULL REFERENCES tickets(number),"
    "  reason TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (ticket_number, other_number)"
    ") WITHOUT ROWID;"
    /* Every change: who, what, when. */
    "CREATE TABLE ticket_audit ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_number INTEGER NOT NULL REFERENCES tickets(number),"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  old_value TEXT,"
    "  new_value TEXT"
    ");"
    "CREATE INDEX ticket_audit_ticket ON ticket_audit(ticket_number, id);"
    "ALTER TABLE messages ADD COLUMN body_hash TEXT;"
    "ALTER TABLE messages ADD COLUMN to_addrs TEXT;"
    "ALTER TABLE messages ADD COLUMN cc_addrs TEXT;"
    "ALTER TABLE messages ADD COLUMN author TEXT;"
    "ALTER TABLE messages ADD COLUMN outbox_id INTEGER;"
    "ALTER TABLE messages ADD COLUMN delivery_status TEXT;"
    "ALTER TABLE messages ADD COLUMN delivery_code TEXT;"
    "ALTER TABLE messages ADD COLUMN delivery_detail TEXT;"
    /* Attachments stored once by content hash. */
    "CREATE TABLE attachment_blobs ("
    "  sha256 TEXT PRIMARY KEY,"
    "  size INTEGER NOT NULL,"
    "  data BLOB NOT NULL"
    ");"
    "CREATE TABLE message_attachments ("
    "  id INTEGER PRIMARY KEY,"
    "  message_row INTEGER NOT NULL REFERENCES messages(id),"
    "  position INTEGER NOT NULL,"
    "  filename TEXT,"
    "  content_type TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL REFERENCES attachment_blobs(sha256),"
    "  UNIQUE (message_row, position)"
    ");"
    "CREATE INDEX tickets_assignee ON tickets(assignee, number);"
    "CREATE INDEX tickets_updated ON tickets(updated_at);"
    "CREATE INDEX tickets_status_updated ON tickets(status, updated_at);"
    "CREATE INDEX tickets_queue_updated ON tickets(queue, updated_at);"
    /* Full-text search: one row per message, contentless (the text
     * lives in messages). rowid = (ticket number << 22) | the message's
     * ordinal within its ticket (1, 2, ...), so a search reads ticket
     * numbers straight from the index, newest ticket first, without a
     * join (store/ticket-model.c). */
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "  subject, body, addresses, attachments,"
    "  content='', tokenize='unicode61 remove_diacritics 2');" },
  { "0301-tickets-list-indexes",
    /* `tickets list --assignee A --sort updated` without a sort of all
     * of A's tickets. */
    "CREATE INDEX tickets_assignee_updated ON tickets(assignee, updated_at);" },
  { "0400-relay-outbox-worker",
    /* Worker side of the outbox (relay/). lifetime_from restarts the retry
     * lifetime when an operator retries a row; outbox_events is each row's
     * history (attempts, guard decisions, operator actions); the address
     * index serves the per-recipient caps; relay_settings holds this
     * installation's id, the value of the X-Relaydesk-Loop marker. */
    "ALTER TABLE outbox ADD COLUMN lifetime_from INTEGER;"
    "CREATE TABLE outbox_events ("
    "  id INTEGER PRIMARY KEY,"
    "  outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,"
    "  at INTEGER NOT NULL,"
    "  event TEXT NOT NULL,"
    "  detail TEXT"
    ");"
    "CREATE INDEX outbox_events_row ON outbox_events(outbox_id, id);"
    "CREATE INDEX outbox_recipients_address ON outbox_recipients(address COLLATE NOCASE);"
    "CREATE INDEX outbox_sent ON outbox(sent_at) WHERE state = 'sent';"
    "CREATE INDEX outbox_state ON outbox(state, id);"
    "CREATE TABLE relay_settings ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO relay_settings (key, value) VALUES ('installation_id', lower(hex(randomblob(12))));" },
  { "0401-relay-outbox-message-id",
    /* The guard looks up In-Reply-To of automatic mail here: an automatic
     * answer to a message we sent ourselves is a loop. */
    "CREATE INDEX outbox_message_id ON outbox(message_id);" },
  { "0500-auth-results",
    /* Sender authentication (auth/): the Authentication-Results field
     * value (RFC 8601) computed for a spooled message, kept beside its
     * raw bytes (which stay exactly as received) so that processing it
     * again sees the same results; and each inbound message's results
     * (NULL: not known, e.g. recorded before this migration). */
    "ALTER TABLE spool ADD COLUMN auth_results TEXT;"
    "ALTER TABLE messages ADD COLUMN auth_spf TEXT CHECK (auth_spf IN (@AUTH_RESULTS@));"
    "ALTER TABLE messages ADD COLUMN auth_dkim TEXT CHECK (auth_dkim IN (@AUTH_RESULTS@));"
    "ALTER TABLE messages ADD COLUMN auth_dmarc TEXT CHECK (auth_dmarc IN (@AUTH_RESULTS@));"
    "ALTER TABLE messages ADD COLUMN auth_from_domain TEXT;"
    "ALTER TABLE messages ADD COLUMN auth_verified INTEGER;" },
  { "0501-ops-health-probe",
    /* /readyz writes this one row to prove the database takes writes. */
    "CREATE TABLE health_probe ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  at INTEGER NOT NULL"
    ");" },
  { "0600-web-agents",
    /* The web desk (web/, ops/agents.c): agents with their role and
     * queues; password_hash is libsodium's crypto_pwhash_str (Argon2id),
     * totp_secret the base32 RFC 6238 secret (NULL: no second factor).
     * Sessions and API tokens are stored as the hex SHA-256 of the
     * random token the client holds, never the token. admin_audit names
     * the agent behind every change to agents, tokens and rules. */
    "CREATE TABLE agents ("
    "  id INTEGER PRIMARY KEY,"
    "  email TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('admin','agent')),"
    "  password_hash TEXT NOT NULL,"
    "  totp_secret TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE agent_queues ("
    "  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
    "  queue TEXT NOT NULL,"
    "  PRIMARY KEY (agent_id, queue)"
    ") WITHOUT ROWID;"
    "CREATE TABLE agent_sessions ("
    "  token_hash TEXT PRIMARY KEY,"
    "  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
    "  csrf TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  client_addr TEXT"
    ") WITHOUT ROWID;"
    "CREATE INDEX agent_sessions_agent ON agent_sessions(agent_id);"
    "CREATE TABLE api_tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
    "  label TEXT NOT NULL,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  last_used_at INTEGER,"
    "  revoked_at INTEGER"
    ");"
    "CREATE TABLE admin_audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT,"
    "  detail TEXT"
    ");" },
  { "0601-web-workspace",
    /* An agent's drafts (one per ticket), saved views (filters as JSON),
     * uploads waiting to be sent (bytes in attachment_blobs, by hash),
     * and every saved version of a rule script. */
    "CREATE TABLE drafts ("
    "  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
    "  ticket_number INTEGER NOT NULL REFERENCES tickets(number) ON DELETE CASCADE,"
    "  body TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (agent_id, ticket_number)"
    ") WITHOUT ROWID;"
    "CREATE TABLE saved_views ("
    "  id INTEGER PRIMARY KEY,"
    "  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  filters TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (agent_id, name)"
    ");"
    "CREATE TABLE uploads ("
    "  id INTEGER PRIMARY KEY,"
    "  agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
    "  filename TEXT NOT NULL,"
    "  content_type TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL REFERENCES attachment_blobs(sha256),"
    "  created_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE rule_versions ("
    "  id INTEGER PRIMARY KEY,"
    "  script TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  saved_at INTEGER NOT NULL,"
    "  saved_by TEXT NOT NULL"
    ");"
    "CREATE INDEX rule_versions_script ON rule_versions(script, id);" },
  { "0602-web-queue-counts",
    /* Tickets per queue and status, kept by triggers, so the sidebar's
     * counts read a few rows at any size (not a scan of 1M tickets). */
    "CREATE TABLE queue_counts ("
    "  queue TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (queue, status)"
    ") WITHOUT ROWID;"
    "INSERT INTO queue_counts (queue, status, n) SELECT queue, status, count(*) FROM tickets GROUP BY queue, status;"
    "CREATE TRIGGER queue_counts_insert AFTER INSERT ON tickets BEGIN"
    "  INSERT INTO queue_counts (queue, status, n) VALUES (new.queue, new.status, 1)"
    "    ON CONFLICT (queue, status) DO UPDATE SET n = n + 1;"
    " END;"
    "CREATE TRIGGER queue_counts_update AFTER UPDATE OF queue, status ON tickets"
    " WHEN old.queue IS NOT new.queue OR old.status IS NOT new.status BEGIN"
    "  UPDATE queue_counts SET n = n - 1 WHERE queue = old.queue AND status = old.status;"
    "  INSERT INTO queue_counts (queue, status, n) VALUES (new.queue, new.status, 1)"
    "    ON CONFLICT (queue, status) DO UPDATE SET n = n + 1;"
    " END;"
    "CREATE TRIGGER queue_counts_delete AFTER DELETE ON tickets BEGIN"
    "  UPDATE queue_counts SET n = n - 1 WHERE queue = old.queue AND status = old.status;"
    " END;" },
  { "0603-web-requester-index",
    /* The requester's other tickets beside a thread. */
    "CREATE INDEX tickets_requester ON tickets(lower(requester_addr), number);" },
  { "0604-web-queue-number-index",
    /* An agent's list, newest first, one query per queue walking this
     * index (store/tickets.c rd_store_tickets_query). */
    "CREATE INDEX tickets_queue_number ON tickets(queue, number);" },
  /* Later migrations go here, named "NNNN-area-what", appended in order. */
  { NULL, NULL }
};
