#!/bin/bash
# Where does `cis490-shipper once` spend its time on one corpus of the
# benchmark?  Not part of `make bench`; run it by hand after one
# (it reuses the cached corpora):
#
#   SHIPPER=build/std/cis490-shipper RECEIVER=build/std/cis490-receiver \
#   BENCH_GEN=build/std/bench/bench-gen bash bench/profile.sh [a|b|c] [CONF-LINE...]
#
# Prints a timeline of the shipper's log (-v, stamped as lines arrive)
# and, when `perf record -e cpu-clock` works, the hottest symbols of
# each process of the shipper and of the receiver.  Extra arguments are
# added to shipper.conf ("compression threads 2").  Output also goes to
# $BENCH_CACHE/profile-LABEL.txt, the whole timeline to
# $BENCH_CACHE/profile-LABEL.timeline.

: "${BENCH_GEN:?set BENCH_GEN to the bench-gen binary}"
: "${BENCH_CACHE:=/var/tmp/cis490-bench}"
: "${BENCH_SEED:=490}"
: "${SMALL:=}"
LABEL=${1:-a}
shift

BENCH=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH/.." && pwd)
IT=$TOP/regress/integration
BENCH_START=$(date +%s)

. "$IT/lib.sh"
mkdir -p "$BENCH_CACHE" || fail "cannot create $BENCH_CACHE"
rmdir "$T"
T=$(mktemp -d "$BENCH_CACHE/profile.XXXXXX") || fail "mktemp"
chmod 0755 "$T"
. "$IT/pki.sh"
. "$IT/ship_lib.sh"
. "$BENCH/bench_lib.sh"

MiB=$((1024 * 1024))
CORPUS=$BENCH_CACHE/corpus-v$("$BENCH_GEN" -V)-seed$BENCH_SEED
if [ -n "$SMALL" ]; then
	make_corpus a 1 $((64 * MiB)) 2000 0
	make_corpus b 4 $((16 * MiB)) 2000 100
	make_corpus c 100 10240 1 10000
else
	make_corpus a 1 $((1024 * MiB)) 2000 0
	make_corpus b 20 $((100 * MiB)) 2000 100
	make_corpus c 1000 10240 1 10000
fi
BIG_COPIES=4
OUTFILE=$BENCH_CACHE/profile-$LABEL.txt

pki_setup
receiver_conf
ship_conf "$@"
prep_episodes "$LABEL" "$DATA"
fix_owner
: >"$T/receiver.log"
start_receiver "$T/receiver.log"
sync

PERF=
if perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
	PERF=1
	perf record -q -e cpu-clock -F 499 -g -o "$T/receiver.perf" \
	    -p "$(descendants_csv "$RECEIVER_PID")" 2>/dev/null &
	RPERF=$!
fi

stamp() {
	python3 -c 'import sys, time
t0 = time.monotonic()
for line in sys.stdin:
    sys.stdout.write("%8.3f %s" % (time.monotonic() - t0, line))
    sys.stdout.flush()'
}

if [ -n "$PERF" ]; then
	perf record -q -e cpu-clock -F 499 -g -o "$T/shipper.perf" -- \
	    "$SHIPPER" -d -v -f "$CONF" once 2>&1 >/dev/null | stamp \
	    >"$T/timeline"
	kill -INT "$RPERF" 2>/dev/null
	wait "$RPERF" 2>/dev/null
else
	"$SHIPPER" -d -v -f "$CONF" once 2>&1 >/dev/null | stamp \
	    >"$T/timeline"
fi
cp "$T/timeline" "${OUTFILE%.txt}.timeline"
{
	echo "== profile of ours on corpus $LABEL ($(date -u +%FT%TZ))"
	echo "== shipper.conf additions: ${*:-none}"
	echo "== timeline (seconds since start; -v log)"
	if [ "$(wc -l <"$T/timeline")" -gt 40 ]; then
		head -n 25 "$T/timeline"
		echo "   ..."
		tail -n 10 "$T/timeline"
	else
		cat "$T/timeline"
	fi
} | tee "$OUTFILE"
stop_receiver

if [ -n "$PERF" ]; then
	{
		echo "== shipper: CPU samples by process"
		perf report -i "$T/shipper.perf" --stdio --no-children \
		    --sort pid -g none 2>/dev/null | grep -E '^ +[0-9]'
		echo "== shipper: hottest symbols"
		perf report -i "$T/shipper.perf" --stdio --no-children \
		    --sort comm,dso,symbol -g none 2>/dev/null |
		    grep -E '^ +[0-9]' | head -n 30
		echo "== receiver: hottest symbols"
		perf report -i "$T/receiver.perf" --stdio --no-children \
		    --sort comm,dso,symbol -g none 2>/dev/null |
		    grep -E '^ +[0-9]' | head -n 20
	} | tee -a "$OUTFILE"
fi
[ -n "$PERF" ] && cp "$T/shipper.perf" "${OUTFILE%.txt}.perf" &&
    cp "$T/receiver.perf" "${OUTFILE%.txt}.receiver.perf"
echo "profile: wrote $OUTFILE"
