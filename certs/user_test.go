package certs

import (
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

func TestUserKubeconfig(t *testing.T) {
	p := &PKI{Dir: uploadPKI(t), Algorithm: "ECDSA-P256"}
	u := User{Name: "alice", Groups: []string{"dev", "ops"}, Validity: 30 * 24 * time.Hour, Namespace: "team-a"}
	b, expires, err := p.UserKubeconfig(u, "kubernetes", "https://10.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := kc.Contexts[kc.CurrentContext]
	if ctx == nil || ctx.Namespace != "team-a" || kc.Clusters["kubernetes"].Server != "https://10.0.0.1:6443" {
		t.Fatalf("kubeconfig: %+v", kc)
	}
	cert, err := ParseCertPEM(kc.AuthInfos["alice"].ClientCertificateData)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "alice" || !slices.Equal(cert.Subject.Organization, []string{"dev", "ops"}) ||
		!cert.NotAfter.Equal(expires) || time.Until(expires) > 31*24*time.Hour || time.Until(expires) < 29*24*time.Hour {
		t.Errorf("certificate %v %v until %v (reported %v)", cert.Subject.CommonName, cert.Subject.Organization, cert.NotAfter, expires)
	}
	// Never longer than the CA.
	u.Validity = 100 * 365 * 24 * time.Hour
	if _, expires, err = p.UserKubeconfig(u, "kubernetes", "https://10.0.0.1:6443"); err != nil || time.Until(expires) > 11*365*24*time.Hour {
		t.Errorf("a 100-year request expires %v (%v)", expires, err)
	}
}

func TestCheckUserRefuses(t *testing.T) {
	for _, tc := range []struct {
		u    User
		want string
	}{
		{User{Name: "", Validity: time.Hour}, "empty"},
		{User{Name: "system:kube-scheduler", Validity: time.Hour}, "system: names"},
		{User{Name: "bob", Groups: []string{"system:masters"}, Validity: time.Hour}, "bypasses RBAC"},
		{User{Name: "bob", Validity: time.Minute}, "shorter than an hour"},
	} {
		if err := CheckUser(tc.u); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.u, err, tc.want)
		}
	}
}
