#!/usr/bin/python3
"""Measurements for the benchmark harness (bench/run.sh).

Each subcommand runs or watches one thing and appends one JSON record
to the file given with --out; `report` (bench/report.py) turns them
into RESULTS.md.

  ours     run `cis490-shipper once` (the command after --), watch every
           process of it and of the receiver (--server PID)
  ref      for each episode, tar -cf - | zstd -3 | curl -T - into nginx
           (--server PID): the reference pipeline
  idle     CPU of a running daemon (--pid) over a window
  latency  from an episode becoming ready to it being in shipped/
  shipped  fill shipped/ with N episodes as a daemon leaves them
           (hard links to a corpus, and ID.shipped markers of now)

Peak RSS: the kernel's high-water mark, VmHWM.  For processes we start
ourselves (tar, zstd, curl, cis490-shipper once) it is exact: wait4()'s
ru_maxrss.  For the processes of a run that we did not start (the
shipper's children, the servers) /proc/PID/status is sampled every
POLL seconds; VmHWM only grows, so a sample misses at most the growth
of the last POLL seconds before a process exits, and the servers are
read once more after the run, while they are still up.

CPU: user+system.  Exact (wait4) for what we start, including every
child the shipper reaps; /proc/PID/stat deltas (10 ms ticks) for the
servers; /proc/PID/task/*/schedstat (nanoseconds) for the idle daemon,
where ticks would be too coarse.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

POLL = 0.1          # seconds between /proc samples of known processes
DISCOVER = 0.25     # seconds between looks for new descendants
TICK = os.sysconf("SC_CLK_TCK")


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def stat_fields(pid):
    """(ppid, utime+stime in s, start time) or None."""
    b = read("/proc/%d/stat" % pid)
    if b is None:
        return None
    # The command may hold spaces and parentheses: split after the last ')'.
    rest = b[b.rindex(b")") + 2:].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK, int(rest[19])


def title(pid):
    b = read("/proc/%d/cmdline" % pid)
    if not b:
        return None
    args = [a.decode(errors="replace") for a in b.split(b"\0") if a]
    if not args:
        return None
    t = " ".join(args)
    # setproctitle() titles: "cis490-shipper: packer", "nginx: worker process"
    if ": " in args[0] or args[0].startswith("nginx:"):
        return t.strip()
    return os.path.basename(args[0]) + (" " + " ".join(args[1:3])
                                        if len(args) > 1 else "")


def hwm_kib(pid):
    b = read("/proc/%d/status" % pid)
    if b is None:
        return None
    for line in b.split(b"\n"):
        if line.startswith(b"VmHWM:"):
            return int(line.split()[1])
    return None


def sched_ns(pid):
    """CPU of all of pid's live threads, nanoseconds, or None."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        b = read("/proc/%d/task/%s/schedstat" % (pid, tid))
        if b:
            total += int(b.split()[0])
    return total


def children_map():
    m = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        s = stat_fields(int(d))
        if s is not None:
            m.setdefault(s[0], []).append(int(d))
    return m


def descendants(roots):
    m = children_map()
    out, todo = [], list(roots)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(m.get(p, []))
    return out


class Monitor:
    """Samples VmHWM, CPU and title of roots and their descendants."""

    def __init__(self, roots):
        self.roots = set(roots)
        self.procs = {}     # pid -> dict(title, hwm, cpu0, cpu, start)
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.thread = None

    def add_root(self, pid):
        with self.lock:
            self.roots.add(pid)
        self.sample(discover=False)

    def sample(self, discover):
        with self.lock:
            pids = descendants(self.roots) if discover else \
                list(set(self.procs) | self.roots)
            for pid in pids:
                s = stat_fields(pid)
                if s is None:
                    continue
                p = self.procs.get(pid)
                if p is None or p["start"] != s[2]:
                    p = self.procs[pid] = {"title": None, "hwm": 0,
                                           "cpu0": s[1], "cpu": s[1],
                                           "start": s[2]}
                t = title(pid)
                if t:
                    p["title"] = t
                h = hwm_kib(pid)
                if h is not None:
                    p["hwm"] = max(p["hwm"], h)
                p["cpu"] = s[1]

    def run(self):
        last = 0.0
        while not self.stop_ev.is_set():
            now = time.monotonic()
            disc = now - last >= DISCOVER
            if disc:
                last = now
            self.sample(discover=disc)
            self.stop_ev.wait(POLL)

    def start(self):
        self.sample(discover=True)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_ev.set()
        self.thread.join()
        self.sample(discover=True)

    def result(self, pids=None):
        with self.lock:
            return [{"pid": pid, "title": p["title"] or "?",
                     "hwm_kib": p["hwm"], "cpu_s": p["cpu"] - p["cpu0"]}
                    for pid, p in sorted(self.procs.items())
                    if pids is None or pid in pids]


def rusage_of(ru):
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kib": ru.ru_maxrss}


def emit(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")


def dir_bytes(path):
    """Number and bytes of the archives (*.tar.zst) under path."""
    n = total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            if not f.endswith(".tar.zst"):
                continue
            st = os.lstat(os.path.join(dirpath, f))
            n += 1
            total += st.st_size
    return n, total


def server_roots(spec):
    return [int(p) for p in spec.split(",") if p] if spec else []


def cmd_ours(a):
    servers = server_roots(a.server)
    mon = Monitor(servers)
    mon.start()
    t0 = time.monotonic()
    with open(a.log, "wb") as log:
        p = subprocess.Popen(a.cmd, stdin=subprocess.DEVNULL, stderr=log)
    mon.add_root(p.pid)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    mon.stop()
    procs = mon.result()
    server_pids = set(descendants(servers))
    client = [x for x in procs if x["pid"] not in server_pids]
    server = [x for x in procs if x["pid"] in server_pids]
    n, stored = dir_bytes(a.store)
    why = []
    if p.returncode != 0 or n != a.episodes:
        with open(a.log, "rb") as f:
            why = [x.decode(errors="replace") for x in
                   f.read().splitlines()[-8:]]
    rec = {"kind": "ours", "why": why, "label": a.label, "run": a.run, "wall_s": wall,
           "exit": p.returncode, "client_cpu_s": ru.ru_utime + ru.ru_stime,
           "client_maxrss_kib": ru.ru_maxrss,
           "server_cpu_s": sum(x["cpu_s"] for x in server),
           "procs": [dict(x, side="client") for x in client] +
                    [dict(x, side="server") for x in server],
           "input_bytes": a.input_bytes, "episodes": a.episodes,
           "stored": n, "stored_bytes": stored, "variant": a.variant,
           "server_roots": servers}
    emit(a.out, rec)
    print("ours  %-4s run %d: %.2f s, exit %d, %d stored%s" %
          (a.label, a.run, wall, p.returncode, n,
           "" if a.variant == "default" else " (%s)" % a.variant),
          file=sys.stderr)
    return 0 if p.returncode == 0 and n == a.episodes else 1


def spawn_pipeline(a, ep):
    """tar | zstd | curl for one episode; (pids, names)."""
    url = "%s/v1/episodes/%s/%s.tar.zst" % (a.url, a.host, ep)
    argvs = [["tar", "-cf", "-", "-C", a.dir, ep],
             ["zstd", "-q", "-3"],
             ["curl", "-sS", "--fail", "-o", "/dev/null", "--cacert", a.ca,
              "--cert", a.cert, "--key", a.key, "-T", "-", url]]
    pids, prev = [], None
    for i, argv in enumerate(argvs):
        if i < len(argvs) - 1:
            r, w = os.pipe()
        else:
            r, w = None, None
        pid = os.fork()
        if pid == 0:
            try:
                if prev is not None:
                    os.dup2(prev, 0)
                else:
                    fd = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(fd, 0)
                if w is not None:
                    os.dup2(w, 1)
                os.closerange(3, 1024)
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        pids.append(pid)
        if prev is not None:
            os.close(prev)
        if w is not None:
            os.close(w)
        prev = r
    return pids, ["tar", "zstd", "curl"]


def cmd_ref(a):
    servers = server_roots(a.server)
    with open(a.ids) as f:
        ids = [line.strip() for line in f if line.strip()]
    mon = Monitor(servers)
    mon.start()
    peak = {"tar": 0, "zstd": 0, "curl": 0}
    cpu = {"tar": 0.0, "zstd": 0.0, "curl": 0.0}
    failed = []
    self0 = os.times()
    t0 = time.monotonic()
    for ep in ids:
        pids, names = spawn_pipeline(a, ep)
        for pid, name in zip(pids, names):
            _, status, ru = os.wait4(pid, 0)
            peak[name] = max(peak[name], ru.ru_maxrss)
            cpu[name] += ru.ru_utime + ru.ru_stime
            if os.waitstatus_to_exitcode(status) != 0:
                failed.append("%s: %s exit %d" %
                              (ep, name, os.waitstatus_to_exitcode(status)))
    wall = time.monotonic() - t0
    self1 = os.times()
    mon.stop()
    server = mon.result(set(descendants(servers)))
    n, stored = dir_bytes(a.store)
    procs = [{"side": "client", "title": k, "hwm_kib": peak[k],
              "cpu_s": cpu[k], "pid": 0} for k in ("tar", "zstd", "curl")]
    procs += [dict(x, side="server") for x in server]
    rec = {"kind": "ref", "label": a.label, "run": a.run, "wall_s": wall,
           "exit": 1 if failed else 0, "failures": failed[:10],
           "client_cpu_s": sum(cpu.values()),
           "driver_cpu_s": (self1.user - self0.user) +
                           (self1.system - self0.system),
           "server_cpu_s": sum(x["cpu_s"] for x in server),
           "procs": procs, "input_bytes": a.input_bytes,
           "episodes": len(ids), "stored": n, "stored_bytes": stored,
           "variant": "tar|zstd -3|curl -> nginx",
           "server_roots": servers}
    emit(a.out, rec)
    print("ref   %-4s run %d: %.2f s, %d failed, %d stored" %
          (a.label, a.run, wall, len(failed), n), file=sys.stderr)
    for x in failed[:5]:
        print("  " + x, file=sys.stderr)
    return 0 if not failed and n == len(ids) else 1


def cmd_idle(a):
    pids = descendants([a.pid])
    before = {p: (sched_ns(p), stat_fields(p)) for p in pids}
    t0 = time.monotonic()
    time.sleep(a.window)
    window = time.monotonic() - t0
    after_pids = descendants([a.pid])
    procs = []
    for p in pids:
        ns, st = sched_ns(p), stat_fields(p)
        b = before[p]
        if ns is None or st is None or b[0] is None or b[1] is None:
            continue
        procs.append({"pid": p, "title": title(p) or "?",
                      "cpu_s": (ns - b[0]) / 1e9,
                      "cpu_ticks_s": st[1] - b[1][1],
                      "cpu_total_s": st[1], "hwm_kib": hwm_kib(p) or 0})
    total = sum(x["cpu_s"] for x in procs)
    rec = {"kind": "idle", "label": a.label, "window_s": window,
           "episodes": a.episodes, "cpu_s": total,
           "cpu_per_10min_s": total * 600.0 / window,
           "startup_cpu_s": sum(before[x["pid"]][0] for x in procs) / 1e9,
           "procs": procs, "same_processes": sorted(pids) ==
           sorted(after_pids)}
    emit(a.out, rec)
    print("idle: %.4f s CPU in %.0f s, %.4f s per 10 min" %
          (total, window, rec["cpu_per_10min_s"]), file=sys.stderr)
    return 0


def wait_path(path, limit):
    t_end = time.monotonic() + limit
    while time.monotonic() < t_end:
        if os.path.exists(path):
            return time.monotonic()
        time.sleep(0.002)
    return None


def cmd_latency(a):
    eps = os.path.join(a.data, "episodes")
    shipped = os.path.join(a.data, "shipped")
    stage = os.path.join(a.data, "bench-stage")
    os.makedirs(stage, exist_ok=True)
    samples = []
    for i in range(a.n):
        for mode in ("marker", "rename"):
            ep = "lat-%s-%02d" % (mode, i)
            top = os.path.join(stage if mode == "rename" else eps, ep)
            os.mkdir(top)
            with open(os.path.join(top, "data.csv"), "w") as f:
                f.write("time,value\n" + "".join(
                    "%d,%d\n" % (k, k * 7 % 13) for k in range(200)))
            os.chown(top, a.uid, -1)
            os.chown(os.path.join(top, "data.csv"), a.uid, -1)
            if mode == "marker":
                # A recorder that writes for a while, then says DONE.
                time.sleep(a.gap)
                fd = os.open(os.path.join(top, "DONE"),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                t0 = time.monotonic()
                os.close(fd)
            else:
                # A recorder that finishes elsewhere and moves it in.
                open(os.path.join(top, "DONE"), "w").close()
                t0 = time.monotonic()
                os.rename(top, os.path.join(eps, ep))
            t1 = wait_path(os.path.join(shipped, ep), a.limit)
            samples.append({"id": ep, "mode": mode,
                            "latency_s": None if t1 is None else t1 - t0})
            print("latency %s: %s" % (ep, "not shipped in %d s" % a.limit
                  if t1 is None else "%.3f s" % (t1 - t0)),
                  file=sys.stderr)
            time.sleep(a.gap)
    os.rmdir(stage)
    emit(a.out, {"kind": "latency", "label": "latency", "samples": samples,
                 "gap_s": a.gap})
    return 0 if all(s["latency_s"] is not None for s in samples) else 1


def cmd_shipped(a):
    srcs = sorted(d for d in os.listdir(a.src)
                  if os.path.isdir(os.path.join(a.src, d)))
    if not srcs:
        print("shipped: no episodes in %s" % a.src, file=sys.stderr)
        return 1
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime())
    for i in range(a.n):
        src = os.path.join(a.src, srcs[i % len(srcs)])
        ep = "idle-%05d" % i
        dst = os.path.join(a.dst, ep)
        for dirpath, dirs, files in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            os.mkdir(os.path.normpath(os.path.join(dst, rel)))
            for f in files:
                os.link(os.path.join(dirpath, f),
                        os.path.normpath(os.path.join(dst, rel, f)))
        open(os.path.join(dst, "DONE"), "w").close()
        with open(os.path.join(a.dst, ep + ".shipped"), "w") as f:
            f.write(stamp)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)

    o = sub.add_parser("ours")
    o.add_argument("--out", required=True)
    o.add_argument("--label", required=True)
    o.add_argument("--run", type=int, required=True)
    o.add_argument("--server", default="")
    o.add_argument("--store", required=True)
    o.add_argument("--input-bytes", type=int, required=True)
    o.add_argument("--episodes", type=int, required=True)
    o.add_argument("--variant", default="default")
    o.add_argument("--log", required=True)
    o.add_argument("cmd", nargs=argparse.REMAINDER)

    r = sub.add_parser("ref")
    r.add_argument("--out", required=True)
    r.add_argument("--label", required=True)
    r.add_argument("--run", type=int, required=True)
    r.add_argument("--server", default="")
    r.add_argument("--store", required=True)
    r.add_argument("--input-bytes", type=int, required=True)
    r.add_argument("--url", required=True)
    r.add_argument("--host", default="lab-a")
    r.add_argument("--ca", required=True)
    r.add_argument("--cert", required=True)
    r.add_argument("--key", required=True)
    r.add_argument("--dir", required=True)
    r.add_argument("--ids", required=True)

    i = sub.add_parser("idle")
    i.add_argument("--out", required=True)
    i.add_argument("--label", default="idle")
    i.add_argument("--pid", type=int, required=True)
    i.add_argument("--window", type=float, required=True)
    i.add_argument("--episodes", type=int, required=True)

    lt = sub.add_parser("latency")
    lt.add_argument("--out", required=True)
    lt.add_argument("--data", required=True)
    lt.add_argument("--n", type=int, default=5)
    lt.add_argument("--gap", type=float, default=1.0)
    lt.add_argument("--limit", type=int, default=20)
    lt.add_argument("--uid", type=int, default=-1)

    sp = sub.add_parser("shipped")
    sp.add_argument("--src", required=True)
    sp.add_argument("--dst", required=True)
    sp.add_argument("--n", type=int, required=True)

    a = ap.parse_args()
    if a.what == "ours":
        if a.cmd and a.cmd[0] == "--":
            a.cmd = a.cmd[1:]
        return cmd_ours(a)
    if a.what == "ref":
        return cmd_ref(a)
    if a.what == "idle":
        return cmd_idle(a)
    if a.what == "shipped":
        return cmd_shipped(a)
    return cmd_latency(a)


if __name__ == "__main__":
    sys.exit(main())
