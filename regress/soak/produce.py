#!/usr/bin/env python3
"""The soak's recorder: writes COUNT episodes, evenly spread over
DURATION seconds and round-robin over the data roots given as
HOST=DATA_ROOT, each a few files of random bytes (2% over 1 MiB, so the
uploader asks with HEAD first, and each host's first two) and its DONE
marker last.  One JSON line
per episode goes to the manifest: host, id, and every member (path,
type, size, SHA-256, mode) as it was written, for verify.py.
"""
import argparse
import hashlib
import json
import os
import pwd
import random
import time


def write(path, data, mode, owner):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner, -1)


def episode(rng, root, eid, owner, big):
    top = os.path.join(root, "episodes", eid)
    # Written beside episodes/, on the same file system, then moved in
    # whole, as a careful recorder would.
    tmp = os.path.join(root, "incoming", eid)
    os.makedirs(tmp)
    members = {}
    big = big or rng.random() < 0.02
    size = rng.randint(1100000, 1500000) if big else rng.randint(1, 65536)
    files = {"data.bin": rng.randbytes(size),
             "meta.txt": ("episode %s\n" % eid).encode()}
    if rng.random() < 0.3:
        os.mkdir(os.path.join(tmp, "sub"))
        if owner is not None:
            os.chown(os.path.join(tmp, "sub"), owner, -1)
        members["sub"] = {"type": "d"}
        for i in range(rng.randint(1, 4)):
            files["sub/part-%d.bin" % i] = rng.randbytes(rng.randint(0, 8192))
    for name, data in files.items():
        mode = 0o640 if name.endswith(".bin") else 0o644
        write(os.path.join(tmp, name), data, mode, owner)
        members[name] = {"type": "f", "size": len(data), "mode": mode,
                         "sha256": hashlib.sha256(data).hexdigest()}
    if owner is not None:
        os.chown(tmp, owner, -1)
    os.rename(tmp, top)
    write(os.path.join(top, "DONE"), b"", 0o644, owner)
    members["DONE"] = {"type": "f", "size": 0, "mode": 0o644,
                       "sha256": hashlib.sha256(b"").hexdigest()}
    return members


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--manifest", required=True)
    p.add_argument("--owner")
    p.add_argument("roots", nargs="+")
    a = p.parse_args()
    rng = random.Random(a.seed)
    owner = pwd.getpwnam(a.owner).pw_uid if a.owner else None
    roots = [r.split("=", 1) for r in a.roots]
    start = time.monotonic()
    with open(a.manifest, "a") as man:
        for i in range(a.count):
            due = start + a.duration * i / a.count
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            host, root = roots[i % len(roots)]
            eid = "soak-%05d" % i
            # Each host's first two are large: every process has met
            # the largest sizes before its memory is first measured.
            members = episode(rng, root, eid, owner, i < 2 * len(roots))
            man.write(json.dumps({"host": host, "id": eid,
                                  "members": members}) + "\n")
            man.flush()


if __name__ == "__main__":
    main()
