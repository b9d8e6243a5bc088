#!/usr/bin/env bash
# check_test.sh: the role's own checks refuse a play it cannot run right,
# before it touches a host: here, a play with `serial`. Runs the role
# against local stand-in hosts (nothing is changed: the check fails first).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v ansible-playbook >/dev/null || { echo "ansible-playbook is missing: apt-get install ansible-core" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
touch "$work/kubestrap-v0-linux-amd64.tar.gz"
cat >"$work/inventory.ini" <<INI
[kubestrap_control_plane]
cp1 ansible_connection=local
[kubestrap_workers]
w1 ansible_connection=local
w2 ansible_connection=local
INI
cat >"$work/play.yml" <<YAML
- name: The role in batches of one
  hosts: kubestrap_control_plane:kubestrap_workers
  gather_facts: false
  serial: 1
  roles:
    - role: kubestrap
YAML
set +e
out=$(ANSIBLE_ROLES_PATH="$here/roles" ANSIBLE_NOCOLOR=1 ansible-playbook -i "$work/inventory.ini" "$work/play.yml" \
	-e kubestrap_release="$work/kubestrap-v0-linux-amd64.tar.gz" 2>&1)
rc=$?
set -e
if ((rc == 0)) || [[ $out != *"without serial (this batch has 1 of the play's 3 hosts)"* ]]; then
	printf '%s\n' "$out" >&2
	echo "[check_test] FAIL: a play with serial was not refused by the role's check (exit $rc)" >&2
	exit 1
fi
echo "[check_test] ok: a play with serial is refused before any host is touched"
echo "[check_test] 1 passed, 0 failed"
