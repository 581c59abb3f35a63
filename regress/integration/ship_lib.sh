# Helpers for the end-to-end shipping tests (test_ship_*.sh): a real
# cis490-receiver with a throw-away PKI, and cis490-shipper configured
# as host lab-a against it.  Source it after lib.sh and pki.sh.
#
#   ship_setup [RECEIVER-LINES...]  PKI, receiver.conf (with the extra
#                                   lines), receiver started (log
#                                   $T/receiver.log), $T/data, and
#                                   $T/shipper.conf via ship_conf
#   ship_conf [SHIPPER-LINES...]    (re)write $T/shipper.conf for lab-a;
#                                   SHIP_URL, SHIP_CA, SHIP_CERT,
#                                   SHIP_KEY, SHIP_TOKEN override the
#                                   receiver settings
#   ship_restart_receiver           start the receiver again on $PORT
#   new_episode ID                  $DATA/episodes/ID with a file in it
#   mark_ready ID [TOUCH-ARGS...]   create its DONE marker (touch ARGS)
#   fix_owner                       chown the data tree to `daemon` (root)
#   ship_once NAME [SECONDS]        run `once` (default limit 60 s),
#                                   stderr in $T/NAME.log; sets ONCE_RC
#                                   (124 = timed out)
#   ship_ping NAME [SECONDS]        run `ping`, stdout in $T/NAME.out,
#                                   stderr in $T/NAME.log; sets PING_RC
#   ship_daemon NAME                start the daemon, stderr in
#                                   $T/NAME.log; sets DAEMON_PID, SLOG
#   stop_daemon                     SIGTERM; sets EXIT_STATUS
#   access_lines FILTER             access-log lines of every receiver
#                                   started (logs $T/receiver*.log)
#                                   matching the (grep -E) FILTER
#   reason_of ID                    "reason" of quarantine/ID.reason.json

DATA=$T/data

ship_conf() {
	local l
	mkdir -p "$DATA/episodes"
	{
		echo "host lab-a"
		echo "data-root \"$DATA\""
		if [ "$(id -u)" = 0 ]; then
			echo "user daemon"
			echo "sandbox-user nobody"
		fi
		echo "receiver url \"${SHIP_URL:-$URL}\""
		echo "receiver ca \"${SHIP_CA:-$PKI/ca.pem}\""
		echo "receiver certificate \"${SHIP_CERT:-$PKI/lab-a.crt}\""
		echo "receiver key \"${SHIP_KEY:-$PKI/lab-a.key}\""
		echo "receiver token-file \"${SHIP_TOKEN:-$PKI/lab-a.token}\""
		# make check runs some tests again without zstd workers (0).
		if [ -n "${SHIP_THREADS:-}" ]; then
			echo "compression threads $SHIP_THREADS"
		fi
		for l in "$@"; do
			echo "$l"
		done
	} >"$T/shipper.conf"
	CONF=$T/shipper.conf
	chmod 0600 "$PKI"/*.key "$PKI"/*.token
	fix_owner
	"$SHIPPER" -n -f "$CONF" 2>"$T/conf-check.out" ||
	    fail "shipper.conf refused: $(cat "$T/conf-check.out")"
}

ship_setup() {
	pki_setup
	receiver_conf "$@"
	start_receiver "$T/receiver.log"
	RLOG=$T/receiver.log
	ship_conf
}

ship_restart_receiver() {
	RESTARTS=$(( ${RESTARTS:-0} + 1 ))
	start_receiver "$T/receiver-$RESTARTS.log"
	RLOG=$LOG
}

fix_owner() {
	mkdir -p "$DATA"
	if [ "$(id -u)" = 0 ]; then
		chown -R daemon "$DATA"
	fi
}

new_episode() {
	mkdir -p "$DATA/episodes/$1" || fail "mkdir episodes/$1"
	echo "episode $1 $RANDOM" >"$DATA/episodes/$1/data.txt"
	fix_owner
}

mark_ready() {
	local id=$1
	shift
	touch "$@" "$DATA/episodes/$id/DONE" || fail "touch DONE in $id"
	fix_owner
}

ship_once() {
	timeout -k 5 "${2:-60}" "$SHIPPER" -d -v -f "$CONF" once \
	    2>"$T/$1.log"
	ONCE_RC=$?
	LOG=$T/$1.log
}

ship_ping() {
	timeout -k 5 "${2:-30}" "$SHIPPER" -d -v -f "$CONF" ping \
	    >"$T/$1.out" 2>"$T/$1.log"
	PING_RC=$?
	LOG=$T/$1.log
}

ship_daemon() {
	start_daemon "$T/$1.log"
	SLOG=$T/$1.log
}

stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 10 || fail "shipper still up 10 s after SIGTERM"
}

access_lines() {
	cat "$T"/receiver*.log | grep -E "server: access .*$1"
}

reason_of() {
	jq -r .reason "$DATA/quarantine/$1.reason.json" 2>/dev/null
}

is_shipped() {
	[ -d "$DATA/shipped/$1" ] && [ ! -e "$DATA/episodes/$1" ] &&
	    [ -f "$STORE/lab-a/$1.tar.zst" ]
}

is_quarantined() {
	[ -d "$DATA/quarantine/$1" ] && [ ! -e "$DATA/episodes/$1" ]
}

spool_empty() {
	[ -z "$(ls -A "$DATA/spool" 2>/dev/null)" ]
}

# hold_connection: open one mutual-TLS connection to the receiver as
# lab-b, make one keep-alive request on it and keep it open until
# release_connection.  Sets HOLDER_PID; $T/held has the answer.
hold_connection() {
	rm -f "$T/held" "$T/release"
	cat >"$T/holder.py" <<'PY'
import os, socket, ssl, sys, time
pki, port, t = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/lab-b.crt", pki + "/lab-b.key")
c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
    server_hostname="127.0.0.1")
c.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
got = b""
deadline = time.time() + 10
while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
    b = c.recv(4096)
    if not b or time.time() > deadline:
        break
    got += b
with open(t + "/held.tmp", "wb") as f:
    f.write(got)
os.rename(t + "/held.tmp", t + "/held")
while not os.path.exists(t + "/release"):
    time.sleep(0.05)
c.close()
PY
	python3 "$T/holder.py" "$PKI" "$PORT" "$T" 2>"$T/holder.err" &
	HOLDER_PID=$!
	STARTED_PIDS="$STARTED_PIDS $HOLDER_PID"
	wait_until 10 test -f "$T/held" ||
	    fail "holder: no answer: $(cat "$T/holder.err")"
	head -n 1 "$T/held" | grep -q '^HTTP/1.1 200' ||
	    fail "holder: $(head -n 1 "$T/held")"
}

release_connection() {
	touch "$T/release"
	wait_until 5 gone "$HOLDER_PID" || fail "holder still running"
	wait "$HOLDER_PID" || fail "holder: $(cat "$T/holder.err")"
}
