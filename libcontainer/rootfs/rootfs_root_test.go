//go:build integration

package rootfs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/internal/testrootfs"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("integration tests need root")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatal("needs /bin/busybox (busybox-static, contrib/install-deps.sh)")
	}
}

// busyboxRootfs makes a minimal rootfs around the host's static busybox.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := testrootfs.Busybox(root); err != nil {
		t.Fatal(err)
	}
	return root
}

// runcSpec is `runc spec`'s mounts, masked and read-only paths.
func runcSpec() *rspec.Spec {
	return &rspec.Spec{
		Version: rspec.Version,
		Root:    &rspec.Root{Path: "rootfs"},
		Process: &rspec.Process{Args: []string{"sh"}, Cwd: "/"},
		Mounts: []rspec.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &rspec.Linux{
			Namespaces: []rspec.LinuxNamespace{{Type: rspec.PIDNamespace}, {Type: rspec.MountNamespace}, {Type: rspec.UTSNamespace}, {Type: rspec.IPCNamespace}},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

type childResult struct {
	stdout, stderr string
	err            error
}

// runInNamespaces re-executes the test binary with plan in new mount,
// pid and uts namespaces (and a user namespace mapping 0-65535 onto
// itself when userns is set).
func runInNamespaces(t *testing.T, plan childPlan, userns bool) childResult {
	t.Helper()
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(planFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+planFile)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC, Pdeathsig: syscall.SIGKILL}
	if userns {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	}
	cmd.SysProcAttr = attr
	err = cmd.Run()
	return childResult{stdout: out.String(), stderr: errb.String(), err: err}
}

// mountEntry is one line of mountinfo.
type mountLine struct {
	opts, optional, fstype, source, super string
}

// parseMountinfo maps mount point -> its topmost mount.
func parseMountinfo(s string) map[string]mountLine {
	out := map[string]mountLine{}
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(f) < sep+4 {
			continue
		}
		out[f[4]] = mountLine{opts: f[5], optional: strings.Join(f[6:sep], " "), fstype: f[sep+1], source: f[sep+2], super: f[sep+3]}
	}
	return out
}

func hasOpt(list, opt string) bool {
	for _, o := range strings.Split(list, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// section returns the output lines between "==name" and the next "==".
func section(out, name string) string {
	_, rest, ok := strings.Cut(out, "=="+name+"\n")
	if !ok {
		return ""
	}
	body, _, _ := strings.Cut(rest, "\n==")
	return body
}

// keyvals parses "key=value" lines.
func keyvals(s string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

// testCgroup creates a pids cgroup for the test and removes it after.
func testCgroup(t *testing.T) map[string]string {
	dir := fmt.Sprintf("/sys/fs/cgroup/pids/myrun-test-%d-rootfs", os.Getpid())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Logf("no test cgroup: %v", err)
		return nil
	}
	t.Cleanup(func() { os.Remove(dir) })
	return map[string]string{"pids": dir}
}
