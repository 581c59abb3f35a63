#!/usr/bin/env python3
"""The soak's process sampler: every INTERVAL seconds, for each "ROLE PID"
line of PIDFILE (re-read each time: the receiver restarts), the process
and its children: resident set size (VmRSS, KiB) and open descriptors.
One line per process and sample to OUT: "SECONDS ROLE/TITLE PID RSS FDS".
Stops when STOPFILE exists.
"""
import os
import sys
import time


def title(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            a = f.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return None
    # setproctitle: "cis490-shipper: scanner", padded for the receiver.
    if ": " in a:
        return a.split(": ", 1)[1].strip().split()[0]
    return "parent"


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def stats(pid):
    try:
        rss = None
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None
    return rss, fds


def main():
    pidfile, out, stopfile, interval = sys.argv[1:5]
    interval = float(interval)
    start = time.monotonic()
    with open(out, "a") as o:
        while not os.path.exists(stopfile):
            t = time.monotonic() - start
            try:
                lines = open(pidfile).read().split("\n")
            except OSError:
                lines = []
            for line in lines:
                if not line.strip():
                    continue
                role, pid = line.split()
                pid = int(pid)
                for p in [pid] + children(pid):
                    name = title(p)
                    s = stats(p)
                    if name is None or s is None or s[0] is None:
                        continue
                    o.write("%.1f %s/%s %d %d %d\n" % (t, role, name, p,
                        s[0], s[1]))
            o.flush()
            time.sleep(max(0.0, interval - (time.monotonic() - start - t)))


if __name__ == "__main__":
    main()
