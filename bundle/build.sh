#!/usr/bin/env bash
# build.sh builds the bundle's binaries at pinned versions into a cache outside
# the repo, once: a binary that already exists is never rebuilt, so a warm run
# takes seconds. Usage: build.sh [k8s|kubectl|etcd|coredns|flannel|cni|small|kubeadm|all]...
# KUBERNETES_VERSION=v1.34.4 build.sh ... builds another supported version
# (bundle/versions-VERSION.env pins its components) into its own cache dir.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
want="${KUBERNETES_VERSION:-}"
# shellcheck source-path=SCRIPTDIR source=versions.env
. "$here/versions.env"
default_version=$KUBERNETES_VERSION
if [[ -n $want && $want != "$default_version" ]]; then
	if [[ ! -f $here/versions-$want.env ]]; then
		others=("$here"/versions-v*.env)
		others=("${others[@]##*/versions-}")
		echo "[bundle] no bundle for Kubernetes $want: supported are $default_version ${others[*]%.env} (add bundle/versions-$want.env)" >&2
		exit 2
	fi
	# shellcheck source=/dev/null
	. "$here/versions-$want.env"
fi
CACHE="${KUBESTRAP_CACHE:-$HOME/.cache/kubestrap}"
BIN="$CACHE/$KUBERNETES_VERSION/bin"
DEFAULT_BIN="$CACHE/$default_version/bin"
mkdir -p "$BIN"
# Reproducible builds: no VCS stamp (it would change with every commit of
# this repo and rebuild the images for nothing), no local paths.
export GOFLAGS="-trimpath -buildvcs=false"

log() { printf '[bundle] %s\n' "$*" >&2; }

# build OUT DIR PKG [extra go build args...]: skip when OUT exists; build into a
# temp name and rename so an interrupted build never leaves a half binary.
build() {
	local out="$1" dir="$2" pkg="$3"; shift 3
	if [[ -x "$BIN/$out" ]]; then log "$out: cached"; return; fi
	# Flannel, the CNI plugins and the small programs are the same in every
	# version's bundle: take the default bundle's when it has them.
	if [[ $dir != "$here/$K8S_MODULE" && $dir != "$here/$ETCD_MODULE" && $dir != "$here/$COREDNS_MODULE" &&
		$BIN != "$DEFAULT_BIN" && -x $DEFAULT_BIN/$out ]]; then
		ln -f "$DEFAULT_BIN/$out" "$BIN/$out" 2>/dev/null || cp "$DEFAULT_BIN/$out" "$BIN/$out"
		log "$out: the $default_version bundle's"
		return
	fi
	local t0=$SECONDS
	(cd "$dir" && go build -o "$BIN/.$out.tmp" "$@" "$pkg")
	mv "$BIN/.$out.tmp" "$BIN/$out"
	log "$out: built in $((SECONDS - t0))s"
}

k8s_ldflags() {
	local v="$KUBERNETES_VERSION" minor
	minor="$(echo "$v" | cut -d. -f2)"
	local f="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		f+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor"
		f+=" -X $p.gitCommit=kubestrap-bundle -X $p.gitTreeState=clean"
		f+=" -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	echo "$f"
}

# The Kubernetes binaries come from one `go build` of all their packages:
# compiles of shared packages and the six links then run in parallel on
# every core, where one build per binary left a core idle during each
# link. Only the missing binaries are built.
build_k8s() {
	local c missing=() pkgs=()
	for c in kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl; do
		if [[ -x "$BIN/$c" ]]; then log "$c: cached"; continue; fi
		missing+=("$c") pkgs+=("k8s.io/kubernetes/cmd/$c")
	done
	((${#missing[@]})) || return 0
	local t0=$SECONDS tmp="$BIN/.k8s.tmp"
	rm -rf "$tmp" && mkdir -p "$tmp"
	download_modules "$here/$K8S_MODULE"
	log "building ${missing[*]} (one go build: about 5-6 minutes on 2 cores when nothing is cached)"
	(cd "$here/$K8S_MODULE" && CGO_ENABLED=0 go build -o "$tmp/" -ldflags "$(k8s_ldflags)" "${pkgs[@]}")
	for c in "${missing[@]}"; do mv "$tmp/$c" "$BIN/$c"; done
	rmdir "$tmp"
	log "${missing[*]}: built in $((SECONDS - t0))s"
}

# download_modules DIR: fetch the module's dependencies first, saying how
# many and how long, so that a first run shows what it waits for.
download_modules() {
	local t0=$SECONDS n
	n=$(cd "$1" && go list -m all 2>/dev/null | wc -l)
	log "$(basename "$1"): $n modules (downloaded once into $(go env GOMODCACHE))"
	(cd "$1" && go mod download)
	((SECONDS - t0 > 1)) && log "$(basename "$1"): modules downloaded in $((SECONDS - t0))s"
	return 0
}

# kubeadm is built for side-by-side comparisons only (make bench-vs-kubeadm,
# the interop e2e): never part of `all`, never shipped in the release.
build_kubeadm() {
	CGO_ENABLED=0 build kubeadm "$here/$K8S_MODULE" k8s.io/kubernetes/cmd/kubeadm -ldflags "$(k8s_ldflags)"
}

build_kubectl() {
	CGO_ENABLED=0 build kubectl "$here/$K8S_MODULE" k8s.io/kubernetes/cmd/kubectl -ldflags "$(k8s_ldflags)"
}

build_etcd() {
	CGO_ENABLED=0 build etcd "$here/$ETCD_MODULE" go.etcd.io/etcd/server/v3 -ldflags "-s -w"
	CGO_ENABLED=0 build etcdctl "$here/$ETCD_MODULE" go.etcd.io/etcd/etcdctl/v3 -ldflags "-s -w"
}

build_coredns() {
	CGO_ENABLED=0 build coredns "$here/$COREDNS_MODULE" github.com/coredns/coredns -ldflags "-s -w"
}

build_flannel() {
	# The udp backend needs cgo; a static link keeps the image free of libc.
	CGO_ENABLED=1 build flanneld "$here/flannel" github.com/flannel-io/flannel \
		-tags netgo,osusergo -ldflags "-s -w -extldflags -static"
}

build_cni() {
	local p
	for p in bridge host-local loopback portmap; do
		local pkg="github.com/containernetworking/plugins/plugins/main/$p"
		[[ $p == host-local ]] && pkg="github.com/containernetworking/plugins/plugins/ipam/host-local"
		[[ $p == portmap ]] && pkg="github.com/containernetworking/plugins/plugins/meta/portmap"
		CGO_ENABLED=0 build "cni-$p" "$here/cni" "$pkg" -ldflags "-s -w"
	done
}

# The small programs are ours and change with the repo: rebuild them each
# time (seconds, with Go's build cache) but replace the cached binary only
# when it differs, so that what depends on its mtime rebuilds only then.
build_small() {
	local p
	for p in pause demo; do
		(cd "$here/small" && CGO_ENABLED=0 go build -o "$BIN/.$p.new" -ldflags "-s -w" "./$p")
		if cmp -s "$BIN/.$p.new" "$BIN/$p"; then rm "$BIN/.$p.new"; else mv "$BIN/.$p.new" "$BIN/$p" && log "$p: rebuilt"; fi
	done
}

targets=("$@")
[[ ${#targets[@]} -eq 0 || ${targets[0]} == all ]] && targets=(small cni etcd coredns flannel k8s)
for t in "${targets[@]}"; do "build_$t"; done
echo "$BIN"
