# kubestrap — see README.md. Every target that builds upstream components
# is a no-op when its cached output exists (bundle/build.sh).
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GO_TEST_FLAGS ?=

.PHONY: all build test test-unit lint fmt fuzz bench bundle clean

all: build

## build: the kubestrap binary in bin/
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubestrap ./cmd/kubestrap

## test: everything CI runs — lint, then unit tests
test: lint test-unit

## test-unit: the fast inner loop (seconds)
test-unit:
	go test $(GO_TEST_FLAGS) -race -count=1 ./...

## lint: gofmt, go vet and staticcheck must be clean
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^bundle/')); \
	  if [[ -n "$$unformatted" ]]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## fuzz: a short run of the config decoder fuzzer
fuzz:
	go test ./config -run '^$$' -fuzz FuzzDecode -fuzztime 30s

## bench: PKI generation and the offline half of init
bench:
	go test ./certs ./phases -run '^$$' -bench . -benchtime 5x -benchmem

## bundle: kubelet, control-plane binaries, etcd, CoreDNS, CNI plugins at pinned versions (cached)
bundle:
	bundle/build.sh all

clean:
	rm -rf bin dist
