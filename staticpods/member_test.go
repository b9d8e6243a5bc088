package staticpods

import (
	"testing"

	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
)

func TestEtcdMemberPodJoinsExistingCluster(t *testing.T) {
	c := testConfig(t, func(c *config.Init) {
		c.NodeRegistration.Name = "cp-2"
		c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.11"
	})
	img, err := images.Images(&c.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	initial := "cp-1=https://192.168.56.10:2380,cp-2=https://192.168.56.11:2380"
	f := flags(EtcdMemberPod(c, img, initial))
	if f["initial-cluster"] != initial || f["initial-cluster-state"] != "existing" ||
		f["initial-advertise-peer-urls"] != "https://192.168.56.11:2380" {
		t.Errorf("member flags %v", f)
	}
	if g := flags(EtcdPod(c, img)); g["initial-cluster"] != "cp-2=https://192.168.56.11:2380" || g["initial-cluster-state"] != "" {
		t.Errorf("a new cluster's etcd: %v", g)
	}
}
