package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// checkProblem asserts err holds exactly one problem, for field, whose text
// contains every want and which has a fix hint; field "" wants no error.
func checkProblem(t *testing.T, err error, field string, want ...string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("want no error, got %v", err)
		}
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	if len(ve.Problems) != 1 {
		t.Fatalf("want exactly one problem, got %v", err)
	}
	p := ve.Problems[0]
	if p.Field != field {
		t.Errorf("field = %q, want %q (%v)", p.Field, field, err)
	}
	if p.Hint == "" {
		t.Errorf("problem has no fix hint: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(p.String(), w) {
			t.Errorf("%q does not contain %q", p, w)
		}
	}
}

func TestValidateInitRules(t *testing.T) {
	tests := []struct {
		name  string
		set   func(c *Init)
		field string // "" when valid
		want  []string
	}{
		{"service /28 holds the DNS IP", func(c *Init) { c.Cluster.Networking.ServiceSubnet = "10.96.0.0/28" }, "", nil},
		{"service /29 misses the DNS IP", func(c *Init) { c.Cluster.Networking.ServiceSubnet = "10.96.0.0/29" },
			"networking.serviceSubnet", []string{"10.96.0.0/29", "10.96.0.10", "/28 or larger"}},
		{"service /31", func(c *Init) { c.Cluster.Networking.ServiceSubnet = "10.96.0.0/31" },
			"networking.serviceSubnet", []string{"10.96.0.10"}},
		{"IPv6 service /124 ok", func(c *Init) { v6(c, "fd00:10:96::/124") }, "", nil},
		{"IPv6 service /125", func(c *Init) { v6(c, "fd00:10:96::/125") },
			"networking.serviceSubnet", []string{"/124 or larger"}},
		{"IPv6 service /100 too big", func(c *Init) { v6(c, "fd00:10:96::/100") },
			"networking.serviceSubnet", []string{"at most /108"}},
		{"advertise v6, service v4", func(c *Init) { v6(c, "10.96.0.0/12") },
			"networking.serviceSubnet", []string{"10.96.0.0/12 is IPv4", "advertise address fd00::10 is IPv6"}},
		{"advertise v4, pod v6", func(c *Init) {
			c.Cluster.Networking.PodNetwork = "none"
			c.Cluster.Networking.PodSubnet = "fd00:10:244::/56"
		}, "networking.podSubnet", []string{"fd00:10:244::/56 is IPv6", "advertise address 192.168.56.10 is IPv4"}},
		{"no advertise, service v4, pod v6", func(c *Init) {
			c.LocalAPIEndpoint.AdvertiseAddress = ""
			c.Cluster.Networking.PodNetwork = "none"
			c.Cluster.Networking.PodSubnet = "fd00:10:244::/56"
		}, "networking.podSubnet", []string{"service subnet 10.96.0.0/12 is IPv4"}},
		{"IPv6 pods with flannel", func(c *Init) {
			v6(c, "fd00:10:96::/112")
			c.Cluster.Networking.PodSubnet = "fd00:10:244::/56"
			c.Cluster.Networking.PodNetwork = "flannel"
		}, "networking.podSubnet", []string{"IPv4 only"}},
		{"IPv6 pod /72", func(c *Init) { v6(c, "fd00:10:96::/112"); c.Cluster.Networking.PodSubnet = "fd00:10:244::/72" },
			"networking.podSubnet", []string{"one node's /64"}},
		{"group without prefix", func(c *Init) { c.BootstrapTokens = []BootstrapToken{{Groups: []string{"system:nodes"}}} },
			"bootstrapTokens[0].groups", []string{`"system:nodes"`, "system:bootstrappers:"}},
		{"group with upper case", func(c *Init) {
			c.BootstrapTokens = []BootstrapToken{{Groups: []string{"system:bootstrappers:Workers"}}}
		}, "bootstrapTokens[0].groups", []string{"Workers"}},
		{"group ok", func(c *Init) {
			c.BootstrapTokens = []BootstrapToken{{Groups: []string{"system:bootstrappers:kubestrap:workers"}}}
		}, "", nil},
		{"token ttl 0 never expires", func(c *Init) { c.BootstrapTokens = []BootstrapToken{{TTL: dur(0)}} }, "", nil},
		{"token ttl negative", func(c *Init) { c.BootstrapTokens = []BootstrapToken{{TTL: dur(-time.Hour)}} },
			"bootstrapTokens[0].ttl", []string{"negative"}},
		{"one-hour certificates for tests", func(c *Init) { c.Cluster.CertificateValidityPeriod = dur(time.Hour) }, "", nil},
		{"certificate validity 0", func(c *Init) { c.Cluster.CertificateValidityPeriod = dur(0) },
			"certificateValidityPeriod", []string{"at least 1h"}},
		{"CA validity 30m", func(c *Init) { c.Cluster.CACertificateValidityPeriod = dur(30 * time.Minute) },
			"caCertificateValidityPeriod", []string{"at least 1h"}},
		{"loopback advertise", func(c *Init) { c.LocalAPIEndpoint.AdvertiseAddress = "127.0.0.1" },
			"localAPIEndpoint.advertiseAddress", []string{"not a usable IP"}},
		{"kubelet arg quote", func(c *Init) { c.NodeRegistration.KubeletExtraArgs = []Arg{{Name: "v", Value: `2" x="`}} },
			"nodeRegistration.kubeletExtraArgs[0].value", []string{"a double quote"}},
		{"kubelet arg space", func(c *Init) {
			c.NodeRegistration.KubeletExtraArgs = []Arg{{Name: "node-labels", Value: "a=b --anonymous-auth=true"}}
		}, "nodeRegistration.kubeletExtraArgs[0].value", []string{"a space"}},
		{"kubelet arg backslash", func(c *Init) { c.NodeRegistration.KubeletExtraArgs = []Arg{{Name: "v", Value: `2\`}} },
			"nodeRegistration.kubeletExtraArgs[0].value", []string{"a backslash"}},
		{"kubelet arg NUL", func(c *Init) { c.NodeRegistration.KubeletExtraArgs = []Arg{{Name: "v", Value: "2\x00"}} },
			"nodeRegistration.kubeletExtraArgs[0].value", []string{"a NUL"}},
		{"kubelet arg name upper case", func(c *Init) { c.NodeRegistration.KubeletExtraArgs = []Arg{{Name: "V", Value: "2"}} },
			"nodeRegistration.kubeletExtraArgs[0].name", []string{`"V" is not a flag name`}},
		{"kubelet arg name with =", func(c *Init) {
			c.NodeRegistration.KubeletExtraArgs = []Arg{{Name: "v=2", Value: "2"}}
		}, "nodeRegistration.kubeletExtraArgs[0].name", []string{"not a flag name"}},
		{"kubelet args ok", func(c *Init) {
			c.NodeRegistration.KubeletExtraArgs = []Arg{{Name: "node-labels", Value: "a=b,c=d"}, {Name: "v", Value: "2"}}
		}, "", nil},
		{"apiserver arg space ok", func(c *Init) {
			c.Cluster.APIServer.ExtraArgs = []Arg{{Name: "audit-policy-file", Value: "/etc/k8s/my policy.yaml"}}
		}, "", nil},
		{"apiserver arg newline", func(c *Init) { c.Cluster.APIServer.ExtraArgs = []Arg{{Name: "v", Value: "2\n"}} },
			"apiServer.extraArgs[0].value", []string{"a newline"}},
		{"apiserver arg dashes", func(c *Init) { c.Cluster.APIServer.ExtraArgs = []Arg{{Name: "--v", Value: "2"}} },
			"apiServer.extraArgs[0].name", []string{"not a flag name"}},
		{"controller-manager arg quote", func(c *Init) {
			c.Cluster.ControllerManager.ExtraArgs = []Arg{{Name: "v", Value: `"2"`}}
		}, "controllerManager.extraArgs[0].value", []string{"a double quote"}},
		{"scheduler arg CR", func(c *Init) { c.Cluster.Scheduler.ExtraArgs = []Arg{{Name: "v", Value: "2\r"}} },
			"scheduler.extraArgs[0].value", []string{"a carriage return"}},
		{"etcd arg name", func(c *Init) { c.Cluster.Etcd.Local = &LocalEtcd{ExtraArgs: []Arg{{Name: "", Value: "x"}}} },
			"etcd.local.extraArgs[0].name", []string{"not a flag name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Init{}
			c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
			tt.set(c)
			SetInitDefaults(c)
			checkProblem(t, ValidateInit(c), tt.field, tt.want...)
		})
	}
}

// v6 makes the cluster single-stack IPv6 apart from the service subnet.
func v6(c *Init, serviceSubnet string) {
	c.LocalAPIEndpoint.AdvertiseAddress = "fd00::10"
	c.Cluster.Networking.ServiceSubnet = serviceSubnet
	c.Cluster.Networking.PodSubnet = "fd00:10:244::/56"
	c.Cluster.Networking.PodNetwork = "none"
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func TestValidateJoinRules(t *testing.T) {
	tests := []struct {
		name  string
		set   func(c *JoinConfiguration)
		field string
		want  []string
	}{
		{"default timeout", func(c *JoinConfiguration) {}, "", nil},
		{"zero timeout", func(c *JoinConfiguration) { c.Discovery.Timeout = dur(0) },
			"discovery.timeout", []string{"0s is not a positive duration", "--discovery-timeout"}},
		{"negative timeout", func(c *JoinConfiguration) { c.Discovery.Timeout = dur(-time.Minute) },
			"discovery.timeout", []string{"-1m0s"}},
		{"kubelet arg newline", func(c *JoinConfiguration) {
			c.NodeRegistration.KubeletExtraArgs = []Arg{{Name: "node-labels", Value: "a=b\nc=d"}}
		}, "nodeRegistration.kubeletExtraArgs[0].value", []string{"a newline"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &JoinConfiguration{Discovery: Discovery{BootstrapToken: &BootstrapTokenDiscovery{
				Token: "abcdef.0123456789abcdef", APIServerEndpoint: "192.168.56.10:6443", UnsafeSkipCAVerification: true}}}
			tt.set(c)
			SetJoinDefaults(c)
			checkProblem(t, ValidateJoin(c), tt.field, tt.want...)
		})
	}
}

func TestValidateNodeIP(t *testing.T) {
	tests := []struct {
		ip string
		ok bool
	}{
		{"", true}, // detect it
		{"192.168.56.11", true},
		{"fd00::11", true},
		{"192.168.56.300", false},
		{"0.0.0.0", false},
		{"127.0.0.1", false},
		{"::1", false},
		{"224.0.0.1", false},
		{"192.168.56.11,fd00::11", false},
		{"192.168.56.11 --anonymous-auth=true", false},
		{"node1", false},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			if tt.ok {
				checkProblem(t, ValidateNodeIP(tt.ip), "")
			} else {
				checkProblem(t, ValidateNodeIP(tt.ip), "--node-ip", "not a usable IP", "192.168.56.11")
			}
		})
	}
}

func TestCheckKubeletSkew(t *testing.T) {
	tests := []struct {
		name, kubelet, cp string
		want              []string // nil when allowed
	}{
		{"same", "v1.35.4", "v1.35.4", nil},
		{"patch older", "v1.35.0", "v1.35.4", nil},
		{"patch newer", "v1.35.9", "v1.35.4", nil},
		{"one older", "v1.34.2", "v1.35.4", nil},
		{"three older", "v1.32.0", "v1.35.4", nil},
		{"four older", "v1.31.9", "v1.35.4", []string{"kubelet v1.31.9", "4 minor versions older", "v1.35.4",
			"--agent-binary with a kubelet from v1.32 to v1.35"}},
		{"newer", "v1.36.0", "v1.35.4", []string{"kubelet v1.36.0 is newer than the control plane v1.35.4",
			"--kubernetes-version v1.36.0", "--agent-binary"}},
		{"newer outside support", "v1.40.0", "v1.35.4", []string{"newer"}},
		{"major", "v2.35.0", "v1.35.4", []string{"major"}},
		{"bad kubelet", "1.35.4", "v1.35.4", []string{`"1.35.4" is not a release version`}},
		{"bad control plane", "v1.35.4", "latest", []string{`"latest"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKubeletSkew(tt.kubelet, tt.cp)
			if tt.want == nil {
				checkProblem(t, err, "")
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateExtraVolumes(t *testing.T) {
	c := &Init{}
	SetInitDefaults(c)
	c.NodeRegistration.Name, c.LocalAPIEndpoint.AdvertiseAddress = "cp-1", "192.168.56.10"
	c.Cluster.APIServer.ExtraVolumes = []HostPathMount{
		{Name: "k8s-certs", HostPath: "/srv", MountPath: "/srv"},
		{Name: "ok", HostPath: "srv", MountPath: "/srv", PathType: "Dir"},
	}
	c.Cluster.Scheduler.ExtraEnvs = []corev1.EnvVar{{Name: "1BAD"}}
	err := ValidateInit(c)
	for _, want := range []string{"apiServer.extraVolumes[0].name", "apiServer.extraVolumes[1].hostPath",
		"apiServer.extraVolumes[1].pathType", "scheduler.extraEnvs[0].name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want a problem at %s, got %v", want, err)
		}
	}
}
