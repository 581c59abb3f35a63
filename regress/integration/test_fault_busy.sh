# A busy receiver (DESIGN §6): 503 and 429 with Retry-After, as delta
# seconds and as an HTTP-date, are waited out as told, and a Retry-After
# beyond the backoff cap is clamped to the cap; then the episode ships,
# stored once and byte-identical.  A fault proxy answers in place of
# the receiver and counts the requests.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"
. "$(dirname "$0")/fault_lib.sh"

ship_setup >/dev/null 2>&1 || fail "setup"
proxy_start
SHIP_URL=$PROXY_URL ship_conf "scan-interval 1s" "backoff base 1s" \
    "backoff cap 3s"
plan "req 429 date 3" "req 503 2" "req 503 3600"
new_episode ep-busy
head -c 300000 /dev/urandom >"$DATA/episodes/ep-busy/raw.bin"
mark_ready ep-busy
ship_daemon busy
wait_until 45 is_shipped ep-busy || fail "ep-busy not shipped: $(cat "$PROXY_LOG")"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "daemon exit $EXIT_STATUS after SIGTERM"

# The requests, as the proxy saw them: four refused, one passed.
proxy_lines 'req [0-9]+ PUT /v1/episodes/lab-a/ep-busy ->' >"$T/puts"
n=$(wc -l <"$T/puts")
[ "$n" = 4 ] || fail "$n PUTs through the proxy, expected 4: $(cat "$T/puts")"
sed -n 's/.*-> \([a-z0-9]*\).*/\1/p' "$T/puts" | tr '\n' ' ' >"$T/what"
[ "$(cat "$T/what")" = "429 503 503 pass " ] ||
    fail "outcomes: $(cat "$T/what")"
grep -q 'pass 201$' "$T/puts" || fail "last PUT not stored: $(tail -1 "$T/puts")"
awk '{ print $1 }' "$T/puts" >"$T/times"
# gap I: seconds between request I and I+1.
gap() {
	awk -v i="$1" 'NR == i { a = $1 } NR == i + 1 { printf "%.2f", $1 - a }' \
	    "$T/times"
}
within() {
	awk -v g="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(g >= lo && g <= hi) }'
}
# Full jitter from base 1s, cap 3s draws the waits from [0, 1], [0, 2]
# and [0, 3] s: without Retry-After they would come out shorter than
# told (but for a chance of 1 in 40 for the second).  The date form has
# whole seconds, so it may come out a second short; 3600 is clamped to
# the cap.  1.5 s slack for the upload.
g1=$(gap 1) g2=$(gap 2) g3=$(gap 3)
within "$g1" 1.95 4.5 || fail "429 Retry-After HTTP-date +3s: next try after ${g1}s"
within "$g2" 1.95 3.5 || fail "503 Retry-After 2: next try after ${g2}s"
within "$g3" 2.95 4.5 || fail "503 Retry-After 3600, cap 3s: next try after ${g3}s"
grep -q 'ep-busy: not shipped: HTTP 503 .*next try in 2\.000s' "$SLOG" ||
    fail "no 'next try in 2.000s' line: $(grep 'next try' "$SLOG")"
grep -q 'ep-busy: not shipped: HTTP 503 .*next try in 3\.000s' "$SLOG" ||
    fail "Retry-After 3600 not clamped to the 3s cap: $(grep 'next try' "$SLOG")"
ok "429 Retry-After as an HTTP-date +3s, 503 Retry-After 2, 503 Retry-After 3600 (cap 3s): waited ${g1}s ${g2}s ${g3}s"

# The receiver saw the one request that passed.
[ "$(access_lines 'PUT "/v1/episodes/lab-a/ep-busy"' | wc -l)" = 1 ] ||
    fail "receiver: $(access_lines 'lab-a/ep-busy')"
archive_is_tree "$STORE/lab-a/ep-busy.tar.zst" "$DATA/shipped/ep-busy" ep-busy
spool_empty || fail "spool/ not empty: $(ls -A "$DATA/spool")"
[ -z "$(ls -A "$DATA/quarantine")" ] || fail "something quarantined"
ok "then shipped: one PUT at the receiver, archive identical to shipped/ep-busy"
