#!/bin/sh
# Every man page is clean under mandoc -Tlint -Wwarning.
# Usage: run.sh PAGE...; ends with "N passed, N failed".
pass=0
failed=0
command -v mandoc >/dev/null 2>&1 || {
	echo "FAIL: mandoc is not installed (make deps installs it)"
	echo "0 passed, 1 failed"
	exit 1
}
[ "$#" -gt 0 ] || { echo "FAIL: no man pages given"; echo "0 passed, 1 failed"; exit 1; }
for page in "$@"; do
	# Cross references to our own pages resolve against man/.
	out=$(cd "$(dirname "$page")" && mandoc -Tlint -Wwarning \
	    "$(basename "$page")" 2>&1)
	if [ -z "$out" ]; then
		pass=$((pass + 1))
		echo "PASS $page"
	else
		failed=$((failed + 1))
		echo "FAIL $page"
		echo "$out" | sed 's/^/    /'
	fi
done
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
