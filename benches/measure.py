#!/usr/bin/env python3
"""Time nbgen against its yardsticks, interleaved and repeated; print medians, ratios, memory.

Run by benches/bench.sh, which installs the peers and prepares one directory per team count:

    measure.py --nbgen BIN --helm BIN --chart DIR --reps SPEC N:DIR [N:DIR ...]

Each DIR holds environments/scale.yaml, values.json (the same environment as Helm values) and
an up-to-date out/scale/ (rendered by bench.sh). For every N, each round runs every case once, in an order
that rotates from round to round, so a slow moment of this shared machine hits all cases alike.
Wall time comes from a monotonic clock around spawn and wait; peak memory from one more run of
each case under `/usr/bin/time -f %M`. Setup steps (emptying out/) are not timed.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(argv, cwd):
    """Run argv, output discarded; return its wall time in seconds. Fails on a non-zero exit."""
    start = time.perf_counter_ns()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {proc.returncode}:\n"
                 f"{proc.stderr.decode(errors='replace')}")
    return elapsed


def peak_kib(argv, cwd):
    """Peak resident memory of argv in KiB, as `/usr/bin/time -f %M` reports it."""
    with tempfile.NamedTemporaryFile("r") as f:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name] + argv, cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return int(f.read().split()[-1])


def mtimes(tree):
    out = {}
    for base, _, files in os.walk(tree):
        for f in files:
            p = os.path.join(base, f)
            out[p] = os.stat(p).st_mtime_ns
    return out


def cases(args, n, d):
    """name -> (setup, argv, cwd). All paths absolute; setup may be None; argv may be a function
    (of the state setup left)."""
    nbgen = [args.nbgen, "--root", d]
    out = os.path.join(d, "out")
    fresh = {"n": 0}

    def scratch():
        return os.path.join(args.scratch, f"{n}-{fresh['n']}")

    def empty_out():
        # A new directory each time, deleted only when the whole benchmark is over: this file
        # system (ext4 without a journal) skips recently freed inodes when it allocates one,
        # so creating files right after deleting thousands costs far more than otherwise.
        fresh["n"] += 1
        os.makedirs(os.path.join(scratch(), "environments"))
        shutil.copy(os.path.join(d, "environments", "scale.yaml"),
                    os.path.join(scratch(), "environments"))

    c = {
        "nbgen render --stdout": (None, nbgen + ["render", "scale", "--stdout"], d),
        "helm template": (None, [args.helm, "template", "scale", args.chart,
                                 "-f", os.path.join(d, "values.json")], d),
        "nbgen render (empty out/)": (empty_out, lambda: [args.nbgen, "--root", scratch(),
                                                          "render", "scale"], d),
        "cp -r (same tree)": (empty_out, lambda: ["cp", "-r", os.path.join(out, "scale"),
                                                  os.path.join(scratch(), "copy")], d),
        "nbgen render (no-op)": (None, nbgen + ["render", "scale"], d),
    }
    if args.check:
        c["nbgen check (up to date)"] = (None, nbgen + ["check", "scale"], d)
    return c


def measure(args, n, d, reps):
    table = cases(args, n, d)
    names = list(table)
    times = {k: [] for k in names}
    peak = {k: 0 for k in names}
    before = mtimes(os.path.join(d, "out"))
    for r in range(reps + 1):  # round 0 warms caches and is not counted
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            setup, argv, cwd = table[name]
            if setup:
                setup()
            t = run(argv() if callable(argv) else argv, cwd)
            if r > 0:
                times[name].append(t)
    for name in names:  # one more run each, under /usr/bin/time, for memory only
        setup, argv, cwd = table[name]
        if setup:
            setup()
        peak[name] = peak_kib(argv() if callable(argv) else argv, cwd)
    untouched = mtimes(os.path.join(d, "out")) == before
    return names, times, peak, untouched


def fmt_s(t):
    return f"{t * 1000:.0f} ms" if t >= 0.1 else f"{t * 1000:.1f} ms"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nbgen", required=True)
    p.add_argument("--helm", required=True)
    p.add_argument("--chart", required=True)
    p.add_argument("--check", action="store_true", help="also time `nbgen check`")
    p.add_argument("--scratch", required=True,
                   help="directory for the trees the writing cases create (caller deletes it)")
    p.add_argument("--reps", default="10:15,100:11,1000:7,5000:3",
                   help="rounds per team count, N:R,... (R for unlisted N: 5)")
    p.add_argument("runs", nargs="+", help="N:DIR")
    args = p.parse_args()
    reps = {int(k): int(v) for k, v in (x.split(":") for x in args.reps.split(","))}

    summary = []
    for spec in args.runs:
        n, d = spec.split(":", 1)
        n, d = int(n), os.path.abspath(d)
        r = reps.get(n, 5)
        names, times, peak, untouched = measure(args, n, d, r)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\n### {n} teams ({r} rounds, interleaved)\n")
        print("| command | median | min | max | peak memory |")
        print("|---|---:|---:|---:|---:|")
        for k in names:
            print(f"| `{k}` | {fmt_s(med[k])} | {fmt_s(min(times[k]))} | "
                  f"{fmt_s(max(times[k]))} | {peak[k] / 1024:.0f} MiB |")
        gen = med["helm template"] / med["nbgen render --stdout"]
        write = med["nbgen render (empty out/)"] / med["cp -r (same tree)"]
        noop = med["nbgen render (no-op)"] / med["nbgen render (empty out/)"]
        print()
        print(f"- generation: nbgen is {gen:.1f}x faster than helm template (target >= 20x)")
        print(f"- writing: nbgen render into an empty out/ takes {write:.2f}x cp -r "
              f"(target <= 1.5x)")
        print(f"- no-op render: {noop:.2f} of a full render (target <= 0.33); "
              f"out/ modification times {'unchanged' if untouched else 'CHANGED'}")
        if args.check:
            chk = med["nbgen check (up to date)"] / med["nbgen render (no-op)"]
            print(f"- check: {chk:.2f}x a no-op render (target <= 1)")
        mem = max(peak[k] for k in names if k.startswith("nbgen")) / 1024
        print(f"- nbgen peak memory: {mem:.0f} MiB (target < 300 MiB)")
        summary.append((n, med, mem))

    if len(summary) > 1:
        print("\n### Cost against N (medians; step = cost ratio / team ratio, target <= 1.3)\n")
        keys = ["nbgen render --stdout", "nbgen render (no-op)", "nbgen render (empty out/)",
                "helm template", "cp -r (same tree)"]
        print("| teams | " + " | ".join(f"`{k}`" for k in keys) + " | nbgen peak |")
        print("|---:|" + "---:|" * (len(keys) + 1))
        prev = None
        for n, med, mem in summary:
            cells = []
            for k in keys:
                cell = fmt_s(med[k])
                if prev:
                    pn, pmed = prev
                    cell += f" (step {med[k] / pmed[k] / (n / pn):.2f})"
                cells.append(cell)
            print(f"| {n} | " + " | ".join(cells) + f" | {mem:.0f} MiB |")
            prev = (n, med)


if __name__ == "__main__":
    main()
