package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// Problem is one thing wrong with the configuration and how to fix it.
type Problem struct {
	Field string
	Msg   string
	Hint  string
}

func (p Problem) String() string {
	s := p.Field + ": " + p.Msg
	if p.Hint != "" {
		s += " (" + p.Hint + ")"
	}
	return s
}

// ValidationError lists every problem found, so a user fixes them all in one
// round instead of one per run.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0].String()
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  - " + p.String()
	}
	return fmt.Sprintf("invalid configuration, %d problems:\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

// Supported Kubernetes minors: the bundle is built for DefaultKubernetesVersion;
// the others run with images pulled from a registry.
const (
	MinSupportedMinor = 33
	MaxSupportedMinor = 36
)

type problems []Problem

func (ps *problems) add(field, msg, hint string) {
	*ps = append(*ps, Problem{Field: field, Msg: msg, Hint: hint})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// ValidateInit checks defaulted init documents and returns every problem.
func ValidateInit(c *Init) error {
	var ps problems
	validateNodeRegistration(&ps, "nodeRegistration", &c.NodeRegistration)
	validateEndpoint(&ps, "localAPIEndpoint", c.LocalAPIEndpoint)
	for i, t := range c.BootstrapTokens {
		f := fmt.Sprintf("bootstrapTokens[%d]", i)
		if t.Token != "" {
			validateToken(&ps, f+".token", t.Token)
		}
		if t.TTL != nil && t.TTL.Duration < 0 {
			ps.add(f+".ttl", "must not be negative", "use 0 for a token that never expires, or e.g. 24h")
		}
		for _, u := range t.Usages {
			if u != "signing" && u != "authentication" {
				ps.add(f+".usages", "unknown usage "+strconv.Quote(u), "use signing and/or authentication")
			}
		}
	}
	validateCertificateKey(&ps, "certificateKey", c.CertificateKey)
	if c.UploadCerts {
		// Refuse rather than accept a setting that would silently do nothing.
		ps.add("uploadCerts", "control-plane join is not available in this kubestrap yet, so there is nothing to upload "+
			"the certificates for", "drop --upload-certs; join more nodes as workers")
	}
	validateCluster(&ps, &c.Cluster)
	return ps.err()
}

// ValidateJoin checks a defaulted JoinConfiguration and returns every problem.
func ValidateJoin(c *JoinConfiguration) error {
	var ps problems
	validateNodeRegistration(&ps, "nodeRegistration", &c.NodeRegistration)
	validateAbsPath(&ps, "caCertPath", c.CACertPath)
	validateDiscovery(&ps, &c.Discovery)
	if c.ControlPlane != nil {
		validateEndpoint(&ps, "controlPlane.localAPIEndpoint", c.ControlPlane.LocalAPIEndpoint)
		validateCertificateKey(&ps, "controlPlane.certificateKey", c.ControlPlane.CertificateKey)
	}
	return ps.err()
}

func validateCluster(ps *problems, c *ClusterConfiguration) {
	if _, err := ParseKubernetesVersion(c.KubernetesVersion); err != nil {
		ps.add("kubernetesVersion", err.Error(), fmt.Sprintf("use a version from v1.%d.0 to v1.%d.x, e.g. %s",
			MinSupportedMinor, MaxSupportedMinor, DefaultKubernetesVersion))
	}
	validateNetworking(ps, &c.Networking)
	if c.ControlPlaneEndpoint != "" {
		validateHostPort(ps, "controlPlaneEndpoint", c.ControlPlaneEndpoint, false)
	}
	validateSANs(ps, "apiServer.certSANs", c.APIServer.CertSANs)
	validateArgs(ps, "apiServer.extraArgs", c.APIServer.ExtraArgs)
	validateArgs(ps, "controllerManager.extraArgs", c.ControllerManager.ExtraArgs)
	validateArgs(ps, "scheduler.extraArgs", c.Scheduler.ExtraArgs)
	validateAbsPath(ps, "certificatesDir", c.CertificatesDir)
	if errs := validation.IsDNS1123Subdomain(c.ClusterName); len(errs) > 0 {
		ps.add("clusterName", strings.Join(errs, "; "), "use lower-case letters, digits, '-' and '.'")
	}
	switch c.EncryptionAlgorithm {
	case "RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256":
	default:
		ps.add("encryptionAlgorithm", "unknown algorithm "+strconv.Quote(c.EncryptionAlgorithm),
			"use RSA-2048, RSA-3072, RSA-4096 or ECDSA-P256")
	}
	validateValidity(ps, "certificateValidityPeriod", c.CertificateValidityPeriod.Duration)
	validateValidity(ps, "caCertificateValidityPeriod", c.CACertificateValidityPeriod.Duration)
	if c.Etcd.Local != nil {
		validateAbsPath(ps, "etcd.local.dataDir", c.Etcd.Local.DataDir)
		validateSANs(ps, "etcd.local.serverCertSANs", c.Etcd.Local.ServerCertSANs)
		validateSANs(ps, "etcd.local.peerCertSANs", c.Etcd.Local.PeerCertSANs)
		validateArgs(ps, "etcd.local.extraArgs", c.Etcd.Local.ExtraArgs)
	}
}

func validateValidity(ps *problems, field string, d interface{ Hours() float64 }) {
	if d.Hours() < 1 {
		ps.add(field, "must be at least 1h", "e.g. 8760h for one year")
	}
}

func validateNetworking(ps *problems, n *Networking) {
	svc := parsePrefix(ps, "networking.serviceSubnet", n.ServiceSubnet)
	pod := parsePrefix(ps, "networking.podSubnet", n.PodSubnet)
	if svc.IsValid() && svc.Addr().Is4() && svc.Bits() < 12 {
		ps.add("networking.serviceSubnet", fmt.Sprintf("%s is larger than the API server allows (at most /12)", svc),
			"use a /12 or smaller range, e.g. 10.96.0.0/12")
	}
	if pod.IsValid() && pod.Addr().Is4() && pod.Bits() > 24 {
		ps.add("networking.podSubnet", fmt.Sprintf("%s is smaller than one node's /24", pod),
			"use a /16, e.g. 10.244.0.0/16, so that each node gets a /24")
	}
	if svc.IsValid() && pod.IsValid() && svc.Overlaps(pod) {
		ps.add("networking.podSubnet", fmt.Sprintf("%s overlaps the service subnet %s", pod, svc),
			"choose ranges that do not overlap, e.g. pods 10.244.0.0/16 and services 10.96.0.0/12")
	}
	if errs := validation.IsDNS1123Subdomain(n.DNSDomain); len(errs) > 0 {
		ps.add("networking.dnsDomain", strconv.Quote(n.DNSDomain)+" is not a DNS domain", "e.g. cluster.local")
	}
	if n.PodNetwork != "flannel" && n.PodNetwork != "none" {
		ps.add("networking.podNetwork", "unknown pod network "+strconv.Quote(n.PodNetwork),
			"use flannel, or none to install your own CNI")
	}
}

func parsePrefix(ps *problems, field, s string) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		ps.add(field, strconv.Quote(s)+" is not a CIDR", "write it as address/bits, e.g. 10.244.0.0/16")
		return netip.Prefix{}
	}
	if p.Masked() != p {
		ps.add(field, fmt.Sprintf("%s has host bits set", s), "use the network address "+p.Masked().String())
		return netip.Prefix{}
	}
	return p
}

func validateNodeRegistration(ps *problems, f string, n *NodeRegistrationOptions) {
	if n.Name != "" {
		if errs := validation.IsDNS1123Subdomain(n.Name); len(errs) > 0 {
			ps.add(f+".name", strconv.Quote(n.Name)+" is not a valid node name",
				"use lower-case letters, digits, '-' and '.', e.g. "+strings.ToLower(n.Name))
		}
	}
	if !strings.HasPrefix(n.CRISocket, "unix:///") {
		ps.add(f+".criSocket", strconv.Quote(n.CRISocket)+" is not a unix socket URL",
			"e.g. "+DefaultCRISocket)
	}
	switch n.ImagePullPolicy {
	case "Always", "IfNotPresent", "Never":
	default:
		ps.add(f+".imagePullPolicy", "unknown policy "+strconv.Quote(n.ImagePullPolicy), "use Always, IfNotPresent or Never")
	}
	for i, t := range n.Taints {
		switch t.Effect {
		case "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			ps.add(fmt.Sprintf("%s.taints[%d].effect", f, i), "unknown effect "+strconv.Quote(t.Effect),
				"use NoSchedule, PreferNoSchedule or NoExecute")
		}
	}
	validateArgs(ps, f+".kubeletExtraArgs", n.KubeletExtraArgs)
}

func validateEndpoint(ps *problems, f string, e APIEndpoint) {
	if e.AdvertiseAddress != "" {
		if ip := net.ParseIP(e.AdvertiseAddress); ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
			ps.add(f+".advertiseAddress", strconv.Quote(e.AdvertiseAddress)+" is not a usable IP address",
				"give this node's address that other nodes reach, e.g. 192.168.56.10, or leave it empty to detect it")
		}
	}
	if e.BindPort < 1 || e.BindPort > 65535 {
		ps.add(f+".bindPort", fmt.Sprintf("%d is not a port", e.BindPort), "use 1-65535, e.g. 6443")
	}
}

var tokenHint = "a token looks like abcdef.0123456789abcdef: 6 and 16 characters of [a-z0-9]; " +
	"`kubestrap token generate` makes one"

func validateToken(ps *problems, f, tok string) {
	if !bootstraputil.IsValidBootstrapToken(tok) {
		ps.add(f, "malformed bootstrap token", tokenHint)
	}
}

var hexKey = regexp.MustCompile(`^[0-9a-f]{64}$`)

func validateCertificateKey(ps *problems, f, k string) {
	if k != "" && !hexKey.MatchString(k) {
		ps.add(f, "must be 64 lower-case hex characters (an AES-256 key)",
			"`kubestrap certs certificate-key` prints a new one")
	}
}

var caHash = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func validateDiscovery(ps *problems, d *Discovery) {
	bt, file := d.BootstrapToken, d.File
	switch {
	case bt == nil && file == nil:
		ps.add("discovery", "no discovery method", "give an endpoint with --token and --discovery-token-ca-cert-hash, or --discovery-file")
		return
	case bt != nil && file != nil:
		ps.add("discovery", "bootstrapToken and file are both set", "use one of them")
	}
	if file != nil && file.KubeConfigPath == "" {
		ps.add("discovery.file.kubeConfigPath", "is empty", "a kubeconfig path or an https:// URL")
	}
	if bt == nil {
		return
	}
	validateToken(ps, "discovery.bootstrapToken.token", bt.Token)
	validateHostPort(ps, "discovery.bootstrapToken.apiServerEndpoint", bt.APIServerEndpoint, true)
	if len(bt.CACertHashes) == 0 && !bt.UnsafeSkipCAVerification {
		ps.add("discovery.bootstrapToken.caCertHashes", "no CA pin given",
			"pass --discovery-token-ca-cert-hash sha256:<hash> as printed by `kubestrap init`, "+
				"or accept the risk with --discovery-token-unsafe-skip-ca-verification")
	}
	for i, h := range bt.CACertHashes {
		if !caHash.MatchString(h) {
			ps.add(fmt.Sprintf("discovery.bootstrapToken.caCertHashes[%d]", i), "malformed CA hash "+strconv.Quote(h),
				"it looks like sha256: followed by 64 hex characters")
		}
	}
	if d.TLSBootstrapToken != "" {
		validateToken(ps, "discovery.tlsBootstrapToken", d.TLSBootstrapToken)
	}
}

func validateHostPort(ps *problems, f, s string, needPort bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if needPort {
			ps.add(f, strconv.Quote(s)+" is not host:port", "e.g. 192.168.56.10:6443")
			return
		}
		host, port = s, ""
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			ps.add(f, "port "+strconv.Quote(port)+" is not valid", "use 1-65535, e.g. 6443")
		}
	}
	if net.ParseIP(host) == nil && len(validation.IsDNS1123Subdomain(host)) > 0 {
		ps.add(f, strconv.Quote(host)+" is neither an IP address nor a DNS name", "e.g. k8s.example.com:6443")
	}
}

func validateSANs(ps *problems, f string, sans []string) {
	for i, s := range sans {
		if net.ParseIP(s) != nil {
			continue
		}
		if len(validation.IsDNS1123Subdomain(s)) > 0 && len(validation.IsWildcardDNS1123Subdomain(s)) > 0 {
			ps.add(fmt.Sprintf("%s[%d]", f, i), strconv.Quote(s)+" is neither an IP address nor a DNS name",
				"e.g. 192.168.56.10 or k8s.example.com")
		}
	}
}

func validateArgs(ps *problems, f string, args []Arg) {
	for i, a := range args {
		if a.Name == "" || strings.HasPrefix(a.Name, "-") {
			ps.add(fmt.Sprintf("%s[%d].name", f, i), "must be a flag name without leading dashes",
				"e.g. name: v, value: \"2\"")
		}
	}
}

func validateAbsPath(ps *problems, f, p string) {
	if !filepath.IsAbs(p) {
		ps.add(f, strconv.Quote(p)+" is not an absolute path", "start it with /")
	}
}

// Version is a parsed Kubernetes release version.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }

var versionRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)$`)

// ParseKubernetesVersion parses "v1.35.4" and checks it is supported.
func ParseKubernetesVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a release version like %s", s, DefaultKubernetesVersion)
	}
	v := Version{}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	if v.Major != 1 || v.Minor < MinSupportedMinor || v.Minor > MaxSupportedMinor {
		return v, fmt.Errorf("%s is not supported", s)
	}
	return v, nil
}
