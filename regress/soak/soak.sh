#!/bin/bash
# make soak (not part of make check): two shippers (lab-a, lab-b) ship
# SOAK_EPISODES episodes (default 200 a minute, 2000 in the default 10
# minutes) written over the first 70% of SOAK_MINUTES (default 10)
# through a fault proxy that answers 503 and 429 with Retry-After,
# resets connections mid-upload, holds answers back, swallows them,
# stalls TLS handshakes and accepts without answering, at random
# (SOAK_FAULTS, SOAK_SEED), while the receiver is restarted every 30 to
# 60 s (SIGTERM, every third time SIGKILL) during the first half of the
# writing, so that its last instance has served the other half when it
# is measured at the end.  Everything must be shipped
# 90 s before the end (15% of the run, at least 30 s); the rest is the
# verdict:
#  - every episode in shipped/ once, stored once (one 201), its archive
#    byte-identical to what the recorder wrote (verify.py episodes);
#  - every shipper and receiver process: the largest RSS and the fewest
#    open descriptors in the last minute within 5% (descriptors: or one)
#    of those of minute 2 (of the first 20% to 30% in runs under 6
#    minutes) (verify.py procs);
#  - no process lost, shippers exit 0 on SIGTERM.
# The figures go to SOAK_REPORT (default regress/SOAK.md); SOAK_KEEP=DIR
# keeps the logs and samples there.
IT=$(cd "$(dirname "$0")/../integration" && pwd)
SOAK=$(cd "$(dirname "$0")" && pwd)
. "$IT/lib.sh"
. "$IT/pki.sh"
. "$IT/ship_lib.sh"
. "$IT/fault_lib.sh"

MINUTES=${SOAK_MINUTES:-10}
case $MINUTES in ''|*[!0-9]*|0) fail "SOAK_MINUTES must be a whole number of minutes" ;; esac
EPISODES=${SOAK_EPISODES:-$((200 * MINUTES))}
SEED=${SOAK_SEED:-$(date +%s)}
# Per request; silent, hsstall and close per new connection, which the
# shippers open only after a failure (they keep theirs alive).
FAULTS=${SOAK_FAULTS:-503=0.02,429=0.015,reset=0.02,slow=0.03,noanswer=0.004,silent=0.02,hsstall=0.02,close=0.03}
REPORT=${SOAK_REPORT:-$SOAK/../SOAK.md}
TOTAL=$((MINUTES * 60))
PRODUCE=$((TOTAL * 7 / 10))
# The rest is for the verdict: 90 s of 10 minutes, at least 30 s.
VERIFY=$((TOTAL * 15 / 100 > 30 ? TOTAL * 15 / 100 : 30))
DEADLINE=$((TOTAL - VERIFY))
if [ "$TOTAL" -ge 360 ]; then
	W1=120 W2=180
else
	W1=$((TOTAL * 2 / 10)) W2=$((TOTAL * 3 / 10))
fi
W3=$((DEADLINE - (W2 - W1))) W4=$DEADLINE
HOSTS="lab-a lab-b"
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
say() { echo "soak: $(printf '%4ds' "$(elapsed)") $*"; }

say "$MINUTES min, $EPISODES episodes over ${PRODUCE}s, seed $SEED, faults $FAULTS"
pki_setup
receiver_conf "max-connections 64"
RESTARTS=0
start_receiver "$T/receiver-0.log"
proxy_start --random "$FAULTS" --seed "$SEED" --idle-timeout 60

write_pids() {
	{
		echo "receiver $RECEIVER_PID"
		for h in $HOSTS; do
			echo "shipper-$h ${SPID[$h]}"
		done
	} >"$T/pids.tmp"
	mv "$T/pids.tmp" "$T/pids"
}

declare -A SPID KIDS
for h in $HOSTS; do
	D=$T/data-$h
	mkdir -p "$D/episodes" "$D/incoming"
	[ "$(id -u)" = 0 ] && chown -R daemon "$D"
	{
		echo "host $h"
		echo "data-root \"$D\""
		if [ "$(id -u)" = 0 ]; then
			echo "user daemon"
			echo "sandbox-user nobody"
		fi
		echo "receiver url \"$PROXY_URL\""
		echo "receiver ca \"$PKI/ca.pem\""
		echo "receiver certificate \"$PKI/$h.crt\""
		echo "receiver key \"$PKI/$h.key\""
		echo "receiver token-file \"$PKI/$h.token\""
		echo "scan-interval 2s"
		echo "stall-timeout 10s"
		echo "backoff base 1s"
		echo "backoff cap 8s"
		echo "min-free space 64M"
	} >"$T/$h.conf"
	chmod 0600 "$PKI"/*.key "$PKI"/*.token
	"$SHIPPER" -n -f "$T/$h.conf" 2>"$T/$h.conf.err" ||
	    fail "$h.conf: $(cat "$T/$h.conf.err")"
	"$SHIPPER" -d -v -f "$T/$h.conf" -s "$T/$h.sock" 2>"$T/shipper-$h.log" &
	SPID[$h]=$!
	STARTED_PIDS="$STARTED_PIDS ${SPID[$h]}"
done
for h in $HOSTS; do
	LOG=$T/shipper-$h.log
	wait_until 20 grep -q 'parent: started: scanner' "$LOG" ||
	    fail "shipper $h did not start"
	KIDS[$h]=$(ps -o pid= --ppid "${SPID[$h]}" | sort | tr -d ' ' | tr '\n' ' ')
done
write_pids
python3 "$SOAK/sample.py" "$T/pids" "$T/samples" "$T/stop-sampler" 5 &
SAMPLER=$!
STARTED_PIDS="$STARTED_PIDS $SAMPLER"
roots=""
for h in $HOSTS; do
	roots="$roots $h=$T/data-$h"
done
owner=
[ "$(id -u)" = 0 ] && owner="--owner daemon"
# shellcheck disable=SC2086
python3 "$SOAK/produce.py" --count "$EPISODES" --duration "$PRODUCE" \
    --seed "$SEED" --manifest "$T/manifest" $owner $roots \
    2>"$T/produce.err" &
PRODUCER=$!
STARTED_PIDS="$STARTED_PIDS $PRODUCER"

shipped() {
	local h n=0
	for h in $HOSTS; do
		n=$((n + $(find "$T/data-$h/shipped" -mindepth 1 -maxdepth 1 \
		    -type d | wc -l)))
	done
	echo "$n"
}
written() {
	wc -l <"$T/manifest" 2>/dev/null || echo 0
}
check_alive() {
	local h
	for h in $HOSTS; do
		gone "${SPID[$h]}" && fail "shipper $h died: $(tail -5 "$T/shipper-$h.log")"
		[ "$(ps -o pid= --ppid "${SPID[$h]}" | sort | tr -d ' ' | tr '\n' ' ')" = "${KIDS[$h]}" ] ||
		    fail "shipper $h: children changed: $(grep -E 'lost|fatal' "$T/shipper-$h.log")"
	done
	gone "$RECEIVER_PID" &&
	    fail "the receiver died: $(tail -5 "$T/receiver-$RESTARTS.log")"
	gone "$PROXY_PID" && fail "the fault proxy died: $(cat "$T/proxy.err")"
	return 0
}

next_restart=$(( $(elapsed) + 30 + RANDOM % 31 ))
LAST_RESTART=0
last_report=0
while [ "$(elapsed)" -lt "$DEADLINE" ]; do
	sleep 1
	check_alive
	t=$(elapsed)
	if [ "$t" -ge "$next_restart" ] && [ "$t" -lt $((PRODUCE / 2)) ]; then
		RESTARTS=$((RESTARTS + 1))
		if [ $((RESTARTS % 3)) = 0 ]; then
			how=KILL
			kill -KILL "$RECEIVER_PID" "$(server_pid)" 2>/dev/null
			wait "$RECEIVER_PID" 2>/dev/null
		else
			how=TERM
			stop_receiver
		fi
		sleep $((1 + RANDOM % 3))
		start_receiver "$T/receiver-$RESTARTS.log"
		write_pids
		say "receiver restarted ($how), $(shipped) of $(written) shipped"
		LAST_RESTART=$(elapsed)
		LAST_SHIPPED=$(shipped)
		next_restart=$((t + 30 + RANDOM % 31))
	fi
	if [ $((t - last_report)) -ge 30 ]; then
		last_report=$t
		say "$(written) written, $(shipped) shipped"
	fi
	if [ "$(written)" = "$EPISODES" ] && [ "$(shipped)" = "$EPISODES" ] &&
	    [ -z "${DRAINED:-}" ]; then
		DRAINED=$t
		say "all $EPISODES shipped; idle until ${DEADLINE}s"
	fi
done
[ -n "${DRAINED:-}" ] ||
    fail "$(shipped) of $EPISODES shipped (written $(written)) at ${DEADLINE}s: $(cat "$T/produce.err")"
check_alive
touch "$T/stop-sampler"
wait_until 10 gone "$SAMPLER" || fail "sampler still running"
for h in $HOSTS; do
	kill -TERM "${SPID[$h]}"
done
for h in $HOSTS; do
	wait_exit "${SPID[$h]}" 10 || fail "shipper $h still up 10 s after SIGTERM"
	[ "$EXIT_STATUS" = 0 ] || fail "shipper $h: exit $EXIT_STATUS"
done
kill "$PROXY_PID"
stop_receiver
[ "$EXIT_STATUS" = 0 ] || fail "receiver: exit $EXIT_STATUS after SIGTERM"
say "stopped; verifying"

args=""
for h in $HOSTS; do
	args="$args $h=$T/data-$h"
done
# shellcheck disable=SC2086
python3 "$SOAK/verify.py" episodes "$T/manifest" "$STORE" "$T"/receiver-*.log \
    -- $args >"$T/verify.out" 2>&1
vrc=$?
python3 "$SOAK/verify.py" procs "$T/samples" "$W1" "$W2" "$W3" "$W4" 0.05 \
    >"$T/procs.md" 2>&1
prc=$?
cat "$T/verify.out" "$T/procs.md"

# Figures.
count() { grep -c -E "$1" "$T/proxy.log"; }
reqs=$(count ' req [0-9]+ ')
conns=$(count ' conn [0-9]+ accept')
verdict=PASS
[ "$vrc" = 0 ] && [ "$prc" = 0 ] || verdict=FAIL
{
	echo "# Soak"
	echo
	echo "\`make soak\` (regress/soak/soak.sh), last run $(date -u +%Y-%m-%dT%H:%MZ):"
	echo "**$verdict**."
	echo
	echo "- $MINUTES minutes ($(elapsed) s with verification), seed $SEED,"
	echo "  \`$(basename "$(dirname "$SHIPPER")")\` build, $(nproc) CPUs, Linux $(uname -r)."
	echo "- $EPISODES episodes written over the first ${PRODUCE} s, half for"
	echo "  lab-a and half for lab-b; all shipped $DRAINED s after the start."
	echo "- $(tail -1 "$T/verify.out")."
	if [ "$RESTARTS" -gt 0 ]; then
		echo "- Receiver restarted $RESTARTS times (every third with SIGKILL), the"
		echo "  last at $LAST_RESTART s; that instance stored the last"
		echo "  $((EPISODES - LAST_SHIPPED)) episodes."
	else
		echo "- Receiver not restarted (the run is too short)."
	fi
	echo "- Fault proxy: $conns connections, $reqs requests; faults:"
	echo "  $(count 'accept -> silent') silent accepts, $(count 'accept -> hsstall') stalled TLS handshakes,"
	echo "  $(count 'accept -> close') resets on accept, $(count ' -> 503 ') x 503 and"
	echo "  $(count ' -> 429 ') x 429 with Retry-After, $(count 'reset after') resets mid-request,"
	echo "  $(count ' -> slow ') slow answers, $(count ' -> noanswer ') swallowed answers;"
	echo "  $(count ' -> upstream (down|failed)') requests met the receiver down or restarting."
	echo "- Shippers' transient failures (each backed off):"
	for h in $HOSTS; do
		echo "  $h $(grep -c ': not shipped: ' "$T/shipper-$h.log"),"
	done
	echo "  none quarantined."
	echo
	echo "Per process, seconds $W1-$W2 against $W3-$W4 (the end), limit +5%:"
	echo "the largest RSS, and the fewest open descriptors (connections and"
	echo "files come and go; a leaked descriptor stays; one more is allowed,"
	echo "5% of a dozen being less than one).  The receiver's rows"
	echo "compare its instance of then with its last one; \"pids\" counts the"
	echo "instances seen:"
	echo
	cat "$T/procs.md"
} >"$T/SOAK.md"
cp "$T/SOAK.md" "$REPORT"
say "figures in $REPORT"
# SOAK_KEEP=DIR: the logs and samples, for a closer look.
if [ -n "${SOAK_KEEP:-}" ]; then
	mkdir -p "$SOAK_KEEP"
	cp "$T"/*.log "$T/samples" "$T/manifest" "$T/verify.out" \
	    "$T/procs.md" "$SOAK_KEEP"/ 2>/dev/null
	say "logs and samples in $SOAK_KEEP"
fi
[ "$verdict" = PASS ] || fail "soak failed: see above"
echo "1 passed, 0 failed"
