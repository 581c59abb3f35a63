#!/usr/bin/python3
"""Turn bench/measure.py's records into bench/RESULTS.md.

Everything in RESULTS.md is rewritten except the part between the
HAND-WRITTEN markers, which is taken from --keep (the previous
RESULTS.md) as it is.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

BEGIN = "<!-- BEGIN HAND-WRITTEN: make bench keeps this part as it is -->"
END = "<!-- END HAND-WRITTEN -->"

TARGET_SPEEDUP = {"a": 1.3, "b": 1.5, "c": 10.0}
RSS_LIMIT_MIB = 64
RSS_GROWTH = 0.10
IDLE_LIMIT_S = 0.5
LATENCY_LIMIT_S = 1.0

# Filled in from the records: "(a) 1 x 1 GiB" and so on.
NAMES = {}


def human(n):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            v = n / div
            return ("%.0f %s" if v == int(v) else "%.1f %s") % (v, unit)
    return "%d B" % n


def name_corpora(recs):
    for r in recs:
        if r["kind"] not in ("ours", "ref") or r["label"] in NAMES:
            continue
        n = r["episodes"]
        size = human(r["input_bytes"] // max(n, 1))
        NAMES[r["label"]] = ("(%s) %d x %s" % (r["label"], n, size)
                             if r["label"] != "big" else
                             "one %s episode" % size)

OURS_ROLES = ["shipper parent", "scanner", "packer", "uploader",
              "receiver parent", "receiver server"]
REF_ROLES = ["tar", "zstd", "curl", "nginx master", "nginx worker"]


def role(rec_kind, p, roots=()):
    t = p["title"]
    if rec_kind == "ref":
        if p["side"] == "client":
            return t
        return "nginx worker" if "worker" in t else "nginx master"
    if p["side"] == "client":
        for r in ("scanner", "packer", "uploader"):
            if t.endswith(": " + r) or t.endswith(" " + r):
                return r
        return "shipper parent"
    return "receiver parent" if p["pid"] in roots else "receiver server"


def mib(kib):
    return kib / 1024.0


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, nd=2):
    if x is None or x != x:
        return "–"
    return "%.*f" % (nd, x)


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    osname = "Linux"
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"cores": os.cpu_count(), "model": model, "mem_gib": mem,
            "os": osname, "kernel": platform.release()}


def kept(path):
    try:
        text = open(path).read()
    except OSError:
        return None
    i, j = text.find(BEGIN), text.find(END)
    if i == -1 or j == -1 or j < i:
        return None
    return text[i + len(BEGIN):j].strip("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--keep", required=True)
    ap.add_argument("--meta", action="append", default=[])
    a = ap.parse_args()
    meta = dict(m.split("=", 1) for m in a.meta)
    recs = [json.loads(line) for line in open(a.results) if line.strip()]
    m = machine()
    name_corpora(recs)
    small = meta.get("small", "0") not in ("", "0")

    runs, failed, variants = {}, {}, {}
    for r in recs:
        if r["kind"] not in ("ours", "ref"):
            continue
        ok = r["exit"] == 0 and r["stored"] == r["episodes"]
        if r["kind"] == "ours" and r.get("variant", "default") != "default":
            if ok:
                variants.setdefault((r["label"], r["variant"]),
                                    []).append(r)
            else:
                failed.setdefault(("ours " + r["variant"], r["label"]),
                                  []).append(r)
        elif ok:
            runs.setdefault((r["kind"], r["label"]), []).append(r)
        else:
            failed.setdefault((r["kind"], r["label"]), []).append(r)
    out = []
    w = out.append

    w("# Benchmark results")
    w("")
    w("Written by `make bench` (bench/run.sh, bench/measure.py, "
      "bench/report.py). Only the part between the HAND-WRITTEN markers "
      "is edited by hand; the harness keeps it and rewrites the rest.")
    if small:
        w("")
        w("**SMALL=1 run: small corpora, for working on the harness; "
          "the numbers say little.**")
    w("")
    w("## Machine and run")
    w("")
    w("- Date: %s" % time.strftime("%Y-%m-%d %H:%M %Z"))
    w("- Commit: `%s`" % meta.get("commit", "?"))
    w("- Machine: %s cores, %s, %.0f GiB memory, %s, kernel %s" %
      (m["cores"], m["model"], m["mem_gib"], m["os"], m["kernel"]))
    w("- Software: %s" % meta.get("versions", "?"))
    w("- Binaries: `%s`" % meta.get("binaries", "?"))
    elapsed = float(meta.get("elapsed_s", "0"))
    busy = float(meta.get("cpu_busy_s", "0"))
    own = sum(r.get("client_cpu_s", 0) + r.get("server_cpu_s", 0) +
              r.get("driver_cpu_s", 0)
              for r in recs if r["kind"] in ("ours", "ref"))
    own += sum(r.get("cpu_s", 0) for r in recs if r["kind"] == "idle")
    w("- `make bench` took %.0f s (corpora cached in `%s`: made once, "
      "then reused)." % (elapsed, meta.get("corpus", "?")))
    other = busy - own
    cores = m["cores"] or 1
    w("- Load: load average %s at the start, %s at the end. The machine "
      "was busy for %.0f CPU-seconds during the benchmark's "
      "measurements and set-up, of which the measured processes account "
      "for %.0f; the other %.0f (%.0f%% of %d cores over the run) were "
      "corpus preparation, the harness itself and %s." %
      (meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?"),
       busy, own, max(other, 0), 100.0 * max(other, 0) /
       max(elapsed * cores, 1), cores,
       "other users of this shared machine" if other > 0.15 * elapsed
       * cores else "little else"))
    if other > 0.15 * elapsed * cores:
        w("- **The machine was loaded by others while this ran**: "
          "absolute times are noisy; ours and the reference alternate "
          "run by run, so the ratios are fairer than the times.")
    w("")
    w("## What is measured")
    w("")
    w("- Corpora from seed %s (bench/gen.c): per episode 45%% "
      "sensor-like CSV text, 50%% incompressible bytes, 5%% JSON (2000 "
      "small files in (a) and (b), one in (c)). The large episode for "
      "the memory test holds %d hard-linked copies of (a)'s CSV and "
      "blob files and its 2000 JSON files once: %dx the bytes, about "
      "the same number of files." % (meta.get("seed", "?"),
                                     int(meta.get("big_copies", "4")),
                                     int(meta.get("big_copies", "4"))))
    w("- Ours: `cis490-shipper once` (default configuration: `%s`) into "
      "`cis490-receiver` on loopback, "
      "mutual TLS and a bearer token; the shipper packs into its spool "
      "(fsync), uploads, the receiver fsyncs before it answers, and the "
      "episode is retired (rename, fsync)."
      % meta.get("compression", "compression level 3, compression "
                 "threads 2"))
    w("- Reference: per episode `tar -cf - -C episodes ID | zstd -q -3 | "
      "curl -sS --fail --cacert --cert --key -T - URL` (one episode "
      "after the other) into nginx (Debian's package, one worker, "
      "`ssl_verify_client on`, `dav_methods PUT`; nginx does not "
      "fsync).")
    w("- Both read the same files (hard links into the page cache, "
      "`sync` before every run). Runs alternate: ours first on odd runs, "
      "the reference first on even runs, %s runs each; medians are "
      "reported. MB = 10^6 bytes of episode input." % meta.get("runs", "?"))
    w("- CPU = user+system seconds. Shipper side: `wait4()` of `once`, "
      "which includes every child it reaped; reference: `wait4()` of each "
      "tar, zstd and curl. Server side: /proc/PID/stat deltas of the "
      "receiver's or nginx's processes over the run.")
    w("- Peak RSS = VmHWM: exact (`wait4()` ru_maxrss) for tar, zstd and "
      "curl; sampled from /proc/PID/status every 0.1 s for the shipper's "
      "processes and the servers (VmHWM only grows, so a sample misses "
      "only growth in a process's last 0.1 s; the servers are read "
      "again after the run).")
    w("")

    # Throughput.
    w("## Throughput")
    w("")
    w("| corpus | input MB | ours s (median) | reference s (median) | "
      "reference/ours | target | result | ours MB/s | reference MB/s |")
    w("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    summary = []
    for lab in ("a", "b", "c"):
        o = runs.get(("ours", lab), [])
        r = runs.get(("ref", lab), [])
        if not o and failed.get(("ours", lab)) and r:
            f = failed[("ours", lab)][0]
            why = " / ".join(x.strip() for x in f.get("why", [])[-3:])
            mr = med([x["wall_s"] for x in r])
            w("| %s | %.0f | **failed** | %s | – | %.1fx | **missed: ours "
              "failed** (`%s`) | – | %.0f |" %
              (NAMES[lab], r[0]["input_bytes"] / 1e6, fmt(mr),
               TARGET_SPEEDUP[lab], why.replace("|", "/"),
               r[0]["input_bytes"] / 1e6 / mr))
            summary.append(("%s at least %.1fx faster than the reference"
                            % (NAMES[lab], TARGET_SPEEDUP[lab]),
                            "ours failed", "missed: ours failed"))
            continue
        if not o or not r:
            continue
        mo = med([x["wall_s"] for x in o])
        mr = med([x["wall_s"] for x in r])
        mb = o[0]["input_bytes"] / 1e6
        ratio = mr / mo
        tgt = TARGET_SPEEDUP[lab]
        res = "met" if ratio >= tgt else \
            "missed: %.2fx short, ours must get %.0f%% faster" % (
                tgt / ratio, 100.0 * (tgt / ratio - 1))
        w("| %s | %.0f | %s (%s) | %s (%s) | **%.2f** | %.1fx | %s | %.0f |"
          " %.0f |" % (NAMES[lab], mb, fmt(mo),
                       ", ".join(fmt(x["wall_s"]) for x in o), fmt(mr),
                       ", ".join(fmt(x["wall_s"]) for x in r), ratio, tgt,
                       res, mb / mo, mb / mr))
        summary.append(("%s at least %.1fx faster than the reference" %
                        (NAMES[lab], tgt), "%.2fx" % ratio, res))
    w("")

    # CPU.
    w("## CPU seconds (median over runs)")
    w("")
    w("| corpus | ours: shipper | ours: receiver | ours: total | "
      "reference: tar+zstd+curl | reference: nginx | reference: total | "
      "reference/ours |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for lab in ("a", "b", "c", "big"):
        o = runs.get(("ours", lab), [])
        r = runs.get(("ref", lab), [])
        if not o:
            continue
        oc = med([x["client_cpu_s"] for x in o])
        osv = med([x["server_cpu_s"] for x in o])
        if r:
            rc = med([x["client_cpu_s"] for x in r])
            rs = med([x["server_cpu_s"] for x in r])
            w("| %s | %s | %s | %s | %s | %s | %s | %.2f |" %
              (NAMES[lab], fmt(oc), fmt(osv), fmt(oc + osv), fmt(rc),
               fmt(rs), fmt(rc + rs), (rc + rs) / (oc + osv)))
        else:
            w("| %s | %s | %s | %s | – | – | – | – |" %
              (NAMES[lab], fmt(oc), fmt(osv), fmt(oc + osv)))
    w("")
    w("By process (median over runs; the shipper's children and the "
      "servers from /proc samples, so they add up to a little less than "
      "the totals above):")
    w("")
    labs = [l for l in ("a", "b", "c", "big") if ("ours", l) in runs]
    w("| process | " + " | ".join(NAMES[l] for l in labs) + " |")
    w("|---|" + "---:|" * len(labs))
    for kind, roles in (("ours", OURS_ROLES), ("ref", REF_ROLES)):
        for ro in roles:
            cells = []
            for l in labs:
                vals = []
                for x in runs.get((kind, l), []):
                    v = sum(p["cpu_s"] for p in x["procs"]
                            if role(kind, p, x.get("server_roots", []))
                            == ro)
                    vals.append(v)
                cells.append(fmt(med(vals)) if vals else "–")
            if all(c == "–" for c in cells):
                continue
            w("| %s %s | %s |" % ("ours:" if kind == "ours" else
                                  "reference:", ro, " | ".join(cells)))
    drv = [x["driver_cpu_s"] for k, v in runs.items() if k[0] == "ref"
           for x in v]
    if drv:
        w("")
        w("The reference's driver (bench/measure.py, which forks the "
          "three processes per episode as a shell loop would) used %.2f s "
          "at most per run; it is not counted above." % max(drv))
    w("")

    # Variants.
    if variants:
        w("## Ours with another configuration")
        w("")
        w("The same runs, alternating with the two above, with one line "
          "added to shipper.conf. Not the default; shown for what it "
          "would change.")
        w("")
        w("| corpus | configuration | ours s (median) | reference/ours | "
          "CPU total s | packer peak RSS MiB | ours MB/s |")
        w("|---|---|---:|---:|---:|---:|---:|")
        for (lab, var), vs in sorted(variants.items()):
            r = runs.get(("ref", lab), [])
            mv = med([x["wall_s"] for x in vs])
            mr = med([x["wall_s"] for x in r]) if r else None
            cpu = med([x["client_cpu_s"] + x["server_cpu_s"] for x in vs])
            pk = max((p["hwm_kib"] for x in vs for p in x["procs"]
                      if role("ours", p) == "packer"), default=0)
            conf = "`%s`" % var
            w("| %s | %s | %s (%s) | %s | %s | %.1f | %.0f |" %
              (NAMES[lab], conf, fmt(mv),
               ", ".join(fmt(x["wall_s"]) for x in vs),
               "**%.2f**" % (mr / mv) if mr else "–", fmt(cpu), mib(pk),
               vs[0]["input_bytes"] / 1e6 / mv))
        w("")

    # Sizes.
    w("## Bytes stored (last run)")
    w("")
    w("| corpus | ours | reference | ours/reference |")
    w("|---|---:|---:|---:|")
    for lab in ("a", "b", "c", "big"):
        o = runs.get(("ours", lab), [])
        r = runs.get(("ref", lab), [])
        if not o:
            continue
        ob = o[-1]["stored_bytes"]
        if r:
            rb = r[-1]["stored_bytes"]
            w("| %s | %d | %d | %.3f |" % (NAMES[lab], ob, rb, ob / rb))
        else:
            w("| %s | %d | – | – |" % (NAMES[lab], ob))
    w("")

    # Peak RSS.
    peaks = {}
    for (kind, lab), rs in runs.items():
        for x in rs:
            for p in x["procs"]:
                k = (kind, role(kind, p, x.get("server_roots", [])), lab)
                peaks[k] = max(peaks.get(k, 0), p["hwm_kib"])
    labs = [l for l in ("a", "b", "c", "big")
            if ("ours", l) in runs]
    w("## Peak RSS per process (MiB, highest over all runs)")
    w("")
    w("| process | " + " | ".join(NAMES[l] for l in labs) + " |")
    w("|---|" + "---:|" * len(labs))
    for kind, roles in (("ours", OURS_ROLES), ("ref", REF_ROLES)):
        for ro in roles:
            cells = []
            for l in labs:
                v = peaks.get((kind, ro, l))
                cells.append("–" if v is None else "%.1f" % mib(v))
            if all(c == "–" for c in cells):
                continue
            w("| %s %s | %s |" % ("ours:" if kind == "ours" else
                                  "reference:", ro, " | ".join(cells)))
    w("")
    w("Ours has one process per role and run; the reference has one "
      "tar, zstd and curl per episode (the highest is shown) and nginx's "
      "master and worker.")
    w("")

    # Memory vs size.
    if ("ours", "big") in runs and ("ours", "a") in runs:
        w("## Memory does not grow with episode size")
        w("")
        w("| shipper process | (a) | large episode | growth | at most %d MiB "
          "on (a) | within %d%% on the large one |" % (RSS_LIMIT_MIB,
                                              RSS_GROWTH * 100))
        w("|---|---:|---:|---:|---|---|")
        worst_a, worst_g = 0.0, -1.0
        for ro in OURS_ROLES[:4]:
            va = peaks.get(("ours", ro, "a"))
            vb = peaks.get(("ours", ro, "big"))
            if va is None or vb is None:
                continue
            g = (vb - va) / va
            worst_a = max(worst_a, mib(va))
            worst_g = max(worst_g, g)
            w("| %s | %.1f | %.1f | %+.1f%% | %s | %s |" %
              (ro, mib(va), mib(vb), 100 * g,
               "met" if mib(va) <= RSS_LIMIT_MIB else
               "missed by %.1f MiB" % (mib(va) - RSS_LIMIT_MIB),
               "met" if g <= RSS_GROWTH else
               "missed by %.1f points" % (100 * (g - RSS_GROWTH))))
        w("")
        summary.append(("each shipper process at most %d MiB on (a)" %
                        RSS_LIMIT_MIB, "%.1f MiB (largest)" % worst_a,
                        "met" if worst_a <= RSS_LIMIT_MIB else
                        "missed by %.1f MiB" % (worst_a - RSS_LIMIT_MIB)))
        summary.append(("and within %d%% of that on the large episode" %
                        (RSS_GROWTH * 100), "%+.1f%% (worst)" %
                        (100 * worst_g), "met" if worst_g <= RSS_GROWTH
                        else "missed by %.1f points" %
                        (100 * (worst_g - RSS_GROWTH))))

    if failed:
        w("## Failed runs")
        w("")
        w("Left out of every table above.")
        w("")
        for (kind, lab), fs in sorted(failed.items()):
            for f in fs:
                w("- %s, %s, run %d: exit %d, %d of %d stored. Last lines "
                  "of its log:" % (kind if kind != "ref" else
                                   "reference", NAMES[lab], f["run"],
                                   f["exit"], f["stored"], f["episodes"]))
                w("")
                w("  ```")
                for x in f.get("why") or f.get("failures") or []:
                    w("  " + x)
                w("  ```")
        w("")
        if ("ours", "big") not in runs:
            summary.append(("each shipper process at most %d MiB on (a), "
                            "within %d%% on 4 GiB" %
                            (RSS_LIMIT_MIB, RSS_GROWTH * 100),
                            "not measured", "missed: ours failed"))

    # Idle.
    for r in recs:
        if r["kind"] != "idle":
            continue
        w("## Idle daemon")
        w("")
        w("The daemon (default configuration, scan-interval 5 s, "
          "inotify) with %d shipped episodes in shipped/ (each with its "
          "ID.shipped marker of now) and an empty episodes/, after a "
          "settle time for its first pass; CPU measured over %.0f s from "
          "/proc/PID/task/*/schedstat (nanoseconds) and scaled to 10 "
          "minutes. The measured window is %.0f s, not 10 minutes; "
          "retention's pass over shipped/ runs at start and then once "
          "per `shipped cleanup-interval` (1 h), so it falls outside the "
          "window: its cost is the start-up figure below, about 1/6 of "
          "which belongs to each 10 minutes." %
          (r["episodes"], r["window_s"], r["window_s"]))
        w("")
        w("| process | CPU in window (s) | per 10 min (s) | peak RSS MiB |")
        w("|---|---:|---:|---:|")
        for p in r["procs"]:
            ro = role("ours", dict(p, side="client"))
            w("| %s | %.4f | %.4f | %.1f |" %
              (ro, p["cpu_s"], p["cpu_s"] * 600 / r["window_s"],
               mib(p["hwm_kib"])))
        w("| **total** | %.4f | **%.4f** | |" %
          (r["cpu_s"], r["cpu_per_10min_s"]))
        w("")
        w("Start-up (first pass over the tree, retention's look at "
          "every shipped episode, TLS set-up): %.3f s CPU." %
          r["startup_cpu_s"])
        w("")
        ok = r["cpu_per_10min_s"] < IDLE_LIMIT_S
        summary.append(("idle daemon with %d shipped episodes under "
                        "%.1f s CPU per 10 min" % (r["episodes"],
                                                   IDLE_LIMIT_S),
                        "%.3f s" % r["cpu_per_10min_s"],
                        "met" if ok else "missed by %.3f s" %
                        (r["cpu_per_10min_s"] - IDLE_LIMIT_S)))

    # Latency.
    for r in recs:
        if r["kind"] != "latency":
            continue
        w("## Latency from ready to shipped")
        w("")
        w("The same running daemon. *marker*: the episode directory "
          "exists (with its data) for %.1f s, then DONE is created; "
          "*rename*: a finished directory with its DONE is renamed into "
          "episodes/. Time from that moment until shipped/ID exists "
          "(after the receiver's 201 and the retiring rename), polled "
          "every 2 ms." % r["gap_s"])
        w("")
        w("| mode | samples (s) | median | max |")
        w("|---|---|---:|---:|")
        allv = []
        for mode in ("marker", "rename"):
            v = [s["latency_s"] for s in r["samples"] if s["mode"] == mode]
            good = [x for x in v if x is not None]
            allv += v
            w("| %s | %s | %s | %s |" % (
                mode, ", ".join("%.3f" % x if x is not None else "never"
                                for x in v),
                fmt(med(good), 3), fmt(max(good) if good else None, 3)))
        w("")
        good = [x for x in allv if x is not None]
        worst = max(good) if len(good) == len(allv) and good else None
        summary.append(("small episode shipped within %.0f s of being "
                        "ready" % LATENCY_LIMIT_S,
                        "max %s s" % fmt(worst, 3),
                        "met" if worst is not None and
                        worst < LATENCY_LIMIT_S else
                        "missed" + ("" if worst is None else
                                    " by %.3f s" % (worst -
                                                    LATENCY_LIMIT_S))))

    w("## Targets")
    w("")
    w("| target | measured | result |")
    w("|---|---|---|")
    for t, v, res in summary:
        w("| %s | %s | %s |" % (t, v, res))
    w("")

    hand = kept(a.keep)
    w(BEGIN)
    w("")
    w(hand if hand is not None else
      "## Analysis\n\n(Nothing written yet.)")
    w("")
    w(END)
    text = "\n".join(out) + "\n"
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
