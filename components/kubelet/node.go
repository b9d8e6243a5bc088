package kubelet

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/hostfs"
)

// WaitNode waits until the Node object exists (the kubelet registered).
func WaitNode(ctx context.Context, c kubernetes.Interface, name string, interval time.Duration) (*corev1.Node, error) {
	for {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node %s did not register: %w (last error: %v)", name, ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// ClientCurrent is the kubelet's rotated client certificate.
const ClientCurrent = "/var/lib/kubelet/pki/kubelet-client-current.pem"

// FinalizeKubeconfig points kubelet.conf at the rotated certificate
// file instead of the embedded one, once the kubelet has written it, so
// that rotation keeps the kubeconfig valid. It waits for the file.
func FinalizeKubeconfig(ctx context.Context, path, current string) (bool, error) {
	for {
		if _, err := os.Stat(current); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("the kubelet did not write %s: %w", current, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return false, err
	}
	changed := false
	for _, a := range kc.AuthInfos {
		if a.ClientCertificate != current || len(a.ClientCertificateData) > 0 {
			a.ClientCertificate, a.ClientKey = current, current
			a.ClientCertificateData, a.ClientKeyData = nil, nil
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return false, err
	}
	return true, hostfs.WriteFileAtomic(path, data, 0o600)
}
