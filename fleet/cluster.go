// Package fleet brings up a whole cluster from one machine: `kubestrap up`
// reads a Cluster file (hosts, their roles and SSH access, the cluster's
// configuration), installs the release on every host over SSH, and runs
// init, control-plane joins and worker joins in order; `kubestrap down`
// resets every host. Like k0sctl apply, it is idempotent: each step asks
// kubestrap on the host what changed, so a second `up` changes nothing.
package fleet

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/config"
)

// KindCluster is the kind of the document `kubestrap up -f` reads.
const KindCluster = "Cluster"

// virtualBoxNAT is the address every VirtualBox VM has on its NAT interface.
const virtualBoxNAT = "10.0.2.15"

// Roles a host can have.
const (
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"
)

// Cluster is the `kubestrap up` document (apiVersion kubestrap.io/v1alpha1).
type Cluster struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        struct {
		Name string `json:"name,omitempty"`
	} `json:"metadata,omitempty"`
	Spec Spec `json:"spec"`
}

// Spec is what to install where.
type Spec struct {
	// Release is the release tarball (make dist); relative to the file.
	Release string `json:"release"`
	// Images is the images tarball for air-gapped hosts (optional).
	Images string `json:"images,omitempty"`
	// PreflightFix runs `preflight --fix` before init and join.
	PreflightFix bool `json:"preflightFix,omitempty"`
	// SSH holds the defaults of every host's SSH settings.
	SSH   SSH    `json:"ssh,omitempty"`
	Hosts []Host `json:"hosts"`
	// Init and Cluster are the InitConfiguration and ClusterConfiguration
	// fields (without apiVersion and kind) the first control plane gets.
	Init    *config.InitConfiguration    `json:"init,omitempty"`
	Cluster *config.ClusterConfiguration `json:"cluster,omitempty"`
}

// SSH is how to reach a host. Empty fields take the spec's defaults, then
// root, port 22, the SSH agent and ~/.ssh/known_hosts.
type SSH struct {
	User           string `json:"user,omitempty"`
	Port           int    `json:"port,omitempty"`
	KeyPath        string `json:"keyPath,omitempty"`
	KnownHostsPath string `json:"knownHostsPath,omitempty"`
}

// Host is one machine of the cluster.
type Host struct {
	// Address is where to SSH to (an IP or a DNS name).
	Address string `json:"address"`
	// Name is the Node name (default: the host's own name).
	Name string `json:"name,omitempty"`
	// Role is control-plane or worker.
	Role string `json:"role"`
	// NodeIP is the node's cluster address; default: Address when it is an
	// IP other than loopback (Vagrant forwards SSH from 127.0.0.1).
	NodeIP string `json:"nodeIP,omitempty"`
	SSH    SSH    `json:"ssh,omitempty"`
}

// ID names the host in progress lines and errors: its name, or address and
// port.
func (h Host) ID() string {
	if h.Name != "" {
		return h.Name
	}
	if h.SSH.Port != 0 && h.SSH.Port != 22 {
		return fmt.Sprintf("%s:%d", h.Address, h.SSH.Port)
	}
	return h.Address
}

// Load reads, defaults and validates a Cluster file. Paths in it are
// relative to the file.
func Load(path string) (*Cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.resolvePaths(filepath.Dir(path))
	if err := c.checkFiles(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a Cluster document strictly (an unknown field is an error
// naming it), sets the defaults and validates it.
func Parse(data []byte) (*Cluster, error) {
	c := &Cluster{}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, fmt.Errorf("not a valid Cluster document: %w", err)
	}
	if c.APIVersion != config.APIVersion || c.Kind != KindCluster {
		return nil, fmt.Errorf("apiVersion %q, kind %q: want apiVersion: %s and kind: %s", c.APIVersion, c.Kind,
			config.APIVersion, KindCluster)
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) setDefaults() {
	d := &c.Spec.SSH
	d.User = firstNonEmpty(d.User, "root")
	if d.Port == 0 {
		d.Port = 22
	}
	d.KnownHostsPath = firstNonEmpty(d.KnownHostsPath, "~/.ssh/known_hosts")
	for i := range c.Spec.Hosts {
		h := &c.Spec.Hosts[i]
		h.SSH.User = firstNonEmpty(h.SSH.User, d.User)
		h.SSH.KeyPath = firstNonEmpty(h.SSH.KeyPath, d.KeyPath)
		h.SSH.KnownHostsPath = firstNonEmpty(h.SSH.KnownHostsPath, d.KnownHostsPath)
		if h.SSH.Port == 0 {
			h.SSH.Port = d.Port
		}
		if h.NodeIP == "" {
			if a, err := netip.ParseAddr(h.Address); err == nil && !a.IsLoopback() {
				h.NodeIP = h.Address
			}
		}
	}
}

// Validate lists every problem of the document, each with its fix.
func (c *Cluster) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := validateName(c.Metadata.Name); err != nil {
		errs = append(errs, err)
	}
	if c.Spec.Release == "" {
		add("spec.release is empty: name the release tarball (make dist: dist/kubestrap-VERSION-linux-amd64.tar.gz)")
	}
	if len(c.Spec.Hosts) == 0 {
		add("spec.hosts is empty: list the machines, each with address and role")
	}
	cps := 0
	seen := map[string]int{}
	for i, h := range c.Spec.Hosts {
		at := fmt.Sprintf("spec.hosts[%d]", i)
		errs = append(errs, h.validate(at)...)
		if h.Role == RoleControlPlane {
			cps++
		}
		key := fmt.Sprintf("%s:%d", h.Address, h.SSH.Port)
		if j, dup := seen[key]; dup {
			add("%s: %s is also spec.hosts[%d]: each host once", at, key, j)
		}
		seen[key] = i
	}
	if len(c.Spec.Hosts) > 0 && cps == 0 {
		add("no host has role control-plane: make the first machine `role: control-plane`")
	}
	if cps > 1 && (c.Spec.Cluster == nil || c.Spec.Cluster.ControlPlaneEndpoint == "") {
		add("%d control-plane hosts need spec.cluster.controlPlaneEndpoint: the address of a load balancer in front of their API servers", cps)
	}
	return errors.Join(errs...)
}

// validateName checks metadata.name, which names local files
// (NAME.admin.conf beside the Cluster file): a DNS-1123 label keeps it a
// plain file name, never a path ('/', '..') out of that directory. Upper
// case is accepted (the file name is lower-cased), as it always was.
func validateName(name string) error {
	if name == "" {
		return nil // the default, kubestrap
	}
	if msgs := validation.IsDNS1123Label(strings.ToLower(name)); len(msgs) > 0 {
		return fmt.Errorf("metadata.name %q: %s: use a name like my-cluster (lower-case letters, digits and '-', "+
			"at most 63 characters); it names the kubeconfig NAME.admin.conf", name, strings.Join(msgs, "; "))
	}
	return nil
}

func (h Host) validate(at string) []error {
	var errs []error
	if h.Address == "" {
		errs = append(errs, fmt.Errorf("%s.address is empty: the IP or DNS name to SSH to", at))
	}
	if h.Role != RoleControlPlane && h.Role != RoleWorker {
		errs = append(errs, fmt.Errorf("%s.role %q: use control-plane or worker", at, h.Role))
	}
	if h.NodeIP != "" {
		if err := config.ValidateNodeIP(h.NodeIP); err != nil {
			errs = append(errs, fmt.Errorf("%s.nodeIP: %w", at, err))
		}
		if h.NodeIP == virtualBoxNAT {
			errs = append(errs, fmt.Errorf("%s.nodeIP %s is VirtualBox's NAT address, the same on every VM: "+
				"use the address of the VM's private network (e.g. 192.168.56.11)", at, h.NodeIP))
		}
	}
	if h.SSH.Port < 1 || h.SSH.Port > 65535 {
		errs = append(errs, fmt.Errorf("%s.ssh.port %d: use 1-65535", at, h.SSH.Port))
	}
	return errs
}

// resolvePaths makes the file's relative paths absolute and expands ~.
func (c *Cluster) resolvePaths(dir string) {
	abs := func(p string) string {
		p = expandHome(p)
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.Spec.Release, c.Spec.Images = abs(c.Spec.Release), abs(c.Spec.Images)
	for i := range c.Spec.Hosts {
		s := &c.Spec.Hosts[i].SSH
		s.KeyPath, s.KnownHostsPath = abs(s.KeyPath), abs(s.KnownHostsPath)
	}
}

func (c *Cluster) checkFiles() error {
	var errs []error
	for what, p := range map[string]string{"spec.release": c.Spec.Release, "spec.images": c.Spec.Images} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (make dist builds the release and the images tarball)", what, err))
		}
	}
	for i, h := range c.Spec.Hosts {
		if h.SSH.KeyPath == "" {
			continue
		}
		if _, err := os.Stat(h.SSH.KeyPath); err != nil {
			errs = append(errs, fmt.Errorf("spec.hosts[%d].ssh.keyPath: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ControlPlanes and Workers return the hosts of each role in file order.
func (c *Cluster) ControlPlanes() []Host { return c.hostsWith(RoleControlPlane) }

// Workers returns the worker hosts in file order.
func (c *Cluster) Workers() []Host { return c.hostsWith(RoleWorker) }

func (c *Cluster) hostsWith(role string) []Host {
	var out []Host
	for _, h := range c.Spec.Hosts {
		if h.Role == role {
			out = append(out, h)
		}
	}
	return out
}
