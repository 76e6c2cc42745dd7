#!/usr/bin/env python3
"""Time nbgen against its yardsticks, interleaved and repeated; print medians, ratios, memory.

Run by benches/bench.sh, which installs the peers and prepares one directory per team count:

    measure.py run --nbgen BIN --helm BIN --chart DIR --scratch DIR --json FILE [--reps SPEC] N:DIR...
    measure.py report FILE          # print the tables again from a results file

Each DIR holds environments/scale.yaml, values.json (the same environment as Helm values) and
an up-to-date out/scale/ (rendered by bench.sh). For every N, each round runs every case once,
in an order that rotates from round to round, so a slow moment of this shared machine hits all
cases alike; round 0 warms the caches and is not counted. Wall time is a monotonic clock around
spawn and wait, CPU time (user + system) comes from wait4; peak memory from one more run of each
case under `/usr/bin/time -f %M` (GNU time). Setup (a fresh directory for each writing case) is
not timed. The results go to FILE as JSON; the tables are printed from that JSON, so `report`
prints exactly what the run printed.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

GEN, HELM = "nbgen render --stdout", "helm template"
WRITE, CP = "nbgen render (empty out/)", "cp -r (same tree)"
NOOP, CHECK = "nbgen render (no-op)", "nbgen check (up to date)"
CURVE = [GEN, HELM, WRITE, CP, NOOP, CHECK]
DEFAULT_REPS = {10: 15, 100: 11, 1000: 7, 5000: 3}


def run(argv):
    """Run argv, output discarded; return (wall s, cpu s). Exits on a non-zero status."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter_ns()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = (time.perf_counter_ns() - start) / 1e9
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(argv)} exited {proc.returncode}:\n"
                     f"{err.read().decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def peak_kib(argv):
    """Peak resident memory of argv in KiB, as `/usr/bin/time -f %M` reports it."""
    with tempfile.NamedTemporaryFile("r") as f:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return int(f.read().split()[-1])


def creation_cost(directory, files=1000):
    """Seconds to create, write (1 KiB) and close one file, over `files` new files in a new
    directory. On this machine it swings from ~35 us to ~0.7 ms with what was deleted in the last
    minutes (docs/performance.md), which moves both writing cases; recorded to read them by."""
    os.makedirs(directory)
    data = b"x" * 1024
    start = time.perf_counter()
    for i in range(files):
        fd = os.open(os.path.join(directory, f"{i}.yaml"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        os.write(fd, data)
        os.close(fd)
    return (time.perf_counter() - start) / files


def snapshot(tree):
    """path -> (mtime ns, size) of every file and directory under tree, dotfiles included.

    A directory's modification time changes when any entry is created, renamed or removed in it,
    so a temporary file created and removed again also shows."""
    out = {}
    for base, dirs, files in os.walk(tree):
        for name in [""] + files:
            p = os.path.join(base, name) if name else base
            st = os.lstat(p)
            out[os.path.relpath(p, tree)] = (st.st_mtime_ns, st.st_size)
    return out


def changed(before, after):
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def cases(args, n, d):
    """name -> (setup or None, argv or a function returning argv)."""
    nbgen = [args.nbgen, "--root", d]
    fresh = {"n": 0}

    def scratch():
        return os.path.join(args.scratch, f"{n}-{fresh['n']}")

    def new_scratch():
        # A new directory each time, deleted only when the whole benchmark is over: this file
        # system skips recently freed inodes when it allocates one, so creating files right after
        # deleting thousands costs far more than otherwise (docs/performance.md).
        fresh["n"] += 1
        os.makedirs(os.path.join(scratch(), "environments"))
        os.makedirs(os.path.join(scratch(), "out"))
        shutil.copy(os.path.join(d, "environments", "scale.yaml"),
                    os.path.join(scratch(), "environments"))

    return {
        GEN: (None, nbgen + ["render", "scale", "--stdout"]),
        HELM: (None, [args.helm, "template", "scale", args.chart,
                      "-f", os.path.join(d, "values.json")]),
        WRITE: (new_scratch, lambda: [args.nbgen, "--root", scratch(), "render", "scale"]),
        CP: (new_scratch, lambda: ["cp", "-r", os.path.join(d, "out", "scale"),
                                   os.path.join(scratch(), "out", "scale")]),
        NOOP: (None, nbgen + ["render", "scale"]),
        CHECK: (None, nbgen + ["check", "scale"]),
    }


def measure(args, n, d, rounds):
    """One team count: every case `rounds` times, interleaved; the results as a dict."""
    table = cases(args, n, d)
    names = list(table)
    wall = {k: [] for k in names}
    cpu = {k: [] for k in names}
    tree = os.path.join(d, "out", "scale")
    objects = sum(1 for _, _, fs in os.walk(tree) for f in fs if not f.startswith("."))
    before = snapshot(tree)
    create = creation_cost(os.path.join(args.scratch, f"{n}-probe"))
    for r in range(rounds + 1):  # round 0 warms caches and is not counted
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            setup, argv = table[name]
            if setup:
                setup()
            # Untimed: the kernel's writeback of the previous case's new files would otherwise
            # run on this machine's two cores during this case, and bill it for them.
            os.sync()
            w, c = run(argv() if callable(argv) else argv)
            if r > 0:
                wall[name].append(w)
                cpu[name].append(c)
            if sys.stderr.isatty():
                print(f"\r\033[K  {n} teams, round {r}/{rounds}: {name} {w * 1000:.0f} ms",
                      file=sys.stderr, end="")
    print(f"\r  {n} teams: {rounds} rounds timed", file=sys.stderr)
    peak = {}
    for name in names:  # one more run each, under GNU time, for memory only
        setup, argv = table[name]
        if setup:
            setup()
        peak[name] = peak_kib(argv() if callable(argv) else argv)
    # Only the no-op render and check touch this tree; every run of them is covered.
    moved = changed(before, snapshot(tree))
    med = {k: statistics.median(v) for k, v in wall.items()}
    return {
        "teams": n,
        "objects": objects,
        "rounds": rounds,
        "file_creation_s": create,
        "cases": {k: {"median_s": med[k], "min_s": min(wall[k]), "max_s": max(wall[k]),
                      "cpu_median_s": statistics.median(cpu[k]), "peak_kib": peak[k],
                      "wall_s": wall[k], "cpu_s": cpu[k]} for k in names},
        "ratios": {
            "helm_over_stdout": med[HELM] / med[GEN],
            "write_over_cp": med[WRITE] / med[CP],
            "noop_over_write": med[NOOP] / med[WRITE],
            "check_over_noop": med[CHECK] / med[NOOP],
        },
        "nbgen_peak_kib": max(peak[k] for k in names if k.startswith("nbgen")),
        "noop_wrote_nothing": not moved,
        "noop_changed_paths": moved[:20],
    }


def machine(args):
    """What the figures were measured on, as lines of text."""
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                                  cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
        except OSError:
            return "?"
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": sh("free -h | awk '/^Mem:/ {print $2 \" total, \" $7 \" available\"}'"),
        "disk": sh(f"df -hT '{args.scratch}' | awk 'NR==2 {{print $2 \" on \" $1}}'") + ", mounted "
        + (sh(f"findmnt -no OPTIONS -T '{args.scratch}'") or "?"),
        "load_average_at_start": " ".join(open("/proc/loadavg").read().split()[:3]),
        "kernel": f"{platform.system()} {platform.release()}",
        "nbgen": sh(f"'{args.nbgen}' --version"),
        "nbgen_commit": sh("git rev-parse --short HEAD") + (" (uncommitted changes)" if sh(
            "git status --porcelain --untracked-files=no") else ""),
        "helm": sh(f"'{args.helm}' version --short"),
    }


def fmt_s(t):
    return f"{t * 1000:.0f} ms" if t >= 0.1 else f"{t * 1000:.1f} ms"


def report(results, out=sys.stdout):
    """The results as Markdown: machine, one table per N, the targets, the curve."""
    def p(line=""):
        print(line, file=out)

    m = results["machine"]
    p(f"Measured {results['date']} with `benches/bench.sh {' '.join(str(s['teams']) for s in results['sizes'])}`:")
    p()
    for k, v in m.items():
        p(f"- {k.replace('_', ' ')}: {v}")
    for s in results["sizes"]:
        c, r = s["cases"], s["ratios"]
        p(f"\n### {s['teams']:,} teams ({s['objects']:,} objects), {s['rounds']} rounds, "
          f"interleaved\n")
        p("| command | median | min | max | CPU (median) | peak memory |")
        p("|---|---:|---:|---:|---:|---:|")
        for k, v in c.items():
            p(f"| `{k}` | {fmt_s(v['median_s'])} | {fmt_s(v['min_s'])} | {fmt_s(v['max_s'])} | "
              f"{fmt_s(v['cpu_median_s'])} | {v['peak_kib'] / 1024:.0f} MiB |")
        p()
        p(f"- generation: `helm template` / `nbgen render --stdout` = "
          f"**{r['helm_over_stdout']:.1f}x** (target >= 20x)")
        p(f"- writing: `nbgen render` into an empty out/ / `cp -r` = "
          f"**{r['write_over_cp']:.2f}x** (target <= 1.5x)")
        p(f"- no-op render / full render = **{r['noop_over_write']:.2f}** (target <= 0.33); "
          f"files and directories under out/ "
          + ("unchanged (no file written)" if s["noop_wrote_nothing"] else
             "CHANGED: " + ", ".join(s["noop_changed_paths"])))
        p(f"- `nbgen check` / no-op render = **{r['check_over_noop']:.2f}x** (target <= 1)")
        p(f"- nbgen peak memory: **{s['nbgen_peak_kib'] / 1024:.0f} MiB** (target < 300 MB)")
        if "file_creation_s" in s:
            p(f"- creating a 1 KiB file cost {s['file_creation_s'] * 1e6:.0f} us just before "
              f"these rounds (this machine: ~35 us when quiet, up to ~700 us after mass "
              f"deletions)")

    sizes = results["sizes"]
    if len(sizes) > 1:
        p("\n### Cost against N\n")
        p("Medians; in brackets the step: cost per team at this N over cost per team at the "
          "previous N (1.00 = linear; target <= 1.3 from 100 teams on).\n")
        keys = [k for k in CURVE if all(k in s["cases"] for s in sizes)]
        p("| teams | " + " | ".join(f"`{k}`" for k in keys) + " | nbgen peak |")
        p("|---:|" + "---:|" * (len(keys) + 1))
        prev = None
        for s in sizes:
            cells = []
            for k in keys:
                cell = fmt_s(s["cases"][k]["median_s"])
                if prev:
                    step = (s["cases"][k]["median_s"] / s["teams"]) / (
                        prev["cases"][k]["median_s"] / prev["teams"])
                    cell += f" ({step:.2f})"
                cells.append(cell)
            p(f"| {s['teams']:,} | " + " | ".join(cells)
              + f" | {s['nbgen_peak_kib'] / 1024:.0f} MiB |")
            prev = s


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--nbgen", required=True)
    r.add_argument("--helm", required=True)
    r.add_argument("--chart", required=True)
    r.add_argument("--scratch", required=True,
                   help="directory for the trees the writing cases create (caller deletes it)")
    r.add_argument("--json", required=True, help="where to write the results")
    r.add_argument("--reps", default="",
                   help="rounds per team count, N:R,..., over the defaults "
                   f"{DEFAULT_REPS} (any other N: 5)")
    r.add_argument("runs", nargs="+", help="N:DIR")
    rep = sub.add_parser("report")
    rep.add_argument("json")
    args = p.parse_args()

    if args.cmd == "report":
        with open(args.json, encoding="utf-8") as f:
            report(json.load(f))
        return

    reps = dict(DEFAULT_REPS)
    reps.update((int(k), int(v)) for k, v in (x.split(":") for x in args.reps.split(",") if x))
    os.makedirs(args.scratch, exist_ok=True)
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(args),
        "sizes": [],
    }
    for spec in args.runs:
        n, d = spec.split(":", 1)
        results["sizes"].append(measure(args, int(n), os.path.abspath(d), reps.get(int(n), 5)))
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    report(results)
    print(f"\nresults: {args.json} (tables again: benches/measure.py report {args.json})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
