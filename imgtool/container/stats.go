package container

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/myrun-org/myrun/imgtool/network"
)

// Sample is one reading of a container's cgroup and network counters
// for `myimg stats`. A counter the host does not have is -1.
type Sample struct {
	At                time.Time
	CPUNanos          int64 // CPU time used since the start
	MemUsage          int64
	MemLimit          int64 // the cgroup's limit, or the host's memory
	Pids              int64
	NetRx, NetTx      int64
	BlockRd, BlockWr  int64
	StartedAt         time.Time
	ID, Name, Network string
}

// cgroupRoot is where the cgroup hierarchies are mounted (the standard
// place; v1 controllers at cgroupRoot/<controller>).
const cgroupRoot = "/sys/fs/cgroup"

// Stats reads the counters of a running container. A v1 controller's
// file is read where the hierarchy has one (hybrid hosts like ours),
// else the cgroup2 file (a pure v2 host, or the unified mount).
func (cs *Manager) Stats(r *Record) (Sample, error) {
	s := Sample{At: time.Now(), ID: r.ID, Name: r.Name, StartedAt: r.StartedAt, Network: r.Network.Mode,
		CPUNanos: -1, MemUsage: -1, MemLimit: -1, Pids: -1, NetRx: -1, NetTx: -1, BlockRd: -1, BlockWr: -1}
	if !cs.IsRunning(r) || r.Pid == 0 || cs.runtimeStatus(r) != "running" {
		return s, fmt.Errorf("container %s is not running", r.Name)
	}
	if r.CgroupsPath == "" {
		return s, fmt.Errorf("container %s: stats need a cgroup, and a rootless container has none on this host (cgroup v1 delegates nothing to users)", r.Name)
	}
	cg := r.CgroupsPath
	v2 := []string{filepath.Join(cgroupRoot, cg), filepath.Join(cgroupRoot, "unified", cg)}
	if n, ok := readInt(filepath.Join(cgroupRoot, "cpuacct", cg, "cpuacct.usage")); ok {
		s.CPUNanos = n
	} else if kv, ok := readKeyed(v2, "cpu.stat"); ok && kv["usage_usec"] >= 0 {
		s.CPUNanos = kv["usage_usec"] * 1000
	}
	if n, ok := readInt(filepath.Join(cgroupRoot, "memory", cg, "memory.usage_in_bytes")); ok {
		s.MemUsage = n
		s.MemLimit, _ = readInt(filepath.Join(cgroupRoot, "memory", cg, "memory.limit_in_bytes"))
	} else if n, ok := readFirst(v2, "memory.current"); ok {
		s.MemUsage = n
		if l, ok := readFirst(v2, "memory.max"); ok {
			s.MemLimit = l
		}
	}
	if host := hostMemory(); host > 0 && (s.MemLimit <= 0 || s.MemLimit > host) {
		s.MemLimit = host
	}
	if n, ok := readInt(filepath.Join(cgroupRoot, "pids", cg, "pids.current")); ok {
		s.Pids = n
	} else if n, ok := readFirst(v2, "pids.current"); ok {
		s.Pids = n
	}
	if rd, wr, ok := blkioV1(filepath.Join(cgroupRoot, "blkio", cg, "blkio.throttle.io_service_bytes_recursive")); ok {
		s.BlockRd, s.BlockWr = rd, wr
	} else if rd, wr, ok := ioStatV2(v2); ok {
		s.BlockRd, s.BlockWr = rd, wr
	}
	// The host's counters are not the container's: none for --net host.
	if r.Network.Mode != network.ModeHost {
		s.NetRx, s.NetTx = netDev(fmt.Sprintf("/proc/%d/net/dev", r.Pid))
	}
	return s, nil
}

func readInt(p string) (int64, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return -1, false
	}
	v := strings.TrimSpace(string(b))
	if v == "max" {
		return -1, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

func readFirst(dirs []string, file string) (int64, bool) {
	for _, d := range dirs {
		if n, ok := readInt(filepath.Join(d, file)); ok {
			return n, true
		}
	}
	return -1, false
}

// readKeyed reads a flat "key value" file (cpu.stat) from the first dir
// that has it.
func readKeyed(dirs []string, file string) (map[string]int64, bool) {
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, file))
		if err != nil {
			continue
		}
		kv := map[string]int64{}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					kv[f[0]] = n
				}
			}
		}
		return kv, true
	}
	return nil, false
}

// blkioV1 sums "MAJ:MIN Read|Write N" lines.
func blkioV1(p string) (rd, wr int64, ok bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return -1, -1, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseInt(f[2], 10, 64)
		switch f[1] {
		case "Read":
			rd += n
		case "Write":
			wr += n
		}
	}
	return rd, wr, true
}

// ioStatV2 sums rbytes= and wbytes= of io.stat.
func ioStatV2(dirs []string) (rd, wr int64, ok bool) {
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "io.stat"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "rbytes":
				rd += n
			case "wbytes":
				wr += n
			}
		}
		return rd, wr, true
	}
	return -1, -1, false
}

// netDev sums received and sent bytes of every interface but lo.
func netDev(p string) (rx, tx int64) {
	f, err := os.Open(p)
	if err != nil {
		return -1, -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		v := strings.Fields(rest)
		if len(v) < 9 {
			continue
		}
		r, _ := strconv.ParseInt(v[0], 10, 64)
		t, _ := strconv.ParseInt(v[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}

func hostMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n * 1024
		}
	}
	return -1
}
