package specs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func specFieldsErr(s *rspec.Spec) string {
	var p problems
	checkSpecFields(&p, s)
	if err := p.err(); err != nil {
		return err.Error()
	}
	return ""
}

func TestMemoryPolicyValidation(t *testing.T) {
	nodes := filepath.Join(t.TempDir(), "possible")
	os.WriteFile(nodes, []byte("0-1\n"), 0o644)
	old := NodesFile
	NodesFile = nodes
	defer func() { NodesFile = old }()
	flags := func(f ...rspec.MemoryPolicyFlagType) []rspec.MemoryPolicyFlagType { return f }
	for _, c := range []struct {
		mp   rspec.LinuxMemoryPolicy
		want string // "" = valid
	}{
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolDefault}, ""},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolLocal}, ""},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolPreferred}, ""},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0-1"}, ""},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolInterleave, Nodes: "1", Flags: flags(rspec.MpolFStaticNodes)}, ""},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "5", Flags: flags(rspec.MpolFRelativeNodes)}, ""},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolWeightedInterleave, Nodes: "0", Flags: flags(rspec.MpolFNumaBalancing)}, ""},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolPreferredMany, Nodes: "0,1"}, ""},
		{rspec.LinuxMemoryPolicy{Mode: "MPOL_X"}, "linux.memoryPolicy.mode: unknown mode"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "2"}, "linux.memoryPolicy.nodes: 2 is out of range (0-1): this host has NUMA nodes 0-1"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "x"}, "linux.memoryPolicy.nodes: bad list"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind}, "linux.memoryPolicy.nodes: required"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolDefault, Nodes: "0"}, "linux.memoryPolicy.nodes: must be empty"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolLocal, Flags: flags(rspec.MpolFStaticNodes)}, "linux.memoryPolicy.flags: must be empty"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0", Flags: flags("MPOL_F_X")}, "linux.memoryPolicy.flags[0]: unknown flag"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0", Flags: flags(rspec.MpolFStaticNodes, rspec.MpolFRelativeNodes)}, "exclude each other"},
	} {
		mp := c.mp
		got := specFieldsErr(&rspec.Spec{Linux: &rspec.Linux{MemoryPolicy: &mp}})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.mp, got, c.want)
		}
	}
}

func TestIntelRdtValidation(t *testing.T) {
	old := ResctrlRoot
	ResctrlRoot = t.TempDir() // a directory, not a resctrl mount
	defer func() { ResctrlRoot = old }()
	for _, c := range []struct {
		rdt  rspec.LinuxIntelRdt
		want string
	}{
		{rspec.LinuxIntelRdt{ClosID: "gold"}, "linux.intelRdt: resctrl is not mounted"},
		{rspec.LinuxIntelRdt{ClosID: "a/b"}, "linux.intelRdt.closID"},
		{rspec.LinuxIntelRdt{ClosID: "info"}, "linux.intelRdt.closID"},
		{rspec.LinuxIntelRdt{L3CacheSchema: "MB:0=1"}, "linux.intelRdt.l3CacheSchema"},
		{rspec.LinuxIntelRdt{MemBwSchema: "L3:0=1"}, "linux.intelRdt.memBwSchema"},
		{rspec.LinuxIntelRdt{Schemata: []string{"L3:0=1\nMB:0=2"}}, "linux.intelRdt.schemata[0]"},
	} {
		rdt := c.rdt
		if got := specFieldsErr(&rspec.Spec{Linux: &rspec.Linux{IntelRdt: &rdt}}); !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.rdt, got, c.want)
		}
	}
	if err := ValidateIntelRdtSchemas(&rspec.LinuxIntelRdt{L3CacheSchema: "L3:0=f", MemBwSchema: "MB:0=50"}); err != nil {
		t.Error(err)
	}
}

func TestNetDevicesValidation(t *testing.T) {
	netns := []rspec.LinuxNamespace{{Type: rspec.NetworkNamespace}}
	for _, c := range []struct {
		ns   []rspec.LinuxNamespace
		devs map[string]rspec.LinuxNetDevice
		want string
	}{
		{netns, map[string]rspec.LinuxNetDevice{"eth1": {}, "eth2": {Name: "c%d"}}, ""},
		{nil, map[string]rspec.LinuxNetDevice{"eth1": {}}, "linux.netDevices: requires a new network namespace"},
		{[]rspec.LinuxNamespace{{Type: rspec.NetworkNamespace, Path: "/proc/1/ns/net"}}, map[string]rspec.LinuxNetDevice{"eth1": {}}, "requires a new network namespace"},
		{netns, map[string]rspec.LinuxNetDevice{"eth1": {Name: "lo"}}, "linux.netDevices.eth1.name"},
		{netns, map[string]rspec.LinuxNetDevice{"eth1": {Name: "x"}, "eth2": {Name: "x"}}, `linux.netDevices.eth2.name: "x" is also the name of linux.netDevices.eth1`},
		{netns, map[string]rspec.LinuxNetDevice{"eth1": {Name: "waytoolongname0123"}}, "linux.netDevices.eth1.name"},
		{netns, map[string]rspec.LinuxNetDevice{"a b": {}}, "linux.netDevices.a b"},
	} {
		got := specFieldsErr(&rspec.Spec{Linux: &rspec.Linux{Namespaces: c.ns, NetDevices: c.devs}})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%v %v: %q, want %q", c.ns, c.devs, got, c.want)
		}
	}
}
