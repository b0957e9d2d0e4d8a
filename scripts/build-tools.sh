#!/usr/bin/env bash
# Builds the real Kubernetes binaries the tests run (etcd, kube-apiserver,
# kube-controller-manager, helm, krew, validate-krew-manifest) from their Go
# modules through the module proxy, and rcodesign (ad-hoc signing of the macOS
# executables) from crates.io, once, into a cache outside the repository.
# Nothing is downloaded from release pages: this machine cannot reach them.
#
#   scripts/build-tools.sh            build whatever is missing, print the bin dir
#   scripts/build-tools.sh crds       only the upstream CRDs, into <cache>/crds
#   VW_TOOLS_DIR=/path  overrides the cache (default ~/.cache/kubectl-vw/tools)
set -euo pipefail

K8S_VERSION=v1.35.4
ETCD_VERSION=v3.6.16
HELM_VERSION=v3.22.0
KREW_VERSION=v0.4.3
APPLE_CODESIGN_VERSION=0.29.0
# Upstream CRDs, copied from these modules (the proxy here serves only some versions of each).
FLUX_HELM_CONTROLLER_VERSION=v1.4.0
VELERO_VERSION=v1.18.3
SNAPSHOTTER_CLIENT_VERSION=v8.7.0

root=${VW_TOOLS_DIR:-$HOME/.cache/kubectl-vw/tools}
bin="$root/bin"
mkdir -p "$bin"
log() { printf '[build-tools] %s\n' "$*" >&2; }

# A throwaway module per tool: go install refuses modules with replace directives.
scratch() {
  local d
  d=$(mktemp -d "${TMPDIR:-/tmp}/vw-build-$1.XXXXXX")
  printf 'module vwbuild/%s\n\ngo 1.25\n' "$1" >"$d/go.mod"
  echo "$d"
}

# Where the module cache holds <module>@<version> (downloaded through the proxy if needed).
module_dir() { (cd "$1" && go mod download -json "$2") | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'; }

stamp_ok() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" >"$bin/.$1.version"; }

build_etcd() {
  stamp_ok etcd "$ETCD_VERSION" && return
  log "building etcd $ETCD_VERSION (first time only)"
  local d; d=$(scratch etcd)
  (cd "$d" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 &&
    go build -trimpath -ldflags '-s -w' -o "$bin/etcd" go.etcd.io/etcd/server/v3)
  stamp etcd "$ETCD_VERSION"; rm -rf "$d"
}

build_kube() {
  if stamp_ok kube-apiserver "$K8S_VERSION" && stamp_ok kube-controller-manager "$K8S_VERSION"; then return; fi
  local d gomod minor; d=$(scratch kube)
  gomod=$(cd "$d" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  minor=${K8S_VERSION#v1.}
  # Each staging replace (k8s.io/x => ./staging/src/k8s.io/x) becomes the published v0.Y.Z.
  grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | while read -r m; do
    echo "replace $m => $m v0.$minor" >>"$d/go.mod"
  done
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
  (cd "$d" && go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" >&2)
  for c in kube-apiserver kube-controller-manager; do
    stamp_ok "$c" "$K8S_VERSION" && continue
    log "building $c $K8S_VERSION (first time only; many minutes on 2 cores)"
    (cd "$d" && go build -trimpath -ldflags "$ld" -o "$bin/$c" "k8s.io/kubernetes/cmd/$c")
    stamp "$c" "$K8S_VERSION"
  done
  rm -rf "$d"
}

build_helm() {
  stamp_ok helm "$HELM_VERSION" && return
  log "building helm $HELM_VERSION (first time only)"
  GOBIN="$bin" go install -trimpath -ldflags '-s -w' "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  stamp helm "$HELM_VERSION"
}

build_krew() {
  if stamp_ok krew "$KREW_VERSION" && stamp_ok validate-krew-manifest "$KREW_VERSION"; then return; fi
  log "building krew $KREW_VERSION (first time only)"
  GOBIN="$bin" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/krew/internal/version.gitTag=$KREW_VERSION" \
    "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION" "sigs.k8s.io/krew/cmd/validate-krew-manifest@$KREW_VERSION"
  stamp krew "$KREW_VERSION"; stamp validate-krew-manifest "$KREW_VERSION"
}

# rcodesign (crate apple-codesign) signs the darwin executables ad hoc after postject has
# injected the application, since there is no Apple codesign off macOS. Without the default
# "notarize" feature: it pulls in the AWS SDK and is not needed for an ad-hoc signature.
build_rcodesign() {
  stamp_ok rcodesign "$APPLE_CODESIGN_VERSION" && return
  command -v cargo >/dev/null || { log "cargo not found: rcodesign is built from crates.io with cargo (rustup)"; return 1; }
  log "building rcodesign $APPLE_CODESIGN_VERSION from crates.io (first time only; about 6 minutes on 2 cores)"
  local d; d=$(mktemp -d "${TMPDIR:-/tmp}/vw-build-rcodesign.XXXXXX")
  cargo install apple-codesign --version "$APPLE_CODESIGN_VERSION" --locked --no-default-features \
    --root "$d" --quiet >&2
  install -m 0755 "$d/bin/rcodesign" "$bin/rcodesign"
  stamp rcodesign "$APPLE_CODESIGN_VERSION"; rm -rf "$d"
}

# Upstream CRDs the tests install (Flux HelmRelease, Velero Backup/BackupStorageLocation, CSI
# snapshots), copied verbatim from the projects' own Go modules rather than written by hand.
build_crds() {
  local crds="$root/crds" want_stamp
  want_stamp="helm-controller $FLUX_HELM_CONTROLLER_VERSION velero $VELERO_VERSION snapshotter $SNAPSHOTTER_CLIENT_VERSION"
  [ "$(cat "$crds/.version" 2>/dev/null)" = "$want_stamp" ] && return
  log "fetching upstream CRDs ($want_stamp)"
  local d; d=$(scratch crds)
  local flux velero snap
  flux=$(module_dir "$d" "github.com/fluxcd/helm-controller@$FLUX_HELM_CONTROLLER_VERSION")
  velero=$(module_dir "$d" "github.com/vmware-tanzu/velero@$VELERO_VERSION")
  snap=$(module_dir "$d" "github.com/kubernetes-csi/external-snapshotter/client/v8@$SNAPSHOTTER_CLIENT_VERSION")
  rm -rf "$d"
  [ -n "$flux" ] && [ -n "$velero" ] && [ -n "$snap" ] || { log "go mod download failed for a CRD module"; return 1; }
  rm -rf "$crds"; mkdir -p "$crds"
  # install -m 0644: files in the module cache are read-only.
  install -m 0644 -t "$crds" \
    "$flux/config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml" \
    "$velero/config/crd/v1/bases/velero.io_backups.yaml" \
    "$velero/config/crd/v1/bases/velero.io_backupstoragelocations.yaml" \
    "$snap/config/crd/snapshot.storage.k8s.io_volumesnapshots.yaml" \
    "$snap/config/crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml" \
    "$snap/config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml"
  echo "$want_stamp" >"$crds/.version"
}

want=${*:-etcd kube helm krew rcodesign crds}
for t in $want; do "build_$t"; done
log "tools ready in $bin"
echo "$bin"
