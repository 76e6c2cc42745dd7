#!/usr/bin/env bash
# OpenShift SCC admission check (tests/realparts/scc/README.md): would restricted-v2/-v3 admit
# every pod template of the given out/<env>/ directories?
#
#   .ci/scc.sh [--require-all|--pinned] ENVDIR...   e.g. .ci/scc.sh out/prod
#   .ci/scc.sh --targets                   every environment whose cluster.target is openshift or
#                                          opendatahub: each pod admitted by the SCC it pins, a
#                                          restricted-v3 pod by -v2 too, a restricted-v2 (NFS) pod
#                                          refused by -v3 only for want of a user namespace
#   .ci/scc.sh --list-targets              those environments' out/<env> directories, one a line
#   SCC_SELFTEST=1 .ci/scc.sh ...          the checker's self-test (over out/prod) first
#
# Exit 0: every pod admitted; 1: a pod refused; 2: could not run (no SCC files: no stand-in).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec </dev/null
py=python3
$py -c 'import yaml' 2>/dev/null || { echo "scc: python3 needs PyYAML (apt-get install python3-yaml)" >&2; exit 2; }
if (($# == 0)); then
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
fi
if [[ ${SCC_SELFTEST:-0} != 0 ]]; then
  $py tests/realparts/scc/selftest/selftest.py
fi
if [[ $1 == --targets || $1 == --list-targets ]]; then
  # The environments rendered for OpenShift, read with `extends` as nbgen reads it.
  mapfile -t envs < <($py - <<'PY'
import glob, os, sys
sys.path.insert(0, "tests/realparts/apiserver")
import spec
for path in sorted(glob.glob("environments/*.yaml")):
    name = os.path.basename(path)[:-len(".yaml")]
    target = (spec.load_env("environments", name).get("cluster") or {}).get("target")
    if target in ("openshift", "opendatahub"):
        print(f"out/{name}")
PY
  )
  if ((${#envs[@]} == 0)); then
    echo "scc: no environment has cluster.target openshift or opendatahub" >&2
    exit 2
  fi
  if [[ $1 == --list-targets ]]; then printf '%s\n' "${envs[@]}"; exit 0; fi
  echo "scc: OpenShift environments: ${envs[*]}"
  exec $py tests/realparts/scc/scc_check.py --pinned "${envs[@]}"
fi
exec $py tests/realparts/scc/scc_check.py "$@"
