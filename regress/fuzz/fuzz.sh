#!/bin/sh
# Runs libFuzzer harnesses one at a time (make fuzz):
#
#   FUZZ_SECONDS=60 sh regress/fuzz/fuzz.sh BINDIR HARNESS...
#
# Each starts from its committed corpus (regress/fuzz/corpus/HARNESS,
# read only) and adds what it finds to build/fuzz/corpus/HARNESS, which
# is kept between runs.  A crash, leak, timeout or broken property
# leaves its input in build/fuzz/artifacts/HARNESS/; commit it under
# regress/fuzz/corpus/HARNESS/ with the fix.  The harnesses' own log
# lines (every refused configuration) are discarded (-close_fd_mask=2);
# libFuzzer's and the sanitizers' reports are not.
# Ends with "N passed, N failed".

dir=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$dir/../.." && pwd)
bindir=$1
shift
seconds=${FUZZ_SECONDS:-60}
pass=0
failed=0

for h in "$@"; do
	bin=$bindir/$h
	work=$top/build/fuzz/corpus/$h
	art=$top/build/fuzz/artifacts/$h
	scratch=$top/build/fuzz/tmp
	mkdir -p "$work" "$art" "$scratch"
	dict=
	[ -f "$dir/$h.dict" ] && dict=-dict=$dir/$h.dict
	echo "=== fuzz $h for ${seconds}s"
	if [ ! -x "$bin" ]; then
		echo "FAIL $h: $bin is not built"
		failed=$((failed + 1))
		continue
	fi
	log=$top/build/fuzz/$h.log
	TMPDIR=$scratch "$bin" -max_total_time="$seconds" -timeout=25 \
	    -rss_limit_mb=2048 -close_fd_mask=2 -print_final_stats=1 \
	    -artifact_prefix="$art/" $dict "$work" "$dir/corpus/$h" \
	    >"$log" 2>&1
	rc=$?
	grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)' "$log" |
	    tail -n 60
	if [ "$rc" -ne 0 ]; then
		echo "FAIL $h (exit $rc; log $log); inputs in $art:"
		ls -t "$art" | sed 's/^/    /'
		failed=$((failed + 1))
	else
		echo "PASS $h"
		pass=$((pass + 1))
	fi
done
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
