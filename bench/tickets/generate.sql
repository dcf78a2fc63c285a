-- bench/tickets: a store of :tickets tickets with 3 messages each, written
-- straight into a database that `relaydesk` created and migrated (so the
-- schema, indexes and FTS table are the real ones). Deterministic content:
-- ticket N's first message contains the word "zanzibar" when N % 1000 = 7
-- (0.1% of tickets), for the search figure.
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;
BEGIN;
CREATE TEMP TABLE vocab (i INTEGER PRIMARY KEY, w TEXT);
INSERT INTO vocab SELECT value, 'w' || value FROM generate_series(0, 4999);
CREATE TEMP TABLE params (n INTEGER);
INSERT INTO params VALUES (CAST(:tickets AS INTEGER));

INSERT INTO tickets (number, queue, status, priority, assignee, subject, requester_name, requester_addr,
                     created_at, updated_at)
SELECT value,
       CASE value % 5 WHEN 0 THEN 'inbox' WHEN 1 THEN 'billing' WHEN 2 THEN 'sales' WHEN 3 THEN 'tech' ELSE 'abuse' END,
       CASE WHEN value % 10 < 6 THEN 'closed' WHEN value % 10 < 7 THEN 'resolved' WHEN value % 10 < 8 THEN 'pending'
            WHEN value % 10 < 9 THEN 'open' ELSE 'new' END,
       CASE value % 7 WHEN 0 THEN 'high' WHEN 1 THEN 'low' ELSE 'normal' END,
       CASE WHEN value % 3 = 0 THEN NULL ELSE 'agent' || (value % 50) END,
       'Subject w' || (value * 7919 % 5000) || ' w' || (value * 104729 % 5000),
       'Customer ' || value, 'c' || (value % 200000) || '@example.org',
       1600000000 + value * 30, 1600000000 + value * 30 + (value % 86400)
FROM generate_series(1, (SELECT n FROM params));

-- A third of the tickets carry one tag (a quarter of those each); some of
-- them are assigned (assignee is NULL when N % 3 = 0).
INSERT INTO ticket_tags (tag, ticket_number)
SELECT CASE (value / 3) % 4 WHEN 0 THEN 'vip' WHEN 1 THEN 'eu' WHEN 2 THEN 'refund' ELSE 'bug' END, value
FROM generate_series(1, (SELECT n FROM params)) WHERE value % 3 = 1;

INSERT INTO ticket_participants (ticket_number, addr, name)
SELECT value, 'c' || (value % 200000) || '@example.org', NULL FROM generate_series(1, (SELECT n FROM params));

-- Three messages per ticket: the inbound request, an outbound reply, an
-- inbound follow-up; bodies of 12 pseudo-random words from 5000.
INSERT INTO messages (id, ticket_number, direction, message_id, from_addr, subject, body_text, created_at)
SELECT s.value,
       (s.value + 2) / 3,
       CASE s.value % 3 WHEN 2 THEN 'outbound' ELSE 'inbound' END,
       'm' || s.value || '@example.org',
       CASE s.value % 3 WHEN 2 THEN 'support@desk.test' ELSE 'c' || (((s.value + 2) / 3) % 200000) || '@example.org' END,
       'Subject w' || (((s.value + 2) / 3) * 7919 % 5000),
       (SELECT group_concat(w, ' ') FROM (SELECT w FROM vocab WHERE i IN (
           (s.value * 31) % 5000, (s.value * 37) % 5000, (s.value * 41) % 5000, (s.value * 43) % 5000,
           (s.value * 47) % 5000, (s.value * 53) % 5000, (s.value * 59) % 5000, (s.value * 61) % 5000,
           (s.value * 67) % 5000, (s.value * 71) % 5000, (s.value * 73) % 5000, (s.value * 79) % 5000)))
         || CASE WHEN s.value % 3 = 1 AND ((s.value + 2) / 3) % 1000 = 7 THEN ' zanzibar' ELSE '' END,
       1600000000 + s.value * 10
FROM generate_series(1, 3 * (SELECT n FROM params)) AS s;

-- FTS rowid = (ticket << 22) | ordinal of the message in its ticket, as
-- store/ticket-model.c rd_store_message_index() writes it.
INSERT INTO messages_fts (rowid, subject, body, addresses, attachments)
SELECT (ticket_number << 22) + ((id - 1) % 3) + 1, subject, body_text, from_addr, NULL FROM messages;
COMMIT;
INSERT INTO messages_fts (messages_fts) VALUES ('optimize');
ANALYZE;
PRAGMA wal_checkpoint(TRUNCATE);
