# A throw-away systemd container for regress/systemd/run.sh: Debian's
# systemd booted as PID 1 by systemd-nspawn on an overlay of the cached
# root file system (rootfs.sh), so the daemons run under a real service
# manager although the host's PID 1 is not systemd.  Nothing of systemd
# ever runs on the host's own root: its tmpfiles would empty the host's
# /tmp.  Source it from bash; it needs T (a scratch directory), die and
# a cleanup that calls ct_teardown.
#
#   ct_boot LOWER NAME      overlay LOWER at $T/root (CT_ROOT), boot it
#                           as machine NAME, wait until systemd is up;
#                           sets CT_PID1 (host pid of the container's
#                           PID 1) and NSPAWN_PID
#   ct CMD...               run CMD inside (all of PID 1's namespaces,
#                           its root, a clean environment)
#   ct_shutdown SECONDS     SIGRTMIN+4 to PID 1 (systemd's halt), wait
#                           for systemd-nspawn to exit; sets CT_STATUS
#   ct_teardown             kill what is left, unmount the overlay,
#                           remove the cgroups made for the container
#
# cgroups: a host without systemd has no unit for nspawn's --keep-unit,
# so nspawn creates its payload/ and supervisor/ groups below whatever
# cgroup it runs in, the root here.  It gets one of its own instead,
# named after the machine, in each hierarchy systemd uses: the cgroup2
# one (/sys/fs/cgroup itself, or /sys/fs/cgroup/unified on a hybrid
# layout) and the v1 name=systemd one if mounted.  The launching
# process moves there before it execs nspawn; ct_teardown removes it.

CT_ROOT=
CT_PID1=
NSPAWN_PID=
CT_CGROUPS=
CT_STATUS=

# The cgroup directories to make for machine $1.
ct_cgroup_dirs() {
	local fs
	fs=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)
	if [ "$fs" = cgroup2fs ]; then
		echo "/sys/fs/cgroup/$1"
		return
	fi
	[ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
	    echo "/sys/fs/cgroup/unified/$1"
	mountpoint -q /sys/fs/cgroup/systemd 2>/dev/null &&
	    echo "/sys/fs/cgroup/systemd/$1"
}

# rmdir a cgroup and what nspawn and the container made below it,
# deepest first; a group with a process left in it stays (and says so).
ct_rm_cgroup() {
	[ -d "$1" ] || return 0
	find "$1" -depth -type d -exec rmdir {} + 2>/dev/null
	[ ! -d "$1" ]
}

# Groups of earlier runs that were killed before their cleanup.
ct_rm_stale_cgroups() {
	local d
	for d in /sys/fs/cgroup/cis490-regress-* \
	    /sys/fs/cgroup/unified/cis490-regress-* \
	    /sys/fs/cgroup/systemd/cis490-regress-*; do
		[ -d "$d" ] || continue
		# Only groups without a process left anywhere below them.
		if [ -z "$(find "$d" -name cgroup.procs -exec cat {} + \
		    2>/dev/null)" ]; then
			ct_rm_cgroup "$d"
		fi
	done
}

ct() {
	nsenter --target "$CT_PID1" --mount --uts --ipc --net --pid \
	    --cgroup --root --wd=/ \
	    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
	    SYSTEMD_COLORS=0 SYSTEMD_PAGER= "$@"
}

ct_running() {
	local s
	s=$(ct systemctl is-system-running 2>/dev/null)
	[ "$s" = running ] || [ "$s" = degraded ]
}

ct_boot() {
	local lower=$1 name=$2 p d
	CT_NAME=$name
	CT_ROOT=$T/root
	mkdir -p "$T/ovl/upper" "$T/ovl/work" "$CT_ROOT"
	mount -t overlay overlay -o "lowerdir=$lower,upperdir=$T/ovl/upper,workdir=$T/ovl/work" \
	    "$CT_ROOT" || die "cannot mount an overlay of $lower at $CT_ROOT"

	# systemd must never boot on the host's own root.
	mountpoint -q "$CT_ROOT" && [ "$(stat -f -c %T "$CT_ROOT")" = overlayfs ] ||
	    die "$CT_ROOT is no overlay mount; not booting"
	ct_rm_stale_cgroups
	CT_CGROUPS=$(ct_cgroup_dirs "$name")
	[ -n "$CT_CGROUPS" ] || die "no cgroup2 or name=systemd hierarchy under /sys/fs/cgroup"
	for d in $CT_CGROUPS; do
		mkdir "$d" || die "cannot make the cgroup $d"
	done
	(
		for d in $CT_CGROUPS; do
			echo "$BASHPID" >"$d/cgroup.procs" || exit 125
		done
		exec systemd-nspawn --quiet --register=no --keep-unit \
		    --private-network --console=read-only -M "$name" \
		    -D "$CT_ROOT" -b
	) >"$T/nspawn.log" 2>&1 </dev/null &
	NSPAWN_PID=$!

	# PID 1 of the container is the nspawn child whose pid in its own
	# namespace is 1.
	CT_PID1=
	for _ in $(seq 100); do
		for p in $(ps -o pid= --ppid "$NSPAWN_PID" 2>/dev/null); do
			if awk '/^NSpid:/ { exit !($NF == 1) }' \
			    "/proc/$p/status" 2>/dev/null; then
				CT_PID1=$p
			fi
		done
		[ -n "$CT_PID1" ] && break
		kill -0 "$NSPAWN_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$CT_PID1" ] || {
		sed 's/^/    /' "$T/nspawn.log"
		die "systemd-nspawn started no container"
	}
	for _ in $(seq 300); do
		ct_running && return 0
		kill -0 "$NSPAWN_PID" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 30 "$T/nspawn.log" | sed 's/^/    /'
	die "systemd in the container is not up after 30 s: $(ct systemctl is-system-running 2>&1)"
}

ct_shutdown() {
	local limit=$(( $1 * 10 )) i=0
	[ -n "$NSPAWN_PID" ] || return 1
	kill -s RTMIN+4 "$CT_PID1" 2>/dev/null
	while kill -0 "$NSPAWN_PID" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.1
	done
	wait "$NSPAWN_PID"
	CT_STATUS=$?
	NSPAWN_PID=
	return 0
}

ct_teardown() {
	local d
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		ct_shutdown 10 || {
			# Killing nspawn kills its container: PID 1 of a
			# pid namespace takes all of it along.
			kill -KILL "$NSPAWN_PID" 2>/dev/null
			wait "$NSPAWN_PID" 2>/dev/null
		}
	fi
	NSPAWN_PID=
	if [ -n "$CT_ROOT" ] && mountpoint -q "$CT_ROOT"; then
		umount "$CT_ROOT" || umount -l "$CT_ROOT"
	fi
	for d in $CT_CGROUPS; do
		ct_rm_cgroup "$d" ||
		    echo "note: could not remove the cgroup $d (a process is left in it)"
	done
	CT_CGROUPS=
	# nspawn leaves this behind when /run is no tmpfs.
	rmdir "/run/systemd/nspawn/propagate/${CT_NAME:-none}" 2>/dev/null
	return 0
}
