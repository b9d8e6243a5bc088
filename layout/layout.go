// Package layout is the node's file and port layout: every path and port
// kubestrap writes or checks, and the preflight check names derived from
// them, so writers, preflight and resume logic agree.
//
// It imports nothing of kubestrap, so that every package may use it.
// Configurable values keep their defaults in package config (the etcd data
// dir, /var/lib/etcd; the certificates dir and API server port, whose
// defaults are PKIDir and APIServerPort).
package layout

import (
	"strconv"
	"strings"
)

// Directories. The kubeconfigs, manifests/ and pki/ live under
// KubernetesDir on every node; the static pods reference these paths.
const (
	KubernetesDir = "/etc/kubernetes"
	// ManifestsSubdir and PKISubdir are the names of ManifestDir and PKIDir
	// under KubernetesDir (or under a dry run's stand-in for it).
	ManifestsSubdir = "manifests"
	PKISubdir       = "pki"
	// ManifestDir is the kubelet's static pod dir.
	ManifestDir = KubernetesDir + "/" + ManifestsSubdir
	// PKIDir is the default certificatesDir.
	PKIDir = KubernetesDir + "/" + PKISubdir
	// CACertPath is the default caCertPath of a join: the cluster CA.
	CACertPath = PKIDir + "/" + CACert

	KubeletDir    = "/var/lib/kubelet"
	KubeletPKIDir = KubeletDir + "/pki"
)

// PKI file names, relative to the certificates dir (PKIDir by default).
const (
	CACert                    = "ca.crt"
	CAKey                     = "ca.key"
	EtcdCACert                = "etcd/ca.crt"
	EtcdCAKey                 = "etcd/ca.key"
	EtcdHealthcheckClientCert = "etcd/healthcheck-client.crt"
	EtcdHealthcheckClientKey  = "etcd/healthcheck-client.key"
	APIServerEtcdClientCert   = "apiserver-etcd-client.crt"
	APIServerEtcdClientKey    = "apiserver-etcd-client.key"
	// EncryptionConfig is the API server's EncryptionConfiguration (0600):
	// the keys of Secrets at rest, shared by every control plane.
	EncryptionConfig = "encryption-config.yaml"
)

// AuditPolicyPath is the audit policy kubestrap writes when the
// configuration names none.
const AuditPolicyPath = KubernetesDir + "/audit-policy.yaml"

// Kubeconfig file names under KubernetesDir.
const (
	AdminConf             = "admin.conf"
	SuperAdminConf        = "super-admin.conf"
	KubeletConf           = "kubelet.conf"
	ControllerManagerConf = "controller-manager.conf"
	SchedulerConf         = "scheduler.conf"
	// BootstrapKubeletConf holds a joining kubelet's bootstrap token.
	BootstrapKubeletConf = "bootstrap-kubelet.conf"
)

// Kubeconfig paths on a node.
const (
	AdminConfPath            = KubernetesDir + "/" + AdminConf
	KubeletConfPath          = KubernetesDir + "/" + KubeletConf
	BootstrapKubeletConfPath = KubernetesDir + "/" + BootstrapKubeletConf
)

// The kubelet's files.
const (
	KubeletBinary     = "/usr/local/bin/kubelet"
	KubeletUnit       = "kubelet.service"
	KubeletUnitPath   = "/etc/systemd/system/" + KubeletUnit
	KubeletDropInPath = "/etc/systemd/system/" + KubeletUnit + ".d/10-kubestrap.conf"
	// KubeletConfigFile and KubeletFlagsFile are under KubeletDir.
	KubeletConfigFile = "config.yaml"
	KubeletFlagsFile  = "kubestrap-flags.env"
	// KubeletConfigPath exists once a node's kubelet is configured
	// (kubestrap and kubeadm both write it).
	KubeletConfigPath = KubeletDir + "/" + KubeletConfigFile
	// KubeletClientCurrent is the kubelet's rotated client certificate.
	KubeletClientCurrent = KubeletPKIDir + "/kubelet-client-current.pem"
)

// The certificate auto-renewal units of `kubestrap certs auto-renew`.
const (
	SystemdUnitDir   = "/etc/systemd/system"
	RenewServiceUnit = "kubestrap-certs-renew.service"
	RenewTimerUnit   = "kubestrap-certs-renew.timer"
)

// Records of finished operations, under KubernetesDir.
const (
	// InitRecord is where a finished init records its configuration, so
	// that a re-run can tell "already done" from "asked for something else".
	InitRecord = "kubestrap-init.yaml"
	// JoinRecord marks a finished join, as InitRecord does for init.
	JoinRecord = "kubestrap-join.yaml"
	// APIServerManifest is the API server's static pod under ManifestDir:
	// its presence makes a node a control plane.
	APIServerManifest = "kube-apiserver.yaml"
)

// kubestrap's own state, outside /etc/kubernetes.
const (
	StateDir = "/var/lib/kubestrap"
	// CertificateKeyFile keeps a certificate key kubestrap made (0600), so
	// that a later `init phase upload-certs` or `token create
	// --print-join-command` can print the control-plane join line.
	CertificateKeyFile = StateDir + "/certificate-key"
)

// Ports the node's components listen on.
const (
	// APIServerPort is the default of localAPIEndpoint.bindPort.
	APIServerPort         = 6443
	EtcdClientPort        = 2379
	EtcdPeerPort          = 2380
	EtcdMetricsPort       = 2381 // localhost only
	KubeletPort           = 10250
	ControllerManagerPort = 10257
	SchedulerPort         = 10259
	// FlannelVXLANPort is the UDP port of the default pod network's overlay.
	FlannelVXLANPort = 8472
)

// Port is a TCP port that a component listens on and that preflight
// requires to be free.
type Port struct {
	Number int
	Owner  string // the component, as preflight's messages name it
}

// NodePorts are the ports of every node: the kubelet's.
func NodePorts() []Port {
	return []Port{{KubeletPort, "kubelet"}}
}

// ControlPlanePorts are the ports of a control-plane node beyond
// NodePorts, in preflight's order; apiPort is localAPIEndpoint.bindPort.
func ControlPlanePorts(apiPort int) []Port {
	return []Port{
		{apiPort, "kube-apiserver"},
		{EtcdClientPort, "etcd client"},
		{EtcdPeerPort, "etcd peer"},
		{ControllerManagerPort, "kube-controller-manager"},
		{SchedulerPort, "kube-scheduler"},
	}
}

// Preflight check names. Users list them in --ignore-preflight-errors, so
// they never change; they are kubeadm's.

// PortCheck names the check that port is free: "Port-6443".
func PortCheck(port int) string { return "Port-" + strconv.Itoa(port) }

// FileAvailableCheck names the check that path is absent:
// "FileAvailable--etc-kubernetes-kubelet.conf".
func FileAvailableCheck(path string) string { return "FileAvailable-" + pathName(path) }

// DirAvailableCheck names the check that path is absent or empty:
// "DirAvailable--etc-kubernetes-manifests".
func DirAvailableCheck(path string) string { return "DirAvailable-" + pathName(path) }

func pathName(path string) string { return strings.ReplaceAll(path, "/", "-") }
