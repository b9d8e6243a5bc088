#!/usr/bin/env bash
# bench-ha.sh [RUNS]: bare lab nodes -> 3 control planes behind haproxy and 2
# workers, all Ready with CoreDNS answering; the time of each control-plane
# join (start to exit: etcd member promoted, control plane healthy, node
# Ready), RUNS times (default 3), min and median.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
runs="${1:-3}"
export LAB_PREFIX=bench-ha
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
stats() { # stats NAME VALUES...: min and median
	local name="$1"; shift
	printf '%s\n' "$@" | sort -n | awk -v n="$name" '{v[NR]=$1} END {printf "  %-40s min %6.2fs  median %6.2fs  (runs: %d)\n", n, v[1], v[int((NR+1)/2)], NR}'
}
corednsReady() { [[ $(kc "$1" get deploy coredns -n kube-system -o jsonpath='{.status.readyReplicas}') == 2 ]]; }
trap 'lab down' EXIT
declare -a INIT CPJ ALL
for ((r = 1; r <= runs; r++)); do
	lab nodes 5 >/dev/null 2>&1
	nodes=("$LAB_PREFIX-1" "$LAB_PREFIX-2" "$LAB_PREFIX-3" "$LAB_PREFIX-4" "$LAB_PREFIX-5")
	for n in "${nodes[@]}"; do on "$n" kubestrap preflight --fix >/dev/null & done
	wait
	lbip=$(lab lb "${nodes[@]:0:3}")
	t0=$(now)
	info=$(on "${nodes[0]}" kubestrap init -o json --control-plane-endpoint "$lbip:6443" --upload-certs \
		2>"$LAB_LOGS/run$r-init.log") || fail "init of run $r (log: $LAB_LOGS/run$r-init.log)"
	INIT+=("$(secs "$t0" "$(now)")")
	read -r -a cpjoin <<<"$(jq -r .controlPlaneJoinCommand <<<"$info")"
	read -r -a join <<<"$(jq -r .joinCommand <<<"$info")"
	for n in "${nodes[@]:1:2}"; do
		t=$(now)
		on "$n" "${cpjoin[@]}" >"$LAB_LOGS/run$r-$n.log" 2>&1 || fail "control-plane join of $n (log: $LAB_LOGS/run$r-$n.log)"
		CPJ+=("$(secs "$t" "$(now)")")
	done
	pids=()
	for n in "${nodes[@]:3}"; do on "$n" "${join[@]}" >"$LAB_LOGS/run$r-$n.log" 2>&1 & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" || fail "a worker join of run $r failed (logs in $LAB_LOGS)"; done
	eventually 120 kc "${nodes[0]}" wait --for=condition=Ready node --all --timeout=2s
	eventually 120 corednsReady "${nodes[0]}"
	ALL+=("$(secs "$t0" "$(now)")")
	lab down >/dev/null
done
echo "[bench] ha, $runs runs, $(nproc) CPUs"
stats "init (with --upload-certs)" "${INIT[@]}"
stats "control-plane join: start -> exit" "${CPJ[@]}"
stats "init start -> 3 CP + 2 workers Ready, DNS" "${ALL[@]}"
