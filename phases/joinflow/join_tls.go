package joinflow

import (
	"context"
	"fmt"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
)

// runJoinTLSBootstrap gets the kubelet its client certificate before it
// starts (see kubelet.BootstrapClientCert for why) and writes kubelet.conf
// pointing at the pair the kubelet rotates. A valid pair of this node from
// this cluster is kept: a re-run never replaces working credentials.
func runJoinTLSBootstrap(ctx context.Context, d JoinData) (string, error) {
	info, err := d.ClusterInfo(ctx)
	if err != nil {
		return "", err
	}
	current := d.HostPath(layout.KubeletClientCurrent)
	kubeconf := filepath.Join(d.KubernetesDir(), layout.KubeletConf)
	if kubelet.ValidClientCert(current, d.NodeName(), info.CA, now()) == nil {
		if err := writeKubeletConf(ctx, d, kubeconf, info.Server, info.CAPEM); err != nil {
			return "", err
		}
		return "kept the kubelet's valid client certificate " + layout.KubeletClientCurrent, nil
	}
	if d.DryRun() {
		return "dry-run: would request a client certificate for " + kubelet.NodeUser(d.NodeName()) +
			" with the bootstrap token and write " + kubeconf, nil
	}
	c, err := d.BootstrapClient(ctx)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	name, err := kubelet.BootstrapClientCert(ctx, c, d.NodeName(), d.HostPath(layout.KubeletPKIDir),
		waitSpec(d, "tls-bootstrap"))
	if err != nil {
		return "", err
	}
	if err := writeKubeletConf(ctx, d, kubeconf, info.Server, info.CAPEM); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s signed (CSR %s); wrote %s", kubelet.NodeUser(d.NodeName()), name, kubeconf), nil
}

// writeKubeletConf writes the kubelet's kubeconfig as the kubelet itself
// would after a bootstrap: the cluster's CA and server, and the rotated
// pair by path, so that rotation keeps it valid.
func writeKubeletConf(ctx context.Context, d JoinData, path, server string, caPEM []byte) error {
	cluster, err := d.ClusterConfig(ctx)
	if err != nil {
		return err
	}
	kc := certs.NewKubeconfig(cluster.ClusterName, server, "default-auth", caPEM, nil, nil)
	a := kc.AuthInfos["default-auth"]
	a.ClientCertificate, a.ClientKey = layout.KubeletClientCurrent, layout.KubeletClientCurrent
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	return node.WriteFileAtomic(path, data, certs.KeyMode)
}
