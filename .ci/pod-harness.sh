#!/usr/bin/env bash
# Pod harness (issue 11): run every notebook-server and notebook-job pod of every rendered
# environment the way a kubelet would, without a cluster, and check that it works.
# See tests/realparts/pods/README.md.
#
# Usage (as root, from anywhere): bash .ci/pod-harness.sh [EXTRA_OUT_ENV_DIR...]
#   runs over out/<env>/ for each environments/<env>.yaml, plus the directories given.
# Env: NBGEN_CACHE (default ~/.cache/nbgen): the venv and the persistent claims live there.
#      NBGEN_REALPARTS_FIXTURES, NBGEN_REALPARTS_CACHE, NBGEN_MIRROR: where the upstream image
#      scripts are looked up (tests/realparts/README.md).
#      POD_HARNESS_PARALLEL (default 2), POD_HARNESS_ONLY (a workload-name glob).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null
started=$SECONDS
here=tests/realparts/pods

if [[ $(id -u) != 0 ]]; then
  echo "pod-harness: must run as root (bubblewrap, network namespaces, chown of claims)" >&2
  exit 2
fi

# ---- tools from Debian (apt-get update once, only if something is missing)
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v ip >/dev/null || need+=(iproute2)
command -v setpriv >/dev/null || need+=(util-linux)
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
if ((${#need[@]})); then
  echo "==> apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- the one venv every stand-in image shares, keyed by the pin list, cached outside the clone.
# Built from Debian's /usr/bin/python3: the sandbox binds the host /usr, so the venv's interpreter
# must live there. --system-site-packages, else `pip install --user` is refused inside a pod.
cache="${NBGEN_CACHE:-$HOME/.cache/nbgen}"
hash=$(sha256sum "$here/requirements.txt" | cut -c1-16)
venv="$cache/pod-venv-$hash"
if [[ ! -f $venv/.complete ]]; then
  echo "==> creating $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
  touch "$venv/.complete"
fi
# the sandbox user (uid 1000) reads the venv through its bind mount; the mount point's parents are
# made by the harness, but the files themselves must be world-readable
chmod -R a+rX "$venv"

# ---- upstream startup scripts of the stand-in images: never committed; tests/realparts/fixtures.py
# looks them up outside the clone ($NBGEN_REALPARTS_FIXTURES, ../shared/realparts-fixtures, the cache
# $NBGEN_REALPARTS_CACHE filled from git mirrors under $NBGEN_MIRROR), else the harness uses nbgen's
# own stand-ins; it says which (tests/realparts/README.md)
/usr/bin/python3 tests/realparts/fixtures.py guard

# ---- which environments
dirs=()
for spec in environments/*.yaml; do
  env=$(basename "$spec" .yaml)
  if [[ -d out/$env ]]; then dirs+=("out/$env"); else echo "pod-harness: out/$env missing (render it)" >&2; exit 2; fi
done
dirs+=("$@")

# ---- the OpenShift environments' pods run with the security context the SCCs give them, from
# scc_check.py's verdict (tests/realparts/scc, --pinned: nbgen's rule): first as the SCC each pins
# (restricted-v3: uid 1000 in a user namespace; restricted-v2, a pod that mounts NFS: uid
# 1000680000 of the project's block, gid 0, fsGroup 1000680000, supplemental group 100), then the
# restricted-v3 pods again as restricted-v2 would run them: an arbitrary uid with no passwd entry
scc=()
mapfile -t os_dirs < <(bash .ci/scc.sh --list-targets 2>/dev/null || true)
if ((${#os_dirs[@]})); then
  verdicts=$(mktemp)
  trap 'rm -f "$verdicts"' EXIT
  # exit 1 (a pod breaks the rule) still gives every verdict: the harness fails what an SCC refuses
  src=0
  /usr/bin/python3 tests/realparts/scc/scc_check.py --pinned --json "${os_dirs[@]}" >"$verdicts" || src=$?
  if ((src > 1)); then
    echo "pod-harness: scc_check.py could not give the SCC verdicts of ${os_dirs[*]}" >&2; exit 2
  fi
  scc=(--scc-json "$verdicts" --scc chosen --scc restricted-v2)
fi

only=()
if [[ -n ${POD_HARNESS_ONLY:-} ]]; then only=(--only "$POD_HARNESS_ONLY"); fi
rc=0
"$venv/bin/python" "$here/harness.py" --venv "$venv" --state "$cache/pod-harness-state" \
  --parallel "${POD_HARNESS_PARALLEL:-2}" "${only[@]}" "${scc[@]}" "${dirs[@]}" || rc=$?
echo "pod-harness: took $((SECONDS - started))s"
exit "$rc"
