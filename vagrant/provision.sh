#!/usr/bin/env bash
# Provisions one CentOS 7 VM of the Vagrant lab: containerd from Docker's
# repo (containerd.io, which ships with CRI disabled: kubestrap's preflight
# --fix re-enables it), the kubestrap release, then init or join.
set -euo pipefail
role="$1"
if ! rpm -q containerd.io >/dev/null 2>&1; then
	yum install -y -q yum-utils
	yum-config-manager --add-repo https://download.docker.com/linux/centos/docker-ce.repo
	yum install -y -q containerd.io conntrack-tools socat ethtool iproute-tc
	systemctl enable --now containerd
fi
tarballs=(/vagrant/dist/kubestrap-*-linux-amd64.tar.gz)
tarball="${tarballs[0]}"
[[ -f $tarball ]] || { echo "no kubestrap release in /vagrant/dist (make dist)" >&2; exit 1; }
mkdir -p /opt/kubestrap && tar -C /opt/kubestrap -xzf "$tarball"
ln -sf /opt/kubestrap/kubestrap /usr/local/bin/kubestrap
kubestrap preflight --fix
if [[ -f /opt/kubestrap/images.tar ]]; then kubestrap images load /opt/kubestrap/images.tar; fi
case "$role" in
init)
	kubestrap init
	kubestrap token create --print-join-command -o json > /vagrant/vagrant/.join.json
	;;
join)
	# A re-provision of a joined worker is a no-op: join says so and exits 0.
	eval "$(python -c 'import json; print(json.load(open("/vagrant/vagrant/.join.json"))["joinCommand"])')"
	;;
esac
