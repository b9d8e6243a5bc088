package phases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/hostfs"
	"github.com/kubestrap/kubestrap/join"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

// JoinOptions are join's inputs besides its configuration.
type JoinOptions struct {
	DryRun      bool
	Ignore      preflight.IgnoreSet
	Out         io.Writer
	Env         *preflight.Env
	Systemd     systemd.Manager
	AgentBinary string
	// NodeIP overrides the address detected from the route to the API.
	NodeIP string
	// KubeDir is /etc/kubernetes (a temp dir in tests).
	KubeDir string
}

// JoinData is what join phases share.
type JoinData struct {
	Cfg  *config.JoinConfiguration
	Opts JoinOptions
	// Set by the phases as they go.
	Info    *join.ClusterInfo
	Cluster *config.ClusterConfiguration
	NodeIP  string
	start   time.Time
}

// JoinPhases is the phase tree of `kubestrap join`.
func JoinPhases() []Phase {
	return []Phase{
		{Name: "preflight", Short: "Check the host before changing it", Run: joinPreflight},
		{Name: "discovery", Short: "Find and verify the cluster: token signature, CA pins, TLS re-fetch", Run: joinDiscovery},
		{Name: "identity-check", Short: "Refuse to join a host whose name, machine-id, product_uuid or MAC a node has",
			Run: joinIdentity},
		{Name: "kubelet-start", Short: "Write the bootstrap kubeconfig and kubelet config, start the kubelet", Run: joinKubeletStart},
		{Name: "wait-tls-bootstrap", Short: "Wait for the kubelet's certificate and the Node object", Run: joinWaitBootstrap},
		{Name: "node-network", Short: "Write this node's CNI config once it has a podCIDR", Run: joinNodeNetwork},
		{Name: "wait-ready", Short: "Wait for the node to be Ready, then tidy up", Run: joinWaitReady},
	}
}

func asJoin(d Data) *JoinData { return d.(*JoinData) }

func (d *JoinData) kubeDir() string  { return d.Opts.KubeDir }
func (d *JoinData) nodeName() string { return d.Cfg.NodeRegistration.Name }

func joinPreflight(data Data) (string, error) {
	d := asJoin(data)
	d.start = time.Now()
	v, _ := config.ParseKubernetesVersion(config.DefaultKubernetesVersion)
	results, err := preflight.Run(preflight.JoinChecks(d.Opts.Env, d.Cfg, v.Minor), d.Opts.Ignore)
	n := map[preflight.Status]int{}
	for _, r := range results {
		n[r.Status]++
		for _, w := range r.Warnings {
			fmt.Fprintf(d.Opts.Out, "[preflight] WARNING %s: %s\n", r.Name, w)
		}
	}
	return fmt.Sprintf("%d checks: %d ok, %d warnings, %d ignored, %d errors", len(results), n[preflight.OK],
		n[preflight.Warning], n[preflight.Ignored], n[preflight.Failed]), err
}

func joinDiscovery(data Data) (string, error) {
	d := asJoin(data)
	bt := d.Cfg.Discovery.BootstrapToken
	if f := d.Cfg.Discovery.File; f != nil {
		return d.discoverFromFile(f.KubeConfigPath)
	}
	if bt.UnsafeSkipCAVerification {
		fmt.Fprintln(d.Opts.Out, "[discovery] WARNING: --discovery-token-unsafe-skip-ca-verification: the cluster's CA is "+
			"not checked against a pin, so an impostor on the network could pose as the control plane")
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.Cfg.Discovery.Timeout.Duration)
	defer cancel()
	disc := &join.Discoverer{Endpoint: bt.APIServerEndpoint, Token: bt.Token, Pins: bt.CACertHashes,
		SkipCA: bt.UnsafeSkipCAVerification, UnknownGrace: 20 * time.Second, Now: time.Now,
		Warn: func(s string) { fmt.Fprintln(d.Opts.Out, "[discovery] WARNING "+s) }}
	info, err := disc.Discover(ctx)
	if err != nil {
		return "", err
	}
	d.Info = info
	return fmt.Sprintf("cluster at %s verified (CA %s)", info.Server, certs.Pin(info.CA)), nil
}

func (d *JoinData) discoverFromFile(location string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.Cfg.Discovery.Timeout.Duration)
	defer cancel()
	info, token, err := join.FileDiscovery(ctx, location)
	if err != nil {
		return "", err
	}
	if d.Cfg.Discovery.TLSBootstrapToken == "" {
		d.Cfg.Discovery.TLSBootstrapToken = token
	}
	if d.Cfg.Discovery.TLSBootstrapToken == "" {
		return "", errors.New("the discovery file has no token for TLS bootstrap: pass --tls-bootstrap-token")
	}
	d.Info = info
	return fmt.Sprintf("cluster at %s from %s (CA %s)", info.Server, location, certs.Pin(info.CA)), nil
}

// apiEndpoint is host:port of the API server the node joins.
func (d *JoinData) apiEndpoint() string {
	if bt := d.Cfg.Discovery.BootstrapToken; bt != nil && bt.APIServerEndpoint != "" {
		return bt.APIServerEndpoint
	}
	return strings.TrimPrefix(d.Info.Server, "https://")
}

// bootstrapClient authenticates with the bootstrap token, trusting the CA.
func (d *JoinData) bootstrapClient() (kubernetes.Interface, error) {
	rc := &rest.Config{Host: d.Info.Server, BearerToken: d.Cfg.Discovery.TLSBootstrapToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: d.Info.CAPEM}, Timeout: 10 * time.Second}
	return kubernetes.NewForConfig(rc)
}

// kubeletClient uses the node's own credentials once TLS bootstrap is done.
func (d *JoinData) kubeletClient() (kubernetes.Interface, error) {
	return clientFromFile(filepath.Join(d.kubeDir(), certs.KubeletConf))
}

func joinIdentity(data Data) (string, error) {
	d := asJoin(data)
	c, err := d.bootstrapClient()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), APITimeout)
	defer cancel()
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if apierrors.IsUnauthorized(err) {
		return "", fmt.Errorf("the API server rejects the token: it has expired or was deleted; create a new one with " +
			"`kubestrap token create --print-join-command` on a control-plane node")
	}
	if err != nil {
		return "", fmt.Errorf("list nodes with the bootstrap token: %w", err)
	}
	ifs, err := d.Opts.Env.Interfaces()
	if err != nil {
		return "", err
	}
	id, err := join.LocalIdentity(d.Opts.Env, ifs, join.HostMACs())
	if err != nil {
		return "", err
	}
	if _, err := join.CheckIdentity(d.nodeName(), id, nodes.Items); err != nil {
		return "", err
	}
	return fmt.Sprintf("no node shares this host's name, machine-id, product_uuid or MACs (%d nodes)", len(nodes.Items)), nil
}

func joinKubeletStart(data Data) (string, error) {
	d := asJoin(data)
	ctx, cancel := context.WithTimeout(context.Background(), APITimeout)
	defer cancel()
	c, err := d.bootstrapClient()
	if err != nil {
		return "", err
	}
	if err := d.loadClusterConfig(ctx, c); err != nil {
		return "", err
	}
	if d.NodeIP = d.Opts.NodeIP; d.NodeIP == "" {
		if d.NodeIP, err = join.RouteSourceIP(d.apiEndpoint()); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(d.Opts.Out, "[kubelet-start] node IP %s (the source address of the route to %s; --node-ip overrides)\n",
		d.NodeIP, d.apiEndpoint())
	if err := d.writeNodeFiles(); err != nil {
		return "", err
	}
	if !systemd.Running(d.Opts.Env.Root) {
		return "", systemd.ErrNoSystemd
	}
	agent, err := kubelet.BundledAgent(d.Opts.AgentBinary)
	if err != nil {
		return "", err
	}
	sctx, scancel := context.WithTimeout(context.Background(), systemd.Timeout)
	defer scancel()
	return kubelet.Start(sctx, d.Opts.Systemd, agent)
}

// loadClusterConfig reads the ClusterConfiguration init uploaded.
func (d *JoinData) loadClusterConfig(ctx context.Context, c kubernetes.Interface) error {
	cm, err := c.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, controlplane.ClusterConfigMap, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read the cluster's configuration (kube-system/%s): %w", controlplane.ClusterConfigMap, err)
	}
	cluster := &config.ClusterConfiguration{}
	if err := yaml.Unmarshal([]byte(cm.Data[controlplane.ConfigMapKey]), cluster); err != nil {
		return fmt.Errorf("kube-system/%s: %w", controlplane.ClusterConfigMap, err)
	}
	config.SetClusterDefaults(cluster)
	d.Cluster = cluster
	return nil
}

// writeNodeFiles writes the CA, the bootstrap kubeconfig (0600: it holds
// the token) and the kubelet's configuration for this node.
func (d *JoinData) writeNodeFiles() error {
	if err := hostfs.WriteFileAtomic(d.Cfg.CACertPath, d.Info.CAPEM, certs.CertMode); err != nil {
		return err
	}
	kc := certs.NewKubeconfig(d.Cluster.ClusterName, d.Info.Server, "kubelet-bootstrap", d.Info.CAPEM, nil, nil)
	kc.AuthInfos["kubelet-bootstrap"].Token = d.Cfg.Discovery.TLSBootstrapToken
	b, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	if err := hostfs.WriteFileAtomic(filepath.Join(d.kubeDir(), "bootstrap-kubelet.conf"), b, certs.KeyMode); err != nil {
		return err
	}
	params, err := nodeKubeletParams(d.Opts.Env, d.Cluster, d.Cfg.CACertPath, d.Cfg.NodeRegistration.CRISocket)
	if err != nil {
		return err
	}
	flags := kubelet.Flags(d.NodeIP, d.nodeName(), d.Cfg.NodeRegistration.KubeletExtraArgs)
	if err := os.MkdirAll(filepath.Join(d.kubeDir(), "manifests"), 0o755); err != nil {
		return err
	}
	return kubelet.WriteConfig(kubelet.Dir, kubelet.Config(params), flags)
}

func joinWaitBootstrap(data Data) (string, error) {
	d := asJoin(data)
	ctx, cancel := context.WithTimeout(context.Background(), APITimeout)
	defer cancel()
	kubeconf := filepath.Join(d.kubeDir(), certs.KubeletConf)
	// The kubelet writes kubelet.conf, then the certificate it names: wait
	// until the kubeconfig loads.
	for {
		if _, err := d.kubeletClient(); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the kubelet did not complete TLS bootstrap (no %s): see `journalctl -u kubelet`; "+
				"is the CSR approved? (`kubectl get csr`)", kubeconf)
		case <-time.After(pollInterval):
		}
	}
	c, err := d.kubeletClient()
	if err != nil {
		return "", err
	}
	if _, err := kubelet.WaitNode(ctx, c, d.nodeName(), pollInterval); err != nil {
		return "", err
	}
	return fmt.Sprintf("node %s registered (%s after join started)", d.nodeName(), FormatDuration(time.Since(d.start))), nil
}

func joinNodeNetwork(data Data) (string, error) {
	d := asJoin(data)
	if d.Cluster.Networking.PodNetwork == "none" {
		return "pod network none: install a CNI of your own", nil
	}
	c, err := d.kubeletClient()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), APITimeout)
	defer cancel()
	cidr, installed, err := NodeNetwork(ctx, c, d.Opts.Env, d.nodeName(), d.NodeIP)
	if err != nil {
		return "", err
	}
	msg := "wrote CNI config for " + cidr
	if len(installed) > 0 {
		msg += "; installed CNI plugins " + strings.Join(installed, ", ")
	}
	return msg, nil
}

func joinWaitReady(data Data) (string, error) {
	d := asJoin(data)
	c, err := d.kubeletClient()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), APITimeout)
	defer cancel()
	if err := waitReady(ctx, c, d.nodeName()); err != nil {
		return "", err
	}
	if err := annotateMACs(ctx, c, d); err != nil {
		return "", err
	}
	// The token's job is done; the kubelet renews its own certificate.
	_ = os.Remove(filepath.Join(d.kubeDir(), "bootstrap-kubelet.conf"))
	if err := d.writeRecord(); err != nil {
		return "", err
	}
	return fmt.Sprintf("node %s is Ready (%s after join started)", d.nodeName(), FormatDuration(time.Since(d.start))), nil
}

func waitReady(ctx context.Context, c kubernetes.Interface, name string) error {
	for {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil && nodeReady(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s did not become Ready: %w (`kubectl describe node %s` says why)", name, ctx.Err(), name)
		case <-time.After(pollInterval):
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// annotateMACs records this node's MAC hashes for later identity checks.
func annotateMACs(ctx context.Context, c kubernetes.Interface, d *JoinData) error {
	return annotateMACsOf(ctx, c, d.Opts.Env, d.nodeName())
}

func annotateMACsOf(ctx context.Context, c kubernetes.Interface, e *preflight.Env, node string) error {
	ifs, err := e.Interfaces()
	if err != nil {
		return err
	}
	id, err := join.LocalIdentity(e, ifs, join.HostMACs())
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, join.MACAnnotation, strings.Join(id.MACHashes, ","))
	_, err = c.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// JoinRecord marks a finished join, as InitRecord does for init.
const JoinRecord = "kubestrap-join.yaml"

func (d *JoinData) writeRecord() error {
	rec := fmt.Sprintf("# written by kubestrap join when it finished\nnode: %s\nserver: %s\nnodeIP: %s\n",
		d.nodeName(), d.Info.Server, d.NodeIP)
	return hostfs.WriteFileAtomic(filepath.Join(d.kubeDir(), JoinRecord), []byte(rec), 0o600)
}

// JoinedAlready reports whether this node finished a join: the record is
// there, its kubelet has credentials and the cluster knows the node.
func JoinedAlready(kubeDir, name string) bool {
	if _, err := os.Stat(filepath.Join(kubeDir, JoinRecord)); err != nil {
		return false
	}
	c, err := clientFromFile(filepath.Join(kubeDir, certs.KubeletConf))
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	return err == nil
}

// JoinStarted reports leftovers of an unfinished join.
func JoinStarted(kubeDir string) bool {
	for _, f := range []string{"bootstrap-kubelet.conf", certs.KubeletConf, "pki/ca.crt"} {
		if _, err := os.Stat(filepath.Join(kubeDir, f)); err == nil {
			return true
		}
	}
	return false
}

// JoinResumeIgnores are the checks an unfinished join trips by itself.
func JoinResumeIgnores(c *config.JoinConfiguration) []string {
	return []string{"Port-10250", "DirAvailable--etc-kubernetes-manifests",
		"FileAvailable-" + strings.ReplaceAll(c.CACertPath, "/", "-"), "FileAvailable--etc-kubernetes-kubelet.conf"}
}
