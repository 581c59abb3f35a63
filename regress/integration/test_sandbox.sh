# The children's sandbox, seen from outside while they work: every
# child has a seccomp filter (Seccomp: 2) and no_new_privs; as root
# every child is chrooted to the empty directory, the scanner as the
# data owner (daemon, whose episodes it renames) working in the data
# root through descriptors opened before the chroot, the packer and
# uploader as the sandbox account (nobody).  Episodes
# are shipped with zstd worker threads on (compression threads 2), the
# packer checked while it packs, and through a receiver named by a host
# name (localhost): the parent resolves it, and the uploader, whose
# filter kills any new thread, ships without a resolver thread (strace
# confirms it when strace is there).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

EMPTY=/var/empty/cis490-shipper
N=4

ship_setup
# This test sets its own worker threads.
unset SHIP_THREADS
SHIP_URL=https://localhost:$PORT ship_conf "compression threads 2" \
    "compression level 19" "scan-interval 1s"

# Big enough that level 19 with two workers takes a while to pack.
for i in $(seq 1 $N); do
	new_episode "ep-sb$i"
	head -c $((12 * 1024 * 1024)) /dev/urandom | base64 \
	    >"$DATA/episodes/ep-sb$i/big.txt"
	mark_ready "ep-sb$i"
done

ship_daemon daemon
wait_until 10 children_up || fail "children not up within 10 s"

# confined NAME: the checks every child must pass.
confined() {
	local pid st want root cwd
	pid=$(child_pid "$1")
	[ -n "$pid" ] || fail "$1: no such child"
	st=/proc/$pid/status
	grep -q '^Seccomp:[[:space:]]*2$' "$st" ||
	    fail "$1: $(grep '^Seccomp:' "$st"), want 2 (filter)"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" ||
	    fail "$1: $(grep '^NoNewPrivs:' "$st"), want 1"
	# The scanner's working directory is the data root, for its
	# inotify watches (see cis490-shipper(8)).
	if [ "$1" = scanner ]; then
		cwd=$(readlink "/proc/$pid/cwd")
		[ "$cwd" = "$(cd "$DATA" && pwd -P)" ] ||
		    fail "scanner: working directory $cwd, not $DATA"
	fi
	[ "$(id -u)" = 0 ] || return 0
	case $1 in
	scanner) want=daemon ;;
	*) want=nobody ;;
	esac
	awk -v u="$(id -u "$want")" '/^Uid:/ { exit !($2 == u && $3 == u &&
	    $4 == u && $5 == u) }' "$st" ||
	    fail "$1: $(grep '^Uid:' "$st"), want $want everywhere"
	awk -v g="$(id -g "$want")" '/^Gid:/ { exit !($2 == g && $3 == g &&
	    $4 == g && $5 == g) }' "$st" ||
	    fail "$1: $(grep '^Gid:' "$st"), want $want's group"
	root=$(readlink "/proc/$pid/root")
	[ "$root" = "$EMPTY" ] || fail "$1: root is $root, not $EMPTY"
}

# The packer, caught while it packs with its worker threads.
threads_seen=0
packing() {
	local pid
	pid=$(child_pid packer)
	[ -n "$pid" ] || return 1
	[ "$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" \
	    2>/dev/null)" -gt 1 ] 2>/dev/null
}
if wait_until 60 packing; then
	confined packer
	threads_seen=1
fi
for c in scanner packer uploader; do
	confined "$c"
done
[ "$threads_seen" = 1 ] || fail "packer never seen with worker threads"
ok "scanner, packer (with zstd workers), uploader: Seccomp 2, NoNewPrivs 1$(
    [ "$(id -u)" = 0 ] && echo ", accounts daemon/nobody, all chrooted to $EMPTY")"

all_shipped() {
	local i
	for i in $(seq 1 $N); do
		is_shipped "ep-sb$i" || return 1
	done
}
wait_until 180 all_shipped ||
    fail "not all shipped: $(ls "$DATA/episodes" "$DATA/quarantine" "$DATA/spool")"
grep -q 'lost child' "$SLOG" && fail "a child died: $(grep 'lost child' "$SLOG")"
for i in $(seq 1 $N); do
	zstd -q -d -c "$STORE/lab-a/ep-sb$i.tar.zst" | tar -xOf - \
	    "ep-sb$i/big.txt" | cmp -s - "$DATA/shipped/ep-sb$i/big.txt" ||
	    fail "ep-sb$i: stored archive differs"
done
grep -q 'receiver localhost resolved' "$SLOG" ||
    fail "the parent did not resolve localhost"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "exit status $EXIT_STATUS after SIGTERM"
ok "$N episodes shipped through https://localhost with zstd threads 2"

# The empty directory is root's, and empty.
if [ "$(id -u)" = 0 ]; then
	[ "$(stat -c '%u %a' "$EMPTY")" = "0 755" ] ||
	    fail "$EMPTY: $(stat -c '%U %a' "$EMPTY")"
	[ -z "$(ls -A "$EMPTY")" ] || fail "$EMPTY is not empty"
	ok "$EMPTY: root, 0755, empty"
fi

# No resolver thread: the uploader makes no clone, ever.  LeakSanitizer
# cannot work under ptrace: off for the runs under strace.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
if command -v strace >/dev/null 2>&1; then
	new_episode ep-sb-strace
	mark_ready ep-sb-strace
	timeout -k 5 120 strace -f -qq -e trace=clone,clone3,fork,vfork \
	    -o "$T/strace.out" "$SHIPPER" -d -v -f "$CONF" once \
	    2>"$T/once-strace.log"
	rc=$?
	LOG=$T/once-strace.log
	[ "$rc" = 0 ] || fail "once under strace: exit $rc"
	is_shipped ep-sb-strace || fail "ep-sb-strace not shipped under strace"
	upid=$(sed -n 's/^uploader: started, pid \([0-9]*\)$/\1/p' "$LOG")
	[ -n "$upid" ] || fail "no uploader pid in the log"
	grep -E "^$upid +clone" "$T/strace.out" &&
	    fail "the uploader started a thread or process"
	ok "uploader: no clone (no resolver thread) while shipping via localhost"

	# ping_nothread NAME URL REGEX: ping under strace, no uploader clone.
	ping_nothread() {
		SHIP_URL=$2 ship_conf
		timeout -k 5 60 strace -f -qq -e trace=clone,clone3,fork,vfork \
		    -o "$T/strace-$1.out" "$SHIPPER" -d -v -f "$CONF" ping \
		    >"$T/$1.out" 2>"$T/$1.log"
		LOG=$T/$1.log
		grep -qE "$3" "$T/$1.out" ||
		    fail "ping $2: $(cat "$T/$1.out")"
		upid=$(sed -n 's/^uploader: started, pid \([0-9]*\)$/\1/p' "$LOG")
		[ -n "$upid" ] || fail "ping $2: no uploader pid in the log"
		grep -E "^$upid +clone" "$T/strace-$1.out" &&
		    fail "ping $2: the uploader started a thread or process"
		grep -q 'lost child' "$LOG" && fail "ping $2: child died"
		ok "ping $2: $(head -c 60 "$T/$1.out")..., no uploader clone"
	}
	# A name from /etc/hosts (not libcurl's built-in localhost): it
	# resolves, then TLS fails, the certificate is not for that name.
	h=$(hostname)
	if [ "$h" != localhost ] && getent hosts "$h" >/dev/null; then
		ping_nothread byname "https://$h:$PORT" "^FAILED at TLS"
	else
		ok "hostname $h is localhost or unresolvable: by-name ping skipped"
	fi
	ping_nothread noname "https://no-such-host.invalid:$PORT" \
	    "^FAILED at name resolution"
else
	fail "strace missing: make deps installs it"
fi
exit 0
