// Package numa holds the memory-policy tables and the node-list parser
// that both config validation (specs) and init (initproc) use, so the two
// cannot disagree on a mode's value or a list's meaning.
package numa

import (
	"fmt"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Modes are the set_mempolicy(2) modes of the spec, by value.
var Modes = map[rspec.MemoryPolicyModeType]int{
	rspec.MpolDefault: 0, rspec.MpolPreferred: 1, rspec.MpolBind: 2, rspec.MpolInterleave: 3,
	rspec.MpolLocal: 4, rspec.MpolPreferredMany: 5, rspec.MpolWeightedInterleave: 6,
}

// Flags are the mode flags of the spec, by value (or'ed into the mode
// argument).
var Flags = map[rspec.MemoryPolicyFlagType]int{
	rspec.MpolFStaticNodes: 1 << 15, rspec.MpolFRelativeNodes: 1 << 14, rspec.MpolFNumaBalancing: 1 << 13,
}

// MaxNodes bounds a node list (the kernel's MAX_NUMNODES is at most 1024).
const MaxNodes = 1024

// ParseList reads a CPU or node list such as "0-3,7" into its members,
// each below limit.
func ParseList(s string, limit int) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty list")
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a {
			return nil, fmt.Errorf("bad list %q", s)
		}
		if b >= limit {
			return nil, fmt.Errorf("%d is out of range (0-%d)", b, limit-1)
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}
