# Memcheck over a shipping pass: cis490-receiver (parent and the forked
# server) and `cis490-shipper once` with its three re-executed children
# (--trace-children=yes) all run under valgrind; two episodes ship (one
# over 1 MiB, so the uploader asks with HEAD first), `ping` answers,
# and a `once` with the receiver gone takes the error paths.  Every
# process must end with "ERROR SUMMARY: 0 errors" and no byte
# definitely lost.  Under valgrind the processes run without their
# seccomp filter and Landlock (valgrind cannot run them; they say so
# in the log): chroot and the account switch stay.
IT=$(cd "$(dirname "$0")/../integration" && pwd)
. "$IT/lib.sh"
. "$IT/pki.sh"
. "$IT/ship_lib.sh"
. "$IT/fault_lib.sh"

command -v valgrind >/dev/null 2>&1 ||
    fail "valgrind is not installed (make deps installs it)"
# "${VG[@]}" --log-file="$T/vg-NAME.%p" COMMAND...: under memcheck,
# one log per process.
VG=(valgrind --trace-children=yes --child-silent-after-fork=no
    --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite --num-callers=30)
# vg_clean NAME COUNT: COUNT processes logged, each clean.
vg_clean() {
	local f n=0
	for f in "$T"/vg-"$1".*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		grep -q 'ERROR SUMMARY: 0 errors' "$f" ||
		    fail "$1: $(grep -m1 'Command:' "$f"): $(grep -A 30 -m1 -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and|[0-9,]+ bytes in)' "$f")"
		if grep -q 'definitely lost:' "$f"; then
			grep -q 'definitely lost: 0 bytes' "$f" ||
			    fail "$1: $(grep -m1 'Command:' "$f"): $(grep 'definitely lost:' "$f")"
		else
			grep -q 'All heap blocks were freed' "$f" ||
			    fail "$1: no leak summary in $f: $(tail -5 "$f")"
		fi
	done
	[ "$n" = "$2" ] || fail "$1: $n valgrind logs, expected $2: $(ls "$T")"
}

pki_setup
receiver_conf
"${VG[@]}" --log-file="$T/vg-receiver.%p" "$RECEIVER" -d -f "$RCONF" \
    2>"$T/receiver.log" &
RECEIVER_PID=$!
STARTED_PIDS="$STARTED_PIDS $RECEIVER_PID"
LOG=$T/receiver.log
wait_until 60 receiver_listening || fail "receiver not listening under valgrind"
grep -q 'running on valgrind: no seccomp filter' "$LOG" ||
    fail "the receiver's server did not see valgrind"
ship_conf

new_episode ep-small
mkdir "$DATA/episodes/ep-small/sub"
echo x >"$DATA/episodes/ep-small/sub/"$'odd\nname'
ln -s sub "$DATA/episodes/ep-small/link"
new_episode ep-big
head -c 1200000 /dev/urandom >"$DATA/episodes/ep-big/big.bin"
mark_ready ep-small -d '-1 minute'
mark_ready ep-big
t0=$(date +%s)
timeout -k 5 300 "${VG[@]}" --log-file="$T/vg-once.%p" "$SHIPPER" -d -v -f "$CONF" once 2>"$T/once.log"
rc=$?
LOG=$T/once.log
[ "$rc" = 0 ] || fail "once under valgrind: exit $rc"
is_shipped ep-small && is_shipped ep-big || fail "not shipped"
[ "$(grep -c 'sandbox: running on valgrind: no Landlock, no seccomp' "$LOG")" = 3 ] ||
    fail "not every child saw valgrind: $(grep 'sandbox' "$LOG")"
access_lines 'HEAD "/v1/episodes/lab-a/ep-big" 404 ' >/dev/null ||
    fail "no HEAD before the large PUT"
archive_is_tree "$STORE/lab-a/ep-small.tar.zst" "$DATA/shipped/ep-small" ep-small
archive_is_tree "$STORE/lab-a/ep-big.tar.zst" "$DATA/shipped/ep-big" ep-big
vg_clean once 4
ok "once under valgrind ($(( $(date +%s) - t0 ))s): 2 episodes shipped; parent, scanner, packer, uploader: 0 errors, 0 definitely lost"

timeout -k 5 120 "${VG[@]}" --log-file="$T/vg-ping.%p" "$SHIPPER" -d -f "$CONF" ping >"$T/ping.out" 2>"$T/ping.log"
rc=$?
[ "$rc" = 0 ] || fail "ping under valgrind: exit $rc: $(cat "$T/ping.out")"
vg_clean ping 2
ok "ping under valgrind (parent and uploader): OK, both clean"

kill -TERM "$RECEIVER_PID"
wait_exit "$RECEIVER_PID" 60 || fail "receiver still up 60 s after SIGTERM"
[ "$EXIT_STATUS" = 0 ] || fail "receiver exit $EXIT_STATUS"
vg_clean receiver 2
ok "receiver (parent and server) under valgrind: 0 errors, 0 definitely lost"

new_episode ep-down
mark_ready ep-down
timeout -k 5 300 "${VG[@]}" --log-file="$T/vg-down.%p" "$SHIPPER" -d -v -f "$CONF" once 2>"$T/down.log"
rc=$?
[ "$rc" = 1 ] || fail "once with the receiver gone: exit $rc, not 1"
[ -f "$DATA/spool/ep-down.tar.zst" ] || fail "ep-down not kept packed"
vg_clean down 4
ok "once with the receiver gone under valgrind: exit 1, episode kept; 4 processes clean"
