#!/usr/bin/env bash
# e2e-chaos.sh: faults must not lose etcd data. Three control planes behind
# haproxy and a spare node, one lab for all of it:
#  1. a control-plane join killed (-9) right after its member became a voter
#     and re-run: the same member ID, no member.stale-*, and the revision
#     keeps increasing on every member;
#  2. a restore on the init node with its etcd hung, while its two peers
#     serve: refused, naming both, nothing stopped or moved;
#  3. a restore killed between stopping etcd and touching the data (peers
#     frozen as hung VMs, so that it proceeds): the next kubestrap run says it
#     rolled it back; etcd serves the same data under the same member ID;
#  4. `reset phase remove-files` on a control plane whose member is still
#     registered: its data dir stays, named in the report; that member, now
#     dead (its manifest is gone), is removed from another control plane with
#     `kubestrap etcd members remove`;
#  5. a one-node cluster whose etcd data dir an admin's file shares: reset
#     removes etcd's member/ only, the file stays and is named; the node is as
#     before init (no /var/lib/kubelet mount, the same iptables tables); a
#     second reset is a no-op.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
export LAB_PREFIX="${LAB_PREFIX:-e2e-chaos}"
cp1="$LAB_PREFIX-1" cp2="$LAB_PREFIX-2" cp3="$LAB_PREFIX-3" n4="$LAB_PREFIX-4"
trap 'rc=$?; docker unpause "$cp2" "$cp3" >/dev/null 2>&1 || true; ((rc)) && diagnose "$cp1"; lab down' EXIT
t0=$SECONDS
lab nodes 4
for n in "$cp1" "$cp2" "$cp3" "$n4"; do on "$n" kubestrap preflight --fix >/dev/null & done
wait
lbip=$(lab lb "$cp1" "$cp2" "$cp3")
info=$(on "$cp1" kubestrap init -o json --control-plane-endpoint "$lbip:6443" --upload-certs 2>"$LAB_LOGS/$cp1.init.log") ||
	fail "init (log: $LAB_LOGS/$cp1.init.log)"
read -r -a cpjoin <<<"$(jq -r .controlPlaneJoinCommand <<<"$info")"
on "$cp2" "${cpjoin[@]}" >"$LAB_LOGS/$cp2.join.log" 2>&1 || fail "control-plane join of $cp2 (log: $LAB_LOGS/$cp2.join.log)"

# etcdctl_on NODE ARGS: etcdctl in NODE's etcd pod against its own member.
etcdctl_on() {
	local n="$1"; shift
	kc "$n" -n kube-system exec "etcd-$n" -- etcdctl --cacert /etc/kubernetes/pki/etcd/ca.crt \
		--cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key \
		--endpoints https://127.0.0.1:2379 "$@"
}
# member_id NODE: NODE's member ID in hex, as etcd lists it (jq would round
# the 64-bit decimal), and whether it is a learner.
member_line() { etcdctl_on "$cp1" member list | awk -F', ' -v n="$1" '$3 == n {print $1, $6}'; }
voter() { [[ $(member_line "$1") == *" false" ]]; }
eps=""
revisions() { etcdctl_on "$cp1" --endpoints "$eps" endpoint status -w json | jq -r '[.[].Status.header.revision] | join(" ")'; }
all_above() { local r; for r in $(revisions); do ((r > $1)) || return 1; done; }

# 1. A control-plane join killed -9 right after its member became a voter.
on "$cp3" "${cpjoin[@]}" >"$LAB_LOGS/$cp3.join-killed.log" 2>&1 &
jpid=$!
eventually 180 voter "$cp3" || fail "$cp3 never became a voter (log: $LAB_LOGS/$cp3.join-killed.log)"
on "$cp3" pkill -9 -x kubestrap || fail "no kubestrap process to kill on $cp3"
wait "$jpid" && fail "the killed join exited 0"
id=$(member_line "$cp3" | cut -d' ' -f1)
eps=$(for n in "$cp1" "$cp2" "$cp3"; do printf 'https://%s:2379,' "$(lab ip "$n")"; done)
eps=${eps%,}
# The killed join's etcd may not serve clients yet: wait until all three
# answer before counting.
eventually 60 revisions || fail "etcd members did not all answer: $(revisions 2>&1 || true)"
before=$(revisions | tr ' ' '\n' | sort -n | tail -1)
on "$cp3" "${cpjoin[@]}" >"$LAB_LOGS/$cp3.join-rerun.log" 2>&1 || fail "re-run of the killed join (log: $LAB_LOGS/$cp3.join-rerun.log)"
grep -q "already etcd member" "$LAB_LOGS/$cp3.join-rerun.log" || fail "the re-run did not reuse the member: $(grep etcd "$LAB_LOGS/$cp3.join-rerun.log")"
[[ $(member_line "$cp3") == "$id false" ]] || fail "member of $cp3 after the re-run: $(member_line "$cp3"), was $id"
stale=$(on "$cp3" sh -c 'ls -d /var/lib/etcd/member.stale-* 2>/dev/null || true')
[[ -z $stale ]] || fail "the re-run moved the live member's data aside: $stale"
kc "$cp1" create configmap chaos-1 >/dev/null || fail "write after the re-run"
eventually 30 all_above "$before" || fail "revisions did not all increase past $before: $(revisions)"
ok "a control-plane join killed after its promotion and re-run: member $id kept, no member.stale-*, revisions $(revisions) > $before"

# 2. Restore on the init node with its etcd hung while both peers serve.
snap=$(on "$cp1" kubestrap etcd snapshot save -o json 2>/dev/null) || fail "snapshot save"
file="/var/lib/kubestrap/snapshots/$(jq -r .file <<<"$snap")"
on "$cp1" pkill -STOP -x etcd
set +e
out=$(on "$cp1" kubestrap etcd snapshot restore "$file" --force-new-cluster 2>&1); rc=$?
set -e
on "$cp1" pkill -CONT -x etcd
[[ $rc == 1 && $out == *"still answers"* && $out == *"$cp2 ("* && $out == *"$cp3 ("* ]] ||
	fail "restore with live peers: rc=$rc $out"
on "$cp1" test -e /etc/kubernetes/manifests/etcd.yaml -a -e /etc/kubernetes/manifests/kube-apiserver.yaml \
	-a ! -e /etc/kubernetes/kubestrap-parked || fail "a refused restore moved the manifests"
ok "restore --force-new-cluster on the init node with its etcd hung is refused, naming $cp2 and $cp3; nothing moved"

# 3. A restore killed between stopping etcd and touching the data. The
# peers are frozen (hung VMs), so that the restore proceeds; the kubelet is
# frozen too, so that it holds the stop and the kill lands in that window.
cp1id=$(member_line "$cp1" | cut -d' ' -f1)
docker pause "$cp2" "$cp3" >/dev/null
on "$cp1" pkill -STOP -x kubelet
on "$cp1" kubestrap etcd snapshot restore "$file" --force-new-cluster >"$LAB_LOGS/$cp1.restore-killed.log" 2>&1 &
rpid=$!
parked() { on "$cp1" test -e /etc/kubernetes/kubestrap-parked/journal.json; }
eventually 90 parked || fail "the restore never parked the manifests (log: $LAB_LOGS/$cp1.restore-killed.log)"
on "$cp1" pkill -9 -x kubestrap
wait "$rpid" && fail "the killed restore exited 0"
on "$cp1" pkill -CONT -x kubelet
on "$cp1" test ! -e /etc/kubernetes/manifests/etcd.yaml || fail "the killed restore had not stopped etcd yet"
docker unpause "$cp2" "$cp3" >/dev/null
st=$(on "$cp1" kubestrap status 2>&1 >/dev/null || true)
[[ $st == *"ROLLED BACK"* ]] || fail "the next run did not say what it did with the killed restore: $st"
on "$cp1" test -e /etc/kubernetes/manifests/etcd.yaml -a ! -e /etc/kubernetes/kubestrap-parked ||
	fail "manifests not back: $(on "$cp1" ls -la /etc/kubernetes /etc/kubernetes/manifests /etc/kubernetes/kubestrap-parked 2>&1)"
eventually 120 etcdctl_on "$cp1" endpoint health || fail "etcd of $cp1 not healthy after the recovery"
[[ $(member_line "$cp1" | cut -d' ' -f1) == "$cp1id" ]] || fail "member of $cp1 changed: $(member_line "$cp1"), was $cp1id"
eventually 60 kc "$cp1" get configmap chaos-1 || fail "data written before the killed restore is gone"
ok "a restore killed after stopping etcd: the next run (status) rolled it back; member $cp1id serves its data"

# 4. remove-files alone on a control plane whose member is registered.
out=$(on "$cp3" kubestrap reset phase remove-files 2>&1) || fail "reset phase remove-files: $out"
on "$cp3" test -e /var/lib/etcd/member || fail "reset wiped the data of a registered member"
[[ $out == *"/var/lib/etcd"*"still registered"* ]] || fail "the kept data dir is not reported: $out"
ok "reset phase remove-files kept the data dir of $cp3, whose member is still registered, and said so"
gone() { ! etcdctl_on "$cp1" endpoint health --endpoints "https://$(lab ip "$cp3"):2379" >/dev/null 2>&1; }
eventually 60 gone || fail "etcd of $cp3 still answers after its manifest went"
out=$(on "$cp1" kubestrap etcd members remove "$cp3" 2>&1) || fail "etcd members remove $cp3: $out"
[[ -z $(member_line "$cp3") && $(etcdctl_on "$cp1" member list | wc -l) == 2 ]] ||
	fail "after members remove: $(etcdctl_on "$cp1" member list)"
ok "kubestrap etcd members remove on $cp1 took the dead member of $cp3 out: 2 members left"

# 5. One node: etcd's data dir shared with an admin's file.
docker exec -i "$n4" sh -c 'cat >/root/init.yaml' <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    dataDir: /srv/shared
YAML
tables() { on "$n4" iptables-save | grep '^\*' | sort | paste -sd' ' || true; }
tables_before=$(tables)
mount_before=$(on "$n4" sh -c 'mountpoint -q /var/lib/kubelet && echo mounted || echo none')
on "$n4" kubestrap init --config /root/init.yaml >"$LAB_LOGS/$n4.init.log" 2>&1 || fail "init with a custom data dir (log: $LAB_LOGS/$n4.init.log)"
on "$n4" sh -c 'echo keep >/srv/shared/canary'
out=$(on "$n4" kubestrap reset -o json 2>"$LAB_LOGS/$n4.reset.log") || fail "reset of $n4: $(cat "$LAB_LOGS/$n4.reset.log")"
on "$n4" test -e /srv/shared/canary -a ! -e /srv/shared/member || fail "reset: $(on "$n4" ls -la /srv/shared)"
jq -e '[.left[].what] | any(contains("/srv/shared/canary"))' <<<"$out" >/dev/null || fail "the canary is not reported as left: $out"
mount_after=$(on "$n4" sh -c 'mountpoint -q /var/lib/kubelet && echo mounted || echo none')
[[ $mount_after == "$mount_before" ]] || fail "/var/lib/kubelet: $mount_before before init, $mount_after after reset"
[[ $(tables) == "$tables_before" ]] || fail "iptables tables: '$tables_before' before init, '$(tables)' after reset"
again=$(on "$n4" kubestrap reset -o json 2>/dev/null) || fail "second reset: $again"
[[ $(jq -r .changed <<<"$again") == false ]] || fail "second reset changed something: $again"
ok "reset removed etcd's member/ from a shared data dir, left the admin's file there and named it; /var/lib/kubelet $mount_after and tables '$tables_before' as before init; again: a no-op"

printf '[e2e] chaos: %d checks passed in %ds\n' "$PASSED" "$((SECONDS - t0))"
