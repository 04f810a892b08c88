//go:build integration && vm

// Pure cgroup v2 with systemd as PID 1: built only for the VM lane
// (conformance/vm, `go test -c -tags 'integration vm'`), where that host is
// guaranteed. MYRUN may name runc too: the lane runs these with myrun and
// with runc 1.1.5 as the baseline.
package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// v2Case is one cgroup driver: the directory the container's cgroup lands
// in, the global flags, and the systemd unit when there is one.
type v2Case struct {
	name  string
	flags []string
	path  func(b *bundle) string // linux.cgroupsPath
	dir   func(b *bundle) string
	unit  func(b *bundle) string
}

var v2Cases = []v2Case{
	{name: "cgroupfs",
		path: func(b *bundle) string { return cgroupParent + "/" + b.id },
		dir:  func(b *bundle) string { return "/sys/fs/cgroup" + cgroupParent + "/" + b.id },
		unit: func(*bundle) string { return "" }},
	{name: "systemd", flags: []string{"--systemd-cgroup"},
		path: func(b *bundle) string { return "system.slice:myrunvm:" + b.id },
		dir:  func(b *bundle) string { return "/sys/fs/cgroup/system.slice/myrunvm-" + b.id + ".scope" },
		unit: func(b *bundle) string { return "myrunvm-" + b.id + ".scope" }},
}

func forV2Cases(t *testing.T, f func(t *testing.T, c v2Case)) {
	if raw, err := os.ReadFile("/proc/1/comm"); err != nil || strings.TrimSpace(string(raw)) != "systemd" {
		t.Fatal("the vm tests need systemd as PID 1")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		t.Fatal("the vm tests need pure cgroup v2 at /sys/fs/cgroup")
	}
	for _, c := range v2Cases {
		t.Run(c.name, func(t *testing.T) { f(t, c) })
	}
}

func (c v2Case) bundle(t *testing.T, args []string, mutate func(*rspec.Spec)) *bundle {
	b := newBundle(t, args, mutate)
	b.spec.Linux.CgroupsPath = c.path(b)
	b.write()
	// The bundle's own cleanup runs without the driver flag; delete with it
	// first (registered later, so it runs first).
	t.Cleanup(func() { c.rt(b, "delete", "--force", b.id) })
	return b
}

func (c v2Case) rt(b *bundle, args ...string) (string, string, int) {
	b.t.Helper()
	return b.myrun(append(append([]string{}, c.flags...), args...)...)
}

func (c v2Case) file(b *bundle, name string) string {
	b.t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.dir(b), name))
	if err != nil {
		b.t.Fatalf("reading %s: %v", name, err)
	}
	return strings.TrimSpace(string(raw))
}

func unitProp(t *testing.T, unit, prop string) string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "-p", prop, "--value", unit).Output()
	if err != nil {
		t.Fatalf("systemctl show %s %s: %v", unit, prop, err)
	}
	return strings.TrimSpace(string(out))
}

// Limits land in the v2 files (and in the scope's unit properties with
// systemd), update changes them, pause freezes through cgroup.freeze,
// delete removes the cgroup (and stops the unit).
func TestV2LimitsUpdatePauseDelete(t *testing.T) {
	forV2Cases(t, func(t *testing.T, c v2Case) {
		b := c.bundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
			s.Linux.Resources = &rspec.LinuxResources{
				Memory: &rspec.LinuxMemory{Limit: i64p(64 << 20), Reservation: i64p(32 << 20), Swap: i64p(128 << 20)},
				CPU:    &rspec.LinuxCPU{Shares: u64p(512), Quota: i64p(50000), Period: u64p(100000), Cpus: "0"},
				Pids:   &rspec.LinuxPids{Limit: i64p(77)},
			}
		})
		if _, errs, code := c.rt(b, "run", "-d", "--bundle", b.dir, b.id); code != 0 {
			t.Fatalf("run -d: %s", errs)
		}
		for _, w := range []struct{ file, want string }{
			{"memory.max", fmt.Sprint(64 << 20)},
			{"memory.low", fmt.Sprint(32 << 20)},
			{"memory.swap.max", fmt.Sprint(64 << 20)},
			{"cpu.max", "50000 100000"},
			{"cpuset.cpus", "0"},
			{"pids.max", "77"},
		} {
			if got := c.file(b, w.file); got != w.want {
				t.Errorf("%s = %q, want %q", w.file, got, w.want)
			}
		}
		// cpu.weight from shares 512: runc 1.1 converts linearly (20);
		// the cgroups library we use (as runc >= 1.3) maps 1024 to 100
		// and 512 to 59.
		if got := c.file(b, "cpu.weight"); got != "20" && got != "59" {
			t.Errorf("cpu.weight = %q, want 20 or 59", got)
		}
		pid := fmt.Sprint(b.state()["pid"])
		if procs := c.file(b, "cgroup.procs"); !strings.Contains(procs+"\n", pid+"\n") {
			t.Errorf("init %s is not in %s: %q", pid, c.dir(b), procs)
		}
		if u := c.unit(b); u != "" {
			if got, file := unitProp(t, u, "CPUWeight"), c.file(b, "cpu.weight"); got != file {
				t.Errorf("unit %s: CPUWeight = %q, cpu.weight = %q", u, got, file)
			}
			for prop, want := range map[string]string{"MemoryMax": fmt.Sprint(64 << 20), "TasksMax": "77",
				"CPUQuotaPerSecUSec": "500ms", "AllowedCPUs": "0", "ActiveState": "active"} {
				if got := unitProp(t, u, prop); got != want {
					t.Errorf("unit %s: %s = %q, want %q", u, prop, got, want)
				}
			}
		}
		if _, errs, code := c.rt(b, "update", "--memory", "96m", "--memory-swap", fmt.Sprint(192<<20), "--cpu-quota", "20000", "--pids-limit", "50", b.id); code != 0 {
			t.Fatalf("update: %s", errs)
		}
		if got := c.file(b, "memory.max") + " " + c.file(b, "cpu.max") + " " + c.file(b, "pids.max"); got != fmt.Sprint(96<<20)+" 20000 100000 50" {
			t.Errorf("after update: memory.max cpu.max pids.max = %s", got)
		}
		if u := c.unit(b); u != "" {
			if got := unitProp(t, u, "TasksMax") + " " + unitProp(t, u, "MemoryMax"); got != "50 "+fmt.Sprint(96<<20) {
				t.Errorf("unit after update: TasksMax MemoryMax = %s", got)
			}
		}
		if _, errs, code := c.rt(b, "pause", b.id); code != 0 {
			t.Fatalf("pause: %s", errs)
		}
		if got := c.file(b, "cgroup.freeze"); got != "1" {
			t.Errorf("paused: cgroup.freeze = %q", got)
		}
		if st := b.state()["status"]; st != "paused" {
			t.Errorf("paused: status %v", st)
		}
		if _, errs, code := c.rt(b, "resume", b.id); code != 0 {
			t.Fatalf("resume: %s", errs)
		}
		if got := c.file(b, "cgroup.freeze"); got != "0" {
			t.Errorf("resumed: cgroup.freeze = %q", got)
		}
		if _, errs, code := c.rt(b, "delete", "--force", b.id); code != 0 {
			t.Fatalf("delete --force: %s", errs)
		}
		if _, err := os.Stat(c.dir(b)); err == nil {
			t.Errorf("cgroup %s left after delete", c.dir(b))
		}
		if u := c.unit(b); u != "" {
			if st := unitProp(t, u, "ActiveState"); st == "active" {
				t.Errorf("unit %s still active after delete", u)
			}
		}
	})
}

// resources.unified writes its files; the container sees its own cgroup
// as "/" (cgroup namespace) and a read-only cgroup2 mount at
// /sys/fs/cgroup showing its own limits.
func TestV2UnifiedAndNamespace(t *testing.T) {
	forV2Cases(t, func(t *testing.T, c v2Case) {
		b := c.bundle(t, []string{"sh", "-c", "cat /proc/self/cgroup; awk '$5 == \"/sys/fs/cgroup\" {split($6, o, \",\"); print o[1], $(NF-2)}' /proc/self/mountinfo; cat /sys/fs/cgroup/pids.max"}, func(s *rspec.Spec) {
			s.Linux.Resources = &rspec.LinuxResources{Unified: map[string]string{"pids.max": "42", "memory.high": "104857600"}}
		})
		out, errs, code := c.rt(b, "run", "--bundle", b.dir, b.id)
		if code != 0 {
			t.Fatalf("run: %d %s", code, errs)
		}
		if want := "0::/\nro cgroup2\n42\n"; out != want {
			t.Errorf("inside: %q, want %q", out, want)
		}
	})
}

// The eBPF device filter: a block node the rules do not allow cannot be
// made (mknod in /dev, with CAP_MKNOD) nor read; with an allow rule for
// it, it can.
func TestV2DeviceFilter(t *testing.T) {
	raw, err := os.ReadFile("/sys/block/nvme0n1/dev")
	if err != nil {
		t.Fatal(err)
	}
	var major, minor int64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(raw)), "%d:%d", &major, &minor); err != nil {
		t.Fatal(err)
	}
	forV2Cases(t, func(t *testing.T, c v2Case) {
		for _, allow := range []bool{false, true} {
			script := fmt.Sprintf("mknod /dev/vmdisk b %d %d 2>&1 && dd if=/dev/vmdisk of=/dev/null bs=512 count=1 2>&1 && echo READ", major, minor)
			b := c.bundle(t, []string{"sh", "-c", script}, func(s *rspec.Spec) {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_MKNOD")
				s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_MKNOD")
				s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_MKNOD")
				if s.Linux.Resources == nil {
					s.Linux.Resources = &rspec.LinuxResources{}
				}
				if allow {
					s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rspec.LinuxDeviceCgroup{Allow: true, Type: "b", Major: &major, Minor: &minor, Access: "rm"})
				}
			})
			out, errs, code := c.rt(b, "run", "--bundle", b.dir, b.id)
			if allow && (code != 0 || !strings.Contains(out, "READ")) {
				t.Errorf("allowed device: %d %q %s", code, out, errs)
			}
			if !allow && (code == 0 || !strings.Contains(out, "not permitted")) {
				t.Errorf("denied device: %d %q %s", code, out, errs)
			}
		}
	})
}

// Rootless through systemd's user manager: the image's user (uid 1000,
// lingering, user@1000.service with Delegate=) runs a container with
// --systemd-cgroup; the scope lands in the user manager's delegated
// subtree with its limits, and delete removes it.
func TestV2RootlessSystemd(t *testing.T) {
	const uid, gid = 1000, 1000
	xdg := fmt.Sprintf("/run/user/%d", uid)
	if _, err := os.Stat(xdg + "/bus"); err != nil {
		t.Fatalf("the user manager of uid %d is not up: %v", uid, err)
	}
	binDir, err := os.MkdirTemp("", "myrun-vm-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(binDir) })
	os.Chmod(binDir, 0o755)
	bin := filepath.Join(binDir, filepath.Base(myrun))
	escInstall(t, myrun, bin)
	dir, err := os.MkdirTemp("", "myrun-vm-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	busyboxRootfs(t, filepath.Join(dir, "rootfs"))
	escChownTree(t, dir, uid, gid)
	cred := &escCred{uid, gid}
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/", "USER=user",
		"XDG_RUNTIME_DIR=" + xdg, "DBUS_SESSION_BUS_ADDRESS=unix:path=" + xdg + "/bus"}
	state := filepath.Join(dir, "state")
	rt := func(args ...string) (string, string, int) {
		return escRunEnv(t, bin, nil, env, cred, append([]string{"--root", state, "--systemd-cgroup"}, args...)...)
	}
	if _, errs, code := escRunEnv(t, bin, nil, env, cred, "spec", "--rootless", "--bundle", dir); code != 0 {
		t.Fatalf("spec --rootless: %s", errs)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s rspec.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("vmrl-%d", os.Getpid())
	s.Process.Terminal = false
	s.Process.Args = []string{"sleep", "1000"}
	s.Linux.CgroupsPath = "user.slice:myrunvm:" + id
	s.Linux.Resources = &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: i64p(64 << 20)}, Pids: &rspec.LinuxPids{Limit: i64p(33)}}
	raw, _ = json.Marshal(&s)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt("delete", "--force", id) })
	if _, errs, code := rt("run", "-d", "--bundle", dir, id); code != 0 {
		t.Fatalf("rootless run -d --systemd-cgroup: %s", errs)
	}
	cg := fmt.Sprintf("/sys/fs/cgroup/user.slice/user-%d.slice/user@%d.service/user.slice/myrunvm-%s.scope", uid, uid, id)
	for file, want := range map[string]string{"memory.max": fmt.Sprint(64 << 20), "pids.max": "33"} {
		raw, err := os.ReadFile(filepath.Join(cg, file))
		if err != nil || strings.TrimSpace(string(raw)) != want {
			t.Errorf("%s/%s = %q (%v), want %s", cg, file, raw, err, want)
		}
	}
	if _, errs, code := rt("delete", "--force", id); code != 0 {
		t.Fatalf("delete --force: %s", errs)
	}
	if _, err := os.Stat(cg); err == nil {
		t.Errorf("%s left after delete", cg)
	}
}
