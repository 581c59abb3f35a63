# The crash matrix (DESIGN §3): at each point of an episode's life cycle,
# SIGKILL the whole daemon, or one child; then restart and run to
# completion.  Every episode must end in shipped/ exactly once, byte-
# identical at the receiver, with nothing left in spool/, no temp file
# anywhere, and no partial upload at the receiver.
#
# CIS490_CRASHPOINT=POINT makes the process that reaches POINT stop
# itself there (SIGSTOP), so the kill lands exactly at that step.  The
# victim rotates over the whole daemon and each child, CRASH_RUNS runs
# per point (default 10).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

RUNS=${CRASH_RUNS:-10}
POINTS="scan pack packed upload answered retire"
VICTIMS="all scanner packer uploader"

ship_setup >/dev/null 2>&1 || fail "setup"
ship_conf "scan-interval 1s"

# The pid of the daemon's process stopped at its crash point, if any.
stopped_pid() {
	local p
	for p in "$DAEMON_PID" $(ps -o pid= --ppid "$DAEMON_PID"); do
		case "$(ps -o stat= -p "$p" 2>/dev/null)" in
		T*) echo "$p"; return 0 ;;
		esac
	done
	return 1
}
is_stopped() { [ -n "$(stopped_pid)" ]; }
tmp_clean() { [ -z "$(ls -A "$STORE/.tmp" 2>/dev/null)" ]; }

verify() {
	local id=$1 where=$2 n
	[ -d "$DATA/shipped/$id" ] || fail "$where: $id not in shipped/"
	[ ! -e "$DATA/episodes/$id" ] || fail "$where: $id still in episodes/"
	[ ! -e "$DATA/quarantine/$id" ] || fail "$where: $id quarantined"
	n=$(find "$DATA/shipped" -maxdepth 1 -type d -name "$id*" | wc -l)
	[ "$n" -eq 1 ] || fail "$where: $id is in shipped/ $n times"
	[ -f "$STORE/lab-a/$id.tar.zst" ] || fail "$where: $id not stored"
	rm -rf "$T/x"
	mkdir -p "$T/x"
	tar --zstd -xf "$STORE/lab-a/$id.tar.zst" -C "$T/x" ||
	    fail "$where: $id: stored archive does not extract"
	diff -r --no-dereference "$T/x/$id" "$DATA/shipped/$id" >/dev/null ||
	    fail "$where: $id: stored archive differs from shipped/$id"
}

runs=0
i=0
for point in $POINTS; do
	for run in $(seq 1 "$RUNS"); do
		i=$((i + 1))
		set -- $VICTIMS
		shift $((run % 4))
		victim=$1
		where="point $point, run $run, kill $victim"
		a=c-$point-$run-a
		b=c-$point-$run-b
		new_episode "$a"
		mkdir -p "$DATA/episodes/$a/sub"
		echo "$where" >"$DATA/episodes/$a/sub/note.txt"
		new_episode "$b"
		# Over 1 MiB: HEAD first, and an upload that takes a while.
		head -c 2500000 /dev/urandom >"$DATA/episodes/$b/blob.bin"
		mark_ready "$a" -d '-2 minutes'
		mark_ready "$b" -d '-1 minute'

		start_daemon "$T/crash$i.log" CIS490_CRASHPOINT="$point"
		wait_until 30 is_stopped ||
		    fail "$where: crash point never reached"
		stopped=$(stopped_pid)
		kids=$(ps -o pid= --ppid "$DAEMON_PID")
		case $victim in
		all)
			# shellcheck disable=SC2086
			kill -KILL "$DAEMON_PID" $kids
			;;
		*)
			kill -KILL "$(child_pid "$victim")"
			# What the parent would do to it after its grace.
			kill -KILL "$stopped" 2>/dev/null
			;;
		esac
		wait_exit "$DAEMON_PID" 10 || fail "$where: parent still up"
		# shellcheck disable=SC2086
		wait_until 10 all_gone $kids || fail "$where: children live on"

		ship_once "after$i" 90
		[ "$ONCE_RC" -eq 0 ] ||
		    fail "$where: once after the crash exited $ONCE_RC"
		verify "$a" "$where"
		verify "$b" "$where"
		[ -z "$(ls -A "$DATA/spool")" ] ||
		    fail "$where: spool/ not empty: $(ls -A "$DATA/spool")"
		[ -z "$(find "$DATA" -name '*.tmp')" ] ||
		    fail "$where: temp files: $(find "$DATA" -name '*.tmp')"
		wait_until 10 tmp_clean ||
		    fail "$where: receiver .tmp/ not empty: $(ls -A "$STORE/.tmp")"
		runs=$((runs + 1))
	done
	ok "$point: $RUNS runs (whole daemon and each child killed there)"
done
ok "$runs crash runs: every episode shipped exactly once, intact"
