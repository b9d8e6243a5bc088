package joinflow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/staticpods"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// controlPlanePrepare and controlPlaneJoin are the phases a control-plane
// join adds (kubeadm's names): before the kubelet starts, this node's
// certificates, kubeconfigs and control-plane manifests; after TLS
// bootstrap, its etcd member, the wait for its control plane, its marks.
func controlPlanePrepare() phases.Phase {
	return phases.Phase{Name: "control-plane-prepare", Short: "Download the shared certificates, make this node's own, write the " +
		"control-plane kubeconfigs and manifests", RunIf: isControlPlaneJoin, Phases: []phases.Phase{
		{Name: "download-certs", Short: "Download and decrypt the certificates init uploaded (--certificate-key)",
			Run: joinPhase(runDownloadCerts)},
		{Name: "certs", Short: "Generate this node's serving and client certificates from the shared CAs",
			Run: joinPhase(runControlPlaneCerts)},
		{Name: "kubeconfig", Short: "Write admin.conf, controller-manager.conf and scheduler.conf",
			Run: joinPhase(runControlPlaneKubeconfigs)},
		{Name: "control-plane", Short: "Write the kube-apiserver, kube-controller-manager and kube-scheduler manifests",
			Run: joinPhase(runControlPlaneManifests)},
	}}
}

func controlPlaneJoin() phases.Phase {
	return phases.Phase{Name: "control-plane-join", Short: "Add this node's etcd member, wait for its control plane, mark it",
		RunIf: isControlPlaneJoin, Phases: []phases.Phase{
			{Name: "etcd", Short: "Add the local etcd as a learner, start it, promote it once it has caught up",
				Run: joinPhase(runEtcdJoin)},
			{Name: "wait-control-plane", Short: "Wait for this node's etcd, kube-apiserver, kube-controller-manager and kube-scheduler",
				Run: joinPhase(runJoinWaitControlPlane)},
			{Name: "mark-control-plane", Short: "Label and taint the node as a control-plane node",
				Run: joinPhase(runJoinMarkControlPlane)},
		}}
}

func isControlPlaneJoin(data phases.Data) (bool, error) {
	d, err := asJoin(data)
	if err != nil {
		return false, err
	}
	return d.Cfg().ControlPlane != nil, nil
}

// sharedCAFiles are what download-certs brings; with all of them present
// (copied by hand, as kubeadm allows) no certificate key is needed.
var sharedCAFiles = certs.SharedFiles()

func runDownloadCerts(ctx context.Context, d JoinData) (string, error) {
	ic, err := d.ControlPlaneInit(ctx)
	if err != nil {
		return "", err
	}
	if ic.Cluster.ControlPlaneEndpoint == "" {
		return "", errors.New("this cluster was initialized without --control-plane-endpoint: its API address is its " +
			"first node's own, which more control planes cannot share; join this node as a worker, or make the cluster " +
			"again with `kubestrap init --control-plane-endpoint LB:6443 --upload-certs` (a load balancer or DNS name in " +
			"front of the control planes)")
	}
	certDir := d.HostPath(ic.Cluster.CertificatesDir)
	key := d.Cfg().ControlPlane.CertificateKey
	if key == "" {
		if missing := missingFiles(certDir, sharedCAFiles); len(missing) > 0 {
			return "", fmt.Errorf("a control-plane join needs the cluster's shared certificates: pass --certificate-key "+
				"(printed by `kubestrap init --upload-certs`, or made anew with `kubestrap init phase upload-certs "+
				"--upload-certs` on a control-plane node, which keeps it in "+layout.CertificateKeyFile+"), or copy them to %s (missing: %s)", certDir, strings.Join(missing, ", "))
		}
		return "using the shared certificates already in " + certDir, nil
	}
	if d.DryRun() {
		return "dry-run: would download and decrypt kube-system/" + controlplane.CertsSecret + " into " + certDir, nil
	}
	c, err := d.BootstrapClient(ctx)
	if err != nil {
		return "", err
	}
	files, err := controlplane.DownloadCerts(ctx, c, key, certDir)
	if err != nil {
		return "", err
	}
	if err := sameCA(d, ctx, filepath.Join(certDir, layout.CACert)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d files decrypted into %s", len(files), certDir), nil
}

// sameCA refuses certificates whose CA is not the one discovery verified:
// the uploaded Secret must belong to the cluster this node trusts.
func sameCA(d JoinData, ctx context.Context, caPath string) error {
	info, err := d.ClusterInfo(ctx)
	if err != nil {
		return err
	}
	got, err := os.ReadFile(caPath)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(got)) != strings.TrimSpace(string(info.CAPEM)) {
		return fmt.Errorf("the downloaded %s is not the CA of the cluster at %s that discovery verified", caPath, info.Server)
	}
	return nil
}

func needSharedCAs(certDir string) error {
	if missing := missingFiles(certDir, sharedCAFiles); len(missing) > 0 {
		return fmt.Errorf("%w: the shared CAs are missing in %s (%s): run `kubestrap join phase "+
			"control-plane-prepare/download-certs --certificate-key K` first", phases.ErrNeedsEarlierPhase, certDir, strings.Join(missing, ", "))
	}
	return nil
}

func missingFiles(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		if !node.Exists(filepath.Join(dir, n)) {
			out = append(out, n)
		}
	}
	return out
}

// sharedPKI is this node's PKI over the shared CAs download-certs brought:
// the certs and kubeconfig phases both start from it.
func sharedPKI(ctx context.Context, d JoinData) (*config.Init, *certs.PKI, string, error) {
	ic, err := d.ControlPlaneInit(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	certDir := d.HostPath(ic.Cluster.CertificatesDir)
	if err := needSharedCAs(certDir); err != nil {
		return nil, nil, "", err
	}
	return ic, certs.New(ic, certDir), certDir, nil
}

func runControlPlaneCerts(ctx context.Context, d JoinData) (string, error) {
	ic, pki, certDir, err := sharedPKI(ctx, d)
	if err != nil {
		return "", err
	}
	res, err := pki.EnsureAll(certs.Tree(ic))
	if err != nil {
		return "", err
	}
	return certs.Summarize(res, certDir), nil
}

func runControlPlaneKubeconfigs(ctx context.Context, d JoinData) (string, error) {
	ic, pki, _, err := sharedPKI(ctx, d)
	if err != nil {
		return "", err
	}
	var res []certs.Result
	for _, k := range certs.Kubeconfigs(ic) {
		// The kubelet gets its kubeconfig through TLS bootstrap; super-admin
		// stays on the first control plane, as with kubeadm.
		if k.File == layout.KubeletConf || k.File == layout.SuperAdminConf {
			continue
		}
		r, err := pki.EnsureKubeconfig(d.KubernetesDir(), k, ic.Cluster.ClusterName)
		if err != nil {
			return "", err
		}
		res = append(res, r)
	}
	return certs.Summarize(res, d.KubernetesDir()), nil
}

func runControlPlaneManifests(ctx context.Context, d JoinData) (string, error) {
	ic, err := d.ControlPlaneInit(ctx)
	if err != nil {
		return "", err
	}
	pods, err := staticpods.All(ic)
	if err != nil {
		return "", err
	}
	var wrote []string
	for _, p := range pods {
		if p.Name == staticpods.Etcd {
			continue // written by control-plane-join/etcd, once the member is added
		}
		if p.Name == staticpods.KubeAPIServer {
			if _, err := staticpods.PrepareAPIServer(&ic.Cluster, d.HostPath(ic.Cluster.CertificatesDir), d.HostPath); err != nil {
				if errors.Is(err, staticpods.ErrNoEncryptionKeys) {
					err = fmt.Errorf("%w: %w: run `kubestrap join phase control-plane-prepare/download-certs "+
						"--certificate-key K` first", phases.ErrNeedsEarlierPhase, err)
				}
				return "", err
			}
		}
		path, _, err := staticpods.Write(d.ManifestDir(), p)
		if err != nil {
			return "", err
		}
		wrote = append(wrote, filepath.Base(path))
	}
	return "wrote " + strings.Join(wrote, ", "), nil
}

// controlPlaneAdmin is this node's control-plane configuration and the
// admin client its kubeconfig phase wrote: what the phases after TLS
// bootstrap work with.
func controlPlaneAdmin(ctx context.Context, d JoinData) (*config.Init, kubernetes.Interface, error) {
	ic, err := d.ControlPlaneInit(ctx)
	if err != nil {
		return nil, nil, err
	}
	admin, err := d.AdminClient()
	return ic, admin, err
}

// etcdFiles are the client credentials a control-plane node talks to etcd
// with (the API server's).
func etcdFiles(certDir string) etcd.TLSFiles {
	return etcd.APIServerClient(certDir)
}

func runEtcdJoin(ctx context.Context, d JoinData) (string, error) {
	if d.DryRun() {
		return "dry-run: would add this node's etcd as a learner, write its manifest, wait for it and promote it", nil
	}
	ic, admin, err := controlPlaneAdmin(ctx, d)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, phases.ControlPlaneTimeout)
	defer cancel()
	endpoints, err := etcdEndpoints(ctx, admin, d.NodeName())
	if err != nil {
		return "", err
	}
	files := etcdFiles(d.HostPath(ic.Cluster.CertificatesDir))
	cli, err := etcd.Client(endpoints, files)
	if err != nil {
		return "", err
	}
	defer func() { _ = cli.Close() }()
	members, err := etcd.Members(ctx, cli, etcd.HealthOf(files))
	if err != nil {
		return "", fmt.Errorf("list etcd members at %s: %w", strings.Join(endpoints, ","), err)
	}
	dataDir := d.HostPath(ic.Cluster.Etcd.Local.DataDir)
	j, err := etcd.AddLearner(ctx, cli, members, d.NodeName(), staticpods.EtcdPeerURL(ic),
		node.Exists(filepath.Join(dataDir, "member")), waitSpec(d, "control-plane-join/etcd"))
	if err != nil {
		return "", err
	}
	if j.Note != "" {
		fmt.Fprintln(d.Out(), "[control-plane-join/etcd] "+j.Note)
	}
	if err := setAsideStaleData(j, dataDir); err != nil {
		return "", err
	}
	if err := writeEtcdMember(d, ic, etcd.InitialCluster(j.All, d.NodeName(), staticpods.EtcdPeerURL(ic)), dataDir); err != nil {
		return "", err
	}
	// A promoted learner has caught up with the leader: that is the wait.
	// A member that is a voter already (a resumed join) must answer; the
	// control plane's own wait checks etcd's health after this phase.
	if j.Self.IsLearner {
		if err := etcd.Promote(ctx, cli, j.Self.ID, waitSpec(d, "control-plane-join/etcd")); err != nil {
			return "", err
		}
	} else if err := waitLocalEtcd(ctx, d, files, staticpods.EtcdClientURL(ic)); err != nil {
		return "", err
	}
	return fmt.Sprintf("etcd member %s (%x) is a voting member of %d", d.NodeName(), j.Self.ID, len(j.All)), nil
}

func writeEtcdMember(d JoinData, ic *config.Init, initialCluster, dataDir string) error {
	img, err := images.Images(&ic.Cluster)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return err
	}
	_, _, err = staticpods.Write(d.ManifestDir(), staticpods.EtcdMemberPod(ic, img, initialCluster))
	return err
}

func waitLocalEtcd(ctx context.Context, d JoinData, files etcd.TLSFiles, clientURL string) error {
	s := waitSpec(d, "control-plane-join/etcd")
	s.What = "this node's etcd at " + clientURL + " to catch up and answer"
	health := etcd.HealthOf(files)
	return poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		err := health(ctx, clientURL)
		return err == nil, err
	})
}

// etcdEndpoints are the client URLs of the other control-plane nodes'
// etcd: stacked etcd listens on each control-plane node's address.
func etcdEndpoints(ctx context.Context, c kubernetes.Interface, self string) ([]string, error) {
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: controlplane.Label})
	if err != nil {
		return nil, fmt.Errorf("list the control-plane nodes: %w", err)
	}
	var out []string
	for _, n := range nodes.Items {
		if n.Name == self {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				out = append(out, config.NewEndpoint(a.Address, layout.EtcdClientPort).URL())
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no control-plane node with an address: is the cluster's first control plane registered?")
	}
	return out, nil
}

func runJoinWaitControlPlane(ctx context.Context, d JoinData) (string, error) {
	if d.DryRun() {
		return "dry-run: would wait for this node's control plane", nil
	}
	ic, err := d.ControlPlaneInit(ctx)
	if err != nil {
		return "", err
	}
	certDir := d.HostPath(ic.Cluster.CertificatesDir)
	if _, err := phases.ReadNeeded(filepath.Join(certDir, layout.CACert), "join", "control-plane-prepare/download-certs"); err != nil {
		return "", err
	}
	return phases.WaitControlPlane(ctx, d.Out(), ic, certDir, "control-plane-join/wait-control-plane")
}

func runJoinMarkControlPlane(ctx context.Context, d JoinData) (string, error) {
	if d.DryRun() {
		return "dry-run: would label and taint the node", nil
	}
	ic, admin, err := controlPlaneAdmin(ctx, d)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	if err := controlplane.Mark(ctx, admin, d.NodeName(), controlplane.Taints(ic.NodeRegistration),
		waitSpec(d, "control-plane-join/mark-control-plane")); err != nil {
		return "", err
	}
	return "labelled and tainted " + d.NodeName(), nil
}

// setAsideStaleData moves this node's etcd data out of the way only when
// AddLearner removed the member it belonged to (a re-imaged or re-addressed
// host): started as that member, etcd would be refused or, worse, rejoin
// under the removed ID. phases.Data of a member that was reused is live and stays.
func setAsideStaleData(j etcd.Joined, dataDir string) error {
	if !j.DataIsStale() {
		return nil
	}
	return moveAside(filepath.Join(dataDir, "member"))
}

// moveAside keeps old etcd data out of the way instead of deleting it: it
// may be the only copy someone wants back.
func moveAside(path string) error {
	if !node.Exists(path) {
		return nil
	}
	to := fmt.Sprintf("%s.stale-%d", path, now().Unix())
	if err := os.Rename(path, to); err != nil {
		return fmt.Errorf("move the old etcd data aside: %w", err)
	}
	return nil
}
