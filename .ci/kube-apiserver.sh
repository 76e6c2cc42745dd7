#!/usr/bin/env bash
# Build (once) and print the path of a real kube-apiserver and etcd for the API-server tests.
#
# No registry offers a kube-apiserver binary; Debian bookworm's source package `kubernetes`
# (1.20.2) holds the full source with vendor/. It must be built with Go 1.15 (bullseye's
# golang-1.15-go): built with Go >= 1.18 it crashes in reflect2 on the first custom-resource
# request. The binary is cached outside the clone (NBGEN_CACHE, default ~/.cache/nbgen) so CI
# builds it once per machine (~6 minutes on 2 cores), never skips it.
#
# Usage: .ci/kube-apiserver.sh   -> prints the cached kube-apiserver path on stdout (last line)
set -euo pipefail

cache="${NBGEN_CACHE:-$HOME/.cache/nbgen}"
version="1.20.5+really1.20.2-1.1+deb12u1"
bin="$cache/kube-apiserver-1.20.2/kube-apiserver"

log() { echo "    [kube-apiserver] $*" >&2; }

apt_ready=""
apt_install() { # apt_install PKG... : install what is missing
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]} == 0)) && return 0
  if [[ -z $apt_ready ]]; then
    add_sources
    apt-get update -qq >&2
    apt_ready=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# deb-src for bookworm (the kubernetes source) and a bullseye deb line pinned low, for Go 1.15 only.
add_sources() {
  local f=/etc/apt/sources.list.d/nbgen-ci.sources
  if [[ ! -f $f ]]; then
    # deb822, with the same Signed-By as Debian's own entries (apt refuses two values for one source)
    cat >"$f" <<'LIST'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
LIST
    cat >/etc/apt/preferences.d/nbgen-ci-bullseye <<'PREF'
Package: *
Pin: release n=bullseye
Pin-Priority: 100
PREF
  fi
}

apt_install etcd-server openssl ca-certificates

if [[ ! -x $bin ]]; then
  apt_install dpkg-dev rsync jq make golang-1.15-go build-essential
  work="$cache/build"
  rm -rf "$work"
  mkdir -p "$work"
  log "fetching Debian source kubernetes=$version"
  (cd "$work" && apt-get source --download-only "kubernetes=$version" >&2 &&
    dpkg-source -x --no-check ./*.dsc src >&2)
  src="$work/src"
  mkdir -p "$src/.go/src/k8s.io"
  ln -sfn ../../.. "$src/.go/src/k8s.io/kubernetes"
  log "building cmd/kube-apiserver with Go 1.15 (about 6 minutes on 2 cores)"
  (cd "$src/.go/src/k8s.io/kubernetes" &&
    PATH=/usr/lib/go-1.15/bin:$PATH GOPATH="$src/.go" CGO_ENABLED=0 GOFLAGS=-mod=vendor \
      KUBE_GIT_VERSION=v1.20.2 make WHAT=cmd/kube-apiserver >&2)
  built=$(find "$src/_output" -name kube-apiserver -type f -perm -u+x | head -n1)
  [[ -x $built ]] || { log "build produced no binary"; exit 1; }
  mkdir -p "$(dirname "$bin")"
  cp "$built" "$bin.tmp" && mv "$bin.tmp" "$bin"
  rm -rf "$work"
fi
"$bin" --version >&2
echo "$bin"
