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
# A side's two nodes are frozen (docker pause) once it is timed, so the side
# that runs second does not share the 2 cores with the first one's idle but
# busy control plane: without it the second side lost 1-2 s per init.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
# shellcheck source-path=SCRIPTDIR source=kubeadm-lib.sh
. "$(dirname "$0")/kubeadm-lib.sh"
rounds="${1:-3}"
export LAB_PREFIX=kvk
trap 'lab down' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

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
	docker pause "$2" "$3" >/dev/null
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
	docker pause "$2" "$3" >/dev/null
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
		BEGIN {side = 0}
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
