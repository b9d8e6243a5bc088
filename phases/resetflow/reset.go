package resetflow

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/components/addons"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/join"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/snapshot"
	"github.com/kubestrap/kubestrap/staticpods"
	"github.com/kubestrap/kubestrap/systemd"
)

// Timeouts of reset's calls; variables so that tests shorten them.
var (
	// EtcdTimeout bounds the etcd membership calls.
	EtcdTimeout = 30 * time.Second
	// CRITimeout bounds each CRI call (stopping a pod waits for its
	// containers' grace period).
	CRITimeout = 60 * time.Second
)

// ResetPhases is the phase tree of `kubestrap reset`. The order matters:
// the member leaves etcd while its peers still answer; the kubelet stops
// before its pods go (or it would restart them); pods go before their
// mounts, and kube-proxy and flanneld before their iptables chains.
func ResetPhases() []phases.Phase {
	return []phases.Phase{
		{Name: "remove-etcd-member", Short: "Remove this node's etcd member through the other members (refused when " +
			"the rest would lose quorum, unless -f)", Run: resetPhase(runRemoveEtcdMember)},
		{Name: "delete-node", Short: "Delete this node's Node object when an API server answers", Run: resetPhase(runDeleteNode)},
		{Name: "stop-kubelet", Short: "Stop and disable the kubelet, remove its unit and binary", Run: resetPhase(runStopKubelet)},
		{Name: "timers", Short: "Disable and remove kubestrap's timers (certificate renewal, etcd snapshots)",
			Run: resetPhase(runTimers)},
		{Name: "remove-pods", Short: "Stop and remove every pod sandbox and container through the CRI", Run: resetPhase(runRemovePods)},
		{Name: "unmount", Short: "Unmount everything below " + layout.KubeletDir + ", deepest first", Run: resetPhase(runUnmount)},
		{Name: "remove-files", Short: "Remove kubestrap's files in " + layout.KubernetesDir + ", " + layout.KubeletDir +
			" and the etcd data dir", Run: resetPhase(runRemoveFiles)},
		{Name: "network", Short: "Remove the pod network: CNI config, links, iptables chains, IPVS", Phases: []phases.Phase{
			{Name: "cni-config", Short: "Remove kubestrap's CNI conflist, flannel's subnet.env and the IP allocations",
				Run: resetPhase(runCNIConfig)},
			// ipvs before links: kube-ipvs0's addresses say which services
			// are kube-proxy's.
			{Name: "ipvs", Short: "Delete kube-proxy's IPVS services (on kube-ipvs0 or in the Service CIDR), only if it " +
				"ran in ipvs mode", Run: resetPhase(runIPVS)},
			{Name: "links", Short: "Delete the cni0, flannel.1 and kube-ipvs0 links", Run: resetPhase(runLinks)},
			{Name: "iptables", Short: "Delete the KUBE-* and FLANNEL* chains and the jumps to them", Run: resetPhase(runIPTables)},
		}},
		{Name: "preflight-fixes", Short: "List the host changes of `preflight --fix`, which reset leaves, with how to revert them",
			Run: resetPhase(runPreflightFixes)},
	}
}

func resetPhase(fn func(ctx context.Context, d ResetData) (string, error)) func(context.Context, phases.Data) (string, error) {
	return func(ctx context.Context, data phases.Data) (string, error) {
		d, ok := data.(ResetData)
		if !ok {
			return "", fmt.Errorf("internal error: reset phase given %T, not reset data", data)
		}
		return fn(ctx, d)
	}
}

// EtcdRefusedError says reset would not remove this node's etcd member
// safely; -f resets the node anyway.
type EtcdRefusedError struct{ Reason string }

func (e *EtcdRefusedError) Error() string {
	return e.Reason + ": reset stopped before changing this node; once etcd is healthy run `kubestrap reset` again, " +
		"or pass -f to reset the node anyway"
}

func runRemoveEtcdMember(ctx context.Context, d ResetData) (string, error) {
	le, err := d.LocalEtcd()
	if err != nil && !d.Force() {
		return "", fmt.Errorf("%w (-f resets the node without removing its member)", err)
	}
	if le == nil && err == nil {
		return "no etcd member on this node", nil
	}
	if d.DryRun() && le != nil {
		return "dry-run: would remove etcd member " + le.Name + " through the other members", nil
	}
	if d.DryRun() {
		return "dry-run: would leave this node's etcd member (-f): " + err.Error(), nil
	}
	msg := ""
	if err == nil {
		msg, err = removeEtcdMember(ctx, d)
	}
	var refused *EtcdRefusedError
	if err != nil && d.Force() && (errors.As(err, &refused) || le == nil) && ctx.Err() == nil {
		what := "this node's etcd member"
		if le != nil {
			what = "etcd member " + le.Name + " (" + le.PeerURL + ")"
		}
		d.Report().Leave(cleanup.Left{What: what, Why: err.Error() + " (-f)", HowToRevert: "on a healthy control-plane " +
			"node: `etcdctl member list`, then `etcdctl member remove ID`"})
		return "left " + what + " in the etcd cluster (-f)", nil
	}
	return msg, err
}

func runDeleteNode(ctx context.Context, d ResetData) (string, error) {
	name := d.NodeName()
	if d.DryRun() {
		return "dry-run: would delete Node " + name + " when an API server answers", nil
	}
	howTo := "kubectl delete node " + name
	leave := func(why string) (string, error) {
		d.Report().Leave(cleanup.Left{What: "Node " + name, Why: why, HowToRevert: howTo})
		return "left Node " + name + ": delete it with " + howTo, nil
	}
	root := d.Env().Root
	if !root.Exists(layout.AdminConfPath) && !root.Exists(layout.KubeletConfPath) {
		return "no kubeconfig on this node: it is not part of a cluster", nil
	}
	c, err := d.Client()
	if err != nil {
		return leave(err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = c.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		// An API server answered. Forget this host's identity too, so that
		// it may join again under another name without being taken for a
		// clone of itself (best effort: nodes may patch the registry).
		if n, uerr := join.Unregister(ctx, c, name); uerr == nil && n > 0 {
			d.Report().Removed(fmt.Sprintf("%d identity entries of %s in kube-system/%s", n, name, join.IdentityRegistry))
		}
		forgetClaims(ctx, d, c, name)
	}
	switch {
	case err == nil:
		d.Report().Removed("Node " + name)
		return "deleted Node " + name, nil
	case apierrors.IsNotFound(err):
		return "Node " + name + " is not in the cluster", nil
	case apierrors.IsForbidden(err):
		return leave("a node may not delete its own Node object (Node authorizer); " + err.Error())
	}
	return leave("no API server answered: " + err.Error())
}

func runStopKubelet(ctx context.Context, d ResetData) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, systemd.Timeout)
	defer cancel()
	root := d.Env().Root
	inst, err := kubelet.Inspect(ctx, root, d.Systemd())
	if errors.Is(err, kubelet.ErrNotInstalled) {
		return err.Error(), nil
	} else if err != nil {
		return "", err
	}
	if d.DryRun() {
		if inst.Running {
			d.Report().Removed("running " + layout.KubeletUnit)
		}
		d.Report().Removed(inst.Files...)
		return fmt.Sprintf("dry-run: would stop %s (%s), disable it and remove %s", layout.KubeletUnit, inst.State,
			strings.Join(inst.Files, ", ")), nil
	}
	did, err := kubelet.Uninstall(ctx, root, d.Systemd(), inst, cleanup.Files{Root: root, Report: d.Report()}.Remove)
	if inst.Running && len(did) > 0 { // the stop, Uninstall's first step, succeeded
		d.Report().Removed("running " + layout.KubeletUnit)
	}
	if err != nil {
		return "", err
	}
	if len(inst.Files) > 0 {
		did = append(did, "removed "+strings.Join(inst.Files, ", "))
	}
	if len(did) == 0 {
		return layout.KubeletUnit + " is " + inst.State + " and not installed: nothing to do", nil
	}
	return strings.Join(did, "; "), nil
}

func runRemovePods(ctx context.Context, d ResetData) (string, error) {
	ep := d.CRIEndpoint()
	leave := func(err error) (string, error) {
		d.Report().Leave(cleanup.Left{What: "pods in the container runtime at " + ep, Why: "the CRI did not answer: " + err.Error(),
			HowToRevert: "start containerd, then `kubestrap reset phase remove-pods`"})
		return "left the pods: the runtime at " + ep + " did not answer", nil
	}
	rt, closer, err := d.Env().CRI(ep)
	if err != nil {
		return leave(err)
	}
	defer func() { _ = closer.Close() }()
	removed, err := cleanup.RemovePods(ctx, rt, CRITimeout, d.DryRun())
	d.Report().Removed(removed...)
	if c := status.Code(err); len(removed) == 0 && (c == codes.Unavailable || c == codes.DeadlineExceeded) {
		return leave(err)
	}
	if err != nil {
		return "", fmt.Errorf("%w (`crictl pods` lists them)", err)
	}
	if len(removed) == 0 {
		return "no pods in the runtime", nil
	}
	return fmt.Sprintf("%s%d pods and containers removed", dryRunPrefix(d), len(removed)), nil
}

func dryRunPrefix(d ResetData) string {
	if d.DryRun() {
		return "dry-run: would be "
	}
	return ""
}

func runUnmount(_ context.Context, d ResetData) (string, error) {
	root := d.Env().Root
	mounts, err := cleanup.MountsBelow(root, layout.KubeletDir)
	if err != nil {
		return "", err
	}
	// The kubelet binds its dir onto itself (to make it rshared); that
	// mount outlives it and is not the host's as it was before init. A
	// volume an admin mounted there is not such a bind, and stays.
	if self, err := cleanup.SelfBindMount(root, layout.KubeletDir); err != nil {
		return "", err
	} else if self {
		mounts = append(mounts, layout.KubeletDir)
	}
	if !d.DryRun() {
		if mounts, err = cleanup.Unmount(root, mounts, d.Env().Unmount); err != nil && len(mounts) == 0 {
			return "", err
		}
	}
	for _, m := range mounts {
		d.Report().Removed("mount " + m)
	}
	if err != nil {
		return "", fmt.Errorf("%w (unmounted %d)", err, len(mounts))
	}
	if len(mounts) == 0 {
		return "nothing mounted below " + layout.KubeletDir, nil
	}
	return fmt.Sprintf("%s%d mounts below %s unmounted", dryRunPrefix(d), len(mounts), layout.KubeletDir), nil
}

// kubernetesDirOwned is what kubestrap writes into /etc/kubernetes; other
// files there (an admin's static pods, say) stay.
func kubernetesDirOwned() cleanup.Owned {
	var manifests []string
	for _, c := range staticpods.Components() {
		manifests = append(manifests, c+".yaml")
	}
	return cleanup.Owned{
		Entries: []string{layout.AdminConf, layout.SuperAdminConf, layout.KubeletConf, layout.ControllerManagerConf,
			layout.SchedulerConf, layout.BootstrapKubeletConf, layout.InitRecord, layout.JoinRecord,
			filepath.Base(layout.AuditPolicyPath)},
		Dirs: map[string]cleanup.Owned{layout.ManifestsSubdir: {Entries: manifests},
			layout.PKISubdir: cleanup.CertificatesDirOwned()},
	}
}

func runRemoveFiles(ctx context.Context, d ResetData) (string, error) {
	// Read where things are before the files that say so go.
	dataDir, certDir := d.EtcdDataDir(), d.CertDir()
	root := d.Env().Root
	f := cleanup.Files{Root: root, DryRun: d.DryRun(), Report: d.Report()}
	before := len(d.Report().Snapshot().Removed)
	var errs []error
	mounts, err := cleanup.MountsBelow(root, layout.KubeletDir)
	switch {
	case err != nil:
		errs = append(errs, err)
	case len(mounts) > 0 && !d.DryRun():
		// Removing it would delete the contents of pod volumes.
		d.Report().Leave(cleanup.Left{What: layout.KubeletDir, Why: "still mounted below it: " + strings.Join(mounts, ", "),
			HowToRevert: "`kubestrap reset phase unmount`, then `kubestrap reset phase remove-files`"})
	default:
		errs = append(errs, f.Remove(layout.KubeletDir))
	}
	if !keepRegisteredData(ctx, d, dataDir) {
		errs = append(errs, cleanOwnedDir(dataDir, func() error { _, err := f.CleanEtcdDataDir(dataDir); return err }))
	}
	// The default certificates dir is cleaned with /etc/kubernetes below.
	if certDir != layout.PKIDir {
		errs = append(errs, cleanOwnedDir(certDir, func() error {
			_, err := f.Clean(certDir, cleanup.CertificatesDirOwned())
			return err
		}))
	}
	_, err = f.Clean(layout.KubernetesDir, kubernetesDirOwned())
	errs = append(errs, err, f.Remove(layout.CertificateKeyFile))
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	n := len(d.Report().Snapshot().Removed) - before
	if n == 0 {
		return "no kubestrap files on this node", nil
	}
	return fmt.Sprintf("%s%d paths removed (the etcd data dir is %s)", dryRunPrefix(d), n, dataDir), nil
}

// cleanOwnedDir cleans a configured directory by kubestrap's own entries
// only (anything else there stays and is reported), after refusing one
// whose contents are plainly not only kubestrap's (/, /var/lib, /home/x).
func cleanOwnedDir(dir string, clean func() error) error {
	if err := cleanup.CheckDataDir(dir); err != nil {
		return err
	}
	return clean()
}

// CNI state of kubestrap's pod network besides the conflist: flannel's
// subnet lease file, and host-local's and libcni's records of the network
// (named "kubestrap" in the conflist), which would otherwise hand out stale
// addresses after a new init.
const (
	flannelRunDir  = "/run/flannel"
	cniNetworksDir = "/var/lib/cni/networks/kubestrap"
	cniResultsDir  = "/var/lib/cni/results"
)

func runCNIConfig(_ context.Context, d ResetData) (string, error) {
	root := d.Env().Root
	f := cleanup.Files{Root: root, DryRun: d.DryRun(), Report: d.Report()}
	paths := []string{filepath.Join(d.CNIConfDir(), addons.ConflistName), flannelRunDir, cniNetworksDir}
	results, _ := filepath.Glob(root.Path(filepath.Join(cniResultsDir, "kubestrap-*")))
	for _, r := range results {
		paths = append(paths, filepath.Join(cniResultsDir, filepath.Base(r)))
	}
	before := len(d.Report().Snapshot().Removed)
	var errs []error
	for _, p := range paths {
		errs = append(errs, f.Remove(p))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	if n := len(d.Report().Snapshot().Removed) - before; n > 0 {
		return fmt.Sprintf("%s%d CNI paths removed", dryRunPrefix(d), n), nil
	}
	return "no CNI config of kubestrap's", nil
}

// podNetworkLinks are the links of kubestrap's pod network (the bridge
// and flannel's vxlan device) and kube-proxy's IPVS dummy.
var podNetworkLinks = []string{"cni0", "flannel.1", "kube-ipvs0"}

func runLinks(_ context.Context, d ResetData) (string, error) {
	gone, err := cleanup.DeleteLinks(d.Env().Links, podNetworkLinks, d.DryRun())
	for _, l := range gone {
		d.Report().Removed("link " + l)
	}
	if err != nil {
		return "", err
	}
	if len(gone) == 0 {
		return "no pod network links", nil
	}
	return dryRunPrefix(d) + "deleted links " + strings.Join(gone, ", "), nil
}

func runIPTables(_ context.Context, d ResetData) (string, error) {
	var summary []string
	var errs []error
	for _, v6 := range []bool{false, true} {
		cmd := map[bool]string{false: "iptables", true: "ip6tables"}[v6]
		ipt, err := d.Env().IPTables(v6)
		if err != nil {
			if !v6 {
				d.Report().Leave(cleanup.Left{What: "iptables chains KUBE-* and FLANNEL*", Why: "iptables: " + err.Error(),
					HowToRevert: "iptables-save | grep -E 'KUBE-|FLANNEL' shows them; delete them with iptables -F/-X"})
			}
			continue
		}
		res, err := cleanup.RemoveChains(ipt, []string{"filter", "nat", "mangle"}, []string{"KUBE-", "FLANNEL"}, d.DryRun())
		for _, r := range res {
			d.Report().Removed(cmd + " " + r.String())
			summary = append(summary, fmt.Sprintf("%s %s: %d chains", cmd, r.Table, len(r.Chains)))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cmd, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	summary = append(summary, removeUnusedTables(d)...)
	if len(summary) == 0 {
		return "no KUBE-* or FLANNEL* chains", nil
	}
	return dryRunPrefix(d) + "removed " + strings.Join(summary, ", "), nil
}

// removeUnusedTables deletes the iptables-nft tables left empty once the
// chains are gone, so that iptables-save shows what it did before init.
// Failing that is no reason to fail the reset: the tables hold nothing.
func removeUnusedTables(d ResetData) []string {
	nft := d.Env().NFTables
	if nft == nil {
		return nil
	}
	gone, err := cleanup.RemoveUnusedTables(nft, d.DryRun())
	var out []string
	for _, t := range gone {
		d.Report().Removed("empty nftables table " + t.String() + " (iptables-nft's)")
		out = append(out, "empty table "+t.String())
	}
	if err != nil {
		d.Report().Leave(cleanup.Left{What: "empty iptables tables", Why: err.Error(),
			HowToRevert: "harmless; `nft delete table ip filter` (and nat, mangle) removes them"})
	}
	return out
}

// runIPVS deletes kube-proxy's IPVS virtual services one by one: those on
// its kube-ipvs0 link or inside the Service CIDR, and only when kube-proxy
// ran in ipvs mode (kube-ipvs0 exists). Anything else — a keepalived/LVS
// virtual server for the API VIP — is not kube-proxy's and stays; kubeadm
// leaves IPVS alone altogether.
func runIPVS(_ context.Context, d ResetData) (string, error) {
	all, _, err := cleanup.ReadIPVSServices(d.Env().Root)
	if err != nil {
		return "", err
	}
	addrs, err := d.Env().LinkAddrs(cleanup.KubeProxyLink)
	if err != nil {
		return "", err
	}
	if len(addrs) == 0 {
		return "kube-proxy did not run in ipvs mode (no " + cleanup.KubeProxyLink + "): IPVS left alone", nil
	}
	cidrs, err := cleanup.ParseServiceCIDRs(d.ServiceSubnet())
	if err != nil {
		return "", err
	}
	svcs := cleanup.KubeProxyServices(all, cidrs, addrs)
	if len(svcs) == 0 {
		return "no IPVS services of kube-proxy's", nil
	}
	what := fmt.Sprintf("%d IPVS virtual services of kube-proxy's", len(svcs))
	if _, err := d.Env().LookPath("ipvsadm"); err != nil {
		d.Report().Leave(cleanup.Left{What: what, Why: "ipvsadm is not installed",
			HowToRevert: "install ipvsadm, then `ipvsadm -D -t ADDR:PORT` for each (`ipvsadm -Ln` lists them)"})
		return "left " + what + ": no ipvsadm", nil
	}
	for _, s := range svcs {
		if !d.DryRun() {
			if out, err := d.Env().Run("ipvsadm", s.DeleteArgs()...); err != nil {
				return "", fmt.Errorf("ipvsadm %s: %w: %s", strings.Join(s.DeleteArgs(), " "), err, out)
			}
		}
		d.Report().Removed("IPVS service " + s.String())
	}
	return dryRunPrefix(d) + "deleted " + what + fmt.Sprintf(" (%d others left)", len(all)-len(svcs)), nil
}

// runPreflightFixes reports what `preflight --fix` changed on this host:
// reset leaves it, since containerd and the kernel serve more than
// Kubernetes, and says how to revert each change from its backup.
func runPreflightFixes(_ context.Context, d ResetData) (string, error) {
	root := d.Env().Root
	oldest := func(p string) string {
		m, _ := filepath.Glob(root.Path(p) + ".kubestrap-backup-*")
		if len(m) == 0 {
			return ""
		}
		sort.Strings(m)
		return p + strings.TrimPrefix(m[0], root.Path(p))
	}
	restore := func(p, otherwise string) string {
		if b := oldest(p); b != "" {
			return "cp -p " + b + " " + p
		}
		return otherwise
	}
	var left []cleanup.Left
	if b := oldest(preflight.ContainerdConfigPath); b != "" {
		left = append(left, cleanup.Left{What: preflight.ContainerdConfigPath + " as `kubestrap preflight --fix` edited it",
			Why:         "containerd serves more than Kubernetes; reset leaves its configuration",
			HowToRevert: "cp -p " + b + " " + preflight.ContainerdConfigPath + " && systemctl restart containerd"})
	}
	if root.Exists(preflight.SysctlFile) {
		left = append(left, cleanup.Left{What: preflight.SysctlFile, Why: "kernel settings (bridge netfilter, ip_forward, inotify) " +
			"that other software may rely on", HowToRevert: restore(preflight.SysctlFile, "rm "+preflight.SysctlFile) +
			" && sysctl --system (live values stay until set back or a reboot)"})
	}
	if root.Exists(preflight.ModulesFile) {
		left = append(left, cleanup.Left{What: preflight.ModulesFile, Why: "loads overlay and br_netfilter at boot",
			HowToRevert: restore(preflight.ModulesFile, "rm "+preflight.ModulesFile) +
				" (the modules stay loaded until `modprobe -r br_netfilter` or a reboot)"})
	}
	if b := oldest("/etc/fstab"); b != "" {
		left = append(left, cleanup.Left{What: "swap off (its /etc/fstab lines commented out)", Why: "the kubelet needs swap off",
			HowToRevert: "cp -p " + b + " /etc/fstab && swapon -a"})
	}
	for _, l := range left {
		d.Report().Leave(l)
	}
	if len(left) == 0 {
		return "no changes of `preflight --fix` on this node", nil
	}
	return fmt.Sprintf("left %d change(s) of `preflight --fix` (the summary says how to revert them)", len(left)), nil
}

// kubestrapTimers are the timer/service pairs day-2 commands install; a
// reset node must not keep renewing certificates or saving snapshots of a
// cluster it left.
var kubestrapTimers = [][2]string{{layout.RenewTimerUnit, layout.RenewServiceUnit}, {snapshot.TimerName, snapshot.ServiceName}}

func runTimers(ctx context.Context, d ResetData) (string, error) {
	root := d.Env().Root
	var timers, files []string
	for _, t := range kubestrapTimers {
		for _, u := range t {
			if p := filepath.Join(layout.SystemdUnitDir, u); root.Exists(p) {
				files = append(files, p)
				if u == t[0] {
					timers = append(timers, u)
				}
			}
		}
	}
	if len(files) == 0 {
		return "no kubestrap timers", nil
	}
	if d.DryRun() {
		return "dry-run: would disable and remove " + strings.Join(files, ", "), nil
	}
	if len(timers) > 0 && systemd.Running(root) {
		if err := d.Systemd().DisableNow(ctx, timers...); err != nil {
			return "", fmt.Errorf("disable %s: %w", strings.Join(timers, ", "), err)
		}
	}
	f := cleanup.Files{Root: root, Report: d.Report()}
	for _, p := range files {
		if err := f.Remove(p); err != nil {
			return "", err
		}
	}
	if systemd.Running(root) {
		if err := d.Systemd().Reload(ctx); err != nil {
			return "", fmt.Errorf("systemd daemon-reload: %w", err)
		}
	}
	return "disabled and removed " + strings.Join(files, ", "), nil
}

// forgetClaims deletes this host's identity claims for name. Only admins
// may (a node cannot touch another's claims, so neither its own): on a
// worker they are reported as left, with the command an admin runs.
func forgetClaims(ctx context.Context, d ResetData, c kubernetes.Interface, name string) {
	data, ok, err := join.ReadRegistry(ctx, c)
	if err != nil || !ok {
		return
	}
	id, err := join.HostIdentity(d.Env())
	if err != nil {
		return
	}
	n, err := join.Unclaim(ctx, c, join.Salt(data), name, id)
	if n > 0 {
		d.Report().Removed(fmt.Sprintf("%d identity claims of %s in namespace %s", n, name, join.ClaimNamespace))
	}
	if apierrors.IsForbidden(err) {
		d.Report().Leave(cleanup.Left{What: "the identity claims of " + name + " in namespace " + join.ClaimNamespace,
			Why: "only an admin may delete them (this node's kubeconfig may not)",
			HowToRevert: "not needed to join again as " + name + "; to join this host under another name, an admin " +
				"deletes the ConfigMaps in " + join.ClaimNamespace + " whose owner is this node's"})
	}
}
