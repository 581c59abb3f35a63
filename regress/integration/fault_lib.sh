# Helpers for the fault tests (test_fault_*.sh) and the soak.  Source
# it after lib.sh, pki.sh and ship_lib.sh.
#
#   proxy_start [ARGS...]       fault_proxy.py between the shipper and the
#                               receiver on $PORT, with the receiver's
#                               server certificate; plan file $T/plan,
#                               log $T/proxy.log (ARGS go to the proxy).
#                               Sets PROXY_PORT, PROXY_PID, PROXY_URL.
#   plan LINE...                append lines to the plan ("conn silent",
#                               "req 503 3", see fault_proxy.py)
#   proxy_lines FILTER          proxy log lines matching (grep -E) FILTER
#   proxy_count FILTER          how many
#   fault_mount DIR SIZE [OPTS] a tmpfs of SIZE at DIR (more mount options
#                               OPTS), detached at exit
#   fill_fs DIR FILE            fill the file system of DIR with FILE
#                               until no byte is left
#   same_tree A B...            the trees B... hold the same names (bytes),
#                               types, modes, contents, symlink targets and
#                               mtimes (seconds) as A; differences on stdout
#   archive_is_tree ARC DIR ID  ARC extracts with GNU tar and with bsdtar
#                               to exactly DIR (as ID/), without a warning
#                               (but GNU_TAR_TOLERATE, grep -E, for GNU tar);
#                               extracted under ARCHIVE_SCRATCH (default $T)

FAULT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAULT_MOUNTS=""

command -v bsdtar >/dev/null 2>&1 ||
    fail "bsdtar is not installed (make deps)"

fault_exit() {
	local rc=$? p m
	# No "Killed" notices for our own background jobs.
	disown -a 2>/dev/null
	# Processes first: a mount they use could not be detached cleanly.
	for p in $STARTED_PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	pkill -KILL -f "cis490-shipper.*$T/" 2>/dev/null
	for m in $FAULT_MOUNTS; do
		umount -l "$m" 2>/dev/null
	done
	(exit "$rc")
	cleanup
}
trap fault_exit EXIT

proxy_start() {
	PROXY_PORT=$(free_port)
	PROXY_LOG=$T/proxy.log
	PROXY_URL=https://127.0.0.1:$PROXY_PORT
	touch "$T/plan"
	rm -f "$T/proxy.ready"
	python3 "$FAULT_DIR/fault_proxy.py" --port "$PROXY_PORT" \
	    --upstream-port "$PORT" --pki "$PKI" --log "$PROXY_LOG" \
	    --plan "$T/plan" --ready "$T/proxy.ready" "$@" \
	    2>"$T/proxy.err" &
	PROXY_PID=$!
	STARTED_PIDS="$STARTED_PIDS $PROXY_PID"
	wait_until 10 test -e "$T/proxy.ready" ||
	    fail "fault proxy did not start: $(cat "$T/proxy.err")"
}

plan() {
	local l
	for l in "$@"; do
		echo "$l" >>"$T/plan"
	done
}

proxy_lines() {
	grep -E "$1" "$PROXY_LOG" 2>/dev/null
}

proxy_count() {
	grep -c -E "$1" "$PROXY_LOG" 2>/dev/null
}

fault_mount() {
	mkdir -p "$1" || fail "mkdir $1"
	mount -t tmpfs -o "size=$2,mode=0755${3:+,$3}" tmpfs "$1" ||
	    fail "cannot mount a tmpfs at $1 (the fault tests need root)"
	FAULT_MOUNTS="$1 $FAULT_MOUNTS"
}

fill_fs() {
	# ENOSPC ends dd; what it wrote stays.
	dd if=/dev/zero of="$2" bs=64k 2>/dev/null
	dd if=/dev/zero of="$2" bs=4k oflag=append conv=notrunc 2>/dev/null
	[ "$(stat -f -c %a "$1")" = 0 ] ||
	    fail "fill_fs: $(stat -f -c %a "$1") blocks left on $1"
}

same_tree() {
	python3 - "$@" <<'PY'
import hashlib, os, stat, sys

def scan(top):
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            m = st.st_mode
            e = [stat.S_IFMT(m), stat.S_IMODE(m), int(st.st_mtime)]
            if stat.S_ISREG(m):
                with open(p, "rb") as f:
                    e += [st.st_size, hashlib.sha256(f.read()).hexdigest()
                        if st.st_size < (1 << 24) else
                        hashlib.file_digest(f, "sha256").hexdigest()]
            elif stat.S_ISLNK(m):
                e.append(os.readlink(p))
            out[rel] = e
    st = os.lstat(top)
    out[b"."] = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
        int(st.st_mtime)]
    return out

a = scan(os.fsencode(sys.argv[1]))
bad = 0
for other in sys.argv[2:]:
    b = scan(os.fsencode(other))
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            bad += 1
            if bad <= 10:
                print("%s: %r: %r != %r" % (other, k, a.get(k), b.get(k)))
print("%d entries compared with %d trees, %d differ" % (len(a),
    len(sys.argv) - 2, bad))
sys.exit(1 if bad else 0)
PY
}

archive_is_tree() {
	local arc=$1 dir=$2 id=$3 x s=${ARCHIVE_SCRATCH:-$T}
	rm -rf "$s/x.gnu" "$s/x.bsd"
	mkdir "$s/x.gnu" "$s/x.bsd"
	(cd "$s/x.gnu" && tar --zstd -xf "$arc") 2>"$T/x.gnu.err" ||
	    fail "GNU tar cannot extract $arc: $(head -5 "$T/x.gnu.err")"
	(cd "$s/x.bsd" && bsdtar -xf "$arc") 2>"$T/x.bsd.err" ||
	    fail "bsdtar cannot extract $arc: $(head -5 "$T/x.bsd.err")"
	# GNU_TAR_TOLERATE: a warning GNU tar may give (grep -E).
	if [ -n "${GNU_TAR_TOLERATE:-}" ]; then
		grep -v -E "$GNU_TAR_TOLERATE" "$T/x.gnu.err" >"$T/x.gnu.err2"
		mv "$T/x.gnu.err2" "$T/x.gnu.err"
	fi
	for x in gnu bsd; do
		[ ! -s "$T/x.$x.err" ] ||
		    fail "$x tar warned: $(head -5 "$T/x.$x.err")"
	done
	same_tree "$dir" "$s/x.gnu/$id" "$s/x.bsd/$id" >"$T/x.diff" ||
	    fail "$arc is not $dir (x.gnu: GNU tar, x.bsd: bsdtar): $(cat "$T/x.diff")"
	rm -rf "$s/x.gnu" "$s/x.bsd"
}

# end_shipped_intact ID: stop the daemon (exit 0 after SIGTERM); ID is
# in shipped/ exactly as recorded in $T/orig/ID, its archive extracts
# to that tree with GNU tar and bsdtar, and spool/ is empty.
end_shipped_intact() {
	local id=$1
	stop_daemon
	[ "$EXIT_STATUS" = 0 ] || fail "daemon exit $EXIT_STATUS after SIGTERM"
	same_tree "$T/orig/$id" "$DATA/shipped/$id" >"$T/$id.diff" ||
	    fail "shipped/$id is not the episode as recorded: $(cat "$T/$id.diff")"
	archive_is_tree "$STORE/lab-a/$id.tar.zst" "$T/orig/$id" "$id"
	spool_empty || fail "spool/ not empty: $(ls -A "$DATA/spool")"
}
