#!/bin/sh
# Replays every committed corpus file (corpus/*/*) through every fuzz
# harness, each linked with the plain driver replay.c:
#
#   sh regress/fuzz/run.sh BINDIR        (make check-fuzz-replay)
#
# Each harness's own corpus is its seeds and the crashes fuzzing found;
# the other harnesses' files are simply more arbitrary input.  One
# process per harness takes all files in turn and prints "ok FILE" after
# each, so a crash names its input and the rest still run.  Counts one
# per harness and file; ends with "N passed, N failed".

dir=$(cd "$(dirname "$0")" && pwd)
bindir=$1
harnesses="imsg shipper_conf receiver_conf http tar"
pass=0
failed=0

fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	[ -z "$2" ] || printf '%s\n' "$2" | sed 's/^/    /'
}

finish() {
	echo "$pass passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

if [ -z "$bindir" ]; then
	fail "usage: sh $0 BINDIR (make check-fuzz-replay sets it)"
	finish
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cis490-fuzz-replay.XXXXXX") || {
	fail "mktemp failed"
	finish
}
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
# The tar harness builds its trees here.
mkdir "$tmp/scratch"

find "$dir/corpus" -type f | LC_ALL=C sort >"$tmp/all"
total=$(wc -l <"$tmp/all")
if [ "$total" -eq 0 ]; then
	fail "no corpus files under $dir/corpus"
	finish
fi
# Names go through the shell's word splitting below.
if grep -q '[[:space:]]' "$tmp/all"; then
	fail "corpus file names must not contain white space" \
	    "$(grep '[[:space:]]' "$tmp/all")"
	finish
fi
for h in $harnesses; do
	n=$(find "$dir/corpus/$h" -type f 2>/dev/null | wc -l)
	[ "$n" -gt 0 ] || fail "$h: no seed corpus in $dir/corpus/$h"
done

for h in $harnesses; do
	bin=$bindir/$h
	if [ ! -x "$bin" ]; then
		fail "$h: $bin is not built (make check-fuzz-replay builds it)"
		continue
	fi
	start=1
	hpass=0
	while [ "$start" -le "$total" ]; do
		sed -n "$start,\$p" "$tmp/all" >"$tmp/list"
		# shellcheck disable=SC2046
		TMPDIR=$tmp/scratch timeout 300 "$bin" $(cat "$tmp/list") \
		    >"$tmp/out" 2>"$tmp/err"
		rc=$?
		k=$(grep -c '^ok ' "$tmp/out")
		hpass=$((hpass + k))
		if [ "$rc" -eq 0 ] && [ "$k" -eq "$(wc -l <"$tmp/list")" ]; then
			break
		fi
		# The file after the last "ok" is the one that failed.
		bad=$(sed -n "$((k + 1))p" "$tmp/list")
		if [ -z "$bad" ]; then
			fail "$h: failed at exit (exit $rc)" \
			    "$(tail -n 40 "$tmp/err" | cat -v)"
			break
		fi
		fail "$h ${bad#"$dir"/} (exit $rc)" \
		    "$(tail -n 40 "$tmp/err" | cat -v)"
		start=$((start + k + 1))
		# A crash leaves its scratch tree behind.
		find "$tmp/scratch" -mindepth 1 -delete
	done
	pass=$((pass + hpass))
	echo "$h: $hpass of $total files passed"
done
left=$(find "$tmp/scratch" -mindepth 1 | wc -l)
[ "$left" -eq 0 ] || fail "the tar harness left $left files behind"
finish
