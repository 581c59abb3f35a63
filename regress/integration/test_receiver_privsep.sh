# cis490-receiver's processes: a root parent and a confined server
# (storage owner, chroot to the storage root, no_new_privs, seccomp in
# filter mode), sd_notify READY=1 once listening and STOPPING=1 on
# SIGTERM, shutdown within 5 s; a lost server ends the daemon.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

pki_setup
receiver_conf

# A notify socket that records what the daemon says.
cat >"$T/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a")
while True:
    msg = s.recv(4096).decode()
    out.write(msg.replace("\n", " ") + "\n")
    out.flush()
PY
python3 "$T/notify.py" "$T/notify.sock" "$T/notify.log" &
npid=$!
STARTED_PIDS="$STARTED_PIDS $npid"
wait_until 5 test -S "$T/notify.sock" || fail "notify socket"

LOG=$T/log
NOTIFY_SOCKET=$T/notify.sock "$RECEIVER" -d -f "$RCONF" 2>"$LOG" &
RECEIVER_PID=$!
STARTED_PIDS="$STARTED_PIDS $RECEIVER_PID"
wait_until 10 grep -q READY=1 "$T/notify.log" || fail "no READY=1"
receiver_listening || fail "READY=1 before listening"
s=$(rcurl lab-a -X POST "$URL/v1/ping")
[ "$s" = 200 ] || fail "ping after READY=1: $s"
ok "READY=1 once listening"

spid=$(server_pid)
[ -n "$spid" ] || fail "no server process"
ps -o args= -p "$spid" | grep -q 'server' || fail "server title: $(ps -o args= -p "$spid")"
st=/proc/$spid/status
grep -qE '^Seccomp:[[:space:]]+2$' "$st" || fail "server not under a seccomp filter"
grep -qE '^NoNewPrivs:[[:space:]]+1$' "$st" || fail "server without no_new_privs"
if [ "$(id -u)" = 0 ]; then
	[ "$(ps -o user= -p "$spid" | tr -d ' ')" = daemon ] ||
	    fail "server runs as $(ps -o user= -p "$spid")"
	[ "$(ps -o user= -p "$RECEIVER_PID" | tr -d ' ')" = root ] ||
	    fail "parent is not root"
	grep -qE '^CapEff:[[:space:]]+0+$' "$st" || fail "server keeps capabilities"
	if grep -qa __asan_init "$RECEIVER"; then
		# Sanitizer build: no chroot, so LeakSanitizer checks the
		# server at exit (the SIGTERM below); all else is kept.
		[ "$(readlink "/proc/$spid/root")" = / ] ||
		    fail "sanitizer build: server root $(readlink "/proc/$spid/root")"
		grep -q 'sanitizer build: no chroot' "$LOG" ||
		    fail "sanitizer build: relaxation not logged"
		ok "server (sanitizer build): user daemon, no chroot (logged), no capabilities, no_new_privs, seccomp"
	else
		[ "$(readlink "/proc/$spid/root")" = "$STORE" ] ||
		    fail "server root is $(readlink "/proc/$spid/root"), not $STORE"
		grep -q 'sanitizer build' "$LOG" &&
		    fail "default build relaxed the sandbox"
		ok "server: user daemon, chroot $STORE, no capabilities, no_new_privs, seccomp"
	fi
else
	grep -q 'not started as root' "$LOG" || fail "unconfined run not logged"
	ok "server: not root (logged), no_new_privs, seccomp"
fi

kill -TERM "$RECEIVER_PID"
wait_until 5 gone "$RECEIVER_PID" || fail "still up 5 s after SIGTERM"
wait "$RECEIVER_PID"
rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
gone "$spid" || fail "server outlived the parent"
grep -q STOPPING=1 "$T/notify.log" || fail "no STOPPING=1"
ok "SIGTERM: STOPPING=1, both processes gone within 5 s, status 0"

# A server that dies ends the daemon with a non-zero status.
start_receiver "$T/log2"
kill -KILL "$(server_pid)"
wait_until 5 gone "$RECEIVER_PID" || fail "parent outlived its server"
wait "$RECEIVER_PID"
rc=$?
[ "$rc" != 0 ] || fail "lost server: exit status 0"
grep -q 'lost child: server (killed by signal 9)' "$LOG" ||
    fail "lost server not logged"
ok "server killed: the parent logs it and exits $rc"
