package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
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
// place; v1 controllers at cgroupRoot/<controller>); procRoot is /proc.
// Variables for the tests.
var (
	cgroupRoot = "/sys/fs/cgroup"
	procRoot   = "/proc"
)

// Stats reads the counters of a running container. A v1 controller's
// file is read where the hierarchy has one (hybrid hosts like ours),
// else the cgroup2 file (a pure v2 host, or the unified mount).
func (cs *Manager) Stats(r *Record) (Sample, error) {
	s := Sample{At: time.Now(), ID: r.ID, Name: r.Name, StartedAt: r.StartedAt, Network: r.Network.Mode,
		CPUNanos: -1, MemUsage: -1, MemLimit: -1, Pids: -1, NetRx: -1, NetTx: -1, BlockRd: -1, BlockWr: -1}
	if !cs.IsRunning(r) || r.Pid == 0 || cs.runtimeStatus(r) != "running" {
		return s, fmt.Errorf("container %s is not running", r.Name)
	}
	cg, err := statsCgroup(r)
	if err != nil {
		return s, err
	}
	readCounters(&s, r, cg)
	return s, nil
}

// readCounters fills s from cgroup cg and r's network namespace.
func readCounters(s *Sample, r *Record, cg string) {
	// A rootless container's cgroup is a cgroup2 one (scopes and
	// delegation are v2 only): its path names no v1 hierarchy's cgroup.
	v1 := func(ctrl, file string) string {
		if r.Rootless {
			return "" // read as no such file
		}
		return filepath.Join(cgroupRoot, ctrl, cg, file)
	}
	v2 := []string{filepath.Join(cgroupRoot, cg), filepath.Join(cgroupRoot, "unified", cg)}
	if n, ok := readInt(v1("cpuacct", "cpuacct.usage")); ok {
		s.CPUNanos = n
	} else if kv, ok := readKeyed(v2, "cpu.stat"); ok && kv["usage_usec"] >= 0 {
		s.CPUNanos = kv["usage_usec"] * 1000
	}
	if n, ok := readInt(v1("memory", "memory.usage_in_bytes")); ok {
		s.MemUsage = n
		s.MemLimit, _ = readInt(v1("memory", "memory.limit_in_bytes"))
	} else if n, ok := readFirst(v2, "memory.current"); ok {
		s.MemUsage = n
		if l, ok := readFirst(v2, "memory.max"); ok {
			s.MemLimit = l
		}
	}
	if host := hostMemory(); host > 0 && (s.MemLimit <= 0 || s.MemLimit > host) {
		s.MemLimit = host
	}
	if n, ok := readInt(v1("pids", "pids.current")); ok {
		s.Pids = n
	} else if n, ok := readFirst(v2, "pids.current"); ok {
		s.Pids = n
	}
	if rd, wr, ok := blkioV1(v1("blkio", "blkio.throttle.io_service_bytes_recursive")); ok {
		s.BlockRd, s.BlockWr = rd, wr
	} else if rd, wr, ok := ioStatV2(v2); ok {
		s.BlockRd, s.BlockWr = rd, wr
	}
	// The host's counters are not the container's: none for --net host.
	if r.Network.Mode != network.ModeHost {
		s.NetRx, s.NetTx = netDev(filepath.Join(procRoot, strconv.Itoa(r.Pid), "net", "dev"))
	}
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

// statsCgroup is the cgroup (a path below the hierarchies' roots) whose
// counters are the container's: its own for a root container; for a
// rootless one the cgroup2 cgroup its init is in, when that is one of
// its own (the user manager's scope made for it, or any cgroup not
// shared with its monitor, such as one in a delegated subtree). Without
// one, stats would show the caller's session: refused.
func statsCgroup(r *Record) (string, error) {
	if !r.Rootless {
		if r.CgroupsPath == "" {
			return "", &NoCgroupError{fmt.Sprintf("container %s: stats need a cgroup, and it has none", r.Name)}
		}
		return r.CgroupsPath, nil
	}
	own, err := procCgroup2(r.Pid)
	if err != nil {
		return "", fmt.Errorf("container %s: stats need a cgroup: %w", r.Name, err)
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, own, "cgroup.procs")); err != nil {
		if _, err2 := os.Stat(filepath.Join(cgroupRoot, "unified", own, "cgroup.procs")); err2 != nil {
			return "", fmt.Errorf("container %s: stats need a cgroup, and the rootless container's cgroup2 %s is not readable: %w", r.Name, own, err)
		}
	}
	if r.SystemdCgroup != "" && path.Base(own) == "myimg-"+r.ID+".scope" {
		return own, nil
	}
	for _, ref := range []int{r.MonitorPid, r.PausePid} {
		if ref <= 0 {
			continue
		}
		if c, err := procCgroup2(ref); err == nil {
			if c == own {
				break
			}
			return own, nil
		}
	}
	return "", &NoCgroupError{fmt.Sprintf("container %s: stats need a cgroup, and this rootless container has none of its own: it shares %s with its caller "+
		"(a scope of its own needs a cgroup systemd delegates to the user, as -m, --cpus or --pids-limit ask; on cgroup v1 nothing is delegated)", r.Name, own)}
}

// NoCgroupError is a running container stats cannot read: it has no
// cgroup of its own.
type NoCgroupError struct{ msg string }

func (e *NoCgroupError) Error() string { return e.msg }

// procCgroup2 is pid's cgroup2 path ("0::" line of /proc/PID/cgroup).
func procCgroup2(pid int) (string, error) {
	if pid <= 0 {
		return "", errors.New("no pid")
	}
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok && strings.HasPrefix(p, "/") {
			return p, nil
		}
	}
	return "", fmt.Errorf("pid %d is in no cgroup2 cgroup", pid)
}
