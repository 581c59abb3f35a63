#!/usr/bin/env python3
"""The soak's verdict.

  verify.py episodes MANIFEST STORE ACCESS_LOGS... -- HOST=DATA_ROOT...
      Every episode of the manifest is in shipped/ exactly once (and not
      in episodes/, quarantine/ or spool/), stored exactly once (one 201
      in the receivers' access logs), and the stored archive is a zstd
      frame whose tar members are exactly the episode as the recorder
      wrote it, byte for byte, its .sha256 the archive's.  Prints one
      summary line; exit 1 with the first problems otherwise.

  verify.py procs SAMPLES FROM TO END_FROM END_TO LIMIT
      For each process role, the largest RSS and the fewest open
      descriptors seen between FROM and TO seconds, and between END_FROM
      and END_TO: the latter may exceed the former by LIMIT (a fraction)
      at most (descriptors: or by one).  The fewest descriptors:
      connections and files in use come and go with the work of the
      moment, a leaked one stays.
      Prints a Markdown table; exit 1 if any role grew more.
"""
import base64
import collections
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import tarfile


def episodes(argv):
    sep = argv.index("--")
    manifest, store = argv[0], argv[1]
    logs = argv[2:sep]
    roots = dict(a.split("=", 1) for a in argv[sep + 1:])
    created = collections.Counter()
    put = re.compile(r'server: access .* PUT "/v1/episodes/([^/]+)/([^"]+)"'
                     r' 201 ')
    for log in logs:
        with open(log, errors="replace") as f:
            for line in f:
                m = put.search(line)
                if m:
                    created[(m.group(1), m.group(2))] += 1
    problems = []
    n = 0
    total = 0
    with open(manifest) as f:
        eps = [json.loads(line) for line in f]
    want_ids = {(e["host"], e["id"]) for e in eps}
    for e in eps:
        host, eid, members = e["host"], e["id"], e["members"]
        root = roots[host]
        p = problems.append
        shipped = os.path.join(root, "shipped", eid)
        if not os.path.isdir(shipped):
            p("%s/%s: not in shipped/" % (host, eid))
            continue
        for d in ("episodes", "quarantine"):
            if os.path.lexists(os.path.join(root, d, eid)):
                p("%s/%s: also in %s/" % (host, eid, d))
        if os.path.lexists(shipped + ".1"):
            p("%s/%s: in shipped/ twice" % (host, eid))
        if created[(host, eid)] != 1:
            p("%s/%s: stored %d times (201s)" % (host, eid,
                created[(host, eid)]))
        arc = os.path.join(store, host, eid + ".tar.zst")
        try:
            raw = open(arc, "rb").read()
        except OSError as x:
            p("%s/%s: %s" % (host, eid, x))
            continue
        total += len(raw)
        want = "sha-256=:%s:" % base64.b64encode(
            hashlib.sha256(raw).digest()).decode()
        try:
            have = open(arc + ".sha256").read().strip()
        except OSError:
            have = None
        if have != want:
            p("%s/%s: .sha256 is %s, the archive's %s" % (host, eid, have,
                want))
        r = subprocess.run(["zstd", "-q", "-d", "-c"], input=raw,
                           capture_output=True)
        if r.returncode != 0:
            p("%s/%s: zstd: %s" % (host, eid, r.stderr.decode().strip()))
            continue
        got = {}
        with tarfile.open(fileobj=io.BytesIO(r.stdout), mode="r:") as t:
            for m in t:
                name = m.name
                if name == eid:
                    continue
                if not name.startswith(eid + "/"):
                    p("%s/%s: member %s outside" % (host, eid, name))
                    continue
                name = name[len(eid) + 1:]
                if m.isdir():
                    got[name] = {"type": "d"}
                elif m.isfile():
                    data = t.extractfile(m).read()
                    got[name] = {"type": "f", "size": len(data),
                                 "mode": m.mode,
                                 "sha256": hashlib.sha256(data).hexdigest()}
                else:
                    got[name] = {"type": "?"}
        if got != members:
            diff = sorted(set(got) ^ set(members)) or sorted(
                x for x in members if got.get(x) != members[x])
            p("%s/%s: archive members differ: %s" % (host, eid, diff))
        # The shipped tree is what was written, too.
        for name, m in members.items():
            path = os.path.join(shipped, name)
            if m["type"] == "f":
                try:
                    data = open(path, "rb").read()
                except OSError as x:
                    p("%s/%s: shipped/%s: %s" % (host, eid, name, x))
                    continue
                if hashlib.sha256(data).hexdigest() != m["sha256"]:
                    p("%s/%s: shipped/%s changed" % (host, eid, name))
        n += 1
    for host, root in roots.items():
        for d in ("episodes", "quarantine", "spool"):
            left = [x for x in os.listdir(os.path.join(root, d))]
            if left:
                problems.append("%s: %s/ holds %s" % (host, d, left[:5]))
        for x in os.listdir(os.path.join(root, "shipped")):
            if x.endswith(".shipped"):
                continue
            if (host, x) not in want_ids:
                problems.append("%s: shipped/%s is no episode of ours" % (
                    host, x))
    extra = [k for k in created if k not in want_ids]
    if extra:
        problems.append("stored but never written: %s" % extra[:5])
    if problems:
        for x in problems[:20]:
            print("FAIL: " + x)
        print("%d problems" % len(problems))
        return 1
    print("%d episodes shipped exactly once and byte-identical "
          "(%d archive bytes)" % (n, total))
    return 0


def procs(argv):
    samples, a, b, c, d, limit = argv[0], *map(float, argv[1:6])
    first = collections.defaultdict(lambda: [0, 1 << 30])
    last = collections.defaultdict(lambda: [0, 1 << 30])
    pids = collections.defaultdict(set)
    with open(samples) as f:
        for line in f:
            t, role, pid, rss, fds = line.split()
            t, rss, fds = float(t), int(rss), int(fds)
            pids[role].add(pid)
            for lo, hi, w in ((a, b, first), (c, d, last)):
                if lo <= t < hi:
                    w[role][0] = max(w[role][0], rss)
                    w[role][1] = min(w[role][1], fds)
    bad = 0
    print("| process | RSS early (KiB) | RSS end (KiB) | change | "
          "fds early | fds end | change | pids |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for role in sorted(set(first) | set(last)):
        f, l = first.get(role), last.get(role)
        if not f or not l or f[0] == 0 or f[1] in (0, 1 << 30):
            print("| %s | %s | %s | missing | | | | %d |" % (role,
                f and f[0], l and l[0], len(pids[role])))
            bad += 1
            continue
        dr = (l[0] - f[0]) / f[0]
        df = (l[1] - f[1]) / f[1]
        # 5% of a dozen descriptors is less than one: one more (a kept
        # connection open at that moment) is not growth.
        ok = dr <= limit and l[1] - f[1] <= max(limit * f[1], 1)
        bad += not ok
        print("| %s | %d | %d | %+.1f%% | %d | %d | %+.1f%% | %d |%s" % (
            role, f[0], l[0], 100 * dr, f[1], l[1], 100 * df,
            len(pids[role]), "" if ok else " **over %d%%**" % (100 * limit)))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "episodes":
        sys.exit(episodes(sys.argv[2:]))
    sys.exit(procs(sys.argv[2:]))
