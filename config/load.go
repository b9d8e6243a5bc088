package config

import (
	"bytes"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// ReadFile reads and decodes a config file, naming the file in errors.
func ReadFile(path string) (*Documents, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	docs, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return docs, nil
}

// InitFrom builds init documents from a decoded file (nil for none). A
// JoinConfiguration in an init file is an error: it would be ignored, and a
// silently ignored setting is worse than a refusal.
func InitFrom(docs *Documents) (*Init, error) {
	c := &Init{}
	if docs == nil {
		return c, nil
	}
	if docs.Join != nil {
		return nil, &DecodeError{Msg: "a JoinConfiguration is not used by init",
			Hint: "remove it, or pass the file to `kubestrap join`"}
	}
	if docs.Init != nil {
		c.InitConfiguration = *docs.Init
	}
	if docs.Cluster != nil {
		c.Cluster = *docs.Cluster
	}
	c.SkipPhases = append(c.SkipPhases, docs.SkipPhases...)
	c.Warnings = docs.Warnings
	if docs.Kubelet != nil {
		if c.Cluster.KubeletConfiguration != nil {
			return nil, &DecodeError{Msg: "a KubeletConfiguration document and ClusterConfiguration.kubeletConfiguration",
				Hint: "keep one of the two"}
		}
		c.Cluster.KubeletConfiguration = docs.Kubelet
	}
	if docs.KubeProxy != nil {
		if c.Cluster.KubeProxyConfiguration != nil {
			return nil, &DecodeError{Msg: "a KubeProxyConfiguration document and ClusterConfiguration.kubeProxyConfiguration",
				Hint: "keep one of the two"}
		}
		c.Cluster.KubeProxyConfiguration = docs.KubeProxy
	}
	return c, nil
}

// JoinFrom builds a JoinConfiguration from a decoded file (nil for none).
func JoinFrom(docs *Documents) (*JoinConfiguration, error) {
	c := &JoinConfiguration{}
	if docs == nil {
		return c, nil
	}
	if docs.Init != nil || docs.Cluster != nil {
		return nil, &DecodeError{Msg: "join reads only a JoinConfiguration",
			Hint: "the cluster's settings come from the cluster itself; remove the other documents"}
	}
	if docs.Join != nil {
		c = docs.Join
	}
	c.Warnings = docs.Warnings
	const ignored = " is read by init, which sets it for the cluster; join ignores it"
	if docs.Kubelet != nil {
		c.Warnings = append(c.Warnings, KindKubelet+ignored)
	}
	if docs.KubeProxy != nil {
		c.Warnings = append(c.Warnings, KindKubeProxy+ignored)
	}
	return c, nil
}

// MarshalInit renders the init documents as a two-document YAML file.
func MarshalInit(c *Init) ([]byte, error) {
	return marshalDocs(&c.InitConfiguration, &c.Cluster)
}

// MarshalJoin renders a JoinConfiguration as YAML.
func MarshalJoin(c *JoinConfiguration) ([]byte, error) {
	return marshalDocs(c)
}

func marshalDocs(docs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// LoadInit is the one road from a config file (may be "") and flag overrides
// to validated init documents: decode, apply flags, default, validate.
// Flags win over the file because they are applied before defaulting.
func LoadInit(path string, overrides func(*Init)) (*Init, error) {
	var docs *Documents
	if path != "" {
		var err error
		if docs, err = ReadFile(path); err != nil {
			return nil, err
		}
	}
	c, err := InitFrom(docs)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if overrides != nil {
		overrides(c)
	}
	SetInitDefaults(c)
	if err := ValidateInit(c); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadJoin is LoadInit's counterpart for join.
func LoadJoin(path string, overrides func(*JoinConfiguration)) (*JoinConfiguration, error) {
	var docs *Documents
	if path != "" {
		var err error
		if docs, err = ReadFile(path); err != nil {
			return nil, err
		}
	}
	c, err := JoinFrom(docs)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if overrides != nil {
		overrides(c)
	}
	SetJoinDefaults(c)
	if err := ValidateJoin(c); err != nil {
		return nil, err
	}
	return c, nil
}
