package joinflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/addons"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/join"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/preflight"
)

// JoinPhases is the phase tree of `kubestrap join`.
func JoinPhases() []phases.Phase {
	return []phases.Phase{
		{Name: "preflight", Short: "Check the host before changing it", Run: joinPreflight},
		{Name: "discovery", Short: "Find and verify the cluster: token signature, CA pins, TLS re-fetch", Run: joinDiscovery},
		{Name: "identity-check", Short: "Refuse a host whose node name another machine has, or a clone (a node has its " +
			"machine-id, product_uuid or MAC)", Run: joinIdentity},
		controlPlanePrepare(),
		{Name: "tls-bootstrap", Short: "Get the kubelet's client certificate with the bootstrap token (a CSR the controller " +
			"manager approves) and write kubelet.conf", Run: joinTLSBootstrap},
		{Name: "kubelet-start", Short: "Write the kubelet config, start the kubelet", Run: joinKubeletStart},
		{Name: "wait-registered", Short: "Wait for the kubelet to register the Node object", Run: joinWaitRegistered},
		controlPlaneJoin(),
		{Name: "node-network", Short: "Write this node's CNI config once it has a podCIDR", Run: joinNodeNetwork},
		{Name: "wait-ready", Short: "Wait for the node to be Ready, then tidy up", Run: joinWaitReady},
	}
}

func asJoin(d phases.Data) (JoinData, error) {
	jd, ok := d.(JoinData)
	if !ok {
		return nil, fmt.Errorf("internal error: join phase given %T, not join data", d)
	}
	return jd, nil
}

// joinPhase adapts a phase body that takes JoinData.
func joinPhase(fn func(ctx context.Context, d JoinData) (string, error)) func(context.Context, phases.Data) (string, error) {
	return func(ctx context.Context, data phases.Data) (string, error) {
		d, err := asJoin(data)
		if err != nil {
			return "", err
		}
		return fn(ctx, d)
	}
}

var (
	joinPreflight      = joinPhase(runJoinPreflight)
	joinDiscovery      = joinPhase(runJoinDiscovery)
	joinIdentity       = joinPhase(runJoinIdentity)
	joinTLSBootstrap   = joinPhase(runJoinTLSBootstrap)
	joinKubeletStart   = joinPhase(runJoinKubeletStart)
	joinWaitRegistered = joinPhase(runJoinWaitRegistered)
	joinNodeNetwork    = joinPhase(runJoinNodeNetwork)
	joinWaitReady      = joinPhase(runJoinWaitReady)
)

func runJoinPreflight(_ context.Context, d JoinData) (string, error) {
	v, _ := config.ParseKubernetesVersion(config.DefaultKubernetesVersion)
	checks := preflight.JoinChecks(d.Env(), d.Cfg(), v.Minor)
	if cp := d.Cfg().ControlPlane; cp != nil {
		// The cluster's etcd data dir is known only after discovery; the
		// default is what almost every cluster uses.
		checks = append(checks, preflight.ControlPlaneJoinChecks(d.Env(), int(cp.LocalAPIEndpoint.BindPort),
			config.DefaultEtcdDataDir)...)
	}
	results, err := preflight.Run(checks, d.Ignore())
	summary := preflight.Report(d.Out(), results)
	if err != nil && d.DryRun() {
		fmt.Fprintf(d.Out(), "[preflight] dry-run: a real join would stop here:\n%s\n", err)
		return summary, nil
	}
	return summary, err
}

func runJoinDiscovery(ctx context.Context, d JoinData) (string, error) {
	if bt := d.Cfg().Discovery.BootstrapToken; bt != nil && bt.UnsafeSkipCAVerification && len(bt.CACertHashes) == 0 {
		fmt.Fprintln(d.Out(), "[discovery] WARNING: --discovery-token-unsafe-skip-ca-verification without a pin: the "+
			"cluster's CA is not checked, so an impostor on the network could pose as the control plane")
	}
	info, err := d.ClusterInfo(ctx)
	if err != nil {
		return "", err
	}
	if err := checkLeftoversBelong(d, info); err != nil {
		return "", err
	}
	return fmt.Sprintf("cluster at %s verified (CA %s)", info.Server, certs.Pin(info.CA)), nil
}

// checkLeftoversBelong refuses to resume over files of another cluster: a
// node that was part of cluster A must be reset before it joins cluster B,
// or its kubelet would mix A's credentials with B's CA.
func checkLeftoversBelong(d JoinData, info *join.ClusterInfo) error {
	caPath := d.HostPath(d.Cfg().CACertPath)
	if old, err := os.ReadFile(caPath); err == nil && !bytes.Equal(bytes.TrimSpace(old), bytes.TrimSpace(info.CAPEM)) {
		return &LeftoverError{What: caPath + " holds another cluster's CA", Cluster: info.Server}
	}
	kc := filepath.Join(d.KubernetesDir(), layout.KubeletConf)
	if server, err := kubeconfigServer(kc); err == nil && server != info.Server {
		return &LeftoverError{What: kc + " points at " + server, Cluster: info.Server}
	}
	return nil
}

// LeftoverError says this node holds files of another cluster.
type LeftoverError struct{ What, Cluster string }

func (e *LeftoverError) Error() string {
	return fmt.Sprintf("this node has leftovers of another cluster (%s), not of the cluster at %s: reset the node first "+
		"with `kubestrap reset`, then join again",
		e.What, e.Cluster)
}

// runJoinIdentity refuses a host whose node name another machine has, or
// whose machine-id, product_uuid or MAC a node has (a clone), before
// anything is written. It reads only what a bootstrap token may: one Node
// by name, and the salted identity registry; a token holder cannot list
// nodes.
func runJoinIdentity(ctx context.Context, d JoinData) (string, error) {
	c, err := d.BootstrapClient(ctx)
	if err != nil {
		return "", err
	}
	id, err := join.HostIdentity(d.Env())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	msg, err := checkNodeName(ctx, d, c, id)
	if err != nil {
		return "", err
	}
	data, ok, err := join.ReadRegistry(ctx, c)
	if err != nil {
		return "", err
	}
	if !ok {
		fmt.Fprintf(d.Out(), "[identity-check] WARNING the cluster has no kube-system/%s (not made by this kubestrap): "+
			"clones are not detected\n", join.IdentityRegistry)
		return msg, nil
	}
	if err := join.CheckRegistry(data, d.NodeName(), id); err != nil {
		return "", err
	}
	// Claimed now, before anything is written here: of two clones joining
	// at the same moment, the second is refused at this point.
	n, err := join.Claim(ctx, c, join.Salt(data), d.NodeName(), id)
	switch {
	case errors.Is(err, join.ErrNoClaims):
		return msg + "; no node has this host's machine-id, product_uuid or MACs (recorded when the join is done)", nil
	case err != nil:
		return "", err
	}
	return fmt.Sprintf("%s; no node has this host's machine-id, product_uuid or MACs; %d identity claims made for %s",
		msg, n, d.NodeName()), nil
}

func checkNodeName(ctx context.Context, d JoinData, c kubernetes.Interface, id join.Identity) (string, error) {
	n, err := c.CoreV1().Nodes().Get(ctx, d.NodeName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "no node is named " + d.NodeName(), nil
	case apierrors.IsUnauthorized(err):
		return "", errors.New("the API server rejects the token: it has expired or was deleted; create a new one with " +
			"`kubestrap token create --print-join-command` on a control-plane node")
	case apierrors.IsForbidden(err):
		fmt.Fprintf(d.Out(), "[identity-check] WARNING the token may not read Nodes (%v): the node name is not checked\n", err)
		return "name not checked", nil
	case err != nil:
		return "", fmt.Errorf("get node %s with the bootstrap token: %w", d.NodeName(), err)
	}
	if _, err := join.CheckIdentity(d.NodeName(), id, []corev1.Node{*n}); err != nil {
		return "", err
	}
	return "node " + d.NodeName() + " is this host (same machine-id): resuming its join", nil
}

func runJoinKubeletStart(ctx context.Context, d JoinData) (string, error) {
	info, err := d.ClusterInfo(ctx)
	if err != nil {
		return "", err
	}
	cluster, err := d.ClusterConfig(ctx)
	if err != nil {
		return "", err
	}
	nodeIP, err := d.NodeIP(ctx)
	if err != nil {
		return "", err
	}
	// Join's preflight runs before the cluster's version is known: the
	// kubelet's skew against it is checked here, before anything is written.
	skew := []preflight.Checker{preflight.KubeletVersion(d.Env(), kubelet.AgentPath(d.AgentBinary()), cluster.KubernetesVersion)}
	results, err := preflight.Run(skew, d.Ignore())
	preflight.Report(d.Out(), results)
	if err != nil {
		return "", err
	}
	if err := writeJoinNodeFiles(d, info, cluster, nodeIP); err != nil {
		return "", err
	}
	msg := "wrote " + filepath.Join(d.KubeletDir(), layout.KubeletConfigFile)
	if d.DryRun() {
		return msg + "; dry-run: would install the bundled kubelet and start kubelet.service", nil
	}
	started, err := kubelet.InstallAndStart(ctx, d.Env().Root, d.Systemd(), d.AgentBinary())
	return msg + "; " + started, err
}

// writeJoinNodeFiles writes the CA and the kubelet's configuration for
// this node. No bootstrap kubeconfig: tls-bootstrap already got the
// kubelet its certificate, so the token never lands on disk.
func writeJoinNodeFiles(d JoinData, info *join.ClusterInfo, cluster *config.ClusterConfiguration, nodeIP string) error {
	cfg := d.Cfg()
	caPath := d.HostPath(cfg.CACertPath)
	if err := os.MkdirAll(filepath.Dir(caPath), 0o755); err != nil {
		return err
	}
	if err := node.WriteFileAtomic(caPath, info.CAPEM, certs.CertMode); err != nil {
		return err
	}
	params, err := kubelet.HostParams(d.Env(), cluster, cfg.CACertPath, cfg.NodeRegistration.CRISocket)
	if err != nil {
		return err
	}
	flags := kubelet.Flags(nodeIP, d.NodeName(), cfg.NodeRegistration.KubeletExtraArgs)
	if err := os.MkdirAll(filepath.Join(d.KubernetesDir(), layout.ManifestsSubdir), 0o755); err != nil {
		return err
	}
	kc, err := kubelet.UserConfig(d.Out(), "kubelet-start", cluster.KubeletConfiguration, params)
	if err != nil {
		return err
	}
	return kubelet.WriteConfig(d.KubeletDir(), kc, flags)
}

func waitSpec(d interface{ Out() io.Writer }, prefix string) poll.Spec {
	return phases.WaitSpec(d.Out(), prefix)
}

func runJoinWaitRegistered(ctx context.Context, d JoinData) (string, error) {
	if d.DryRun() {
		return "dry-run: would wait for the kubelet to register the Node object", nil
	}
	c, err := d.KubeletClient()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	if _, err := kubelet.WaitNode(ctx, c, d.NodeName(), waitSpec(d, "wait-registered")); err != nil {
		return "", fmt.Errorf("%w; `journalctl -u kubelet` says why", err)
	}
	return fmt.Sprintf("node %s registered (%s after join started)",
		d.NodeName(), poll.FormatDuration(now().Sub(d.Start()))), nil
}

func runJoinNodeNetwork(ctx context.Context, d JoinData) (string, error) {
	if d.DryRun() {
		return "dry-run: would wait for this node's podCIDR and write its CNI config", nil
	}
	cluster, err := d.ClusterConfig(ctx)
	if err != nil {
		return "", err
	}
	if cluster.Networking.PodNetwork == "none" {
		return "pod network none: install a CNI of your own", nil
	}
	c, err := d.KubeletClient()
	if err != nil {
		return "", err
	}
	nodeIP, err := d.NodeIP(ctx)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	cidr, installed, err := addons.NodeNetwork(ctx, c, d.Env(), d.NodeName(), nodeIP, waitSpec(d, "node-network"))
	if err != nil {
		return "", err
	}
	msg := "wrote CNI config for " + cidr
	if len(installed) > 0 {
		msg += "; installed CNI plugins " + strings.Join(installed, ", ")
	}
	return msg, nil
}

func runJoinWaitReady(ctx context.Context, d JoinData) (string, error) {
	if d.DryRun() {
		return "dry-run: would wait for the node to be Ready, record its identity and remove the bootstrap kubeconfig", nil
	}
	c, err := d.KubeletClient()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	if err := kubelet.WaitNodeReady(ctx, c, d.NodeName(), waitSpec(d, "wait-ready")); err != nil {
		return "", err
	}
	if err := join.RegisterHost(ctx, c, d.Env(), d.NodeName()); err != nil {
		return "", err
	}
	// The token's job is done; the kubelet renews its own certificate.
	_ = os.Remove(filepath.Join(d.KubernetesDir(), layout.BootstrapKubeletConf))
	if err := writeJoinRecord(ctx, d); err != nil {
		return "", err
	}
	return fmt.Sprintf("node %s is Ready (%s after join started)", d.NodeName(), poll.FormatDuration(now().Sub(d.Start()))), nil
}

func writeJoinRecord(ctx context.Context, d JoinData) error {
	server, err := kubeconfigServer(filepath.Join(d.KubernetesDir(), layout.KubeletConf))
	if err != nil {
		return err
	}
	nodeIP, _ := d.NodeIP(ctx)
	rec := fmt.Sprintf("# written by kubestrap join when it finished\nnode: %s\nserver: %s\nnodeIP: %s\n",
		d.NodeName(), server, nodeIP)
	return node.WriteFileAtomic(filepath.Join(d.KubernetesDir(), layout.JoinRecord), []byte(rec), 0o600)
}
