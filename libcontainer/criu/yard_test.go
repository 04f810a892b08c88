package criu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDetachYards: a yard as a killed CRIU leaves it (a tmpfs with a
// hierarchy mounted below) is detached and removed; other mounts in the
// dir stay.
func TestDetachYards(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	dir := t.TempDir()
	yard := filepath.Join(dir, yardPrefix+"a1B2c3")
	other := filepath.Join(dir, "other")
	for _, d := range []string{yard, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("yard", yard, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(yard, unix.MNT_DETACH) })
	below := filepath.Join(yard, "unified")
	os.Mkdir(below, 0o700)
	if err := unix.Mount("below", below, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("other", other, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(other, unix.MNT_DETACH) })

	if err := DetachYards(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(yard); !os.IsNotExist(err) {
		t.Errorf("yard still there: %v", err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), yard) {
		t.Errorf("yard mounts left:\n%s", mi)
	}
	if !strings.Contains(string(mi), other) {
		t.Errorf("the other mount was taken down too")
	}
	if err := DetachYards(dir); err != nil {
		t.Errorf("nothing left to do: %v", err)
	}
}
