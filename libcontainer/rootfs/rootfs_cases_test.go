//go:build integration

package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRootfsRunc(t *testing.T)   { needRoot(t); fullScenario(t, false) }
func TestRootfsUserNS(t *testing.T) { needRoot(t); fullScenario(t, true) }

func fullScenario(t *testing.T, userns bool) {
	pid := os.Getpid()
	root := busyboxRootfs(t)
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "marker"), []byte("vol"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostFile := filepath.Join(t.TempDir(), "hostfile")
	if err := os.WriteFile(hostFile, []byte("file"), 0o644); err != nil {
		t.Fatal(err)
	}
	escape := fmt.Sprintf("/tmp/escape-%d", pid)
	if _, err := os.Lstat(escape); err == nil {
		t.Fatalf("%s exists before the test", escape)
	}
	if err := os.Symlink(escape, filepath.Join(root, "escape-link")); err != nil {
		t.Fatal(err)
	}
	spec := runcSpec()
	spec.Root.Readonly = !userns
	spec.Mounts = append(spec.Mounts,
		rspec.Mount{Destination: "/escape-link", Type: "bind", Source: vol, Options: []string{"rbind", "ro", "nosuid"}},
		rspec.Mount{Destination: "/etc/hostfile", Type: "bind", Source: hostFile, Options: []string{"bind", "ro"}},
		rspec.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=0700", "size=1m"}},
		rspec.Mount{Destination: "/rro", Source: vol, Options: []string{"rbind", "rro"}},
		rspec.Mount{Destination: "/private", Type: "bind", Source: vol, Options: []string{"rbind", "rprivate"}},
	)
	fileMode := os.FileMode(0o666)
	spec.Linux.Devices = []rspec.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &fileMode}}
	hostname := fmt.Sprintf("rootfs-%d", pid)
	script := `
echo ==MOUNTINFO; cat /proc/self/mountinfo
echo ==DEV; for d in null zero full random urandom tty fuse; do stat -c "$d=%F %t:%T %a %u:%g" /dev/$d; done
echo ==LINKS; for l in fd stdin stdout stderr ptmx; do echo "$l=$(readlink /dev/$l)"; done
echo ==CHECKS
echo "console=$(stat -c %t /dev/console)"
echo "hostname=$(hostname)"
echo "marker=$(cat ` + escape + `/marker)"
echo "hostfile=$(cat /etc/hostfile)"
echo "timer_list=$(cat /proc/timer_list | wc -c)"
echo "firmware=$(ls -A /sys/firmware | wc -l)"
if echo x 2>/dev/null > /proc/sys/kernel/hostname; then echo procsys=writable; else echo procsys=ro; fi
if touch /newfile 2>/dev/null; then echo root=writable; else echo root=ro; fi
echo "cgroups=$(echo /sys/fs/cgroup/*)"
echo "pidsmax=$(cat /sys/fs/cgroup/pids/pids.max)"
echo ==END
`
	cg := testCgroup(t)
	res := runInNamespaces(t, childPlan{Rootfs: root, Spec: spec, InUserNS: userns, CgroupPaths: cg,
		Sysctl: map[string]string{"kernel.hostname": hostname}, Console: true, Script: script}, userns)
	if res.err != nil || !strings.Contains(res.stdout, "==END") {
		t.Fatalf("child failed: %v\nstdout:\n%s\nstderr:\n%s", res.err, res.stdout, res.stderr)
	}
	if testing.Verbose() {
		t.Logf("stdout:\n%s", res.stdout)
	}
	// Every step is logged with its duration.
	if !strings.Contains(res.stderr, "msg=mount") || !strings.Contains(res.stderr, "took=") {
		t.Errorf("no debug log of mount steps:\n%s", res.stderr)
	}

	mi := parseMountinfo(section(res.stdout, "MOUNTINFO"))
	expect := func(mp, fstype string, opts, super []string) {
		t.Helper()
		m, ok := mi[mp]
		if !ok {
			t.Errorf("%s: not mounted", mp)
			return
		}
		if fstype != "" && m.fstype != fstype {
			t.Errorf("%s: fstype %s, want %s", mp, m.fstype, fstype)
		}
		for _, o := range opts {
			if !hasOpt(m.opts, o) {
				t.Errorf("%s: options %s lack %s", mp, m.opts, o)
			}
		}
		for _, o := range super {
			if !hasOpt(m.super, o) {
				t.Errorf("%s: super options %s lack %s", mp, m.super, o)
			}
		}
	}
	if !userns {
		expect("/", "", []string{"ro"}, nil)
	}
	expect("/proc", "proc", []string{"rw"}, nil)
	expect("/dev", "tmpfs", []string{"nosuid"}, []string{"mode=755", "size=65536k"})
	expect("/dev/pts", "devpts", []string{"nosuid", "noexec"}, []string{"ptmxmode=666", "mode=620", "gid=5"})
	expect("/dev/shm", "tmpfs", []string{"nosuid", "nodev", "noexec"}, []string{"size=65536k"})
	expect("/dev/mqueue", "mqueue", []string{"nosuid", "nodev", "noexec"}, nil)
	expect("/sys", "sysfs", []string{"ro", "nosuid", "nodev", "noexec"}, nil)
	expect("/sys/fs/cgroup", "tmpfs", []string{"ro", "nosuid", "nodev", "noexec"}, nil)
	expect("/sys/fs/cgroup/memory", "cgroup", []string{"ro"}, nil)
	if cg != nil {
		expect("/sys/fs/cgroup/pids", "cgroup", []string{"ro", "nosuid"}, nil)
	}
	expect("/proc/sys", "proc", []string{"ro"}, nil)
	if _, err := os.Stat("/proc/sysrq-trigger"); err == nil {
		expect("/proc/sysrq-trigger", "proc", []string{"ro"}, nil)
	}
	expect("/sys/firmware", "tmpfs", []string{"ro"}, nil)
	if _, err := os.Stat("/proc/timer_list"); err == nil {
		expect("/proc/timer_list", "", nil, nil) // our /dev tmpfs, or the host's devtmpfs in a userns
	}
	expect(escape, "", []string{"ro", "nosuid"}, nil)
	expect("/etc/hostfile", "", []string{"ro"}, nil)
	expect("/run", "tmpfs", []string{"nosuid", "nodev"}, []string{"size=1024k", "mode=700"})
	expect("/rro", "", []string{"ro"}, nil)
	if m := mi["/private"]; strings.Contains(m.optional, "master:") || strings.Contains(m.optional, "shared:") {
		t.Errorf("/private is not private: %q", m.optional)
	}
	expect("/dev/console", "devpts", nil, nil)
	if userns && !strings.Contains(res.stderr, "new instance refused, binding the host's") {
		t.Errorf("sysfs in a user namespace without a network namespace should fall back to a bind:\n%s", res.stderr)
	}

	devs := keyvals(section(res.stdout, "DEV"))
	for name, want := range map[string]string{
		"null": "1:3", "zero": "1:5", "full": "1:7", "random": "1:8", "urandom": "1:9", "tty": "5:0", "fuse": "a:e5",
	} {
		got := devs[name]
		if !strings.HasPrefix(got, "character special file "+want+" ") {
			t.Errorf("/dev/%s: %q, want char %s", name, got, want)
			continue
		}
		if !userns && !strings.HasSuffix(got, " 666 0:0") {
			t.Errorf("/dev/%s: %q, want mode 666 owner 0:0", name, got)
		}
	}
	links := keyvals(section(res.stdout, "LINKS"))
	for k, v := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"} {
		if links[k] != v {
			t.Errorf("/dev/%s -> %q, want %q", k, links[k], v)
		}
	}
	checks := keyvals(section(res.stdout, "CHECKS"))
	want := map[string]string{
		"console": "88", "hostname": hostname, "marker": "vol", "hostfile": "file", "firmware": "0", "procsys": "ro",
		"root": map[bool]string{true: "writable", false: "ro"}[userns],
	}
	if _, err := os.Stat("/proc/timer_list"); err == nil {
		want["timer_list"] = "0"
	}
	if cg != nil {
		want["pidsmax"] = "max"
	}
	for k, v := range want {
		if checks[k] != v {
			t.Errorf("%s = %q, want %q", k, checks[k], v)
		}
	}
	if !strings.Contains(checks["cgroups"], "/sys/fs/cgroup/unified") {
		t.Errorf("cgroup dirs %q lack unified", checks["cgroups"])
	}
	// The symlinked destination landed inside the rootfs.
	if _, err := os.Lstat(escape); err == nil {
		t.Errorf("%s was created on the host", escape)
	}
	if st, err := os.Stat(filepath.Join(root, escape)); err != nil || !st.IsDir() {
		t.Errorf("mount point not created inside the rootfs: %v", err)
	}
}

// childFails runs spec and expects Prepare/PivotRoot/Finalize to fail
// with an error containing want.
func childFails(t *testing.T, root string, spec *rspec.Spec, want string) string {
	t.Helper()
	res := runInNamespaces(t, childPlan{Rootfs: root, Spec: spec, Script: "echo SCRIPT-RAN"}, false)
	if res.err == nil || strings.Contains(res.stdout, "SCRIPT-RAN") {
		t.Fatalf("child succeeded, want error %q\nstdout:%s\nstderr:%s", want, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr, want) {
		t.Fatalf("error does not mention %q:\n%s", want, res.stderr)
	}
	for _, l := range strings.Split(res.stderr, "\n") {
		if strings.HasPrefix(l, "CHILD-ERROR") {
			t.Log(l)
		}
	}
	return res.stderr
}

func minimalSpec() *rspec.Spec {
	s := runcSpec()
	s.Mounts = s.Mounts[:1] // proc only
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	return s
}

func TestRootfsErrors(t *testing.T) {
	needRoot(t)
	root := busyboxRootfs(t)
	t.Run("missing bind source", func(t *testing.T) {
		s := minimalSpec()
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Type: "bind",
			Source: fmt.Sprintf("/nonexistent-myrun-rootfs-%d", os.Getpid()), Options: []string{"rbind"}})
		childFails(t, root, s, "mounts[1].source")
	})
	t.Run("relative destination", func(t *testing.T) {
		s := minimalSpec()
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "data", Type: "tmpfs", Source: "tmpfs"})
		childFails(t, root, s, "mounts[1].destination: must be an absolute path")
	})
	t.Run("mount over proc via symlink", func(t *testing.T) {
		r := busyboxRootfs(t)
		if err := os.Symlink("/proc/self/attr", filepath.Join(r, "evil")); err != nil {
			t.Fatal(err)
		}
		s := minimalSpec()
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/evil", Type: "tmpfs", Source: "tmpfs"})
		childFails(t, r, s, "mounting over /proc is not allowed")
	})
	// The parent makes idmapped mounts (IDMappedTrees); init never falls
	// back to a plain bind when it was given none.
	t.Run("idmap not prepared", func(t *testing.T) {
		s := minimalSpec()
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Type: "bind", Source: root, Options: []string{"rbind", "idmap"}})
		childFails(t, root, s, "mounts[1] (/data): idmapped mount was not prepared")
	})
}

// TestRootfsFakeDevNull: a /dev whose null is a regular file must not be
// used to mask paths (CVE-2025-31133); the container does not start.
func TestRootfsFakeDevNull(t *testing.T) {
	needRoot(t)
	root := busyboxRootfs(t)
	fakeDev := t.TempDir()
	fake := filepath.Join(fakeDev, "null")
	if err := os.WriteFile(fake, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	s := minimalSpec()
	s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/dev", Type: "bind", Source: fakeDev, Options: []string{"rbind"}})
	s.Linux.MaskedPaths = []string{"/proc/version"}
	childFails(t, root, s, "not the null device")
	if st, err := os.Stat(fake); err != nil || !st.Mode().IsRegular() || st.Size() != 0 {
		t.Errorf("fake null changed: %v %v", st, err)
	}
}

// TestRootfsFakeDevNullReplaced: without a /dev mount the rootfs's own
// fake null is replaced by the real device before masking uses it.
func TestRootfsFakeDevNullReplaced(t *testing.T) {
	needRoot(t)
	root := busyboxRootfs(t)
	if err := os.WriteFile(filepath.Join(root, "dev/null"), []byte("secret"), 0o666); err != nil {
		t.Fatal(err)
	}
	s := minimalSpec()
	s.Linux.MaskedPaths = []string{"/proc/version"}
	res := runInNamespaces(t, childPlan{Rootfs: root, Spec: s, Script: `stat -c "%F %t:%T" /dev/null; echo "version=$(cat /proc/version | wc -c)"`}, false)
	if res.err != nil {
		t.Fatalf("%v\n%s\n%s", res.err, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "character special file 1:3") || !strings.Contains(res.stdout, "version=0") {
		t.Errorf("unexpected output:\n%s", res.stdout)
	}
}

func TestRootfsNoPivot(t *testing.T) {
	needRoot(t)
	root := busyboxRootfs(t)
	s := runcSpec()
	res := runInNamespaces(t, childPlan{Rootfs: root, Spec: s, NoPivot: true, Script: `echo "proc=$(cat /proc/1/comm)"; ls /dev/null && echo ok`}, false)
	if res.err != nil || !strings.Contains(res.stdout, "ok") {
		t.Fatalf("%v\n%s\n%s", res.err, res.stdout, res.stderr)
	}
}

// TestRootfsShared: rootfsPropagation "rshared" still pivots (the rootfs's
// parent is made private) and leaves "/" shared.
func TestRootfsShared(t *testing.T) {
	needRoot(t)
	root := busyboxRootfs(t)
	s := minimalSpec()
	s.Linux.RootfsPropagation = "rshared"
	res := runInNamespaces(t, childPlan{Rootfs: root, Spec: s, Script: "cat /proc/self/mountinfo"}, false)
	if res.err != nil {
		t.Fatalf("%v\n%s\n%s", res.err, res.stdout, res.stderr)
	}
	if m := parseMountinfo(res.stdout)["/"]; !strings.Contains(m.optional, "shared:") {
		t.Errorf("/ is not shared: %+v", m)
	}
}

// TestRootfsReadonlyDev: a read-only /dev still gets its devices.
func TestRootfsReadonlyDev(t *testing.T) {
	needRoot(t)
	root := busyboxRootfs(t)
	s := minimalSpec()
	s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "ro", "mode=755"}})
	res := runInNamespaces(t, childPlan{Rootfs: root, Spec: s, Script: `stat -c "%t:%T" /dev/zero; cat /proc/self/mountinfo`}, false)
	if res.err != nil {
		t.Fatalf("%v\n%s\n%s", res.err, res.stdout, res.stderr)
	}
	if !strings.HasPrefix(res.stdout, "1:5\n") {
		t.Errorf("no /dev/zero: %s", res.stdout)
	}
	if m := parseMountinfo(res.stdout)["/dev"]; !hasOpt(m.opts, "ro") {
		t.Errorf("/dev not read-only: %+v", m)
	}
}
