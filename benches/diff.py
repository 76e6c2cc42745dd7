#!/usr/bin/env python3
"""Times `nbgen diff` beside `nbgen check`, the no-op `nbgen render` and the git read floor
(issue 17: diff must cost what changed, not what the platform holds).

    benches/diff.py --nbgen target/release/nbgen [--rounds 5] [--json FILE] DIR...

Each DIR holds environments/scale.yaml (examples/scale.rs). The script renders it, commits the
output in a git repository of its own in DIR (created if DIR has none: point it at a scratch
directory, never at a clone you care about), then times, interleaved round by round (round 0
warms the caches and is not counted), the median wall time of:

  check            nbgen check scale                       (the yardstick: at most 2x)
  render no-op     nbgen render scale                      (the memory yardstick)
  git floor        git ls-tree -r HEAD -- out/scale/        (what any --against pays)
  diff             nbgen diff scale                        no change, against out/ on disk
  diff HEAD        nbgen diff scale --against HEAD         no change
  diff HEAD stat   nbgen diff scale --against HEAD --stat  no change
  diff HEAD json   nbgen diff scale --against HEAD --format json
  1 team: diff     nbgen diff scale                        one team gains a member
  1 team: HEAD     nbgen diff scale --against HEAD         one team gains a member

and the peak resident memory (GNU time's %M), median of three more runs of each. The one-team cases run
with the spec's team-00001 given one more member (a line of the spec), restored after each.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ENV = "scale"


def sh(argv, cwd, check=True):
    r = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if check and r.returncode not in (0, 1):  # diff exits 1 when something differs
        sys.exit(f"{' '.join(argv)} in {cwd}: exit {r.returncode}\n{r.stderr.decode()}")
    return r


def peak_kib(argv, cwd):
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return int(r.stderr.decode().strip().splitlines()[-1])


def prepare(nbgen, d):
    spec = os.path.join(d, "environments", f"{ENV}.yaml")
    text = open(spec).read()
    sh([nbgen, "--root", ".", "render", ENV], d)
    if not os.path.isdir(os.path.join(d, ".git")):
        sh(["git", "init", "-q"], d)
    sh(["git", "add", "-A", "environments", "out"], d)
    sh(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q",
        "--allow-empty", "-m", "benches/diff.py: rendered"], d)
    # One team changed: team-00001 (one member, shared servers) gets one more member.
    marker = "  team-00001:\n    members: ["
    at = text.index(marker) + len(marker)
    changed = text[:at] + "bench-added@example.com, " + text[at:]
    return spec, text, changed


def cases(nbgen):
    n = [nbgen, "--root", "."]
    return {
        "check": (n + ["check", ENV], False),
        "render no-op": (n + ["render", ENV], False),
        "git floor": (["git", "ls-tree", "-r", "-z", "HEAD", "--", f"out/{ENV}/"], False),
        "diff": (n + ["diff", ENV], False),
        "diff HEAD": (n + ["diff", ENV, "--against", "HEAD"], False),
        "diff HEAD stat": (n + ["diff", ENV, "--against", "HEAD", "--stat"], False),
        "diff HEAD json": (n + ["diff", ENV, "--against", "HEAD", "--format", "json"], False),
        "1 team: diff": (n + ["diff", ENV], True),
        "1 team: HEAD": (n + ["diff", ENV, "--against", "HEAD"], True),
    }


def measure(nbgen, d, rounds):
    spec, same, changed = prepare(nbgen, d)
    table = cases(nbgen)
    names = list(table)
    wall = {k: [] for k in names}
    try:
        for r in range(rounds + 1):
            order = names[r % len(names):] + names[:r % len(names)]
            for k in order:
                argv, one_team = table[k]
                if one_team:
                    open(spec, "w").write(changed)
                t = time.monotonic()
                res = sh(argv, d)
                dt = time.monotonic() - t
                if one_team:
                    open(spec, "w").write(same)
                expect = 1 if one_team else 0
                if k.startswith("diff") or k.startswith("1 team"):
                    if res.returncode != expect:
                        sys.exit(f"{k}: exit {res.returncode}, expected {expect}")
                if r > 0:
                    wall[k].append(dt)
        peak = {}
        for k in names:
            argv, one_team = table[k]
            if one_team:
                open(spec, "w").write(changed)
            peak[k] = statistics.median(peak_kib(argv, d) for _ in range(3))
            if one_team:
                open(spec, "w").write(same)
    finally:
        open(spec, "w").write(same)
    med = {k: statistics.median(v) for k, v in wall.items()}
    return {"dir": d, "rounds": rounds,
            "cases": {k: {"median_s": med[k], "min_s": min(wall[k]), "max_s": max(wall[k]),
                          "peak_kib": peak[k]} for k in names}}


def report(results, out=sys.stdout):
    for res in results:
        c = res["cases"]
        check, render = c["check"], c["render no-op"]
        out.write(f"\n{res['dir']} ({res['rounds']} rounds; medians, min-max)\n\n")
        out.write("| case | time | ÷ check | peak | ÷ render's peak |\n|---|---:|---:|---:|---:|\n")
        for k, v in c.items():
            out.write(f"| {k} | {v['median_s']*1000:.0f} ms ({v['min_s']*1000:.0f}-"
                      f"{v['max_s']*1000:.0f}) | {v['median_s']/check['median_s']:.2f} | "
                      f"{v['peak_kib']/1024:.0f} MiB | {v['peak_kib']/render['peak_kib']:.2f} |\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nbgen", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json")
    p.add_argument("dirs", nargs="+")
    a = p.parse_args()
    nbgen = os.path.abspath(a.nbgen)
    results = []
    for d in a.dirs:
        print(f"== {d}", file=sys.stderr)
        results.append(measure(nbgen, os.path.abspath(d), a.rounds))
    report(results)
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
