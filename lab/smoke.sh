#!/usr/bin/env bash
# smoke.sh: the lab's own test. Two nodes; in each, the bundled kubelet
# (standalone, no API server) runs a static pod of the demo image on top of
# the pause sandbox, both at once; each kubelet's pods live in its own
# node's cgroup subtree; removing one node leaves the other's pod alone;
# lab-down leaves nothing behind. Fails loudly when docker cannot run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export LAB_PREFIX="${LAB_PREFIX:-smoke}"
LABEL="io.kubestrap.lab=$LAB_PREFIX"
lab() { "$here/lab.sh" "$@"; }
fail() { printf '[smoke] FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf '[smoke] ok: %s\n' "$*"; }
n1="$LAB_PREFIX-1" n2="$LAB_PREFIX-2"

diagnose() {
	for n in "$n1" "$n2"; do
		docker exec "$n" journalctl -u kubelet-smoke --no-pager -n 30 2>/dev/null || true
		docker exec "$n" ctr -n k8s.io task ls 2>/dev/null || true
	done
}
trap 'rc=$?; if ((rc)); then diagnose >&2; fi; lab down' EXIT

t0=$SECONDS
lab nodes 2

# What the kubelet needs from containerd that the lab's nodes do not carry
# (later `kubestrap preflight --fix` does this): the bundle's pause image.
pause=$(docker exec "$n1" kubestrap images list | grep /pause:)
kubelet_config='apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: /etc/kubernetes/manifests
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
healthzBindAddress: 127.0.0.1
readOnlyPort: 0'
pod='apiVersion: v1
kind: Pod
metadata: {name: demo, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: demo
    image: kubestrap.io/demo:v1
    imagePullPolicy: Never
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}'

for n in "$n1" "$n2"; do
	docker exec "$n" sed -i "s#restrict_oom_score_adj = true#&\n    sandbox_image = \"$pause\"#" /etc/containerd/config.toml
	docker exec "$n" systemctl restart containerd
	docker exec "$n" mkdir -p /etc/kubernetes/manifests /var/lib/kubelet
	docker exec -i "$n" sh -c 'cat > /var/lib/kubelet/smoke.yaml' <<<"$kubelet_config"
	docker exec -i "$n" sh -c 'cat > /etc/kubernetes/manifests/demo.yaml' <<<"$pod"
	docker exec "$n" systemd-run --unit=kubelet-smoke /opt/kubestrap/kubelet --config=/var/lib/kubelet/smoke.yaml >/dev/null
done

# Both static pods answer with their own pod and node names.
for n in "$n1" "$n2"; do
	ip=$(lab ip "$n")
	want="pod=demo-$n node=$n"
	got=""
	for _ in $(seq 120); do
		got=$(curl -s --max-time 1 "http://$ip:8080/" || true)
		[[ $got == "$want" ]] && break
		sleep 0.5
	done
	[[ $got == "$want" ]] || fail "$n: demo answered '$got', want '$want'"
	ok "$n: demo static pod answers '$got'"
done

# pause and demo run as containerd tasks in each node.
for n in "$n1" "$n2"; do
	tasks=$(docker exec "$n" ctr -n k8s.io task ls | grep -c RUNNING || true)
	((tasks >= 2)) || fail "$n: $tasks running tasks, want pause + demo"
	img=$(docker exec "$n" ctr -n k8s.io containers ls | awk 'NR>1 {print $2}' | sort -u | paste -sd' ')
	[[ $img == *"$pause"* && $img == *kubestrap.io/demo:v1* ]] || fail "$n: containers use '$img'"
	ok "$n: $tasks running tasks ($img)"
done

# Each kubelet's pods sit in its own node's cgroup subtree, not in one
# shared /kubepods of the host.
for n in "$n1" "$n2"; do
	id=$(docker inspect -f '{{.Id}}' "$n")
	dir=$(find /sys/fs/cgroup/memory -maxdepth 3 -type d -name "*$id*" | head -1)
	[[ -n $dir && -d $dir/kubepods ]] || fail "$n: no kubepods under its cgroup ($dir)"
	ok "$n: pods under $dir/kubepods"
done

# Removing node 1 does not disturb node 2's pod: same process, still answering.
pid_before=$(docker exec "$n2" pgrep -x demo)
docker rm -f "$n1" >/dev/null
sleep 3
pid_after=$(docker exec "$n2" pgrep -x demo || true)
[[ $pid_before == "$pid_after" ]] || fail "$n2: demo pid changed from $pid_before to '$pid_after' after removing $n1"
got=$(curl -s --max-time 2 "http://$(lab ip "$n2"):8080/" || true)
[[ $got == "pod=demo-$n2 node=$n2" ]] || fail "$n2: demo answered '$got' after removing $n1"
ok "$n2: pod undisturbed by removing $n1 (pid $pid_after)"

trap - EXIT
lab down
left=$(docker ps -aq --filter "label=$LABEL"; docker volume ls -q --filter "label=$LABEL"; docker network ls -q --filter "label=$LABEL")
[[ -z $left ]] || fail "lab down left: $left"
ok "lab down left nothing behind"
echo "5 passed, 0 failed (lab smoke test, $((SECONDS - t0))s)"
