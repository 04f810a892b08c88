package pathrs

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A sysctl the kernel does not have is reported as that, not as the
// library's "unsafe procfs detected" (what CRI users saw for a pod sysctl
// typo), and stays an ENOENT for callers.
func TestWriteProcSysMissingKey(t *testing.T) {
	err := WriteProcSys("net.ipv4.no_such_sysctl", "1")
	if err == nil {
		t.Fatal("writing a sysctl that does not exist succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "no such sysctl on this kernel") || strings.Contains(msg, "unsafe procfs") {
		t.Errorf("error %q: want it to say the sysctl does not exist", msg)
	}
	if !strings.Contains(msg, "net.ipv4.no_such_sysctl") {
		t.Errorf("error %q does not name the key", msg)
	}
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("error %q is not ENOENT", msg)
	}
}
