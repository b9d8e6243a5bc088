package join

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/cluster-bootstrap/token/jws"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/config"
)

const token = "abcdef.0123456789abcdef"

// clusterInfo makes a signed cluster-info as init will publish it.
func clusterInfo(t *testing.T) (map[string]string, string) {
	t.Helper()
	c := &config.Init{}
	c.NodeRegistration.Name = "cp-1"
	c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
	c.Cluster.EncryptionAlgorithm = "ECDSA-P256"
	config.SetInitDefaults(c)
	p := certs.New(c, filepath.Join(t.TempDir(), "pki"))
	spec := certs.Tree(c)[0]
	if _, err := p.Ensure(spec, certs.Tree(c)); err != nil {
		t.Fatal(err)
	}
	ca, _, err := p.LoadCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Write(*certs.NewKubeconfig("", "https://192.168.56.10:6443", "", certs.EncodeCert(ca), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jws.ComputeDetachedSignature(string(kc), "abcdef", "0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"kubeconfig": string(kc), "jws-kubeconfig-abcdef": sig}, certs.Pin(ca)
}

func TestVerifyClusterInfo(t *testing.T) {
	data, pin := clusterInfo(t)
	wrong := "sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		name    string
		token   string
		pins    []string
		skip    bool
		mutate  func(map[string]string)
		wantErr error
	}{
		{name: "good", token: token, pins: []string{pin}},
		{name: "second of two pins", token: token, pins: []string{wrong, pin}},
		{name: "wrong pin", token: token, pins: []string{wrong}, wantErr: ErrCAMismatch},
		{name: "no pin, skip allowed", token: token, pins: nil, skip: true},
		{name: "wrong pin is checked despite skip", token: token, pins: []string{wrong}, skip: true, wantErr: ErrCAMismatch},
		{name: "second of two pins with skip", token: token, pins: []string{wrong, pin}, skip: true},
		{name: "unknown token id", token: "zzzzzz.0123456789abcdef", pins: []string{pin}, wantErr: ErrNoSignature},
		{name: "wrong secret", token: "abcdef.aaaaaaaaaaaaaaaa", pins: []string{pin}, wantErr: ErrBadSignature},
		{name: "tampered kubeconfig", token: token, pins: []string{pin}, wantErr: ErrBadSignature,
			mutate: func(d map[string]string) {
				d["kubeconfig"] = strings.Replace(d["kubeconfig"], "192.168.56.10", "192.168.56.66", 1)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := map[string]string{}
			for k, v := range data {
				d[k] = v
			}
			if tt.mutate != nil {
				tt.mutate(d)
			}
			info, err := VerifyClusterInfo(d, tt.token, tt.pins, tt.skip)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || info.Server != "https://192.168.56.10:6443" || certs.Pin(info.CA) != pin {
				t.Fatalf("got %+v %v", info, err)
			}
		})
	}
}

func TestCAMismatchNamesSeenHash(t *testing.T) {
	data, pin := clusterInfo(t)
	_, err := VerifyClusterInfo(data, token, []string{"sha256:" + strings.Repeat("1", 64)}, false)
	if err == nil || !strings.Contains(err.Error(), pin) || !strings.Contains(err.Error(), "impostor") {
		t.Errorf("got %v", err)
	}
}
