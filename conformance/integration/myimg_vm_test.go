//go:build integration && vm

// myimg on a pure cgroup v2 host with systemd as PID 1 (the VM lane): a
// Containerfile with RUN steps built with MYRUN as the RUN runtime, then
// `myimg run` of the result with limits that must land in the container's
// v2 cgroup files. MYRUN may name runc (the lane's baseline).
package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const vmImgContainerfile = `FROM vmbusybox
RUN echo built > /built && cat /proc/self/cgroup > /run-cgroup
RUN ["/bin/sh", "-c", "test -f /built && echo second >> /built"]
ENV GREETING=hello
CMD ["/bin/sh", "-c", "echo $GREETING"]
`

func TestVMImgBuildRun(t *testing.T) {
	vmNeedSystemdV2(t)
	bin := os.Getenv("MYIMG")
	if bin == "" {
		t.Fatal("set MYIMG to the myimg binary")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	e := &vmEngine{t: t, bin: bin, pre: []string{"--root", store},
		env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}}
	t.Cleanup(func() { vmUnmountUnder(dir) })
	rootfs := filepath.Join(dir, "rootfs")
	busyboxRootfs(t, rootfs)
	e.must("import", rootfs, "vmbusybox")
	ctx := filepath.Join(dir, "ctx")
	os.MkdirAll(ctx, 0o755)
	if err := os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(vmImgContainerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	e.must("build", "--runtime", myrun, "-t", "vmbuilt", ctx)
	if leftover, _ := filepath.Glob("/sys/fs/cgroup/myimg-build/*"); len(vmCgroupDirs(leftover)) != 0 {
		t.Errorf("build left RUN cgroups: %v", leftover)
	}
	// The image's CMD, with nothing else.
	if out := e.must("run", "--rm", "--net", "none", "--runtime", myrun, "vmbuilt"); out != "hello" {
		t.Errorf("run of the built image printed %q, want hello", out)
	}
	// RUN's output, its cgroup namespace, and the limits in the v2 files.
	out := e.must("run", "--rm", "--net", "none", "--runtime", myrun,
		"-m", "64m", "--pids-limit", "32", "--cpus", "0.5", "vmbuilt", "sh", "-c",
		"cat /built /run-cgroup; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max; echo $GREETING")
	want := "built\nsecond\n0::/\n67108864\n32\n50000 100000\nhello"
	if out != want {
		t.Errorf("run with limits printed\n%s\nwant\n%s", out, want)
	}
	if left := e.must("ps", "-a", "-q"); left != "" {
		t.Errorf("containers left after run --rm: %s", left)
	}
	if leftover, _ := filepath.Glob("/sys/fs/cgroup/myimg/*"); len(vmCgroupDirs(leftover)) != 0 {
		t.Errorf("run left cgroups: %v", leftover)
	}
}

// vmCgroupDirs keeps the directories of paths (a cgroup's interface files
// are files).
func vmCgroupDirs(paths []string) []string {
	var out []string
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() && !strings.HasPrefix(filepath.Base(p), "cgroup.") {
			out = append(out, p)
		}
	}
	return out
}

// myimg rootless through systemd's user manager (user@1000.service with
// Delegate=): as the image's user, a build with RUN steps, then `myimg
// run -d` with -m/--pids-limit/--cpus, whose limits must land in the
// container's scope in the user's delegated subtree (files and unit), and
// `rm -f` removing the scope.
func TestVMImgRootlessSystemd(t *testing.T) {
	vmNeedSystemdV2(t)
	bin := os.Getenv("MYIMG")
	if bin == "" {
		t.Fatal("set MYIMG to the myimg binary")
	}
	xdg := fmt.Sprintf("/run/user/%d", vmUID)
	if _, err := os.Stat(xdg + "/bus"); err != nil {
		t.Fatalf("the user manager of uid %d is not up: %v", vmUID, err)
	}
	base, err := os.MkdirTemp("", "vm-myimg-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	rt := filepath.Join(base, "bin", filepath.Base(myrun))
	img := filepath.Join(base, "bin", "myimg")
	os.MkdirAll(filepath.Dir(rt), 0o755)
	escInstall(t, myrun, rt)
	escInstall(t, bin, img)
	busyboxRootfs(t, filepath.Join(base, "rootfs"))
	ctx := filepath.Join(base, "ctx")
	os.MkdirAll(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(vmImgContainerfile), 0o644)
	os.MkdirAll(filepath.Join(base, "home"), 0o755)
	escChownTree(t, base, vmUID, vmUID)
	e := &vmEngine{t: t, bin: img, pre: []string{"--root", filepath.Join(base, "store")}, cred: &escCred{vmUID, vmUID},
		env: []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + base + "/home", "USER=user", "LOGNAME=user",
			"XDG_RUNTIME_DIR=" + xdg, "DBUS_SESSION_BUS_ADDRESS=unix:path=" + xdg + "/bus"}}
	t.Cleanup(func() {
		if ids, _, _ := e.run("ps", "-a", "-q"); ids != "" {
			e.run(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		vmUnmountUnder(base)
		os.RemoveAll(base)
	})
	e.must("import", filepath.Join(base, "rootfs"), "vmbusybox")
	e.must("build", "--runtime", rt, "-t", "vmbuilt", ctx)
	out := e.must("run", "--rm", "--net", "none", "--runtime", rt, "-m", "64m", "--pids-limit", "32", "--cpus", "0.5",
		"vmbuilt", "sh", "-c", "cat /built /proc/self/cgroup /sys/fs/cgroup/memory.max")
	// The scope's own memory.max at /sys/fs/cgroup (was the host's root
	// cgroup through the rootless /sys bind, which has none).
	if want := "built\nsecond\n0::/\n67108864"; out != want {
		t.Errorf("rootless run with limits printed\n%s\nwant\n%s", out, want)
	}
	id := e.must("run", "-d", "--net", "none", "--runtime", rt, "-m", "64m", "--pids-limit", "32", "--cpus", "0.5",
		"vmbuilt", "sleep", "1000")
	unit := "myimg-" + id + ".scope"
	cg := fmt.Sprintf("/sys/fs/cgroup/user.slice/user-%d.slice/user@%d.service/user.slice/%s", vmUID, vmUID, unit)
	for file, want := range map[string]string{"memory.max": "67108864", "pids.max": "32", "cpu.max": "50000 100000"} {
		if raw, err := os.ReadFile(filepath.Join(cg, file)); err != nil || strings.TrimSpace(string(raw)) != want {
			t.Errorf("%s/%s = %q (%v), want %s", cg, file, raw, err, want)
		}
	}
	if got := userUnitProp(t, vmUID, unit, "MemoryMax"); got != "67108864" {
		t.Errorf("%s MemoryMax = %q", unit, got)
	}
	// Inside, /sys/fs/cgroup is the scope: its limits, the container's
	// init (pid 1 in its pid namespace) in cgroup.procs, read-only. The
	// exec itself starts outside user@UID.service: CLONE_INTO_CGROUP and
	// cgroup.procs are refused there, systemd attaches it.
	in := e.must("exec", id, "sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max; "+
		"grep -qx 1 /sys/fs/cgroup/cgroup.procs && echo init; touch /sys/fs/cgroup/x 2>/dev/null && echo writable || echo ro")
	if want := "67108864\n32\n50000 100000\ninit\nro"; in != want {
		t.Errorf("inside the rootless container /sys/fs/cgroup shows\n%s\nwant\n%s", in, want)
	}
	e.must("rm", "-f", id)
	escWaitFor(t, time.Minute*timeoutScale, unit+" to go", func() bool {
		_, err := os.Stat(cg)
		return os.IsNotExist(err)
	})
}
