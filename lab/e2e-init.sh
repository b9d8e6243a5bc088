#!/usr/bin/env bash
# e2e-init.sh: `kubestrap init` on a fresh lab node gives a Ready control
# plane with DNS, Services and a signed cluster-info; a re-run changes
# nothing; a re-run with other settings is refused; init on a node whose
# port 6443 is taken stops in preflight and writes nothing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
export LAB_PREFIX="${LAB_PREFIX:-e2e-init}"
n1="$LAB_PREFIX-1" n2="$LAB_PREFIX-2"
trap 'rc=$?; ((rc)) && diagnose "$n1"; lab down' EXIT
t0=$SECONDS
lab nodes 2

on "$n1" kubestrap preflight --fix >/dev/null || fail "preflight --fix on a fresh node"
initlog="$LAB_LOGS/$n1.init.log"
out=$(on "$n1" kubestrap init -o json 2>"$initlog") || { cat "$initlog" >&2; fail "init failed (log: $initlog)"; }
token=$(jq -r .token <<<"$out")
hash=$(jq -r '.caCertHashes[0]' <<<"$out")
[[ $token =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ && $hash =~ ^sha256:[0-9a-f]{64}$ ]] || fail "init -o json: $out"
[[ $(jq -r .joinCommand <<<"$out") == "kubestrap join $(lab ip "$n1"):6443 --token $token --discovery-token-ca-cert-hash $hash" ]] ||
	fail "join command: $(jq -r .joinCommand <<<"$out")"
ok "init printed the join information as JSON ($(grep -c '^\[' "$initlog") phase lines on stderr)"

kc "$n1" wait --for=condition=Ready "node/$n1" --timeout=120s >/dev/null || fail "node not Ready"
ok "node $n1 is Ready"
# The kubelet creates mirror pods once the API server's PriorityClasses
# exist; one it tried before that appears on its next sync of that pod:
# syncFrequency (1 min) with up to 50% jitter, so up to 90 s later.
# So first wait for all four control-plane pods to exist, then for every
# kube-system pod to be Ready: waiting on "the pods there now" raced a
# mirror pod that appeared a moment later, still Pending.
mirrors() { [[ $(kc "$n1" get pods -n kube-system --no-headers | grep -c -E '^(etcd|kube-apiserver|kube-controller-manager|kube-scheduler)-') == 4 ]]; }
# A 90 s wait raced that (seen once); 180 s is twice the longest resync.
eventually 180 mirrors || fail "control-plane mirror pods missing: $(kc "$n1" get pods -n kube-system --no-headers)"
eventually 120 kc "$n1" wait --for=condition=Ready pods --all -n kube-system --timeout=5s || fail "kube-system pods not Ready"
notrunning=$(kc "$n1" get pods -A --no-headers | awk '$4 != "Running"')
[[ -z $notrunning ]] || fail "pods not Running: $notrunning"
ok "every pod is Running: $(kc "$n1" get pods -A --no-headers | awk '{print $2}' | sed 's/-[a-z0-9]*$//' | sort -u | paste -sd' ')"
[[ $(kc "$n1" get --raw /readyz) == ok ]] || fail "/readyz"
ok "/readyz is ok"

# A demo pod (tolerating the control-plane taint) resolves the API
# Service's name through CoreDNS and reaches the Service IP.
default_sa "$n1"
kc "$n1" run demo --image=kubestrap.io/demo:v1 --image-pull-policy=Never \
	--overrides='{"spec":{"tolerations":[{"operator":"Exists"}]}}' >/dev/null
kc "$n1" wait --for=condition=Ready pod/demo --timeout=60s >/dev/null || fail "demo pod not Ready"
podip=$(kc "$n1" get pod demo -o jsonpath='{.status.podIP}')
dns=$(on "$n1" curl -s --max-time 5 "http://$podip:8080/resolve?name=kubernetes.default.svc.cluster.local")
[[ $dns == 10.96.0.1 ]] || fail "demo resolved kubernetes.default.svc.cluster.local to '$dns'"
ok "a pod resolves kubernetes.default.svc.cluster.local to $dns through CoreDNS"
api=$(on "$n1" curl -s --max-time 5 "http://$podip:8080/fetch?insecure=1&url=https://10.96.0.1/readyz")
[[ $api == ok ]] || fail "demo reached https://10.96.0.1/readyz: '$api'"
ok "a pod reaches the API server through its Service IP"

id=${token%%.*}
kc "$n1" get configmap cluster-info -n kube-public -o jsonpath="{.data.jws-kubeconfig-$id}" | grep -q '\.\.' ||
	fail "cluster-info has no jws-kubeconfig-$id"
ok "cluster-info carries jws-kubeconfig-$id"

# A kubeconfig for a colleague: a certificate for alice, edit in team-a.
res=$(on "$n1" kubestrap kubeconfig user --client-name alice --org dev --namespace team-a --clusterrole edit \
	--validity-period 720h --out /root/alice.conf -o json) || fail "kubeconfig user: $res"
[[ $(jq -r .binding <<<"$res") == RoleBinding/team-a/kubestrap:user:alice:edit && $(on "$n1" stat -c %a /root/alice.conf) == 600 ]] ||
	fail "kubeconfig user: $res"
alice() { on "$n1" /opt/kubestrap/kubectl --kubeconfig /root/alice.conf "$@"; }
alice create configmap from-alice >/dev/null || fail "alice cannot create in team-a"
[[ $(alice auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups[0]}') == "alice dev" ]] ||
	fail "alice is not alice in dev: $(alice auth whoami)"
denied=$(alice get pods -n kube-system 2>&1) && fail "alice read kube-system: $denied"
[[ $denied == *Forbidden* ]] || fail "alice in kube-system: $denied"
set +e
bad=$(on "$n1" kubestrap kubeconfig user --client-name mallory --org system:masters --out /root/mallory.conf 2>&1); rc=$?
set -e
[[ $rc == 2 && $bad == *"bypasses RBAC"* ]] || fail "system:masters: rc=$rc $bad"
on "$n1" test ! -e /root/mallory.conf || fail "a refused kubeconfig user wrote its file"
ok "kubeconfig user: alice (group dev, 0600 file, expires $(jq -r .expires <<<"$res")) edits team-a, is Forbidden in kube-system; system:masters is refused (exit 2), nothing written"

before=$(pki_sum "$n1")
again=$(on "$n1" kubestrap init 2>&1) || fail "re-run of init failed: $again"
[[ $again == *"already initialized"* ]] || fail "re-run said: $again"
[[ $(pki_sum "$n1") == "$before" ]] || fail "re-run touched /etc/kubernetes/pki"
ok "init again exits 0, says so, and leaves /etc/kubernetes/pki untouched"
set +e
changed=$(on "$n1" kubestrap init --service-cidr 10.97.0.0/16 2>&1); rc=$?
set -e
[[ $rc == 2 && $changed == *"10.96.0.0/12 -> "*"10.97.0.0/16"* ]] || fail "init with another service CIDR: rc=$rc $changed"
ok "init with another service CIDR is refused naming the difference"

# A dry run writes only into its temp dir and never claims a running
# control plane.
out=$(on "$n2" kubestrap init --dry-run 2>&1) || fail "init --dry-run: $out"
[[ $out == *"dry-run output: /tmp/kubestrap-dry-run-"* && $out == *"[dry-run] nothing was started"* &&
	$out != *"control plane is up"* ]] || fail "init --dry-run said: $out"
on "$n2" test ! -e /etc/kubernetes/pki -a ! -e /var/lib/kubelet/config.yaml || fail "init --dry-run wrote to the node"
ok "init --dry-run writes only its temp dir and does not say the control plane is up"

# Port 6443 taken: preflight stops init with a clear message; nothing written.
on "$n2" systemd-run --unit=squatter socat TCP-LISTEN:6443,fork,reuseaddr SYSTEM:true >/dev/null
eventually 10 on "$n2" sh -c 'ss -ltn | grep -q ":6443 "' || fail "squatter did not listen"
set +e
msg=$(on "$n2" kubestrap init 2>&1); rc=$?
set -e
[[ $rc == 3 && $msg == *"[ERROR Port-6443] port 6443 (kube-apiserver) is in use"* ]] || fail "taken port: rc=$rc $msg"
on "$n2" test ! -e /etc/kubernetes/pki || fail "a failed preflight wrote /etc/kubernetes/pki"
ok "init on a node with port 6443 taken fails in preflight (exit 3) and writes nothing"

trap - EXIT
lab down
echo "$PASSED passed, 0 failed (lab e2e init, $((SECONDS - t0))s)"
