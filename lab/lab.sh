#!/usr/bin/env bash
# lab.sh: nodes as containers on this machine, driving the docker CLI.
#   lab.sh nodes N     N fresh nodes (a stale lab of the same prefix is removed first)
#   lab.sh down        remove every container, network and volume of the lab
#   lab.sh image       build the node image (cached)
#   lab.sh ip NODE     print a node's IP
#   lab.sh logs NAME   make a run's log directory under .lab/logs, print its path
#   lab.sh lb NODE...  start PREFIX-lb: haproxy on :6443 in front of the nodes' API
#                      servers (health-checked on /readyz), print its IP
#   lab.sh ssh-key     print the lab's SSH private key (made once, .lab/ssh/id_ed25519)
#   lab.sh ssh-port NODE  the 127.0.0.1 port forwarded to a LAB_VAGRANT node's sshd
# Environment: LAB_PREFIX (default lab: nodes lab-1, lab-2, ...), DIST_DIR (the
# unpacked release: kubestrap, kubelet, kubectl, cni/), IMAGES_TAR, KUBESTRAP_CACHE,
# LAB_LOGS (the run's log directory; `nodes` makes one when it is unset),
# LAB_BARE=1 (nodes without the release and images: drivers install them over
# SSH), LAB_VAGRANT=1 (VirtualBox's network layout, see vagrant_net).
# Every node runs sshd with host keys of its own and takes the lab key for
# root and for `kube`, a user with passwordless sudo.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${KUBESTRAP_CACHE:-$HOME/.cache/kubestrap}"
PREFIX="${LAB_PREFIX:-lab}"
LABDIR="$repo/.lab"
NET="$PREFIX-net"
LABEL="io.kubestrap.lab=$PREFIX"

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# new_logs NAME prints a new, empty log directory for one run, kept after it:
# .lab/logs/NAME-DATE-TIME.XXXXXX.
new_logs() {
	mkdir -p "$LABDIR/logs"
	mktemp -d "$LABDIR/logs/$1-$(date +%Y%m%d-%H%M%S).XXXXXX"
}

# ensure_docker starts dockerd when no daemon answers, installing docker.io
# from Debian when it is missing.
ensure_docker() {
	docker info >/dev/null 2>&1 && return
	if ! command -v dockerd >/dev/null; then
		log "installing docker.io"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
	fi
	mkdir -p "$LABDIR"
	log "starting dockerd (log: $LABDIR/dockerd.log)"
	setsid dockerd >"$LABDIR/dockerd.log" 2>&1 </dev/null &
	for _ in $(seq 60); do
		docker info >/dev/null 2>&1 && return
		sleep 0.5
	done
	tail -20 "$LABDIR/dockerd.log" >&2
	die "dockerd did not start"
}

image_tag() {
	local sum
	sum=$(cat "$repo/lab/rootfs.sh" "$repo/lab/node/lab-entrypoint" "$repo/lab/node/etc/containerd/config.toml" |
		sha256sum | cut -c1-12)
	echo "kubestrap-lab-node:$sum"
}

# node_image builds the node image once: the cached Debian root file
# system, the lab's entrypoint and containerd config, an empty machine-id.
node_image() {
	ensure_docker
	local tag rootfs
	tag=$(image_tag)
	if docker image inspect "$tag" >/dev/null 2>&1; then
		echo "$tag"
		return
	fi
	local t0=$SECONDS
	rootfs=$(rootfs)
	local stage
	stage=$(mktemp -d)
	cp -a "$repo/lab/node/." "$stage/"
	mkdir -p "$stage/usr/local/sbin" "$stage/usr/local/bin"
	mv "$stage/lab-entrypoint" "$stage/usr/local/sbin/lab-entrypoint"
	: >"$stage/etc/machine-id"
	ln -sf /opt/kubestrap/kubestrap "$stage/usr/local/bin/kubestrap"
	# docker import refuses duplicate paths: the rootfs's copies of the lab's
	# files are left out, then the lab's files (not their directories) appended.
	local list files
	list=$(cd "$stage" && find . -type f -o -type l)
	mapfile -t files <<<"$list"
	tar -C "$rootfs" -cf "$stage.tar" "${files[@]/#/--exclude=}" .
	(cd "$stage" && tar -rf "$stage.tar" --no-recursion "${files[@]}")
	docker import --change 'ENTRYPOINT ["/usr/local/sbin/lab-entrypoint"]' --change 'ENV container=docker' \
		"$stage.tar" "$tag" >/dev/null
	rm -rf "$stage" "$stage.tar"
	log "node image $tag built in $((SECONDS - t0))s"
	echo "$tag"
}

# thaw unfreezes every cgroup below a node container. runc freezes a pod's
# cgroup while it sets the container up; a node killed at that moment
# leaves it FROZEN, its tasks in D state, and docker then cannot kill the
# node ("did not receive an exit event").
thaw() {
	local id="$1" f
	while IFS= read -r f; do
		grep -qs FROZEN "$f" && echo THAWED >"$f" 2>/dev/null
	done < <(find /sys/fs/cgroup/freezer/docker/"$id"* -name freezer.state 2>/dev/null)
	while IFS= read -r f; do
		grep -qs 1 "$f" && echo 0 >"$f" 2>/dev/null
	done < <(find /sys/fs/cgroup/unified/docker/"$id"* /sys/fs/cgroup/system.slice/docker-"$id"* -name cgroup.freeze 2>/dev/null)
	return 0
}

# remove_nodes ID...: kill and remove the node containers.
remove_nodes() {
	local id
	docker kill "$@" >/dev/null 2>&1 || true
	for _ in 1 2 3; do
		for id in $(docker ps -q --no-trunc --filter "label=$LABEL"); do thaw "$id"; done
		docker rm -f "$@" >/dev/null 2>&1 && return 0
		sleep 1
	done
	docker rm -f "$@" >/dev/null
}

down() {
	ensure_docker
	local out ids
	out=$(docker ps -aq --filter "label=$LABEL")
	if [[ -n $out ]]; then mapfile -t ids <<<"$out"; remove_nodes "${ids[@]}"; fi
	out=$(docker volume ls -q --filter "label=$LABEL")
	if [[ -n $out ]]; then mapfile -t ids <<<"$out"; docker volume rm "${ids[@]}" >/dev/null; fi
	out=$(docker network ls -q --filter "label=$LABEL")
	if [[ -n $out ]]; then mapfile -t ids <<<"$out"; docker network rm "${ids[@]}" >/dev/null; fi
	rm -f "$LABDIR/$PREFIX.nodes"
	return 0
}

node_ip() {
	docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$1"
}

# ssh_port prints the host port forwarded to a LAB_VAGRANT node's sshd.
ssh_port() {
	docker port "$1" 22/tcp | head -1 | sed 's/.*://'
}

start_node() {
	local name="$1" image="$2" release=()
	if [[ ${LAB_BARE:-} != 1 ]]; then
		release=(-v "$DIST_DIR:/opt/kubestrap:ro" -v "$IMAGES_TAR:/opt/kubestrap-images.tar:ro")
	fi
	# Vagrant forwards each VM's SSH port from 127.0.0.1 on the host.
	[[ ${LAB_VAGRANT:-} == 1 ]] && release+=(-p 127.0.0.1::22)
	docker volume create --label "$LABEL" "$name-var" >/dev/null
	docker run -d --name "$name" --hostname "$name" --network "$NET" --label "$LABEL" \
		--cap-add ALL --cap-drop SYS_RESOURCE --device /dev/kmsg --device-cgroup-rule 'a *:* rwm' \
		--security-opt systempaths=unconfined --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
		--tmpfs /run --tmpfs /run/lock --tmpfs /tmp --cgroupns=private \
		-v /lib/modules:/lib/modules:ro -v "$name-var:/var" "${release[@]}" \
		"$image" >/dev/null
}

# ssh_key prints the lab's SSH key, made on first use.
ssh_key() {
	local key="$LABDIR/ssh/id_ed25519"
	if [[ ! -f $key ]]; then
		mkdir -p "$LABDIR/ssh" && chmod 700 "$LABDIR/ssh"
		ssh-keygen -q -t ed25519 -N '' -C kubestrap-lab -f "$key"
	fi
	echo "$key"
}

# ssh_access lets the lab key in as root and as kube (sudo, no password).
ssh_access() {
	local name="$1" pub
	pub=$(cat "$(ssh_key).pub")
	docker exec -i "$name" sh -ec '
		pub=$(cat)
		id kube >/dev/null 2>&1 || useradd -m -s /bin/bash kube
		echo "kube ALL=(ALL) NOPASSWD: ALL" >/etc/sudoers.d/kube && chmod 440 /etc/sudoers.d/kube
		for home in /root /home/kube; do
			mkdir -p "$home/.ssh" && echo "$pub" >"$home/.ssh/authorized_keys"
			chmod 700 "$home/.ssh" && chmod 600 "$home/.ssh/authorized_keys"
		done
		chown -R kube: /home/kube/.ssh
		systemctl is-active --quiet ssh || systemctl start ssh' <<<"$pub"
}

# vagrant_net gives a node VirtualBox's layout, as a Vagrant VM with a
# private network has it: a NAT interface holding 10.0.2.15 (the same on
# every VM, reaching no other VM) with the default route, and the private
# network (here the lab's docker network, eth0) with no default route.
# nat0 is one end of a veth pair whose other end stays in the node, so the
# "NAT" reaches nothing (the host's kernel may lack the dummy module).
vagrant_net() {
	docker exec "$1" sh -ec '
		ip link add nat0 type veth peer name nat0-peer && ip link set nat0-peer up
		ip addr add 10.0.2.15/24 dev nat0 && ip link set nat0 up
		ip route replace default via 10.0.2.2 dev nat0'
}

# wait_node waits for systemd to finish booting, then loads the images.
wait_node() {
	local name="$1" state="" end=$((SECONDS + 180))
	# The entrypoint runs before systemd is PID 1, and systemd's bus may
	# refuse connections for a moment after: poll rather than --wait.
	while ((SECONDS < end)); do
		state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
		[[ $state == running || $state == degraded ]] && break
		sleep 0.2
	done
	if [[ $state != running && $state != degraded ]]; then
		docker exec "$name" systemctl --failed --no-pager >&2 || true
		die "$name: systemd did not come up (state: ${state:-none})"
	fi
	[[ $state == degraded ]] && log "$name: systemd degraded: $(docker exec "$name" systemctl --failed --plain --no-legend | awk '{print $1}' | paste -sd' ')"
	docker exec "$name" systemctl is-active --quiet containerd || die "$name: containerd is not active"
	ssh_access "$name" || die "$name: setting up SSH access failed"
	[[ ${LAB_VAGRANT:-} == 1 ]] && { vagrant_net "$name" || die "$name: the Vagrant network layout failed"; }
	[[ ${LAB_BARE:-} == 1 ]] && return 0
	docker exec "$name" kubestrap images load /opt/kubestrap-images.tar -o json >"$LAB_LOGS/$name.images.json" ||
		die "$name: loading images failed (see $LAB_LOGS/$name.images.json)"
}

nodes() {
	local n="$1"
	if [[ ${LAB_BARE:-} != 1 ]]; then
		[[ -n ${DIST_DIR:-} && -x $DIST_DIR/kubestrap && -x $DIST_DIR/kubelet ]] || die "DIST_DIR must hold kubestrap and kubelet (make dist)"
		[[ -f ${IMAGES_TAR:-} ]] || die "IMAGES_TAR must name the images tarball (make images)"
	fi
	local image t0=$SECONDS
	if [[ -z ${LAB_LOGS:-} ]]; then
		LAB_LOGS=$(new_logs "$PREFIX-nodes")
		log "logs: $LAB_LOGS"
	fi
	mkdir -p "$LAB_LOGS"
	image=$(node_image)
	ssh_key >/dev/null # once, before the nodes take it in parallel
	raise_inotify
	check_disk
	down # a stale lab of this prefix, e.g. after dockerd restarted
	mkdir -p "$LABDIR"
	docker network create --label "$LABEL" "$NET" >/dev/null
	local i names=()
	for ((i = 1; i <= n; i++)); do
		names+=("$PREFIX-$i")
		start_node "$PREFIX-$i" "$image"
	done
	local pids=()
	for name in "${names[@]}"; do
		wait_node "$name" & pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "a node failed to come up"; done
	printf '%s\n' "${names[@]}" >"$LABDIR/$PREFIX.nodes"
	for name in "${names[@]}"; do
		log "$name $(node_ip "$name") machine-id $(docker exec "$name" cat /etc/machine-id) images $(docker exec "$name" ctr -n k8s.io images ls -q | grep -vc '^sha256:' || true)"
	done
	log "$n node(s) up in $((SECONDS - t0))s"
}

# rootfs prints the cached node root file system, building it when missing;
# the cache is keyed by rootfs.sh, so a new package list builds a new one.
rootfs() {
	local dir
	dir="$CACHE/lab/rootfs-$(sha256sum "$repo/lab/rootfs.sh" | cut -c1-12)"
	if [[ ! -d $dir ]]; then
		command -v debootstrap >/dev/null || {
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
		}
		log "debootstrap of the node root file system (cached in $dir)"
		mkdir -p "$CACHE/lab"
		local t0=$SECONDS
		"$repo/lab/rootfs.sh" "$dir"
		log "root file system built in $((SECONDS - t0))s"
	fi
	echo "$dir"
}

# check_disk warns when Docker's disk is nearly as full as the kubelets'
# eviction thresholds (imagefs.available<15%): the nodes share it, and their
# kubelets then evict pods ("ephemeral-storage") in the middle of a test.
check_disk() {
	local root pct
	root=$(docker info -f '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker)
	pct=$(df --output=avail,size "$root" | awk 'NR == 2 {printf "%d", 100 * $1 / $2}')
	if ((pct < 20)); then
		log "WARNING: only $pct% of $root's disk is free; node kubelets evict pods below 15%:" \
			"free space (docker volume prune, old caches) before trusting a lab test"
	fi
	return 0
}

# raise_inotify: every node's kubelet, containerd and systemd share this
# kernel's inotify limits; at the default 128 instances about eight nodes
# make kubelets die with "too many open files" (kind documents the same).
raise_inotify() {
	local f=/proc/sys/fs/inotify/max_user_instances w=/proc/sys/fs/inotify/max_user_watches
	if (($(cat "$f") < 1024)); then
		log "raising fs.inotify.max_user_instances from $(cat "$f") to 1024 for the lab"
		echo 1024 >"$f"
	fi
	if (($(cat "$w") < 1048576)); then
		echo 1048576 >"$w"
	fi
}

# lb NODE...: a TCP load balancer for the nodes' API servers, as kind fronts
# its HA clusters: haproxy checks each backend's /readyz over TLS and sends
# connections only to the ready ones. Prints the balancer's IP.
lb() {
	local name="$PREFIX-lb" image cfg node
	image=$(node_image)
	cfg="$LABDIR/$PREFIX-lb.cfg"
	{
		printf 'global\n  maxconn 4000\n'
		# A stopped backend drops packets: connect fails after 1 s, and
		# redispatch sends the connection to another backend at once.
		printf 'defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 1h\n  timeout server 1h\n'
		printf '  retries 3\n  option redispatch\n'
		printf 'frontend apiserver\n  bind *:6443\n  default_backend apiservers\n'
		printf 'backend apiservers\n  option httpchk GET /readyz\n  http-check expect status 200\n'
		# A backend marked down (its /readyz fails: its etcd member is being
		# replaced, say) has its open connections cut, so that long-lived
		# clients (kubelets, controllers) reconnect to a ready one rather
		# than wait on it. Recommended for any API server balancer.
		printf '  default-server inter 1s fall 2 rise 1 check check-ssl verify none on-marked-down shutdown-sessions\n'
		for node in "$@"; do printf '  server %s %s:6443\n' "$node" "$(node_ip "$node")"; done
	} >"$cfg"
	docker rm -f "$name" >/dev/null 2>&1 || true
	docker run -d --name "$name" --hostname "$name" --network "$NET" --label "$LABEL" \
		-v "$cfg:/etc/haproxy/lab.cfg:ro" --entrypoint /usr/sbin/haproxy "$image" -db -f /etc/haproxy/lab.cfg >/dev/null
	node_ip "$name"
}

case "${1:-}" in
rootfs) rootfs ;;
nodes) nodes "${2:-3}" ;;
down) down ;;
image) node_image ;;
ip) node_ip "$2" ;;
logs) new_logs "${2:?usage: lab.sh logs NAME}" ;;
ssh-key) ssh_key ;;
ssh-port) ssh_port "$2" ;;
lb) shift; lb "$@" ;;
docker) ensure_docker ;;
*) die "usage: lab.sh nodes N | down | image | ip NODE | logs NAME | lb NODE... | docker" ;;
esac
