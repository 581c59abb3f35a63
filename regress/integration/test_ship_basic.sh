# End to end, one varied episode: `once` packs it, uploads it to the
# real receiver and retires it; the stored archive is a valid zstd frame
# whose tar extracts with GNU tar and bsdtar to exactly the shipped tree
# (contents, types, modes, symlink targets, mtimes); the receiver's
# .sha256 matches; `once` with nothing to do and `ping` succeed; the
# same tree packs to the same bytes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

command -v bsdtar >/dev/null 2>&1 || fail "bsdtar is not installed (make deps)"
command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"

ship_setup

# 1. A varied episode.
ID=ep-2026.basic_1
E=$DATA/episodes/$ID
mkdir -p "$E/a/b/c" "$E/empty dir" "$E/naïve données" "$E/x" || fail mkdir
echo "deep" >"$E/a/b/c/deep.txt"
: >"$E/empty-file"
echo "spaces" >"$E/name with  spaces.txt"
echo "utf-8" >"$E/naïve données/файл 日本.txt"
echo "secret" >"$E/private"
chmod 0600 "$E/private"
printf '#!/bin/sh\necho hi\n' >"$E/run.sh"
chmod 0755 "$E/run.sh"
chmod 0750 "$E/a/b"
head -c 2097152 /dev/urandom >"$E/random.bin" || fail "random file"
long=$(printf 'd%.0s' $(seq 60))/$(printf 'e%.0s' $(seq 60))
mkdir -p "$E/x/$long" || fail "long path"
echo "long" >"$E/x/$long/$(printf 'f%.0s' $(seq 110)).txt"
ln -s a/b/c/deep.txt "$E/link-rel"
ln -s /nonexistent/target "$E/link-dangling"
ln -s "naïve données" "$E/link-utf8-dir"
# Sub-second mtimes on files, directories and a symlink; directories
# last, as creating entries changes them.
touch -d '2025-03-04 05:06:07.123456789' "$E/a/b/c/deep.txt"
touch -d '2024-12-31 23:59:59.999999999' "$E/random.bin"
touch -d '2025-01-01 00:00:00.000000001' "$E/empty-file"
touch -h -d '2025-02-02 02:02:02.5' "$E/link-rel"
touch -d '2025-06-07 08:09:10.25' "$E/a/b/c" "$E/a/b" "$E/empty dir"
mark_ready "$ID"
touch -d '2025-07-01 12:00:00.75' "$E"

# 2. Ship it.
ship_once once1
[ "$ONCE_RC" = 0 ] || fail "once: exit $ONCE_RC"
is_shipped "$ID" || fail "not retired to shipped/: $(ls -R "$DATA" | head)"
# The shipping time, for retention, is beside the episode, not in it.
[ -s "$DATA/shipped/$ID.shipped" ] || fail "no shipped/$ID.shipped"
spool_empty || fail "spool/ not empty: $(ls -A "$DATA/spool")"
[ -z "$(ls -A "$DATA/quarantine")" ] || fail "something quarantined"
ok "once: exit 0, episode in shipped/, not in episodes/, spool/ empty"

A=$STORE/lab-a/$ID.tar.zst
zstd -q -t "$A" || fail "stored archive fails zstd -t"
# The .sha256 file holds the digest as "sha-256=:BASE64:" (see
# cis490-receiver(8)); sha256sum's hex, in base64, must be in it.
hex=$(sha256sum "$A" | awk '{ print $1 }')
have="sha-256=:$(python3 -c 'import base64, sys
print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$hex"):"
[ "$(cat "$A.sha256")" = "$have" ] ||
    fail ".sha256 says '$(cat "$A.sha256")', sha256sum says $have"
ok "stored archive passes zstd -t; .sha256 matches sha256sum"

# Every member is <id>/...
zstd -q -d -c "$A" | tar -tf - >"$T/members" || fail "tar -t"
bad=$(grep -v -E "^$ID(/|\$)" "$T/members" | head -3)
[ -z "$bad" ] || fail "members outside $ID/: $bad"

# 3. Extract with both tars and compare with shipped/<id>.
S=$DATA/shipped/$ID
mkdir "$T/gnu" "$T/bsd"
(cd "$T/gnu" && tar --zstd -xf "$A") 2>"$T/gnutar.err" ||
    fail "GNU tar: $(cat "$T/gnutar.err")"
(cd "$T/bsd" && bsdtar -xf "$A") 2>"$T/bsdtar.err" ||
    fail "bsdtar: $(cat "$T/bsdtar.err")"
[ ! -s "$T/gnutar.err" ] || fail "GNU tar warned: $(cat "$T/gnutar.err")"
[ ! -s "$T/bsdtar.err" ] || fail "bsdtar warned: $(cat "$T/bsdtar.err")"

# tree DIR TIMEFORMAT: one line per entry: path, type, mode, size,
# symlink target, mtime.
tree() {
	(cd "$1" && find . -printf "%p|%y|%m|%s|%l|%$2\n" | LC_ALL=C sort)
}
for x in gnu bsd; do
	diff -r --no-dereference "$S" "$T/$x/$ID" >"$T/diff.$x" 2>&1 ||
	    fail "$x tar tree differs: $(head -20 "$T/diff.$x")"
	# Contents, types, modes and symlink targets; size of
	# directories is left out (it depends on the file system).
	diff <(tree "$S" Ts | awk -F'|' -v OFS='|' '$2 == "d" { $4 = "" } 1') \
	    <(tree "$T/$x/$ID" Ts | awk -F'|' -v OFS='|' '$2 == "d" { $4 = "" } 1') \
	    >"$T/tree.$x" || fail "$x: metadata differs (mtime in seconds):
$(head -20 "$T/tree.$x")"
done
ok "GNU tar and bsdtar: trees identical (contents, modes, symlinks, mtime s)"

# Sanity: the trees hold what was put in, so the diff above had
# something to compare.
for p in "empty dir" empty-file "name with  spaces.txt" \
    "naïve données/файл 日本.txt" "x/$long" random.bin; do
	[ -e "$T/gnu/$ID/$p" ] || fail "GNU tar: $p missing"
done
[ "$(stat -c %a "$T/bsd/$ID/private")" = 600 ] || fail "private: mode"
[ "$(stat -c %a "$T/bsd/$ID/run.sh")" = 755 ] || fail "run.sh: mode"
[ "$(stat -c %a "$T/gnu/$ID/a/b")" = 750 ] || fail "a/b: mode"
[ "$(readlink "$T/gnu/$ID/link-rel")" = a/b/c/deep.txt ] || fail "symlink"
[ "$(readlink "$T/bsd/$ID/link-dangling")" = /nonexistent/target ] ||
    fail "dangling symlink"
[ "$(stat -c %s "$T/gnu/$ID/random.bin")" = 2097152 ] || fail "random size"
[ "$(stat -c %Y "$T/bsd/$ID/a/b/c/deep.txt")" = \
    "$(date -d '2025-03-04 05:06:07' +%s)" ] || fail "deep.txt mtime"

# Nanoseconds: GNU tar restores pax mtimes exactly.
diff <(tree "$S" T@) <(tree "$T/gnu/$ID" T@) >"$T/ns.gnu" ||
    fail "GNU tar: mtimes differ in nanoseconds:
$(head -20 "$T/ns.gnu")"
stat -c %y "$T/gnu/$ID/a/b/c/deep.txt" | grep -q '05:06:07.123456789' ||
    fail "deep.txt: $(stat -c %y "$T/gnu/$ID/a/b/c/deep.txt")"
ok "GNU tar restores every mtime to the nanosecond"

# 4. Nothing to do; ping.
ship_once once2 30
[ "$ONCE_RC" = 0 ] || fail "once with nothing to do: exit $ONCE_RC"
[ "$(ls "$STORE/lab-a" | wc -l)" = 2 ] || fail "store: $(ls "$STORE/lab-a")"
ship_ping ping
[ "$PING_RC" = 0 ] || fail "ping: exit $PING_RC: $(cat "$T/ping.out")"
grep -q "^OK: $URL answers as lab-a" "$T/ping.out" ||
    fail "ping printed: $(cat "$T/ping.out")"
ok "once with nothing to do: exit 0; ping: OK, exit 0"

# 5. Same tree ⇒ same bytes (DESIGN §4): the shipped tree put back
# under the same id packs to the stored archive, so the receiver answers
# 200 "already stored" and the episode is retired again (DESIGN §3).
cp "$A" "$T/first.tar.zst"
mv "$DATA/shipped/$ID" "$DATA/episodes/$ID" || fail "mv back"
ship_once once3
[ "$ONCE_RC" = 0 ] || fail "re-ship of the same tree: exit $ONCE_RC"
# The uploader may ask with HEAD first instead of sending it again.
access_lines "(HEAD|PUT) \"/v1/episodes/lab-a/$ID\" 200 " >/dev/null ||
    fail "re-ship: the receiver did not answer 200: $(access_lines lab-a/)"
[ "$(access_lines " \"/v1/episodes/lab-a/$ID\" 201 " | wc -l)" = 1 ] ||
    fail "re-ship: stored twice: $(access_lines lab-a/)"
grep -q "episode $ID: already stored" "$LOG" || fail "re-ship: log"
is_shipped "$ID" || fail "re-ship: not retired"
cmp -s "$T/first.tar.zst" "$A" || fail "re-ship changed the stored archive"
[ -z "$(ls -A "$DATA/quarantine")" ] || fail "re-ship: quarantined"
ok "same tree again: same archive, 200 already stored, retired to shipped/"
