#!/usr/bin/env bash
# rootfs.sh DIR: the lab node's root file system, Debian 12 with systemd as
# PID 1 and what a Kubernetes node needs from its OS. It is also the base
# layer of the kube-proxy and flannel images (they exec iptables/conntrack).
# Cached by the caller; takes ~3 minutes cold.
set -euo pipefail
dir="$1"
pkgs=systemd,systemd-sysv,dbus,iproute2,iptables,kmod,ca-certificates,conntrack,ethtool,socat
pkgs+=,containerd,runc,containernetworking-plugins,procps,openssh-server,curl
# haproxy: the lab's load balancer in front of HA control planes runs from
# the node image too (no registry here to pull one from).
pkgs+=,haproxy
# kubestrap up and the Ansible role drive nodes over SSH, as a non-root user
# through sudo too; Ansible's modules need python3 on the node.
pkgs+=,sudo,python3
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rm -rf "$dir.tmp"
debootstrap --variant=minbase --include="$pkgs" bookworm "$dir.tmp" "$mirror" >"$dir.log" 2>&1 || {
	tail -20 "$dir.log" >&2
	exit 1
}
# Every node makes its own host keys at boot (lab-entrypoint): keys in
# the image would give all nodes one identity, as cloned VMs have.
rm -f "$dir.tmp"/etc/ssh/ssh_host_*
# Smaller images and node tars: docs, man pages and apt lists are not needed.
rm -rf "$dir.tmp"/usr/share/{doc,man,info,locale}/* "$dir.tmp"/var/lib/apt/lists/* "$dir.tmp"/var/cache/apt/*.bin \
	"$dir.tmp"/var/cache/apt/archives/*.deb
mv "$dir.tmp" "$dir"
