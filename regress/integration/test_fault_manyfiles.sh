# An episode of 100,000 small files in 100 directories ships with
# `once` (one descriptor per file, at most PACK_WINDOW open at a time,
# the entries sorted without qsort's sysinfo(2) in the scanner's
# filter): stored once, GNU tar and bsdtar list every member and give
# back exactly the shipped tree.  The data root is a tmpfs: on a disk
# 100,000 files take minutes to make and remove.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"
. "$(dirname "$0")/fault_lib.sh"

fault_mount "$T/m" 2g
DATA=$T/m/data
ship_setup >/dev/null 2>&1 || fail "setup"
E=$DATA/episodes/ep-many
python3 - "$E" <<'PY' || fail "cannot make the episode"
import os, sys
top = sys.argv[1]
for d in range(100):
    p = os.path.join(top, "d%02d" % d)
    os.makedirs(p)
    for f in range(1000):
        with open(os.path.join(p, "f%03d" % f), "w") as fh:
            fh.write("%d/%d\n" % (d, f))
PY
rm -f "$E/data.txt"
mark_ready ep-many
[ "$(find "$E" -type f | wc -l)" = 100001 ] || fail "not 100,000 files and DONE"

t0=$(date +%s)
ship_once many 300
[ "$ONCE_RC" = 0 ] || fail "once: exit $ONCE_RC"
is_shipped ep-many || fail "not shipped"
secs=$(( $(date +%s) - t0 ))
A=$STORE/lab-a/ep-many.tar.zst
[ "$(access_lines 'PUT "/v1/episodes/lab-a/ep-many" 201 ' | wc -l)" = 1 ] ||
    fail "not stored once: $(access_lines ep-many)"
ok "100,000 files shipped by once in ${secs}s, archive $(stat -c %s "$A") bytes"

# 100 directories, 100,000 files and DONE, and the episode directory.
# GNU tar compares every member with the shipped tree (contents, size,
# type, mode, mtime; the owner is the data user's, uid 0 in the
# archive); bsdtar must read the same names and the same bytes.  No
# extraction: 100,000 files twice more would double the time.
tar --zstd -tf "$A" >"$T/gnu.list" || fail "GNU tar -t"
bsdtar -tf "$A" >"$T/bsd.list" || fail "bsdtar -t"
n=$(wc -l <"$T/gnu.list")
[ "$n" = 100102 ] || fail "GNU tar lists $n members, not 100102"
cmp -s "$T/gnu.list" "$T/bsd.list" || fail "bsdtar lists other members"
(cd "$DATA/shipped" && find ep-many -printf '%p%y\n' | sed 's|d$|/|; s|[fl]$||' |
    LC_ALL=C sort) >"$T/tree.list"
LC_ALL=C sort "$T/gnu.list" | diff - "$T/tree.list" >"$T/list.diff" ||
    fail "members are not the shipped tree: $(head "$T/list.diff")"
tar --zstd -df "$A" -C "$DATA/shipped" 2>&1 |
    grep -v -E ': (Uid|Gid) differs$' >"$T/compare" || true
[ ! -s "$T/compare" ] || fail "GNU tar --compare: $(head "$T/compare")"
g=$(tar --zstd -xOf "$A" | sha256sum)
b=$(bsdtar -xOf "$A" | sha256sum)
[ "$g" = "$b" ] || fail "GNU tar and bsdtar extract other bytes"
ok "GNU tar and bsdtar: the same 100102 members, every one equal to shipped/ep-many"
