# Helpers of bench/run.sh, sourced after regress/integration/lib.sh,
# pki.sh and ship_lib.sh (whose PKI, receiver and shipper set-up the
# benchmark reuses as the tests use it).
#
#   phase TEXT                  say what starts, with the time so far
#   make_corpus L N SIZE NJSON BASE
#                               N episodes L-0000... of SIZE bytes in the
#                               cache (made once; CDIR_L names the dir)
#   prep_episodes L ROOT        ROOT/episodes/ with hard links to corpus
#                               L's episodes and a fresh DONE in each;
#                               L=big: one episode of BIG_COPIES copies
#                               of (a); ROOT/ids lists them
#   nginx_conf, start_nginx, stop_nginx
#                               nginx on NPORT (NGINX_PID): mutual TLS
#                               with the test PKI, WebDAV PUT into
#                               $NGX/store
#   run_ours L RUN [CONF VARIANT], run_ref L RUN
#                               one timed run each, a record in $RESULTS
#   same_members L              ours and the reference archived the
#                               same files (checked on run 1)
#   idle_and_latency            the idle daemon's CPU, then latency

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
NGINX_PID=
NGX=$T/nginx

bench_cleanup() {
	local rc=$?
	stop_nginx
	(exit "$rc")
	cleanup
}
trap bench_cleanup EXIT

phase() {
	echo "=== bench: $* ($(( $(date +%s) - BENCH_START )) s)"
}

# Seconds of CPU the whole machine spent busy since boot.
cpu_busy() {
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / {
		print ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}

versions() {
	printf '%s; %s; %s; %s' \
	    "$(nginx -v 2>&1 | sed 's/^nginx version: //')" \
	    "$(zstd --version | sed 's/^\*\*\* //; s/ \*\*\*$//; s/, by .*//')" \
	    "$(tar --version | head -n 1)" \
	    "$(curl --version | head -n 1 | cut -d' ' -f1-3)"
}

make_corpus() {
	local label=$1 n=$2 size=$3 njson=$4 base=$5 dir i id
	dir=$CORPUS/$label-${n}x$size
	eval "CDIR_$label=\$dir"
	eval "N_$label=$n"
	eval "BYTES_$label=$((n * size))"
	if [ -f "$dir/.complete" ]; then
		echo "bench: corpus $label: cached in $dir"
		return 0
	fi
	echo "bench: corpus $label: making $n x $size bytes in $dir"
	rm -rf "$dir"
	mkdir -p "$dir" || fail "mkdir $dir"
	for i in $(seq 0 $((n - 1))); do
		id=$(printf '%s-%04d' "$label" "$i")
		"$BENCH_GEN" "$dir/$id" "$BENCH_SEED" $((base + i)) "$size" \
		    "$njson" || fail "bench-gen $id"
	done
	sync
	: >"$dir/.complete"
}

prep_episodes() {
	local label=$1 root=$2 k d
	rm -rf "$root"
	mkdir -p "$root/episodes" || fail "mkdir $root/episodes"
	if [ "$label" = big ]; then
		# (a)'s CSV and blob files BIG_COPIES times, its 2000 JSON
		# files once: the size grows, the number of files does not.
		mkdir "$root/episodes/big-0000"
		cp -al "$CDIR_a/a-0000/meta" "$root/episodes/big-0000/meta" ||
		    fail "cp -al into $root"
		for k in $(seq 0 $((BIG_COPIES - 1))); do
			mkdir "$root/episodes/big-0000/part-$k"
			cp -l "$CDIR_a"/a-0000/*.csv "$CDIR_a"/a-0000/*.bin \
			    "$root/episodes/big-0000/part-$k/" ||
			    fail "cp -l into $root"
		done
	else
		eval "d=\$CDIR_$label"
		cp -al "$d"/"$label"-* "$root/episodes/" || fail "cp -al $d"
	fi
	# The ready marker's mtime is the Episode-Time: now, in the window.
	(cd "$root/episodes" && for d in *; do : >"$d/DONE"; done) ||
	    fail "DONE markers in $root"
	ls "$root/episodes" >"$root/ids"
}

label_bytes() {
	if [ "$1" = big ]; then
		find "$DATA/episodes" -type f -printf '%s\n' |
		    awk '{ s += $1 } END { printf "%.0f\n", s }'
	else
		eval "echo \$BYTES_$1"
	fi
}

label_count() {
	if [ "$1" = big ]; then
		echo 1
	else
		eval "echo \$N_$1"
	fi
}

nginx_conf() {
	mkdir -p "$NGX/store" "$NGX/tmp" "$NGX/logs"
	NPORT=$(free_port)
	{
		[ "$(id -u)" = 0 ] && echo "user www-data;"
		cat <<EOF
worker_processes 1;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $NGX/tmp/body;
	proxy_temp_path $NGX/tmp/proxy;
	fastcgi_temp_path $NGX/tmp/fastcgi;
	uwsgi_temp_path $NGX/tmp/uwsgi;
	scgi_temp_path $NGX/tmp/scgi;
	server {
		listen 127.0.0.1:$NPORT ssl;
		ssl_certificate $PKI/server.crt;
		ssl_certificate_key $PKI/server.key;
		ssl_client_certificate $PKI/ca.pem;
		ssl_verify_client on;
		client_max_body_size 0;
		location /v1/episodes/ {
			root $NGX/store;
			dav_methods PUT;
			create_full_put_path on;
		}
	}
}
EOF
	} >"$NGX/nginx.conf"
	if [ "$(id -u)" = 0 ]; then
		chown www-data "$NGX/store" "$NGX/tmp" ||
		    fail "chown www-data $NGX"
	fi
	nginx -q -t -e "$NGX/logs/error.log" -p "$NGX" -c "$NGX/nginx.conf" \
	    2>"$NGX/logs/t.out" ||
	    fail "nginx refuses its configuration: $(cat "$NGX/logs/t.out")"
}

nginx_listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$NPORT") 2>/dev/null
}

start_nginx() {
	nginx -e "$NGX/logs/error.log" -p "$NGX" -c "$NGX/nginx.conf" \
	    2>>"$NGX/logs/stderr" &
	NGINX_PID=$!
	wait_until 10 nginx_listening ||
	    { LOG=$NGX/logs/error.log; fail "nginx not listening"; }
}

# SIGTERM: nginx's fast shutdown, which stops its worker too.
stop_nginx() {
	[ -n "$NGINX_PID" ] || return 0
	kill -TERM "$NGINX_PID" 2>/dev/null
	wait_until 10 gone "$NGINX_PID" || kill -KILL "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
}

run_ours() {
	local label=$1 run=$2 conf=${3:-$CONF} variant=${4:-default} rc
	local tag=$label-$(echo "$variant" | tr -c 'A-Za-z0-9\n' _)-$run
	if ours_failed "$label" "$variant"; then
		echo "bench: ours ($variant), $label run $run: skipped after" \
		    "a failure"
		return 0
	fi
	prep_episodes "$label" "$DATA"
	fix_owner
	rm -rf "${STORE:?}"/*
	: >"$T/receiver-$tag.log"
	start_receiver "$T/receiver-$tag.log"
	sync
	python3 "$BENCH/measure.py" ours --out "$RESULTS" --label "$label" \
	    --run "$run" --server "$RECEIVER_PID" --store "$STORE" \
	    --input-bytes "$(label_bytes "$label")" \
	    --episodes "$(label_count "$label")" --variant "$variant" \
	    --log "$T/once-$tag.log" -- \
	    "$SHIPPER" -d -f "$conf" once
	rc=$?
	stop_receiver
	if [ "$rc" != 0 ]; then
		# Recorded with the log's last lines; the report says so.
		echo "bench: ours ($variant) FAILED on $label run $run:"
		tail -n 5 "$T/once-$tag.log" | sed 's/^/    /'
		OURS_FAILED="$OURS_FAILED|$label $variant|"
	fi
	return 0
}

OURS_FAILED=
ours_failed() {
	case "$OURS_FAILED" in
	*"|$1 $2|"*)	return 0 ;;
	esac
	return 1
}

run_ref() {
	local label=$1 run=$2
	prep_episodes "$label" "$T/ref"
	rm -rf "${NGX:?}/store"/*
	start_nginx
	sync
	python3 "$BENCH/measure.py" ref --out "$RESULTS" --label "$label" \
	    --run "$run" --server "$NGINX_PID" --store "$NGX/store" \
	    --input-bytes "$(label_bytes "$label")" \
	    --url "https://127.0.0.1:$NPORT" --ca "$PKI/ca.pem" \
	    --cert "$PKI/lab-a.crt" --key "$PKI/lab-a.key" \
	    --dir "$T/ref/episodes" --ids "$T/ref/ids" ||
	    { LOG=$NGX/logs/error.log; fail "reference, $label run $run"; }
	stop_nginx
}

# The files of one episode as each side archived them.
same_members() {
	local id ours ref
	id=$(head -n 1 "$T/ref/ids")
	ours=$STORE/lab-a/$id.tar.zst
	ref=$NGX/store/v1/episodes/lab-a/$id.tar.zst
	if [ ! -f "$ours" ]; then
		echo "bench: $1: ours stored nothing, no archive to compare"
		return 0
	fi
	[ -f "$ref" ] || fail "no $ref"
	tar --zstd -tf "$ours" | grep -v '/$' | sort >"$T/members.ours" ||
	    fail "tar -t $ours"
	tar --zstd -tf "$ref" | grep -v '/$' | sort >"$T/members.ref" ||
	    fail "tar -t $ref"
	cmp -s "$T/members.ours" "$T/members.ref" ||
	    fail "$id: ours and the reference archived different files:
$(diff "$T/members.ours" "$T/members.ref" | head)"
	echo "bench: $1: both archived the same $(wc -l <"$T/members.ours") files of $id"
}

# PID and its children, comma-separated (perf record -p).
descendants_csv() {
	{ echo "$1"; ps -o pid= --ppid "$1"; } | tr -d ' ' | paste -sd,
}

daemon_children_up() {
	[ "$(ps -o pid= --ppid "$DAEMON_PID" | wc -l)" -ge 3 ]
}

idle_and_latency() {
	local uid=-1
	[ "$(id -u)" = 0 ] && uid=$(id -u daemon)
	rm -rf "$DATA"
	mkdir -p "$DATA/episodes" "$DATA/shipped"
	python3 "$BENCH/measure.py" shipped --src "$CDIR_c" \
	    --dst "$DATA/shipped" --n "$IDLE_N" ||
	    fail "populating shipped/"
	fix_owner
	rm -rf "${STORE:?}"/*
	start_receiver "$T/receiver-idle.log"
	"$SHIPPER" -d -f "$CONF" 2>"$T/daemon.log" &
	DAEMON_PID=$!
	STARTED_PIDS="$STARTED_PIDS $DAEMON_PID"
	LOG=$T/daemon.log
	wait_until 10 daemon_children_up || fail "daemon children not up"
	# The first pass and retention's look at every shipped episode.
	sleep "${IDLE_SETTLE:-10}"
	python3 "$BENCH/measure.py" idle --out "$RESULTS" --pid "$DAEMON_PID" \
	    --window "$IDLE_WINDOW" --episodes "$IDLE_N" || fail "idle"
	python3 "$BENCH/measure.py" latency --out "$RESULTS" --data "$DATA" \
	    --n "$LAT_N" --uid "$uid" || fail "latency"
	stop_daemon
	stop_receiver
}
