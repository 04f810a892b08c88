//go:build integration && vm

// More pure-v2 checks for the VM lane (issue 12): cgroup.kill on kill
// --all and delete --force, CLONE_INTO_CGROUP for exec, `features`, and a
// container below a threaded cgroup. MYRUN may name runc 1.1.5 (the
// lane's baseline): what only myrun's debug log can show is checked for
// myrun alone.
package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// isRunc: MYRUN is the baseline runc, which has no debug lines of ours.
func isRunc() bool { return filepath.Base(myrun) == "runc" }

func cgroupProcs(dir string) string {
	raw, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	return strings.TrimSpace(string(raw))
}

// kill --all KILL and delete --force of a running container end every
// process of its cgroup; myrun does it by writing cgroup.kill (its debug
// log says so), runc 1.1.5 by signalling each pid.
func TestV2KillAllAndDeleteForceCgroupKill(t *testing.T) {
	forV2Cases(t, func(t *testing.T, c v2Case) {
		for _, verb := range []string{"kill --all", "delete --force"} {
			b := c.bundle(t, []string{"sh", "-c", "sleep 1000 & sleep 1001 & wait"}, nil)
			if _, errs, code := c.rt(b, "run", "-d", "--bundle", b.dir, b.id); code != 0 {
				t.Fatalf("run -d: %s", errs)
			}
			dir := c.dir(b)
			escWaitFor(t, time.Minute*timeoutScale, "three processes in the cgroup", func() bool {
				return len(strings.Fields(cgroupProcs(dir))) == 3
			})
			log := filepath.Join(b.dir, "debug.log")
			args := []string{"--debug", "--log", log, "kill", "--all", b.id, "KILL"}
			if verb == "delete --force" {
				args = []string{"--debug", "--log", log, "delete", "--force", b.id}
			}
			if _, errs, code := c.rt(b, args...); code != 0 {
				t.Fatalf("%s: %s", verb, errs)
			}
			escWaitFor(t, time.Minute*timeoutScale, "the cgroup's processes to die after "+verb, func() bool {
				_, err := os.Stat(dir)
				return os.IsNotExist(err) || cgroupProcs(dir) == ""
			})
			if raw, _ := os.ReadFile(log); !isRunc() && !strings.Contains(string(raw), "cgroup.kill") {
				t.Errorf("%s: the debug log does not say cgroup.kill was used:\n%s", verb, raw)
			}
			c.rt(b, "delete", "--force", b.id)
		}
	})
}

// An exec'd process is born in the container's cgroup (clone3 with
// CLONE_INTO_CGROUP): myrun's debug line `start init` says into_cgroup.
// The container's init is not: its cgroup is made with its pid (a
// systemd scope needs one), then limits once it is set up, as runc does.
// runc 1.1.5 has no CLONE_INTO_CGROUP at all (runc >= 1.2 uses it for exec).
func TestV2CloneIntoCgroup(t *testing.T) {
	if isRunc() {
		t.Skip("runc 1.1.5 does not use CLONE_INTO_CGROUP")
	}
	forV2Cases(t, func(t *testing.T, c v2Case) {
		b := c.bundle(t, []string{"sleep", "1000"}, nil)
		log := filepath.Join(b.dir, "debug.log")
		if _, errs, code := c.rt(b, "run", "-d", "--bundle", b.dir, b.id); code != 0 {
			t.Fatalf("run -d: %s", errs)
		}
		out, errs, code := c.rt(b, "--debug", "--log", log, "exec", b.id, "cat", "/proc/self/cgroup")
		if code != 0 || out != "0::/\n" {
			t.Fatalf("exec: %d %q %s", code, out, errs)
		}
		raw, _ := os.ReadFile(log)
		var line string
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.Contains(l, "start init") {
				line = l
			}
		}
		if !strings.Contains(line, "into_cgroup=true") {
			t.Errorf("exec not born in the container's cgroup: %q", line)
		}
	})
}

// `features` on a pure v2 host with systemd: v2 and both systemd drivers
// reported, and the other tests of this lane use them all.
func TestV2Features(t *testing.T) {
	out, errs, code := runWithTimeout(t, 60*time.Second, "features")
	if code != 0 {
		t.Fatalf("features: %d %s", code, errs)
	}
	var f struct {
		Linux struct {
			Cgroup struct{ V2, Systemd, SystemdUser *bool }
		}
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("features JSON: %v\n%s", err, out)
	}
	cg := f.Linux.Cgroup
	for name, v := range map[string]*bool{"v2": cg.V2, "systemd": cg.Systemd, "systemdUser": cg.SystemdUser} {
		if v == nil || !*v {
			t.Errorf("features: linux.cgroup.%s not true: %s", name, out)
		}
	}
}

// A container whose cgroupsPath is below a threaded cgroup: its cgroup
// becomes threaded too and it runs there, or the runtime refuses it with
// an error naming the cgroup type; never a container outside its cgroup.
func TestV2ThreadedParent(t *testing.T) {
	parent := fmt.Sprintf("/sys/fs/cgroup/myrunvm-thr-%d", os.Getpid())
	thr := filepath.Join(parent, "t")
	if err := os.MkdirAll(thr, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(filepath.Join(thr, "ctr"))
		os.Remove(thr)
		os.Remove(parent)
	})
	if err := os.WriteFile(filepath.Join(thr, "cgroup.type"), []byte("threaded"), 0o644); err != nil {
		t.Fatalf("making %s threaded: %v", thr, err)
	}
	b := newBundle(t, []string{"sh", "-c", "cat /proc/self/cgroup"}, func(s *rspec.Spec) {
		s.Linux.CgroupsPath = strings.TrimPrefix(thr, "/sys/fs/cgroup") + "/ctr"
	})
	out, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
	t.Logf("run below a threaded cgroup: exit %d, out %q, err %q", code, out, errs)
	if code == 0 {
		if raw, _ := os.ReadFile(filepath.Join(thr, "ctr", "cgroup.type")); code == 0 && len(raw) > 0 && strings.TrimSpace(string(raw)) != "threaded" {
			t.Errorf("container cgroup type %q", raw)
		}
		return
	}
	if !strings.Contains(errs, "thread") && !strings.Contains(errs, "domain") && !strings.Contains(errs, "not supported") {
		t.Errorf("refused without naming the cgroup type: %s", errs)
	}
}

// hostUnshare runs the guest's util-linux unshare (busybox's has no -C)
// inside a container that binds the guest's /usr read-only at /host/usr,
// through the guest's loader by its real path: /usr/lib64's loader is an
// absolute symlink to /lib/x86_64-linux-gnu, which the busybox rootfs has
// not (the first version of this test went through it: "not found", and
// it waited its full guard for output that never came).
const hostUnshare = "/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path /host/usr/lib/x86_64-linux-gnu /host/usr/bin/unshare"

// Nested cgroup namespaces: a container with CAP_SYS_ADMIN and a
// read-write cgroup2 mount makes a child cgroup, moves itself there
// (0::/inner in its own namespace) and unshares a cgroup namespace of its
// own, whose root is that child (0::/). The host sees the container's
// init alone in the child, and delete --force removes the container's
// cgroup with the child still in it.
func TestV2NestedCgroupNamespace(t *testing.T) {
	forV2Cases(t, func(t *testing.T, c v2Case) {
		script := "mkdir /sys/fs/cgroup/inner && echo $$ >/sys/fs/cgroup/inner/cgroup.procs && cat /proc/self/cgroup && " +
			hostUnshare + " -C cat /proc/self/cgroup && echo ready && exec sleep 1000; echo failed"
		b := c.bundle(t, []string{"sh", "-c", script}, func(s *rspec.Spec) {
			s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/host/usr", Type: "bind", Source: "/usr", Options: []string{"rbind", "ro"}})
			for i, m := range s.Mounts {
				if m.Destination == "/sys/fs/cgroup" {
					s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
				}
			}
			caps := s.Process.Capabilities
			caps.Bounding = append(caps.Bounding, "CAP_SYS_ADMIN")
			caps.Effective = append(caps.Effective, "CAP_SYS_ADMIN")
			caps.Permitted = append(caps.Permitted, "CAP_SYS_ADMIN")
		})
		// run -d passes the container's stdio through: a file, read back
		// until the script says ready or failed (a pipe would keep the
		// runtime's caller waiting for the container).
		log := filepath.Join(b.dir, "out")
		f, err := os.Create(log)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(myrun, append(append([]string{"--root", b.root}, c.flags...), "run", "-d", "--bundle", b.dir, b.id)...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, f, f
		if err := cmd.Run(); err != nil {
			raw, _ := os.ReadFile(log)
			t.Fatalf("run -d: %v %s", err, raw)
		}
		var out string
		escWaitFor(t, time.Minute*timeoutScale, "the container's report", func() bool {
			raw, _ := os.ReadFile(log)
			out = string(raw)
			return strings.HasSuffix(out, "ready\n") || strings.HasSuffix(out, "failed\n")
		})
		if want := "0::/inner\n0::/\nready\n"; out != want {
			t.Fatalf("inside: %q, want %q", out, want)
		}
		if procs, pid := cgroupProcs(filepath.Join(c.dir(b), "inner")), fmt.Sprint(b.state()["pid"]); procs != pid {
			t.Errorf("%s/inner/cgroup.procs = %q, want the container's init %s alone", c.dir(b), procs, pid)
		}
		if procs := cgroupProcs(c.dir(b)); procs != "" {
			t.Errorf("%s/cgroup.procs = %q, want none (all in inner)", c.dir(b), procs)
		}
		if _, errs, code := c.rt(b, "delete", "--force", b.id); code != 0 {
			t.Fatalf("delete --force: %s", errs)
		}
		if _, err := os.Stat(c.dir(b)); !os.IsNotExist(err) {
			t.Errorf("%s left after delete (%v)", c.dir(b), err)
		}
	})
}
