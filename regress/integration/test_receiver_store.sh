# cis490-receiver's storage path: the zstd check (frames and blocks walked
# as the body streams in), writeback started during the upload so the
# commit's fsync is small, the storage root fsync'd once per host and
# process, and a stalled server not blaming its clients for the stall.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

command -v strace >/dev/null 2>&1 || fail "strace is not installed (make deps)"

pki_setup
receiver_conf "body-timeout 2s"
start_receiver "$T/log"

tmp_empty() {
	[ -z "$(ls -A "$STORE/.tmp")" ]
}
tmp_busy() {
	[ -n "$(ls -A "$STORE/.tmp")" ]
}

# 1. What is a zstd archive: one or more whole frames, a real one first,
# skippable frames after it, nothing else.
zst_file "$T/a.zst" 50000
zst_file "$T/b.zst" 70000
cat "$T/a.zst" "$T/b.zst" >"$T/two.zst"
head -c 50000 /dev/urandom | zstd -q --no-check -c >"$T/nocheck.zst"
printf '' | zstd -q -c >"$T/empty.zst"
head -c 1000000 /dev/zero | zstd -q -c >"$T/zeros.zst"
python3 - "$T" <<'PY'
import struct, sys
t = sys.argv[1]
a = open(t + "/a.zst", "rb").read()
skip = struct.pack("<II", 0x184D2A5B, 5) + b"hello"
open(t + "/skip-after.zst", "wb").write(a + skip + a)
open(t + "/skip-first.zst", "wb").write(skip + a)
open(t + "/trailing.zst", "wb").write(a + b"x")
open(t + "/truncated.zst", "wb").write(a[:-1])
open(t + "/half-magic.zst", "wb").write(a + a[:2])
r = bytearray(a); r[4] |= 0x08          # reserved frame header bit
open(t + "/reserved.zst", "wb").write(bytes(r))
PY
for f in two nocheck empty zeros skip-after; do
	zstd -q -t "$T/$f.zst" || fail "test data: zstd -t rejects $f"
	s=$(put lab-a "v-$f" "$T/$f.zst")
	[ "$s" = 201 ] || fail "valid zstd ($f): $s $(cat "$T/body")"
	cmp -s "$T/$f.zst" "$STORE/lab-a/v-$f.tar.zst" || fail "$f: bytes differ"
done
ok "two frames, no checksum, empty content, RLE-friendly, a skippable frame after: 201"
for f in skip-first trailing truncated half-magic reserved; do
	s=$(put lab-a "x-$f" "$T/$f.zst")
	[ "$s" = 400 ] || fail "not zstd ($f): $s $(cat "$T/body")"
	grep -q '"error":"not-zstd"' "$T/body" || fail "$f: $(cat "$T/body")"
	[ ! -e "$STORE/lab-a/x-$f.tar.zst" ] || fail "$f stored"
done
tmp_empty || fail "temp files left"
ok "skippable frame first, trailing byte, truncated frame, half a magic, reserved bit: 400 not-zstd"

# 2. Writeback during the upload: sync_file_range every 4 MiB, so the
# commit's fsync finds the pages written.  (Also proves the seccomp
# filter allows it: a missing syscall kills the server.)
head -c 13000000 /dev/urandom | zstd -q -1 -c >"$T/big.zst"
spid=$(server_pid)
strace -f -y -e trace=fsync,sync_file_range -o "$T/strace1" \
    -p "$spid" 2>"$T/strace1.err" &
stpid=$!
STARTED_PIDS="$STARTED_PIDS $stpid"
wait_until 5 grep -q attached "$T/strace1.err" 2>/dev/null ||
    fail "strace could not attach: $(cat "$T/strace1.err")"
s=$(put lab-a big "$T/big.zst")
[ "$s" = 201 ] || fail "13 MB upload: $s"
cmp -s "$T/big.zst" "$STORE/lab-a/big.tar.zst" || fail "13 MB: bytes differ"
# Another host: its directory is new, so the root is fsync'd.
s=$(put lab-b ep-1 "$T/a.zst")
[ "$s" = 201 ] || fail "lab-b upload: $s"
kill "$stpid"
wait "$stpid" 2>/dev/null
n=$(grep -c 'sync_file_range(.*/store/\.tmp/up-.*SYNC_FILE_RANGE_WRITE) = 0' "$T/strace1")
[ "$n" -ge 3 ] || fail "$n sync_file_range calls for 13 MB: $(cat "$T/strace1")"
grep -q "^[0-9]* *fsync([0-9]*<$STORE>) = 0" "$T/strace1" ||
    fail "new host directory: root not fsync'd: $(cat "$T/strace1")"
ok "13 MB upload: writeback started $n times before the commit's fsync"

# 3. A restarted server fsyncs the root the first time it stores under a
# host directory that exists (an earlier process may have died between
# its mkdir and its fsync), and only then.
stop_receiver
start_receiver "$T/log2"
spid=$(server_pid)
strace -f -y -e trace=fsync -o "$T/strace2" -p "$spid" 2>"$T/strace2.err" &
stpid=$!
STARTED_PIDS="$STARTED_PIDS $stpid"
wait_until 5 grep -q attached "$T/strace2.err" 2>/dev/null ||
    fail "strace could not attach: $(cat "$T/strace2.err")"
for i in 1 2 3; do
	s=$(put lab-a "again-$i" "$T/a.zst")
	[ "$s" = 201 ] || fail "upload $i after restart: $s"
done
kill "$stpid"
wait "$stpid" 2>/dev/null
n=$(grep -c "^[0-9]* *fsync([0-9]*<$STORE>) = 0" "$T/strace2")
[ "$n" = 1 ] || fail "root fsync'd $n times for 3 uploads under an existing lab-a: $(cat "$T/strace2")"
ok "after a restart: the root fsync'd once, at the first store under an existing host"

# 4. The server stalls (SIGSTOP, as a commit on a slow disk would) for
# longer than body-timeout while a client is mid-body: the client is
# not blamed for the server's stall and its upload completes.
head -c 1500000 /dev/urandom | zstd -q -1 -c >"$T/mid.zst"
for i in 1 2 3 4 5 6; do
	put lab-a "stall-$i" "$T/mid.zst" --limit-rate 300K --max-time 40 \
	    >"$T/stall$i.out" 2>&1 &
	eval "cpid$i=\$!"
done
wait_until 5 tmp_busy || fail "the uploads did not start"
sleep 1
spid=$(server_pid)
kill -STOP "$spid"
sleep 3.5
kill -CONT "$spid"
for i in 1 2 3 4 5 6; do
	eval "wait \$cpid$i"
	[ "$(cat "$T/stall$i.out")" = 201 ] ||
	    fail "upload $i across a 3.5 s server stall (body-timeout 2s): $(cat "$T/stall$i.out")"
	cmp -s "$T/mid.zst" "$STORE/lab-a/stall-$i.tar.zst" || fail "stall $i: bytes differ"
done
grep -q 'server: the server was stalled for [3-9]\.[0-9]*s; deadlines moved' "$LOG" ||
    fail "stall not logged"
grep -q '"/v1/episodes/lab-a/stall-[0-9]" - .*body-timeout' "$LOG" &&
    fail "a client was dropped for the server's stall"
ok "a 3.5 s server stall with 6 uploads mid-body (body-timeout 2s): deadlines moved, all 201"

# And a client that really stalls is still dropped after it.
stalled_put stuck "$T/mid.zst" 1000
ppid=$STALLED_PID
wait_until 6 grep -q '"/v1/episodes/lab-a/stuck" - .*body-timeout' "$LOG" ||
    fail "a stalled client was not dropped after body-timeout"
kill "$ppid" 2>/dev/null
wait "$ppid" 2>/dev/null
wait_until 5 tmp_empty || fail "temp file left after body-timeout"
ok "a client that stalls itself is still dropped after body-timeout"

stop_receiver
[ "$EXIT_STATUS" = 0 ] || fail "exit status $EXIT_STATUS after SIGTERM"
ok "SIGTERM: exit 0"
