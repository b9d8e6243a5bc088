# shellcheck shell=bash
# Helpers for the lab scripts that run upstream kubeadm next to kubestrap
# (sourced after e2e-lib.sh). KUBEADM names the kubeadm binary, built from
# the bundle's pinned module (bundle/build.sh kubeadm): a comparison tool,
# never shipped.
KUBEADM="${KUBEADM:?KUBEADM must name the kubeadm binary (bundle/build.sh kubeadm)}"

# kubeadm_node NODE: the kubelet and kubeadm where the packages put them,
# the packages' unit and drop-in, and the kubelet enabled (it crash-loops
# until kubeadm writes its config, as on a packaged host).
kubeadm_node() {
	docker cp "$KUBEADM" "$1:/usr/bin/kubeadm"
	# shellcheck disable=SC2016 # the unit's $VARIABLES are systemd's
	on "$1" sh -ec '
		cp /opt/kubestrap/kubelet /usr/bin/kubelet
		mkdir -p /etc/systemd/system/kubelet.service.d /opt/cni/bin
		cp /opt/kubestrap/cni/* /opt/cni/bin/
		cat >/etc/systemd/system/kubelet.service <<EOF
[Unit]
Description=kubelet: The Kubernetes Node Agent
Wants=network-online.target
After=network-online.target
[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10
[Install]
WantedBy=multi-user.target
EOF
		cat >/etc/systemd/system/kubelet.service.d/10-kubeadm.conf <<"EOF"
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
EOF
		systemctl daemon-reload && systemctl enable kubelet >/dev/null 2>&1'
	# The same cluster as kubestrap's defaults; cgroup v1 hosts need
	# failCgroupV1: false from v1.35 on, which kubestrap decides by itself.
	# maxPods and the API server's extraEnvs and extraVolumes are there for
	# e2e-interop to see the file applied (kubestrap reads this same file).
	docker exec -i "$1" sh -c 'cat >/root/kubeadm.yaml' <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration: {ignorePreflightErrors: [all]}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.35.4
networking: {podSubnet: 10.244.0.0/16}
apiServer:
  extraEnvs: [{name: KUBESTRAP_E2E, value: extra-env}]
  extraVolumes: [{name: e2e-extra, hostPath: /var/tmp/e2e-extra, mountPath: /e2e-extra, pathType: DirectoryOrCreate, readOnly: true}]
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
failCgroupV1: false
maxPods: 90
EOF
}

