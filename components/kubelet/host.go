package kubelet

import (
	"context"
	"fmt"
	"io"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

// HostParams gathers the kubelet's inputs from the cluster's
// configuration and from this host (the runtime's cgroup driver, the cgroup
// version, the resolver file); init and join configure the kubelet alike.
func HostParams(e *node.Host, cluster *config.ClusterConfiguration, caFile, criSocket string) (Params, error) {
	dns, err := ClusterDNSIP(cluster.Networking.ServiceSubnet)
	if err != nil {
		return Params{}, err
	}
	ctrd, err := preflight.ReadContainerdConfig(e)
	if err != nil {
		return Params{}, err
	}
	params := Params{ClusterDNS: dns, ClusterDomain: cluster.Networking.DNSDomain,
		ClientCAFile: caFile, CgroupDriver: ctrd.CgroupDriver(), CgroupV1: preflight.DetectCgroupVersion(e) == 1,
		CRIEndpoint: criSocket}
	params.ResolvConf, _ = ResolvConfFor(e.Root)
	return params, nil
}

// AgentPath is the kubelet that kubelet-start would install, or "" when
// there is none (kubelet-start then says how to provide one).
func AgentPath(explicit string) string {
	p, err := BundledAgent(explicit)
	if err != nil {
		return ""
	}
	return p
}

// UserConfig is this node's kubelet config over the user's
// KubeletConfiguration; each setting of the user's kubestrap replaced is
// named, once per node.
func UserConfig(out io.Writer, prefix string, base *kubeletv1beta1.KubeletConfiguration,
	p Params) (*kubeletv1beta1.KubeletConfiguration, error) {
	kc, replaced, err := ConfigOver(base, p)
	for _, r := range replaced {
		fmt.Fprintf(out, "[%s] WARNING KubeletConfiguration.%s: kubestrap sets this one\n", prefix, r)
	}
	return kc, err
}

// InstallAndStart installs the bundled kubelet and (re)starts its unit; init
// and join share it.
func InstallAndStart(ctx context.Context, root node.Root, sd systemd.Manager, agentBinary string) (string, error) {
	if !systemd.Running(root) {
		return "", systemd.ErrNoSystemd
	}
	agent, err := BundledAgent(agentBinary)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, systemd.Timeout)
	defer cancel()
	return Start(ctx, root, sd, agent)
}
