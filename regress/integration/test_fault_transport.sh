# Transport faults between the shipper and the receiver (DESIGN §6,
# "connect/TLS/timeout: transient"): a server that accepts TCP and
# never answers, a TLS handshake that stalls half way, a connection
# reset in the middle of the upload, and a request whose answer never
# comes (the receiver stored it).  Each ends in a timeout or error
# within the configured limits (stall-timeout 10s: 5 s to connect, 5 s
# below 1 byte/s), a backoff, and the next try; the episode is then
# stored exactly once and byte-identical, and the daemon never stops.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"
. "$(dirname "$0")/fault_lib.sh"

ship_setup >/dev/null 2>&1 || fail "setup"
proxy_start
SHIP_URL=$PROXY_URL ship_conf "scan-interval 1s" "backoff base 1s" \
    "backoff cap 2s" "stall-timeout 10s"
plan "conn silent" "conn hsstall" "req reset 65536" "req noanswer"
new_episode ep-net
# Incompressible: the archive is larger than the 64 KiB let through.
head -c 300000 /dev/urandom >"$DATA/episodes/ep-net/raw.bin"
mark_ready ep-net
ship_daemon net
wait_until 60 is_shipped ep-net ||
    fail "ep-net not shipped: $(cat "$PROXY_LOG")"
gone "$DAEMON_PID" && fail "the daemon stopped"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "daemon exit $EXIT_STATUS after SIGTERM"

# secs LINE: the duration in "... gave up after N.Ns".
secs() {
	sed -n 's/.*gave up after \([0-9.]*\)s$/\1/p'
}
within() {
	awk -v g="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(g >= lo && g <= hi) }'
}
s1=$(proxy_lines '^[0-9.]+ conn 1 client gave up' | secs)
s2=$(proxy_lines '^[0-9.]+ conn 2 client gave up' | secs)
[ -n "$s1" ] && within "$s1" 4.5 8 ||
    fail "silent server: the shipper gave up after '${s1}' s, not 5: $(cat "$PROXY_LOG")"
[ -n "$s2" ] && within "$s2" 4.5 8 ||
    fail "stalled handshake: the shipper gave up after '${s2}' s, not 5: $(cat "$PROXY_LOG")"
proxy_lines 'conn 2 hsstall: relayed 60 of [0-9]+ handshake bytes' >/dev/null ||
    fail "the handshake was not half done: $(cat "$PROXY_LOG")"
proxy_lines 'req 1 PUT /v1/episodes/lab-a/ep-net -> reset after 65536 of [0-9]+ body bytes' \
    >/dev/null || fail "no reset in the middle of the upload: $(cat "$PROXY_LOG")"
proxy_lines 'req 2 PUT /v1/episodes/lab-a/ep-net -> noanswer \(upstream said 201\)' \
    >/dev/null || fail "no swallowed answer: $(cat "$PROXY_LOG")"
s4=$(proxy_lines '^[0-9.]+ req 2 client gave up' | secs)
# libcurl's speed is an average over the last 5 s or so, which the
# upload itself keeps up for a while: up to twice the 5 s.
[ -n "$s4" ] && within "$s4" 4.5 13 ||
    fail "no answer: the shipper gave up after '${s4}' s, not 5 to 11: $(cat "$PROXY_LOG")"
proxy_lines 'req 3 PUT /v1/episodes/lab-a/ep-net -> pass 200' >/dev/null ||
    fail "the last try was not answered 200 (already stored): $(cat "$PROXY_LOG")"
ok "silent server ${s1}s, stalled TLS handshake ${s2}s, reset after 64 KiB, no answer ${s4}s"

# The shipper's own account: four transient failures, each followed by
# a backoff, then shipped.
grep 'ep-net: not shipped: ' "$SLOG" >"$T/failures"
[ "$(wc -l <"$T/failures")" = 4 ] || fail "failures logged: $(cat "$T/failures")"
sed -n 1p "$T/failures" | grep -q -i 'timed out\|timeout' ||
    fail "silent server: $(sed -n 1p "$T/failures")"
sed -n 2p "$T/failures" | grep -q -i 'timed out\|timeout' ||
    fail "stalled handshake: $(sed -n 2p "$T/failures")"
sed -n 3p "$T/failures" | grep -q -i 'reset\|send failure\|recv failure' ||
    fail "reset: $(sed -n 3p "$T/failures")"
sed -n 4p "$T/failures" | grep -q -i 'too slow\|timed out' ||
    fail "no answer: $(sed -n 4p "$T/failures")"
[ "$(grep -c 'next try in [0-9]' "$T/failures")" = 4 ] ||
    fail "not every failure backed off: $(cat "$T/failures")"
ok "each logged as a transient failure with its cause and the next try"

# Stored once (the swallowed 201), then answered "already stored".
[ "$(access_lines 'PUT "/v1/episodes/lab-a/ep-net" 201 ' | wc -l)" = 1 ] ||
    fail "receiver: $(access_lines 'lab-a/ep-net')"
[ "$(access_lines 'PUT "/v1/episodes/lab-a/ep-net" 200 ' | wc -l)" = 1 ] ||
    fail "receiver: $(access_lines 'lab-a/ep-net')"
archive_is_tree "$STORE/lab-a/ep-net.tar.zst" "$DATA/shipped/ep-net" ep-net
[ -z "$(ls -A "$STORE/.tmp")" ] || fail "receiver temp files left"
spool_empty || fail "spool/ not empty: $(ls -A "$DATA/spool")"
ok "stored once, byte-identical to shipped/ep-net; nothing left over"
