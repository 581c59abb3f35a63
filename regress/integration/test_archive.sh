# The archive format (DESIGN §4): arc-pack packs a tree with the packer's
# archive writer; zstd must accept the frame, GNU tar and bsdtar must
# extract it byte-identically (contents, modes, symlinks, nanosecond
# mtimes), the printed SHA-256 must be the file's, and the same tree must
# give the same bytes.  Ends with an 8 GiB + 1 MiB sparse file, which
# needs pax size records; it is compared as a stream so nothing 8 GiB
# large is written.
. "$(dirname "$0")/lib.sh"

[ -n "${ARCPACK:-}" ] || fail "set ARCPACK to the arc-pack test tool"
[ -x "$ARCPACK" ] || fail "$ARCPACK is not an executable"
for t in tar bsdtar zstd sha256sum cmp diff find stat sort xargs truncate \
    dd df du; do
	command -v "$t" >/dev/null || fail "$t is missing (make deps)"
done
tar --version | head -n 1 | grep -q 'GNU tar' || fail "tar is not GNU tar"

umask 022
ID=ep-1
S=$T/src
mkdir "$S"
if [ "$(id -u)" = 0 ]; then ROOT=1; else ROOT=0; fi

# A path of LEN bytes made of 150-byte components of letter L (the last
# one shorter), so member "ep-1/<path>" is LEN + 5 bytes.
long_path() {
	local len=$1 l=$2 p="" c
	while [ "${#p}" -lt "$len" ]; do
		[ -n "$p" ] && p="$p/"
		c=$(( len - ${#p} ))
		[ "$c" -gt 150 ] && c=150
		p="$p$(printf "%${c}s" "" | tr ' ' "$l")"
	done
	printf '%s' "$p"
}

# nested dirs, empty dirs, empty files, plain files of several sizes
mkdir -p "$S/a/b/c" "$S/empty" "$S/a/b/emptydir"
printf 'hello\n' >"$S/a/b/c/file"
: >"$S/a/empty-file"
head -c 100000 /dev/urandom >"$S/a/random"
head -c 512 /dev/urandom >"$S/a/exactly-512"
yes 'compressible line' | head -c 3000000 >"$S/a/b/lines"
# names with spaces, UTF-8, a newline, a non-UTF-8 byte
echo sp >"$S/with space.txt"
echo u >"$S/café-日本.txt"
echo nl >"$S/new
line"
echo l1 >"$S/latin1-$(printf '\351')"
# symlinks: relative, dangling, a 200-byte target
ln -s a/b/c/file "$S/link"
ln -s does/not/exist "$S/dangling"
ln -s "$(long_path 200 t)" "$S/long-target"
# member names of 100, 155, 256 (largest ustar split), 257 and 1000
# bytes, and long names that are UTF-8 and that are not
for spec in 95:f 150:g 251:h 252:i 995:j; do
	p=$(long_path "${spec%%:*}" "${spec##*:}")
	# the split cases need their "/" at a chosen place
	case ${spec%%:*} in
	150) p=$(long_path 60 g)/$(long_path 89 G) ;;
	251) p=$(long_path 150 h)/$(long_path 100 H) ;;
	252) p=$(long_path 150 i)i/$(long_path 100 I) ;;
	esac
	[ "$(( ${#p} + 5 ))" -eq "$(( ${spec%%:*} + 5 ))" ] ||
	    fail "long_path ${spec%%:*} is ${#p} bytes"
	mkdir -p "$S/$(dirname "$p")"
	echo "${#p}" >"$S/$p"
done
mkdir -p "$S/$(long_path 150 k)/é$(long_path 150 K)"
echo utf8 >"$S/$(long_path 150 k)/é$(long_path 150 K)/f"
mkdir -p "$S/$(long_path 150 m)/$(printf '\377')$(long_path 150 M)"
echo bin >"$S/$(long_path 150 m)/$(printf '\377')$(long_path 150 M)/f"
[ "$(LC_ALL=C find "$S" -name 'jjj*' -type f | wc -l)" -eq 1 ] ||
    fail "1000-byte path missing"
# odd modes
echo m >"$S/a/private"
chmod 0600 "$S/a/private"
chmod 0751 "$S/a/b"
chmod 0700 "$S/empty"
echo r >"$S/a/readonly"
chmod 0444 "$S/a/readonly"
if [ "$ROOT" = 1 ]; then
	echo s >"$S/a/setuid"
	chmod 04755 "$S/a/setuid"
fi
# sub-second and whole-second mtimes, symlinks included; directories
# last and deepest first, since adding entries changes them
i=0
find "$S" ! -type d -print0 | LC_ALL=C sort -z >"$T/nondirs"
while IFS= read -r -d '' f; do
	i=$((i + 1))
	case $((i % 4)) in
	0) ts=1700000000 ;;
	1) ts=1700000000.123456789 ;;
	2) ts=1600000000.5 ;;
	3) ts=1700000000.000000001 ;;
	esac
	touch -h -d "@$ts" "$f" || fail "touch $f"
done <"$T/nondirs"
find "$S" -depth -type d -exec touch -d @1700000123.987654321 {} + ||
    fail "touch dirs"
touch -d @1700000000 "$S/a"

# What each side holds: name, type, mode, mtime with nanoseconds, and
# a symlink's target.  NUL-sorted, so odd names cannot reorder it.
listing() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
	    xargs -0 stat --printf '%n\t%F\t%a\t%.9Y\t%N\n') ||
	    fail "listing $1"
}

OUT=$T/out.tar.zst
start=$(date +%s)
r=$("$ARCPACK" "$ID" "$S" "$OUT") || fail "arc-pack failed"
set -- $r
[ "$#" -eq 2 ] || fail "arc-pack printed: $*"
SIZE=$1
SUM=$2
[ "$SIZE" = "$(stat -c %s "$OUT")" ] ||
    fail "printed size $SIZE, file has $(stat -c %s "$OUT")"
[ "$SUM" = "$(sha256sum "$OUT" | cut -d ' ' -f 1)" ] ||
    fail "printed SHA-256 $SUM is not sha256sum's"
ok "packed: $SIZE bytes, SHA-256 printed is sha256sum's"

zstd -q -t "$OUT" || fail "zstd -t rejects the archive"
zstd -lv "$OUT" >"$T/zstd-l" 2>&1 || fail "zstd -lv"
grep -q '^Check: XXH64' "$T/zstd-l" || fail "no frame checksum"
grep -q '^# Zstandard Frames: 1$' "$T/zstd-l" || fail "not one frame"
tarsize=$(zstd -dc "$OUT" | wc -c)
grep -q "^Decompressed Size: .* ($tarsize B)" "$T/zstd-l" ||
    fail "frame content size is not $tarsize: $(cat "$T/zstd-l")"
ok "zstd: one frame, checksum, content size $tarsize"

# GNU tar: everything, ns mtimes of files, dirs and symlinks included.
mkdir "$T/gnu"
tar --zstd -xf "$OUT" -C "$T/gnu" 2>"$T/gnu.err" ||
    fail "GNU tar: $(cat "$T/gnu.err")"
# GNU tar does not know hdrcharset (used for the non-UTF-8 long name)
# and says so; anything else on stderr is a failure.
if grep -v "Ignoring unknown extended header keyword 'hdrcharset'" \
    "$T/gnu.err" | grep -q .; then
	fail "GNU tar complained: $(cat "$T/gnu.err")"
fi
[ "$(ls -A "$T/gnu")" = "$ID" ] || fail "GNU tar: not all under $ID/"
diff -r --no-dereference "$S" "$T/gnu/$ID" >"$T/diff" 2>&1 ||
    fail "GNU tar: contents differ: $(head -n 20 "$T/diff")"
listing "$S" >"$T/src.list"
listing "$T/gnu/$ID" >"$T/gnu.list"
diff "$T/src.list" "$T/gnu.list" >"$T/diff" ||
    fail "GNU tar: metadata differs: $(head -n 20 "$T/diff")"
[ "$(grep -c '\.123456789' "$T/gnu.list")" -gt 3 ] ||
    fail "no nanosecond mtimes were compared"
ok "GNU tar: contents, modes, symlinks, ns mtimes identical"

# bsdtar: pax paths are UTF-8, which libarchive converts to the
# locale's charset (and exits 1 in the C locale although it extracts
# the same bytes), so it runs in C.UTF-8.
mkdir "$T/bsd"
LC_ALL=C.UTF-8 bsdtar -xf "$OUT" -C "$T/bsd" 2>"$T/bsd.err" ||
    fail "bsdtar: $(cat "$T/bsd.err")"
[ -s "$T/bsd.err" ] && fail "bsdtar complained: $(cat "$T/bsd.err")"
diff -r --no-dereference "$S" "$T/bsd/$ID" >"$T/diff" 2>&1 ||
    fail "bsdtar: contents differ: $(head -n 20 "$T/diff")"
listing "$T/bsd/$ID" >"$T/bsd.list"
diff "$T/src.list" "$T/bsd.list" >"$T/diff" ||
    fail "bsdtar: metadata differs: $(head -n 20 "$T/diff")"
ok "bsdtar: contents, modes, symlinks, ns mtimes identical"
[ "$(tar --zstd -tf "$OUT" 2>/dev/null | head -n 1)" = "$ID/" ] ||
    fail "the first member is not $ID/"

# Determinism: same tree, same bytes; also with two zstd workers.
"$ARCPACK" "$ID" "$S" "$T/again.tar.zst" >/dev/null || fail "arc-pack again"
cmp -s "$OUT" "$T/again.tar.zst" || fail "packing twice differs"
"$ARCPACK" -t 2 "$ID" "$S" "$T/t2a.tar.zst" >/dev/null || fail "arc-pack -t 2"
"$ARCPACK" -t 2 "$ID" "$S" "$T/t2b.tar.zst" >/dev/null || fail "arc-pack -t 2"
cmp -s "$T/t2a.tar.zst" "$T/t2b.tar.zst" ||
    fail "packing twice with -t 2 differs"
zstd -dc "$T/t2a.tar.zst" | cmp -s - <(zstd -dc "$OUT") ||
    fail "-t 2 holds a different tar stream"
"$ARCPACK" -l 19 "$ID" "$S" "$T/l19.tar.zst" >/dev/null || fail "arc-pack -l 19"
zstd -dc "$T/l19.tar.zst" | cmp -s - <(zstd -dc "$OUT") ||
    fail "-l 19 holds a different tar stream"
ok "deterministic: twice identical, -t 2 twice identical, same tar inside"

# Anything but files, directories and symlinks is an error naming it.
mkdir "$T/fifo"
mkfifo "$T/fifo/pipe"
"$ARCPACK" "$ID" "$T/fifo" "$T/fifo.tar.zst" >/dev/null 2>"$T/fifo.err" &&
    fail "arc-pack packed a FIFO"
grep -q "fifo/pipe: not a regular file, directory or symlink" \
    "$T/fifo.err" || fail "FIFO error: $(cat "$T/fifo.err")"
ok "a FIFO is refused by name"
echo "tree: $(( $(date +%s) - start )) s"

# 8 GiB + 1 MiB, sparse: a pax size record, and a round trip through GNU
# tar compared as a stream.
# Holes read much faster from tmpfs than from ext4 (no page cache is
# filled with zeros), so /dev/shm is used when it is there.
B=$T/big
if [ -d /dev/shm ] && [ -w /dev/shm ] &&
    [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
	B=$(mktemp -d /dev/shm/cis490-it-big.XXXXXX) || fail "mktemp"
	# lib.sh's cleanup takes the exit status from $?.
	trap 'rc=$?; rm -rf "$B"; (exit $rc); cleanup' EXIT
else
	mkdir "$B"
fi
truncate -s $(( (8 << 30) + (1 << 20) )) "$B/big" || fail "truncate"
printf 'start of the big file' | dd of="$B/big" conv=notrunc status=none
printf 'end of it' | dd of="$B/big" bs=1 seek=$(( (8 << 30) + (1 << 20) - 9 )) \
    conv=notrunc status=none
[ "$(du -k "$B/big" | cut -f 1)" -lt 65536 ] ||
    fail "$T cannot hold a sparse file"
# After the big member, so its position checks the big one's padding.
echo small >"$B/zz-after"
start=$(date +%s)
r=$("$ARCPACK" "$ID" "$B" "$T/big.tar.zst") || fail "arc-pack big"
set -- $r
packed=$(( $(date +%s) - start ))
zstd -dc "$T/big.tar.zst" 2>/dev/null | head -c 4096 |
    grep -aq 'size=8590983168' ||
    fail "no pax size record"
tar --zstd -tvf "$T/big.tar.zst" | grep -q ' 8590983168 .*ep-1/big$' ||
    fail "GNU tar lists a wrong size: $(tar --zstd -tvf "$T/big.tar.zst")"
# One pass: -O writes the members' data in order, big then zz-after.
tar --zstd -xOf "$T/big.tar.zst" | cmp - <(cat "$B/big" "$B/zz-after") ||
    fail "GNU tar: the 8 GiB member or the one after it differs"
ok "8 GiB + 1 MiB sparse file round-trips through GNU tar" \
    "(packed in ${packed} s to $1 bytes, $(( $(date +%s) - start )) s in all)"
