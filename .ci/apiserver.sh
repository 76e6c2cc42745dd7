#!/usr/bin/env bash
# nbgen's rendered manifests against a real kube-apiserver 1.20 (tests/realparts/apiserver/README.md).
#
#   .ci/apiserver.sh [ENV...]     default: every out/<env>/ whose environments/<env>.yaml exists
#
# 1. .ci/kube-apiserver.sh: builds kube-apiserver 1.20.2 once per machine (cached in NBGEN_CACHE,
#    default ~/.cache/nbgen) and installs etcd-server and openssl;
# 2. a venv with the harness's Python packages (tests/realparts/apiserver/requirements.txt) in
#    NBGEN_CACHE/apiserver-venv, rebuilt when that file or the interpreter changes;
# 3. the harness's self-test (hand-written fixture: 0 failures; with holes: the expected ones),
#    unless NBGEN_APISERVER_SELFTEST=0;
# 4. the harness over each environment: a fresh etcd + kube-apiserver per environment, every object
#    created and compared, then the SubjectAccessReview cases. Exit non-zero on any failure.
# Upstream CRDs and roles are looked up outside the clone by tests/realparts/fixtures.py
# ($NBGEN_REALPARTS_FIXTURES, ../shared/realparts-fixtures, the cache $NBGEN_REALPARTS_CACHE filled
# from git mirrors under $NBGEN_MIRROR); without them, nbgen's stand-in CRDs (said in the output).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec </dev/null
cache="${NBGEN_CACHE:-$HOME/.cache/nbgen}"
HARNESS_DIR="$ROOT/tests/realparts/apiserver"
REQUIREMENTS="$HARNESS_DIR/requirements.txt"
VENV="$cache/apiserver-venv"
PYTHON="${PYTHON:-python3}"

case "${1:-}" in
  -h | --help)
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

started=$SECONDS
# Upstream files (Argo CD's CRDs, the targets' CRDs and roles) are never committed: fixtures.py
# looks them up outside the clone (tests/realparts/README.md); the harness says what it used.
echo "==> upstream files: none committed (tests/realparts/fixtures.py guard)"
"$PYTHON" "$ROOT/tests/realparts/fixtures.py" guard || exit 1
echo "==> kube-apiserver 1.20.2 (built once, cached in $cache)"
apiserver="$(bash "$ROOT/.ci/kube-apiserver.sh" | tail -n1)"
[[ -x $apiserver ]] || { echo "apiserver: no kube-apiserver binary ($apiserver)" >&2; exit 2; }
command -v etcd >/dev/null || { echo "apiserver: etcd not installed" >&2; exit 2; }

echo "==> Python venv $VENV"
stamp="$(sha256sum "$REQUIREMENTS" | cut -c1-16) $("$PYTHON" -c 'import sys; print(sys.version.split()[0], sys.executable)')"
mkdir -p "$cache"
exec 9>"$VENV.lock"
flock 9 # one installer at a time; a second run waits, then reuses the fresh venv
if [[ ! -x $VENV/bin/python || "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ]]; then
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian's own python3 needs python3-venv (ensurepip) for this
    rm -rf "$VENV"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$stamp" >"$VENV/.stamp"
fi
exec 9>&-
py="$VENV/bin/python"

rc=0
if [[ ${NBGEN_APISERVER_SELFTEST:-1} != 0 ]]; then
  echo "==> harness self-test"
  t=$SECONDS
  "$py" "$HARNESS_DIR/selftest/selftest.py" --apiserver "$apiserver" || rc=$?
  echo "    [self-test: $((SECONDS - t))s]"
  if ((rc != 0)); then
    echo "apiserver: the harness's self-test failed: its results on out/ cannot be trusted" >&2
    exit "$rc"
  fi
fi

echo "==> harness over out/"
t=$SECONDS
"$py" "$HARNESS_DIR/harness.py" --apiserver "$apiserver" --root "$ROOT" "$@" || rc=$?
echo "    [harness: $((SECONDS - t))s; total $((SECONDS - started))s]"
exit "$rc"
