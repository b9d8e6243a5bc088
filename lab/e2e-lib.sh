# shellcheck shell=bash
# Shared helpers of the lab's end-to-end tests (sourced).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PASSED=0
lab() { "$here/lab.sh" "$@"; }
# LAB_LOGS: this run's log directory (init and join output, diagnostics,
# lab.sh's per-node files), made once under .lab/logs and kept after the
# run. Exported, so lab.sh and any script run from this one write there too.
if [[ -z ${LAB_LOGS:-} ]]; then
	LAB_LOGS=$(lab logs "$(basename "$0" .sh)")
	printf '[lab] logs: %s\n' "$LAB_LOGS" >&2
fi
mkdir -p "$LAB_LOGS"
export LAB_LOGS
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
# diagnose NODE...: prints the nodes and pods, and writes each node's
# kubelet log to a file in $LAB_LOGS, so the failure line stays readable.
diagnose() {
	local n log
	for n in "$@"; do
		log="$LAB_LOGS/$n.kubelet.log"
		kc "$n" get nodes -o wide >&2 2>&1 || true
		kc "$n" get pods -A -o wide >&2 2>&1 || true
		on "$n" journalctl -u kubelet --no-pager -n 200 >"$log" 2>&1 || true
		echo "[e2e] kubelet log of $n: $log" >&2
	done
}
# demo_container INDENT: the demo container (answers "pod=NAME node=NODE" on
# 8080), indented for a pod spec's containers list.
demo_container() {
	sed "s/^/$1/" <<'YAML'
- name: demo
  image: kubestrap.io/demo:v1
  imagePullPolicy: Never
  env:
  - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
  - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
YAML
}
# demo_yaml REPLICAS: the demo Deployment, its pods spread over the nodes
# (one per node first) and Ready once they serve /healthz on 8080.
demo_yaml() {
	cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: demo}
spec:
  replicas: $1
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor,
         labelSelector: {matchLabels: {app: demo}}}
      containers:
$(demo_container '      ')
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
YAML
}
# demo_pod_yaml: the demo as a static pod on the host network.
demo_pod_yaml() {
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: demo, namespace: default}
spec:
  hostNetwork: true
  containers:
$(demo_container '  ')
YAML
}
# default_sa NODE: wait until kube-controller-manager has made the default
# ServiceAccount a bare pod needs. Like kubeadm's, init returns before kcm
# holds its lease and runs its controllers.
default_sa() { eventually 60 kc "$1" get serviceaccount default || fail "no default ServiceAccount on $1 after 60 s"; }
