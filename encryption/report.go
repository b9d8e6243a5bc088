package encryption

import (
	"context"
	"fmt"
	"io"
	"sort"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// SecretsPrefix is where the API server keeps Secrets in etcd.
const SecretsPrefix = "/registry/secrets/"

// Report is `secrets-encryption status`: the keys, and how each Secret in
// etcd is stored. Its JSON form is stable.
type Report struct {
	Enabled bool   `json:"enabled"`
	File    string `json:"file,omitempty"`
	// Keys are provider/name, the encrypting one first.
	Keys []string `json:"keys,omitempty"`
	// Secrets counts the Secrets in etcd by the key that encrypted them:
	// a key's provider/name, "identity" for none, "unknown" for a key the
	// file no longer has.
	Secrets map[string]int `json:"secrets"`
	// Reencrypt says a `reencrypt` would change something: a Secret is not
	// under the encrypting key.
	Reencrypt bool `json:"reencryptNeeded"`
}

// Count reads every Secret's stored form from etcd, a page at a time, and
// counts them by key. Only the prefix of each value is looked at.
func Count(ctx context.Context, kv clientv3.KV, keys []Key) (map[string]int, error) {
	counts := map[string]int{}
	end := clientv3.GetPrefixRangeEnd(SecretsPrefix)
	from := SecretsPrefix
	for {
		resp, err := kv.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(200))
		if err != nil {
			return nil, fmt.Errorf("read the Secrets from etcd: %w", err)
		}
		for _, e := range resp.Kvs {
			counts[KeyOf(e.Value, keys)]++
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return counts, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// NewReport builds a Report from the keys and the counts.
func NewReport(file string, keys []Key, counts map[string]int) Report {
	r := Report{Enabled: len(keys) > 0, File: file, Secrets: counts}
	for _, k := range keys {
		r.Keys = append(r.Keys, k.String())
	}
	for key, n := range counts {
		if n > 0 && r.Enabled && key != r.Keys[0] {
			r.Reencrypt = true
		}
	}
	return r
}

// WriteText prints the report for a person.
func (r Report) WriteText(w io.Writer) error {
	if !r.Enabled {
		_, err := fmt.Fprintf(w, "Secrets encryption: off (%d Secrets stored unencrypted)\n", r.Secrets["identity"])
		return err
	}
	fmt.Fprintf(w, "Secrets encryption: on\nKeys (%s):\n", r.File)
	for i, k := range r.Keys {
		role := "decrypts"
		if i == 0 {
			role = "encrypts new writes"
		}
		fmt.Fprintf(w, "  %-40s %s\n", k, role)
	}
	fmt.Fprintln(w, "Secrets in etcd:")
	names := make([]string, 0, len(r.Secrets))
	for k := range r.Secrets {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %-40s %d\n", k, r.Secrets[k])
	}
	if r.Reencrypt {
		_, err := fmt.Fprintln(w, "Some Secrets are not under the encrypting key: run `kubestrap secrets-encryption reencrypt`")
		return err
	}
	return nil
}

// Reencrypt rewrites every Secret through the API server unchanged, which
// stores it again under the encrypting key. A Secret changed or deleted
// meanwhile was rewritten by that change already. It returns how many it
// rewrote.
func Reencrypt(ctx context.Context, c kubernetes.Interface, out io.Writer) (int, error) {
	n, cont := 0, ""
	for {
		list, err := c.CoreV1().Secrets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 200, Continue: cont})
		if err != nil {
			return n, fmt.Errorf("list Secrets: %w", err)
		}
		for i := range list.Items {
			if err := rewrite(ctx, c, &list.Items[i]); err != nil {
				return n, err
			}
			n++
		}
		if cont = list.Continue; cont == "" {
			fmt.Fprintf(out, "[reencrypt] rewrote %d Secrets\n", n)
			return n, nil
		}
	}
}

func rewrite(ctx context.Context, c kubernetes.Interface, s *corev1.Secret) error {
	_, err := c.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rewrite Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}
