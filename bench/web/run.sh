#!/bin/bash
# bench/web — the web desk's API under load, and what it costs SMTP.
#
# On a store of N tickets (default 1,000,000, made by bench/tickets'
# generate.sql: 3 messages each, FTS5-indexed), with `relaydesk serve`
# running its web listener, wrk (32 connections, keep-alive, an API token
# of an agent of two of the five queues) measures p50, p99 and requests/s
# of:
#   list     first page, filtered: ?queue=tech&status=open (with total)
#   list     first page of all the agent's tickets (with total)
#   search   ?q=zanzibar (a word in 0.1% of tickets)
#   queues   the sidebar's counters per queue and status
#   ticket   one ticket with its thread
# then SMTP acceptance: Postfix's smtp-source, 32 sessions, 4 KiB
# messages, alone and again while 32 API clients poll the list (each
# asking again POLL_MS, default 250, after its answer: poll.lua), and the
# drop between the two.
#
# Usage: RELAYDESK=build/app/relaydesk bench/web/run.sh [N]
#        KEEP=DIR keeps (and reuses) the generated store; DURATION=s per
#        measure (default 10); MESSAGES per SMTP run (default 3000).
set -euo pipefail
N=${1:-1000000}
DURATION=${DURATION:-10}
MESSAGES=${MESSAGES:-3000}
HERE=$(cd "$(dirname "$0")" && pwd)
RELAYDESK=${RELAYDESK:-$HERE/../../build/app/relaydesk}
RELAYDESK=$(readlink -f "$RELAYDESK")
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
command -v wrk >/dev/null || { echo "bench/web: needs wrk" >&2; exit 77; }
[ -x "$SMTP_SOURCE" ] || { echo "bench/web: needs smtp-source (postfix)" >&2; exit 77; }
if [ -n "${KEEP:-}" ]; then
  DIR=$KEEP; mkdir -p "$DIR"
else
  DIR=$(mktemp -d /tmp/rd-bench-web.XXXXXX)
fi
DATA=$DIR/data
DB=$DATA/relaydesk.db
SERVE_PID=
WRK_PID=
cleanup() {
  [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null || true
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
  [ -z "${KEEP:-}" ] && rm -rf "$DIR"
}
trap cleanup EXIT

# A kept store is reused while it holds the N generated tickets (the SMTP
# runs below add theirs to the queue inbox).
if [ ! -s "$DB" ] || [ "$(sqlite3 "$DB" "SELECT count(*) >= $N FROM tickets")" != 1 ]; then
  rm -rf "$DATA"
  printf 'From: init@example.org\nSubject: init\nMessage-ID: <init@example.org>\n\ninit\n' |
    "$RELAYDESK" deliver --data-dir "$DATA" --no-process init@example.org >/dev/null 2>&1
  t0=$(date +%s%N)
  sqlite3 -bail "$DB" ".param set :tickets $N" ".read $HERE/../tickets/generate.sql" >/dev/null
  # generate.sql writes the tickets with the triggers of migration 0602 in
  # place, so the counters are right; check it.
  t1=$(date +%s%N)
  echo "generated: $N tickets in $(( (t1 - t0) / 1000000 )) ms; database $(du -sh "$DATA" | cut -f1)"
fi
[ "$(sqlite3 "$DB" "SELECT (SELECT sum(n) FROM queue_counts) = (SELECT count(*) FROM tickets)")" = 1 ] ||
  { echo "queue_counts disagree with the tickets" >&2; exit 1; }

printf 'bench password 1\n' > "$DIR/pw"
"$RELAYDESK" agents add bench-agent@example.org --name Bench --queue billing --queue tech \
  --password-file "$DIR/pw" --data-dir "$DATA" >/dev/null 2>&1 || true
TOKEN=$("$RELAYDESK" agents token bench-agent@example.org --label "bench $(date +%s)" --data-dir "$DATA" 2>/dev/null)

rm -f "$DIR/http.port" "$DIR/smtp.port"
"$RELAYDESK" serve --data-dir "$DATA" --smtp 127.0.0.1:0 --smtps none --port-file "$DIR/smtp.port" \
  --http 127.0.0.1:0 --http-port-file "$DIR/http.port" >"$DIR/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 200); do [ -s "$DIR/http.port" ] && [ -s "$DIR/smtp.port" ] && break; sleep 0.05; done
HTTP=$(cat "$DIR/http.port"); SMTP=$(cat "$DIR/smtp.port")
BASE=http://127.0.0.1:$HTTP

# wrk --latency: "50%  1.23ms" ... "99%  4.56ms", "Requests/sec: 1234.5"
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
measure() { # name, path
  local out p50 p99 rps
  out=$(wrk -t4 -c32 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$BASE$2")
  p50=$(echo "$out" | awk '$1=="50%"{print $2}' | to_ms)
  p99=$(echo "$out" | awk '$1=="99%"{print $2}' | to_ms)
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  errs=$(echo "$out" | awk '/Non-2xx/{print $NF}')
  printf '| %-40s | %8s | %8s | %9s | %s\n' "$1" "$p50" "$p99" "$rps" "${errs:+non-2xx $errs}"
}

echo
echo "relaydesk $("$RELAYDESK" --version | cut -d' ' -f2), $N tickets, wrk 32 connections, ${DURATION}s each, $(nproc) cores"
printf '| %-40s | %8s | %8s | %9s |\n' "API (agent of 2 of 5 queues)" "p50 ms" "p99 ms" "req/s"
printf '|%s|%s|%s|%s|\n' "------------------------------------------" "----------" "----------" "-----------"
measure "list ?queue=tech&status=open" "/api/v1/tickets?queue=tech&status=open"
measure "list, first page of all theirs" "/api/v1/tickets"
measure "search ?q=zanzibar" "/api/v1/tickets?q=zanzibar"
measure "queues (sidebar counters)" "/api/v1/queues"
measure "one ticket with its thread" "/api/v1/tickets/11"

smtp_rate() {
  local a b
  a=$(date +%s%N)
  "$SMTP_SOURCE" -s 32 -m "$MESSAGES" -l 4096 -f bench@example.org -t support@example.org "127.0.0.1:$SMTP" >/dev/null
  b=$(date +%s%N)
  awk -v n="$MESSAGES" -v ns="$((b - a))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'
}
poll_start() {
  POLL_MS=${POLL_MS:-250} wrk -t2 -c32 -d600s -s "$HERE/poll.lua" -H "Authorization: Bearer $TOKEN" \
    "$BASE/api/v1/tickets?queue=tech&status=open" >"$DIR/poll.out" 2>&1 &
  WRK_PID=$!
  sleep 1
}
poll_stop() {
  kill -INT "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; WRK_PID=
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
# Interleaved (alone, loaded, alone, ...) REPS times, medians: the
# machine's other load drifts less between the two than across a run.
REPS=${REPS:-3}
alones=(); loadeds=()
for _ in $(seq "$REPS"); do
  alones+=("$(smtp_rate)")
  poll_start
  loadeds+=("$(smtp_rate)")
  poll_stop
  polled=$(awk '/Requests\/sec/{print $2}' "$DIR/poll.out")
done
alone=$(median "${alones[@]}")
loaded=$(median "${loadeds[@]}")
echo
printf '| %-40s | %10s |\n' "SMTP acceptance, 32 sessions, 4 KiB" "msgs/s"
printf '|%s|%s|\n' "------------------------------------------" "------------"
printf '| %-40s | %10s |\n' "alone (median of ${alones[*]})" "$alone"
printf '| %-40s | %10s |\n' "with 32 polling API clients (${loadeds[*]})" "$loaded"
echo "(each client asks for the filtered list ${POLL_MS:-250} ms after its answer: ${polled:-?} requests/s in all;"
echo " the same 32 clients without pause: the first table)"
awk -v a="$alone" -v b="$loaded" 'BEGIN { printf "drop: %.1f%% (target < 10%%)\n", (a - b) * 100 / a }'
