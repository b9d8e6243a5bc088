#!/usr/bin/env bash
# provision.sh: gets a CentOS 7 VM of the Vagrant lab ready for kubestrap; run
# as root by `vagrant up` (and `vagrant provision`: it is idempotent). No
# kubestrap here: up.sh installs it and makes the cluster over SSH.
#   - CentOS 7 is end of life and its mirrors are gone: yum reads the last
#     release, 7.9.2009, from vault.centos.org (http: the box's old CA bundle
#     may not trust the https certificate; the packages are GPG-checked);
#   - containerd.io from Docker's CentOS 7 repo (it ships with CRI disabled:
#     `kubestrap preflight --fix`, which kubestrap up runs, enables it);
#   - what the kubelet and kube-proxy call: conntrack, socat, ethtool, tc,
#     iptables; bash-completion, for the completion install.sh writes;
#   - SELinux permissive and firewalld off, as a lab (kubestrap's preflight
#     warns about both on real machines, with the fix).
set -euo pipefail
log() { printf '[provision] %s\n' "$*"; }

for f in /etc/yum.repos.d/CentOS-*.repo; do
	[[ -f $f ]] || continue
	# shellcheck disable=SC2016 # $releasever is yum's, matched literally
	sed -i -e 's/^mirrorlist=/#mirrorlist=/' \
		-e 's|^#\{0,1\}baseurl=http://mirror.centos.org/centos/\$releasever|baseurl=http://vault.centos.org/7.9.2009|' "$f"
done
# A CA bundle newer than the box's first, for download.docker.com's https.
yum update -y -q ca-certificates
cat >/etc/yum.repos.d/docker-ce.repo <<'EOF'
[docker-ce-stable]
name=Docker CE Stable - $basearch
baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable
enabled=1
gpgcheck=1
gpgkey=https://download.docker.com/linux/centos/gpg
EOF

log "packages: containerd.io and the node tools (yum, vault.centos.org and download.docker.com)"
# CentOS 7's tc is in iproute itself; later releases split it into iproute-tc.
pkgs=(containerd.io conntrack-tools socat ethtool iproute iptables tar bash-completion)
if yum -q list available iproute-tc >/dev/null 2>&1; then pkgs+=(iproute-tc); fi
yum install -y -q "${pkgs[@]}"
for p in "${pkgs[@]}"; do
	rpm -q "$p" >/dev/null || { log "$p did not install: see yum's messages above" >&2; exit 1; }
done
systemctl enable --now containerd

if [[ $(getenforce 2>/dev/null) == Enforcing ]]; then
	setenforce 0
	log "SELinux: permissive"
fi
[[ ! -f /etc/selinux/config ]] || sed -i 's/^SELINUX=enforcing/SELINUX=permissive/' /etc/selinux/config
if systemctl is-active --quiet firewalld; then
	systemctl disable --now firewalld
	log "firewalld: stopped and disabled"
fi
log "ready for kubestrap up: $(rpm -q containerd.io)"
