//go:build integration

package nsexec

import (
	"os"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The test binary links the constructor, so it can be its own placeholder.
func TestNewUserNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("mapping other ids needs root (integration tests run as root)")
	}
	m := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 2000, Size: 10}}
	ns, err := NewUserNamespace(m, m)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	typ, err := unix.IoctlRetInt(int(ns.Fd()), unix.NS_GET_NSTYPE)
	if err != nil || typ != unix.CLONE_NEWUSER {
		t.Fatalf("not a user namespace: %d, %v", typ, err)
	}
	var ours, got unix.Stat_t
	if err := unix.Stat("/proc/self/ns/user", &ours); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(ns.Fd()), &got); err != nil || got.Ino == ours.Ino {
		t.Fatalf("same namespace as ours (%v)", err)
	}
	// The placeholder is gone and reaped.
	var ws unix.WaitStatus
	if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); err != unix.ECHILD {
		t.Fatalf("a child is left: pid %d, %v", pid, err)
	}
	if _, err := NewUserNamespace(m, nil); err == nil {
		t.Fatal("no error without gid mappings")
	}
}
