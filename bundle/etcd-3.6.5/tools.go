//go:build tools

// Package etcd pins the etcd server and etcdctl that the bundle builds.
package etcd

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
