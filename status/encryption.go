package status

import (
	"context"

	"github.com/kubestrap/kubestrap/encryption"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/staticpods"
)

// SecretsEncryption reports this control plane's encryption keys and how
// the Secrets in etcd are stored, read through this node's etcd member.
func SecretsEncryption(ctx context.Context, root node.Root) (encryption.Report, error) {
	file, err := staticpods.EncryptionConfigPath(root)
	if err != nil {
		return encryption.Report{}, err
	}
	var keys []encryption.Key
	if file != "" {
		if keys, err = encryption.Read(file); err != nil {
			return encryption.Report{}, err
		}
	}
	le, err := staticpods.LocalMember(root)
	if err != nil {
		return encryption.Report{}, err
	}
	c, err := etcd.Client(le.Endpoints[:1], le.HostTLS(root))
	if err != nil {
		return encryption.Report{}, err
	}
	defer func() { _ = c.Close() }()
	counts, err := encryption.Count(ctx, c, keys)
	if err != nil {
		return encryption.Report{}, err
	}
	return encryption.NewReport(file, keys, counts), nil
}
