#!/usr/bin/env bash
# e2e-day2.sh: day-2 operations on a cluster made with 1 h certificates:
# check-expiration warns; `certs renew all` renews every certificate and
# kubeconfig and the static pods restart onto them (the API server's
# serving certificate, read from its port, is new); the cluster keeps
# working (kubectl, a new pod, a join after the renewal); a second renew
# does nothing; the auto-renew timer is enabled, runs, and goes. Then an
# etcd snapshot is saved and restored (a ConfigMap deleted after the save
# is back), a corrupted snapshot is refused before anything stops, the
# snapshot timer works, and `status` is healthy, then names a stopped
# worker and a stopped etcd.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
export LAB_PREFIX="${LAB_PREFIX:-e2e-day2}"
cp="$LAB_PREFIX-1" w="$LAB_PREFIX-2"
trap 'rc=$?; ((rc)) && diagnose "$cp"; lab down' EXIT
t0=$SECONDS
lab nodes 2
for n in "$cp" "$w"; do on "$n" kubestrap preflight --fix >/dev/null & done
wait
docker exec -i "$cp" sh -c 'cat > /root/short-certs.yaml' <<'YAML'
apiVersion: kubestrap.io/v1alpha1
kind: ClusterConfiguration
certificateValidityPeriod: 1h
YAML
info=$(on "$cp" kubestrap init --config /root/short-certs.yaml -o json 2>"$LAB_LOGS/$cp.init.log") ||
	fail "init with 1 h certificates (log: $LAB_LOGS/$cp.init.log)"
read -r -a join <<<"$(jq -r .joinCommand <<<"$info")"
ip=$(lab ip "$cp")
notafter() { openssl s_client -connect "$ip:6443" </dev/null 2>/dev/null | openssl x509 -noout -enddate | cut -d= -f2; }
year() { date -d "$1" +%Y; }
before=$(notafter)
set +e
out=$(on "$cp" kubestrap certs check-expiration 2>&1); rc=$?
set -e
[[ $rc == 1 && $out == *kubelet-managed* && $out != *unreadable* ]] || fail "check-expiration with 1 h certs: rc=$rc $out"
ok "check-expiration exits 1 on 1 h certificates and reads the kubelet's rotated certificate"

apiserver() { on "$cp" ctr -n k8s.io containers ls -q 'labels."io.kubernetes.container.name"==kube-apiserver' | sort; }
old=$(apiserver)
s=$SECONDS
out=$(on "$cp" kubestrap certs renew all --expiring-within 2h --validity 8760h 2>&1) || fail "renew: $out"
took=$((SECONDS - s))
[[ $out == *"11 renewed"* ]] || fail "renew said: $out"
after=$(notafter)
[[ $(year "$after") -gt $(year "$before") || $(date -d "$after" +%s) -gt $(($(date -d "$before" +%s) + 86400)) ]] ||
	fail "the API server still serves the old certificate (NotAfter $before -> $after)"
[[ -n $(comm -13 <(echo "$old") <(apiserver)) ]] || fail "kube-apiserver did not restart (containers: $(apiserver))"
ok "certs renew all: 11 renewed and the static pods restarted in ${took}s; the API server now serves a certificate until $after"

kc "$cp" get nodes >/dev/null || fail "kubectl after renewal"
# The renewal restarted kcm at once: the new instance waits out the old
# lease (15 s) before its controllers run.
default_sa "$cp"
out=$(kc "$cp" run after-renew --image=kubestrap.io/demo:v1 --image-pull-policy=Never 2>&1) || fail "run a pod: $out"
on "$w" "${join[@]}" >"$LAB_LOGS/$w.join.log" 2>&1 || fail "join after renewal (log: $LAB_LOGS/$w.join.log)"
kc "$cp" wait --for=condition=Ready pod/after-renew "node/$w" --timeout=90s >/dev/null || fail "pod or joined node not Ready"
ok "after the renewal kubectl works, a new pod runs and a node joins"
again=$(on "$cp" kubestrap certs renew all --expiring-within 2h 2>&1) || fail "second renew: $again"
[[ $again == *"nothing restarted"* ]] || fail "second renew: $again"
ok "a second renew renews and restarts nothing"

on "$cp" kubestrap certs auto-renew enable >/dev/null || fail "auto-renew enable"
[[ $(on "$cp" systemctl is-enabled kubestrap-certs-renew.timer) == enabled ]] || fail "the renew timer is not enabled"
on "$cp" systemctl start kubestrap-certs-renew.service || fail "the renew service failed: $(on "$cp" journalctl -u kubestrap-certs-renew.service --no-pager | tail -5)"
on "$cp" journalctl -u kubestrap-certs-renew.service --no-pager | grep -q 'renew' || fail "the renew service logged nothing"
on "$cp" kubestrap certs auto-renew disable >/dev/null || fail "auto-renew disable"
on "$cp" test ! -e /etc/systemd/system/kubestrap-certs-renew.timer || fail "disable left the timer unit"
ok "auto-renew: the timer is enabled, its service runs and logs to the journal, disable removes it"

# Snapshots: save, delete what was saved, restore.
kc "$cp" create configmap saved --from-literal=k=v >/dev/null
kc "$cp" create secret generic saved --from-literal=word=canary-restored >/dev/null
s=$SECONDS
snap=$(on "$cp" kubestrap etcd snapshot save -o json 2>/dev/null) || fail "snapshot save"
saved=$((SECONDS - s))
file=$(jq -r .file <<<"$snap")
[[ $file == /* ]] || file="/var/lib/kubestrap/snapshots/$file" # the sidecar names the file beside it
sum=$(on "$cp" sha256sum "$file" | cut -d' ' -f1) || fail "no snapshot at $file: $(on "$cp" ls -la /var/lib/kubestrap/snapshots)"
[[ $sum == "$(jq -r .sha256 <<<"$snap")" ]] || fail "$file has sha256 $sum, its sidecar says: $snap"
[[ $(on "$cp" stat -c %a "$file") == 600 ]] || fail "snapshot file mode $(on "$cp" stat -c %a "$file")"
size=$(on "$cp" stat -c %s "$file")
kc "$cp" delete configmap saved >/dev/null
on "$cp" sh -c "cp $file /root/bad.db && cp $file.json /root/bad.db.json && printf x | dd of=/root/bad.db bs=1 seek=4096 conv=notrunc status=none"
set +e
out=$(on "$cp" kubestrap etcd snapshot restore /root/bad.db 2>&1); rc=$?
set -e
[[ $rc == 1 && $out == *sha256* ]] || fail "a corrupted snapshot: rc=$rc $out"
on "$cp" test -e /etc/kubernetes/manifests/etcd.yaml -a -e /etc/kubernetes/manifests/kube-apiserver.yaml ||
	fail "a refused restore moved the manifests"
ok "a corrupted snapshot is refused by its hash (exit 1) before anything stops"
# The node's encryption key changes after the save (as a rotation, or a
# reset and a new init, would do): the restore brings back the key saved
# beside the snapshot, as a decrypt-only key, so its Secrets read.
key=$(jq -r '.encryptionKeys[0]' <<<"$snap")
[[ $key == aescbc/key-* && $(on "$cp" stat -c %a "$file.keys.yaml") == 600 ]] || fail "snapshot keys: $snap"
# shellcheck disable=SC2016 # expanded by the node's shell
on "$cp" sh -c 'k=$(head -c 32 /dev/urandom | base64); sed -i -e "s|secret: .*|secret: $k|" -e "s|name: key-.*|name: key-replaced|" /etc/kubernetes/pki/encryption-config.yaml'
s=$SECONDS
out=$(on "$cp" kubestrap etcd snapshot restore "$file" 2>&1) || fail "restore: $out"
restored=$((SECONDS - s))
[[ $out == *"added the snapshot's encryption keys [$key]"* ]] || fail "restore did not bring back the key $key: $out"
eventually 60 kc "$cp" get configmap saved || fail "the ConfigMap is not back after the restore"
kc "$cp" wait --for=condition=Ready "node/$cp" --timeout=90s >/dev/null || fail "$cp not Ready after the restore"
word=$(kc "$cp" get secret saved -o jsonpath='{.data.word}' | base64 -d)
[[ $word == canary-restored ]] || fail "the restored Secret reads as '$word'"
ok "snapshot saved in ${saved}s ($size bytes), restored in ${restored}s: the ConfigMap deleted after the save is back; its Secret decrypts with the key saved beside it although the node's key changed"

out=$(on "$cp" kubestrap etcd snapshot schedule --every 6h --retain 2 2>&1) || fail "snapshot schedule: $out"
on "$cp" systemctl is-enabled --quiet kubestrap-etcd-snapshot.timer || fail "the snapshot timer is not enabled"
on "$cp" kubestrap etcd snapshot schedule --disable >/dev/null || fail "schedule --disable"
on "$cp" test ! -e /etc/systemd/system/kubestrap-etcd-snapshot.timer || fail "schedule --disable left the timer"
ok "the snapshot timer is enabled by schedule and removed by schedule --disable"

# status: healthy, then a stopped worker, then a stopped etcd.
eventually 60 on "$cp" kubestrap status || fail "status on a healthy cluster: $(on "$cp" kubestrap status 2>&1)"
docker stop "$w" >/dev/null
eventually 90 sh -c "! docker exec $cp kubestrap status >/dev/null 2>&1" || fail "status did not notice $w stopped"
out=$(on "$cp" kubestrap status 2>&1 || true)
[[ $out == *"$w"* ]] || fail "status does not name $w: $out"
on "$cp" mv /etc/kubernetes/manifests/etcd.yaml /root/etcd.yaml
eventually 60 sh -c "docker exec $cp kubestrap status 2>&1 | grep -qi etcd" || fail "status does not name etcd"
on "$cp" mv /root/etcd.yaml /etc/kubernetes/manifests/etcd.yaml
ok "status is healthy (exit 0), then exits 1 naming the stopped worker $w and the stopped etcd"

trap - EXIT
lab down
echo "$PASSED passed, 0 failed (lab e2e day2, $((SECONDS - t0))s)"
