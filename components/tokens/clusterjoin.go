package tokens

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"

	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/join"
)

// AdminClient is a client from the admin kubeconfig at path, for the token
// commands; a failure says where they must run.
func AdminClient(path string) (kubernetes.Interface, error) {
	c, err := apply.ClientFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (run this on a control-plane node, or pass --kubeconfig)", err)
	}
	return c, nil
}

// JoinInfoFromCluster builds the join command for token from cluster-info:
// its endpoint is the one nodes use, and its CA is the one they pin. A
// token with ttl 0 never expires.
func JoinInfoFromCluster(ctx context.Context, c kubernetes.Interface, token string, ttl time.Duration,
	now time.Time) (JoinInfo, error) {
	cm, err := c.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
	if err != nil {
		return JoinInfo{}, fmt.Errorf("read cluster-info: %w", err)
	}
	ci, err := join.ParseClusterInfoKubeconfig([]byte(cm.Data[bootstrapapi.KubeConfigKey]))
	if err != nil {
		return JoinInfo{}, err
	}
	var expires time.Time
	if ttl > 0 {
		expires = now.Add(ttl)
	}
	return NewJoinInfo(strings.TrimPrefix(ci.Server, "https://"), token, ci.CA, expires), nil
}
