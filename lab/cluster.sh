#!/usr/bin/env bash
# cluster.sh N: the lab's cluster, made only with kubestrap: N nodes, init
# on the first, join the rest at the same time. Writes .lab/admin.conf.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
n="${1:-3}"
export LAB_PREFIX="${LAB_PREFIX:-lab}"
lab nodes "$n"
nodes=()
for ((i = 1; i <= n; i++)); do nodes+=("$LAB_PREFIX-$i"); done
for x in "${nodes[@]}"; do on "$x" kubestrap preflight --fix >/dev/null & done
wait
flags=()
((n == 1)) && flags=(--allow-schedule-on-control-plane) # no worker to run pods on
info=$(on "${nodes[0]}" kubestrap init -o json "${flags[@]}")
cmd=$(jq -r .joinCommand <<<"$info")
read -r -a joincmd <<<"$cmd"
pids=()
for x in "${nodes[@]:1}"; do on "$x" "${joincmd[@]}" >"$LAB_LOGS/$x.join.log" 2>&1 & pids+=($!); done
for i in "${!pids[@]}"; do
	x="${nodes[i + 1]}"
	wait "${pids[i]}" || fail "the join of $x failed: see $LAB_LOGS/$x.join.log"
done
kc "${nodes[0]}" wait --for=condition=Ready node --all --timeout=120s >/dev/null
on "${nodes[0]}" cat /etc/kubernetes/admin.conf >"$here/../.lab/admin.conf"
chmod 600 "$here/../.lab/admin.conf"
cat <<EOT

The lab cluster is up: $n node(s), made with kubestrap init and join.
$(kc "${nodes[0]}" get nodes -o wide)

Use it from this machine (the API server is at $(jq -r .endpoint <<<"$info")):
  export KUBECONFIG=$(cd "$here/.." && pwd)/.lab/admin.conf
  kubectl get pods -A            # or .lab/bin/kubectl
Join another node:   $cmd
Inside a node:       docker exec -it ${nodes[0]} bash
Tear it down:        make lab-down
EOT
