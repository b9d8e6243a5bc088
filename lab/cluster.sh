#!/usr/bin/env bash
# cluster.sh CP WORKERS: the lab's cluster, made only with kubestrap: CP
# control-plane nodes and WORKERS workers. With CP > 1 a load balancer
# (haproxy, lab.sh lb) fronts the API servers and is the cluster's
# --control-plane-endpoint; init uploads the certificates, the other
# control planes join one at a time (etcd adds one learner at a time), the
# workers all at once. Writes .lab/admin.conf.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
cp="${1:-1}" workers="${2:-2}"
((cp >= 1)) || fail "a cluster needs a control-plane node (CP >= 1)"
export LAB_PREFIX="${LAB_PREFIX:-lab}"
lab nodes $((cp + workers))
nodes=()
for ((i = 1; i <= cp + workers; i++)); do nodes+=("$LAB_PREFIX-$i"); done
cps=("${nodes[@]:0:cp}") wks=("${nodes[@]:cp}")
for x in "${nodes[@]}"; do on "$x" kubestrap preflight --fix >/dev/null & done
wait
flags=()
((workers == 0)) && flags+=(--allow-schedule-on-control-plane) # no worker to run pods on
if ((cp > 1)); then
	lbip=$(lab lb "${cps[@]}")
	flags+=(--control-plane-endpoint "$lbip:6443" --upload-certs)
fi
initlog="$LAB_LOGS/${cps[0]}.init.log"
info=$(on "${cps[0]}" kubestrap init -o json "${flags[@]}" 2>"$initlog") || fail "init failed: see $initlog"
read -r -a joincmd <<<"$(jq -r .joinCommand <<<"$info")"
for x in "${cps[@]:1}"; do
	read -r -a cpjoin <<<"$(jq -r .controlPlaneJoinCommand <<<"$info")"
	on "$x" "${cpjoin[@]}" >"$LAB_LOGS/$x.join.log" 2>&1 || fail "the control-plane join of $x failed: see $LAB_LOGS/$x.join.log"
done
pids=()
for x in "${wks[@]}"; do on "$x" "${joincmd[@]}" >"$LAB_LOGS/$x.join.log" 2>&1 & pids+=($!); done
for i in "${!pids[@]}"; do
	wait "${pids[i]}" || fail "the join of ${wks[i]} failed: see $LAB_LOGS/${wks[i]}.join.log"
done
kc "${cps[0]}" wait --for=condition=Ready node --all --timeout=120s >/dev/null
on "${cps[0]}" cat /etc/kubernetes/admin.conf >"$here/../.lab/admin.conf"
chmod 600 "$here/../.lab/admin.conf"
cat <<EOT

The lab cluster is up: $cp control-plane node(s) and $workers worker(s), made with kubestrap init and join.
$(kc "${cps[0]}" get nodes -o wide)

Use it from this machine (the API server is at $(jq -r .endpoint <<<"$info")):
  export KUBECONFIG=$(cd "$here/.." && pwd)/.lab/admin.conf
  kubectl get pods -A            # or .lab/bin/kubectl
Join another node:   ${joincmd[*]}
Inside a node:       docker exec -it ${cps[0]} bash
Tear it down:        make lab-down
EOT
