package initflow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/encryption"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/staticpods"
)

// InitPhases is the phase tree of `kubestrap init`.
func InitPhases() []phases.Phase {
	return []phases.Phase{
		{Name: "preflight", Short: "Check the host before changing it", Run: initPhase(runPreflight)},
		certsPhase(),
		kubeconfigPhase(),
		{Name: "etcd", Short: "Write the etcd static pod manifest", Phases: []phases.Phase{
			{Name: "local", Short: "Stacked etcd on this node (data dir 0700)", Run: initPhase(runEtcdLocal)}}},
		controlPlanePhase(),
		{Name: "kubelet-start", Short: "Write the kubelet configuration and (re)start the kubelet", Run: initPhase(runKubeletStart)},
		{Name: "wait-control-plane", Short: "Wait for the kubelet, etcd, kube-apiserver, kube-controller-manager and kube-scheduler",
			Run: initPhase(runWaitControlPlane)},
		onlinePhase("upload-config", "Store the ClusterConfiguration and kubelet config in kube-system ConfigMaps", runUploadConfig),
		uploadCertsPhase(),
		onlinePhase("mark-control-plane", "Label and taint the node as a control-plane node", runMarkControlPlane),
		onlinePhase("bootstrap-token", "Create the bootstrap token, its RBAC and the signed cluster-info ConfigMap",
			runBootstrapToken),
		{Name: "kubelet-finalize", Short: "Point kubelet.conf at the rotated client certificate", Run: initPhase(runKubeletFinalize)},
		{Name: "addons", Short: "Install CoreDNS, kube-proxy and the pod network", Run: runAllAddons, Phases: addonPhases()},
		{Name: "show-join-command", Short: "Print the command that joins nodes", Run: initPhase(runShowJoinCommand)},
	}
}

func asInit(d phases.Data) (InitData, error) {
	id, ok := d.(InitData)
	if !ok {
		return nil, fmt.Errorf("internal error: init phase given %T, not init data", d)
	}
	return id, nil
}

// initPhase adapts a phase body that takes InitData.
func initPhase(fn func(ctx context.Context, d InitData) (string, error)) func(context.Context, phases.Data) (string, error) {
	return func(ctx context.Context, data phases.Data) (string, error) {
		d, err := asInit(data)
		if err != nil {
			return "", err
		}
		return fn(ctx, d)
	}
}

func runPreflight(_ context.Context, id InitData) (string, error) {
	checks := append(preflight.InitChecks(id.Env(), id.Cfg()),
		preflight.KubeletVersion(id.Env(), kubelet.AgentPath(id.AgentBinary()), id.Cfg().Cluster.KubernetesVersion))
	results, err := preflight.Run(checks, id.Ignore())
	summary := preflight.Report(id.Out(), results)
	if err != nil && id.DryRun() {
		// A dry run shows what a real run would do, including that it would stop here.
		fmt.Fprintf(id.Out(), "[preflight] dry-run: a real init would stop here:\n%s\n", err)
		return summary, nil
	}
	return summary, err
}

func certsPhase() phases.Phase {
	p := phases.Phase{Name: "certs", Short: "Generate the certificate tree (reusing valid existing certificates)",
		Run: initPhase(func(_ context.Context, id InitData) (string, error) {
			res, err := certs.New(id.Cfg(), id.CertDir()).EnsureAll(certs.Tree(id.Cfg()))
			if err != nil {
				return certs.Summarize(res, id.CertDir()), err
			}
			msg := certs.Summarize(res, id.CertDir())
			enc, err := ensureEncryptionConfig(id)
			if enc != "" {
				msg += "; " + enc
			}
			return msg, err
		})}
	// The children exist for `phase certs/<name>` and --skip-phases; they are
	// built from a tree of placeholder config, since names do not depend on it.
	for _, s := range certs.Tree(placeholderInit()) {
		name := s.Name
		p.Phases = append(p.Phases, phases.Phase{Name: name, Short: "Generate " + s.BaseName + ".crt/.key",
			Run: initPhase(func(_ context.Context, id InitData) (string, error) {
				tree := certs.Tree(id.Cfg())
				for _, spec := range tree {
					if spec.Name == name {
						r, err := certs.New(id.Cfg(), id.CertDir()).Ensure(spec, tree)
						return string(r.Action) + " " + r.Path, err
					}
				}
				return "", fmt.Errorf("no certificate %s", name)
			})})
	}
	p.Phases = append(p.Phases, phases.Phase{Name: certs.SAKeyName, Short: "Generate the service-account key pair sa.key/sa.pub",
		Run: initPhase(func(_ context.Context, id InitData) (string, error) {
			r, err := certs.New(id.Cfg(), id.CertDir()).EnsureServiceAccountKey()
			return string(r.Action) + " " + r.Path, err
		})})
	p.Phases = append(p.Phases, phases.Phase{Name: "encryption-config",
		Short: "Generate the keys that encrypt Secrets at rest (" + layout.EncryptionConfig + ")",
		Run:   initPhase(func(_ context.Context, id InitData) (string, error) { return ensureEncryptionConfig(id) })})
	return p
}

// ensureEncryptionConfig makes the Secrets' encryption keys once and keeps
// them. With encryption off it refuses to go on past keys that exist: the
// cluster's Secrets may be encrypted with them, and an API server without
// them could read none.
func ensureEncryptionConfig(id InitData) (string, error) {
	c := id.Cfg().Cluster
	path := filepath.Join(id.CertDir(), layout.EncryptionConfig)
	if !c.SecretsEncryption.On() {
		if node.Exists(path) {
			return "", fmt.Errorf("secretsEncryption is off in the configuration, but %s exists: the cluster's Secrets "+
				"may be encrypted with its keys, which an API server without it cannot read; keep secretsEncryption on "+
				"(the default), or move the file away if this cluster never used it", path)
		}
		return "", nil
	}
	created, err := encryption.Ensure(path, c.SecretsEncryption.Provider, time.Now())
	if err != nil {
		return "", err
	}
	if created {
		return "generated " + path, nil
	}
	return "reused " + path, nil
}

// needEarlier names the phase that makes missing encryption keys.
func needEarlier(err error, phase string) error {
	if errors.Is(err, staticpods.ErrNoEncryptionKeys) {
		return fmt.Errorf("%w: %w: run `kubestrap init phase %s` first", phases.ErrNeedsEarlierPhase, err, phase)
	}
	return err
}

func kubeconfigPhase() phases.Phase {
	p := phases.Phase{Name: "kubeconfig", Short: "Write the kubeconfig files", Run: initPhase(func(_ context.Context, id InitData) (string, error) {
		specs := certs.Kubeconfigs(id.Cfg())
		res := make([]certs.Result, len(specs))
		fns := make([]func() error, len(specs))
		for i, k := range specs {
			fns[i] = func() (err error) { res[i], err = ensureKubeconfig(id, k); return err }
		}
		err := apply.Concurrently(fns...)
		return certs.Summarize(res, id.KubernetesDir()), err
	})}
	for _, k := range certs.Kubeconfigs(placeholderInit()) {
		name := k.Name
		p.Phases = append(p.Phases, phases.Phase{Name: name, Short: "Write " + k.File, Run: initPhase(func(_ context.Context, id InitData) (string, error) {
			for _, spec := range certs.Kubeconfigs(id.Cfg()) {
				if spec.Name == name {
					r, err := ensureKubeconfig(id, spec)
					return string(r.Action) + " " + r.Path, err
				}
			}
			return "", fmt.Errorf("no kubeconfig %s", name)
		})})
	}
	return p
}

func ensureKubeconfig(id InitData, k certs.KubeconfigSpec) (certs.Result, error) {
	return certs.New(id.Cfg(), id.CertDir()).EnsureKubeconfig(id.KubernetesDir(), k, id.Cfg().Cluster.ClusterName)
}

func controlPlanePhase() phases.Phase {
	names := []string{staticpods.KubeAPIServer, staticpods.ControllerManager, staticpods.Scheduler}
	p := phases.Phase{Name: "control-plane", Short: "Write the control-plane static pod manifests",
		Run: func(ctx context.Context, d phases.Data) (string, error) {
			var lines []string
			for _, n := range names {
				msg, err := manifestRun(n)(ctx, d)
				if err != nil {
					return "", err
				}
				lines = append(lines, msg)
			}
			return strings.Join(lines, "; "), nil
		}}
	short := map[string]string{staticpods.KubeAPIServer: "apiserver", staticpods.ControllerManager: "controller-manager",
		staticpods.Scheduler: "scheduler"}
	for _, n := range names {
		p.Phases = append(p.Phases, phases.Phase{Name: short[n], Short: "Write " + n + ".yaml", Run: manifestRun(n)})
	}
	return p
}

// manifestRun writes one static pod manifest.
func manifestRun(name string) func(context.Context, phases.Data) (string, error) {
	return initPhase(func(_ context.Context, id InitData) (string, error) {
		pods, err := staticpods.All(id.Cfg())
		if err != nil {
			return "", err
		}
		for _, p := range pods {
			if p.Name != name {
				continue
			}
			if name == staticpods.KubeAPIServer {
				if _, err := staticpods.PrepareAPIServer(&id.Cfg().Cluster, id.CertDir(), id.HostPath); err != nil {
					return "", needEarlier(err, "certs/encryption-config")
				}
			}
			path, changed, err := staticpods.Write(id.ManifestDir(), p)
			if err != nil {
				return "", err
			}
			if !changed {
				return "unchanged " + path, nil
			}
			return "wrote " + path, nil
		}
		return "", fmt.Errorf("no static pod %s", name)
	})
}

func runKubeletStart(ctx context.Context, id InitData) (string, error) {
	c := id.Cfg()
	e := id.Env()
	params, err := kubelet.HostParams(e, &c.Cluster, filepath.Join(c.Cluster.CertificatesDir, layout.CACert),
		c.NodeRegistration.CRISocket)
	if err != nil {
		return "", err
	}
	flags := kubelet.Flags(c.LocalAPIEndpoint.AdvertiseAddress, c.NodeRegistration.Name, c.NodeRegistration.KubeletExtraArgs)
	kc, err := kubelet.UserConfig(id.Out(), "kubelet-start", c.Cluster.KubeletConfiguration, params)
	if err != nil {
		return "", err
	}
	if err := kubelet.WriteConfig(id.KubeletDir(), kc, flags); err != nil {
		return "", err
	}
	msg := fmt.Sprintf("wrote %s (cgroupDriver %s)", filepath.Join(id.KubeletDir(), layout.KubeletConfigFile),
		params.CgroupDriver)
	if params.CgroupV1 {
		fmt.Fprintln(id.Out(), "[kubelet-start] WARNING cgroup v1 host: setting failCgroupV1: false (deprecated in Kubernetes v1.35)")
	}
	if id.DryRun() {
		return msg + "; dry-run: would install the bundled kubelet and start kubelet.service", nil
	}
	started, err := kubelet.InstallAndStart(ctx, e.Root, id.Systemd(), id.AgentBinary())
	return msg + "; " + started, err
}

func addonPhases() []phases.Phase {
	return []phases.Phase{
		onlinePhase("coredns", "Install CoreDNS", runCoreDNS),
		onlinePhase("kube-proxy", "Install kube-proxy", runKubeProxy),
		onlinePhase("pod-network", "Install the pod network (flannel by default) and this node's CNI config", runPodNetwork),
	}
}

// runAllAddons installs the addons at once: they are independent.
func runAllAddons(ctx context.Context, data phases.Data) (string, error) {
	ps := addonPhases()
	msgs := make([]string, len(ps))
	fns := make([]func() error, len(ps))
	for i, p := range ps {
		fns[i] = func() (err error) { msgs[i], err = p.Run(ctx, data); return err }
	}
	err := apply.Concurrently(fns...)
	return strings.Join(msgs, "; "), err
}

// runEtcdLocal makes etcd's data dir 0700 before the kubelet would create
// it 0755 (HostPathDirectoryOrCreate): it holds every Secret in the
// cluster. An existing dir is tightened, never loosened.
func runEtcdLocal(ctx context.Context, d InitData) (string, error) {
	dir := d.HostPath(d.Cfg().Cluster.Etcd.Local.DataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	return manifestRun(staticpods.Etcd)(ctx, d)
}
