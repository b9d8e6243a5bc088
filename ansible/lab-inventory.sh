#!/usr/bin/env bash
# lab-inventory.sh CP_IP... [-- WORKER_IP...]: print an INI inventory for
# ansible/site.yml with these control-plane nodes (the first runs init) and
# workers, reached over ssh as root.
#
#   LAB_SSH_KEY       required: the private key that logs in as root on the nodes
#   LAB_KNOWN_HOSTS   required: the known_hosts file for the nodes' host keys (recorded
#                     on first contact: StrictHostKeyChecking=accept-new)
#   LAB_ENDPOINT      kubestrap_control_plane_endpoint (HOST:PORT of the load balancer);
#                     required with more than one control-plane node
#
# Each node's IP is its inventory name and its kubestrap_node_ip. Without
# workers, init gets --allow-schedule-on-control-plane (as in make lab N=0).
set -euo pipefail

die() {
	echo "lab-inventory.sh: $*" >&2
	exit 2
}
usage="usage: LAB_SSH_KEY=KEY LAB_KNOWN_HOSTS=FILE [LAB_ENDPOINT=HOST:PORT] $0 CP_IP... [-- WORKER_IP...]"

# Inventory values are split on blanks and ssh options too: refuse what
# would need quoting.
plain() {
	[[ $2 =~ ^[A-Za-z0-9._/:@+~-]+$ ]] || die "$1 \"$2\" has a character an inventory value cannot hold unquoted"
}

args="$*"
key="${LAB_SSH_KEY:-}" known="${LAB_KNOWN_HOSTS:-}" endpoint="${LAB_ENDPOINT:-}"
[[ -n $key ]] || die "LAB_SSH_KEY is not set: $usage"
[[ -n $known ]] || die "LAB_KNOWN_HOSTS is not set: $usage"
[[ -r $key ]] || die "LAB_SSH_KEY: cannot read $key"
# Absolute, so that the inventory works from any directory.
key="$(realpath -- "$key")" known="$(realpath -m -- "$known")"
plain LAB_SSH_KEY "$key"
plain LAB_KNOWN_HOSTS "$known"
[[ -z $endpoint ]] || plain LAB_ENDPOINT "$endpoint"

cps=() workers=() sep=false
declare -A seen=()
for ip in "$@"; do
	if [[ $ip == -- ]]; then
		! $sep || die "more than one --: $usage"
		sep=true
		continue
	fi
	[[ $ip =~ ^[0-9A-Fa-f.:]+$ ]] || die "\"$ip\" is not an IP address: $usage"
	[[ -z ${seen[$ip]:-} ]] || die "$ip is given twice"
	seen[$ip]=1
	if $sep; then workers+=("$ip"); else cps+=("$ip"); fi
done
((${#cps[@]} > 0)) || die "no control-plane node: $usage"
((${#cps[@]} == 1)) || [[ -n $endpoint ]] ||
	die "${#cps[@]} control-plane nodes need LAB_ENDPOINT, the load balancer in front of them (HOST:PORT)"

echo "# written by ansible/lab-inventory.sh $args"
echo "[kubestrap_control_plane]"
for ip in "${cps[@]}"; do
	line="$ip kubestrap_node_ip=$ip"
	((${#workers[@]} > 0)) || line+=" kubestrap_init_extra_args='[\"--allow-schedule-on-control-plane\"]'"
	echo "$line"
done
echo
echo "[kubestrap_workers]"
for ip in ${workers[@]+"${workers[@]}"}; do echo "$ip kubestrap_node_ip=$ip"; done
cat <<EOT

[kubestrap:children]
kubestrap_control_plane
kubestrap_workers

[kubestrap:vars]
ansible_user=root
# root needs no sudo (and the lab's nodes have none)
ansible_become=false
ansible_ssh_private_key_file=$key
ansible_ssh_common_args='-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$known'
EOT
[[ -z $endpoint ]] || echo "kubestrap_control_plane_endpoint=$endpoint"
