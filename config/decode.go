package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

// DecodeError is a problem with the shape of a config file: not YAML, an
// unknown kind, an unknown field. Line is 1-based, 0 when unknown.
type DecodeError struct {
	Line int
	Msg  string
	Hint string
}

func (e *DecodeError) Error() string {
	s := e.Msg
	if e.Line > 0 {
		s = fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Documents is what a config file holds; absent documents are nil.
type Documents struct {
	Init    *InitConfiguration
	Cluster *ClusterConfiguration
	Join    *JoinConfiguration
	// The components' own documents, as kubeadm's --config takes them.
	Kubelet   *kubeletv1beta1.KubeletConfiguration
	KubeProxy *kubeproxyv1alpha1.KubeProxyConfiguration
	// Warnings name what was read but ignored (kubeadm's fields kubestrap
	// lacks); SkipPhases are phases kubeadm's settings turned off.
	Warnings   []string
	SkipPhases []string
}

// Decode parses a multi-document YAML config strictly: every document must
// carry apiVersion kubestrap.io/v1alpha1 and a known kind, each kind may
// appear once, and an unknown or duplicate field is an error naming the
// field and its line.
func Decode(data []byte) (*Documents, error) {
	docs := &Documents{}
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	for {
		var node yamlv3.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &DecodeError{Msg: "not valid YAML: " + err.Error(), Hint: "check indentation and quoting"}
		}
		if err := decodeDocument(&node, docs); err != nil {
			return nil, err
		}
	}
	if docs.Init == nil && docs.Cluster == nil && docs.Join == nil && docs.Kubelet == nil && docs.KubeProxy == nil {
		return nil, &DecodeError{Msg: "no configuration documents found",
			Hint: "the file needs at least one document with apiVersion " + APIVersion + " and a kind"}
	}
	return docs, nil
}

func decodeDocument(node *yamlv3.Node, docs *Documents) error {
	if node.Kind == yamlv3.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node.Kind == 0 || (node.Kind == yamlv3.ScalarNode && node.Tag == "!!null") {
		return nil // an empty document between separators
	}
	if node.Kind != yamlv3.MappingNode {
		return &DecodeError{Line: node.Line, Msg: "a document must be a mapping of fields"}
	}
	apiVersion, kind := scalarField(node, "apiVersion"), scalarField(node, "kind")
	if err := checkTypeMeta(node.Line, apiVersion, kind); err != nil {
		return err
	}
	target, err := docs.target(apiVersion, kind, node.Line)
	if err != nil {
		return err
	}
	if apiVersion == KubeadmAPIVersion {
		if err := kubeadmDoc(node, kind, docs); err != nil {
			return err
		}
	}
	if err := checkFields(node, reflect.TypeOf(target).Elem(), ""); err != nil {
		return err
	}
	raw, err := yamlv3.Marshal(node)
	if err != nil {
		return &DecodeError{Line: node.Line, Msg: err.Error()}
	}
	if err := yaml.UnmarshalStrict(raw, target); err != nil {
		return &DecodeError{Line: node.Line, Msg: fmt.Sprintf("%s: %v", kind, cleanJSONError(err))}
	}
	if apiVersion == KubeadmAPIVersion {
		setAPIVersion(target) // from here on it is kubestrap's document
	}
	return nil
}

// target is where a document decodes: kubestrap's (or kubeadm's, into
// kubestrap's types) or a component's.
func (d *Documents) target(apiVersion, kind string, line int) (any, error) {
	want := map[string]string{KindKubelet: KubeletAPIVersion, KindKubeProxy: KubeProxyAPIVersion}[kind]
	switch {
	case want != "" && apiVersion != want:
		return nil, &DecodeError{Line: line, Msg: kind + " with apiVersion " + apiVersion, Hint: "use `apiVersion: " + want + "`"}
	case want != "":
		return d.componentSlot(kind, line)
	case apiVersion == KubeletAPIVersion || apiVersion == KubeProxyAPIVersion:
		return nil, &DecodeError{Line: line, Msg: "kind " + kind + " under apiVersion " + apiVersion,
			Hint: "use kind " + KindKubelet + " or " + KindKubeProxy}
	}
	return d.slot(kind, line)
}

func setAPIVersion(target any) {
	switch t := target.(type) {
	case *InitConfiguration:
		t.APIVersion = APIVersion
	case *ClusterConfiguration:
		t.APIVersion = APIVersion
	case *JoinConfiguration:
		t.APIVersion = APIVersion
	}
}

func checkTypeMeta(line int, apiVersion, kind string) error {
	switch {
	case apiVersion == "":
		return &DecodeError{Line: line, Msg: "document has no apiVersion", Hint: "add `apiVersion: " + APIVersion + "`"}
	case strings.HasPrefix(apiVersion, "kubeadm.k8s.io/") && apiVersion != KubeadmAPIVersion:
		return &DecodeError{Line: line, Msg: "apiVersion " + apiVersion + " is an older kubeadm config",
			Hint: "kubestrap reads " + KubeadmAPIVersion + ": convert it with `kubeadm config migrate --old-config FILE " +
				"--new-config NEW`, or write `apiVersion: " + APIVersion + "`"}
	case apiVersion != APIVersion && apiVersion != KubeadmAPIVersion && apiVersion != KubeletAPIVersion &&
		apiVersion != KubeProxyAPIVersion:
		return &DecodeError{Line: line, Msg: "unsupported apiVersion " + apiVersion, Hint: "use `apiVersion: " + APIVersion +
			"` (or kubeadm's " + KubeadmAPIVersion + ", " + KubeletAPIVersion + ", " + KubeProxyAPIVersion + ")"}
	case kind == "":
		return &DecodeError{Line: line, Msg: "document has no kind",
			Hint: "add `kind:` with one of " + KindInit + ", " + KindCluster + ", " + KindJoin}
	}
	return nil
}

func (d *Documents) slot(kind string, line int) (any, error) {
	dup := func() error {
		return &DecodeError{Line: line, Msg: "a second " + kind + " document", Hint: "merge the two into one"}
	}
	switch kind {
	case KindInit:
		if d.Init != nil {
			return nil, dup()
		}
		d.Init = &InitConfiguration{}
		return d.Init, nil
	case KindCluster:
		if d.Cluster != nil {
			return nil, dup()
		}
		d.Cluster = &ClusterConfiguration{}
		return d.Cluster, nil
	case KindJoin:
		if d.Join != nil {
			return nil, dup()
		}
		d.Join = &JoinConfiguration{}
		return d.Join, nil
	}
	return nil, &DecodeError{Line: line, Msg: "unknown kind " + kind,
		Hint: "use one of " + KindInit + ", " + KindCluster + ", " + KindJoin}
}

func scalarField(m *yamlv3.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yamlv3.ScalarNode {
			return m.Content[i+1].Value
		}
	}
	return ""
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
var jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

// checkFields walks a YAML node against the Go type it will decode into and
// reports the first unknown or repeated field with its line and path. The
// JSON-based decoder that does the real work loses line numbers, so this
// walk exists only to point the user at the right line.
func checkFields(n *yamlv3.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil // e.g. metav1.Duration: a scalar with its own syntax
	}
	switch t.Kind() {
	case reflect.Struct:
		return checkStruct(n, t, path)
	case reflect.Slice:
		if n.Kind != yamlv3.SequenceNode {
			return nil // a type mismatch: the strict decoder names it
		}
		for i, item := range n.Content {
			if err := checkFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkStruct(n *yamlv3.Node, t reflect.Type, path string) error {
	if n.Kind != yamlv3.MappingNode {
		return nil
	}
	fields := jsonFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		full := strings.TrimPrefix(path+"."+k.Value, ".")
		if prev, ok := seen[k.Value]; ok {
			return &DecodeError{Line: k.Line, Msg: fmt.Sprintf("field %q repeats line %d", full, prev), Hint: "keep one"}
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			return &DecodeError{Line: k.Line, Msg: fmt.Sprintf("unknown field %q", full), Hint: suggest(k.Value, fields)}
		}
		if err := checkFields(v, ft, full); err != nil {
			return err
		}
	}
	return nil
}

// jsonFields maps the JSON names of a struct's fields, inlined ones included.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// suggest names a known field that differs only in case, the commonest slip
// (advertiseAddress vs AdvertiseAddress), or lists the valid ones.
func suggest(bad string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		if strings.EqualFold(k, bad) {
			return fmt.Sprintf("did you mean %q? field names are case-sensitive", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	return "valid fields here: " + strings.Join(names, ", ")
}

func cleanJSONError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "error unmarshaling JSON: ")
	return strings.TrimPrefix(s, "while decoding JSON: ")
}
