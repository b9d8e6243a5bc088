#!/usr/bin/env bash
# bench-vs-kubeadm.sh [ROUNDS]: kubestrap next to upstream kubeadm, built
# from the same pinned Kubernetes module (bundle/build.sh kubeadm; a
# comparison tool only, never shipped). Each round gets 4 fresh lab nodes:
# two set up the way the kubeadm packages leave a node (kubelet unit plus the
# 10-kubeadm.conf drop-in), two left to kubestrap. Both sides get the same
# images, the same kubelet and `kubestrap preflight --fix` (containerd's CRI
# config), untimed. Timed, one side at a time, the order alternating:
#   init: process start to exit, the join command printed;
#   join: process start to exit, the node registered, against a settled
#   control plane: untimed, after init, until the controller manager runs
#   its controllers (the default ServiceAccount exists) and 2 s more. A join
#   started at once after init waits for the controller manager to sign its
#   kubelet's certificate (5-8 s on 2 cores, either tool); `make bench`
#   times that path (bare nodes to a Ready cluster).
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

declare -a KI KJ KR SI SJ SR KA SA
# apiserver_secs LOG: seconds from the kubelet's start to a healthy API
# server, as each tool's init log reports it (kubeadm: its kubelet check plus
# its control-plane check; kubestrap: wait-control-plane's apiserver line).
apiserver_secs() {
	awk '
		function secs(v) {if (v ~ /ms$/) {sub(/ms$/, "", v); return v / 1000}; sub(/s$/, "", v); return v}
		/kubelet is healthy after/ {t += secs($NF)}
		/kube-apiserver is healthy after/ {t += secs($NF)}
		/^\[wait-control-plane\] kube-apiserver healthy \(/ {v = $NF; gsub(/[()]/, "", v); t = secs(v)}
		END {printf "%.2f", t}' "$1"
}
settle() { default_sa "$1" >/dev/null && sleep 2; }
# timed_join CP WORKER LOG JOIN...: runs the join on WORKER and sets
# JOIN_EXIT (start to exit) and JOIN_REG (start to the Node object, seen by
# a watch on CP that was set up before the join started: the same clock
# for both tools, whose joins end at different points).
timed_join() {
	local cp="$1" worker="$2" log="$3" t0 mark
	shift 3
	mark=$(mktemp)
	(kc "$cp" wait --for=create "node/$worker" --timeout=120s >/dev/null && now >"$mark") &
	local watcher=$!
	sleep 0.5
	t0=$(now)
	on "$worker" "$@" >"$log" 2>&1 || fail "join of $worker (log: $log)"
	JOIN_EXIT=$(secs "$t0" "$(now)")
	wait "$watcher" || fail "$worker never registered"
	JOIN_REG=$(secs "$t0" "$(cat "$mark")")
	rm -f "$mark"
}
run_kubeadm() { # run_kubeadm ROUND CP WORKER
	local t0 t1 log="$LAB_LOGS/round$1-kubeadm"
	t0=$(now)
	on "$2" kubeadm init --config /root/kubeadm.yaml >"$log-init.log" 2>&1 || fail "kubeadm init (log: $log-init.log)"
	t1=$(now)
	read -r -a join <<<"$(on "$2" kubeadm token create --print-join-command 2>/dev/null)"
	settle "$2"
	timed_join "$2" "$3" "$log-join.log" "${join[@]}" --ignore-preflight-errors=all
	KI+=("$(secs "$t0" "$t1")") KJ+=("$JOIN_EXIT") KR+=("$JOIN_REG") KA+=("$(apiserver_secs "$log-init.log")")
	docker pause "$2" "$3" >/dev/null
}
run_kubestrap() { # run_kubestrap ROUND CP WORKER
	local t0 t1 info log="$LAB_LOGS/round$1-kubestrap"
	t0=$(now)
	info=$(on "$2" kubestrap init -o json 2>"$log-init.log") || fail "kubestrap init (log: $log-init.log)"
	t1=$(now)
	read -r -a join <<<"$(jq -r .joinCommand <<<"$info")"
	settle "$2"
	timed_join "$2" "$3" "$log-join.log" "${join[@]}"
	SI+=("$(secs "$t0" "$t1")") SJ+=("$JOIN_EXIT") SR+=("$JOIN_REG") SA+=("$(apiserver_secs "$log-init.log")")
	docker pause "$2" "$3" >/dev/null
}

for ((r = 1; r <= rounds; r++)); do
	lab nodes 4 >/dev/null 2>&1
	for i in 1 2 3 4; do on "$LAB_PREFIX-$i" kubestrap preflight --fix >/dev/null 2>&1 & done
	wait
	# Each tool's nodes as its own installer leaves them: the kubeadm
	# packages' kubelet and unit, kubestrap's install.sh.
	kubeadm_node "$LAB_PREFIX-1" && kubeadm_node "$LAB_PREFIX-2"
	for i in 3 4; do on "$LAB_PREFIX-$i" /opt/kubestrap/install.sh >/dev/null; done
	if ((r % 2)); then
		run_kubeadm "$r" "$LAB_PREFIX-1" "$LAB_PREFIX-2" && run_kubestrap "$r" "$LAB_PREFIX-3" "$LAB_PREFIX-4"
	else
		run_kubestrap "$r" "$LAB_PREFIX-3" "$LAB_PREFIX-4" && run_kubeadm "$r" "$LAB_PREFIX-1" "$LAB_PREFIX-2"
	fi
	printf '[bench] round %d: init kubeadm %ss kubestrap %ss; join (exit) kubeadm %ss kubestrap %ss; join (registered) kubeadm %ss kubestrap %ss\n' \
		"$r" "${KI[-1]}" "${SI[-1]}" "${KJ[-1]}" "${SJ[-1]}" "${KR[-1]}" "${SR[-1]}"
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
			printf "| %-22s | %6.2f / %6.2f s | %6.2f / %6.2f s | %.2fx |\n", n, lo[0], m0, lo[1], m1, m1 / m0
		}'
}
echo "[bench] kubestrap vs kubeadm $("$KUBEADM" version -o short), $rounds rounds, $(nproc) CPUs, alternating order"
echo "| step                   | kubeadm min / median | kubestrap min / median | ratio |"
echo "| ---------------------- | -------------------- | ---------------------- | ----- |"
row init "${KI[@]}" -- "${SI[@]}"
row "  of it, API server up" "${KA[@]}" -- "${SA[@]}"
row "join, to exit" "${KJ[@]}" -- "${SJ[@]}"
row "join, node registered" "${KR[@]}" -- "${SR[@]}"
echo "[bench] \"API server up\": from the kubelet's start to a healthy API server, as each init reports it; the rest of init is what each tool does around it."
echo "[bench] kubeadm join exits after the kubelet's TLS bootstrap; kubestrap join exits once the node is Ready."
