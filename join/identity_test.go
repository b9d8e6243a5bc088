package join

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testNode(name, machineID, uuid, macs string) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}}
	n.Status.NodeInfo.MachineID, n.Status.NodeInfo.SystemUUID = machineID, uuid
	if macs != "" {
		n.Annotations[MACAnnotation] = macs
	}
	return n
}

func TestCheckIdentity(t *testing.T) {
	me := Identity{MachineID: "m-me", ProductUUID: "u-me", MACHashes: []string{HashMAC("02:42:ac:11:00:04"), "h2"}}
	nodes := []corev1.Node{testNode("cp-1", "m-cp", "u-cp", "a,b"), testNode("worker-1", "m-w1", "u-w1", "c")}
	tests := []struct {
		name, nodeName string
		extra          corev1.Node
		want           string // "" = accepted
		self           bool
	}{
		{"fresh", "worker-2", corev1.Node{}, "", false},
		{"same name, other machine", "worker-1", corev1.Node{}, "node worker-1 already has this host's name", false},
		{"clone by machine-id", "worker-2", testNode("worker-9", "m-me", "x", ""), "node worker-9 already has this host's machine-id", false},
		{"clone by product_uuid", "worker-2", testNode("worker-9", "m-9", "U-ME", ""), "product_uuid", false},
		{"clone by MAC", "worker-2", testNode("worker-9", "m-9", "u-9", "zz,h2"), "MAC address", false},
		{"myself", "worker-2", testNode("worker-2", "m-me", "u-me", ""), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := append([]corev1.Node{}, nodes...)
			if tt.extra.Name != "" {
				all = append(all, tt.extra)
			}
			self, err := CheckIdentity(tt.nodeName, me, all)
			if tt.want == "" {
				if err != nil || (self != nil) != tt.self {
					t.Fatalf("got self=%v err=%v", self, err)
				}
				return
			}
			var ce *CollisionError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "systemd-machine-id-setup") &&
				ce.What != "name" {
				t.Errorf("got %v, want %q with a fix", err, tt.want)
			}
		})
	}
}

func TestHashMACStable(t *testing.T) {
	if HashMAC("02:42:AC:11:00:04") != HashMAC("02:42:ac:11:00:04") || len(HashMAC("x")) != 16 {
		t.Error("MAC hash not case-insensitive or not 16 hex characters")
	}
}
