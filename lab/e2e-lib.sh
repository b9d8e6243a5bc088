# Shared helpers of the lab's end-to-end tests (sourced).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PASSED=0
lab() { "$here/lab.sh" "$@"; }
fail() { printf '[e2e] FAIL: %s\n' "$*" >&2; exit 1; }
ok() { PASSED=$((PASSED + 1)); printf '[e2e] ok: %s\n' "$*"; }
# on NODE CMD...: run a command in a node.
on() { local n="$1"; shift; docker exec "$n" "$@"; }
# kc NODE ARGS...: the bundle's kubectl with the node's admin.conf.
kc() { local n="$1"; shift; docker exec "$n" /opt/kubestrap/kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }
# kci is kc with standard input passed through (kubectl apply -f -).
kci() { local n="$1"; shift; docker exec -i "$n" /opt/kubestrap/kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }
# eventually SECONDS CMD...: retry until CMD succeeds.
eventually() {
	local t="$1"; shift
	local end=$((SECONDS + t))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || return 1
		sleep 0.5
	done
}
pki_sum() { on "$1" sh -c 'find /etc/kubernetes/pki -type f | sort | xargs sha256sum' | sha256sum; }
# diagnose writes the cluster's state and kubelet logs to a file, so the
# failure line stays readable, and prints the nodes and pods.
diagnose() {
	local n log="$here/../.lab/$LAB_PREFIX-diagnose.log"
	mkdir -p "$(dirname "$log")"
	for n in "$@"; do
		kc "$n" get nodes -o wide >&2 2>&1 || true
		kc "$n" get pods -A -o wide >&2 2>&1 || true
		on "$n" journalctl -u kubelet --no-pager -n 200 >"$log" 2>&1 || true
	done
	echo "[e2e] kubelet log of $1: $log" >&2
}
