package cgroups

import lib "github.com/opencontainers/cgroups"

// Stats is the "data" of `myrun events --stats`, with the JSON shape of
// runc's events types (types/events.go) so tools parsing runc's output
// read ours unchanged.
type Stats struct {
	CPU     CPU                `json:"cpu"`
	CPUSet  CPUSet             `json:"cpuset"`
	Memory  Memory             `json:"memory"`
	Pids    Pids               `json:"pids"`
	Blkio   Blkio              `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb"`
}

// PSIData and PSIStats are pressure stall figures (cgroup v2).
type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

type PSIStats struct {
	Some PSIData `json:"some,omitempty"`
	Full PSIData `json:"full,omitempty"`
}

type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUUsage is in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

type CPU struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
	PSI        *PSIStats  `json:"psi,omitempty"`
}

type CPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}

func convertStats(s *lib.Stats) *Stats {
	out := &Stats{Hugetlb: map[string]Hugetlb{}}
	if s == nil {
		return out
	}
	c := s.CpuStats
	out.CPU = CPU{
		Usage: CPUUsage{
			Total: c.CpuUsage.TotalUsage, Percpu: c.CpuUsage.PercpuUsage,
			PercpuKernel: c.CpuUsage.PercpuUsageInKernelmode, PercpuUser: c.CpuUsage.PercpuUsageInUsermode,
			Kernel: c.CpuUsage.UsageInKernelmode, User: c.CpuUsage.UsageInUsermode,
		},
		Throttling: Throttling{
			Periods: c.ThrottlingData.Periods, ThrottledPeriods: c.ThrottlingData.ThrottledPeriods,
			ThrottledTime: c.ThrottlingData.ThrottledTime,
		},
		PSI: psi(c.PSI),
	}
	cs := s.CPUSetStats
	out.CPUSet = CPUSet{
		CPUs: cs.CPUs, CPUExclusive: cs.CPUExclusive, Mems: cs.Mems, MemHardwall: cs.MemHardwall,
		MemExclusive: cs.MemExclusive, MemoryMigrate: cs.MemoryMigrate, MemorySpreadPage: cs.MemorySpreadPage,
		MemorySpreadSlab: cs.MemorySpreadSlab, MemoryPressure: cs.MemoryPressure,
		SchedLoadBalance: cs.SchedLoadBalance, SchedRelaxDomainLevel: cs.SchedRelaxDomainLevel,
	}
	m := s.MemoryStats
	out.Memory = Memory{
		Cache: m.Cache, Usage: memEntry(m.Usage), Swap: memEntry(m.SwapUsage),
		Kernel: memEntry(m.KernelUsage), KernelTCP: memEntry(m.KernelTCPUsage),
		Raw: m.Stats, PSI: psi(m.PSI),
	}
	out.Pids = Pids{Current: s.PidsStats.Current, Limit: s.PidsStats.Limit}
	b := s.BlkioStats
	out.Blkio = Blkio{
		IoServiceBytesRecursive: blkio(b.IoServiceBytesRecursive), IoServicedRecursive: blkio(b.IoServicedRecursive),
		IoQueuedRecursive: blkio(b.IoQueuedRecursive), IoServiceTimeRecursive: blkio(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive: blkio(b.IoWaitTimeRecursive), IoMergedRecursive: blkio(b.IoMergedRecursive),
		IoTimeRecursive: blkio(b.IoTimeRecursive), SectorsRecursive: blkio(b.SectorsRecursive),
		PSI: psi(b.PSI),
	}
	for size, h := range s.HugetlbStats {
		out.Hugetlb[size] = Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return out
}

func memEntry(d lib.MemoryData) MemoryEntry {
	return MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func blkio(in []lib.BlkioStatEntry) []BlkioEntry {
	var out []BlkioEntry
	for _, e := range in {
		out = append(out, BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return out
}

func psi(p *lib.PSIStats) *PSIStats {
	if p == nil {
		return nil
	}
	return &PSIStats{
		Some: PSIData{Avg10: p.Some.Avg10, Avg60: p.Some.Avg60, Avg300: p.Some.Avg300, Total: p.Some.Total},
		Full: PSIData{Avg10: p.Full.Avg10, Avg60: p.Full.Avg60, Avg300: p.Full.Avg300, Total: p.Full.Total},
	}
}
