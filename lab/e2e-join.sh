#!/usr/bin/env bash
# e2e-join.sh: init on node 1, join nodes 2 and 3 at the same time; all
# Ready; a Deployment spreads over both workers; Services and DNS answer
# from pods of both workers across nodes; kubectl logs/exec work on
# workers. Then a 4th node is refused for each bad input, with nothing left
# half-configured, and re-running join on node 2 is a no-op.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
export LAB_PREFIX="${LAB_PREFIX:-e2e-join}"
n1="$LAB_PREFIX-1" n2="$LAB_PREFIX-2" n3="$LAB_PREFIX-3" n4="$LAB_PREFIX-4"
trap 'rc=$?; ((rc)) && diagnose "$n1"; lab down' EXIT
t0=$SECONDS
lab nodes 4
for n in "$n1" "$n2" "$n3" "$n4"; do on "$n" kubestrap preflight --fix >/dev/null & done
wait

initlog="$LAB_LOGS/$n1.init.log"
info=$(on "$n1" kubestrap init -o json 2>"$initlog") || { cat "$initlog" >&2; fail "init (log: $initlog)"; }
# The join command exactly as init printed it, split into its words.
cmd=$(jq -r .joinCommand <<<"$info")
read -r -a joincmd <<<"$cmd"
token=$(jq -r .token <<<"$info")
hash=$(jq -r '.caCertHashes[0]' <<<"$info")
endpoint=$(jq -r .endpoint <<<"$info")
log2="$LAB_LOGS/$n2.join.log" log3="$LAB_LOGS/$n3.join.log"
on "$n2" "${joincmd[@]}" >"$log2" 2>&1 & p2=$!
on "$n3" "${joincmd[@]}" >"$log3" 2>&1 & p3=$!
wait "$p2" || { cat "$log2" >&2; fail "join of $n2 (log: $log2)"; }
wait "$p3" || { cat "$log3" >&2; fail "join of $n3 (log: $log3)"; }
grep -h -E '^\[(wait-registered|wait-ready)\]' "$log2" "$log3"
ok "$n2 and $n3 joined at the same time"
# tls-bootstrap got each kubelet its certificate before it started: the
# pair is where the kubelet rotates it, kubelet.conf names it, and the
# token never landed on disk.
for n in "$n2" "$n3"; do
	on "$n" grep -q "client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem" /etc/kubernetes/kubelet.conf ||
		fail "$n: kubelet.conf does not name the rotated pair"
	on "$n" openssl x509 -noout -subject -in /var/lib/kubelet/pki/kubelet-client-current.pem | grep -q "CN = system:node:$n" ||
		fail "$n: kubelet-client-current.pem is not system:node:$n"
	! on "$n" test -e /etc/kubernetes/bootstrap-kubelet.conf || fail "$n: the bootstrap token is on disk"
	! on "$n" grep -rqs "${token#*.}" /etc/kubernetes /var/lib/kubelet || fail "$n: the token's secret is in a file"
done
grep -q "^\[tls-bootstrap\] system:node:$n2 signed (CSR csr-" "$log2" || fail "$n2's join log: no tls-bootstrap line"
ok "each kubelet started with its own certificate from a CSR; no token on disk"
kc "$n1" wait --for=condition=Ready node --all --timeout=120s >/dev/null || fail "nodes not Ready"
[[ $(kc "$n1" get nodes --no-headers | grep -c ' Ready ') == 3 ]] || fail "want 3 Ready nodes: $(kc "$n1" get nodes)"
ok "3 nodes Ready"
# A node is Ready before its kube-proxy and flannel pods run: wait for them
# too, or Service traffic from that node has no rules yet.
for ns in kube-system kube-flannel; do
	eventually 120 kc "$n1" wait --for=condition=Ready pods --all -n "$ns" --timeout=5s || fail "$ns pods not Ready"
done

{
	demo_yaml 4
	cat <<'YAML'
---
apiVersion: v1
kind: Service
metadata: {name: demo}
spec:
  selector: {app: demo}
  ports: [{port: 80, targetPort: 8080}]
YAML
} | kci "$n1" apply -f - >/dev/null
kc "$n1" rollout status deploy/demo --timeout=120s >/dev/null || fail "demo rollout"
spread=$(kc "$n1" get pods -l app=demo -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | uniq -c | paste -sd' ')
[[ $spread == *"2 $n2"* && $spread == *"2 $n3"* ]] || fail "demo spread: $spread"
ok "4 demo replicas spread over both workers ($spread)"

client=$(kc "$n1" get pods -l app=demo --field-selector spec.nodeName="$n2" -o jsonpath='{.items[0].metadata.name}')
cip=$(kc "$n1" get svc demo -o jsonpath='{.spec.clusterIP}')
for target in "http://$cip/" "http://demo.default.svc.cluster.local/"; do
	# kube-proxy programs a new Service within a sync period: wait for it.
	eventually 30 kc "$n1" exec "$client" -- /demo get "$target" || fail "$target never answered from $n2"
	seen=""
	for _ in $(seq 20); do
		answer=$(kc "$n1" exec "$client" -- /demo get "$target") || fail "$target from a pod on $n2 failed: $answer"
		seen+=$(sed -n 's/.*node=//p' <<<"$answer")$'\n'
	done
	nodes=$(sort -u <<<"$seen" | grep . | paste -sd' ')
	[[ $nodes == "$n2 $n3" ]] || fail "$target from a pod on $n2 answered from: '$nodes'"
	ok "$target answers from pods on both workers (asked from $n2 via kubectl exec)"
done
logs=$(kc "$n1" logs "$client")
[[ $logs == *"demo listening on :8080"* ]] || fail "kubectl logs on a worker pod: $logs"
ok "kubectl logs and exec work on worker pods"

# Negative cases on node 4: each refused with its message, nothing left.
# (node 4 joins for real at the end, by --discovery-file.)
untouched() {
	on "$n4" test ! -e /etc/kubernetes/kubelet.conf -a ! -e /etc/kubernetes/bootstrap-kubelet.conf -a ! -e /etc/kubernetes/pki/ca.crt ||
		fail "$1 left files in /etc/kubernetes"
	[[ $(on "$n4" systemctl is-active kubelet || true) != active ]] || fail "$1 left the kubelet running"
}
refused() { # refused WHAT WANT_RC WANT_TEXT ARGS...
	local what="$1" want_rc="$2" want="$3" out rc
	shift 3
	set +e
	out=$(on "$n4" kubestrap join "$@" 2>&1); rc=$?
	set -e
	[[ $rc == "$want_rc" && $out == *"$want"* ]] || fail "$what: rc=$rc, want $want_rc and '$want': $out"
	untouched "$what"
	ok "$what: refused (exit $rc) with '$want'"
}
wrong="sha256:$(printf '0%.0s' $(seq 64))"
refused "wrong CA hash" 1 "has hash $hash, which matches none of $wrong" "$endpoint" --token "$token" --discovery-token-ca-cert-hash "$wrong"
refused "malformed token" 2 "malformed bootstrap token" "$endpoint" --token "abc.def" --discovery-token-ca-cert-hash "$hash"
refused "unknown token" 1 "no token zzzzzz" "$endpoint" --token "zzzzzz.0123456789abcdef" --discovery-token-ca-cert-hash "$hash"
short=$(on "$n1" kubestrap token create --ttl 1s)
sleep 2
refused "expired token" 1 "token ${short%%.*} expired at" "$endpoint" --token "$short" --discovery-token-ca-cert-hash "$hash"
on "$n2" cat /etc/machine-id | docker exec -i "$n4" sh -c 'cat > /etc/machine-id'
refused "a clone of $n2 (same machine-id)" 1 "already has this host's machine-id" "${joincmd[@]:2}"
on "$n4" sh -c 'rm -f /etc/machine-id && systemd-machine-id-setup' >/dev/null

refused "a control-plane join of a cluster made without --control-plane-endpoint" 1 \
	"initialized without --control-plane-endpoint" "${joincmd[@]:2}" --control-plane --certificate-key "$(printf 'a%.0s' $(seq 64))"

# Every phase stands alone: one that needs an earlier phase names it and
# writes nothing; --dry-run runs every phase into a temp dir.
refused "join phase node-network before tls-bootstrap" 1 "run \`kubestrap join phase tls-bootstrap\`" \
	phase node-network "${joincmd[@]:2}"
out=$(on "$n4" "${joincmd[@]}" --dry-run 2>&1) || fail "join --dry-run: $out"
[[ $out == *"[tls-bootstrap] dry-run: would request a client certificate for system:node:$n4"* &&
	$out == *"[kubelet-start] wrote"* && $out == *"dry-run output: /tmp/kubestrap-dry-run-"* &&
	$out == *"[wait-ready] dry-run: would wait"* ]] || fail "join --dry-run said: $out"
untouched "join --dry-run"
ok "join --dry-run runs every phase into a temp dir and changes nothing"

# Roles: join on the control-plane node and init on a joined worker are
# refused as invalid input (exit 2).
set +e
out=$(on "$n1" "${joincmd[@]}" 2>&1); rc=$?
set -e
[[ $rc == 2 && $out == *"this node is a control-plane node"* ]] || fail "join on $n1: rc=$rc $out"
set +e
out=$(on "$n2" kubestrap init 2>&1); rc=$?
set -e
[[ $rc == 2 && $out == *"joined a cluster as a worker"* ]] || fail "init on worker $n2: rc=$rc $out"
ok "join on the control plane and init on a worker are refused (exit 2)"

# One run at a time, and Ctrl-C during a wait stops promptly with the
# phase to resume: a join whose API endpoint never answers holds the lock
# while discovery retries; a second join is refused; SIGINT ends the first.
slow="$LAB_LOGS/$n4.slow-join.log"
on "$n4" kubestrap join 192.0.2.1:6443 --token "$token" --discovery-token-ca-cert-hash "$hash" \
	--discovery-timeout 60s >"$slow" 2>&1 & pslow=$!
eventually 20 grep -q '^\[preflight\]' "$slow" || fail "the slow join did not start: $(cat "$slow")"
refused "a second join while one runs" 1 "another kubestrap operation is running" "${joincmd[@]:2}"
sent=$SECONDS
on "$n4" pkill -INT -f 'kubestrap join 192.0.2.1' || fail "no slow join to interrupt"
set +e
wait "$pslow"; rc=$?
set -e
took=$((SECONDS - sent))
if ! [[ $rc == 1 && $took -le 5 ]] || ! grep -q 'phase discovery interrupted' "$slow" ||
	! grep -q 'kubestrap join phase discovery' "$slow"; then
	fail "Ctrl-C: rc=$rc after ${took}s: $(cat "$slow")"
fi
ok "a second join is refused while one runs; Ctrl-C stops a waiting join in ${took}s naming the phase to resume"

# With its own identity again, node 4 joins by --discovery-file: the
# cluster-info kubeconfig as a file, the token for TLS bootstrap only.
kc "$n1" get configmap cluster-info -n kube-public -o jsonpath='{.data.kubeconfig}' |
	docker exec -i "$n4" sh -c 'cat > /root/discovery.conf'
out=$(on "$n4" kubestrap join --discovery-file /root/discovery.conf --tls-bootstrap-token "$token" 2>&1) ||
	fail "join by --discovery-file: $out"
kc "$n1" wait --for=condition=Ready "node/$n4" --timeout=60s >/dev/null || fail "$n4 not Ready after file discovery"
ok "$n4 joined by --discovery-file and is Ready"

before=$(on "$n2" sha256sum /etc/kubernetes/kubelet.conf)
again=$(on "$n2" "${joincmd[@]}" 2>&1) || fail "re-run of join on $n2: $again"
[[ $again == *"already joined"* && $(on "$n2" sha256sum /etc/kubernetes/kubelet.conf) == "$before" ]] || fail "re-run: $again"
ok "join again on $n2 is a no-op"
out=$(on "$n2" kubestrap join phase wait-ready "${joincmd[@]:2}" 2>&1) || fail "join phase wait-ready alone on $n2: $out"
[[ $out == *"[wait-ready] node $n2 is Ready"* ]] || fail "join phase wait-ready alone said: $out"
ok "join phase wait-ready runs alone on a joined node"

# A bootstrap token may get a Node by name, never list nodes: a token
# holder cannot enumerate the cluster's addresses and ids.
as=(--as "system:bootstrap:${token%%.*}" --as-group system:bootstrappers:kubestrap:default-node-token --as-group system:authenticated)
[[ $(kc "$n1" auth can-i get nodes "${as[@]}" || true) == yes && $(kc "$n1" auth can-i list nodes "${as[@]}" || true) == no ]] ||
	fail "bootstrap token RBAC on nodes: get=$(kc "$n1" auth can-i get nodes "${as[@]}" || true) list=$(kc "$n1" auth can-i list nodes "${as[@]}" || true)"
ok "bootstrap tokens may get nodes by name but not list them"

trap - EXIT
lab down
echo "$PASSED passed, 0 failed (lab e2e join, $((SECONDS - t0))s)"
