// Package staticpods builds the control plane's static pods (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) as core/v1 Pods
// from the configuration, and writes them to the kubelet's manifest dir.
// Builders are pure: same config, same Pod, which golden files pin.
package staticpods

import (
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
)

// Component names; also the manifest file names without ".yaml".
const (
	Etcd              = "etcd"
	KubeAPIServer     = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
)

// Annotations that let joining control-plane nodes find the endpoints.
const (
	AnnotationEtcdClientURLs = "kubestrap.io/etcd.advertise-client-urls"
	AnnotationAPIServerEP    = "kubestrap.io/kube-apiserver.advertise-address.endpoint"
)

// All returns the four control-plane pods in start order.
func All(c *config.Init) ([]*corev1.Pod, error) {
	img, err := images.Images(&c.Cluster)
	if err != nil {
		return nil, err
	}
	return []*corev1.Pod{EtcdPod(c, img), APIServerPod(c, img), ControllerManagerPod(c, img), SchedulerPod(c, img)}, nil
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func localhost(c *config.Init) string {
	if strings.Contains(c.LocalAPIEndpoint.AdvertiseAddress, ":") {
		return "::1"
	}
	return "127.0.0.1"
}

// EtcdPod builds the stacked etcd member of a new cluster.
func EtcdPod(c *config.Init, img images.ImageSet) *corev1.Pod {
	return etcdPod(c, img, c.NodeRegistration.Name+"="+EtcdPeerURL(c), nil)
}

// EtcdMemberPod builds a stacked etcd member joining an existing cluster:
// initialCluster is the member list after this member was added, and
// initial-cluster-state=existing makes etcd take the data from its peers
// instead of starting a cluster of its own.
func EtcdMemberPod(c *config.Init, img images.ImageSet, initialCluster string) *corev1.Pod {
	return etcdPod(c, img, initialCluster, []config.Arg{{Name: "initial-cluster-state", Value: "existing"}})
}

// EtcdPeerURL and EtcdClientURL are this node's etcd URLs.
func EtcdPeerURL(c *config.Init) string {
	return "https://" + hostPort(c.LocalAPIEndpoint.AdvertiseAddress, layout.EtcdPeerPort)
}

// EtcdClientURL is this node's etcd client URL.
func EtcdClientURL(c *config.Init) string {
	return "https://" + hostPort(c.LocalAPIEndpoint.AdvertiseAddress, layout.EtcdClientPort)
}

func etcdPod(c *config.Init, img images.ImageSet, initialCluster string, more []config.Arg) *corev1.Pod {
	pki := c.Cluster.CertificatesDir
	clientURL, peerURL := EtcdClientURL(c), EtcdPeerURL(c)
	etcdPKI := filepath.Join(pki, "etcd")
	args := []config.Arg{
		{Name: "name", Value: c.NodeRegistration.Name},
		{Name: "listen-client-urls", Value: "https://" + hostPort(localhost(c), layout.EtcdClientPort) + "," + clientURL},
		{Name: "advertise-client-urls", Value: clientURL},
		{Name: "listen-peer-urls", Value: peerURL},
		{Name: "initial-advertise-peer-urls", Value: peerURL},
		{Name: "initial-cluster", Value: initialCluster},
		{Name: "data-dir", Value: c.Cluster.Etcd.Local.DataDir},
		{Name: "cert-file", Value: filepath.Join(etcdPKI, "server.crt")},
		{Name: "key-file", Value: filepath.Join(etcdPKI, "server.key")},
		{Name: "trusted-ca-file", Value: filepath.Join(etcdPKI, filepath.Base(layout.EtcdCACert))},
		{Name: "client-cert-auth", Value: "true"},
		{Name: "peer-cert-file", Value: filepath.Join(etcdPKI, "peer.crt")},
		{Name: "peer-key-file", Value: filepath.Join(etcdPKI, "peer.key")},
		{Name: "peer-trusted-ca-file", Value: filepath.Join(etcdPKI, filepath.Base(layout.EtcdCACert))},
		{Name: "peer-client-cert-auth", Value: "true"},
		{Name: "snapshot-count", Value: "10000"},
		{Name: "listen-metrics-urls", Value: "http://" + hostPort(localhost(c), layout.EtcdMetricsPort)},
		{Name: "feature-gates", Value: "InitialCorruptCheck=true"},
		{Name: "watch-progress-notify-interval", Value: "5s"},
	}
	if strings.HasPrefix(imageTag(img.Etcd), "3.5.") {
		// etcd 3.5 (Kubernetes v1.33) names these as experimental flags.
		args = args[:len(args)-2]
		args = append(args, config.Arg{Name: "experimental-initial-corrupt-check", Value: "true"},
			config.Arg{Name: "experimental-watch-progress-notify-interval", Value: "5s"})
	}
	ctr := container(Etcd, img.Etcd, c, command(Etcd, append(args, more...), c.Cluster.Etcd.Local.ExtraArgs))
	ctr.Env = c.Cluster.Etcd.Local.ExtraEnvs
	probeHost := localhost(c)
	ctr.LivenessProbe = probe(probeHost, "/livez", layout.EtcdMetricsPort, corev1.URISchemeHTTP, livenessTiming)
	ctr.ReadinessProbe = probe(probeHost, "/readyz", layout.EtcdMetricsPort, corev1.URISchemeHTTP, readinessTiming)
	ctr.StartupProbe = probe(probeHost, "/readyz", layout.EtcdMetricsPort, corev1.URISchemeHTTP, startupTiming)
	ctr.Resources = requests("100m", "100Mi")
	vols := []volume{
		{name: "etcd-data", path: c.Cluster.Etcd.Local.DataDir, typ: corev1.HostPathDirectoryOrCreate},
		{name: "etcd-certs", path: etcdPKI, typ: corev1.HostPathDirectoryOrCreate},
	}
	p := pod(Etcd, ctr, vols)
	p.Annotations = map[string]string{AnnotationEtcdClientURLs: clientURL}
	return p
}

func imageTag(ref string) string {
	if i := strings.LastIndex(ref, ":"); i >= 0 {
		return ref[i+1:]
	}
	return ""
}

// APIServerPod builds kube-apiserver, talking to the local etcd over TLS.
func APIServerPod(c *config.Init, img images.ImageSet) *corev1.Pod {
	pki, adv := c.Cluster.CertificatesDir, c.LocalAPIEndpoint.AdvertiseAddress
	port := int(c.LocalAPIEndpoint.BindPort)
	f := func(name string) string { return filepath.Join(pki, name) }
	args := []config.Arg{
		{Name: "advertise-address", Value: adv},
		{Name: "allow-privileged", Value: "true"},
		{Name: "authorization-mode", Value: "Node,RBAC"},
		{Name: "client-ca-file", Value: f(layout.CACert)},
		{Name: "enable-admission-plugins", Value: "NodeRestriction"},
		{Name: "enable-bootstrap-token-auth", Value: "true"},
		{Name: "etcd-cafile", Value: f(layout.EtcdCACert)},
		{Name: "etcd-certfile", Value: f("apiserver-etcd-client.crt")},
		{Name: "etcd-keyfile", Value: f("apiserver-etcd-client.key")},
		{Name: "etcd-servers", Value: "https://" + hostPort(localhost(c), layout.EtcdClientPort)},
		{Name: "kubelet-client-certificate", Value: f("apiserver-kubelet-client.crt")},
		{Name: "kubelet-client-key", Value: f("apiserver-kubelet-client.key")},
		{Name: "kubelet-preferred-address-types", Value: "InternalIP,ExternalIP,Hostname"},
		{Name: "proxy-client-cert-file", Value: f("front-proxy-client.crt")},
		{Name: "proxy-client-key-file", Value: f("front-proxy-client.key")},
		{Name: "requestheader-allowed-names", Value: "front-proxy-client"},
		{Name: "requestheader-client-ca-file", Value: f("front-proxy-ca.crt")},
		{Name: "requestheader-extra-headers-prefix", Value: "X-Remote-Extra-"},
		{Name: "requestheader-group-headers", Value: "X-Remote-Group"},
		{Name: "requestheader-username-headers", Value: "X-Remote-User"},
		{Name: "secure-port", Value: strconv.Itoa(port)},
		{Name: "service-account-issuer", Value: "https://kubernetes.default.svc." + c.Cluster.Networking.DNSDomain},
		{Name: "service-account-key-file", Value: f("sa.pub")},
		{Name: "service-account-signing-key-file", Value: f("sa.key")},
		{Name: "service-cluster-ip-range", Value: c.Cluster.Networking.ServiceSubnet},
		// Without it a stopping API server never ends its watches: HTTP/2
		// connections that carry one stay open until the kubelet kills it
		// 30 s later. With it they are ended (clients re-watch elsewhere)
		// and it exits once its requests are done: an upgrade's or a
		// restart's API server step is that much shorter.
		{Name: "shutdown-watch-termination-grace-period", Value: "10s"},
		{Name: "tls-cert-file", Value: f("apiserver.crt")},
		{Name: "tls-private-key-file", Value: f("apiserver.key")},
	}
	args = append(args, encryptionArgs(c)...)
	auditArgs, auditVols := auditLog(c.Cluster.APIServer.Audit)
	args = append(args, auditArgs...)
	ctr := container(KubeAPIServer, img.APIServer, c, command(KubeAPIServer, args, c.Cluster.APIServer.ExtraArgs))
	ctr.Env = c.Cluster.APIServer.ExtraEnvs
	ctr.LivenessProbe = probe(adv, "/livez", port, corev1.URISchemeHTTPS, livenessTiming)
	ctr.ReadinessProbe = probe(adv, "/readyz", port, corev1.URISchemeHTTPS, readinessTiming)
	ctr.StartupProbe = probe(adv, "/livez", port, corev1.URISchemeHTTPS, startupTiming)
	ctr.Resources = requests("250m", "")
	vols := append(caVolumes(), volume{name: "k8s-certs", path: pki, typ: corev1.HostPathDirectoryOrCreate})
	p := pod(KubeAPIServer, ctr, append(append(vols, auditVols...), extraVolumes(c.Cluster.APIServer.ExtraVolumes)...))
	p.Annotations = map[string]string{AnnotationAPIServerEP: hostPort(adv, port)}
	return p
}

// encryptionArgs point the API server at the shared encryption keys in
// the certificates dir (mounted already). Automatic reload lets a key
// rotation reach a running API server without a restart.
func encryptionArgs(c *config.Init) []config.Arg {
	if !c.Cluster.SecretsEncryption.On() {
		return nil
	}
	return []config.Arg{
		{Name: "encryption-provider-config", Value: filepath.Join(c.Cluster.CertificatesDir, layout.EncryptionConfig)},
		{Name: "encryption-provider-config-automatic-reload", Value: "true"},
	}
}

// auditLog gives the audit log's flags and its two host paths: the policy,
// read-only, and the log directory, which the API server writes and rotates.
func auditLog(a *config.Audit) ([]config.Arg, []volume) {
	if !a.On() {
		return nil, nil
	}
	n := func(v int32) string { return strconv.Itoa(int(v)) }
	args := []config.Arg{
		{Name: "audit-policy-file", Value: a.Policy()},
		{Name: "audit-log-path", Value: filepath.Join(a.LogDir, "audit.log")},
		{Name: "audit-log-maxage", Value: n(a.MaxAge)},
		{Name: "audit-log-maxbackup", Value: n(a.MaxBackup)},
		{Name: "audit-log-maxsize", Value: n(a.MaxSize)},
	}
	return args, []volume{
		{name: "audit-policy", path: a.Policy(), typ: corev1.HostPathFile},
		{name: "audit-log", path: a.LogDir, typ: corev1.HostPathDirectoryOrCreate, rw: true},
	}
}

// ControllerManagerPod builds kube-controller-manager with the bootstrap
// token controllers and node CIDR allocation that the pod network needs.
func ControllerManagerPod(c *config.Init, img images.ImageSet) *corev1.Pod {
	pki := c.Cluster.CertificatesDir
	kubeconfig := filepath.Join(layout.KubernetesDir, layout.ControllerManagerConf)
	args := []config.Arg{
		{Name: "allocate-node-cidrs", Value: "true"},
		{Name: "authentication-kubeconfig", Value: kubeconfig},
		{Name: "authorization-kubeconfig", Value: kubeconfig},
		{Name: "bind-address", Value: "127.0.0.1"},
		{Name: "client-ca-file", Value: filepath.Join(pki, layout.CACert)},
		{Name: "cluster-cidr", Value: c.Cluster.Networking.PodSubnet},
		{Name: "cluster-name", Value: c.Cluster.ClusterName},
		{Name: "cluster-signing-cert-file", Value: filepath.Join(pki, layout.CACert)},
		{Name: "cluster-signing-key-file", Value: filepath.Join(pki, layout.CAKey)},
		{Name: "controllers", Value: "*,bootstrapsigner,tokencleaner"},
		{Name: "kubeconfig", Value: kubeconfig},
		{Name: "leader-elect", Value: "true"},
		{Name: "requestheader-client-ca-file", Value: filepath.Join(pki, "front-proxy-ca.crt")},
		{Name: "root-ca-file", Value: filepath.Join(pki, layout.CACert)},
		{Name: "service-account-private-key-file", Value: filepath.Join(pki, "sa.key")},
		{Name: "service-cluster-ip-range", Value: c.Cluster.Networking.ServiceSubnet},
		{Name: "use-service-account-credentials", Value: "true"},
	}
	ctr := container(ControllerManager, img.ControllerManager, c,
		command(ControllerManager, args, c.Cluster.ControllerManager.ExtraArgs))
	ctr.Env = c.Cluster.ControllerManager.ExtraEnvs
	ctr.LivenessProbe = probe("127.0.0.1", "/healthz", layout.ControllerManagerPort, corev1.URISchemeHTTPS, livenessTiming)
	ctr.StartupProbe = probe("127.0.0.1", "/healthz", layout.ControllerManagerPort, corev1.URISchemeHTTPS, startupTiming)
	ctr.Resources = requests("200m", "")
	vols := append(caVolumes(),
		volume{name: "k8s-certs", path: pki, typ: corev1.HostPathDirectoryOrCreate},
		volume{name: "kubeconfig", path: kubeconfig, typ: corev1.HostPathFileOrCreate},
		volume{name: "flexvolume-dir", path: "/usr/libexec/kubernetes/kubelet-plugins/volume/exec",
			typ: corev1.HostPathDirectoryOrCreate, rw: true})
	return pod(ControllerManager, ctr, append(vols, extraVolumes(c.Cluster.ControllerManager.ExtraVolumes)...))
}

// SchedulerPod builds kube-scheduler.
func SchedulerPod(c *config.Init, img images.ImageSet) *corev1.Pod {
	kubeconfig := filepath.Join(layout.KubernetesDir, layout.SchedulerConf)
	args := []config.Arg{
		{Name: "authentication-kubeconfig", Value: kubeconfig},
		{Name: "authorization-kubeconfig", Value: kubeconfig},
		{Name: "bind-address", Value: "127.0.0.1"},
		{Name: "kubeconfig", Value: kubeconfig},
		{Name: "leader-elect", Value: "true"},
	}
	ctr := container(Scheduler, img.Scheduler, c, command(Scheduler, args, c.Cluster.Scheduler.ExtraArgs))
	ctr.Env = c.Cluster.Scheduler.ExtraEnvs
	ctr.LivenessProbe = probe("127.0.0.1", "/livez", layout.SchedulerPort, corev1.URISchemeHTTPS, livenessTiming)
	ctr.ReadinessProbe = probe("127.0.0.1", "/readyz", layout.SchedulerPort, corev1.URISchemeHTTPS, readinessTiming)
	ctr.StartupProbe = probe("127.0.0.1", "/livez", layout.SchedulerPort, corev1.URISchemeHTTPS, startupTiming)
	ctr.Resources = requests("100m", "")
	vols := []volume{{name: "kubeconfig", path: kubeconfig, typ: corev1.HostPathFileOrCreate}}
	return pod(Scheduler, ctr, append(vols, extraVolumes(c.Cluster.Scheduler.ExtraVolumes)...))
}

// command renders "--name=value" flags; extra args override defaults of the
// same name and new ones are appended, all sorted for a stable manifest.
func command(bin string, defaults, extra []config.Arg) []string {
	vals := map[string]string{}
	for _, a := range defaults {
		vals[a.Name] = a.Value
	}
	for _, a := range extra {
		vals[a.Name] = a.Value
	}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	out := []string{bin}
	for _, n := range names {
		out = append(out, fmt.Sprintf("--%s=%s", n, vals[n]))
	}
	return out
}

func container(name, image string, c *config.Init, cmd []string) corev1.Container {
	return corev1.Container{
		Name: name, Image: image, Command: cmd,
		ImagePullPolicy: corev1.PullPolicy(c.NodeRegistration.ImagePullPolicy),
	}
}

type probeTiming struct{ initialDelay, period, timeout, failures int32 }

// Probe timings. kubeadm waits 10 s before the first startup probe; these
// probe every second from the start and allow four minutes, so a pod is
// Ready as soon as it serves and a slow first start is not killed.
var (
	startupTiming   = probeTiming{initialDelay: 0, period: 1, timeout: 15, failures: 240}
	livenessTiming  = probeTiming{initialDelay: 10, period: 10, timeout: 15, failures: 8}
	readinessTiming = probeTiming{initialDelay: 0, period: 1, timeout: 15, failures: 3}
)

func probe(host, path string, port int, scheme corev1.URIScheme, t probeTiming) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Host: host, Path: path, Port: intstr.FromInt32(int32(port)), Scheme: scheme}},
		InitialDelaySeconds: t.initialDelay, PeriodSeconds: t.period,
		TimeoutSeconds: t.timeout, FailureThreshold: t.failures,
	}
}

func requests(cpu, mem string) corev1.ResourceRequirements {
	r := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	if mem != "" {
		r[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return corev1.ResourceRequirements{Requests: r}
}

type volume struct {
	name, path string
	typ        corev1.HostPathType
	rw         bool
	// mountPath is where the container sees it: path when empty.
	mountPath string
}

// extraVolumes are the configuration's volumes of a component.
func extraVolumes(ms []config.HostPathMount) []volume {
	out := make([]volume, 0, len(ms))
	for _, m := range ms {
		out = append(out, volume{name: m.Name, path: m.HostPath, typ: m.PathType, rw: !m.ReadOnly, mountPath: m.MountPath})
	}
	return out
}

// caVolumes mount the host's CA bundles wherever the distribution keeps
// them: Debian/Ubuntu under /etc/ssl/certs and /usr/share/ca-certificates,
// CentOS/RHEL under /etc/pki. Mounting all of them makes one manifest work
// on both; DirectoryOrCreate keeps a missing one harmless.
func caVolumes() []volume {
	d := corev1.HostPathDirectoryOrCreate
	return []volume{
		{name: "ca-certs", path: "/etc/ssl/certs", typ: d},
		{name: "etc-ca-certificates", path: "/etc/ca-certificates", typ: d},
		{name: "etc-pki-ca-trust", path: "/etc/pki/ca-trust", typ: d},
		{name: "etc-pki-tls-certs", path: "/etc/pki/tls/certs", typ: d},
		{name: "usr-local-share-ca-certificates", path: "/usr/local/share/ca-certificates", typ: d},
		{name: "usr-share-ca-certificates", path: "/usr/share/ca-certificates", typ: d},
	}
}

func pod(name string, ctr corev1.Container, vols []volume) *corev1.Pod {
	priority := int32(2000001000)
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system",
			Labels: map[string]string{"component": name, "tier": "control-plane"}},
		Spec: corev1.PodSpec{
			HostNetwork:       true,
			PriorityClassName: "system-node-critical",
			Priority:          &priority,
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		},
	}
	for _, v := range vols {
		typ := v.typ
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: v.name,
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: v.path, Type: &typ}}})
		mount := v.mountPath
		if mount == "" {
			mount = v.path
		}
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: v.name, MountPath: mount, ReadOnly: !v.rw && v.name != "etcd-data"})
	}
	p.Spec.Containers = []corev1.Container{ctr}
	return p
}
