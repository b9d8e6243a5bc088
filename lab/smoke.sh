#!/usr/bin/env bash
# smoke.sh: the lab's own test. Two nodes; in each, the bundled kubelet
# (standalone, no API server) runs a static pod of the demo image on top of
# the pause sandbox, both at once; each kubelet's pods live in its own
# node's cgroup subtree; removing one node leaves the other's pod alone;
# lab-down leaves nothing behind. Fails loudly when docker cannot run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh"
export LAB_PREFIX="${LAB_PREFIX:-smoke}"
LABEL="io.kubestrap.lab=$LAB_PREFIX"
n1="$LAB_PREFIX-1" n2="$LAB_PREFIX-2"

# The standalone kubelets have no API server: their journal and
# containerd's tasks say what went wrong.
smoke_diagnose() {
	for n in "$n1" "$n2"; do
		on "$n" journalctl -u kubelet-smoke --no-pager -n 30 2>/dev/null || true
		on "$n" ctr -n k8s.io task ls 2>/dev/null || true
	done
}
trap 'rc=$?; if ((rc)); then smoke_diagnose >&2; fi; lab down' EXIT

t0=$SECONDS
lab nodes 2

# What the kubelet needs from containerd that the lab's nodes do not carry
# (later `kubestrap preflight --fix` does this): the bundle's pause image.
pause=$(on "$n1" kubestrap images list | grep /pause:)
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
pod=$(demo_pod_yaml)

for n in "$n1" "$n2"; do
	on "$n" sed -i "s#restrict_oom_score_adj = true#&\n    sandbox_image = \"$pause\"#" /etc/containerd/config.toml
	on "$n" systemctl restart containerd
	on "$n" mkdir -p /etc/kubernetes/manifests /var/lib/kubelet
	docker exec -i "$n" sh -c 'cat > /var/lib/kubelet/smoke.yaml' <<<"$kubelet_config"
	docker exec -i "$n" sh -c 'cat > /etc/kubernetes/manifests/demo.yaml' <<<"$pod"
	on "$n" systemd-run --unit=kubelet-smoke /opt/kubestrap/kubelet --config=/var/lib/kubelet/smoke.yaml >/dev/null
done

# Both static pods answer with their own pod and node names.
for n in "$n1" "$n2"; do
	ip=$(lab ip "$n")
	want="pod=demo-$n node=$n"
	answers() { [[ $(curl -s --max-time 1 "http://$ip:8080/") == "$want" ]]; }
	eventually 60 answers || true
	got=$(curl -s --max-time 1 "http://$ip:8080/" || true)
	[[ $got == "$want" ]] || fail "$n: demo answered '$got', want '$want'"
	ok "$n: demo static pod answers '$got'"
done

# pause and demo run as containerd tasks in each node.
for n in "$n1" "$n2"; do
	tasks=$(on "$n" ctr -n k8s.io task ls | grep -c RUNNING || true)
	((tasks >= 2)) || fail "$n: $tasks running tasks, want pause + demo"
	img=$(on "$n" ctr -n k8s.io containers ls | awk 'NR>1 {print $2}' | sort -u | paste -sd' ')
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
pid_before=$(on "$n2" pgrep -x demo)
docker rm -f "$n1" >/dev/null
sleep 3
pid_after=$(on "$n2" pgrep -x demo || true)
[[ $pid_before == "$pid_after" ]] || fail "$n2: demo pid changed from $pid_before to '$pid_after' after removing $n1"
got=$(curl -s --max-time 2 "http://$(lab ip "$n2"):8080/" || true)
[[ $got == "pod=demo-$n2 node=$n2" ]] || fail "$n2: demo answered '$got' after removing $n1"
ok "$n2: pod undisturbed by removing $n1 (pid $pid_after)"

trap - EXIT
lab down
left=$(docker ps -aq --filter "label=$LABEL"; docker volume ls -q --filter "label=$LABEL"; docker network ls -q --filter "label=$LABEL")
[[ -z $left ]] || fail "lab down left: $left"
ok "lab down left nothing behind"
echo "$PASSED passed, 0 failed (lab smoke test, $((SECONDS - t0))s)"
