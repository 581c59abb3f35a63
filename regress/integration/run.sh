#!/bin/sh
# Runs every regress/integration/test_*.sh; ends with "N passed, N failed".
: "${SHIPPER:?set SHIPPER to the cis490-shipper binary to test}"
dir=$(dirname "$0")
pass=0
failed=0
for t in "$dir"/test_*.sh; do
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
