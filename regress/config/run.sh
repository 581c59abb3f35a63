#!/bin/sh
# Golden tests of the configuration grammar (parent/parse.y).
#
#   SHIPPER=/abs/path/to/cis490-shipper sh regress/config/run.sh
#   UPDATE=1 SHIPPER=... sh regress/config/run.sh    rewrite the .ok files
#
# Each cases/NAME.conf runs in a fresh directory holding ca.pem, host.crt,
# host.key and token (the last two mode 0600), with @DIR@ replaced by that
# directory.  Lines "# setup: COMMAND" in a case run there first (sh), to
# break a file on purpose.  The output of "cis490-shipper -nv -f NAME.conf"
# -- stdout, then stderr, then "exit N" -- with the directory turned back
# into @DIR@, must equal cases/NAME.ok.  A case that passes must also print
# a configuration that parses again to the same bytes.
# Ends with "N passed, N failed"; exits non-zero if any failed.

dir=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$dir/../.." && pwd)
cases=$dir/cases
pass=0
failed=0

ok() {
	pass=$((pass + 1))
	echo "PASS $1"
}

fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	if [ -n "$2" ]; then
		printf '%s\n' "$2" | sed 's/^/    /'
	fi
}

finish() {
	echo "$pass passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

if [ -z "$SHIPPER" ]; then
	fail "SHIPPER is not set; run: SHIPPER=/path/to/cis490-shipper sh $0"
	finish
fi
case $SHIPPER in
/*)	;;
*)	SHIPPER=$(pwd)/$SHIPPER ;;
esac
if [ ! -x "$SHIPPER" ]; then
	fail "SHIPPER=$SHIPPER is not an executable; build it with make"
	finish
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cis490-config.XXXXXX") || {
	fail "mktemp failed"
	finish
}
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# make_dir DIR: the files a configuration names.
make_dir() {
	mkdir -p "$1" && (
		cd "$1" || exit 1
		umask 022
		echo "test CA" >ca.pem
		echo "test certificate" >host.crt
		umask 077
		echo "test key" >host.key
		echo "s3cret-token" >token
	)
}

# run DIR CONF: runs the shipper on DIR/CONF from DIR; leaves DIR/stdout,
# DIR/stderr and DIR/got (both, then "exit N", with DIR as @DIR@).
run() {
	(cd "$1" && "$SHIPPER" -nv -f "$2" >stdout 2>stderr; echo "exit $?" \
	    >status)
	cat "$1/stdout" "$1/stderr" "$1/status" |
	    sed "s|$1|@DIR@|g" >"$1/got"
}

for conf in "$cases"/*.conf; do
	name=$(basename "$conf" .conf)
	d=$tmp/$name
	make_dir "$d" || { fail "$name: cannot set up $d"; continue; }
	sed "s|@DIR@|$d|g" "$conf" >"$d/$name.conf"
	sed -n 's/^# setup: //p' "$conf" >"$d/setup.sh"
	if ! (cd "$d" && sh -e setup.sh); then
		fail "$name: its setup lines failed"
		continue
	fi
	run "$d" "$name.conf"

	if [ -n "$UPDATE" ]; then
		cp "$d/got" "$cases/$name.ok"
		echo "UPDATED $name.ok"
	fi
	if [ ! -f "$cases/$name.ok" ]; then
		fail "$name: no $name.ok (UPDATE=1 writes it; then read it)"
		continue
	fi
	if out=$(diff -u "$cases/$name.ok" "$d/got"); then
		ok "$name"
	else
		fail "$name" "$out"
		continue
	fi

	# What -nv prints must read back to itself, byte for byte.
	if [ "$(cat "$d/status")" = "exit 0" ]; then
		cp "$d/stdout" "$d/printed.conf"
		mkdir "$d/again"
		(cd "$d" && "$SHIPPER" -nv -f printed.conf >again/stdout \
		    2>again/stderr; echo "exit $?" >again/status)
		if [ "$(cat "$d/again/status")" != "exit 0" ]; then
			fail "$name: round trip" "$(cat "$d/again/stderr")"
		elif ! out=$(diff -u "$d/stdout" "$d/again/stdout"); then
			fail "$name: round trip" "$out"
		else
			ok "$name: round trip"
		fi
	fi
done

# The example an operator starts from must be valid as shipped.
d=$tmp/example
make_dir "$d/etc"
sed "s|/etc/cis490-shipper/|$d/etc/|g" "$top/etc/shipper.conf.example" \
    >"$d/example.conf"
run "$d" example.conf
if [ "$(cat "$d/status")" = "exit 0" ] &&
    [ "$(cat "$d/stderr")" = "configuration OK" ]; then
	ok "etc/shipper.conf.example"
	cp "$d/stdout" "$d/printed.conf"
	mkdir "$d/again"
	(cd "$d" && "$SHIPPER" -nv -f printed.conf >again/stdout \
	    2>again/stderr)
	if out=$(diff -u "$d/stdout" "$d/again/stdout"); then
		ok "etc/shipper.conf.example: round trip"
	else
		fail "etc/shipper.conf.example: round trip" "$out"
	fi
else
	fail "etc/shipper.conf.example" "$(cat "$d/got")"
fi

# So must the complete example in the man page (its first literal block).
d=$tmp/manpage
make_dir "$d/etc"
awk '/^\.Bd -literal/ { n++; next } /^\.Ed/ && n == 1 { exit } n == 1' \
    "$top/man/cis490-shipper.conf.5" |
    sed "s|/etc/cis490-shipper/|$d/etc/|g" >"$d/example.conf"
run "$d" example.conf
if [ -s "$d/example.conf" ] && [ "$(cat "$d/status")" = "exit 0" ]; then
	ok "man/cis490-shipper.conf.5 EXAMPLES"
else
	fail "man/cis490-shipper.conf.5 EXAMPLES" "$(cat "$d/got")"
fi

# A file that is not there: one clear line, exit 1.
d=$tmp/nofile
mkdir -p "$d"
run "$d" "$d/missing.conf"
expect="@DIR@/missing.conf: No such file or directory; create it \
(cis490-shipper.conf(5) describes it) or name another file with -f
exit 1"
if [ "$(cat "$d/got")" = "$expect" ]; then
	ok "missing file"
else
	fail "missing file" "$(printf 'expected:\n%s\ngot:\n%s' "$expect" \
	    "$(cat "$d/got")")"
fi

finish
