package encryption

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// pagedKV serves Get over a sorted key space with WithRange and WithLimit,
// as etcd does; the rest of clientv3.KV is not used.
type pagedKV struct {
	clientv3.KV
	data  map[string]string
	calls int
}

func (f *pagedKV) Get(_ context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	f.calls++
	op := clientv3.OpGet(key, opts...)
	var keys []string
	for k := range f.data {
		if k >= key && k < string(op.RangeBytes()) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	resp := &clientv3.GetResponse{}
	for i, k := range keys {
		if int64(i) == op.Limit() {
			resp.More = true
			break
		}
		resp.Kvs = append(resp.Kvs, &mvccpb.KeyValue{Key: []byte(k), Value: []byte(f.data[k])})
	}
	return resp, nil
}

func TestCountPagesThroughEverySecret(t *testing.T) {
	k, _ := NewKey(AESCBC, t0)
	kv := &pagedKV{data: map[string]string{"/registry/configmaps/default/x": "k8s\x00plain"}}
	for i := 0; i < 450; i++ {
		kv.data[fmt.Sprintf("/registry/secrets/ns/s%03d", i)] = k.Prefix() + "cipher"
	}
	for i := 0; i < 7; i++ {
		kv.data[fmt.Sprintf("/registry/secrets/old/p%d", i)] = "k8s\x00\x0a\x0cv1"
	}
	counts, err := Count(context.Background(), kv, []Key{k})
	if err != nil || counts[k.String()] != 450 || counts["identity"] != 7 || len(counts) != 2 || kv.calls < 3 {
		t.Fatalf("counts %v (%d reads), %v", counts, kv.calls, err)
	}
	r := NewReport("/etc/kubernetes/pki/encryption-config.yaml", []Key{k}, counts)
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil || !r.Reencrypt || !strings.Contains(b.String(), "secrets-encryption reencrypt") {
		t.Errorf("report %+v:\n%s", r, b.String())
	}
	if r := NewReport("f", []Key{k}, map[string]int{k.String(): 3}); r.Reencrypt {
		t.Error("all under the encrypting key, yet reencrypt is asked for")
	}
}

func TestReencryptRewritesEverySecret(t *testing.T) {
	var objs []corev1.Secret
	c := fake.NewSimpleClientset()
	for i := 0; i < 5; i++ {
		s := corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i), Namespace: "ns"}}
		objs = append(objs, s)
		if _, err := c.CoreV1().Secrets("ns").Create(context.Background(), &s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	n, err := Reencrypt(context.Background(), c, &out)
	updates := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "update" && a.GetResource().Resource == "secrets" {
			updates++
		}
	}
	if err != nil || n != len(objs) || updates != len(objs) {
		t.Errorf("rewrote %d (%d updates), %v", n, updates, err)
	}
}
