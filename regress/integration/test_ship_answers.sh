# The shipper's reaction to the real receiver's answers (DESIGN §6):
# 409 and 412 quarantine with a reason, 401 pauses uploads and keeps the
# episodes, an unreachable receiver keeps the episode packed for later,
# the daemon retries within its backoff cap, and a busy receiver (503 +
# Retry-After) is waited for, not hammered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"

ship_setup "accept-window past 1m future 1m"

# (a) 409: the receiver holds lab-a/ep-conflict with other bytes.
zst_file "$T/other.zst" 5000
s=$(put lab-a ep-conflict "$T/other.zst")
[ "$s" = 201 ] || fail "setup PUT: $s $(cat "$T/body")"
new_episode ep-conflict
mark_ready ep-conflict
ship_once once-a
[ "$ONCE_RC" = 1 ] || fail "conflict: once exit $ONCE_RC, expected 1"
is_quarantined ep-conflict || fail "conflict: not in quarantine/"
[ "$(reason_of ep-conflict)" = conflict ] ||
    fail "conflict: reason.json: $(cat "$DATA/quarantine/ep-conflict.reason.json")"
jq -e '.id == "ep-conflict" and .http_status == 409' \
    "$DATA/quarantine/ep-conflict.reason.json" >/dev/null ||
    fail "conflict: reason.json: $(cat "$DATA/quarantine/ep-conflict.reason.json")"
cmp -s "$T/other.zst" "$STORE/lab-a/ep-conflict.tar.zst" ||
    fail "conflict: the stored archive changed"
spool_empty || fail "conflict: spool/ not empty: $(ls -A "$DATA/spool")"
ok "409: once exits 1, quarantined with reason conflict, store unchanged"

# (b) 412: markers two days old and two days ahead, window 1m/1m.
new_episode ep-old
mark_ready ep-old -d '2 days ago'
new_episode ep-future
mark_ready ep-future -d '2 days'
ship_once once-b
[ "$ONCE_RC" = 1 ] || fail "out of window: once exit $ONCE_RC, expected 1"
for id in ep-old ep-future; do
	is_quarantined "$id" || fail "$id: not in quarantine/"
	[ "$(reason_of "$id")" = out-of-window ] ||
	    fail "$id: reason.json: $(cat "$DATA/quarantine/$id.reason.json")"
	jq -e '.http_status == 412' "$DATA/quarantine/$id.reason.json" \
	    >/dev/null || fail "$id: http_status"
	[ ! -e "$STORE/lab-a/$id.tar.zst" ] || fail "$id: stored"
done
ok "412: markers 2 days old or ahead quarantined as out-of-window"

# (c) 401 in the daemon: uploads pause for the backoff cap (exactly,
# no jitter), no other episode is tried, nothing is quarantined.  (The
# `once` side of 401 is test_ship_token.sh, held back until `once`
# stops waiting out the pause.)
openssl rand -hex 32 >"$T/revoked.token"
chmod 0600 "$T/revoked.token"
SHIP_TOKEN=$T/revoked.token ship_conf "scan-interval 1s" "backoff base 1s" \
    "backoff cap 3s"
new_episode ep-tok-1
mark_ready ep-tok-1 -d '20 seconds ago'
new_episode ep-tok-2
mark_ready ep-tok-2
n401() {
	access_lines 'PUT "/v1/episodes/lab-a/ep-tok-[12]" 401 ' | wc -l
}
ship_daemon daemon-c
wait_until 15 eval '[ "$(n401)" -ge 1 ]' || fail "401: no attempt"
t1=$(date +%s%N)
wait_until 15 eval '[ "$(n401)" -ge 3 ]' || fail "401: no retry after the pause"
ms=$(( ($(date +%s%N) - t1) / 1000000 ))
[ "$ms" -ge 5500 ] || fail "401: 3 attempts within ${ms} ms; pause is 3 s"
access_lines 'lab-a/ep-tok-2' >/dev/null && fail "401: ep-tok-2 tried while paused"
grep -q 'ep-tok-1: the receiver refused our credentials (HTTP 401).*paused for 3s: check the token in '"$T/revoked.token" \
    "$SLOG" || fail "401: no credentials line naming the token file"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "daemon: exit $EXIT_STATUS after SIGTERM"
[ -d "$DATA/episodes/ep-tok-1" ] && [ -d "$DATA/episodes/ep-tok-2" ] ||
    fail "401: episodes moved"
[ ! -e "$DATA/quarantine/ep-tok-1" ] || fail "401: quarantined"
ok "401 (daemon): paused 3 s between tries, other episodes wait, log names the token"
ship_conf
ship_once once-c
[ "$ONCE_RC" = 0 ] || fail "token restored: once exit $ONCE_RC"
is_shipped ep-tok-1 && is_shipped ep-tok-2 || fail "token restored: not shipped"
ok "right token again: both kept episodes ship"

# (d) Receiver stopped: the archive waits in spool/, then ships.
stop_receiver
new_episode ep-down
mark_ready ep-down
ship_once once-d 30
[ "$ONCE_RC" = 1 ] || fail "receiver down: once exit $ONCE_RC, expected 1"
[ -d "$DATA/episodes/ep-down" ] || fail "receiver down: episode moved"
[ -f "$DATA/spool/ep-down.tar.zst" ] ||
    fail "receiver down: not packed in spool/: $(ls -A "$DATA/spool")"
zstd -q -t "$DATA/spool/ep-down.tar.zst" || fail "spool archive: zstd -t"
grep -q 'ep-down: not shipped' "$LOG" || fail "receiver down: not logged"
ok "receiver down: once exits 1, episode kept, archive packed in spool/"
ship_restart_receiver
ship_once once-d2
[ "$ONCE_RC" = 0 ] || fail "receiver back: once exit $ONCE_RC"
is_shipped ep-down || fail "receiver back: not shipped"
spool_empty || fail "receiver back: spool/ not empty"
ok "receiver back on the same port: once exits 0 and ships it"

# (e) Daemon, receiver down while an episode becomes ready.
stop_receiver
ship_conf "scan-interval 1s" "backoff base 1s" "backoff cap 3s"
ship_daemon daemon-e
new_episode ep-retry
mark_ready ep-retry
wait_until 15 grep -q 'ep-retry: not shipped: .*next try in' "$SLOG" ||
    fail "daemon: no failed attempt logged"
wait_until 10 eval '[ "$(grep -c "ep-retry: not shipped" "$SLOG")" -ge 3 ]' ||
    fail "daemon: not retrying"
gone "$DAEMON_PID" && fail "daemon died with the receiver down"
[ -d "$DATA/episodes/ep-retry" ] || fail "daemon: episode moved"
ship_restart_receiver
t0=$(date +%s%N)
wait_until 10 is_shipped ep-retry || fail "daemon: not shipped 10 s after"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# The cap is 3 s; allow 1.5 s for the upload itself and scheduling.
[ "$ms" -le 4500 ] || fail "daemon: shipped ${ms} ms after the receiver came back (cap 3 s)"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "daemon: exit $EXIT_STATUS after SIGTERM"
ok "daemon: keeps running while the receiver is down, ships ${ms} ms after it is back"

# (f) 503 with Retry-After: one connection allowed and it is taken.
stop_receiver
receiver_conf "max-connections 1" "accept-window past 1m future 1m"
start_receiver "$T/receiver-busy.log"
RLOG=$LOG
ship_conf "scan-interval 1s" "backoff base 1s" "backoff cap 5s"
hold_connection
s=$(rcurl lab-a -X POST "$URL/v1/ping")
[ "$s" = 503 ] || fail "busy receiver answered $s, not 503"
ra=$(tr -d '\r' <"$T/headers" | sed -n 's/^Retry-After: *//Ip')
[ -n "$ra" ] && [ "$ra" -ge 1 ] || fail "503 without Retry-After"
ship_daemon daemon-f
new_episode ep-busy
mark_ready ep-busy
wait_until 15 eval 'access_lines "PUT \"/v1/episodes/lab-a/ep-busy\" 503" >/dev/null' ||
    fail "busy: the shipper did not try"
hold=12
sleep "$hold"		# the shipper must not succeed meanwhile
[ -d "$DATA/episodes/ep-busy" ] && [ ! -e "$STORE/lab-a/ep-busy.tar.zst" ] ||
    fail "busy: shipped while the only connection was held"
n=$(access_lines 'PUT "/v1/episodes/lab-a/ep-busy" 503' | wc -l)
# Retry-After: $ra, cap 5 s: the first try and then at most one every
# min(ra, cap) seconds.
wait=$(( ra < 5 ? ra : 5 ))
max=$(( hold / wait + 2 ))
[ "$n" -le "$max" ] ||
    fail "busy: $n attempts in about ${hold}s with Retry-After $ra (max $max)"
[ "$n" -ge 2 ] || fail "busy: only $n attempt in ${hold}s: no retry"
grep -q 'ep-busy: not shipped: .*next try in [5-9]\.' "$SLOG" ||
    fail "busy: waits shorter than Retry-After: $(grep 'next try' "$SLOG")"
release_connection
wait_until 10 is_shipped ep-busy || fail "busy: not shipped after release"
access_lines 'PUT "/v1/episodes/lab-a/ep-busy" 201' >/dev/null ||
    fail "busy: no 201 in the access log"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "daemon: exit $EXIT_STATUS after SIGTERM"
ok "503 Retry-After $ra: $n attempts in ${hold}s (max $max), shipped after release"
