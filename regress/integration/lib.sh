# Helpers for the integration tests: each test is a bash script that
# sources this file, runs the real daemon, and exits non-zero on failure.
# A missing prerequisite is a failure, never a skip.

set -u

: "${SHIPPER:?set SHIPPER to the cis490-shipper binary to test}"
[ -x "$SHIPPER" ] || { echo "FAIL: $SHIPPER is not an executable"; exit 1; }

T=$(mktemp -d /tmp/cis490-it.XXXXXX)
chmod 0755 "$T"
STARTED_PIDS=""

# Sanitizer builds report into the daemon's stderr, which the tests keep
# in log files under $T: any report fails the test.
sanitizer_reports() {
	grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
	    "$T"/*log* 2>/dev/null
}

cleanup() {
	local p rc=$?
	if [ "$rc" -eq 0 ] && [ -n "$(sanitizer_reports)" ]; then
		echo "FAIL: sanitizer reports in $(sanitizer_reports):"
		grep -h -A 15 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		    $(sanitizer_reports) | head -n 60
		rc=1
	fi
	for p in $STARTED_PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	# Children of a daemon that the test killed are no longer ours.
	pkill -KILL -f "cis490-shipper.*$T/" 2>/dev/null
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	if [ -n "${LOG:-}" ] && [ -f "$LOG" ]; then
		echo "--- last lines of $LOG:"
		tail -n 20 "$LOG"
	fi
	exit 1
}

ok() {
	echo "ok: $*"
}

# A process counts as gone when it no longer exists or is a zombie
# waiting to be reaped.
gone() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
	case "$st" in Z*) return 0 ;; esac
	return 1
}

# wait_until SECONDS COMMAND...: poll every 0.1 s.
wait_until() {
	local limit=$(( $1 * 10 )) i=0
	shift
	while ! "$@"; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.1
	done
	return 0
}

all_gone() {
	local p
	for p in "$@"; do
		gone "$p" || return 1
	done
	return 0
}

# Key material the config must name; the daemon only checks it exists
# and is private until the pipeline uses it.
make_keys() {
	mkdir -p "$T/keys"
	echo "test CA" >"$T/keys/ca.pem"
	echo "test certificate" >"$T/keys/host.crt"
	echo "test key" >"$T/keys/host.key"
	echo "test-token" >"$T/keys/token"
	chmod 0600 "$T/keys/host.key" "$T/keys/token"
}

# Accounts for the children when root: daemon and nobody exist on every
# Debian system, so the test does not add accounts to the machine.
make_conf() {
	make_keys
	mkdir -p "$T/data"
	{
		echo "host \"test-host\""
		echo "data-root \"$T/data\""
		if [ "$(id -u)" = 0 ]; then
			echo "user \"daemon\""
			echo "sandbox-user \"nobody\""
		fi
		echo "receiver url \"https://127.0.0.1:1\""
		echo "receiver ca \"$T/keys/ca.pem\""
		echo "receiver certificate \"$T/keys/host.crt\""
		echo "receiver key \"$T/keys/host.key\""
		echo "receiver token-file \"$T/keys/token\""
		if [ -n "${SHIP_THREADS:-}" ]; then
			echo "compression threads $SHIP_THREADS"
		fi
	} >"$T/shipper.conf"
	CONF=$T/shipper.conf
}

# start_daemon LOGFILE [ENV=VALUE...]: sets DAEMON_PID.
start_daemon() {
	LOG=$1
	shift
	env "$@" "$SHIPPER" -d -v -f "$CONF" -s "$T/control.sock" 2>"$LOG" &
	DAEMON_PID=$!
	STARTED_PIDS="$STARTED_PIDS $DAEMON_PID"
}

# The pid of the daemon's child with process title NAME.
child_pid() {
	ps -o pid=,args= --ppid "$DAEMON_PID" 2>/dev/null |
	    awk -v t="cis490-shipper: $1" '{ p = $1; $1 = ""; sub(/^ /, "");
		if ($0 == t) print p }'
}

children_up() {
	[ -n "$(child_pid scanner)" ] && [ -n "$(child_pid packer)" ] &&
	    [ -n "$(child_pid uploader)" ] &&
	    grep -q 'parent: started: scanner' "$LOG"
}

# wait_exit PID SECONDS: wait for our child PID, set EXIT_STATUS.
wait_exit() {
	wait_until "$2" gone "$1" || return 1
	wait "$1"
	EXIT_STATUS=$?
	return 0
}
