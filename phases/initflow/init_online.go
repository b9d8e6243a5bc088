package initflow

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/addons"
	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/components/tokens"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/join"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/poll"
)

// onlinePhase runs fn with the admin client, or in dry-run says what it
// would do.
func onlinePhase(name, short string, fn func(ctx context.Context, d InitData, c kubernetes.Interface) (string, error)) phases.Phase {
	return phases.Phase{Name: name, Short: short, Run: initPhase(func(ctx context.Context, d InitData) (string, error) {
		if d.DryRun() {
			return "dry-run: would " + strings.ToLower(short[:1]) + short[1:], nil
		}
		c, err := d.Client()
		if err != nil {
			return "", err
		}
		ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
		defer cancel()
		return fn(ctx, d, c)
	})}
}

func runWaitControlPlane(ctx context.Context, d InitData) (string, error) {
	if d.DryRun() {
		return "dry-run: would wait for the kubelet, etcd, kube-apiserver, kube-controller-manager and kube-scheduler", nil
	}
	if _, err := phases.ReadNeeded(filepath.Join(d.CertDir(), layout.CACert), "init", "certs/ca"); err != nil {
		return "", err
	}
	return phases.WaitControlPlane(ctx, d.Out(), d.Cfg(), d.CertDir(), "wait-control-plane")
}

func runUploadConfig(ctx context.Context, d InitData, c kubernetes.Interface) (string, error) {
	kubelet, err := phases.ReadNeeded(filepath.Join(d.KubeletDir(), layout.KubeletConfigFile), "init", "kubelet-start")
	if err != nil {
		return "", err
	}
	if err := controlplane.UploadConfig(ctx, c, &d.Cfg().Cluster, kubelet); err != nil {
		return "", err
	}
	return "stored ConfigMaps kube-system/" + controlplane.ClusterConfigMap + ", " + controlplane.KubeadmConfigMap +
		" (kubeadm's) and " + controlplane.KubeletConfigMap, nil
}

// uploadCertsPhase stores the shared CAs and service-account key,
// encrypted with the certificate key, for control-plane joins (2 h).
func uploadCertsPhase() phases.Phase {
	p := onlinePhase("upload-certs", "Upload the shared certificates, encrypted with the certificate key, for control-plane "+
		"join (kube-system/kubeadm-certs, 2 h)", runUploadCerts)
	p.RunIf = func(data phases.Data) (bool, error) {
		d, err := asInit(data)
		return err == nil && d.Cfg().UploadCerts, err
	}
	return p
}

func runUploadCerts(ctx context.Context, d InitData, c kubernetes.Interface) (string, error) {
	key := d.Cfg().CertificateKey
	how := "the certificate key given in the configuration"
	if key == "" {
		var err error
		if key, err = certs.NewCertificateKey(); err != nil {
			return "", err
		}
		// Kept, not put into the configuration: show-join-command reads
		// it from here, also when run alone later.
		if err := node.WriteFileAtomic(d.HostPath(layout.CertificateKeyFile), []byte(key+"\n"), 0o600); err != nil {
			return "", err
		}
		how = "a new certificate key, kept in " + layout.CertificateKeyFile + " (0600)"
	}
	if _, err := controlplane.UploadCerts(ctx, c, d.CertDir(), key, time.Now()); err != nil {
		return "", err
	}
	// The key itself is in no log line (Ansible and CI keep those): the
	// join command that init prints at the end carries it, as kubeadm's.
	return "uploaded to kube-system/" + controlplane.CertsSecret + " for 2 h, encrypted with " + how +
		"; `kubestrap init phase upload-certs --upload-certs` uploads them again under a fresh one", nil
}

func runMarkControlPlane(ctx context.Context, d InitData, c kubernetes.Interface) (string, error) {
	taints := controlplane.Taints(d.Cfg().NodeRegistration)
	if err := controlplane.Mark(ctx, c, d.Cfg().NodeRegistration.Name, taints, initWaitSpec(d, "mark-control-plane")); err != nil {
		return "", err
	}
	if len(taints) == 0 {
		return "labelled " + d.Cfg().NodeRegistration.Name + " (no taints: workloads may run here)", nil
	}
	return "labelled and tainted " + d.Cfg().NodeRegistration.Name, nil
}

func runBootstrapToken(ctx context.Context, d InitData, c kubernetes.Interface) (string, error) {
	ca, err := phases.ReadNeeded(filepath.Join(d.CertDir(), layout.CACert), "init", "certs/ca")
	if err != nil {
		return "", err
	}
	now := time.Now()
	fns := []func() error{
		func() error { return tokens.BootstrapRBAC(ctx, c) },
		func() error { return tokens.ClusterInfo(ctx, c, certs.ClusterServer(d.Cfg()), ca) },
	}
	toks, err := d.Tokens(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range toks {
		fns = append(fns, func() error { _, err := tokens.Ensure(ctx, c, t, now); return err })
	}
	if err := apply.Concurrently(fns...); err != nil {
		return "", err
	}
	if err := tokens.SignClusterInfo(ctx, c, toks); err != nil {
		return "", fmt.Errorf("sign cluster-info: %w", err)
	}
	// The identity registry exists now (BootstrapRBAC made it): this node
	// goes in first, so that a clone of it cannot join.
	if err := join.RegisterHost(ctx, c, d.Env(), d.Cfg().NodeRegistration.Name); err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(toks[0].Token, ".")
	return fmt.Sprintf("token %s, its RBAC and cluster-info (signed for it) created", id), nil
}

func runKubeletFinalize(ctx context.Context, d InitData) (string, error) {
	if d.DryRun() {
		return "dry-run: would point kubelet.conf at " + layout.KubeletClientCurrent, nil
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	changed, err := kubelet.FinalizeKubeconfig(ctx, d.Env().Root, filepath.Join(d.KubernetesDir(), layout.KubeletConf),
		layout.KubeletClientCurrent, initWaitSpec(d, "kubelet-finalize"))
	if err != nil || !changed {
		return "kubelet.conf already uses " + layout.KubeletClientCurrent, err
	}
	return "kubelet.conf now uses " + layout.KubeletClientCurrent, nil
}

func applyAddon(ctx context.Context, c kubernetes.Interface, manifest []byte, err error) error {
	if err != nil {
		return err
	}
	objs, err := apply.DecodeObjects(manifest)
	if err != nil {
		return err
	}
	return apply.Objects(ctx, c, objs)
}

func imageSet(d InitData) images.ImageSet {
	s, _ := images.Images(&d.Cfg().Cluster) // validated with the config
	return s
}

func runCoreDNS(ctx context.Context, d InitData, c kubernetes.Interface) (string, error) {
	_, upstream := kubelet.ResolvConfFor(d.Env().Root)
	m, err := addons.CoreDNSManifest(&d.Cfg().Cluster, imageSet(d), certs.ClusterServer(d.Cfg()), upstream)
	if err := applyAddon(ctx, c, m, err); err != nil {
		return "", err
	}
	if !upstream {
		return "applied CoreDNS (WARNING: this node's resolv.conf names only loopback nameservers, which would be " +
			"CoreDNS itself in its pod: cluster names resolve, other names do not until you add `forward . <DNS IP>` " +
			"to the coredns ConfigMap)", nil
	}
	return "applied CoreDNS", nil
}

func runKubeProxy(ctx context.Context, d InitData, c kubernetes.Interface) (string, error) {
	writable := addons.ConntrackWritable(d.Env().Root)
	m, err := addons.KubeProxyManifest(&d.Cfg().Cluster, imageSet(d), certs.ClusterServer(d.Cfg()), writable)
	if err := applyAddon(ctx, c, m, err); err != nil {
		return "", err
	}
	if !writable {
		return "applied kube-proxy (nf_conntrack_max is not writable here: conntrack.maxPerCore 0 leaves it alone)", nil
	}
	return "applied kube-proxy", nil
}

func runPodNetwork(ctx context.Context, d InitData, c kubernetes.Interface) (string, error) {
	cfg := d.Cfg()
	if cfg.Cluster.Networking.PodNetwork == "none" {
		return "pod network none: install a CNI of your own", nil
	}
	m, err := addons.FlannelManifest(&cfg.Cluster, imageSet(d), certs.ClusterServer(cfg))
	if err := applyAddon(ctx, c, m, err); err != nil {
		return "", err
	}
	// The first node need not wait for kcm's node IPAM (it allocates the
	// same range once it runs): claim it and write the CNI config now.
	if _, err := addons.ClaimFirstPodCIDR(ctx, c, cfg.NodeRegistration.Name, cfg.Cluster.Networking.PodSubnet); err != nil {
		return "", fmt.Errorf("set the first node's podCIDR: %w", err)
	}
	cidr, installed, err := addons.NodeNetwork(ctx, c, d.Env(), cfg.NodeRegistration.Name,
		cfg.LocalAPIEndpoint.AdvertiseAddress, initWaitSpec(d, "addons/pod-network"))
	if err != nil {
		return "", err
	}
	msg := "applied flannel; wrote CNI config for " + cidr
	if len(installed) > 0 {
		msg += "; installed CNI plugins " + strings.Join(installed, ", ")
	}
	return msg, nil
}

func runShowJoinCommand(ctx context.Context, d InitData) (string, error) {
	cfg := d.Cfg()
	ca, _, err := certs.New(cfg, d.CertDir()).LoadCA("ca")
	if err != nil {
		return "", err
	}
	toks, err := d.Tokens(ctx)
	if err != nil {
		return "", err
	}
	t := toks[0]
	var expires time.Time
	if t.TTL != nil && t.TTL.Duration > 0 {
		expires = time.Now().Add(t.TTL.Duration)
	}
	endpoint := certs.ClusterEndpoint(cfg).String()
	info := tokens.NewJoinInfo(endpoint, t.Token, ca, expires)
	info.Changed = true // it ends an init that ran
	if key := certificateKey(d); cfg.UploadCerts && key != "" {
		info = info.WithControlPlane(key)
	}
	if !d.DryRun() {
		if err := waitTokenSigned(ctx, d, t.Token); err != nil {
			return "", err
		}
		if err := writeInitRecord(d); err != nil {
			return "", err
		}
	}
	id, _, _ := strings.Cut(t.Token, ".")
	msg := "cluster-info is signed for token " + id
	if d.DryRun() {
		msg = "dry-run: would wait for the controller manager to sign cluster-info for token " + id
	}
	if d.JSON() != nil {
		enc := json.NewEncoder(d.JSON())
		enc.SetIndent("", "  ")
		return msg, enc.Encode(info)
	}
	printJoinCommands(d, info)
	return msg, nil
}

// printJoinCommands ends an init as kubeadm's does: where the admin
// kubeconfig is and the join commands; a dry run says nothing was started.
func printJoinCommands(d InitData, info tokens.JoinInfo) {
	if d.DryRun() {
		// Nothing runs after a dry run: never say the control plane is up.
		fmt.Fprintf(d.Out(), "\n[dry-run] nothing was started. A real init would end by printing a join command like:\n\n  %s\n\n",
			info.JoinCommand)
		return
	}
	admin := filepath.Join(d.KubernetesDir(), layout.AdminConf)
	fmt.Fprintf(d.Out(), "\nYour Kubernetes control plane is up.\n\nTo use it as an admin:\n  export KUBECONFIG=%s\n\n", admin)
	if info.ControlPlaneJoinCommand != "" {
		fmt.Fprintf(d.Out(), "To join more control-plane nodes (one at a time, within 2 h: the uploaded certificates "+
			"expire then; `kubestrap init phase upload-certs --upload-certs` uploads them again), run on each as root:\n\n  %s\n\n",
			info.ControlPlaneJoinCommand)
	}
	fmt.Fprintf(d.Out(), "To join worker nodes, run on each as root:\n\n  %s\n\n", info.JoinCommand)
}

// certificateKey is the key upload-certs encrypted the shared
// certificates with: the configured one, else the one it made and kept
// (0600); "" when there is none.
func certificateKey(d InitData) string {
	if k := d.Cfg().CertificateKey; k != "" {
		return k
	}
	b, err := os.ReadFile(d.HostPath(layout.CertificateKeyFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// waitTokenSigned waits until joining with the token can work: the
// bootstrapsigner has signed cluster-info for it.
func waitTokenSigned(ctx context.Context, d InitData, token string) error {
	c, err := d.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	id, _, _ := strings.Cut(token, ".")
	return tokens.WaitSigned(ctx, c, id, initWaitSpec(d, "show-join-command"))
}

// InitRecordFor is what a finished init records: the configuration without
// what may differ between runs (tokens, ignored checks, skipped phases).
func InitRecordFor(c *config.Init) ([]byte, error) {
	cp := *c
	cp.BootstrapTokens = nil
	cp.SkipPhases = nil
	cp.CertificateKey = ""
	cp.NodeRegistration.IgnorePreflightErrors = nil
	return config.MarshalInit(&cp)
}

func writeInitRecord(d InitData) error {
	b, err := InitRecordFor(d.Cfg())
	if err != nil {
		return err
	}
	return node.WriteFileAtomic(filepath.Join(d.KubernetesDir(), layout.InitRecord), b, 0o600)
}

func initWaitSpec(d InitData, prefix string) poll.Spec {
	return poll.Spec{Interval: phases.PollInterval, Out: d.Out(), Prefix: prefix}
}

// InitializedJoinInfo is the join information of a node init finished on,
// read without changing anything (a re-run of `init -o json`): init's
// token while it is valid, else no token and a note saying how to make
// one. The certificate key is left out: its certificates expire in 2 h.
func InitializedJoinInfo(ctx context.Context, d InitData) (tokens.JoinInfo, error) {
	cfg := d.Cfg()
	ca, _, err := certs.New(cfg, d.CertDir()).LoadCA("ca")
	if err != nil {
		return tokens.JoinInfo{}, err
	}
	tok := ""
	if len(cfg.BootstrapTokens) > 0 {
		c, err := d.Client()
		if err != nil {
			return tokens.JoinInfo{}, err
		}
		ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
		defer cancel()
		if tok, _, err = tokens.FindByDescription(ctx, c, cfg.BootstrapTokens[0].Description, time.Now()); err != nil {
			return tokens.JoinInfo{}, err
		}
	}
	info := tokens.NewJoinInfo(certs.ClusterEndpoint(cfg).String(), tok, ca, time.Time{})
	if tok == "" {
		info.JoinCommand = ""
		info.Note = "init's token has expired or was deleted: `kubestrap token create --print-join-command` makes a new one"
	}
	return info, nil
}
