//go:build tools

// Package flannel pins the flanneld daemon that the bundle builds.
package flannel

import _ "github.com/flannel-io/flannel"
