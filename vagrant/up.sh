#!/usr/bin/env bash
# up.sh: the Vagrant lab's cluster, made from this machine (Linux amd64, with
# VirtualBox and Vagrant):
#   1. the release: ../dist/kubestrap-*-linux-amd64.tar.gz (`make dist` when
#      there is none; after changing the code, run `make -C .. dist` yourself);
#   2. the VMs: vagrant up (provision.sh gets their OS ready);
#   3. .kubestrap/cluster.yaml, written from `vagrant ssh-config`: each VM is
#      reached on its forwarded SSH port of 127.0.0.1 as vagrant (passwordless
#      sudo) with Vagrant's key for it, and gets its private address as nodeIP;
#   4. kubestrap up -f .kubestrap/cluster.yaml --accept-new-host-keys: the
#      release installed on every VM, init on master, the workers joined, the
#      admin kubeconfig in .kubestrap/vagrant.admin.conf.
# Every step is idempotent: run it again at any time.
#
#   ./up.sh [kubestrap up flags, e.g. -o json]
#   ./up.sh --down [kubestrap down flags]   every node reset; the VMs stay (./down.sh is the same)
#   WORKERS=3 ./up.sh                        three workers (the Vagrantfile reads WORKERS too)
#   KUBESTRAP=/path/to/kubestrap ./up.sh     another kubestrap binary for this machine
#
# Host keys: kubestrap checks each VM's SSH host key against
# .kubestrap/known_hosts, a file of its own (Vagrant forwards every VM's SSH to
# 127.0.0.1, so an entry reads "[127.0.0.1]:2222 ..."; ~/.ssh/known_hosts is
# left alone). --accept-new-host-keys records the keys of VMs it has not seen.
# A VM made again (vagrant destroy, then up) has a new key, and kubestrap
# refuses a key that changed, showing both fingerprints. up.sh forgets the old
# key itself when VirtualBox's id of the VM changed (it keeps the ids in
# .kubestrap/machine-ids); in any other case remove the VM's line:
#   ssh-keygen -R '[127.0.0.1]:2222' -f .kubestrap/known_hosts
# or delete .kubestrap/known_hosts after `vagrant destroy` of every VM.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
state="$here/.kubestrap"
file="$state/cluster.yaml" known="$state/known_hosts" ids="$state/machine-ids"
log() { printf '[up.sh] %s\n' "$*" >&2; }
die() { printf '[up.sh] %s\n' "$*" >&2; exit 1; }

down=0
if [[ ${1:-} == --down ]]; then
	down=1
	shift
fi

# The release's kubestrap is a Linux amd64 binary: say so before anything
# starts (macOS has no build of it; the VMs' forwarded ports are on this
# machine, so run up.sh on a Linux amd64 machine that has VirtualBox).
if [[ -z ${KUBESTRAP:-} && ($(uname -s) != Linux || $(uname -m) != x86_64) ]]; then
	die "kubestrap up runs on Linux amd64 only (the release's binary), and this is $(uname -sm): run up.sh on a" \
		"Linux amd64 machine with VirtualBox and Vagrant, or set KUBESTRAP to a kubestrap built for this one"
fi

# newest GLOB...: the newest existing file among the matches.
newest() {
	local f best=""
	for f in "$@"; do
		if [[ -f $f && (-z $best || $f -nt $best) ]]; then best=$f; fi
	done
	printf '%s' "$best"
}

release=$(newest "$repo"/dist/kubestrap-*-linux-amd64.tar.gz)
if ((down)); then
	[[ -f $file ]] || die "no $file: up.sh has not made a cluster here, nothing to reset"
	[[ -n ${KUBESTRAP:-} || -n $release ]] || die "no release in $repo/dist to take kubestrap from: make -C .. dist"
	ks=${KUBESTRAP:-${release%.tar.gz}/kubestrap}
	log "kubestrap down -f $file"
	exec "$ks" down -f "$file" "$@"
fi

if [[ -z $release ]]; then
	log "no release in $repo/dist: make dist (the first build takes a while)"
	make -C "$repo" dist
	release=$(newest "$repo"/dist/kubestrap-*-linux-amd64.tar.gz)
	[[ -n $release ]] || die "make dist made no dist/kubestrap-*-linux-amd64.tar.gz"
fi
images=$(newest "$repo"/dist/kubestrap-images-*.tar)
ks=${KUBESTRAP:-${release%.tar.gz}/kubestrap}
[[ -x $ks ]] || die "$ks is missing (make dist keeps the unpacked release beside the tarball): make -C .. dist"

command -v vagrant >/dev/null || die "vagrant is missing: install Vagrant and VirtualBox (see README.md)"
cd "$here"
log "vagrant up (the first run downloads the box and provisions every VM: several minutes)"
vagrant up
mkdir -p "$state"
vagrant ssh-config >"$state/ssh-config" || die "vagrant ssh-config failed: is every VM running? (vagrant status)"

# One line per VM: name, host, port, user, key (the first IdentityFile,
# unquoted: Vagrant quotes paths with spaces).
machines=()
while IFS= read -r line; do machines+=("$line"); done < <(awk '
	function out() { if (name != "") printf "%s\t%s\t%s\t%s\t%s\n", name, hn, port, user, key }
	$1 == "Host" { out(); name = $2; hn = ""; port = ""; user = ""; key = "" }
	$1 == "HostName" { hn = $2 }
	$1 == "Port" { port = $2 }
	$1 == "User" { user = $2 }
	$1 == "IdentityFile" && key == "" { sub(/^[ \t]*IdentityFile[ \t]+/, ""); gsub(/"/, ""); key = $0 }
	END { out() }' "$state/ssh-config")
((${#machines[@]})) || die "vagrant ssh-config lists no machine"

# yaml_str S: S as a double-quoted YAML string.
yaml_str() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

# forget HOST PORT: drop the host's lines from known_hosts.
forget() {
	local h="[$1]:$2"
	[[ $2 != 22 ]] || h=$1
	[[ -f $known ]] || return 0
	awk -v h="$h" '{ n = split($1, a, ","); for (i = 1; i <= n; i++) if (a[i] == h) next; print }' "$known" >"$known.tmp"
	mv "$known.tmp" "$known"
}

hosts="" new_ids="" cps=0 workers=0
for m in "${machines[@]}"; do
	IFS=$'\t' read -r name host port user key <<<"$m"
	case $name in
	master) role=control-plane ip=192.168.56.10 cps=$((cps + 1)) ;;
	worker[1-9] | worker[1-9][0-9]) role=worker ip=192.168.56.$((10 + ${name#worker})) workers=$((workers + 1)) ;;
	*) die "machine $name: the Vagrantfile defines master and worker1..N only" ;;
	esac
	[[ -n $host && -n $port && -n $key ]] || die "vagrant ssh-config gives no HostName, Port or IdentityFile for $name"
	[[ -f $key ]] || die "$name: Vagrant's key $key is missing"
	# A VM that VirtualBox made again has a new host key: forget the old one.
	id=$(cat "$here"/.vagrant/machines/"$name"/*/id 2>/dev/null || true)
	id=${id:--}
	old=$(awk -v n="$name" '$1 == n { print $2 " " $3 }' "$ids" 2>/dev/null || true)
	if [[ -n $old && ${old% *} != "$id" ]]; then
		log "$name was made again (new VirtualBox id): forgetting its old host key"
		forget "$host" "${old#* }"
		forget "$host" "$port"
	fi
	new_ids+="$name $id $port"$'\n'
	hosts+="  - address: $host
    name: $name
    role: $role
    nodeIP: $ip
    ssh: {user: $user, port: $port, keyPath: $(yaml_str "$key")}
"
done
((cps == 1)) || die "vagrant ssh-config lists no master: vagrant status"

{
	cat <<EOF
# Written by up.sh from \`vagrant ssh-config\` on every run: edit up.sh, not this.
apiVersion: kubestrap.io/v1alpha1
kind: Cluster
metadata:
  name: vagrant
spec:
  release: ../../dist/${release##*/}
EOF
	[[ -z $images ]] || echo "  images: ../../dist/${images##*/}"
	# With no workers the master must take pods: no control-plane taint.
	((workers > 0)) || printf '  init:\n    nodeRegistration:\n      taints: []\n'
	cat <<EOF
  preflightFix: true
  ssh:
    user: vagrant
    knownHostsPath: known_hosts
  hosts:
$hosts
EOF
} >"$file.tmp"
mv "$file.tmp" "$file"
printf '%s' "$new_ids" >"$ids"

log "kubestrap up -f $file --accept-new-host-keys${*:+ $*}"
"$ks" up -f "$file" --accept-new-host-keys "$@"
log "kubectl: $(dirname "$ks")/kubectl --kubeconfig $state/vagrant.admin.conf get nodes -o wide"
