#!/usr/bin/env bash
# bench.sh init|cluster [RUNS]: timings on fresh lab nodes with images
# preloaded and `preflight --fix` done (as kubeadm's numbers in LAB.md).
#   init:    (a) init start -> join command printed; (b) -> node Ready and
#            CoreDNS Running; plus init's per-phase durations.
#   cluster: 3 nodes: init, then two joins at once (to registered, to
#            Ready), and bare nodes -> all Ready with CoreDNS answering.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
mode="${1:-init}" runs="${2:-3}"
export LAB_PREFIX=bench
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
trap 'lab down' EXIT
stats() { # stats NAME VALUES...: min and median
	local name="$1"; shift
	printf '%s\n' "$@" | sort -n | awk -v n="$name" '{v[NR]=$1} END {printf "  %-34s min %6.2fs  median %6.2fs  (runs: %d)\n", n, v[1], v[int((NR+1)/2)], NR}'
}
corednsReady() { [[ $(kc "$1" get deploy coredns -n kube-system -o jsonpath='{.status.readyReplicas}') == 2 ]]; }
declare -a A B R1 Y1
phases=""
for ((r = 1; r <= runs; r++)); do
	nodes=1
	[[ $mode == cluster ]] && nodes=3
	lab nodes "$nodes" >/dev/null 2>&1
	n1="$LAB_PREFIX-1"
	# Untimed: nodes as the release's install.sh leaves them (the kubelet
	# is then a hard link, not a copy), containerd's CRI config fixed.
	for ((i = 1; i <= nodes; i++)); do
		on "$LAB_PREFIX-$i" sh -c '/opt/kubestrap/install.sh >/dev/null && kubestrap preflight --fix >/dev/null' &
	done
	wait
	flags=()
	[[ $mode == init ]] && flags=(--allow-schedule-on-control-plane)
	t0=$(now)
	initlog="$LAB_LOGS/run$r-init.log"
	info=$(on "$n1" kubestrap init -o json "${flags[@]}" 2>"$initlog") || fail "init of run $r failed (log: $initlog)"
	ta=$(now)
	A+=("$(secs "$t0" "$ta")")
	phases+=$(grep -oE '^\[[a-z/-]+\] .*\(([0-9.]+s|[0-9]+ms)\)$' "$initlog" | grep -v ' healthy (' | sed -E 's/^\[([a-z/-]+)\].*\(([0-9.]+s|[0-9]+ms)\)$/\1 \2/')$'\n'
	if [[ $mode == cluster ]]; then
		cmd=$(jq -r .joinCommand <<<"$info")
		read -r -a joincmd <<<"$cmd"
		log2="$LAB_LOGS/run$r-join-2.log" log3="$LAB_LOGS/run$r-join-3.log"
		on "$LAB_PREFIX-2" "${joincmd[@]}" >"$log2" 2>&1 & p2=$!
		on "$LAB_PREFIX-3" "${joincmd[@]}" >"$log3" 2>&1 & p3=$!
		wait "$p2" "$p3"
		for f in "$log2" "$log3"; do
			R1+=("$(sed -nE 's/.*registered \(([0-9.]+)s after join started.*/\1/p;s/.*registered \(([0-9]+)ms after join started.*/0.\1/p' "$f")")
			Y1+=("$(sed -nE 's/.*is Ready \(([0-9.]+)s after join started.*/\1/p' "$f")")
		done
	fi
	eventually 120 kc "$n1" wait --for=condition=Ready node --all --timeout=2s
	eventually 120 corednsReady "$n1"
	tb=$(now)
	B+=("$(secs "$t0" "$tb")")
	lab down >/dev/null
done
echo "[bench] $mode, $runs runs, $(nproc) CPUs"
stats "init: start -> join command printed" "${A[@]}"
if [[ $mode == init ]]; then
	stats "init: start -> node Ready + CoreDNS" "${B[@]}"
else
	stats "join: start -> node registered" "${R1[@]}"
	stats "join: start -> node Ready" "${Y1[@]}"
	stats "bare nodes -> 3 Ready + CoreDNS" "${B[@]}"
fi
echo "[bench] init phases (median over runs):"
while read -r phase; do
	vals=$(awk -v p="$phase" '$1 == p {v=$2; if (v ~ /ms$/) {sub(/ms$/, "", v); v=v/1000} else {sub(/s$/, "", v)}; print v}' <<<"$phases" | sort -n)
	printf '  %-22s %6.2fs\n' "$phase" "$(awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}' <<<"$vals")"
done < <(awk 'NF {print $1}' <<<"$phases" | awk '!seen[$1]++')
