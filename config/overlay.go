package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// Overlay lays own over base, field by field (through their JSON forms),
// into out: a field own sets wins, every other field of base is kept. This
// is how a user's KubeletConfiguration or KubeProxyConfiguration meets the
// settings kubestrap must own. It names each field base set to another
// value than own's, as "field: yours X, kubestrap's Y".
func Overlay(base, own, out any) ([]string, error) {
	b, err := asMap(base)
	if err != nil {
		return nil, err
	}
	o, err := asMap(own)
	if err != nil {
		return nil, err
	}
	var overridden []string
	merge(b, o, "", &overridden)
	sort.Strings(overridden)
	data, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return overridden, json.Unmarshal(data, out)
}

func asMap(v any) (map[string]any, error) {
	m := map[string]any{}
	if v == nil || reflect.ValueOf(v).IsNil() {
		return m, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return m, json.Unmarshal(data, &m)
}

func merge(base, own map[string]any, at string, overridden *[]string) {
	for k, ov := range own {
		path := k
		if at != "" {
			path = at + "." + k
		}
		bv, set := base[k]
		bm, bIsMap := bv.(map[string]any)
		om, oIsMap := ov.(map[string]any)
		switch {
		case bIsMap && oIsMap:
			merge(bm, om, path, overridden)
			continue
		case set && !reflect.DeepEqual(bv, ov):
			*overridden = append(*overridden, fmt.Sprintf("%s: yours %s, kubestrap's %s", path, compact(bv), compact(ov)))
		}
		base[k] = ov
	}
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
