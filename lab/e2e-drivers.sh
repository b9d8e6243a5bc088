#!/usr/bin/env bash
# e2e-drivers.sh: the users' own drivers, run from this machine against bare
# lab nodes (no release, no images) laid out as Vagrant VMs are (LAB_VAGRANT:
# 10.0.2.15 on a NAT interface with the default route on every node, the
# private network without one, SSH forwarded from 127.0.0.1):
#   1. kubestrap up over SSH: unknown host keys refused, then accepted; a Ready
#      cluster on the private addresses with pods talking across nodes; a
#      second up changes nothing; a 4th host added while its SSH is cut: up
#      fails within 60 s naming it, and once SSH is back a re-run joins it
#      alone, leaving no secret file on any host; a changed host
#      key is refused with both fingerprints; kubestrap down resets them all;
#   2. the Ansible role on the same nodes: a Ready cluster at the old release
#      (OLD_DIST_DIR, v1.34.4), a play with the new release upgrades every
#      node, then a third play reports changed=0;
#   3. throughout, every node's command lines are sampled: no bootstrap token
#      of the cluster is in them, in any node's journal or log, in up's log
#      or in Ansible's output.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
export LAB_PREFIX=drv LAB_BARE=1 LAB_VAGRANT=1
[[ -x ${DIST_DIR:-}/kubestrap && -f $DIST_DIR.tar.gz && -f ${IMAGES_TAR:-} && -f ${OLD_DIST_DIR:-}.tar.gz && -f ${OLD_IMAGES_TAR:-} ]] ||
	fail "DIST_DIR, IMAGES_TAR, OLD_DIST_DIR and OLD_IMAGES_TAR are needed (make e2e-drivers)"
ks="$DIST_DIR/kubestrap"
# Like the other lab tests: the nodes go when the test ends (a failing run
# first shows the first node's state), so that no cluster keeps the 2 cores
# busy under the next test or bench.
trap 'rc=$?; ((rc)) && diagnose "drv-1"; lab down' EXIT
lab nodes 4
n=(drv-1 drv-2 drv-3 drv-4)
ip=() port=()
for x in "${n[@]}"; do ip+=("$(lab ip "$x")") port+=("$(lab ssh-port "$x")"); done
key=$(lab ssh-key)
work="$LAB_LOGS/up"
mkdir -p "$work"
kh="$work/known_hosts" file="$work/cluster.yaml" kubeconfig="$work/drv.admin.conf"
kx() { "$DIST_DIR/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# cluster_file N: the first N nodes as Vagrant's ssh-config gives them:
# 127.0.0.1 and a forwarded port; drv-2 logs in as a sudoer; drv-3 has no
# nodeIP (join finds it: the source address of the route to the API).
cluster_file() {
	cat <<EOF
apiVersion: kubestrap.io/v1alpha1
kind: Cluster
metadata: {name: drv}
spec:
  release: $DIST_DIR.tar.gz
  images: $IMAGES_TAR
  preflightFix: true
  ssh: {user: root, keyPath: $key, knownHostsPath: $kh}
  hosts:
  - {address: 127.0.0.1, name: drv-1, role: control-plane, nodeIP: ${ip[0]}, ssh: {port: ${port[0]}}}
  - {address: 127.0.0.1, name: drv-2, role: worker, nodeIP: ${ip[1]}, ssh: {port: ${port[1]}, user: kube}}
  - {address: 127.0.0.1, name: drv-3, role: worker, ssh: {port: ${port[2]}}}
EOF
	(($1 < 4)) || echo "  - {address: 127.0.0.1, name: drv-4, role: worker, nodeIP: ${ip[3]}, ssh: {port: ${port[3]}}}"
}
up() { "$ks" up -f "$file" -o json "$@" 2>>"$work/up.log"; }

# Every node's command lines, sampled while the drivers run: a secret on an
# argv shows in ps (and in sudo's log) to every user of the host.
sample_ps() {
	while [[ ! -e $work/stop-sampling ]]; do
		for x in "${n[@]}"; do docker exec "$x" ps -eo args 2>/dev/null || true; done
		sleep 0.3
	done >>"$work/ps-samples.txt"
}
sample_ps &
sampler=$!
# tokens: the secret halves of the cluster's bootstrap tokens, one a line.
tokens() {
	on "${n[0]}" kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get secrets --field-selector type=bootstrap.kubernetes.io/token -o json |
		jq -r '.items[].data["token-secret"] | @base64d'
}
# no_secret_seen WHEN: none of the tokens seen so far is in the samples,
# a node's journal or /var/log, up's log or the Ansible logs.
no_secret_seen() {
	local s x hits=""
	for x in "${n[@]}"; do
		on "$x" sh -c 'journalctl --no-pager -o cat 2>/dev/null; cat /var/log/*.log 2>/dev/null' >"$work/logs-$x.txt" || true
	done
	while read -r s; do
		[[ -n $s ]] || continue
		hits+=$(grep -lF -- "$s" "$work"/ps-samples.txt "$work"/logs-*.txt "$work"/up.log "$work"/ansible-*.log 2>/dev/null || true)
	done <"$work/tokens.txt"
	[[ -z $hits ]] || fail "$1: a bootstrap token's secret is in $(sort -u <<<"$hits" | paste -sd' ')"
	ok "$1: no bootstrap token secret in $(wc -l <"$work/ps-samples.txt") sampled command lines, the nodes' journals and logs, up's or Ansible's output"
}

cluster_file 3 >"$file"
if out=$(up); then fail "up accepted unknown host keys"; fi
[[ $(jq -r .error <<<"$out") == *"--accept-new-host-keys"* ]] || fail "unknown host keys: $out"
for x in "${n[@]:0:3}"; do on "$x" test ! -e /var/lib/kubestrap/up || fail "$x was changed before its key was checked"; done
ok "up refuses unknown host keys, names --accept-new-host-keys, and changes nothing"

t0=$SECONDS
out=$(up --accept-new-host-keys) || { cat "$work/up.log" >&2; fail "up: $out"; }
cold=$((SECONDS - t0))
[[ $(jq '[.changed, (.hosts | map(.changed) | all)] | all' <<<"$out") == true ]] || fail "first up reports no change: $out"
[[ $(stat -c %a "$kubeconfig") == 600 ]] || fail "the kubeconfig is not 0600"
eventually 60 kx get nodes || fail "the kubeconfig up wrote does not reach the API server"
ready=$(kx get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
((ready == 3)) || fail "$ready of 3 nodes Ready after up"
ok "up --accept-new-host-keys: 3 Ready nodes in ${cold}s (release and images uploaded), admin kubeconfig written 0600"

# The Vagrant layout: every address the cluster uses is the private one.
ep=$(kx get endpointslice -l kubernetes.io/service-name=kubernetes -o jsonpath='{.items[0].endpoints[0].addresses[0]}')
[[ $ep == "${ip[0]}" ]] || fail "the API server advertises $ep, not ${ip[0]}"
# flanneld annotates its node once it holds the node's subnet lease, a
# moment after its pod runs.
flannel_ip() { [[ $(kx get node "$1" -o jsonpath='{.metadata.annotations.flannel\.alpha\.coreos\.com/public-ip}') == "$2" ]]; }
for i in 0 1 2; do
	nip=$(kx get node "${n[i]}" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
	[[ $nip == "${ip[i]}" ]] || fail "${n[i]}: node IP $nip; want ${ip[i]} (not 10.0.2.15)"
	eventually 90 flannel_ip "${n[i]}" "${ip[i]}" ||
		fail "${n[i]}: flannel's public IP is '$(kx get node "${n[i]}" -o jsonpath='{.metadata.annotations.flannel\.alpha\.coreos\.com/public-ip}')', want ${ip[i]}"
done
ok "advertise address, node IPs and flannel's interface are the private network's, not 10.0.2.15"

demo_yaml 2 | kx apply -f - >/dev/null
kx rollout status deploy/demo --timeout=120s >/dev/null || fail "demo rollout"
from=$(kx get pods -l app=demo --field-selector spec.nodeName=drv-2 -o jsonpath='{.items[0].metadata.name}')
to=$(kx get pods -l app=demo --field-selector spec.nodeName=drv-3 -o jsonpath='{.items[0].status.podIP}')
[[ -n $from && -n $to ]] || fail "demo pods are not on drv-2 and drv-3: $(kx get pods -o wide)"
eventually 30 kx exec "$from" -- /demo get "http://$to:8080/healthz" || fail "a pod on drv-2 cannot reach $to on drv-3"
ok "pod to pod across nodes over flannel on the private network ($from -> $to)"

t0=$SECONDS
out=$(up) || fail "second up: $out"
warm=$((SECONDS - t0))
[[ $(jq .changed <<<"$out") == false ]] || fail "second up changed: $(jq -c '.hosts[] | {address: .name, steps: [.steps[] | select(.changed) | .name]}' <<<"$out")"
ok "a second up changes nothing (${warm}s)"

cluster_file 4 >"$file"
# SSH to drv-4 cut (its packets dropped, as a firewall or a dead link does)
# once up has started on it: up must name it and stop, not hang.
up --accept-new-host-keys >"$work/up-cut.json" &
upid=$!
reached() { on drv-4 test -e /var/lib/kubestrap/up; }
eventually 120 reached || fail "up never reached drv-4"
on drv-4 iptables -I INPUT -p tcp --dport 22 -j DROP
t0=$SECONDS
wait "$upid" && fail "up succeeded although SSH to drv-4 was cut"
cut=$((SECONDS - t0))
on drv-4 iptables -D INPUT -p tcp --dport 22 -j DROP
((cut <= 60)) || fail "up took ${cut}s to give up on drv-4"
[[ $(jq -r .error "$work/up-cut.json") == *drv-4* ]] || fail "up's error does not name drv-4: $(cat "$work/up-cut.json")"
ok "SSH to drv-4 cut during up: up failed in ${cut}s naming drv-4"
t0=$SECONDS
out=$(up --accept-new-host-keys) || fail "up with drv-4 added: $out"
added=$((SECONDS - t0))
changed=$(jq -r '[.hosts[] | select(.changed) | .name] | join(",")' <<<"$out")
[[ $changed == drv-4 || $changed == drv-1,drv-4 ]] || fail "adding drv-4 changed $changed"
[[ $(jq -r '[.hosts[] | select(.name != "drv-4") | .steps[] | select(.name == "join")] | length' <<<"$out") == 0 ]] ||
	fail "hosts other than drv-4 ran join"
eventually 60 kx wait --for=condition=Ready node/drv-4 --timeout=1s || fail "drv-4 is not Ready"
ok "a 4th host added to the file joins alone once SSH is back (${added}s; changed: $changed)"
for x in "${n[@]}"; do
	left=$(on "$x" sh -c 'find /var/lib/kubestrap/up \( -name "join.yaml*" -o -name "upload-certs.yaml*" -o -name "*.out" -o -name "*.err" \) 2>/dev/null')
	[[ -z $left ]] || fail "$x keeps files that may hold secrets: $left"
done
ok "no join configuration, certificate key or command output is left on any host"

tokens >>"$work/tokens.txt"
no_secret_seen "kubestrap up"

on drv-4 sh -c 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh'
if out=$(up); then fail "up accepted drv-4's changed host key"; fi
msg=$(jq -r .error <<<"$out")
newfp=$(on drv-4 ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | awk '{print $2}')
[[ $msg == *CHANGED* && $msg == *"$newfp"* && $(grep -o 'SHA256:[A-Za-z0-9+/]*' <<<"$msg" | sort -u | wc -l) -ge 2 ]] ||
	fail "a changed host key: $msg"
ssh-keygen -R "[127.0.0.1]:${port[3]}" -f "$kh" >/dev/null 2>&1
ok "a changed host key is refused, naming both fingerprints"

out=$("$ks" down -f "$file" --yes -o json --accept-new-host-keys 2>>"$work/up.log") || fail "down: $out"
[[ $(jq .changed <<<"$out") == true ]] || fail "down changed nothing: $out"
for x in "${n[@]}"; do
	on "$x" test ! -e /etc/kubernetes/kubelet.conf || fail "$x still has a kubelet.conf after down"
done
ok "down resets every host"

# The Ansible role on the same (now reset) nodes, reached directly on the
# private network as root: a Ready cluster, then a second run with
# changed=0 on every host.
if ! command -v ansible-playbook >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ansible-core >/dev/null
fi
inv="$work/inventory.ini"
LAB_SSH_KEY="$key" LAB_KNOWN_HOSTS="$work/ansible_known_hosts" "$here/../ansible/lab-inventory.sh" "${ip[0]}" -- "${ip[1]}" "${ip[2]}" >"$inv"
play() { # N RELEASE_DIR IMAGES
	ANSIBLE_PYTHON_INTERPRETER=auto_silent ANSIBLE_NOCOLOR=1 ansible-playbook -i "$inv" "$here/../ansible/site.yml" \
		-e kubestrap_release="$2.tar.gz" -e kubestrap_images="$3" >"$work/ansible-$1.log" 2>&1
}
kubelets() { on drv-1 kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o jsonpath='{range .items[*]}{.status.nodeInfo.kubeletVersion}{"\n"}{end}' | sort | uniq -c | xargs; }
# recap: one "NAME changed=N failed=N" line per host of a play's log.
recap() { sed -n '/PLAY RECAP/,$p' "$work/ansible-$1.log" | awk '/ok=/ {print $1, $4, $6}'; }
t0=$SECONDS
play 1 "$OLD_DIST_DIR" "$OLD_IMAGES_TAR" || fail "the Ansible play failed: $(tail -30 "$work/ansible-1.log")"
first=$((SECONDS - t0))
[[ $(recap 1 | grep -c 'changed=[1-9]') == 3 ]] || fail "the first play did not change every host: $(recap 1)"
ready=$(on drv-1 kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers | grep -c ' Ready ')
((ready == 3)) || fail "$ready of 3 nodes Ready after the play"
old=$(<"$OLD_DIST_DIR/kubernetes-version") new=$(<"$DIST_DIR/kubernetes-version")
[[ $(kubelets) == "3 $old" ]] || fail "want 3 nodes at $old: $(kubelets)"
ok "the Ansible role makes a 3-node cluster at $old, every node Ready (${first}s)"
tokens >>"$work/tokens.txt"
t0=$SECONDS
play 2 "$DIST_DIR" "$IMAGES_TAR" || fail "the upgrading Ansible play failed: $(tail -30 "$work/ansible-2.log")"
upgraded=$((SECONDS - t0))
[[ $(kubelets) == "3 $new" ]] || fail "want 3 nodes at $new after the play with its release: $(kubelets)"
grep -q 'Drain the worker' "$work/ansible-2.log" || fail "the play upgraded without draining the workers"
[[ $(on drv-1 kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o jsonpath='{.items[*].spec.unschedulable}') == "" ]] ||
	fail "a node stayed cordoned"
ok "a play with the $new release upgrades every node (workers drained and uncordoned) (${upgraded}s)"
t0=$SECONDS
play 3 "$DIST_DIR" "$IMAGES_TAR" || fail "the third Ansible play failed: $(tail -30 "$work/ansible-3.log")"
second=$((SECONDS - t0))
[[ $(recap 3 | grep -c 'changed=0 failed=0') == 3 ]] || fail "the third play changed something: $(recap 3)"
ok "a third Ansible play reports changed=0 on every host (${second}s)"
touch "$work/stop-sampling"
wait "$sampler"
no_secret_seen "the Ansible role"

printf '[e2e] timings: up cold (3 hosts, uploads) %ss, up warm (no change) %ss, adding a host %ss; ansible first play %ss, upgrade %ss, no change %ss\n' \
	"$cold" "$warm" "$added" "$first" "$upgraded" "$second"
echo "[e2e] e2e-drivers: $PASSED checks passed"
