#!/usr/bin/env bash
# Render Markdown reports as a GitHub pull-request comment shows them, Mermaid graphs included.
#
#   .ci/render-markdown.sh REPORT.md [REPORT.md...] OUT_DIR
#
# For each report, OUT_DIR/<name>/ gets mermaid-N.png for every ```mermaid block (rendered by
# the real mermaid-cli, `mmdc`: a syntax error fails), report.html (the Markdown through `marked`,
# GitHub-flavoured, with GitHub's stylesheet) and report.png / report-open.png (headless
# Chromium's full-page screenshots, <details> collapsed as a reviewer first sees them, then
# opened). <name> is the report's parent directory and file name (tests/cmd/x/stdout -> x-stdout).
# Exits non-zero when any Mermaid block or report fails to render.
#
# Needs Debian's `chromium` (installed with apt-get when missing and running as root) and npm.
# The pinned npm packages (tests/realparts/markdown/package-lock.json) are installed with
# PUPPETEER_SKIP_DOWNLOAD=1 into ~/.cache/nbgen/render-markdown/<lock hash>/, outside the clone,
# and reused while the lock file is unchanged (NBGEN_CACHE overrides ~/.cache/nbgen).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tests/realparts/markdown"
CACHE="${NBGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nbgen}"

die() {
  echo "render-markdown: error: $*" >&2
  exit 1
}

case "${1:-}" in
  -h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac
(($# >= 2)) || die "usage: .ci/render-markdown.sh REPORT.md [REPORT.md...] OUT_DIR"
args=("$@")
out="${args[-1]}"
unset 'args[-1]'
for f in "${args[@]}"; do [[ -f $f ]] || die "no such report: $f"; done

# --- Chromium (Debian's; puppeteer's own download cannot reach its host) ------------------------
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x $CHROMIUM ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's chromium"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
  fi
  [[ -x $CHROMIUM ]] || die "no Chromium at $CHROMIUM (apt-get install chromium, or set CHROMIUM)"
fi
export CHROMIUM

# --- the pinned npm packages, cached outside the clone -------------------------------------------
command -v npm >/dev/null || die "npm not found (Node.js 20+ is needed)"
key="$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -c1-16)"
NODE_DIR="$CACHE/render-markdown/$key"
mkdir -p "$CACHE/render-markdown"
exec 9>"$CACHE/render-markdown/.lock"
command -v flock >/dev/null && flock 9 # one installer at a time
if [[ ! -f $NODE_DIR/.installed ]]; then
  echo "==> installing mermaid-cli, marked and puppeteer (pinned) into $NODE_DIR"
  t=$SECONDS
  rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$NODE_DIR/"
  (cd "$NODE_DIR" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --silent) ||
    die "npm ci failed in $NODE_DIR"
  touch "$NODE_DIR/.installed"
  echo "    installed in $((SECONDS - t))s"
fi
exec 9>&-
# ES modules resolve packages beside the script, so the script runs from there.
cp "$SRC/render.mjs" "$NODE_DIR/render.mjs"

mkdir -p "$out"
node "$NODE_DIR/render.mjs" "$out" "${args[@]}"
