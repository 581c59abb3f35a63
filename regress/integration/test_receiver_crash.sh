# cis490-receiver: an upload that does not finish leaves nothing behind,
# whether the client disconnects, stalls, or the receiver is killed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

pki_setup
receiver_conf "body-timeout 2s"
start_receiver "$T/log1"

tmp_empty() {
	[ -z "$(ls -A "$STORE/.tmp")" ]
}
tmp_busy() {
	[ -n "$(ls -A "$STORE/.tmp")" ]
}

head -c 4000000 /dev/urandom | zstd -q -1 -c >"$T/big.zst"

# 1. The client goes away in the middle of the body.
put lab-a ep-1 "$T/big.zst" --limit-rate 500K --max-time 2 >/dev/null 2>&1 &
cpid=$!
wait_until 5 tmp_busy || fail "the upload did not start"
wait "$cpid" && fail "curl finished a rate-limited upload in 2 s"
wait_until 5 tmp_empty || fail "temp file left: $(ls -A "$STORE/.tmp")"
[ ! -e "$STORE/lab-a/ep-1.tar.zst" ] || fail "partial archive stored"
wait_until 5 grep -q 'PUT "/v1/episodes/lab-a/ep-1" - in=[0-9]* .* disconnected' \
    "$LOG" || fail "the dropped upload is not in the access log"
ok "client disconnects mid-body: nothing stored, no temp file"

# 2. The client stalls in the middle of the body: body-timeout.
stalled_put ep-2 "$T/big.zst" 100000
ppid=$STALLED_PID
wait_until 5 tmp_busy || fail "the stalled upload did not start"
wait_until 6 grep -q 'PUT "/v1/episodes/lab-a/ep-2" - .* body-timeout' \
    "$LOG" || fail "a stalled upload was not dropped after body-timeout"
tmp_empty || fail "temp file left after body-timeout"
[ ! -e "$STORE/lab-a/ep-2.tar.zst" ] || fail "stalled upload stored"
kill "$ppid" 2>/dev/null
wait "$ppid" 2>/dev/null
ok "client stalls mid-body: dropped after body-timeout, nothing left"

# 3. The receiver is killed in the middle of an upload, then restarted.
put lab-a ep-3 "$T/big.zst" --limit-rate 500K >/dev/null 2>&1 &
cpid=$!
wait_until 5 tmp_busy || fail "the upload did not start"
sleep 0.5
spid=$(server_pid)
[ -n "$spid" ] || fail "no server process"
kill -KILL "$RECEIVER_PID" "$spid"
wait_until 5 gone "$spid" || fail "server survived SIGKILL"
wait "$cpid" && fail "the upload succeeded against a killed receiver"
tmp_busy || fail "no temp file after the kill: the test proves nothing"
[ ! -e "$STORE/lab-a/ep-3.tar.zst" ] || fail "partial archive after kill"
left=$(ls -A "$STORE/.tmp")
start_receiver "$T/log2"
tmp_empty || fail "temp files not cleaned at start: $(ls -A "$STORE/.tmp")"
grep -q 'removed 1 leftover temp file' "$LOG" || fail "cleanup not logged"
[ ! -e "$STORE/lab-a/ep-3.tar.zst" ] || fail "partial archive after restart"
ok "SIGKILL mid-upload: no archive; restart removed $left"

s=$(put lab-a ep-3 "$T/big.zst")
[ "$s" = 201 ] || fail "upload after restart: $s"
cmp "$T/big.zst" "$STORE/lab-a/ep-3.tar.zst" || fail "stored bytes differ"
ok "the same upload afterwards: 201, byte-identical"

# 4. The parent killed alone: the server goes too (and SIGTERM works).
spid=$(server_pid)
kill -KILL "$RECEIVER_PID"
wait_until 5 gone "$spid" || fail "server outlived its parent"
ok "parent SIGKILLed: the server exits"
