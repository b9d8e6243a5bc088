#!/usr/bin/env bash
# e2e-upgrade.sh: a cluster made by `kubestrap up` at the old release
# (v1.34.4: three control planes behind the balancer, two workers) is
# upgraded by `up` with the new release (v1.35.4) under traffic:
#   - a Deployment (3 replicas, PodDisruptionBudget minAvailable 2) behind a
#     Service, and a client sending it a GET every 100 ms from a control
#     plane for the whole upgrade: zero failed requests; a probe of the API
#     through the balancer every 100 ms: its longest gap is reported;
#   - refused before anything changes: a skip of two minors, a worker's
#     kubelet newer than the cluster's API servers;
#   - an apply with an API server flag the new version rejects stops at
#     that component, puts its previous manifest back and leaves the cluster
#     serving at the old version; applies killed with SIGKILL at two
#     moments; then up converges: every node at v1.35.4, etcd three voters
#     at 3.6.6, CoreDNS at v1.13.1 with the user's Corefile, and a second
#     up changes nothing.
# Needs DIST_DIR/IMAGES_TAR (the new release) and OLD_DIST_DIR/OLD_IMAGES_TAR.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
export LAB_PREFIX=upg LAB_BARE=1
for f in "${DIST_DIR:-}.tar.gz" "${IMAGES_TAR:-}" "${OLD_DIST_DIR:-}.tar.gz" "${OLD_IMAGES_TAR:-}"; do
	[[ -f $f ]] || fail "missing $f: DIST_DIR, IMAGES_TAR, OLD_DIST_DIR and OLD_IMAGES_TAR are needed (make e2e-upgrade)"
done
old=$(<"$OLD_DIST_DIR/kubernetes-version") new=$(<"$DIST_DIR/kubernetes-version")
ks="$DIST_DIR/kubestrap"
n=(upg-1 upg-2 upg-3 upg-4 upg-5)
work="$LAB_LOGS/up"
mkdir -p "$work"
stop_background() { touch "$work/stop"; wait 2>/dev/null || true; }
trap 'rc=$?; stop_background; ((rc)) && { diagnose upg-1; tail -50 "$work/up.log" >&2 || true; }; lab down' EXIT
t0=$SECONDS
lab nodes 5
ip=()
for x in "${n[@]}"; do ip+=("$(lab ip "$x")"); done
lbip=$(lab lb upg-1 upg-2 upg-3)
key=$(lab ssh-key)
file="$work/cluster.yaml" kubeconfig="$work/upg.admin.conf"
kx() { "$DIST_DIR/kubectl" --kubeconfig "$kubeconfig" "$@"; }
kc() { local x="$1"; shift; docker exec "$x" /usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }
cluster_file() { # RELEASE IMAGES
	cat <<YAML
apiVersion: kubestrap.io/v1alpha1
kind: Cluster
metadata: {name: upg}
spec:
  release: $1
  images: $2
  preflightFix: true
  ssh: {user: root, keyPath: $key, knownHostsPath: $work/known_hosts}
  # The nodes share this machine's disk, which sits near the kubelet's image
  # GC threshold (85%): with two releases' images the kubelet would remove
  # unused ones (kind turns image GC off in its nodes for the same reason).
  cluster:
    controlPlaneEndpoint: "$lbip:6443"
    kubeletConfiguration: {imageGCHighThresholdPercent: 100, imageGCLowThresholdPercent: 99}
  hosts:
YAML
	local i role
	for i in 0 1 2 3 4; do
		role=control-plane
		((i < 3)) || role=worker
		echo "  - {address: ${ip[i]}, name: ${n[i]}, role: $role, nodeIP: ${ip[i]}}"
	done
}
up() { "$ks" up -f "$file" -o json --accept-new-host-keys 2>>"$work/up.log"; }
versions() { kx get nodes -o jsonpath='{range .items[*]}{.status.nodeInfo.kubeletVersion}{"\n"}{end}' | sort | uniq -c | xargs; }

cluster_file "$OLD_DIST_DIR.tar.gz" "$OLD_IMAGES_TAR" >"$file"
s=$SECONDS
out=$(up) || fail "up at $old: $out"
[[ $(versions) == "5 $old" ]] || fail "want 5 nodes at $old: $(versions)"
ok "up made 3 control planes behind $lbip:6443 and 2 workers at $old in $((SECONDS - s))s"

# The workload, and the user's own Corefile edit, which must survive.
kx apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: demo}
spec:
  replicas: 3
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      terminationGracePeriodSeconds: 30
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor,
         labelSelector: {matchLabels: {app: demo}}}
      containers:
      - name: demo
        image: kubestrap.io/demo:v1
        imagePullPolicy: Never
        env: [{name: DRAIN_SECONDS, value: "5"}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: demo}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: demo}}
---
apiVersion: v1
kind: Service
metadata: {name: demo}
spec:
  selector: {app: demo}
  ports: [{port: 8080}]
YAML
kx rollout status deploy/demo --timeout=120s >/dev/null || fail "demo rollout: $(kx get pods -o wide)"
svc=$(kx get svc demo -o jsonpath='{.spec.clusterIP}')
kx apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: upg-1
  tolerations: [{operator: Exists}]
  containers:
  - {name: client, image: kubestrap.io/demo:v1, imagePullPolicy: Never, args: [load, "http://$svc:8080/"]}
YAML
kx get configmap -n kube-system coredns -o yaml | sed "s/cache 30/cache 31/" | kx replace -f - >/dev/null
tally() { kx logs client | grep '^sent ' | tail -1; }
client_runs() { tally | grep -q sent; }
eventually 60 client_runs || fail "the client does not run: $(kx get pod client -o wide)"
# The API through the balancer, every 100 ms: one line per answer.
while [[ ! -e $work/stop ]]; do
	printf '%s %s\n' "$(date +%s.%N)" "$(curl -sk --max-time 1 -o /dev/null -w '%{http_code}' "https://$lbip:6443/readyz" || true)"
	sleep 0.1
done >"$work/api-probe.txt" &
ok "a Deployment of 3 behind Service $svc (PDB minAvailable 2) and a client on upg-1 sending a GET every 100 ms"

# The new release on upg-1 (for the checks below) and on a worker.
install_new() {
	docker cp "$DIST_DIR.tar.gz" "$1:/root/new.tar.gz" && docker cp "$IMAGES_TAR" "$1:/root/new-images.tar"
	on "$1" sh -c "cd /root && tar xzf new.tar.gz && ./$(basename "$DIST_DIR")/install.sh >/dev/null &&
		kubestrap images load /root/new-images.tar >/dev/null"
}
install_new upg-1 || fail "install the new release on upg-1"
install_new upg-4 || fail "install the new release on upg-4"
set +e
out=$(on upg-1 kubestrap upgrade apply v1.36.3 -y 2>&1); rc=$?
set -e
[[ $rc == 2 && $out == *"skips 1 minor"* ]] || fail "a skip of two minors: rc=$rc $out"
set +e
out=$(on upg-4 kubestrap upgrade node --kubernetes-version "$new" 2>&1); rc=$?
set -e
[[ $rc != 0 && $out == *"upgrade node follows the cluster"* && $(on upg-4 kubelet --version) == *"$old" ]] ||
	fail "a worker's kubelet newer than the API servers: rc=$rc $out"
plan=$(on upg-1 kubestrap upgrade plan -o json) || fail "upgrade plan: $plan"
[[ $(jq -r '[.clusterVersion, .target, (.nodes | length), .etcd.healthy] | join(" ")' <<<"$plan") == "$old $new 5 3" ]] ||
	fail "upgrade plan: $plan"
ok "plan shows $old -> $new for 5 nodes with 3 healthy etcd members; a skip of two minors and a kubelet ahead of the API servers are refused"

# A step that fails: the new API server rejects the flag; it is rolled back.
s=$SECONDS
set +e
out=$(on upg-1 kubestrap upgrade apply "$new" -y --apiserver-extra-args no-such-flag=1 --timeout 90s 2>&1); rc=$?
set -e
echo "$out" >"$work/apply-bad-flag.log"
[[ $rc == 1 && $out == *"phase control-plane/kube-apiserver failed: rolled back"* && $out == *"unknown flag: --no-such-flag"* ]] ||
	fail "a bad API server flag: rc=$rc (log: $work/apply-bad-flag.log)"
on upg-1 grep -q "kube-apiserver:$old" /etc/kubernetes/manifests/kube-apiserver.yaml || fail "the old API server manifest is not back"
on upg-1 sh -c '! grep -q no-such-flag /etc/kubernetes/manifests/kube-apiserver.yaml' || fail "the bad flag stayed"
eventually 60 curl -skf "https://${ip[0]}:6443/readyz" || fail "upg-1's API server does not serve after the rollback"
[[ $(kx get cm -n kube-system kubestrap-config -o jsonpath='{.data.ClusterConfiguration}' | grep kubernetesVersion) == *"$old" ]] ||
	fail "the stored configuration moved on although the upgrade stopped"
ok "an API server flag the new version rejects: stopped at kube-apiserver, previous manifest back, serving at $old ($((SECONDS - s))s)"

# Killed at two moments (in the control-plane phase, then later); up resumes.
for d in 4 25; do
	on upg-1 timeout -s KILL "$d" kubestrap upgrade apply "$new" -y >"$work/apply-killed-$d.log" 2>&1 || true
done
ok "upgrade apply killed with SIGKILL after 4 s and after 25 s"

cluster_file "$DIST_DIR.tar.gz" "$IMAGES_TAR" >"$file"
s=$SECONDS
out=$(up) || fail "up with $new: $out"
took=$((SECONDS - s))
echo "$out" >"$work/up-upgrade.json"
[[ $(versions) == "5 $new" ]] || fail "want 5 nodes at $new: $(versions)"
ok "up upgraded the cluster to $new in ${took}s: $(jq -r '[.hosts[] | .name + " " + ([.steps[] | select(.name | startswith("upgrade")) | (.seconds | tostring) + "s"] | join(","))] | join("; ")' <<<"$out")"

sleep 2
stop_background
line=$(tally)
read -r _ sent _ failed <<<"$line"
kx logs client | grep FAILED >"$work/client-failures.txt" || true
gap=$(awk '$2 == 200 { if (last) { g = $1 - last; if (g > max) max = g }; last = $1 } END { printf "%.1f", max }' "$work/api-probe.txt")
echo "[e2e] client: $sent requests, $failed failed; API through the balancer: longest gap ${gap}s"
((sent > 100)) || fail "the client sent only $sent requests"
((failed == 0)) || fail "$failed of $sent requests failed: $(head -5 "$work/client-failures.txt")"
ok "zero failed requests of $sent through the Service during the upgrade; longest API gap through the balancer ${gap}s"

etcdctl() {
	kc upg-1 -n kube-system exec etcd-upg-1 -- etcdctl --cacert /etc/kubernetes/pki/etcd/ca.crt \
		--cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key \
		--endpoints https://127.0.0.1:2379 "$@"
}
st=$(etcdctl endpoint status --cluster -w json) || fail "etcd status: $st"
[[ $(jq -r '[.[].Status.version] | unique | join(",")' <<<"$st") == 3.6.6 && $(jq length <<<"$st") == 3 ]] ||
	fail "etcd members and versions: $st"
[[ $(etcdctl member list -w json | jq '[.members[] | select(.isLearner != true)] | length') == 3 ]] || fail "want 3 voters"
for x in upg-1 upg-2 upg-3; do
	for c in kube-apiserver kube-controller-manager kube-scheduler; do
		on "$x" grep -q "image: registry.k8s.io/$c:$new" "/etc/kubernetes/manifests/$c.yaml" || fail "$x: $c not at $new"
	done
done
[[ $(kx -n kube-system get deploy coredns -o jsonpath='{.spec.template.spec.containers[0].image}') == *:v1.13.1 ]] ||
	fail "CoreDNS not upgraded"
kx get configmap -n kube-system coredns -o yaml | grep -q "cache 31" || fail "the user's Corefile edit was lost"
[[ $(kx -n kube-system get ds kube-proxy -o jsonpath='{.spec.template.spec.containers[0].image}') == *:"$new" ]] ||
	fail "kube-proxy not upgraded"
[[ $(kx get nodes -o jsonpath='{.items[*].spec.unschedulable}') == "" ]] || fail "a node stayed cordoned"
ok "etcd: 3 voters at 3.6.6; static pods at $new on every control plane; CoreDNS v1.13.1 with the user's Corefile; kube-proxy $new; no node cordoned"

out=$(up) || fail "second up: $out"
[[ $(jq .changed <<<"$out") == false ]] || fail "second up changed: $(jq -c '[.hosts[] | {name, steps: [.steps[] | select(.changed) | .name]}]' <<<"$out")"
ok "a second up changes nothing"
echo "[e2e] e2e-upgrade: $PASSED checks passed in $((SECONDS - t0))s"
