//go:build integration

// A test that needs its own mount namespace: root only, behind the
// integration tag (docs/CONVENTIONS.md).

package pathrs

import (
	"os"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// WriteThreadSelf writes through a verified procfs handle: a fake /proc
// (here a tmpfs over /proc in a mount namespace of this thread only, with
// a plain file at thread-self/comm) must never receive the write. Either
// the real procfs gets it (a private procfs instance) or it fails.
func TestWriteThreadSelfIgnoresFakeProc(t *testing.T) {
	type result struct {
		err       error
		name      string
		fake      string
		setupErr  error
		attrWrote error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread with the private mount namespace
		// dies with this goroutine.
		runtime.LockOSThread()
		var r result
		defer func() { done <- r }()
		if r.setupErr = unix.Unshare(unix.CLONE_NEWNS); r.setupErr != nil {
			return
		}
		if r.setupErr = unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); r.setupErr != nil {
			return
		}
		if r.setupErr = unix.Mount("tmpfs", "/proc", "tmpfs", 0, ""); r.setupErr != nil {
			return
		}
		os.MkdirAll("/proc/thread-self/attr", 0o755)
		os.WriteFile("/proc/thread-self/comm", nil, 0o644)
		os.WriteFile("/proc/thread-self/attr/exec", nil, 0o644)
		r.err = WriteThreadSelf("comm", "pathrs-lsm")
		// No LSM accepts "myrun-bogus-label" as an exec label: the
		// write must reach the kernel and fail, not land in the fake.
		r.attrWrote = WriteThreadSelf("attr/exec", "myrun-bogus-label")
		b, _ := os.ReadFile("/proc/thread-self/comm")
		a, _ := os.ReadFile("/proc/thread-self/attr/exec")
		r.fake = string(b) + string(a)
		var buf [16]byte
		unix.Prctl(unix.PR_GET_NAME, uintptr(unsafe.Pointer(&buf[0])), 0, 0, 0)
		r.name = unix.ByteSliceToString(buf[:])
	}()
	r := <-done
	if r.setupErr != nil {
		t.Fatalf("setup: %v", r.setupErr)
	}
	if r.fake != "" {
		t.Fatalf("write went to the fake /proc: %q", r.fake)
	}
	if r.err == nil && r.name != "pathrs-lsm" {
		t.Fatalf("write reported success but the thread is named %q", r.name)
	}
	if r.attrWrote == nil {
		t.Fatal("a bogus LSM label was accepted (written somewhere other than the kernel)")
	}
	t.Logf("comm write: %v (name %q); attr/exec: %v", r.err, r.name, r.attrWrote)
}
