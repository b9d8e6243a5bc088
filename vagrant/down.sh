#!/usr/bin/env bash
# down.sh: kubestrap down for the Vagrant lab: every node reset (workers
# first), the VMs kept (`vagrant destroy -f` removes them). The same as
# ./up.sh --down.
set -euo pipefail
exec "$(dirname "$0")/up.sh" --down "$@"
