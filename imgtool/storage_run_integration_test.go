//go:build integration

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/overlay"
	"github.com/myrun-org/myrun/internal/procstat"
)

// rootMountType is the filesystem type of the container's / in its
// /proc/self/mountinfo (the field after " - ").
const rootMountType = `awk '$5 == "/" { for (i = 6; i <= NF; i++) if ($i == "-") { print $(i+1); exit } }' /proc/self/mountinfo`

// storageEnv isolates the test from the host's storage.conf and
// storage variables: an empty storage.conf ($CONTAINERS_STORAGE_CONF
// must name a file).
func storageEnv(t *testing.T) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "storage.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_STORAGE_CONF", conf)
	t.Setenv("STORAGE_DRIVER", "")
	t.Setenv("STORAGE_OPTS", "")
	return conf
}

// TestRunStorageDriver: the global --storage-driver (before or after
// the verb), $STORAGE_DRIVER and storage.conf choose how `myimg run`
// lays out a container's rootfs, as they do build's: vfs gives a plain
// directory (the container's / is the host's ext4, not an overlay),
// unset the kernel's overlay; bad values are refused naming their
// source, with no container left.
func TestRunStorageDriver(t *testing.T) {
	root := runEnv(t)
	conf := storageEnv(t)
	fsOf := func(args ...string) string {
		t.Helper()
		out, errOut, code := runImg(t, root, append(append(args[:len(args):len(args)], "--rm", "--net", "none", "busybox", "sh", "-c"), rootMountType)...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	if fs := fsOf("run"); fs != "overlay" {
		t.Errorf("default: / is %q, want overlay", fs)
	}
	for _, args := range [][]string{{"run", "--storage-driver", "vfs"}, {"--storage-driver", "vfs", "run"}} {
		if fs := fsOf(args...); fs == "overlay" || fs == "" || strings.HasPrefix(fs, "fuse") {
			t.Errorf("%v: / is %q, want a plain directory", args, fs)
		}
	}
	t.Setenv("STORAGE_DRIVER", "vfs")
	if fs := fsOf("run"); fs == "overlay" {
		t.Errorf("$STORAGE_DRIVER=vfs: / is %q", fs)
	}
	// podman's GraphDriver.Name in inspect says which it was.
	for name, args := range map[string][]string{"vfs": {"run"}, "overlay": {"--storage-driver", "overlay", "run"}} {
		mustImg(t, root, append(args, "--name", "gd-"+name, "--net", "none", "busybox", "true")...)
		if out := mustImg(t, root, "inspect", "-f", "{{.GraphDriver.Name}}", "gd-"+name); out != name+"\n" {
			t.Errorf("%v: inspect GraphDriver.Name %q, want %s", args, out, name)
		}
		mustImg(t, root, "rm", "gd-"+name)
	}
	t.Setenv("STORAGE_DRIVER", "")
	os.WriteFile(conf, []byte("[storage]\ndriver = \"vfs\"\n"), 0o644)
	if fs := fsOf("run"); fs == "overlay" {
		t.Errorf("storage.conf driver vfs: / is %q", fs)
	}
	os.WriteFile(conf, []byte("[storage]\ndriver = \"aufs\"\n"), 0o644)
	bad := []struct {
		env, args []string
		want      string
	}{
		{nil, nil, conf + `: [storage] driver = "aufs"`},
		{[]string{"STORAGE_DRIVER=zfs"}, nil, `$STORAGE_DRIVER "zfs"`},
		{nil, []string{"--storage-driver", "btrfs"}, `--storage-driver "btrfs"`},
		{nil, []string{"--storage-opt", "overlay.mount_program=/nonexistent/fuse-overlayfs"}, "--storage-opt overlay.mount_program=/nonexistent/fuse-overlayfs: overlay.mount_program /nonexistent/fuse-overlayfs"},
	}
	for _, c := range bad {
		for _, e := range c.env {
			k, v, _ := strings.Cut(e, "=")
			t.Setenv(k, v)
		}
		_, errOut, code := runImg(t, root, append(append([]string{"run"}, c.args...), "--net", "none", "busybox", "true")...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v %v: %d %q, want an error naming %s", c.env, c.args, code, errOut, c.want)
		}
		for _, e := range c.env {
			k, _, _ := strings.Cut(e, "=")
			t.Setenv(k, "")
		}
		os.Remove(conf)
	}
	if ps := mustImg(t, root, "ps", "-a", "-q"); ps != "" {
		t.Errorf("refused runs left containers: %q", ps)
	}
}

// TestUnpackStorageDriver: `STORAGE_DRIVER=vfs myimg unpack` (and
// --storage-driver vfs) write a plain rootfs directory, no overlay dir;
// unset it is the kernel's overlay; --copy with a mounting driver given
// on the command line is refused; a bad driver leaves no bundle.
func TestUnpackStorageDriver(t *testing.T) {
	root := busyboxStore(t)
	storageEnv(t)
	dir := t.TempDir()
	check := func(bundle string, mounted bool) {
		t.Helper()
		if got := overlay.IsMounted(filepath.Join(bundle, "rootfs")); got != mounted {
			t.Errorf("%s: rootfs mounted %v, want %v", bundle, got, mounted)
		}
		if _, err := os.Stat(filepath.Join(bundle, ".overlay")); (err == nil) != mounted {
			t.Errorf("%s: .overlay: %v", bundle, err)
		}
		if _, err := os.Stat(filepath.Join(bundle, "rootfs", "bin", "busybox")); err != nil {
			t.Errorf("%s: %v", bundle, err)
		}
		mustImg(t, root, "unmount", bundle)
	}
	mustImg(t, root, "unpack", "-q", "busybox", filepath.Join(dir, "ov"))
	check(filepath.Join(dir, "ov"), true)
	t.Setenv("STORAGE_DRIVER", "vfs")
	mustImg(t, root, "unpack", "-q", "busybox", filepath.Join(dir, "env"))
	check(filepath.Join(dir, "env"), false)
	t.Setenv("STORAGE_DRIVER", "")
	mustImg(t, root, "--storage-driver", "vfs", "unpack", "-q", "busybox", filepath.Join(dir, "flag"))
	check(filepath.Join(dir, "flag"), false)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--storage-driver", "xfs", "unpack"}, `--storage-driver "xfs"`},
		{[]string{"unpack", "--copy", "--storage-driver", "overlay"}, "--copy and --storage-driver overlay"},
	} {
		out, err := myimg(t, root, append(c.args, "busybox", filepath.Join(dir, "bad"))...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%v: %v %q, want an error naming %s", c.args, err, out, c.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
			t.Errorf("%v left the bundle", c.args)
		}
	}
}

// fusePid reads the fuse-overlayfs process a bundle's rootfs is served
// by (bundle/.overlay/fuse-overlayfs.pid).
func fusePid(t *testing.T, bundle string) (int, uint64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bundle, ".overlay", "fuse-overlayfs.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, start, _, err := overlay.ReadFusePid(b)
	if err != nil || !procstat.Alive(pid, start) {
		t.Fatalf("fuse-overlayfs %d is not running (%v)", pid, err)
	}
	if cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline")); !strings.Contains(string(cmdline), "fuse-overlayfs") {
		t.Fatalf("pid %d is %q", pid, cmdline)
	}
	return pid, start
}

// TestFuseOverlayfsRunUnpack: --storage-opt overlay.mount_program
// (and $STORAGE_OPTS) mount run's and unpack's rootfs with
// fuse-overlayfs, whose process is recorded by pid and start time and
// ended by `unmount` and `rm`: no mount, no process, no directory left.
func TestFuseOverlayfsRunUnpack(t *testing.T) {
	prog, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		t.Skip("no fuse-overlayfs")
	}
	root := runEnv(t)
	storageEnv(t)
	bundle := filepath.Join(t.TempDir(), "b")
	t.Cleanup(func() { myimg(t, root, "unmount", bundle) })
	t.Setenv("STORAGE_OPTS", "overlay.mount_program="+prog)
	mustImg(t, root, "unpack", "-q", "busybox", bundle)
	t.Setenv("STORAGE_OPTS", "")
	pid, start := fusePid(t, bundle)
	if out, err := exec.Command("stat", "-f", "-c", "%t", filepath.Join(bundle, "rootfs")).Output(); err != nil || strings.TrimSpace(string(out)) != "65735546" {
		t.Errorf("unpack's rootfs f_type %q %v, want fuse's 65735546", out, err)
	}
	mustImg(t, root, "unmount", bundle)
	if procstat.Alive(pid, start) || !gone(pid) {
		t.Errorf("unmount left fuse-overlayfs %d running", pid)
	}
	if _, err := os.Stat(bundle); err == nil {
		t.Errorf("unmount left %s", bundle)
	}
	// What a killed unpack leaves (its marker, no config.json) with
	// fuse-overlayfs serving the rootfs: the next unpack ends that too.
	mustImg(t, root, "--storage-opt", "overlay.mount_program="+prog, "unpack", "-q", "busybox", bundle)
	pid, start = fusePid(t, bundle)
	os.Remove(filepath.Join(bundle, "config.json"))
	os.WriteFile(filepath.Join(bundle, ".myimg-unpacking"), []byte(deadOwner(t)), 0o600)
	mustImg(t, root, "--storage-driver", "vfs", "unpack", "-q", "busybox", bundle)
	if procstat.Alive(pid, start) || !gone(pid) || overlay.IsMounted(filepath.Join(bundle, "rootfs")) {
		t.Errorf("unpack over a killed one left fuse-overlayfs %d running or its mount", pid)
	}
	mustImg(t, root, "unmount", bundle)
	id, errOut, code := runImg(t, root, "run", "-d", "--net", "none", "--storage-opt", "overlay.mount_program="+prog, "busybox", "sleep", "1000")
	if code != 0 {
		t.Fatalf("run -d: %d %s", code, errOut)
	}
	c := inspectCtr(t, root, strings.TrimSpace(id))
	ctrBundle := filepath.Join(root, "containers", c.ID, "bundle")
	pid, start = fusePid(t, ctrBundle)
	if out, errOut, code := runImg(t, root, "exec", c.ID, "sh", "-c", rootMountType+"; echo w > /w; cat /w"); code != 0 || out != "fuse.fuse-overlayfs\nw\n" {
		t.Errorf("exec: %q %q %d", out, errOut, code)
	}
	if out := mustImg(t, root, "inspect", "-f", "{{.GraphDriver.Name}} {{.GraphDriver.Data.MountProgram}}", c.ID); out != "overlay "+prog+"\n" {
		t.Errorf("inspect GraphDriver: %q", out)
	}
	mustImg(t, root, "rm", "-f", c.ID)
	if procstat.Alive(pid, start) || !gone(pid) {
		t.Errorf("rm left fuse-overlayfs %d running", pid)
	}
	if overlay.IsMounted(filepath.Join(ctrBundle, "rootfs")) {
		t.Errorf("rm left the rootfs mounted")
	}
	noTraces(t, root, c)
	// Failures leave no container, bundle, mount or fuse-overlayfs:
	// a program that exits without mounting, a run failing after the
	// mount (an unknown -u is found in the mounted rootfs).
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--storage-opt", "overlay.mount_program=/bin/false"}, "exited without mounting"},
		{[]string{"--storage-opt", "overlay.mount_program=" + prog, "--user", "nosuch"}, `"nosuch"`},
	} {
		_, errOut, code := runImg(t, root, append(append([]string{"run", "--rm", "--net", "none"}, c.args...), "busybox", "true")...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: %d %q, want an error naming %s", c.args, code, errOut, c.want)
		}
		if ps := mustImg(t, root, "ps", "-a", "-q"); ps != "" {
			t.Errorf("%v left containers: %q", c.args, ps)
		}
	}
	if out, err := myimg(t, root, "unpack", "--storage-opt", "overlay.mount_program=/bin/false", "busybox", bundle); err == nil || !strings.Contains(out, "--storage-opt overlay.mount_program=/bin/false: false on "+bundle+"/rootfs: exited without mounting") {
		t.Errorf("unpack with /bin/false: %v %q", err, out)
	}
	if _, err := os.Stat(bundle); err == nil {
		t.Errorf("the failed unpack left %s", bundle)
	}
	if m, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(m), root) {
		t.Errorf("mounts left under %s", root)
	}
	if out, _ := exec.Command("pgrep", "-f", "fuse-overlayfs.*"+root).Output(); len(out) > 0 {
		for _, p := range strings.Fields(string(out)) {
			if n, _ := strconv.Atoi(p); !gone(n) {
				t.Errorf("fuse-overlayfs %d left", n)
			}
		}
	}
}

// TestRootlessRunStorageDriver: rootless run and unpack lay the rootfs
// out as a copy: $STORAGE_DRIVER=vfs works, a forced mount (the kernel's
// overlay, fuse-overlayfs) by flag or env is refused naming where it was
// set instead of being copied unasked, with nothing left; one from
// storage.conf gives the copy with a note.
func TestRootlessRunStorageDriver(t *testing.T) {
	u := newRLUser(t)
	u.AddSubIDs()
	rlStorageSetup(t, u)
	if out, stderr, err := u.img([]string{"STORAGE_DRIVER=vfs"}, "run", "--rm", "--net", "none", "appimg", "cat", "/home/app/owned"); err != nil || out != "mine\n" {
		t.Errorf("STORAGE_DRIVER=vfs run: %q %v %s", out, err, stderr)
	}
	for _, c := range []struct {
		env, args []string
		want      string
	}{
		{[]string{"STORAGE_DRIVER=overlay"}, []string{"run", "--rm", "--net", "none", "appimg", "true"}, "$STORAGE_DRIVER overlay: a rootless"},
		{nil, []string{"run", "--storage-opt", "overlay.mount_program=/usr/bin/fuse-overlayfs", "--rm", "--net", "none", "appimg", "true"}, "--storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs: a rootless"},
		{nil, []string{"--storage-driver", "overlay", "unpack", "appimg", filepath.Join(u.home, "b")}, "--storage-driver overlay: a rootless"},
	} {
		if _, stderr, err := u.img(c.env, c.args...); err == nil || !strings.Contains(stderr, c.want) {
			t.Errorf("%v %v: %v %q, want an error naming %s", c.env, c.args, err, stderr, c.want)
		}
	}
	if out, _, _ := u.img(nil, "ps", "-a", "-q"); out != "" {
		t.Errorf("refused runs left containers: %q", out)
	}
	// A storage.conf's overlay (shared with build, written by older podman
	// for rootless users) is not refused: the copy is made and said.
	conf := filepath.Join(u.home, "storage.conf")
	if err := os.WriteFile(conf, []byte("[storage]\ndriver = \"overlay\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := u.img([]string{"CONTAINERS_STORAGE_CONF=" + conf}, "run", "--rm", "--net", "none", "appimg", "cat", "/home/app/owned"); err != nil || out != "mine\n" || !strings.Contains(stderr, conf+": [storage] driver overlay applies to build only here") {
		t.Errorf("storage.conf overlay rootless run: %q %v %q, want the copy and a note", out, err, stderr)
	}
	if _, err := os.Stat(filepath.Join(u.home, "b")); err == nil {
		t.Errorf("refused unpack left its bundle")
	}
}

// TestStorageConfMountOpt: storage.conf's mountopt (stock Fedora and
// Debian files set nodev) is applied to the kernel's overlay of an
// unpack as root and of a build's RUN step (was refused: every build
// there failed); one the mount refuses is an error naming the file, the
// key and the option, leaving no bundle.
func TestStorageConfMountOpt(t *testing.T) {
	root := busyboxStore(t)
	conf := storageEnv(t)
	os.WriteFile(conf, []byte("[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmountopt = \"nodev,metacopy=on\"\n"), 0o644)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "b")
	mustImg(t, root, "unpack", "-q", "busybox", bundle)
	rootfs := filepath.Join(bundle, "rootfs")
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	var opts string
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == rootfs {
			opts = f[5] + " " + l[strings.Index(l, " - "):]
		}
	}
	mustImg(t, root, "unmount", bundle)
	if !strings.Contains(opts, "nodev") || !strings.Contains(opts, "metacopy=on") {
		t.Errorf("unpack: rootfs mount %q, want nodev and metacopy=on", opts)
	}
	ctx := filepath.Join(dir, "ctx")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\nRUN awk '$5 == \"/\" { print \"root-opts=\" $6 }' /proc/self/mountinfo\n"), 0o644)
	out := mustImg(t, root, "build", "-t", "mo", ctx)
	if !strings.Contains(out, "root-opts=") || !strings.Contains(out[strings.Index(out, "root-opts="):], "nodev") {
		t.Errorf("build RUN: / not nodev:\n%s", out)
	}
	if !strings.Contains(out, conf+": [storage.options.overlay] mountopt: metacopy=on not applied to build steps") {
		t.Errorf("build: no line about metacopy=on:\n%s", out)
	}
	os.WriteFile(conf, []byte("[storage.options.overlay]\nmountopt = \"nodev,bogus_opt\"\n"), 0o644)
	for _, args := range [][]string{{"unpack", "-q", "busybox", filepath.Join(dir, "bad")}, {"build", "--no-cache", ctx}} {
		out, err := myimg(t, root, args...)
		if err == nil || !strings.Contains(out, conf+`: [storage.options.overlay] mountopt = "nodev,bogus_opt": mount option "bogus_opt"`) {
			t.Errorf("%s with a bad mountopt: %v %q", args[0], err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Errorf("the refused unpack left its bundle")
	}
	// fuse-overlayfs takes it with -o; one it ignores is refused too.
	fuse, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return
	}
	os.WriteFile(conf, []byte("[storage.options.overlay]\nmount_program = \""+fuse+"\"\nmountopt = \"noexec,bogus_opt\"\n"), 0o644)
	out, err = myimg(t, root, "unpack", "-q", "busybox", filepath.Join(dir, "badfuse"))
	if err == nil || !strings.Contains(out, conf+`: [storage.options.overlay] mountopt = "noexec,bogus_opt": mount option "bogus_opt": fuse-overlayfs`) {
		t.Errorf("fuse-overlayfs with a bad mountopt: %v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "badfuse")); err == nil {
		t.Errorf("the refused fuse-overlayfs unpack left its bundle")
	}
}
