#!/bin/bash
# make demo: the main job on a built-in default.  A throwaway PKI, the
# receiver on loopback, one sample episode shipped with `once`, and what
# came of it; everything it starts is stopped and removed at the end.
# Usage: demo.sh SHIPPER RECEIVER
export SHIPPER=$1 RECEIVER=$2
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/regress/integration/lib.sh"
. "$top/regress/integration/pki.sh"

step() { printf '\n== %s\n' "$*"; }

step "a throwaway CA, a receiver certificate, lab host lab-a's certificate and token"
pki_setup >/dev/null 2>&1 || fail "making the PKI"
chmod 0600 "$PKI/lab-a.token" "$PKI/lab-a.key"
ls "$PKI"

step "cis490-receiver on loopback"
receiver_conf
start_receiver "$T/receiver.log"
echo "listening at $URL, storing into $STORE"

step "a sample episode in $T/data/episodes/demo-001"
ep=$T/data/episodes/demo-001
mkdir -p "$ep/sensors" "$ep/notes"
for i in $(seq 1 2000); do
	echo "$i,$((i * 7 % 1000)),$((i * 13 % 997))"
done >"$ep/sensors/imu.csv"
head -c 65536 /dev/urandom >"$ep/sensors/camera.bin"
echo '{"operator":"demo","rig":"bench-3"}' >"$ep/notes/meta.json"
ln -s sensors/imu.csv "$ep/latest.csv"
touch "$ep/DONE"
find "$T/data" -mindepth 2 | sed "s|$T/||" | sort

cat >"$T/shipper.conf" <<EOF
host lab-a
data-root "$T/data"
$(if [ "$(id -u)" = 0 ]; then echo 'user daemon'; echo 'sandbox-user nobody'; fi)
receiver url "$URL"
receiver ca "$PKI/ca.pem"
receiver certificate "$PKI/lab-a.crt"
receiver key "$PKI/lab-a.key"
receiver token-file "$PKI/lab-a.token"
EOF
[ "$(id -u)" = 0 ] && chown -R daemon "$T/data"

step "cis490-shipper ping"
"$SHIPPER" -f "$T/shipper.conf" ping 2>/dev/null || fail "ping"

step "cis490-shipper once"
timeout 60 "$SHIPPER" -f "$T/shipper.conf" once || fail "once"

step "the lab host now: the episode moved to shipped/"
find "$T/data" -mindepth 1 | sed "s|$T/||" | sort

step "the receiver's store: tar --zstd -tvf $STORE/lab-a/demo-001.tar.zst"
tar --zstd -tvf "$STORE/lab-a/demo-001.tar.zst"
echo
cat "$STORE/lab-a/demo-001.tar.zst.sha256"
tail -n 2 "$T/receiver.log"
stop_receiver
echo
echo "make demo: done"
