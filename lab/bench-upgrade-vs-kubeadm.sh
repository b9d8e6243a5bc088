#!/usr/bin/env bash
# bench-upgrade-vs-kubeadm.sh [ROUNDS]: one-node upgrades v1.34.4 -> v1.35.4
# side by side on two fresh lab nodes of the old release: `kubeadm upgrade
# apply` (kubeadm of each version built from the bundle's pinned modules)
# then the kubelet swapped and restarted as the packages would, against
# `kubestrap upgrade apply` (which switches the kubelet itself). Both have
# the new images loaded and the new binaries in place before the clock
# starts; timed: command start until the Node reports the new kubelet and
# is Ready. The side not being timed is paused (docker pause).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
# shellcheck source-path=SCRIPTDIR source=kubeadm-lib.sh
. "$(dirname "$0")/kubeadm-lib.sh"
OLD_KUBEADM="${OLD_KUBEADM:?OLD_KUBEADM must name the kubeadm of the old version}"
rounds="${1:-1}"
export LAB_PREFIX=uvk
trap 'lab down' EXIT
old=$(<"$OLD_DIST_DIR/kubernetes-version") new=$(<"$DIST_DIR/kubernetes-version")
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
kb() { local x="$1"; shift; docker exec "$x" /opt/kubestrap/kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }
at_new() { [[ $(kb "$1" get node "$1" -o jsonpath='{.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status}') == "$new True" ]]; }
load_new() {
	docker cp "$IMAGES_TAR" "$1:/root/new-images.tar" && on "$1" /opt/kubestrap/kubestrap images load /root/new-images.tar >/dev/null
}
declare -a K S
for ((r = 1; r <= rounds; r++)); do
	DIST_DIR=$OLD_DIST_DIR IMAGES_TAR=$OLD_IMAGES_TAR lab nodes 2 >/dev/null 2>&1
	k="$LAB_PREFIX-1" s="$LAB_PREFIX-2"
	for x in "$k" "$s"; do on "$x" /opt/kubestrap/kubestrap preflight --fix >/dev/null; done
	KUBEADM=$OLD_KUBEADM kubeadm_node "$k"
	on "$k" sed -i "s/^kubernetesVersion: .*/kubernetesVersion: $old/" /root/kubeadm.yaml
	on "$k" kubeadm init --config /root/kubeadm.yaml >"$LAB_LOGS/run$r-kubeadm-init.log" 2>&1 || fail "kubeadm init"
	on "$s" /opt/kubestrap/kubestrap init >"$LAB_LOGS/run$r-kubestrap-init.log" 2>&1 || fail "kubestrap init"
	for x in "$k" "$s"; do load_new "$x"; done
	docker cp "$KUBEADM" "$k:/usr/bin/kubeadm"
	docker cp "$DIST_DIR/kubelet" "$k:/root/kubelet-new"
	docker cp "$DIST_DIR.tar.gz" "$s:/root/new.tar.gz"
	on "$s" sh -c "cd /root && tar xzf new.tar.gz && ./$(basename "$DIST_DIR")/install.sh >/dev/null"
	sleep 5
	docker pause "$s" >/dev/null
	t0=$(now)
	on "$k" kubeadm upgrade apply "$new" -y --ignore-preflight-errors=all >"$LAB_LOGS/run$r-kubeadm-upgrade.log" 2>&1 ||
		fail "kubeadm upgrade apply (log: $LAB_LOGS/run$r-kubeadm-upgrade.log)"
	on "$k" sh -c 'install -m 0755 /root/kubelet-new /usr/bin/kubelet && systemctl restart kubelet'
	eventually 180 at_new "$k" || fail "the kubeadm node did not come back Ready at $new"
	K+=("$(secs "$t0" "$(now)")")
	docker unpause "$s" >/dev/null && docker pause "$k" >/dev/null
	sleep 5
	t0=$(now)
	on "$s" kubestrap upgrade apply "$new" -y >"$LAB_LOGS/run$r-kubestrap-upgrade.log" 2>&1 ||
		fail "kubestrap upgrade apply (log: $LAB_LOGS/run$r-kubestrap-upgrade.log)"
	eventually 60 at_new "$s" || fail "the kubestrap node is not Ready at $new"
	S+=("$(secs "$t0" "$(now)")")
	docker unpause "$k" >/dev/null
	lab down >/dev/null
done
med() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {printf "min %6.2fs  median %6.2fs", v[1], v[int((NR+1)/2)]}'; }
echo "[bench] one-node upgrade $old -> $new, $rounds round(s), $(nproc) CPUs, start to the Node Ready at $new"
echo "  kubeadm upgrade apply + kubelet swap   $(med "${K[@]}")"
echo "  kubestrap upgrade apply                $(med "${S[@]}")"
