package layout

import "testing"

// The names are in users' --ignore-preflight-errors lists: they never change.
func TestCheckNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{PortCheck(APIServerPort), "Port-6443"},
		{PortCheck(EtcdClientPort), "Port-2379"},
		{PortCheck(EtcdPeerPort), "Port-2380"},
		{PortCheck(KubeletPort), "Port-10250"},
		{PortCheck(ControllerManagerPort), "Port-10257"},
		{PortCheck(SchedulerPort), "Port-10259"},
		{FileAvailableCheck(KubeletConfPath), "FileAvailable--etc-kubernetes-kubelet.conf"},
		{FileAvailableCheck(CACertPath), "FileAvailable--etc-kubernetes-pki-ca.crt"},
		{DirAvailableCheck(ManifestDir), "DirAvailable--etc-kubernetes-manifests"},
		{DirAvailableCheck("/var/lib/etcd"), "DirAvailable--var-lib-etcd"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestPaths(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ManifestDir, "/etc/kubernetes/manifests"},
		{PKIDir, "/etc/kubernetes/pki"},
		{AdminConfPath, "/etc/kubernetes/admin.conf"},
		{BootstrapKubeletConfPath, "/etc/kubernetes/bootstrap-kubelet.conf"},
		{KubeletPKIDir, "/var/lib/kubelet/pki"},
		{KubeletConfigPath, "/var/lib/kubelet/config.yaml"},
		{KubeletClientCurrent, "/var/lib/kubelet/pki/kubelet-client-current.pem"},
		{KubeletUnitPath, "/etc/systemd/system/kubelet.service"},
		{KubeletDropInPath, "/etc/systemd/system/kubelet.service.d/10-kubestrap.conf"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
