package cgroups

import (
	"fmt"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fscommon"
)

// checkMemoryUsage applies linux.resources.memory.checkBeforeUpdate for
// every driver on v1 and v2: a memory or memory+swap limit at or below
// the container's current usage is refused, naming the field, in runc's
// words ("rejecting memory limit N <= usage M", which runc's own tests
// match). As in runc the memory+swap limit is checked first and, on v2,
// against memory.current; an unreadable usage (no cgroup yet) is no
// refusal: the check is best effort, as runc's.
func checkMemoryUsage(dir string, v2 bool, r *lib.Resources) error {
	if !r.MemoryCheckBeforeUpdate || dir == "" || (r.Memory <= 0 && r.MemorySwap <= 0) {
		return nil
	}
	usageFile, swapFile := "memory.usage_in_bytes", "memory.memsw.usage_in_bytes"
	if v2 {
		usageFile, swapFile = "memory.current", "memory.current"
	}
	if r.MemorySwap > 0 {
		if sw, err := fscommon.GetCgroupParamUint(dir, swapFile); err == nil && uint64(r.MemorySwap) <= sw {
			return fmt.Errorf("linux.resources.memory.swap (checkBeforeUpdate): rejecting memory+swap limit %d <= usage %d", r.MemorySwap, sw)
		}
	}
	if r.Memory > 0 {
		if usage, err := fscommon.GetCgroupParamUint(dir, usageFile); err == nil && uint64(r.Memory) <= usage {
			return fmt.Errorf("linux.resources.memory.limit (checkBeforeUpdate): rejecting memory limit %d <= usage %d", r.Memory, usage)
		}
	}
	return nil
}
