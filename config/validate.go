package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
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
	for i := range c.BootstrapTokens {
		validateBootstrapToken(&ps, fmt.Sprintf("bootstrapTokens[%d]", i), &c.BootstrapTokens[i])
	}
	validateCertificateKey(&ps, "certificateKey", c.CertificateKey)
	if c.UploadCerts && c.Cluster.ControlPlaneEndpoint == "" {
		// More control planes need one address they all answer on: a
		// single node's would stop working with that node.
		ps.add("uploadCerts", "uploading certificates for more control-plane nodes needs a shared API address",
			"pass --control-plane-endpoint with a load balancer's or DNS name's host:port (see the README's HA section)")
	}
	validateCluster(&ps, &c.Cluster)
	validateFamilies(&ps, c.LocalAPIEndpoint.AdvertiseAddress, &c.Cluster.Networking)
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

func validateBootstrapToken(ps *problems, f string, t *BootstrapToken) {
	if t.Token != "" {
		validateToken(ps, f+".token", t.Token)
	}
	if t.TTL != nil && t.TTL.Duration < 0 {
		ps.add(f+".ttl", "must not be negative", "use 0 for a token that never expires, or e.g. 24h")
	}
	for _, u := range t.Usages {
		if u != "signing" && u != "authentication" {
			ps.add(f+".usages", "unknown usage "+strconv.Quote(u), "use signing and/or authentication")
		}
	}
	// The API server's bootstrap authenticator rejects a token whose
	// auth-extra-groups break this pattern, so the token would never work.
	for _, g := range t.Groups {
		if !bootstraputil.BootstrapGroupRegexp.MatchString(g) {
			ps.add(f+".groups", "invalid group "+strconv.Quote(g),
				"a group must start with system:bootstrappers: followed by lower-case letters, digits, ':' or '-', e.g. "+
					DefaultNodeTokenGroup)
		}
	}
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
	validateArgs(ps, "apiServer.extraArgs", c.APIServer.ExtraArgs, manifestUnsafe)
	validateArgs(ps, "controllerManager.extraArgs", c.ControllerManager.ExtraArgs, manifestUnsafe)
	validateArgs(ps, "scheduler.extraArgs", c.Scheduler.ExtraArgs, manifestUnsafe)
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
		validateArgs(ps, "etcd.local.extraArgs", c.Etcd.Local.ExtraArgs, manifestUnsafe)
	}
	validateSecretsEncryption(ps, c)
	validateAudit(ps, c.APIServer)
	validateExtras(ps, "apiServer", c.APIServer.ControlPlaneComponent)
	validateExtras(ps, "controllerManager", c.ControllerManager)
	validateExtras(ps, "scheduler", c.Scheduler)
	if c.Etcd.Local != nil {
		validateEnvs(ps, "etcd.local.extraEnvs", c.Etcd.Local.ExtraEnvs)
	}
}

// ReservedVolumeNames are the volumes kubestrap's static pods have; an
// extra volume may not take one's name (staticpods' test keeps the list
// in step with the pods).
var ReservedVolumeNames = []string{"ca-certs", "etc-ca-certificates", "etc-pki-ca-trust", "etc-pki-tls-certs",
	"usr-local-share-ca-certificates", "usr-share-ca-certificates", "k8s-certs", "kubeconfig", "flexvolume-dir",
	"audit-policy", "audit-log", "etcd-data", "etcd-certs"}

var pathTypes = []corev1.HostPathType{"", corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory,
	corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev}

func validateExtras(ps *problems, f string, c ControlPlaneComponent) {
	seen := map[string]bool{}
	for i, v := range c.ExtraVolumes {
		vf := fmt.Sprintf("%s.extraVolumes[%d]", f, i)
		switch {
		case len(validation.IsDNS1123Label(v.Name)) > 0:
			ps.add(vf+".name", strconv.Quote(v.Name)+" is not a volume name", "use lower-case letters, digits and '-'")
		case slices.Contains(ReservedVolumeNames, v.Name) || seen[v.Name]:
			ps.add(vf+".name", strconv.Quote(v.Name)+" is taken", "choose a name that is not one of "+
				strings.Join(ReservedVolumeNames, ", ")+" or another extra volume's")
		}
		seen[v.Name] = true
		validateAbsPath(ps, vf+".hostPath", v.HostPath)
		validateAbsPath(ps, vf+".mountPath", v.MountPath)
		if !slices.Contains(pathTypes, v.PathType) {
			ps.add(vf+".pathType", "unknown path type "+strconv.Quote(string(v.PathType)),
				"use DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice or BlockDevice")
		}
	}
	validateEnvs(ps, f+".extraEnvs", c.ExtraEnvs)
}

func validateEnvs(ps *problems, f string, envs []corev1.EnvVar) {
	for i, e := range envs {
		if errs := validation.IsEnvVarName(e.Name); len(errs) > 0 {
			ps.add(fmt.Sprintf("%s[%d].name", f, i), strings.Join(errs, "; "), "e.g. HTTPS_PROXY")
		}
	}
}

func validateSecretsEncryption(ps *problems, c *ClusterConfiguration) {
	s := c.SecretsEncryption
	if s == nil {
		return
	}
	switch s.Provider {
	case "aescbc", "secretbox":
	default:
		ps.add("secretsEncryption.provider", "unknown provider "+strconv.Quote(s.Provider), "use aescbc or secretbox")
	}
	if s.On() && hasArg(c.APIServer.ExtraArgs, "encryption-provider-config") {
		ps.add("apiServer.extraArgs", "encryption-provider-config is set while secretsEncryption is on",
			"remove the flag to use kubestrap's generated key, or set secretsEncryption.enabled: false to use your own")
	}
}

func validateAudit(ps *problems, a APIServer) {
	if a.Audit == nil {
		return
	}
	validateAbsPath(ps, "apiServer.audit.logDir", a.Audit.LogDir)
	if a.Audit.PolicyFile != "" {
		validateAbsPath(ps, "apiServer.audit.policyFile", a.Audit.PolicyFile)
	}
	for f, v := range map[string]int32{"maxAge": a.Audit.MaxAge, "maxBackup": a.Audit.MaxBackup, "maxSize": a.Audit.MaxSize} {
		if v < 0 {
			ps.add("apiServer.audit."+f, "must not be negative", "use a positive number, or leave it out for the default")
		}
	}
	if a.Audit.On() && hasArg(a.ExtraArgs, "audit-policy-file") {
		ps.add("apiServer.extraArgs", "audit-policy-file is set while apiServer.audit is on",
			"use apiServer.audit.policyFile instead, or set apiServer.audit.enabled: false")
	}
}

func hasArg(args []Arg, name string) bool {
	for _, a := range args {
		if a.Name == name {
			return true
		}
	}
	return false
}

// validateValidity wants at least an hour: certificates are backdated five
// minutes for clock skew, so a few minutes would make them expire at birth,
// and an hour is short enough for tests of renewal.
func validateValidity(ps *problems, field string, d interface{ Hours() float64 }) {
	if d.Hours() < 1 {
		ps.add(field, "must be at least 1h", "e.g. 8760h for one year")
	}
}

func validateNetworking(ps *problems, n *Networking) {
	svc := parsePrefix(ps, "networking.serviceSubnet", n.ServiceSubnet)
	pod := parsePrefix(ps, "networking.podSubnet", n.PodSubnet)
	validateServiceSubnet(ps, svc)
	validatePodSubnet(ps, pod, n.PodNetwork)
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

// Service subnet bounds, in host bits so that one rule covers both families.
const (
	// maxServiceHostBits is the API server's limit: /12 for IPv4, /108 for IPv6.
	maxServiceHostBits = 20
	// minServiceHostBits makes room for CoreDNS's Service IP at offset
	// dnsServiceIPOffset: 16 addresses, a /28 for IPv4 (whose broadcast
	// address, offset 15, stays clear of it) or a /124 for IPv6.
	minServiceHostBits = 4
	// dnsServiceIPOffset is where kubeadm, and kubelet.ClusterDNSIP, put
	// CoreDNS's Service IP; the API server's own Service takes offset 1.
	dnsServiceIPOffset = 10
)

func validateServiceSubnet(ps *problems, svc netip.Prefix) {
	if !svc.IsValid() {
		return
	}
	bits := svc.Addr().BitLen()
	example := "10.96.0.0/12"
	if svc.Addr().Is6() {
		example = "fd00:10:96::/112"
	}
	switch host := bits - svc.Bits(); {
	case host > maxServiceHostBits:
		ps.add("networking.serviceSubnet", fmt.Sprintf("%s is larger than the API server allows (at most /%d)",
			svc, bits-maxServiceHostBits), fmt.Sprintf("use a /%d or smaller range, e.g. %s", bits-maxServiceHostBits, example))
	case host < minServiceHostBits:
		ps.add("networking.serviceSubnet", fmt.Sprintf("%s has no room for CoreDNS's Service IP %s "+
			"(the %dth address; the API server's is the 1st)", svc, nthAddr(svc, dnsServiceIPOffset), dnsServiceIPOffset),
			fmt.Sprintf("use a /%d or larger range, e.g. %s", bits-minServiceHostBits, example))
	}
}

// nthAddr is the address n after the network address, even past the prefix's end.
func nthAddr(p netip.Prefix, n int) netip.Addr {
	a := p.Addr()
	for i := 0; i < n; i++ {
		a = a.Next()
	}
	return a
}

// validatePodSubnet checks the pod subnet holds at least one node's range:
// the controller manager hands each node a /24 (IPv4) or /64 (IPv6).
func validatePodSubnet(ps *problems, pod netip.Prefix, podNetwork string) {
	if !pod.IsValid() {
		return
	}
	nodeBits, hint := 24, "use a /16, e.g. 10.244.0.0/16, so that each node gets a /24"
	if pod.Addr().Is6() {
		nodeBits, hint = 64, "use a /56, e.g. fd00:10:244::/56, so that each node gets a /64"
	}
	if pod.Bits() > nodeBits {
		ps.add("networking.podSubnet", fmt.Sprintf("%s is smaller than one node's /%d", pod, nodeBits), hint)
	}
	// kubestrap's flannel manifest sets only "Network", flannel's IPv4 range.
	if pod.Addr().Is6() && podNetwork == "flannel" {
		ps.add("networking.podSubnet", fmt.Sprintf("%s is IPv6 but kubestrap sets flannel up for IPv4 only", pod),
			"use an IPv4 pod subnet, e.g. 10.244.0.0/16, or podNetwork: none and an IPv6-capable CNI")
	}
}

// validateFamilies refuses an advertise address and subnets of different
// IP families: kubestrap builds single-stack clusters, and the API server
// needs its advertise address in the service subnet's family. Without an
// address (detected later, then validated again) the service subnet is the
// reference for the pod subnet.
func validateFamilies(ps *problems, advertise string, n *Networking) {
	svc, svcErr := netip.ParsePrefix(n.ServiceSubnet)
	pod, podErr := netip.ParsePrefix(n.PodSubnet)
	ref, refName := svc.Addr(), "the service subnet "+n.ServiceSubnet
	if a, err := netip.ParseAddr(advertise); err == nil {
		ref, refName = a.Unmap(), "the advertise address "+advertise
		if svcErr == nil && svc.Addr().Is4() != ref.Is4() {
			addFamilyProblem(ps, "networking.serviceSubnet", svc, ref, refName)
		}
	} else if svcErr != nil {
		return // nothing to compare with; the bad subnet is already reported
	}
	if podErr == nil && pod.Addr().Is4() != ref.Is4() {
		addFamilyProblem(ps, "networking.podSubnet", pod, ref, refName)
	}
}

func addFamilyProblem(ps *problems, field string, p netip.Prefix, ref netip.Addr, refName string) {
	ps.add(field, fmt.Sprintf("%s is %s but %s is %s", p, family(p.Addr()), refName, family(ref)),
		"use one IP family for the advertise address, service subnet and pod subnet: dual-stack is not supported")
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
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
	validateArgs(ps, f+".kubeletExtraArgs", n.KubeletExtraArgs, kubeletUnsafe)
}

func validateEndpoint(ps *problems, f string, e APIEndpoint) {
	if e.AdvertiseAddress != "" && !usableNodeIP(e.AdvertiseAddress) {
		ps.add(f+".advertiseAddress", strconv.Quote(e.AdvertiseAddress)+" is not a usable IP address",
			"give this node's address that other nodes reach, e.g. 192.168.56.10, or leave it empty to detect it")
	}
	if e.BindPort < 1 || e.BindPort > 65535 {
		ps.add(f+".bindPort", fmt.Sprintf("%d is not a port", e.BindPort), "use 1-65535, e.g. 6443")
	}
}

// usableNodeIP reports whether s is one address other nodes could reach:
// the unspecified, loopback and multicast addresses parse but are not a
// node's, and anything else (a list, a name, a space) would also corrupt the
// kubelet's flags file, where the node IP is written as --node-ip=<s>.
func usableNodeIP(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() && !ip.IsMulticast()
}

// ValidateNodeIP checks a --node-ip flag value; "" (detect it) is valid.
// It is exported because the node IP of join is a flag, not a field of
// JoinConfiguration, so ValidateJoin never sees it.
func ValidateNodeIP(s string) error {
	var ps problems
	if s != "" && !usableNodeIP(s) {
		ps.add("--node-ip", strconv.Quote(s)+" is not a usable IP address",
			"give one address of this node that the control plane reaches, e.g. 192.168.56.11, "+
				"or leave it out to use the source address of the route to the API endpoint")
	}
	return ps.err()
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
	// A zero timeout would fail discovery before its first attempt.
	if d.Timeout != nil && d.Timeout.Duration <= 0 {
		ps.add("discovery.timeout", fmt.Sprintf("%s is not a positive duration", d.Timeout.Duration),
			"use e.g. 5m, with --discovery-timeout or discovery.timeout")
	}
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

// argName is how every Kubernetes component spells its flags; a leading
// dash, '=' or space would corrupt the generated command line.
var argName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Characters refused in extra argument values. A line break, NUL or double
// quote has no business in a flag value and would end the value early in
// the kubelet's flags file (KUBELET_KUBESTRAP_ARGS="..."). For the kubelet
// more is refused: systemd splits the unquoted $KUBELET_KUBESTRAP_ARGS of
// ExecStart at whitespace, so a space would smuggle in another argument, and
// a backslash is an escape inside the EnvironmentFile's quotes.
const (
	manifestUnsafe = "\x00\n\r\""
	kubeletUnsafe  = manifestUnsafe + " \t\\"
)

var charNames = map[byte]string{0: "a NUL", '\n': "a newline", '\r': "a carriage return", '"': "a double quote",
	' ': "a space", '\t': "a tab", '\\': "a backslash"}

func validateArgs(ps *problems, f string, args []Arg, unsafe string) {
	for i, a := range args {
		if !argName.MatchString(a.Name) {
			ps.add(fmt.Sprintf("%s[%d].name", f, i), strconv.Quote(a.Name)+" is not a flag name",
				"use lower-case letters, digits and '-' without leading dashes, e.g. name: v, value: \"2\"")
		}
		if j := strings.IndexAny(a.Value, unsafe); j >= 0 {
			ps.add(fmt.Sprintf("%s[%d].value", f, i), fmt.Sprintf("%s contains %s, which would corrupt the generated "+
				"command line", strconv.Quote(a.Value), charNames[a.Value[j]]), "remove it; separate list items with commas")
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

// ParseKubernetesVersion parses a version like DefaultKubernetesVersion and
// checks it is supported.
func ParseKubernetesVersion(s string) (Version, error) {
	v, err := parseVersion(s)
	if err != nil {
		return Version{}, err
	}
	if v.Major != 1 || v.Minor < MinSupportedMinor || v.Minor > MaxSupportedMinor {
		return v, fmt.Errorf("%s is not supported", s)
	}
	return v, nil
}

// parseVersion checks the syntax only.
func parseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a release version like %s", s, DefaultKubernetesVersion)
	}
	v := Version{}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	return v, nil
}
