package renew

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
)

func noClient() (kubernetes.Interface, error) { return nil, errors.New("no admin.conf") }

func clientWith(cluster string) func() (kubernetes.Interface, error) {
	return func() (kubernetes.Interface, error) {
		return fake.NewSimpleClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: controlplane.ClusterConfigMap,
			Namespace: metav1.NamespaceSystem}, Data: map[string]string{controlplane.ConfigMapKey: cluster}}), nil
	}
}

func TestLoadSettingsPrefersTheRecordThenTheClusterThenDefaults(t *testing.T) {
	ctx := context.Background()
	kubeDir := t.TempDir()
	uploaded := clientWith("certificatesDir: /srv/pki\ncertificateValidityPeriod: 3h\n")

	s := LoadSettings(ctx, kubeDir, "", 0, noClient)
	if s.CertDir != config.DefaultCertificatesDir || s.Validity != config.DefaultCertValidity ||
		!strings.Contains(s.Source, "no admin.conf") {
		t.Errorf("defaults: %+v", s)
	}
	if s = LoadSettings(ctx, kubeDir, "", 0, uploaded); s.CertDir != "/srv/pki" || s.Validity != 3*time.Hour {
		t.Errorf("uploaded: %+v", s)
	}
	rec := "apiVersion: kubestrap.io/v1alpha1\nkind: ClusterConfiguration\ncertificateValidityPeriod: 2h\n"
	if err := os.WriteFile(filepath.Join(kubeDir, layout.InitRecord), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	if s = LoadSettings(ctx, kubeDir, "", 0, uploaded); s.CertDir != config.DefaultCertificatesDir ||
		s.Validity != 2*time.Hour || !strings.HasSuffix(s.Source, layout.InitRecord) {
		t.Errorf("record: %+v", s)
	}
	unused := func() (kubernetes.Interface, error) {
		t.Error("read the cluster's configuration although the flags gave everything")
		return noClient()
	}
	if s = LoadSettings(ctx, kubeDir, "/x", 5*time.Hour, unused); s.CertDir != "/x" || s.Validity != 5*time.Hour {
		t.Errorf("flags: %+v", s)
	}
}
