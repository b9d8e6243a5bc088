package config

import "fmt"

// CheckUpgrade checks a control-plane version change under kubeadm's
// rules: at most one minor version up at a time (the API server's storage
// migrations and the skew policy assume every minor is passed through),
// never a minor down (etcd's data and the API objects of the newer
// version may not be readable by the older one). A patch change either
// way within a minor is allowed, and the same version is a no-op.
func CheckUpgrade(from, to string) error {
	f, err := parseVersion(from)
	if err != nil {
		return fmt.Errorf("the cluster's version: %w", err)
	}
	t, err := ParseKubernetesVersion(to)
	if err != nil {
		return fmt.Errorf("%w: kubestrap upgrades to v1.%d to v1.%d", err, MinSupportedMinor, MaxSupportedMinor)
	}
	switch {
	case t.Major != f.Major:
		return fmt.Errorf("%s to %s changes the major version", f, t)
	case t.Minor > f.Minor+1:
		return fmt.Errorf("%s to %s skips %d minor versions: upgrade one minor at a time (first to v%d.%d.x)",
			f, t, t.Minor-f.Minor-1, f.Major, f.Minor+1)
	case t.Minor < f.Minor:
		return fmt.Errorf("%s to %s is a downgrade of the minor version, which etcd's data and the API objects "+
			"written by %s may not survive: restore an etcd snapshot taken before the upgrade instead "+
			"(kubestrap etcd snapshot restore)", f, t, f)
	}
	return nil
}

// NewerMinor says whether version a is of a later minor than b (both
// release versions; an unparsable one is never newer).
func NewerMinor(a, b string) bool {
	va, err1 := parseVersion(a)
	vb, err2 := parseVersion(b)
	return err1 == nil && err2 == nil && (va.Major > vb.Major || va.Major == vb.Major && va.Minor > vb.Minor)
}

// Newer says whether release version a is later than b.
func Newer(a, b string) bool {
	va, err1 := parseVersion(a)
	vb, err2 := parseVersion(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return fmt.Sprintf("%05d%05d%05d", va.Major, va.Minor, va.Patch) > fmt.Sprintf("%05d%05d%05d", vb.Major, vb.Minor, vb.Patch)
}
