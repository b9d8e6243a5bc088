package phases

import (
	"io"
	"path/filepath"
	"strings"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

// Host is what every flow's command hands its data about the node.
type Host struct {
	DryRun bool
	// DryRunDir is the temp dir that stands in for the node's files in a
	// dry run.
	DryRunDir string
	Out       io.Writer
	// Env is the host; its Root is also where every file is written, so
	// tests point reads and writes at one fake tree.
	Env         *node.Host
	Systemd     systemd.Manager
	Ignore      preflight.IgnoreSet
	AgentBinary string
}

// Base is the part of every flow's data that answers the same way for
// init, join and reset: the host, where its files are, how to print.
// The flows' data types embed it.
type Base struct{ h Host }

// NewBase is the base of a flow's data.
func NewBase(h Host) Base { return Base{h: h} }

func (b *Base) DryRun() bool                { return b.h.DryRun }
func (b *Base) Out() io.Writer              { return b.h.Out }
func (b *Base) Env() *node.Host             { return b.h.Env }
func (b *Base) Systemd() systemd.Manager    { return b.h.Systemd }
func (b *Base) Ignore() preflight.IgnoreSet { return b.h.Ignore }

// AgentBinary is the bundled kubelet to install ("" for the one next to
// kubestrap).
func (b *Base) AgentBinary() string { return b.h.AgentBinary }

// KubernetesDir, ManifestDir and KubeletDir are the node's directories,
// or their stand-ins in the dry-run tree.
func (b *Base) KubernetesDir() string { return b.HostPath(layout.KubernetesDir) }
func (b *Base) ManifestDir() string   { return b.HostPath(layout.ManifestDir) }
func (b *Base) KubeletDir() string    { return b.HostPath(layout.KubeletDir) }

// HostPath maps a node path into the host root, or into the dry-run tree:
// there /etc/kubernetes becomes the tree's root (so it holds pki/,
// manifests/ and the kubeconfigs, as kubeadm's dry run does), other paths
// keep their shape below it. init and join lay out the tree alike.
func (b *Base) HostPath(p string) string {
	if !b.h.DryRun {
		return b.h.Env.Root.Path(p)
	}
	if rel, err := filepath.Rel(layout.KubernetesDir, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.Join(b.h.DryRunDir, rel)
	}
	return filepath.Join(b.h.DryRunDir, p)
}
