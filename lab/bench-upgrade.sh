#!/usr/bin/env bash
# bench-upgrade.sh [RUNS]: a 3 control planes (behind haproxy) + 2 workers
# cluster at the old release (OLD_DIST_DIR, v1.34.4) upgraded to the new
# one (DIST_DIR, v1.35.4) as `up` drives it: upgrade apply on the first
# control plane, upgrade node on the others one at a time, then each worker
# drained, upgraded and uncordoned. The new release and its images are
# installed on every node before the clock starts (up uploads them before
# it upgrades). RUNS times (default 3): min and median of each step.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
runs="${1:-3}"
export LAB_PREFIX=bench-upg
new=$(<"$DIST_DIR/kubernetes-version")
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
stats() { # stats NAME VALUES...: min and median
	local name="$1"; shift
	printf '%s\n' "$@" | sort -n | awk -v n="$name" '{v[NR]=$1} END {printf "  %-46s min %6.2fs  median %6.2fs  (samples: %d)\n", n, v[1], v[int((NR+1)/2)], NR}'
}
kb() { local x="$1"; shift; docker exec "$x" /opt/kubestrap/kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }
install_new() {
	docker cp "$DIST_DIR.tar.gz" "$1:/root/new.tar.gz" && docker cp "$IMAGES_TAR" "$1:/root/new-images.tar" &&
		on "$1" sh -c "cd /root && tar xzf new.tar.gz && ./$(basename "$DIST_DIR")/install.sh >/dev/null &&
			kubestrap images load /root/new-images.tar >/dev/null"
}
trap 'lab down' EXIT
declare -a APPLY CPN WRK ALL
for ((r = 1; r <= runs; r++)); do
	DIST_DIR=$OLD_DIST_DIR IMAGES_TAR=$OLD_IMAGES_TAR lab nodes 5 >/dev/null 2>&1
	nodes=("$LAB_PREFIX-1" "$LAB_PREFIX-2" "$LAB_PREFIX-3" "$LAB_PREFIX-4" "$LAB_PREFIX-5")
	for x in "${nodes[@]}"; do on "$x" kubestrap preflight --fix >/dev/null & done
	wait
	lbip=$(lab lb "${nodes[@]:0:3}")
	info=$(on "${nodes[0]}" kubestrap init -o json --control-plane-endpoint "$lbip:6443" --upload-certs \
		2>"$LAB_LOGS/run$r-init.log") || fail "init of run $r (log: $LAB_LOGS/run$r-init.log)"
	read -r -a cpjoin <<<"$(jq -r .controlPlaneJoinCommand <<<"$info")"
	read -r -a join <<<"$(jq -r .joinCommand <<<"$info")"
	for x in "${nodes[@]:1:2}"; do on "$x" "${cpjoin[@]}" >"$LAB_LOGS/run$r-$x.join.log" 2>&1 || fail "join of $x"; done
	for x in "${nodes[@]:3}"; do on "$x" "${join[@]}" >"$LAB_LOGS/run$r-$x.join.log" 2>&1 || fail "join of $x"; done
	eventually 120 kb "${nodes[0]}" wait --for=condition=Ready node --all --timeout=2s || {
		diagnose "${nodes[@]}"
		fail "nodes not Ready"
	}
	for x in "${nodes[@]}"; do install_new "$x" & done
	wait
	t0=$(now)
	on "${nodes[0]}" kubestrap upgrade apply "$new" -y >"$LAB_LOGS/run$r-apply.log" 2>&1 || fail "apply (log: $LAB_LOGS/run$r-apply.log)"
	APPLY+=("$(secs "$t0" "$(now)")")
	for x in "${nodes[@]:1:2}"; do
		t=$(now)
		on "$x" kubestrap upgrade node >"$LAB_LOGS/run$r-$x.upgrade.log" 2>&1 || fail "upgrade node on $x"
		CPN+=("$(secs "$t" "$(now)")")
	done
	for x in "${nodes[@]:3}"; do
		t=$(now)
		kb "${nodes[0]}" drain "$x" --ignore-daemonsets --delete-emptydir-data --timeout=300s >/dev/null 2>&1 || fail "drain $x"
		on "$x" kubestrap upgrade node >"$LAB_LOGS/run$r-$x.upgrade.log" 2>&1 || fail "upgrade node on $x"
		kb "${nodes[0]}" uncordon "$x" >/dev/null
		WRK+=("$(secs "$t" "$(now)")")
	done
	ALL+=("$(secs "$t0" "$(now)")")
	[[ $(kb "${nodes[0]}" get nodes -o jsonpath='{.items[*].status.nodeInfo.kubeletVersion}') == "$new $new $new $new $new" ]] ||
		fail "not every node at $new after run $r"
	lab down >/dev/null
done
echo "[bench] upgrade $(<"$OLD_DIST_DIR/kubernetes-version") -> $new, 3 CP + 2 workers, $runs runs, $(nproc) CPUs"
stats "upgrade apply (first control plane)" "${APPLY[@]}"
stats "upgrade node (other control planes)" "${CPN[@]}"
stats "worker: drain, upgrade node, uncordon" "${WRK[@]}"
stats "whole cluster" "${ALL[@]}"
