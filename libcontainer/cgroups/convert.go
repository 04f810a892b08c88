package cgroups

import (
	"fmt"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// toLib converts spec resources into the library's Resources. Values are
// taken as they are (v1 meaning); v2 conversions happen in the v2 manager.
// withDevices adds the device rules (spec rules + defaults + linux.devices);
// without it the device setup is left untouched (SkipDevices).
func toLib(r *specs.LinuxResources, devs []specs.LinuxDevice, withDevices bool) (*lib.Resources, error) {
	res := &lib.Resources{SkipDevices: !withDevices}
	if withDevices {
		rules, err := deviceRules(r, devs)
		if err != nil {
			return nil, err
		}
		res.Devices = rules
	}
	if r == nil {
		return res, nil
	}
	if m := r.Memory; m != nil {
		if err := memoryToLib(m, res); err != nil {
			return nil, err
		}
	}
	if c := r.CPU; c != nil {
		cpuToLib(c, res)
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		// runtime-spec 1.3: -1 means no limit and 0 is a real limit. As
		// runc 1.4 does, 0 becomes 1 (systemd has no TasksMax=0; the
		// init process already counts as one task, so no fork succeeds
		// either way); any other negative value means no limit.
		v := *p.Limit
		switch {
		case v == 0:
			v = 1
		case v < 0:
			v = -1
		}
		res.PidsLimit = &v
	}
	if b := r.BlockIO; b != nil {
		blockIOToLib(b, res)
	}
	for _, h := range r.HugepageLimits {
		res.HugetlbLimit = append(res.HugetlbLimit, &lib.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			res.NetClsClassid = *n.ClassID
		}
		for _, p := range n.Priorities {
			res.NetPrioIfpriomap = append(res.NetPrioIfpriomap, &lib.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
		}
	}
	if len(r.Rdma) > 0 {
		res.Rdma = map[string]lib.LinuxRdma{}
		for dev, l := range r.Rdma {
			res.Rdma[dev] = lib.LinuxRdma{HcaHandles: l.HcaHandles, HcaObjects: l.HcaObjects}
		}
	}
	if len(r.Unified) > 0 {
		res.Unified = map[string]string{}
		for k, v := range r.Unified {
			res.Unified[k] = v
		}
	}
	return res, nil
}

func memoryToLib(m *specs.LinuxMemory, res *lib.Resources) error {
	res.Memory = i64(m.Limit)
	res.MemoryReservation = i64(m.Reservation)
	res.MemorySwap = i64(m.Swap)
	if m.Swappiness != nil {
		if *m.Swappiness > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness: %d is out of range 0-100", *m.Swappiness)
		}
		v := *m.Swappiness
		res.MemorySwappiness = &v
	}
	res.OomKillDisable = m.DisableOOMKiller != nil && *m.DisableOOMKiller
	res.MemoryCheckBeforeUpdate = m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate
	return nil
}

func cpuToLib(c *specs.LinuxCPU, res *lib.Resources) {
	res.CpuShares = u64(c.Shares)
	res.CpuQuota = i64(c.Quota)
	res.CpuPeriod = u64(c.Period)
	res.CpuRtRuntime = i64(c.RealtimeRuntime)
	res.CpuRtPeriod = u64(c.RealtimePeriod)
	res.CpusetCpus = c.Cpus
	res.CpusetMems = c.Mems
	if c.Burst != nil {
		v := *c.Burst
		res.CpuBurst = &v
	}
	if c.Idle != nil {
		v := *c.Idle
		res.CPUIdle = &v
	}
}

func blockIOToLib(b *specs.LinuxBlockIO, res *lib.Resources) {
	res.BlkioWeight = u16(b.Weight)
	res.BlkioLeafWeight = u16(b.LeafWeight)
	for _, wd := range b.WeightDevice {
		res.BlkioWeightDevice = append(res.BlkioWeightDevice,
			lib.NewWeightDevice(wd.Major, wd.Minor, u16(wd.Weight), u16(wd.LeafWeight)))
	}
	res.BlkioThrottleReadBpsDevice = throttles(b.ThrottleReadBpsDevice)
	res.BlkioThrottleWriteBpsDevice = throttles(b.ThrottleWriteBpsDevice)
	res.BlkioThrottleReadIOPSDevice = throttles(b.ThrottleReadIOPSDevice)
	res.BlkioThrottleWriteIOPSDevice = throttles(b.ThrottleWriteIOPSDevice)
}

func throttles(in []specs.LinuxThrottleDevice) []*lib.ThrottleDevice {
	var out []*lib.ThrottleDevice
	for _, t := range in {
		out = append(out, lib.NewThrottleDevice(t.Major, t.Minor, t.Rate))
	}
	return out
}

func i64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func u64(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func u16(p *uint16) uint16 {
	if p == nil {
		return 0
	}
	return *p
}
