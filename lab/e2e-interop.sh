#!/usr/bin/env bash
# e2e-interop.sh: kubestrap and upstream kubeadm (built from the same pinned
# module) on the wire. A cluster made by `kubeadm init` (packaged-node
# layout: kubelet unit plus 10-kubeadm.conf) gets flannel from kubestrap's
# manifest (`kubestrap init phase addons/pod-network` on its control
# plane), then `kubestrap join` adds a worker with kubeadm's own join
# command: only what kubeadm's RBAC grants a bootstrap token, and kubeadm's
# kubeadm-config for the cluster's configuration.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
# shellcheck source-path=SCRIPTDIR source=kubeadm-lib.sh
. "$(dirname "$0")/kubeadm-lib.sh"
export LAB_PREFIX=iop
lab nodes 2
cp=iop-1 w=iop-2
for x in "$cp" "$w"; do on "$x" kubestrap preflight --fix >/dev/null 2>&1 & done
wait
kubeadm_node "$cp"
on "$cp" kubeadm init --config /root/kubeadm.yaml >"$LAB_LOGS/$cp.kubeadm-init.log" 2>&1 ||
	fail "kubeadm init (log: $LAB_LOGS/$cp.kubeadm-init.log)"
ip=$(lab ip "$cp")
on "$cp" kubestrap init phase addons/pod-network --pod-network-cidr 10.244.0.0/16 --apiserver-advertise-address "$ip" \
	>"$LAB_LOGS/$cp.pod-network.log" 2>&1 || fail "kubestrap's pod network on kubeadm's cluster (log: $LAB_LOGS/$cp.pod-network.log)"
eventually 120 kc "$cp" wait --for=condition=Ready "node/$cp" --timeout=2s || fail "kubeadm's control plane is not Ready"
ok "kubeadm init made a cluster; kubestrap's flannel made its control plane Ready"

read -r -a join <<<"$(on "$cp" kubeadm token create --print-join-command 2>/dev/null)"
[[ ${join[0]} == kubeadm && ${join[1]} == join ]] || fail "kubeadm's join command: ${join[*]}"
join[0]=kubestrap
out=$(on "$w" "${join[@]}" -o json 2>"$LAB_LOGS/$w.join.log") || fail "kubestrap join into kubeadm's cluster: $(tail -20 "$LAB_LOGS/$w.join.log")"
[[ $(jq -r '[.changed, .node] | join(" ")' <<<"$out") == "true $w" ]] || fail "join -o json: $out"
grep -q 'kubestrap-node-identities' "$LAB_LOGS/$w.join.log" || fail "no warning that kubeadm's cluster has no identity registry"
kc "$cp" wait --for=condition=Ready "node/$w" --timeout=120s >/dev/null || fail "$w is not Ready: $(kc "$cp" get nodes)"
ok "kubestrap join with kubeadm's join command: $w Ready in kubeadm's cluster (kubeadm-config read, bootstrap token grants only)"

out=$(kc "$cp" run interop --image=kubestrap.io/demo:v1 --image-pull-policy=Never \
	--overrides="{\"spec\":{\"nodeName\":\"$w\"}}" 2>&1) || fail "a pod on $w: $out"
kc "$cp" wait --for=condition=Ready pod/interop --timeout=90s >/dev/null || fail "the pod on $w did not start: $(kc "$cp" get pod interop -o wide)"
ok "a pod runs on the kubestrap-joined worker"
echo "[e2e] e2e-interop: $PASSED checks passed"
