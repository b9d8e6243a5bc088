//go:build tools

// Package coredns pins the CoreDNS server that the bundle builds.
package coredns

import _ "github.com/coredns/coredns"
