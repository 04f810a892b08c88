package initproc

import (
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMemoryPolicyArgs(t *testing.T) {
	cases := []struct {
		mp       rspec.LinuxMemoryPolicy
		mode     int
		bits     []int
		wantFail bool
	}{
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolDefault}, 0, nil, false},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolPreferred, Nodes: "0"}, 1, []int{0}, false},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0-2,7", Flags: []rspec.MemoryPolicyFlagType{rspec.MpolFStaticNodes}}, 2 | 1<<15, []int{0, 1, 2, 7}, false},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolInterleave, Nodes: "65", Flags: []rspec.MemoryPolicyFlagType{rspec.MpolFRelativeNodes}}, 3 | 1<<14, []int{65}, false},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolLocal}, 4, nil, false},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolPreferredMany, Nodes: "1"}, 5, []int{1}, false},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolWeightedInterleave, Nodes: "0", Flags: []rspec.MemoryPolicyFlagType{rspec.MpolFNumaBalancing}}, 6 | 1<<13, []int{0}, false},
		{rspec.LinuxMemoryPolicy{Mode: "MPOL_FOO"}, 0, nil, true},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0", Flags: []rspec.MemoryPolicyFlagType{"MPOL_F_FOO"}}, 0, nil, true},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "3-1"}, 0, nil, true},
	}
	for _, c := range cases {
		mode, mask, maxnode, err := memoryPolicyArgs(&c.mp)
		if c.wantFail {
			if err == nil {
				t.Errorf("%+v: no error", c.mp)
			}
			continue
		}
		if err != nil || mode != c.mode {
			t.Errorf("%+v: mode %#x err %v, want %#x", c.mp, mode, err, c.mode)
			continue
		}
		if c.bits == nil {
			if mask != nil || maxnode != 0 {
				t.Errorf("%+v: mask %v maxnode %d, want none", c.mp, mask, maxnode)
			}
			continue
		}
		n := 0
		for i, w := range mask {
			for b := 0; b < 64; b++ {
				if w&(1<<b) != 0 {
					if n >= len(c.bits) || c.bits[n] != i*64+b {
						t.Errorf("%+v: bit %d set", c.mp, i*64+b)
					}
					n++
				}
			}
		}
		if n != len(c.bits) || maxnode <= c.bits[len(c.bits)-1] {
			t.Errorf("%+v: %d bits, maxnode %d", c.mp, n, maxnode)
		}
	}
}
