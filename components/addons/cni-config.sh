#!/bin/sh
# The flannel DaemonSet's cni-config container: on a node that has no CNI
# config (one joined by `kubeadm join`, which writes none; kubestrap's init
# and join write it themselves), write kubestrap's conflist once flanneld
# has the node's subnet, then idle. The same network as addons.Conflist;
# a test runs this script and compares the two.
set -eu
env="${FLANNEL_SUBNET_ENV:-/run/flannel/subnet.env}"
dir="${CNI_CONF_DIR:-/etc/cni/net.d}"
until [ -s "$env" ]; do sleep 1; done
# shellcheck source=/dev/null # flanneld writes it
. "$env"
found=
for f in "$dir"/*.conf "$dir"/*.conflist; do [ -e "$f" ] && found="$f"; done
if [ -z "$found" ]; then
	# flannel names the node's first address (10.244.1.1/24); nodes get
	# a /24 (kube-controller-manager's default mask), so the network is .0.
	bits="${FLANNEL_SUBNET#*/}" addr="${FLANNEL_SUBNET%/*}"
	net="${addr%.*}.0/$bits"
	mkdir -p "$dir"
	cat >"$dir/.10-kubestrap.conflist.tmp" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "kubestrap",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true, "mtu": $FLANNEL_MTU,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$net"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
	mv "$dir/.10-kubestrap.conflist.tmp" "$dir/10-kubestrap.conflist"
	echo "wrote $dir/10-kubestrap.conflist for $net (MTU $FLANNEL_MTU)"
fi
[ -n "${CNI_CONFIG_ONCE:-}" ] || exec sleep infinity
