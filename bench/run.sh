#!/bin/bash
# The benchmark (issue 9), run by `make bench`: cis490-shipper `once`
# against cis490-receiver, and the pipeline a user would pick instead,
#   tar -cf - DIR | zstd -3 | curl --cacert --cert --key -T - URL
# into nginx (mutual TLS, WebDAV PUT), on the same corpora, alternating,
# RUNS runs each (and ours with the BENCH_VARIANTS configurations); then
# the shipper alone on an episode with 4x the bytes of (a) (memory), an
# idle daemon watching IDLE_N shipped episodes (CPU) and the latency
# from ready to shipped.  A failed run of ours is recorded with its log
# and the rest goes on.  bench/report.py writes bench/RESULTS.md
# (SMALL=1: $BENCH_CACHE/RESULTS-small.md, so a trial run does not
# replace the recorded results).
#
# Needs: SHIPPER, RECEIVER (the std build), BENCH_GEN, BENCH_CACHE,
# BENCH_SEED; SMALL=1 for small corpora.  Run as root, as make check is.

: "${BENCH_GEN:?set BENCH_GEN to the bench-gen binary}"
: "${BENCH_CACHE:=/var/tmp/cis490-bench}"
: "${BENCH_SEED:=490}"
: "${SMALL:=}"

BENCH=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH/.." && pwd)
IT=$TOP/regress/integration
BENCH_START=$(date +%s)

. "$IT/lib.sh"
# The scratch tree goes beside the corpus cache, so that episodes are
# hard links to the cached files rather than copies.
mkdir -p "$BENCH_CACHE" || fail "cannot create $BENCH_CACHE"
rmdir "$T"
T=$(mktemp -d "$BENCH_CACHE/run.XXXXXX") || fail "mktemp in $BENCH_CACHE"
chmod 0755 "$T"
. "$IT/pki.sh"
. "$IT/ship_lib.sh"
. "$BENCH/bench_lib.sh"

for tool in nginx tar zstd curl python3 openssl; do
	command -v "$tool" >/dev/null 2>&1 ||
	    fail "$tool is not installed (make bench-deps installs it)"
done
[ -x "$BENCH_GEN" ] || fail "$BENCH_GEN is not an executable"

MiB=$((1024 * 1024))
if [ -n "$SMALL" ]; then
	A_SIZE=$((64 * MiB)); B_N=4; B_SIZE=$((16 * MiB)); C_N=100
	IDLE_N=1000; IDLE_WINDOW=10; LAT_N=2; RUNS=3
	OUT=$BENCH_CACHE/RESULTS-small.md
else
	A_SIZE=$((1024 * MiB)); B_N=20; B_SIZE=$((100 * MiB)); C_N=1000
	IDLE_N=10000; IDLE_WINDOW=${IDLE_WINDOW:-60}; LAT_N=5; RUNS=3
	OUT=$BENCH/RESULTS.md
fi
# A partial run (some corpora only, no extras) is no result to record.
if [ -n "${BENCH_LABELS:-}" ] || [ "${BENCH_EXTRAS:-1}" != 1 ]; then
	OUT=$BENCH_CACHE/RESULTS-partial.md
fi
C_SIZE=10240
NJSON=2000
BIG_COPIES=4
RESULTS=$T/results.jsonl
: >"$RESULTS"

phase "corpora"
CORPUS=$BENCH_CACHE/corpus-v$("$BENCH_GEN" -V)-seed$BENCH_SEED
make_corpus a 1 "$A_SIZE" "$NJSON" 0
make_corpus b "$B_N" "$B_SIZE" "$NJSON" 100
make_corpus c "$C_N" "$C_SIZE" 1 10000

phase "setup: PKI, receiver and nginx configurations"
pki_setup
receiver_conf
# Variants: shipper.conf lines (separated by ";") tried on VARIANT_LABELS
# too, alternating with the default and the reference.
: "${BENCH_VARIANTS=compression threads 0}"
: "${BENCH_VARIANT_LABELS=a b}"
NVARIANTS=0
IFS=';' read -r -a VARIANT_LINES <<<"$BENCH_VARIANTS"
for line in "${VARIANT_LINES[@]}"; do
	[ -n "$line" ] || continue
	ship_conf "$line"
	cp "$CONF" "$T/shipper-v$NVARIANTS.conf"
	NVARIANTS=$((NVARIANTS + 1))
done
ship_conf
nginx_conf
CPU0=$(cpu_busy)

variants() {
	local i=0 line
	case " $BENCH_VARIANT_LABELS " in
	*" $1 "*)	;;
	*)		return 0 ;;
	esac
	for line in "${VARIANT_LINES[@]}"; do
		[ -n "$line" ] || continue
		run_ours "$1" "$2" "$T/shipper-v$i.conf" "$line"
		i=$((i + 1))
	done
}

for label in ${BENCH_LABELS:-a b c}; do
	phase "corpus $label"
	for run in $(seq 1 "$RUNS"); do
		# Alternate which goes first, so drift hits both alike.
		if [ $((run % 2)) = 1 ]; then
			run_ours "$label" "$run"
			run_ref "$label" "$run"
			variants "$label" "$run"
		else
			variants "$label" "$run"
			run_ref "$label" "$run"
			run_ours "$label" "$run"
		fi
		[ "$run" = 1 ] && same_members "$label"
	done
done

if [ "${BENCH_EXTRAS:-1}" = 1 ]; then
	phase "memory: one episode with ${BIG_COPIES}x the bytes of (a)"
	run_ours big 1
	phase "idle daemon with $IDLE_N shipped episodes; latency"
	idle_and_latency
fi

CPU1=$(cpu_busy)
phase "report"
python3 "$BENCH/report.py" --results "$RESULTS" --out "$OUT" \
    --keep "$BENCH/RESULTS.md" \
    --meta "commit=$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)" \
    --meta "cpu_busy_s=$(awk "BEGIN { print $CPU1 - $CPU0 }")" \
    --meta "elapsed_s=$(( $(date +%s) - BENCH_START ))" \
    --meta "small=${SMALL:-0}" --meta "seed=$BENCH_SEED" \
    --meta "corpus=$CORPUS" --meta "runs=$RUNS" \
    --meta "idle_episodes=$IDLE_N" --meta "big_copies=$BIG_COPIES" \
    --meta "loadavg_start=$LOAD0" --meta "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" \
    --meta "versions=$(versions)" \
    --meta "binaries=$SHIPPER $RECEIVER" \
    --meta "compression=$("$SHIPPER" -n -v -f "$T/shipper.conf" 2>/dev/null |
	grep '^compression ' | paste -sd, - | sed 's/,/, /g')" ||
    fail "report.py failed"
# The raw records, for a second look (report.py reads them again).
cp "$RESULTS" "$BENCH_CACHE/$(basename "${OUT%.md}").jsonl"
echo "bench: wrote $OUT in $(( $(date +%s) - BENCH_START )) s"
