package cgroups

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func unsupported(field, why string) error {
	return fmt.Errorf("linux.resources.%s: not supported by this host (%s)", field, why)
}

// fileIn reports whether a controller file exists in dir, or in its
// nearest existing ancestor when dir is not created yet.
func fileIn(dir, name string) bool {
	if dir == "" {
		return false
	}
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		_, err := os.Stat(filepath.Join(d, name))
		return err == nil
	}
	return false
}

// warnSkipped reports settings that are deprecated everywhere (kernel
// memory limits): the kernel no longer enforces them, runc ignores them.
func warnSkipped(r *specs.LinuxResources, warn func(string)) {
	if r == nil || r.Memory == nil {
		return
	}
	if r.Memory.Kernel != nil {
		warn("linux.resources.memory.kernel: ignored (kernel memory limits are deprecated and not enforced)")
	}
	if r.Memory.KernelTCP != nil {
		warn("linux.resources.memory.kernelTCP: ignored (kernel memory limits are deprecated and not enforced)")
	}
}

// v1Need is one v1 requirement: the field is set and needs file in the
// subsystem's dir (any of alternatives).
type v1Need struct {
	field  string
	set    bool
	subsys string
	files  []string
}

// checkV1 returns an error naming the first requested field the host's
// v1 hierarchies cannot do. hugepageLimits, rdma and unified are checked
// by the manager because hybrid hosts may serve them from cgroup2.
func checkV1(r *specs.LinuxResources, paths map[string]string) error {
	if r == nil {
		return nil
	}
	var needs []v1Need
	if m := r.Memory; m != nil {
		needs = append(needs,
			v1Need{"memory.limit", m.Limit != nil, "memory", []string{"memory.limit_in_bytes"}},
			v1Need{"memory.reservation", m.Reservation != nil, "memory", []string{"memory.soft_limit_in_bytes"}},
			v1Need{"memory.swap", m.Swap != nil, "memory", []string{"memory.memsw.limit_in_bytes"}},
			v1Need{"memory.swappiness", m.Swappiness != nil, "memory", []string{"memory.swappiness"}},
			v1Need{"memory.disableOOMKiller", m.DisableOOMKiller != nil && *m.DisableOOMKiller, "memory", []string{"memory.oom_control"}},
		)
	}
	if c := r.CPU; c != nil {
		needs = append(needs,
			v1Need{"cpu.shares", c.Shares != nil, "cpu", []string{"cpu.shares"}},
			v1Need{"cpu.quota", c.Quota != nil, "cpu", []string{"cpu.cfs_quota_us"}},
			v1Need{"cpu.period", c.Period != nil, "cpu", []string{"cpu.cfs_period_us"}},
			v1Need{"cpu.burst", c.Burst != nil, "cpu", []string{"cpu.cfs_burst_us"}},
			v1Need{"cpu.realtimeRuntime", c.RealtimeRuntime != nil, "cpu", []string{"cpu.rt_runtime_us"}},
			v1Need{"cpu.realtimePeriod", c.RealtimePeriod != nil, "cpu", []string{"cpu.rt_period_us"}},
			v1Need{"cpu.idle", c.Idle != nil, "cpu", []string{"cpu.idle"}},
			v1Need{"cpu.cpus", c.Cpus != "", "cpuset", []string{"cpuset.cpus"}},
			v1Need{"cpu.mems", c.Mems != "", "cpuset", []string{"cpuset.mems"}},
		)
	}
	if p := r.Pids; p != nil {
		needs = append(needs, v1Need{"pids.limit", p.Limit != nil, "pids", []string{"pids.max"}})
	}
	if b := r.BlockIO; b != nil {
		needs = append(needs, blockIOV1Needs(b)...)
	}
	if n := r.Network; n != nil {
		needs = append(needs,
			v1Need{"network.classID", n.ClassID != nil, "net_cls", []string{"net_cls.classid"}},
			v1Need{"network.priorities", len(n.Priorities) > 0, "net_prio", []string{"net_prio.ifpriomap"}},
		)
	}
	if len(r.Devices) > 0 {
		needs = append(needs, v1Need{"devices", true, "devices", []string{"devices.allow"}})
	}
	return checkV1Needs(needs, paths)
}

// checkV1Needs refuses the first set field whose hierarchy or files the
// host lacks.
func checkV1Needs(needs []v1Need, paths map[string]string) error {
	for _, n := range needs {
		if !n.set {
			continue
		}
		dir, ok := paths[n.subsys]
		if !ok {
			return unsupported(n.field, "no "+n.subsys+" cgroup hierarchy")
		}
		found := false
		for _, f := range n.files {
			if fileIn(dir, f) {
				found = true
				break
			}
		}
		if !found {
			return unsupported(n.field, "no "+n.files[0])
		}
	}
	return nil
}

// weightSet says whether a blockIO weight asks for something. 0 is
// runc's "unset" (Docker sends blockIO.weight 0 for every container
// without --blkio-weight) and the library writes nothing for it, so it
// needs no weight file: hosts without BFQ have none.
func weightSet(w *uint16) bool { return w != nil && *w != 0 }

// blockIOV1Needs lists the blkio files each set blockIO field needs.
func blockIOV1Needs(b *specs.LinuxBlockIO) []v1Need {
	needs := []v1Need{
		{"blockIO.weight", weightSet(b.Weight), "blkio", []string{"blkio.weight", "blkio.bfq.weight"}},
		{"blockIO.leafWeight", weightSet(b.LeafWeight), "blkio", []string{"blkio.leaf_weight"}},
	}
	for i, wd := range b.WeightDevice {
		f := fmt.Sprintf("blockIO.weightDevice[%d]", i)
		needs = append(needs,
			v1Need{f + ".weight", weightSet(wd.Weight), "blkio", []string{"blkio.weight_device", "blkio.bfq.weight_device"}},
			v1Need{f + ".leafWeight", weightSet(wd.LeafWeight), "blkio", []string{"blkio.leaf_weight_device"}},
		)
	}
	for _, t := range []struct {
		field string
		n     int
		file  string
	}{
		{"blockIO.throttleReadBpsDevice", len(b.ThrottleReadBpsDevice), "blkio.throttle.read_bps_device"},
		{"blockIO.throttleWriteBpsDevice", len(b.ThrottleWriteBpsDevice), "blkio.throttle.write_bps_device"},
		{"blockIO.throttleReadIOPSDevice", len(b.ThrottleReadIOPSDevice), "blkio.throttle.read_iops_device"},
		{"blockIO.throttleWriteIOPSDevice", len(b.ThrottleWriteIOPSDevice), "blkio.throttle.write_iops_device"},
	} {
		needs = append(needs, v1Need{t.field, t.n > 0, "blkio", []string{t.file}})
	}
	return needs
}

// checkV2 rejects v1-only settings that have no cgroup v2 equivalent and
// warns about those that runc and crun silently drop on v2.
func checkV2(r *specs.LinuxResources, warn func(string)) error {
	if r == nil {
		return nil
	}
	if c := r.CPU; c != nil {
		if c.RealtimeRuntime != nil {
			return unsupported("cpu.realtimeRuntime", "cgroup v2 has no realtime CPU controller")
		}
		if c.RealtimePeriod != nil {
			return unsupported("cpu.realtimePeriod", "cgroup v2 has no realtime CPU controller")
		}
	}
	if b := r.BlockIO; b != nil {
		if weightSet(b.LeafWeight) {
			return unsupported("blockIO.leafWeight", "cgroup v2 has no leaf weight")
		}
		for i, wd := range b.WeightDevice {
			if weightSet(wd.LeafWeight) {
				return unsupported(fmt.Sprintf("blockIO.weightDevice[%d].leafWeight", i), "cgroup v2 has no leaf weight")
			}
		}
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			return unsupported("network.classID", "cgroup v2 has no net_cls controller")
		}
		if len(n.Priorities) > 0 {
			return unsupported("network.priorities", "cgroup v2 has no net_prio controller")
		}
	}
	if m := r.Memory; m != nil {
		if m.Swappiness != nil {
			warn("linux.resources.memory.swappiness: ignored on cgroup v2 (no per-cgroup swappiness)")
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			warn("linux.resources.memory.disableOOMKiller: ignored on cgroup v2 (the OOM killer cannot be disabled per cgroup)")
		}
	}
	return nil
}

// v2Needs lists the v2 controllers each requested field needs.
func v2Needs(r *specs.LinuxResources) map[string]string {
	out := map[string]string{}
	if r == nil {
		return out
	}
	if m := r.Memory; m != nil && (m.Limit != nil || m.Reservation != nil || m.Swap != nil) {
		out["memory"] = "memory"
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil || c.Idle != nil {
			out["cpu"] = "cpu"
		}
		if c.Cpus != "" || c.Mems != "" {
			out["cpu.cpus"] = "cpuset"
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		out["pids"] = "pids"
	}
	if b := r.BlockIO; b != nil && (weightSet(b.Weight) || len(b.WeightDevice) > 0 ||
		len(b.ThrottleReadBpsDevice)+len(b.ThrottleWriteBpsDevice)+len(b.ThrottleReadIOPSDevice)+len(b.ThrottleWriteIOPSDevice) > 0) {
		out["blockIO"] = "io"
	}
	if len(r.HugepageLimits) > 0 {
		out["hugepageLimits"] = "hugetlb"
	}
	if len(r.Rdma) > 0 {
		out["rdma"] = "rdma"
	}
	return out
}
