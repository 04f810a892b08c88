package overlay

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mountOptions is target's per-mount options in /proc/self/mountinfo.
func mountOptions(t *testing.T, target string) string {
	t.Helper()
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == target {
			return f[5]
		}
	}
	return ""
}

// TestMountOpt: storage.conf's mountopt reaches the kernel's overlay
// and fuse-overlayfs (nodev as the mount's attribute, overlay
// parameters after myimg's); one refused, unknown or myimg's own is an
// *OptError naming it and leaves nothing mounted.
func TestMountOpt(t *testing.T) {
	if os.Geteuid() != 0 || InUserNS() {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	l, u, w, m := filepath.Join(dir, "l"), filepath.Join(dir, "u"), filepath.Join(dir, "w"), filepath.Join(dir, "m")
	for _, d := range []string{l, u, w, m} {
		os.Mkdir(d, 0o755)
	}
	for _, opt := range []string{"nodev", "nodev,nosuid,metacopy=on"} {
		if err := MountOpt([]string{l}, u, w, m, opt); err != nil {
			t.Fatalf("%s: %v", opt, err)
		}
		got := mountOptions(t, m)
		unix.Unmount(m, 0)
		if !strings.Contains(","+got+",", ",nodev,") {
			t.Errorf("%s: mounted %q, want nodev", opt, got)
		}
	}
	if got := func() string { MountOpt([]string{l}, u, w, m, ""); defer unix.Unmount(m, 0); return mountOptions(t, m) }(); strings.Contains(got, "nodev") {
		t.Errorf("no mountopt: %q", got)
	}
	for opt, bad := range map[string]string{"nodev,bogus": "bogus", "upperdir=/x": "upperdir=/x", "ro": "ro"} {
		err := MountOpt([]string{l}, u, w, m, opt)
		var oe *OptError
		if !errors.As(err, &oe) || oe.Opt != bad || IsMounted(m) {
			t.Errorf("%s: %v (mounted %v), want an OptError naming %s", opt, err, IsMounted(m), bad)
		}
		Unmount(m)
	}
	prog, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return
	}
	if err := MountFuse(prog, []string{l}, u, w, m, "nodev"); err != nil {
		t.Fatalf("fuse-overlayfs nodev: %v", err)
	}
	got := mountOptions(t, m)
	Unmount(m)
	if !strings.Contains(got, "nodev") {
		t.Errorf("fuse-overlayfs nodev: %q", got)
	}
	err = MountFuse(prog, []string{l}, u, w, m, "nodev,bogus")
	var oe *OptError
	if !errors.As(err, &oe) || oe.Opt != "bogus" || IsMounted(m) {
		t.Errorf("fuse-overlayfs bogus: %v", err)
	}
	Unmount(m)
}
