//go:build integration && vm

// Checkpoints crossing runtimes (runc 1.1.5 <-> MYRUN) and bad input
// against the real CRIU: built only for the VM lane (criu_vm_test.go).
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
)

// crRuntime is one runtime binary with its own state root.
type crRuntime struct{ bin, root string }

// crRunc is the guest's runc 1.1.5 with a state root in the bundle; it
// skips the test when MYRUN is runc itself (the criu-runc suite).
func crRunc(t *testing.T, b *bundle) crRuntime {
	t.Helper()
	if filepath.Base(myrun) == "runc" {
		t.Skip("MYRUN is runc: the cross-runtime tests need myrun and runc")
	}
	p, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("no runc in the guest")
	}
	return crRuntime{p, filepath.Join(b.dir, "runc-state")}
}

// do runs the runtime with pipes as stdio (as crIO.run) and returns
// stderr and the exit code.
func (rt crRuntime) do(t *testing.T, io *crIO, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(rt.bin, append([]string{"--root", rt.root}, args...)...)
	// The pipes themselves, not copies through Go: a detached container
	// keeps the runtime's stdio (Wait would never see EOF), and CRIU
	// dumps only fds it can find in the container (pipes, not host files).
	cmd.Stdin, cmd.Stdout, cmd.Stderr = io.in[0], io.out[1], io.errs[1]
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute * timeoutScale):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v timed out: %s", rt.bin, args, drain(io.errs[0]))
	}
	return drain(io.errs[0]), cmd.ProcessState.ExitCode()
}

// must is do that fails the test on a non-zero exit, with CRIU's log.
func (rt crRuntime) must(t *testing.T, io *crIO, args ...string) {
	t.Helper()
	if errs, code := rt.do(t, io, args...); code != 0 {
		t.Fatalf("%s %v: exit %d: %s%s", filepath.Base(rt.bin), args, code, errs, criuLogTail(t, args))
	}
}

// out runs a short command (state, exec, kill, delete) for its stdout.
func (rt crRuntime) out(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCmd(t, 60*time.Second, exec.Command(rt.bin, append([]string{"--root", rt.root}, args...)...))
}

func (rt crRuntime) status(t *testing.T, id string) string {
	out, _, code := rt.out(t, "state", id)
	if code != 0 {
		return "absent"
	}
	if i := strings.Index(out, `"status": "`); i >= 0 {
		s := out[i+len(`"status": "`):]
		return s[:strings.Index(s, `"`)]
	}
	return "?"
}

// count is the loop's counter read through the runtime's exec.
func (rt crRuntime) count(t *testing.T, id string) int {
	t.Helper()
	out, errs, code := rt.out(t, "exec", id, "cat", "/tmp/count")
	if code != 0 {
		t.Fatalf("%s exec cat /tmp/count: %d %s", filepath.Base(rt.bin), code, errs)
	}
	var n int
	for _, c := range strings.TrimSpace(out) {
		n = n*10 + int(c-'0')
	}
	return n
}

func (rt crRuntime) waitCount(t *testing.T, id string, n int) int {
	t.Helper()
	var c int
	escWaitFor(t, 2*time.Minute*timeoutScale, "the loop's counter to pass a value", func() bool {
		c = rt.count(t, id)
		return c > n
	})
	return c
}

// stopAndDelete kills the container, waits for it to stop and deletes it.
func (rt crRuntime) stopAndDelete(t *testing.T, id string) {
	t.Helper()
	if _, errs, code := rt.out(t, "kill", id, "KILL"); code != 0 {
		t.Fatalf("kill %s: %s", id, errs)
	}
	escWaitFor(t, time.Minute*timeoutScale, "the restored container to stop", func() bool { return rt.status(t, id) == "stopped" })
	if _, errs, code := rt.out(t, "delete", id); code != 0 {
		t.Fatalf("delete %s: %s", id, errs)
	}
}

// crInitCgroup is the cgroup v2 path the container's init runs in.
func crInitCgroup(t *testing.T, rt crRuntime, id string) string {
	t.Helper()
	out, errs, code := rt.out(t, "state", id)
	if code != 0 {
		t.Fatalf("state %s: %s", id, errs)
	}
	var st struct{ Pid int }
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("state %s: %v", id, err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(strings.TrimPrefix(string(b), "0::"))
}

// crMoveTo gives the bundle's next container its own id and cgroup.
func crMoveTo(t *testing.T, b *bundle, id string) {
	b.spec.Linux.CgroupsPath = cgroupParent + "/" + id
	b.write()
}

// A checkpoint taken by runc 1.1.5, restored by MYRUN under a new id: the
// loop counts on and state/exec/kill/delete work.
func TestCRIUInteropRuncToMyrun(t *testing.T) {
	b := crBundle(t, nil)
	runc := crRunc(t, b)
	mine := crRuntime{myrun, b.root}
	io := newCrIO(t)
	t.Cleanup(func() { exec.Command(runc.bin, "--root", runc.root, "delete", "--force", b.id).Run() })
	runc.must(t, io, "run", "-d", "--bundle", b.dir, b.id)
	n := runc.waitCount(t, b.id, 2)
	img := filepath.Join(t.TempDir(), "img")
	runc.must(t, io, "checkpoint", "--image-path", img, b.id)
	if s := runc.status(t, b.id); s != "absent" {
		t.Fatalf("after runc checkpoint the container is %s", s)
	}
	// runc 1.1.5 leaves the dumped container's (empty) cgroup behind.
	for _, d := range cgroupDirs(b) {
		t.Logf("runc left %s behind; removed", d)
		os.Remove(d)
	}
	id2 := b.id + "-m"
	crMoveTo(t, b, id2)
	t.Cleanup(func() { exec.Command(myrun, "--root", b.root, "delete", "--force", id2).Run() })
	mine.must(t, newCrIO(t), "restore", "-d", "--image-path", img, "--bundle", b.dir, id2)
	if s := mine.status(t, id2); s != "running" {
		t.Fatalf("restored container is %s", s)
	}
	if c := mine.waitCount(t, id2, n); c <= n {
		t.Fatalf("counter %d after restore, was %d", c, n)
	}
	if _, err := os.Stat("/sys/fs/cgroup" + cgroupParent + "/" + id2); err != nil {
		t.Fatalf("restored container's cgroup: %v", err)
	}
	mine.stopAndDelete(t, id2)
	if _, err := os.Stat("/sys/fs/cgroup" + cgroupParent + "/" + id2); !os.IsNotExist(err) {
		t.Fatalf("cgroup after delete: %v", err)
	}
}

// A checkpoint taken by MYRUN, restored by runc 1.1.5 under a new id.
func TestCRIUInteropMyrunToRunc(t *testing.T) {
	b := crBundle(t, nil)
	runc := crRunc(t, b)
	mine := crRuntime{myrun, b.root}
	io := newCrIO(t)
	mine.must(t, io, "run", "-d", "--bundle", b.dir, b.id)
	n := mine.waitCount(t, b.id, 2)
	img := filepath.Join(t.TempDir(), "img")
	mine.must(t, io, "checkpoint", "--image-path", img, b.id)
	if s := mine.status(t, b.id); s != "absent" {
		t.Fatalf("after myrun checkpoint the container is %s", s)
	}
	if dirs := cgroupDirs(b); len(dirs) > 0 {
		t.Fatalf("myrun's checkpoint left the container's cgroup: %v", dirs)
	}
	id2 := b.id + "-r"
	crMoveTo(t, b, id2)
	t.Cleanup(func() {
		exec.Command(runc.bin, "--root", runc.root, "delete", "--force", id2).Run()
		os.Remove("/sys/fs/cgroup" + cgroupParent + "/" + id2)
		os.Remove("/sys/fs/cgroup" + cgroupParent + "/" + b.id) // CRIU's, for runc
	})
	runc.must(t, newCrIO(t), "restore", "-d", "--image-path", img, "--bundle", b.dir, id2)
	if s := runc.status(t, id2); s != "running" {
		t.Fatalf("runc's restored container is %s", s)
	}
	// runc 1.1.5 has CRIU restore the dumped cgroup paths: its restored
	// init runs in the checkpointed container's cgroup, which CRIU makes
	// again, not in id2's (see conformance/vm/README.md). The test's
	// cleanup removes it after runc's delete; that myrun's checkpoint
	// removed it is checked above.
	if cg := crInitCgroup(t, runc, id2); cg != cgroupParent+"/"+id2 {
		t.Logf("runc's restored init runs in %s, not in %s", cg, cgroupParent+"/"+id2)
	}
	if c := runc.waitCount(t, id2, n); c <= n {
		t.Fatalf("counter %d after restore, was %d", c, n)
	}
	runc.stopAndDelete(t, id2)
}
