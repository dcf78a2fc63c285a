#!/bin/bash
# bench/tickets — how `relaydesk tickets list` and `tickets search` scale.
#
# Generates a store of N tickets (default 1,000,000) with 3 messages each
# (3,000,000 messages, FTS5-indexed) with generate.sql straight into a
# database `relaydesk` created and migrated, then times, as an agent would
# run them (a fresh process each time, wall clock, median of RUNS):
#   list   first page, filtered: --queue billing --status open
#   list   first page, filtered: --assignee agent7 --tag vip --sort updated
#   search a word in 0.1% of tickets (1,000 at 1M): first page
# and, as the peer measured in the same run, the sqlite3 shell running the
# equivalent SQL on the same database (also a fresh process each time).
#
# Usage: RELAYDESK=build/app/relaydesk bench/tickets/run.sh [N]
#        KEEP=DIR to keep (and reuse) the generated store.
set -euo pipefail
N=${1:-1000000}
RUNS=${RUNS:-9}
HERE=$(cd "$(dirname "$0")" && pwd)
RELAYDESK=${RELAYDESK:-$HERE/../../build/app/relaydesk}
if [ -n "${KEEP:-}" ]; then
  DIR=$KEEP; mkdir -p "$DIR"
else
  DIR=$(mktemp -d /tmp/rd-bench-tickets.XXXXXX)
  trap 'rm -rf "$DIR"' EXIT
fi
DATA=$DIR/data
DB=$DATA/relaydesk.db

if [ ! -s "$DB" ] || [ "$(sqlite3 "$DB" "SELECT (SELECT count(*) FROM tickets) || '/' || (SELECT count(*) FROM messages)")" != "$N/$((3 * N))" ]; then
  rm -rf "$DATA"
  printf 'From: init@example.org\nSubject: init\nMessage-ID: <init@example.org>\n\ninit\n' |
    "$RELAYDESK" deliver --data-dir "$DATA" --no-process init@example.org >/dev/null 2>&1
  t0=$(date +%s%N)
  sqlite3 -bail "$DB" ".param set :tickets $N" ".read $HERE/generate.sql" >/dev/null
  t1=$(date +%s%N)
  echo "generated: $N tickets, $(sqlite3 "$DB" 'SELECT count(*) FROM messages') messages in $(( (t1 - t0) / 1000000 )) ms;" \
       "database $(du -sh "$DATA" | cut -f1)"
fi

# median wall time in ms of running "$@" RUNS times
median_ms() {
  local times=()
  "$@" >/dev/null 2>&1 # warm the page cache
  for _ in $(seq "$RUNS"); do
    local a b
    a=$(date +%s%N); "$@" >/dev/null 2>&1; b=$(date +%s%N)
    times+=($(( (b - a) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; printf "%.1f", m/1000}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

COLS="number, queue, status, priority, assignee, subject, requester_name, requester_addr, created_at, updated_at,
      (SELECT count(*) FROM messages m WHERE m.ticket_number = t.number)"
report() { # name, relaydesk ms, peer ms
  printf '%-48s relaydesk %7s ms   sqlite3 shell %7s ms   ratio %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}

hits=$("$RELAYDESK" tickets search zanzibar --data-dir "$DATA" --json --limit 1000 | grep -c '"number"' || true)
echo "search word 'zanzibar' matches $hits tickets (0.1%: $(( N / 1000 )))"

a=$(median_ms "$RELAYDESK" tickets list --data-dir "$DATA" --queue billing --status open)
b=$(median_ms sqlite3 "$DB" "SELECT $COLS FROM tickets t WHERE queue = 'billing' AND status = 'open' ORDER BY number DESC LIMIT 50")
report "list --queue billing --status open" "$a" "$b"

a=$(median_ms "$RELAYDESK" tickets list --data-dir "$DATA" --assignee agent9 --tag vip --sort updated)
b=$(median_ms sqlite3 "$DB" "SELECT $COLS FROM tickets t WHERE assignee = 'agent9' AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.tag = 'vip' AND g.ticket_number = t.number) ORDER BY updated_at DESC, number DESC LIMIT 50")
report "list --assignee agent9 --tag vip --sort updated" "$a" "$b"

a=$(median_ms "$RELAYDESK" tickets list --data-dir "$DATA" --tag refund)
b=$(median_ms sqlite3 "$DB" "SELECT $COLS FROM ticket_tags g JOIN tickets t ON t.number = g.ticket_number WHERE g.tag = 'refund' ORDER BY g.ticket_number DESC LIMIT 50")
report "list --tag refund" "$a" "$b"

a=$(median_ms "$RELAYDESK" tickets list --data-dir "$DATA" --assignee - --queue tech --offset 500)
b=$(median_ms sqlite3 "$DB" "SELECT $COLS FROM tickets t WHERE queue = 'tech' AND assignee IS NULL ORDER BY number DESC LIMIT 50 OFFSET 500")
report "list --assignee - --queue tech --offset 500" "$a" "$b"

a=$(median_ms "$RELAYDESK" tickets list --data-dir "$DATA" --json --status new --since 2000-01-01)
b=$(median_ms sqlite3 "$DB" "SELECT $COLS FROM tickets t WHERE status = 'new' AND updated_at >= 946684800 ORDER BY number DESC LIMIT 50")
report "list --json --status new --since 2000-01-01" "$a" "$b"

a=$(median_ms "$RELAYDESK" tickets search zanzibar --data-dir "$DATA")
b=$(median_ms sqlite3 "$DB" "SELECT $COLS FROM tickets t WHERE number IN (SELECT rowid >> 22 FROM messages_fts WHERE messages_fts MATCH '\"zanzibar\"') ORDER BY number DESC LIMIT 50")
report "search zanzibar (0.1% of tickets)" "$a" "$b"

a=$(median_ms "$RELAYDESK" tickets search w17 w42 --data-dir "$DATA")
b=$(median_ms sqlite3 "$DB" "SELECT $COLS FROM tickets t WHERE number IN (SELECT rowid >> 22 FROM messages_fts WHERE messages_fts MATCH '\"w17\" \"w42\"') ORDER BY number DESC LIMIT 50")
report "search w17 w42 (two common words)" "$a" "$b"

a=$(median_ms "$RELAYDESK" tickets show 123457 --data-dir "$DATA")
b=$(median_ms sqlite3 "$DB" "SELECT * FROM messages WHERE ticket_number = 123457 ORDER BY id")
report "show 123457" "$a" "$b"
echo "(median of $RUNS runs each, wall clock of a fresh process, $(nproc) cores)"
