# An episode holding an 8 GiB+ sparse file ships through the real
# pipeline (pax size record), and the stored archive passes zstd -t and
# gives back the same bytes with GNU tar and with bsdtar, streamed so
# that nothing of 8 GiB is written to disk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

# Holes read about 20 times faster from tmpfs than from ext4.
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	SHM=$(mktemp -d /dev/shm/cis490-sparse.XXXXXX)
	chmod 0755 "$SHM"
	DATA=$SHM/data
	# lib.sh's cleanup reads the exit status from $?: keep it.
	trap 'rc=$?; rm -rf "$SHM"; (exit $rc); cleanup' EXIT
fi

ship_setup >/dev/null 2>&1 || fail "setup"
new_episode big
f=$DATA/episodes/big/sparse.bin
printf 'head of the file' >"$f"
truncate -s $((8 * 1024 * 1024 * 1024 + 1024 * 1024)) "$f"
printf 'tail of the file' >>"$f"
size=$(stat -c %s "$f")
[ "$size" -gt $((8 * 1024 * 1024 * 1024)) ] || fail "sparse file is $size bytes"
mark_ready big
ship_once sparse 300
[ "$ONCE_RC" -eq 0 ] || fail "once exited $ONCE_RC"
[ -f "$DATA/shipped/big/sparse.bin" ] || fail "big not in shipped/"
a=$STORE/lab-a/big.tar.zst
zstd -q -t "$a" || fail "zstd -t"
listed=$(tar --zstd -tvf "$a" big/sparse.bin | awk '{ print $3 }')
[ "$listed" = "$size" ] || fail "tar lists $listed bytes, not $size"
tar --zstd -xOf "$a" big/sparse.bin | cmp -s - "$DATA/shipped/big/sparse.bin" ||
    fail "GNU tar: extracted bytes differ from the shipped file"
command -v bsdtar >/dev/null 2>&1 || fail "bsdtar is not installed (make deps)"
bsdtar -xOf "$a" big/sparse.bin | cmp -s - "$DATA/shipped/big/sparse.bin" ||
    fail "bsdtar: extracted bytes differ from the shipped file"
ok "8 GiB + 1 MiB sparse file shipped; GNU tar and bsdtar give back the same $size bytes"
