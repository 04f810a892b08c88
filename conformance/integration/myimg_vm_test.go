//go:build integration && vm

// myimg on a pure cgroup v2 host with systemd as PID 1 (the VM lane): a
// Containerfile with RUN steps built with MYRUN as the RUN runtime, then
// `myimg run` of the result with limits that must land in the container's
// v2 cgroup files. MYRUN may name runc (the lane's baseline).
package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
