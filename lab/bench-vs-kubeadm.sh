#!/usr/bin/env bash
# bench-vs-kubeadm.sh [ROUNDS]: kubestrap next to upstream kubeadm, built
# from the same pinned Kubernetes module (bundle/build.sh kubeadm; a
# comparison tool only, never shipped). Each round gets 4 fresh lab nodes:
# two set up the way the kubeadm packages leave a node (kubelet unit plus the
# 10-kubeadm.conf drop-in), two left to kubestrap. Both sides get the same
# images, the same kubelet and `kubestrap preflight --fix` (containerd's CRI
# config), untimed. Timed, one side at a time, the order alternating:
#   init: process start to exit, the join command printed;
#   join: process start to exit, the node registered.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
rounds="${1:-3}"
export LAB_PREFIX=kvk
KUBEADM="${KUBEADM:?KUBEADM must name the kubeadm binary (bundle/build.sh kubeadm)}"
trap 'lab down' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

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
	on "$1" sh -c 'cat >/root/kubeadm.yaml' <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration: {ignorePreflightErrors: [all]}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.35.4
networking: {podSubnet: 10.244.0.0/16}
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
failCgroupV1: false
EOF
}

declare -a KI KJ SI SJ
run_kubeadm() { # run_kubeadm ROUND CP WORKER
	local t0 t1 t2 log="$LAB_LOGS/round$1-kubeadm"
	t0=$(now)
	on "$2" kubeadm init --config /root/kubeadm.yaml >"$log-init.log" 2>&1 || fail "kubeadm init (log: $log-init.log)"
	t1=$(now)
	read -r -a join <<<"$(on "$2" kubeadm token create --print-join-command 2>/dev/null)"
	t2=$(now)
	on "$3" "${join[@]}" --ignore-preflight-errors=all >"$log-join.log" 2>&1 || fail "kubeadm join (log: $log-join.log)"
	KI+=("$(secs "$t0" "$t1")") KJ+=("$(secs "$t2" "$(now)")")
}
run_kubestrap() { # run_kubestrap ROUND CP WORKER
	local t0 t1 t2 info log="$LAB_LOGS/round$1-kubestrap"
	t0=$(now)
	info=$(on "$2" kubestrap init -o json 2>"$log-init.log") || fail "kubestrap init (log: $log-init.log)"
	t1=$(now)
	read -r -a join <<<"$(jq -r .joinCommand <<<"$info")"
	t2=$(now)
	on "$3" "${join[@]}" >"$log-join.log" 2>&1 || fail "kubestrap join (log: $log-join.log)"
	SI+=("$(secs "$t0" "$t1")") SJ+=("$(secs "$t2" "$(now)")")
}

for ((r = 1; r <= rounds; r++)); do
	lab nodes 4 >/dev/null 2>&1
	for i in 1 2 3 4; do on "$LAB_PREFIX-$i" kubestrap preflight --fix >/dev/null 2>&1 & done
	wait
	kubeadm_node "$LAB_PREFIX-1" && kubeadm_node "$LAB_PREFIX-2"
	if ((r % 2)); then
		run_kubeadm "$r" "$LAB_PREFIX-1" "$LAB_PREFIX-2" && run_kubestrap "$r" "$LAB_PREFIX-3" "$LAB_PREFIX-4"
	else
		run_kubestrap "$r" "$LAB_PREFIX-3" "$LAB_PREFIX-4" && run_kubeadm "$r" "$LAB_PREFIX-1" "$LAB_PREFIX-2"
	fi
	printf '[bench] round %d: init kubeadm %ss kubestrap %ss; join kubeadm %ss kubestrap %ss\n' "$r" \
		"${KI[-1]}" "${SI[-1]}" "${KJ[-1]}" "${SJ[-1]}"
done

# row NAME KUBEADM... -- KUBESTRAP...: min and median of each, and the
# ratio of the medians (kubestrap / kubeadm).
row() {
	local name="$1"; shift
	printf '%s\n' "$@" | awk -v n="$name" '
		$1 == "--" {side = 1; next}
		{v[side, ++c[side]] = $1}
		function med(s,   i, j, t, a, k) {
			k = c[s]; for (i = 1; i <= k; i++) a[i] = v[s, i]
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) {t = a[i]; a[i] = a[j]; a[j] = t}
			lo[s] = a[1]; return a[int((k + 1) / 2)]
		}
		END {
			m0 = med(0); m1 = med(1)
			printf "| %-5s | %6.2f / %6.2f s | %6.2f / %6.2f s | %.2fx |\n", n, lo[0], m0, lo[1], m1, m1 / m0
		}'
}
echo "[bench] kubestrap vs kubeadm $("$KUBEADM" version -o short), $rounds rounds, $(nproc) CPUs, alternating order"
echo "| step  | kubeadm min / median | kubestrap min / median | ratio |"
echo "| ----- | -------------------- | ---------------------- | ----- |"
row init "${KI[@]}" -- "${SI[@]}"
row join "${KJ[@]}" -- "${SJ[@]}"
