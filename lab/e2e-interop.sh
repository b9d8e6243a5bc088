#!/usr/bin/env bash
# e2e-interop.sh: kubestrap and upstream kubeadm (built from the same pinned
# module) on the wire, both ways:
#   - a cluster made by `kubeadm init` (packaged-node layout: kubelet unit
#     plus 10-kubeadm.conf) gets flannel from kubestrap's manifest (`kubestrap
#     init phase addons/pod-network` on its control plane), then `kubestrap
#     join` adds a worker with kubeadm's own join command: only what kubeadm's
#     RBAC grants a bootstrap token, and kubeadm's kubeadm-config;
#   - kubestrap init reads the very --config file kubeadm init was given
#     (kubeadm.k8s.io/v1beta4 plus a KubeletConfiguration), and an unmodified
#     `kubeadm join` adds a worker to that cluster (kubeadm-config,
#     kubelet-config and kube-proxy readable as kubeadm's RBAC allows;
#     flannel's cni-config container writes the node's CNI config); a
#     kubestrap worker joins it too, and every node has the file's kubelet
#     settings.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
# shellcheck source-path=SCRIPTDIR source=kubeadm-lib.sh
. "$(dirname "$0")/kubeadm-lib.sh"
export LAB_PREFIX=iop
# Like the other lab tests: the nodes go when the test ends (a failing run
# first shows the first node's state), so that no cluster keeps the 2 cores
# busy under the next test or bench.
trap 'rc=$?; ((rc)) && diagnose "iop-1"; lab down' EXIT
lab nodes 5
cp=iop-1 w=iop-2 kcp=iop-3 kw=iop-4 sw=iop-5
for x in "$cp" "$w" "$kcp" "$kw" "$sw"; do on "$x" kubestrap preflight --fix >/dev/null 2>&1 & done
wait
kubeadm_node "$cp"
kubeadm_node "$kw"
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

default_sa "$cp"
out=$(kc "$cp" run interop --image=kubestrap.io/demo:v1 --image-pull-policy=Never \
	--overrides="{\"spec\":{\"nodeName\":\"$w\"}}" 2>&1) || fail "a pod on $w: $out"
kc "$cp" wait --for=condition=Ready pod/interop --timeout=90s >/dev/null || fail "the pod on $w did not start: $(kc "$cp" get pod interop -o wide)"
ok "a pod runs on the kubestrap-joined worker"

on "$cp" cat /root/kubeadm.yaml | docker exec -i "$kcp" sh -c 'cat >/root/kubeadm.yaml'
out=$(on "$kcp" kubestrap config validate --config /root/kubeadm.yaml 2>&1) || fail "config validate of kubeadm's file: $out"
info=$(on "$kcp" kubestrap init --config /root/kubeadm.yaml -o json 2>"$LAB_LOGS/$kcp.init.log") ||
	fail "kubestrap init with kubeadm's config file (log: $LAB_LOGS/$kcp.init.log)"
! grep -q "warning: config" "$LAB_LOGS/$kcp.init.log" || fail "kubeadm's file drew warnings: $(grep warning "$LAB_LOGS/$kcp.init.log")"
kc "$kcp" get configmap kubeadm-config -n kube-system -o jsonpath='{.data.ClusterConfiguration}' | grep -q 'apiVersion: kubeadm.k8s.io/v1beta4' ||
	fail "kubestrap's cluster has no kubeadm-config in kubeadm's apiVersion"
read -r -a join <<<"$(jq -r .joinCommand <<<"$info")"
join[0]=kubeadm
on "$kw" "${join[@]}" --ignore-preflight-errors=all >"$LAB_LOGS/$kw.kubeadm-join.log" 2>&1 ||
	fail "kubeadm join into kubestrap's cluster: $(tail -20 "$LAB_LOGS/$kw.kubeadm-join.log")"
# kubeadm returns once the kubelet has its certificate; it registers a moment later.
eventually 60 kc "$kcp" get "node/$kw" || fail "$kw did not register: $(kc "$kcp" get nodes)"
kc "$kcp" wait --for=condition=Ready "node/$kw" --timeout=120s >/dev/null || fail "$kw is not Ready: $(kc "$kcp" get nodes)"
on "$kw" test -s /etc/cni/net.d/10-kubestrap.conflist || fail "flannel's cni-config wrote no CNI config on $kw"
ok "kubeadm join with kubestrap's join command: $kw Ready in kubestrap's cluster (its CNI config from flannel's cni-config)"
default_sa "$kcp"
out=$(kc "$kcp" run interop --image=kubestrap.io/demo:v1 --image-pull-policy=Never \
	--overrides="{\"spec\":{\"nodeName\":\"$kw\"}}" 2>&1) || fail "a pod on $kw: $out"
kc "$kcp" wait --for=condition=Ready pod/interop --timeout=90s >/dev/null || fail "the pod on $kw did not start: $(kc "$kcp" get pod interop -o wide)"
ok "a pod runs on the kubeadm-joined worker"
read -r -a join <<<"$(jq -r .joinCommand <<<"$info")"
on "$sw" "${join[@]}" >"$LAB_LOGS/$sw.join.log" 2>&1 || fail "kubestrap join (log: $LAB_LOGS/$sw.join.log)"
for n in "$kcp" "$kw" "$sw"; do
	pods=$(kc "$kcp" get node "$n" -o jsonpath='{.status.capacity.pods}')
	[[ $pods == 90 ]] || fail "$n has room for $pods pods, not the file's maxPods 90"
done
extras() {
	[[ $(kc "$kcp" get pod "kube-apiserver-$kcp" -n kube-system -o jsonpath='{.spec.containers[0].env[?(@.name=="KUBESTRAP_E2E")].value} {.spec.volumes[?(@.name=="e2e-extra")].hostPath.path}') == "extra-env /var/tmp/e2e-extra" ]]
}
eventually 60 extras || fail "the API server lacks the file's extraEnvs or extraVolumes: $(kc "$kcp" get pod "kube-apiserver-$kcp" -n kube-system -o yaml)"
ok "kubestrap init read kubeadm's own --config file; its KubeletConfiguration reached every node, its extraEnvs and extraVolumes the API server (kubeadm- and kubestrap-joined)"
echo "[e2e] e2e-interop: $PASSED checks passed"
