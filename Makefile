# kubestrap — see README.md. Every target that builds upstream components
# is a no-op when its cached output exists (bundle/build.sh).
SHELL := /bin/bash
include bundle/versions.env
CACHE ?= $(or $(KUBESTRAP_CACHE),$(HOME)/.cache/kubestrap)
BUNDLE_BIN := $(CACHE)/$(KUBERNETES_VERSION)/bin
IMAGES_TAR := $(CACHE)/$(KUBERNETES_VERSION)/images.tar
# Evaluated once: the names of both releases must not change when the tree
# does while a long target runs.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
endif
LDFLAGS := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GO_TEST_FLAGS ?=

PHONY_E2E := e2e e2e-drivers e2e-interop e2e-chaos e2e-upgrade
.PHONY: $(PHONY_E2E) dist-old all build test test-unit test-bundle test-scripts lint fmt fuzz bench bundle images dist lab lab-nodes lab-down lab-smoke bench bench-init bench-ha bench-vs-kubeadm bench-upgrade bench-go clean

all: build

GO_SOURCES := $(shell git ls-files --cached --others --exclude-standard '*.go' | grep -v '^bundle/') go.mod go.sum
## build: the kubestrap binary in bin/ (a no-op when no Go source changed)
build: bin/kubestrap
bin/kubestrap: $(GO_SOURCES)
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubestrap ./cmd/kubestrap

## test: everything CI runs — lint, unit tests, the bundle's own tests, the scripts' tests, the lab smoke test
test: lint test-unit test-bundle test-scripts lab-smoke e2e

## test-bundle: the pause and demo programs
test-bundle:
	cd bundle/small && go vet ./... && go test -count=1 ./...

## test-scripts: the release's install.sh against a fake release in temp dirs (seconds; no root needed)
test-scripts:
	release/install_test.sh
	ansible/check_test.sh

## test-unit: the fast inner loop (seconds)
test-unit:
	go test $(GO_TEST_FLAGS) -race -count=1 ./...

## lint: gofmt, go vet, staticcheck, shellcheck and ansible-lint (production profile) must be clean; the Vagrantfile must parse
# The shell scripts: lab/, vagrant/, release/, ansible/ and bundle/ *.sh, the lab
# node's scripts (files under lab/node with a sh/bash #! line), the CI entry point.
SHELL_SCRIPTS = $(shell git ls-files ':(glob)lab/*.sh' ':(glob)vagrant/*.sh' ':(glob)release/*.sh' ':(glob)ansible/*.sh' ':(glob)bundle/*.sh' ':(glob)components/addons/*.sh' .ci/run; \
  for f in $$(git ls-files lab/node); do head -n1 "$$f" | grep -qE 'bin/(env )?(ba)?sh$$' && echo "$$f"; done)
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^bundle/')); \
	  if [[ -n "$$unformatted" ]]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: apt-get install shellcheck"; exit 1; }
	shellcheck -x $(SHELL_SCRIPTS)
	@command -v ruby >/dev/null || { echo "ruby is missing (it checks the Vagrantfile's syntax): apt-get install ruby"; exit 1; }
	ruby -c vagrant/Vagrantfile >/dev/null
	@command -v ansible-lint >/dev/null || { echo "ansible-lint is missing: apt-get install ansible-lint"; exit 1; }
	cd ansible && ansible-lint --offline --profile production

fmt:
	gofmt -w $$(git ls-files '*.go')

## fuzz: a short run of the config decoder fuzzer
fuzz:
	go test ./config -run '^$$' -fuzz FuzzDecode -fuzztime 30s

## bench: 3-node lab cluster timings (init, joins, all Ready), 3 runs
bench: dist
	$(LAB_ENV) lab/bench.sh cluster 3

## bench-init: one-node init timings and per-phase table, 3 runs
bench-init: dist
	$(LAB_ENV) lab/bench.sh init 3

## bench-ha: bare nodes -> 3 control planes behind haproxy + 2 workers Ready; each control-plane join; 3 runs
bench-ha: dist
	$(LAB_ENV) lab/bench-ha.sh 3

## bench-vs-kubeadm: kubeadm init/join vs kubestrap init/join on the same lab nodes, 3 rounds, alternating order
## (kubeadm is built from the bundle's pinned module, cached, and never shipped)
bench-vs-kubeadm: dist
	$(LAB_ENV) KUBEADM="$$(bundle/build.sh kubeadm)/kubeadm" lab/bench-vs-kubeadm.sh 3

## bench-upgrade: 3 control planes + 2 workers at v1.34.4 upgraded to v1.35.4 step by step, 3 runs, min/median
bench-upgrade: dist dist-old
	$(LAB_ENV) $(OLD_ENV) lab/bench-upgrade.sh 3

## bench-go: PKI and offline init micro-benchmarks
bench-go:
	go test ./certs ./phases -run '^$$' -bench . -benchtime 5x -benchmem

## bundle: kubelet, control-plane binaries, etcd, CoreDNS, flannel, CNI plugins, pause, demo (cached)
# The node root file system (debootstrap: downloads, disk) is built in the
# background meanwhile, for the images and the lab that need it next: on a
# fresh machine it then costs nothing. Its failure stops nothing here; the
# images step builds it again and reports the error.
bundle:
	@if [[ $$EUID == 0 ]] && command -v docker >/dev/null; then \
	  mkdir -p .lab && { lab/lab.sh rootfs >.lab/rootfs.log 2>&1 & }; fi; \
	  KUBERNETES_VERSION=$(KUBERNETES_VERSION) bundle/build.sh all >/dev/null; rc=$$?; wait; exit $$rc

## images: every component image in one tarball (rebuilt only when a bundle binary changed)
images: bundle
	@$(MAKE) --no-print-directory $(IMAGES_TAR)
IMAGE_BINS := kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd etcdctl coredns pause demo flanneld
$(IMAGES_TAR): $(addprefix $(BUNDLE_BIN)/,$(IMAGE_BINS)) | bin/kubestrap
	@t0=$$SECONDS; rootfs=$$(lab/lab.sh rootfs) && \
	  bin/kubestrap images build --bin-dir $(BUNDLE_BIN) --kubernetes-version $(KUBERNETES_VERSION) --rootfs $$rootfs -o $(IMAGES_TAR) && \
	  echo "[images] built in $$((SECONDS - t0))s"

# The default Kubernetes version's release keeps the short name; another
# version's (make dist KUBERNETES_VERSION=v1.34.4) carries its version.
DEFAULT_KUBERNETES_VERSION := $(shell . bundle/versions.env && echo $$KUBERNETES_VERSION)
DIST_NAME := kubestrap-$(VERSION)$(if $(filter-out $(DEFAULT_KUBERNETES_VERSION),$(KUBERNETES_VERSION)),-$(KUBERNETES_VERSION))-linux-amd64
DIST_DIR := dist/$(DIST_NAME)
# Earlier builds of this Kubernetes version's release (other kubestrap versions), not the other versions'.
ifeq ($(KUBERNETES_VERSION),$(DEFAULT_KUBERNETES_VERSION))
DIST_OLD = $(filter-out $(wildcard dist/kubestrap-*-v1.*-linux-amd64*),$(wildcard dist/kubestrap-*-linux-amd64*))
else
DIST_OLD = $(wildcard dist/kubestrap-*-$(KUBERNETES_VERSION)-linux-amd64*)
endif
## dist: dist/kubestrap-VERSION-linux-amd64.tar.gz (kubestrap, kubelet, kubectl, cni/, install.sh) and the images tarball
DIST_IMAGES := dist/kubestrap-images-$(KUBERNETES_VERSION).tar
dist: dist/$(DIST_NAME).tar.gz $(DIST_IMAGES)
	@ls -la dist/*.tar*
dist/$(DIST_NAME).tar.gz: bin/kubestrap bundle/versions.env release/install.sh | bundle
	rm -rf $(DIST_OLD) && mkdir -p $(DIST_DIR)/cni
	cp bin/kubestrap $(DIST_DIR)/
	echo $(KUBERNETES_VERSION) > $(DIST_DIR)/kubernetes-version
	install -m 0755 release/install.sh $(DIST_DIR)/install.sh
	for b in kubelet kubectl; do ln -f $(BUNDLE_BIN)/$$b $(DIST_DIR)/$$b 2>/dev/null || cp $(BUNDLE_BIN)/$$b $(DIST_DIR)/; done
	for p in bridge host-local loopback portmap; do cp $(BUNDLE_BIN)/cni-$$p $(DIST_DIR)/cni/$$p; done
	tar -C dist -czf $@ $(DIST_NAME)
$(DIST_IMAGES): images
	@mkdir -p dist && { ln -f $(IMAGES_TAR) $@ 2>/dev/null || cp $(IMAGES_TAR) $@; }

N ?= 3
LAB_ENV = DIST_DIR=$(CURDIR)/$(DIST_DIR) IMAGES_TAR=$(CURDIR)/$(DIST_IMAGES)
## lab-nodes: N nodes as containers (default 3), systemd running, images loaded
lab-nodes: dist
	$(LAB_ENV) lab/lab.sh nodes $(N)

CP ?= 1
# make lab's N counts workers (default 2); lab-nodes' N counts bare nodes (default 3).
LAB_WORKERS = $(if $(filter command line environment,$(origin N)),$(N),2)
## lab: a cluster made by kubestrap: CP control planes (behind haproxy when CP > 1) and N workers; .lab/admin.conf;
## VAGRANT=1: each node laid out as a VirtualBox VM (10.0.2.15 NAT with the default route, a private network)
lab: dist
	@mkdir -p .lab/bin && ln -sf $(BUNDLE_BIN)/kubectl .lab/bin/kubectl
	$(LAB_ENV) $(if $(VAGRANT),LAB_VAGRANT=1) lab/cluster.sh $(CP) $(LAB_WORKERS)

## lab-down: remove every container, network and volume the lab made
lab-down:
	lab/lab.sh down

## e2e: the end-to-end tests in the lab: init, join, HA control planes with reset, faults (e2e-chaos), day-2 (renew, snapshots, status),
## the drivers (kubestrap up over SSH and the Ansible role, on nodes laid out as Vagrant VMs), and kubeadm interop
## (kubestrap join into a kubeadm cluster, kubeadm join into a kubestrap cluster; kubeadm built from the pinned module)
e2e: dist dist-old
	$(LAB_ENV) lab/e2e-init.sh
	$(LAB_ENV) lab/e2e-join.sh
	$(LAB_ENV) lab/e2e-ha.sh
	$(LAB_ENV) lab/e2e-chaos.sh
	$(LAB_ENV) lab/e2e-day2.sh
	$(LAB_ENV) $(OLD_ENV) lab/e2e-drivers.sh
	$(LAB_ENV) KUBEADM="$$(bundle/build.sh kubeadm)/kubeadm" lab/e2e-interop.sh
	$(LAB_ENV) $(OLD_ENV) lab/e2e-upgrade.sh

# The release an upgrade starts from: make e2e-upgrade and bench-upgrade build it (cached like the default's).
OLD_KUBERNETES_VERSION := v1.34.4
OLD_DIST_DIR := dist/kubestrap-$(VERSION)-$(OLD_KUBERNETES_VERSION)-linux-amd64
OLD_ENV = OLD_DIST_DIR=$(CURDIR)/$(OLD_DIST_DIR) OLD_IMAGES_TAR=$(CURDIR)/dist/kubestrap-images-$(OLD_KUBERNETES_VERSION).tar
dist-old:
	@$(MAKE) --no-print-directory dist KUBERNETES_VERSION=$(OLD_KUBERNETES_VERSION) VERSION=$(VERSION)

## e2e-upgrade: a 3+2 cluster made by up at v1.34.4, upgraded by up to v1.35.4 under traffic (zero failed requests),
## with a rolled-back bad step, killed applies and the skew refusals
e2e-upgrade: dist dist-old
	$(LAB_ENV) $(OLD_ENV) lab/e2e-upgrade.sh

## e2e-interop: only the kubeadm interop test
e2e-interop: dist
	$(LAB_ENV) KUBEADM="$$(bundle/build.sh kubeadm)/kubeadm" lab/e2e-interop.sh

## e2e-chaos: only the faults test: a killed control-plane join, restores refused or killed, reset's reach
e2e-chaos: dist
	$(LAB_ENV) lab/e2e-chaos.sh

## e2e-drivers: only the drivers' end-to-end test
e2e-drivers: dist dist-old
	$(LAB_ENV) $(OLD_ENV) lab/e2e-drivers.sh

## lab-smoke: two nodes, a kubelet in each running static pods at once, then teardown
lab-smoke: dist
	$(LAB_ENV) lab/smoke.sh

clean:
	rm -rf bin dist
