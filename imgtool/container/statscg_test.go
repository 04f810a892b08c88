package container

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/network"
)

// fakeCgroupFS points cgroupRoot and procRoot at a temporary tree; pids
// maps a pid to its /proc/PID/cgroup text, cgs are cgroup2 dirs made
// (with cgroup.procs) under the root.
func fakeCgroupFS(t *testing.T, pids map[int]string, cgs ...string) string {
	t.Helper()
	root, proc := t.TempDir(), t.TempDir()
	oldCg, oldProc := cgroupRoot, procRoot
	cgroupRoot, procRoot = root, proc
	t.Cleanup(func() { cgroupRoot, procRoot = oldCg, oldProc })
	for pid, text := range pids {
		d := filepath.Join(proc, strconv.Itoa(pid))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "cgroup"), []byte(text), 0o644)
	}
	for _, cg := range cgs {
		os.MkdirAll(filepath.Join(root, cg), 0o755)
		os.WriteFile(filepath.Join(root, cg, "cgroup.procs"), nil, 0o644)
	}
	return root
}

const (
	session = "/user.slice/user-1001.slice/session-3.scope"
	mgrUser = "/user.slice/user-1001.slice/user@1001.service/user.slice"
)

// TestStatsCgroupChoice: a root container is read from its cgroupsPath;
// a rootless one from the cgroup2 cgroup its init is in when that is its
// own (its user-manager scope, or a delegated cgroup its monitor is not
// in), and refused (NoCgroupError) when it shares its caller's.
func TestStatsCgroupChoice(t *testing.T) {
	id := strings.Repeat("ab", 32)
	scope := mgrUser + "/myimg-" + id + ".scope"
	delegated := "/user.slice/user-1001.slice/session-3.scope/ctr"
	fakeCgroupFS(t, map[int]string{
		10: "0::" + scope + "\n",
		11: "12:memory:/user.slice\n1:name=systemd:/user.slice\n0::" + session + "\n",
		20: "0::" + session + "\n",
		30: "0::" + delegated + "\n",
		40: "0::/gone\n",
	}, scope, session, delegated)
	cases := []struct {
		name string
		r    Record
		want string // "" is a NoCgroupError
	}{
		{"root", Record{Name: "root", CgroupsPath: "/myimg/" + id}, "/myimg/" + id},
		{"root without path", Record{Name: "rootnone"}, ""},
		{"scope", Record{ID: id, Name: "scope", Rootless: true, Pid: 10, MonitorPid: 11, SystemdCgroup: "user.slice:myimg:" + id}, scope},
		{"scope, monitor gone", Record{ID: id, Name: "scope2", Rootless: true, Pid: 10, MonitorPid: 99, SystemdCgroup: "user.slice:myimg:" + id}, scope},
		{"shares the caller's", Record{ID: id, Name: "shared", Rootless: true, Pid: 20, MonitorPid: 11}, ""},
		{"shares the pause process's", Record{ID: id, Name: "shared2", Rootless: true, Pid: 20, PausePid: 11}, ""},
		{"no reference", Record{ID: id, Name: "alone", Rootless: true, Pid: 20}, ""},
		{"delegated", Record{ID: id, Name: "deleg", Rootless: true, Pid: 30, MonitorPid: 11}, delegated},
	}
	for _, c := range cases {
		got, err := statsCgroup(&c.r)
		var nocg *NoCgroupError
		switch {
		case c.want == "":
			if !errors.As(err, &nocg) || !strings.Contains(err.Error(), "need a cgroup") || !strings.Contains(err.Error(), c.r.Name) {
				t.Errorf("%s: %q, %v; want a NoCgroupError", c.name, got, err)
			}
			if c.r.Rootless && !strings.Contains(err.Error(), "delegates") {
				t.Errorf("%s: %v does not say what is missing", c.name, err)
			}
		case err != nil || got != c.want:
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	// A cgroup that is not there, or a pid that is gone: an error, but
	// not the refusal (the container just stopped).
	for _, r := range []Record{{Name: "gone", Rootless: true, Pid: 40, MonitorPid: 11}, {Name: "exited", Rootless: true, Pid: 41, MonitorPid: 11}} {
		var nocg *NoCgroupError
		if _, err := statsCgroup(&r); err == nil || errors.As(err, &nocg) {
			t.Errorf("%s: %v, want a plain error", r.Name, err)
		}
	}
}

// TestStatsReadsRootlessScope: the counters come from the rootless
// container's cgroup2 cgroup, never from a v1 hierarchy's cgroup of the
// same path; a root container's v1 files win where they exist.
func TestStatsReadsRootlessScope(t *testing.T) {
	id := strings.Repeat("cd", 32)
	scope := mgrUser + "/myimg-" + id + ".scope"
	root := fakeCgroupFS(t, map[int]string{10: "0::" + scope + "\n", 11: "0::" + session + "\n"}, scope)
	w := func(rel, text string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755)
		os.WriteFile(filepath.Join(root, rel), []byte(text), 0o644)
	}
	w(scope+"/cpu.stat", "usage_usec 2500\nuser_usec 2000\n")
	w(scope+"/memory.current", "4096\n")
	w(scope+"/memory.max", "8192\n")
	w(scope+"/pids.current", "3\n")
	w(scope+"/io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n")
	w("memory"+scope+"/memory.usage_in_bytes", "999999\n")
	w("pids"+scope+"/pids.current", "77\n")
	r := &Record{ID: id, Name: "rl", Rootless: true, Pid: 10, MonitorPid: 11, SystemdCgroup: "user.slice:myimg:" + id, Network: network.Attachment{Mode: network.ModeHost}}
	cg, err := statsCgroup(r)
	if err != nil {
		t.Fatal(err)
	}
	s := Sample{CPUNanos: -1, MemUsage: -1, MemLimit: -1, Pids: -1, BlockRd: -1, BlockWr: -1}
	readCounters(&s, r, cg)
	if s.CPUNanos != 2500000 || s.MemUsage != 4096 || s.Pids != 3 || s.BlockRd != 10 || s.BlockWr != 20 {
		t.Errorf("rootless counters: %+v", s)
	}
	if s.MemLimit != 8192 && s.MemLimit != hostMemory() {
		t.Errorf("rootless limit %d", s.MemLimit)
	}
	root2 := &Record{Name: "root", CgroupsPath: scope, Network: network.Attachment{Mode: network.ModeHost}}
	s = Sample{Pids: -1, MemUsage: -1}
	readCounters(&s, root2, scope)
	if s.Pids != 77 || s.MemUsage != 999999 {
		t.Errorf("root container: v1 files not read first: %+v", s)
	}
}
