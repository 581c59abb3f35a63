#!/bin/sh
# Runs regress/integration/test_*.sh, or the tests named as arguments;
# ends with "N passed, N failed".
: "${SHIPPER:?set SHIPPER to the cis490-shipper binary to test}"
dir=$(dirname "$0")
pass=0
failed=0
# Arguments, if any, name the tests to run; else every test_*.sh.
[ "$#" -gt 0 ] || set -- "$dir"/test_*.sh
for t in "$@"; do
	name=$(basename "$t" .sh)
	out=$(bash "$t" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
		echo "PASS $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name (exit $rc)"
		echo "$out" | sed 's/^/    /'
	fi
done
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
