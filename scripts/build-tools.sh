#!/usr/bin/env bash
# Builds the real binaries the tests run (etcd, kube-apiserver,
# kube-controller-manager, helm, krew, validate-krew-manifest; Velero, its AWS
# plugin, an S3-compatible object store and the CSI snapshot-controller) from
# their Go modules through the module proxy, and rcodesign (ad-hoc signing of
# the macOS executables) from crates.io, once, into a cache outside the
# repository. Nothing is downloaded from release pages: this machine cannot
# reach them. The targets asked for are built at the same time (Go's build and
# module caches are safe to share), each with a line saying how long it took.
#
#   scripts/build-tools.sh            build whatever is missing, print the bin dir
#   scripts/build-tools.sh demo       only what `npm run demo` and the sandbox need (no krew, no rcodesign)
#   scripts/build-tools.sh crds       only the upstream CRDs, into <cache>/crd-sets/<key> (printed as "crds: <dir>")
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
# The real Velero, run out of cluster by the tests and the sandbox, with the AWS plugin of its
# release (built in the same module, so the packages they share compile once).
VELERO_AWS_PLUGIN_VERSION=v1.14.3
# k8s.io/cli-runtime v0.33.12, which velero's go.mod names, is not served by the proxy; v0.33.13 is.
VELERO_CLI_RUNTIME_VERSION=v0.33.13
# The S3-compatible store Velero writes to: test/support/object-store/main.go on gofakes3.
GOFAKES3_VERSION=v1.2.0
# The CSI snapshot-controller (VolumeSnapshot -> VolumeSnapshotContent), run out of cluster.
SNAPSHOT_CONTROLLER_VERSION=v8.7.0

root=${VW_TOOLS_DIR:-$HOME/.cache/kubectl-vw/tools}
bin="$root/bin"
mkdir -p "$bin"
log() { printf '[build-tools] %s\n' "$*" >&2; }
# Says what is built, and marks the target as having done work (for its timing line).
building() { did_build=1; log "building $*"; }

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
here=$(cd "$(dirname "$0")/.." && pwd)

build_etcd() {
  stamp_ok etcd "$ETCD_VERSION" && return
  building "etcd $ETCD_VERSION (first time only)"
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
    building "$c $K8S_VERSION (first time only; many minutes on 2 cores)"
    (cd "$d" && go build -trimpath -ldflags "$ld" -o "$bin/$c" "k8s.io/kubernetes/cmd/$c")
    stamp "$c" "$K8S_VERSION"
  done
  rm -rf "$d"
}

build_helm() {
  stamp_ok helm "$HELM_VERSION" && return
  building "helm $HELM_VERSION (first time only)"
  GOBIN="$bin" go install -trimpath -ldflags '-s -w' "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  stamp helm "$HELM_VERSION"
}

build_krew() {
  if stamp_ok krew "$KREW_VERSION" && stamp_ok validate-krew-manifest "$KREW_VERSION"; then return; fi
  building "krew $KREW_VERSION (first time only)"
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
  building "rcodesign $APPLE_CODESIGN_VERSION from crates.io (first time only; about 6 minutes on 2 cores)"
  local d; d=$(mktemp -d "${TMPDIR:-/tmp}/vw-build-rcodesign.XXXXXX")
  cargo install apple-codesign --version "$APPLE_CODESIGN_VERSION" --locked --no-default-features \
    --root "$d" --quiet >&2
  install -m 0755 "$d/bin/rcodesign" "$bin/rcodesign"
  stamp rcodesign "$APPLE_CODESIGN_VERSION"; rm -rf "$d"
}

# velero and velero-plugin-for-aws in one throwaway module, which repeats velero's kopia replace
# (a dependent module must) and takes a cli-runtime the proxy serves. The plugin goes into a
# directory of its own: velero runs every executable under --plugin-dir.
build_velero() {
  # controller-runtime's metrics server would bind :8080 (velero sets no address for it), so two
  # worlds on one machine would collide: its default is linked as "0", which switches it off.
  local want="$VELERO_VERSION aws $VELERO_AWS_PLUGIN_VERSION no-cr-metrics"
  stamp_ok velero "$want" && [ -x "$bin/velero-plugins/velero-plugin-for-aws" ] && return
  building "velero $VELERO_VERSION and velero-plugin-for-aws $VELERO_AWS_PLUGIN_VERSION (first time only; minutes)"
  local d gomod kopia; d=$(scratch velero)
  gomod=$(cd "$d" && go mod download -json "github.com/vmware-tanzu/velero@$VELERO_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  kopia=$(grep -E '^replace github.com/kopia/kopia =>' "$gomod" || true)
  [ -n "$kopia" ] && echo "$kopia" >>"$d/go.mod"
  (cd "$d" && go get "k8s.io/cli-runtime@$VELERO_CLI_RUNTIME_VERSION" \
    "github.com/vmware-tanzu/velero/cmd/velero@$VELERO_VERSION" \
    "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws@$VELERO_AWS_PLUGIN_VERSION" >&2)
  mkdir -p "$d/out" "$bin/velero-plugins"
  (cd "$d" && go build -trimpath \
    -ldflags "-s -w -X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=$VELERO_VERSION -X sigs.k8s.io/controller-runtime/pkg/metrics/server.DefaultBindAddress=0" -o "$d/out/" \
    github.com/vmware-tanzu/velero/cmd/velero github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws)
  install -m 0755 "$d/out/velero" "$bin/velero"
  install -m 0755 "$d/out/velero-plugin-for-aws" "$bin/velero-plugins/velero-plugin-for-aws"
  stamp velero "$want"; rm -rf "$d"
}

# The object store: the project's own small main (test/support/object-store) on gofakes3's
# in-memory backend. Its stamp carries a hash of the source, so an edit rebuilds it.
build_objectstore() {
  local src="$here/test/support/object-store/main.go" want
  want="gofakes3 $GOFAKES3_VERSION $(sha256sum "$src" | cut -c1-12)"
  stamp_ok vw-object-store "$want" && return
  building "the object store (gofakes3 $GOFAKES3_VERSION)"
  local d; d=$(scratch objectstore)
  cp "$src" "$d/main.go"
  (cd "$d" && go get "github.com/johannesboyne/gofakes3@$GOFAKES3_VERSION" >&2 &&
    go build -trimpath -ldflags '-s -w' -o "$bin/vw-object-store" .)
  stamp vw-object-store "$want"; rm -rf "$d"
}

# external-snapshotter's snapshot-controller: its go.mod replaces its client with ./client, which
# the published client/v8 module of the same version stands in for.
build_snapshot_controller() {
  stamp_ok snapshot-controller "$SNAPSHOT_CONTROLLER_VERSION" && return
  building "snapshot-controller $SNAPSHOT_CONTROLLER_VERSION (first time only)"
  local d; d=$(scratch snapshot-controller)
  echo "replace github.com/kubernetes-csi/external-snapshotter/client/v8 => github.com/kubernetes-csi/external-snapshotter/client/v8 $SNAPSHOT_CONTROLLER_VERSION" >>"$d/go.mod"
  (cd "$d" && go get "github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller@$SNAPSHOT_CONTROLLER_VERSION" >&2 &&
    go build -trimpath -ldflags "-s -w -X main.version=$SNAPSHOT_CONTROLLER_VERSION" -o "$bin/snapshot-controller" \
      github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller)
  stamp snapshot-controller "$SNAPSHOT_CONTROLLER_VERSION"; rm -rf "$d"
}

# Upstream CRDs the tests install (Flux HelmRelease, all 13 of Velero's, CSI snapshots and group
# snapshots: the snapshot-controller waits 30 s for the latter before going without), copied
# verbatim from the projects' own Go modules rather than written by hand.
crds_stamp="helm-controller $FLUX_HELM_CONTROLLER_VERSION velero-all $VELERO_VERSION snapshotter+group $SNAPSHOTTER_CLIENT_VERSION"
# One directory per set, made whole before it appears (a rename): runs of other versions of this
# script, and the tests reading it, share the cache at the same time.
crds_dir="$root/crd-sets/$(printf '%s' "$crds_stamp" | sha256sum | cut -c1-12)"

build_crds() {
  local want_stamp=$crds_stamp
  [ -f "$crds_dir/.version" ] && return
  did_build=1; log "fetching upstream CRDs ($want_stamp)"
  local d; d=$(scratch crds)
  local flux velero snap
  flux=$(module_dir "$d" "github.com/fluxcd/helm-controller@$FLUX_HELM_CONTROLLER_VERSION")
  velero=$(module_dir "$d" "github.com/vmware-tanzu/velero@$VELERO_VERSION")
  snap=$(module_dir "$d" "github.com/kubernetes-csi/external-snapshotter/client/v8@$SNAPSHOTTER_CLIENT_VERSION")
  [ -n "$flux" ] && [ -n "$velero" ] && [ -n "$snap" ] || { log "go mod download failed for a CRD module"; rm -rf "$d"; return 1; }
  mkdir -p "$d/out" "$root/crd-sets"
  # install -m 0644: files in the module cache are read-only.
  install -m 0644 -t "$d/out" \
    "$flux/config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml" \
    "$velero"/config/crd/v1/bases/velero.io_*.yaml "$velero"/config/crd/v2alpha1/bases/velero.io_*.yaml \
    "$snap"/config/crd/snapshot.storage.k8s.io_*.yaml "$snap"/config/crd/groupsnapshot.storage.k8s.io_*.yaml
  echo "$want_stamp" >"$d/out/.version"
  mv -T "$d/out" "$crds_dir" 2>/dev/null || [ -f "$crds_dir/.version" ]
  rm -rf "$d"
}

demo_targets="etcd kube helm crds velero objectstore snapshot_controller"
want=""
for t in ${*:-all}; do
  case $t in
    all) want="$want $demo_targets krew rcodesign" ;;
    demo) want="$want $demo_targets" ;;
    snapshot-controller) want="$want snapshot_controller" ;;
    *) want="$want $t" ;;
  esac
done

# Each target in the background, its time on a line of its own; the exit code is the worst.
elapsed() { local s=$(($(date +%s) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
pids=() names=()
for t in $(printf '%s\n' $want | awk '!seen[$0]++'); do
  declare -F "build_$t" >/dev/null || { log "unknown target $t"; exit 2; }
  (start=$(date +%s) did_build=""; "build_$t"; [ -z "$did_build" ] || log "$t built in $(elapsed "$start")") &
  pids+=("$!") names+=("$t")
done
failed=""
for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed="$failed ${names[$i]}"; done
[ -z "$failed" ] || { log "failed:$failed (see the lines above)"; exit 1; }
log "tools ready in $bin"
# stdout: the CRD set's directory (when asked for), then the bin dir, last.
case " $want " in *" crds "*) echo "crds: $crds_dir" ;; esac
echo "$bin"
