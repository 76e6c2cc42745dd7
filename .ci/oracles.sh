#!/usr/bin/env bash
# Independent oracles over rendered manifests (DESIGN.md, "Independent oracles").
#
#   .ci/oracles.sh [DIR...]      default: every directory out/<env>/ of this repository
#
# For each DIR (an out/<env> directory):
#   1. kubernetes-validate --strict -k <version>.0 on every manifest file under DIR but those of the
#      CRD kinds of the targets (Kubeflow's, Istio's, OpenShift's Route: .ci/apiserver.sh checks them against
#      the upstream CRDs), where <version> is cluster.kubernetesVersion of the spec
#      environments/<env>.yaml beside that out/ directory (DIR/../../environments/<env>.yaml, so
#      a scratch copy of a repository works too);
#   2. checkov -d DIR --framework kubernetes, skipping only the checks listed in .ci/checkov-skips.txt
#      (and each kubeflow.org Notebook's pod template as a Pod, through both oracles);
#   3. DIR/_argocd/ (nbgen's Argo CD AppProject and Application, which kubernetes-validate has no
#      schema for) with .ci/argocd-validate.mjs: the types Argo CD v3 generates its API from, as
#      packaged by npm's @kubernetes-models/argo-cd (installed into target/ci-node).
#
# The tools live in a virtualenv at target/ci-venv (so `cargo clean` removes it and git ignores it),
# rebuilt whenever .ci/requirements.txt or the Python interpreter changes. Set PYTHON to choose the
# interpreter (default: python3). Runs offline once the virtualenv exists.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUIREMENTS="$ROOT/.ci/requirements.txt"
SKIPS_FILE="$ROOT/.ci/checkov-skips.txt"
VENV="$ROOT/target/ci-venv"
PYTHON="${PYTHON:-python3}"

die() {
  echo "oracles: error: $*" >&2
  exit 1
}
banner() { echo "==> $*"; }

case "${1:-}" in
  -h | --help)
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

# --- which directories -------------------------------------------------------------------------
dirs=()
if (($# > 0)); then
  for d in "$@"; do
    [[ -d $d ]] || die "not a directory: $d"
    dirs+=("$(cd "$d" && pwd)")
  done
else
  [[ -d $ROOT/out ]] || die "no out/ directory in $ROOT: nothing to validate (render first: nbgen render <env>)"
  for d in "$ROOT"/out/*/; do
    [[ -d $d ]] && dirs+=("$(cd "$d" && pwd)")
  done
  ((${#dirs[@]} > 0)) || die "out/ has no environment directories: nothing to validate"
fi

# --- checkov skip list (parsed before the slow install, so a bad line fails fast) --------------
# Format: one check per line, `CKV_K8S_NN  reason ...` (or CKV2_K8S_NN); `#` starts a comment line.
skip_ids=()
[[ -f $SKIPS_FILE ]] || die "missing $SKIPS_FILE"
lineno=0
while IFS= read -r line || [[ -n $line ]]; do
  lineno=$((lineno + 1))
  line="${line%$'\r'}"
  line="${line#"${line%%[![:space:]]*}"}" # trim leading blanks
  line="${line%"${line##*[![:space:]]}"}" # trim trailing blanks
  [[ -z $line || $line == \#* ]] && continue
  where=".ci/checkov-skips.txt:$lineno"
  if [[ $line =~ ^(CKV2?_K8S_[0-9]+)([[:space:]]+(.*))?$ ]]; then
    id="${BASH_REMATCH[1]}"
    reason="${BASH_REMATCH[3]}"
  else
    die "$where: expected 'CKV_K8S_NN  reason', got: $line"
  fi
  read -r -a words <<<"$reason"
  ((${#words[@]} >= 3)) ||
    die "$where: $id needs a reason (at least a few words saying why the check does not apply)"
  for seen in "${skip_ids[@]+"${skip_ids[@]}"}"; do
    [[ $seen != "$id" ]] || die "$where: $id is listed twice"
  done
  skip_ids+=("$id")
done <"$SKIPS_FILE"

# --- virtualenv --------------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON to a Python 3.9+ interpreter)"
want_key="$(
  {
    cat "$REQUIREMENTS"
    "$PYTHON" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)"
stamp="$VENV/.requirements.sha256"

mkdir -p "$ROOT/target"
exec 9>"$ROOT/target/ci-venv.lock"
if command -v flock >/dev/null; then
  flock 9 # one installer at a time; a second run waits, then reuses the fresh venv
fi

if [[ -f $stamp && $(cat "$stamp") == "$want_key" && -x $VENV/bin/checkov && -x $VENV/bin/kubernetes-validate ]]; then
  banner "oracle tools: reusing $VENV"
else
  banner "oracle tools: installing .ci/requirements.txt into $VENV"
  start=$SECONDS
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "could not create the virtualenv $VENV"
  PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
  "${PIP[@]}" install --progress-bar off --quiet -r "$REQUIREMENTS" ||
    die "pip install -r .ci/requirements.txt failed"
  "${PIP[@]}" check || die "the installed oracle tools have conflicting dependencies (pip check)"
  echo "$want_key" >"$stamp" # only after a complete install
  echo "    installed in $((SECONDS - start))s"
fi
export PATH="$VENV/bin:$PATH"
echo "    kubernetes-validate $(kubernetes-validate --version), checkov $(checkov --version)"

# --- per directory -------------------------------------------------------------------------------
spec_version() { # spec file -> "1.NN", or die
  "$VENV/bin/python" - "$1" <<'EOF'
import re, sys, yaml
path = sys.argv[1]
try:
    with open(path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
except (OSError, yaml.YAMLError) as e:
    sys.exit(f"cannot read {path}: {e}")
v = ((spec or {}).get("cluster") or {}).get("kubernetesVersion") if isinstance(spec, dict) else None
if v is None:
    sys.exit(f"{path}: cluster.kubernetesVersion not found")
if not isinstance(v, str) or not re.fullmatch(r"1\.[0-9]+", v):
    sys.exit(f'{path}: cluster.kubernetesVersion must be a quoted string like "1.33", got {v!r}')
from kubernetes_validate.utils import all_versions
known = [".".join(k.split(".")[:2]) for k in all_versions()]
if v not in known:
    sys.exit(f"{path}: cluster.kubernetesVersion {v}: the pinned kubernetes-validate has schemas "
             f"for {known[0]} to {known[-1]} only (see .ci/requirements.txt)")
print(v)
EOF
}

# The Argo CD validator's npm packages, pinned, in target/ci-node (installed on first use).
NODE_DIR="$ROOT/target/ci-node"
argocd_tools() {
  # ES modules resolve packages beside the script, so the script runs from there.
  cp "$ROOT/.ci/argocd-validate.mjs" "$NODE_DIR/" 2>/dev/null && [[ -f $NODE_DIR/.installed-4.0.0 ]] && return 0
  command -v npm >/dev/null || {
    echo "oracles: npm not found: Node.js 18+ is needed to validate out/*/_argocd/" >&2
    return 1
  }
  rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR" &&
    (cd "$NODE_DIR" && echo '{"private": true}' >package.json &&
      npm install --no-audit --no-fund --silent @kubernetes-models/argo-cd@4.0.0 js-yaml@4.1.0) &&
    cp "$ROOT/.ci/argocd-validate.mjs" "$NODE_DIR/" &&
    touch "$NODE_DIR/.installed-4.0.0"
}

# API groups of the custom resources the targets render: Kubeflow's Notebook and Profile (kubeflow,
# opendatahub), Istio's AuthorizationPolicy (kubeflow), OpenShift's Route (openshift). A regular
# expression for grep -E.
CRD_GROUPS='kubeflow\.org|security\.istio\.io|route\.openshift\.io'
failed=()
for dir in "${dirs[@]}"; do
  env="$(basename "$dir")"
  spec="$(dirname "$(dirname "$dir")")/environments/$env.yaml"
  shown="${dir#"$ROOT"/}"

  banner "kubernetes-validate: $shown"
  [[ -f $spec ]] || die "no spec for $shown: expected $spec (for cluster.kubernetesVersion)"
  version="$(spec_version "$spec")" || die "kubernetes-validate on $shown: cannot tell which Kubernetes version to validate against"
  # Every file Argo CD would apply from a directory source: *.yaml, *.yml, *.json, at any depth.
  files=()
  crd_files=()
  while IFS= read -r -d '' f; do
    # Kinds of the CRDs the kubeflow target renders have no schema here: the API-server harness
    # (.ci/apiserver.sh) creates them against Kubeflow's and Istio's own CRDs. Any other group
    # kubernetes-validate does not know still fails below.
    if grep -qE "^apiVersion: ($CRD_GROUPS)/" "$f"; then crd_files+=("$f"); else files+=("$f"); fi
  done < <(
    find "$dir" -path "$dir/_argocd" -prune -o -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -print0 | sort -z
  )
  # A Notebook's spec.template.spec is a core PodSpec, which both oracles do know: each is checked
  # as the Pod the notebook controller will run (same name, namespace, labels and spec).
  pods_dir=""
  if ((${#crd_files[@]} > 0)); then
    echo "    ${#crd_files[@]} files of CRD kinds (${CRD_GROUPS//\\/}) left to .ci/apiserver.sh, which loads their CRDs"
    pods_dir="$(mktemp -d)"
    mkdir "$pods_dir/pods" "$pods_dir/policies"
    # with their namespaces' NetworkPolicies, which checkov looks for beside a Pod
    find "$dir" -path "$dir/_argocd" -prune -o -type f -name 'networkpolicy-*.yaml' -print0 |
      while IFS= read -r -d '' f; do
        cp "$f" "$pods_dir/policies/$(basename "$(dirname "$f")")-$(basename "$f")"
      done
    "$VENV/bin/python" - "$pods_dir/pods" "${crd_files[@]}" <<'EOF_PODS' || die "cannot read the Notebooks of $dir"
import os, sys, yaml
out = sys.argv[1]
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as f:
        o = yaml.safe_load(f)
    if o.get("kind") != "Notebook" or not str(o.get("apiVersion", "")).startswith("kubeflow.org/"):
        continue
    md = o["metadata"]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": md["name"] + "-0", "namespace": md["namespace"],
                        "labels": md.get("labels") or {}},
           "spec": o["spec"]["template"]["spec"]}
    # An Open Data Hub workbench's pod keeps its service-account token: the auth proxy ODH's
    # webhook injects (kube-rbac-proxy) authenticates users with it. Skipped for this pod alone,
    # with the reason where checkov reports it, never in .ci/checkov-skips.txt (every object).
    if (md.get("annotations") or {}).get("notebooks.opendatahub.io/inject-auth") == "true":
        pod["metadata"]["annotations"] = {"checkov.io/skip1": (
            "CKV_K8S_38=the auth proxy ODH injects into this workbench authenticates "
            "users with the pod's service-account token (docs/openshift.md)")}
        print("    %s/%s: CKV_K8S_38 (service-account token) skipped: ODH's auth proxy needs the token"
              % (md["namespace"], md["name"]))
    name = "%s-pod-%s.yaml" % (md["namespace"], md["name"])
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        yaml.safe_dump(pod, f, sort_keys=False)
EOF_PODS
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$pods_dir/pods" -type f -name '*.yaml' -print0 | sort -z)
    echo "    $(find "$pods_dir/pods" -type f | wc -l) Notebook pod templates checked as Pods by both oracles"
  fi
  if ((${#files[@]} == 0)); then
    echo "oracles: FAILED: $shown contains no manifest files" >&2
    failed+=("kubernetes-validate on $shown (no manifests)")
  else
    echo "    ${#files[@]} files against Kubernetes $version (from ${spec#"$ROOT"/})"
    log="$(mktemp)"
    rc=0
    (cd "$dir" && kubernetes-validate --strict -k "$version.0" "${files[@]#"$dir"/}") >"$log" 2>&1 || rc=$?
    grep -v '^INFO ' "$log" || true
    passed=$(grep -c '^INFO .* passed for resource ' "$log" || true)
    # kubernetes-validate only warns (exit 0) when it has no schema for a kind/apiVersion: for us a
    # kind the API server would not know is an error. It also passes a file with no object in it.
    if grep -q '^WARN ' "$log"; then
      echo "oracles: kubernetes-validate warned: an unknown kind or apiVersion is an error here" >&2
      ((rc != 0)) || rc=1
    fi
    if ((rc == 0)); then
      empty=()
      for f in "${files[@]#"$dir"/}"; do
        grep -qF "INFO $f passed " "$log" || empty+=("$f")
      done
      if ((${#empty[@]} > 0)); then
        printf 'oracles: no Kubernetes object in %s\n' "${empty[@]}" >&2
        rc=1
      fi
    fi
    rm -f "$log"
    if ((rc != 0)); then
      echo "oracles: FAILED: kubernetes-validate on $shown (exit $rc)" >&2
      failed+=("kubernetes-validate on $shown")
    else
      echo "    ok: $passed objects valid for Kubernetes $version (strict)"
    fi
  fi

  if [[ -d $dir/_argocd ]]; then
    banner "Argo CD objects: $shown/_argocd"
    argo_files=()
    while IFS= read -r -d '' f; do argo_files+=("$f"); done < <(
      find "$dir/_argocd" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -print0 | sort -z
    )
    if ! argocd_tools; then
      failed+=("Argo CD objects in $shown (could not install the validator)")
    elif ((${#argo_files[@]} == 0)) || ! node "$NODE_DIR/argocd-validate.mjs" "${argo_files[@]}"; then
      echo "oracles: FAILED: Argo CD objects in $shown/_argocd" >&2
      failed+=("Argo CD objects in $shown/_argocd")
    fi
  fi

  banner "checkov: $shown"
  skip_args=()
  if ((${#skip_ids[@]} > 0)); then
    skip_args=(--skip-check "$(
      IFS=,
      echo "${skip_ids[*]}"
    )")
    echo "    skipping ${skip_ids[*]} (reasons in .ci/checkov-skips.txt)"
  fi
  if checkov -d "$dir" --framework kubernetes --compact --quiet --skip-download \
    "${skip_args[@]+"${skip_args[@]}"}" </dev/null; then
    echo "    ok: checkov found no failed check"
  else
    rc=$?
    echo "oracles: FAILED: checkov on $shown (exit $rc): fix the renderer, or add a skip with a reason" \
      "to .ci/checkov-skips.txt" >&2
    failed+=("checkov on $shown")
  fi
  if [[ -n $pods_dir ]]; then
    banner "checkov: the Notebooks of $shown, as the Pods they run"
    if checkov -d "$pods_dir" --framework kubernetes --compact --quiet --skip-download \
      "${skip_args[@]+"${skip_args[@]}"}" </dev/null; then
      echo "    ok: checkov found no failed check"
    else
      rc=$?
      echo "oracles: FAILED: checkov on the Notebooks of $shown (exit $rc)" >&2
      failed+=("checkov on the Notebooks of $shown")
    fi
    rm -rf "$pods_dir"
  fi
done

if ((${#failed[@]} > 0)); then
  echo >&2
  echo "oracles: ${#failed[@]} oracle run(s) failed:" >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "==> oracles: all passed (${#dirs[@]} environment(s))"
