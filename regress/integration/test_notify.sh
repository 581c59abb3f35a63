# systemd's side of the parent (DESIGN §7), with a listener that plays
# systemd: one READY=1 after the first pass, WATCHDOG=1 per pass, STATUS,
# STOPPING=1, all from the parent's pid; pings stop when the scanner, a
# pack or an upload is stuck, and come back when it moves; a slow upload
# that moves never stops them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

pki_setup >/dev/null
chmod 0600 "$PKI/lab-a.token" "$PKI/lab-a.key"
receiver_conf
start_receiver "$T/receiver.log"
N=0

# conf EXTRA-LINES...: $T/shipper.conf for lab-a
conf() {
	local l
	{
		echo "host lab-a"
		echo "data-root \"$T/data\""
		if [ "$(id -u)" = 0 ]; then
			echo "user daemon"
			echo "sandbox-user nobody"
		fi
		echo "receiver url \"$URL\""
		echo "receiver ca \"$PKI/ca.pem\""
		echo "receiver certificate \"$PKI/lab-a.crt\""
		echo "receiver key \"$PKI/lab-a.key\""
		echo "receiver token-file \"$PKI/lab-a.token\""
		echo "scan-interval 1s"
		for l in "$@"; do
			echo "$l"
		done
	} >"$T/shipper.conf"
	CONF=$T/shipper.conf
	mkdir -p "$T/data/episodes"
	[ "$(id -u)" = 0 ] && chown -R daemon "$T/data"
}

# notified WATCHDOG_USEC: starts a listener and the daemon under it.
notified() {
	N=$((N + 1))
	OUT=$T/notify$N.out
	: >"$OUT"
	python3 "$(dirname "$0")/notify_listener.py" "$T/notify$N.sock" \
	    "$OUT" 300 &
	STARTED_PIDS="$STARTED_PIDS $!"
	wait_until 5 test -S "$T/notify$N.sock" || fail "listener"
	LOG=$T/daemon$N.log
	# WATCHDOG_PID must name the daemon: exec keeps the shell's pid.
	NOTIFY_SOCKET=$T/notify$N.sock WATCHDOG_USEC=$1 SHIPPER_=$SHIPPER \
	    CONF_=$CONF bash -c 'export WATCHDOG_PID=$$;
		exec "$SHIPPER_" -d -v -f "$CONF_" -s "$CONF_.sock"' 2>"$LOG" &
	DAEMON_PID=$!
	STARTED_PIDS="$STARTED_PIDS $DAEMON_PID"
}

count() { grep -c "$1" "$OUT"; }
pings() { count 'WATCHDOG=1'; }
stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 5 || fail "daemon did not stop"
	[ "$EXIT_STATUS" -eq 0 ] || fail "daemon exit status $EXIT_STATUS"
}
# pings_stop: no new ping over 3 s, within LIMIT seconds.
pings_stop() {
	local limit=$1 t=0 a b
	while [ "$t" -lt "$limit" ]; do
		a=$(pings); sleep 3; b=$(pings)
		[ "$a" = "$b" ] && return 0
		t=$((t + 3))
	done
	return 1
}
# Counted on every poll, not once when wait_until is called.
pings_over() { [ "$(pings)" -gt "$1" ]; }
pings_grow() { local a; a=$(pings); wait_until "$1" pings_over "$a"; }

# 1. READY, WATCHDOG, STATUS, STOPPING, and who sends them.
conf "stall-timeout 3s"
notified 30000000
wait_until 10 grep -q 'READY=1' "$OUT" || fail "no READY=1"
wait_until 10 pings_over 2 || fail "fewer than 3 WATCHDOG=1 in 10 s"
[ "$(count 'READY=1')" -eq 1 ] || fail "READY=1 sent $(count READY=1) times"
first_ready=$(grep -n 'READY=1' "$OUT" | head -1 | cut -d: -f1)
first_ping=$(grep -n 'WATCHDOG=1' "$OUT" | head -1 | cut -d: -f1)
[ "$first_ping" -le "$first_ready" ] ||
    fail "READY=1 came before the first pass's heartbeat"
grep -q 'STATUS=0 pending, idle' "$OUT" || fail "no STATUS line: $(cat "$OUT")"
for pid in $(cut -f1 "$OUT" | sort -u); do
	[ "$pid" = "$DAEMON_PID" ] || fail "datagram from pid $pid, not the parent"
done
for c in $(ps -o pid= --ppid "$DAEMON_PID"); do
	tr '\0' '\n' <"/proc/$c/environ" | grep -qE '^(NOTIFY_SOCKET|WATCHDOG_)' &&
	    fail "child $c has systemd's variables"
done
ok "one READY=1 after the first pass, WATCHDOG=1 per pass, STATUS, parent only"

# 2. A stuck scanner sends no heartbeat: no pings; they return with it.
SCANNER=$(child_pid scanner)
kill -STOP "$SCANNER"
pings_stop 6 || fail "pings went on with the scanner stopped"
kill -CONT "$SCANNER"
pings_grow 5 || fail "pings did not come back after SIGCONT of the scanner"
ok "scanner stopped: pings stop; SIGCONT: they come back"
stop_daemon
grep -q 'STOPPING=1' "$OUT" || fail "no STOPPING=1 on SIGTERM"
ok "STOPPING=1 on SIGTERM, exit 0"

# 3. Watchdog shorter than twice the scan interval: said at start.
notified 1500000
wait_until 5 grep -q 'shorter than twice scan-interval' "$LOG" ||
    fail "no warning for WatchdogSec < 2 x scan-interval"
stop_daemon
ok "a too short WatchdogSec is reported at start"

# 4. A pack that makes no progress stops the pings; SIGCONT resumes.
# Level 19 on random bytes is slow enough to catch the packer mid-pack.
conf "stall-timeout 2s" "compression level 19"
mkdir -p "$T/data/episodes/big-pack"
head -c 48000000 /dev/urandom >"$T/data/episodes/big-pack/noise.bin"
touch "$T/data/episodes/big-pack/DONE"
[ "$(id -u)" = 0 ] && chown -R daemon "$T/data"
notified 30000000
wait_until 10 grep -q 'big-pack: packing' "$LOG" || fail "packing did not start"
PACKER=$(child_pid packer)
kill -STOP "$PACKER"
pings_stop 9 || fail "pings went on with the packer stopped mid-pack"
grep -q 'big-pack: packing made no progress' "$LOG" ||
    fail "no log line naming the stalled pack"
kill -CONT "$PACKER"
pings_grow 5 || fail "pings did not come back after SIGCONT of the packer"
wait_until 120 test -d "$T/data/shipped/big-pack" || fail "big-pack not shipped"
ok "packer stopped mid-pack: pings stop and come back; the episode ships"
stop_daemon

# 5. A slow upload that moves keeps the pings going; a stopped uploader
# stops them.
conf "stall-timeout 2s" "compression level 1" "upload max-rate 2M"
mkdir -p "$T/data/episodes/slow-up"
head -c 12000000 /dev/urandom >"$T/data/episodes/slow-up/noise.bin"
touch "$T/data/episodes/slow-up/DONE"
[ "$(id -u)" = 0 ] && chown -R daemon "$T/data"
notified 30000000
wait_until 20 grep -q 'slow-up: uploading' "$LOG" || fail "upload did not start"
start=$(pings)
sleep 5
[ "$(pings)" -ge $((start + 3)) ] ||
    fail "pings slowed during a slow upload: $start -> $(pings) in 5 s"
grep -q 'upload made no progress' "$LOG" &&
    fail "a moving upload was called stalled"
UPLOADER=$(child_pid uploader)
kill -STOP "$UPLOADER"
pings_stop 9 || fail "pings went on with the uploader stopped mid-upload"
kill -CONT "$UPLOADER"
pings_grow 5 || fail "pings did not come back after SIGCONT of the uploader"
wait_until 60 test -d "$T/data/shipped/slow-up" || fail "slow-up not shipped"
ok "slow upload: pings never stop; uploader stopped: they do, and return"
stop_daemon
