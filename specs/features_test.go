package specs

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

func TestFeatures(t *testing.T) {
	yes := true
	sc := &features.Seccomp{Enabled: &yes, Actions: []string{"SCMP_ACT_ALLOW"}}
	cg := &features.Cgroup{V1: &yes}
	f := Features(sc, cg)
	if f.OCIVersionMin != "1.0.0" || f.OCIVersionMax != rspec.Version {
		t.Errorf("versions %q..%q", f.OCIVersionMin, f.OCIVersionMax)
	}
	for _, h := range []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
		if !slices.Contains(f.Hooks, h) {
			t.Errorf("hook %s missing", h)
		}
	}
	for _, o := range []string{"ro", "rbind", "nosuid", "rprivate", "rro", "idmap", "ridmap", "tmpcopyup"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("mount option %s missing", o)
		}
	}
	if !slices.IsSorted(f.MountOptions) {
		t.Error("mount options not sorted")
	}
	l := f.Linux
	if !slices.Equal(l.Namespaces, []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}) {
		t.Errorf("namespaces %v", l.Namespaces)
	}
	for _, c := range []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"} {
		if !slices.Contains(l.Capabilities, c) {
			t.Errorf("capability %s missing", c)
		}
	}
	if l.Seccomp != sc || l.Cgroup != cg {
		t.Error("caller's seccomp/cgroup not used")
	}
	if !*l.Apparmor.Enabled || !*l.Selinux.Enabled || !*l.MountExtensions.IDMap.Enabled {
		t.Error("misreports LSM or idmap support")
	}
	if !*l.IntelRdt.Enabled || !*l.IntelRdt.Schemata || !*l.IntelRdt.Monitoring || !*l.NetDevices.Enabled {
		t.Errorf("intelRdt %+v netDevices %+v: both are implemented", l.IntelRdt, l.NetDevices)
	}
	wantModes := []string{"MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"}
	wantFlags := []string{"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"}
	if l.MemoryPolicy == nil || !slices.Equal(l.MemoryPolicy.Modes, wantModes) || !slices.Equal(l.MemoryPolicy.Flags, wantFlags) {
		t.Errorf("memoryPolicy %+v, want modes %v flags %v", l.MemoryPolicy, wantModes, wantFlags)
	}
	if !slices.Equal(f.PotentiallyUnsafeConfigAnnotations, []string{"bundle", "org.systemd.property.", "org.criu.config"}) {
		t.Errorf("potentiallyUnsafeConfigAnnotations %v", f.PotentiallyUnsafeConfigAnnotations)
	}
	if f.Annotations[VersionAnnotation] != Version {
		t.Errorf("annotations %v", f.Annotations)
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"ociVersionMin":"1.0.0"`, `"namespaces":[`, `"seccomp":{"enabled":true`, `"apparmor":{"enabled":true}`, `"selinux":{"enabled":true}`} {
		if !strings.Contains(string(data), k) {
			t.Errorf("JSON lacks %s: %s", k, data)
		}
	}
	// Every capability we advertise is one validation accepts.
	var p problems
	checkCaps(&p, "x", l.Capabilities)
	if p.err() != nil {
		t.Error(p.err())
	}
}

func TestFeaturesNilMechanisms(t *testing.T) {
	data, err := json.Marshal(Features(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"seccomp"`) || strings.Contains(string(data), `"cgroup":`) {
		t.Errorf("nil mechanisms must be omitted (unknown): %s", data)
	}
}
