#!/usr/bin/env bash
# OpenShift SCC admission check (tests/realparts/scc/README.md): would restricted-v2/-v3 admit
# every pod template of the given out/<env>/ directories?
#
#   .ci/scc.sh ENVDIR...          e.g. .ci/scc.sh out/prod
#   SCC_SELFTEST=1 .ci/scc.sh     the checker's self-test (over out/prod) first
#
# Exit 0: every pod admitted; 1: a pod refused by every SCC; 2: could not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec </dev/null
py=python3
$py -c 'import yaml' 2>/dev/null || { echo "scc: python3 needs PyYAML (apt-get install python3-yaml)" >&2; exit 2; }
if (($# == 0)); then
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
fi
if [[ ${SCC_SELFTEST:-0} != 0 ]]; then
  $py tests/realparts/scc/selftest/selftest.py
fi
exec $py tests/realparts/scc/scc_check.py "$@"
