package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadInitInvalidFiles(t *testing.T) {
	tests := []struct {
		file string
		want []string // every substring must be in the error
	}{
		{"01-unknown-field.yaml", []string{"line 5", `unknown field "networking.podSubnett"`, "valid fields here"}},
		{"02-case-typo.yaml", []string{"line 4", `did you mean "advertiseAddress"`}},
		{"03-kubeadm-apiversion.yaml", []string{"line 1", "kubeadm.k8s.io/v1beta3 is an older kubeadm config", "kubeadm config migrate"}},
		{"04-unknown-kind.yaml", []string{"unknown kind KubeletConfig", "InitConfiguration"}},
		{"05-bad-ip.yaml", []string{"localAPIEndpoint.advertiseAddress", "192.168.56.300", "not a usable IP"}},
		{"06-bad-cidr.yaml", []string{"networking.podSubnet", "not a CIDR"}},
		{"07-overlap.yaml", []string{"networking.podSubnet", "overlaps the service subnet 10.96.0.0/12"}},
		{"08-bad-token.yaml", []string{"bootstrapTokens[0].token", "malformed bootstrap token", "abcdef.0123456789abcdef"}},
		{"09-old-version.yaml", []string{"kubernetesVersion", "v1.28.0 is not supported", "v1.33.0 to v1.36.x"}},
		{"10-wrong-type.yaml", []string{"InitConfiguration", "bindPort"}},
		{"11-not-yaml.yaml", []string{"not valid YAML", "line 4"}},
		{"12-duplicate-field.yaml", []string{"kubernetesVersion"}},
		{"13-join-in-init.yaml", []string{"JoinConfiguration is not used by init"}},
		{"14-service-too-big.yaml", []string{"networking.serviceSubnet", "at most /12"}},
		{"15-service-too-small.yaml", []string{"networking.serviceSubnet", "10.96.0.10", "/28 or larger"}},
		{"16-kubelet-arg-newline.yaml", []string{"nodeRegistration.kubeletExtraArgs[0].value", "a newline"}},
		{"17-family-mismatch.yaml", []string{"networking.serviceSubnet", "10.96.0.0/12 is IPv4", "fd00::10 is IPv6"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "invalid", tt.file)
			_, err := LoadInit(path, nil)
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var ve *ValidationError
			if errors.As(err, &ve) && len(ve.Problems) != 1 {
				t.Errorf("want exactly one problem, got %d: %v", len(ve.Problems), err)
			}
		})
	}
}

func TestValidateCollectsAllProblems(t *testing.T) {
	c := &Init{}
	c.LocalAPIEndpoint.AdvertiseAddress = "not-an-ip"
	c.Cluster.Networking.PodSubnet = "bad"
	c.Cluster.KubernetesVersion = "1.35"
	c.BootstrapTokens = []BootstrapToken{{Token: "short.token"}}
	c.CertificateKey = "xyz"
	SetInitDefaults(c)
	err := ValidateInit(c)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	fields := map[string]bool{}
	for _, p := range ve.Problems {
		fields[p.Field] = true
		if p.Hint == "" {
			t.Errorf("problem %q has no fix hint", p.Field)
		}
	}
	for _, f := range []string{"localAPIEndpoint.advertiseAddress", "networking.podSubnet", "kubernetesVersion",
		"bootstrapTokens[0].token", "certificateKey"} {
		if !fields[f] {
			t.Errorf("problem for %s not reported; got %v", f, err)
		}
	}
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := LoadInit("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.KubernetesVersion != "v1.35.4" || c.Cluster.Networking.PodSubnet != "10.244.0.0/16" ||
		c.Cluster.Networking.ServiceSubnet != "10.96.0.0/12" || c.Cluster.Networking.DNSDomain != "cluster.local" {
		t.Errorf("unexpected defaults: %+v", c.Cluster.Networking)
	}
	if c.BootstrapTokens[0].TTL.Duration != 24*time.Hour {
		t.Errorf("token TTL = %v", c.BootstrapTokens[0].TTL)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	data := "apiVersion: kubestrap.io/v1alpha1\nkind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.200.0.0/16\n" +
		"  dnsDomain: example.local\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadInit(path, func(c *Init) { c.Cluster.Networking.PodSubnet = "10.201.0.0/16" })
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Cluster.Networking.PodSubnet; got != "10.201.0.0/16" {
		t.Errorf("flag lost to file: podSubnet = %s", got)
	}
	if got := c.Cluster.Networking.DNSDomain; got != "example.local" {
		t.Errorf("file value lost: dnsDomain = %s", got)
	}
}

func TestRoundTripDefaults(t *testing.T) {
	c, err := LoadInit("", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := MarshalInit(c)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := Decode(b)
	if err != nil {
		t.Fatalf("printed defaults do not decode: %v\n%s", err, b)
	}
	if docs.Init == nil || docs.Cluster == nil {
		t.Fatal("missing documents after round trip")
	}
	if docs.Cluster.CertificateValidityPeriod.Duration != DefaultCertValidity {
		t.Errorf("validity lost in round trip: %v", docs.Cluster.CertificateValidityPeriod)
	}
}

func TestLoadJoin(t *testing.T) {
	path := filepath.Join("testdata", "invalid", "13-join-in-init.yaml")
	c, err := LoadJoin(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Discovery.TLSBootstrapToken != "abcdef.0123456789abcdef" || c.CACertPath != DefaultCACertPath {
		t.Errorf("join defaults not applied: %+v", c)
	}
	_, err = LoadJoin("", func(c *JoinConfiguration) {
		c.Discovery.BootstrapToken = &BootstrapTokenDiscovery{Token: "abcdef.0123456789abcdef",
			APIServerEndpoint: "10.0.0.1:6443", CACertHashes: []string{"sha256:abc", "sha256:" + strings.Repeat("a", 64)}}
	})
	if err == nil || !strings.Contains(err.Error(), "caCertHashes[0]") || strings.Contains(err.Error(), "caCertHashes[1]") {
		t.Errorf("want only the first of two hashes flagged, got %v", err)
	}
}

func TestParseKubernetesVersion(t *testing.T) {
	for _, ok := range []string{"v1.33.0", "v1.35.4", "v1.36.3"} {
		if _, err := ParseKubernetesVersion(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"1.35.4", "v1.32.9", "v1.37.0", "v2.35.0", "v1.35", "latest"} {
		if _, err := ParseKubernetesVersion(bad); err == nil {
			t.Errorf("%s: want error", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Decode(data)
		if err != nil {
			if docs != nil {
				t.Fatal("documents returned with an error")
			}
			return
		}
		c, err := InitFrom(docs)
		if err != nil {
			return
		}
		SetInitDefaults(c)
		_ = ValidateInit(c) // must not panic
	})
}

func TestUploadCertsNeedsAControlPlaneEndpoint(t *testing.T) {
	_, err := LoadInit("", func(c *Init) { c.UploadCerts = true })
	if err == nil || !strings.Contains(err.Error(), "uploadCerts") || !strings.Contains(err.Error(), "--control-plane-endpoint") {
		t.Errorf("got %v", err)
	}
	_, err = LoadInit("", func(c *Init) {
		c.UploadCerts, c.Cluster.ControlPlaneEndpoint = true, "192.168.56.9:6443"
		c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
	})
	if err != nil {
		t.Errorf("with an endpoint: %v", err)
	}
}

// init-defaults shows what a new cluster gets, so that a file started from
// it keeps secrets encryption and the audit log on; read back, it loads
// and validates as it is.
func TestInitDefaultsShowNewClusterSettings(t *testing.T) {
	b, err := InitDefaultsYAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"secretsEncryption:\n  enabled: true\n  provider: aescbc",
		"  audit:\n    enabled: true\n    logDir: /var/log/kubernetes/audit"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("init-defaults lacks %q:\n%s", want, b)
		}
	}
	docs, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := InitFrom(docs)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Cluster.SecretsEncryption.On() || !c.Cluster.APIServer.Audit.On() {
		t.Errorf("read back: encryption %v, audit %v", c.Cluster.SecretsEncryption.On(), c.Cluster.APIServer.Audit.On())
	}
}

// A stored configuration without the fields (a cluster made before
// kubestrap had them) keeps both off: defaulting it must not turn on
// encryption for an API server that has no keys.
func TestStoredClusterKeepsFeaturesOff(t *testing.T) {
	c := &ClusterConfiguration{}
	SetClusterDefaults(c)
	if c.SecretsEncryption.On() || c.APIServer.Audit.On() {
		t.Errorf("a stored configuration without the fields: encryption %v, audit %v",
			c.SecretsEncryption.On(), c.APIServer.Audit.On())
	}
	off := false
	i := &Init{}
	i.Cluster.SecretsEncryption = &SecretsEncryption{Enabled: &off}
	i.Cluster.APIServer.ExtraArgs = []Arg{{Name: "audit-policy-file", Value: "/etc/mine.yaml"}}
	SetInitDefaults(i)
	if i.Cluster.SecretsEncryption.On() || i.Cluster.APIServer.Audit.On() {
		t.Errorf("turned off, or the user's own audit flag: encryption %v, audit %v",
			i.Cluster.SecretsEncryption.On(), i.Cluster.APIServer.Audit.On())
	}
}
