package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Init's own checks (validation makes the same ones earlier): a proc or
// sysfs destination must be an ordinary directory in the rootfs, and
// only a procfs may be bound at /proc, never under it.
func TestCheckOrdinaryDir(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "tmp"), 0o755)
	os.Mkdir(filepath.Join(root, "sys"), 0o755)
	os.Symlink("tmp", filepath.Join(root, "proc"))
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	c := &Config{Rootfs: root}
	for dest, want := range map[string]string{
		"/sys":     "",
		"/missing": "",
		"/proc":    `is a symlink in the rootfs: filesystem "proc" must be mounted on ordinary directory`,
		"/proc/":   `is a symlink in the rootfs`,
		"/file":    `is not a directory in the rootfs`,
	} {
		err := c.checkOrdinaryDir(dest, "proc")
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: got %v, want %q", dest, err, want)
		}
	}
}

// The mount itself goes through a handle that never follows a symlink at
// the destination, so a swap after the check changes nothing.
func TestOpenOrdinaryDir(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "tmp"), 0o755)
	os.Mkdir(filepath.Join(root, "sys"), 0o755)
	os.Symlink("tmp", filepath.Join(root, "proc"))
	os.Symlink("/tmp", filepath.Join(root, "abs"))
	for dest, ok := range map[string]bool{"/sys": true, "/new/proc": true, "/proc": false, "/abs": false} {
		f, err := openOrdinaryDir(root, dest)
		if ok != (err == nil) {
			t.Errorf("%s: %v", dest, err)
		}
		if f != nil {
			f.Close()
		}
	}
	if fi, err := os.Lstat(filepath.Join(root, "new/proc")); err != nil || !fi.IsDir() {
		t.Errorf("new/proc not made: %v", err)
	}
}

func TestCheckProcDest(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.Symlink("/proc/self", filepath.Join(root, "selflink"))
	c := &Config{Rootfs: root}
	for _, tc := range []struct{ dest, src, want string }{
		{"/proc", "/proc", ""},
		{"/mnt", "/proc", ""},
		{"/proc/cpuinfo", "/var/lib/lxcfs/proc/cpuinfo", ""},
		{"/proc", "/tmp", `mounts[3].source: "/tmp" is not a procfs: only procfs may be mounted at /proc`},
		{"/proc", "", "mounts[3].destination: /proc: only procfs may be mounted at /proc"},
		{"/proc/sys", "/proc/sys", "mounts[3].destination: /proc/sys resolves to /proc/sys: mounting over /proc is not allowed"},
		{"/selflink/attr", "/proc/self/attr", "resolves to /proc/self/attr: mounting over /proc is not allowed"},
	} {
		err := c.checkProcDest("mounts[3]", tc.dest, tc.src)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s <- %s: got %v, want %q", tc.dest, tc.src, err, tc.want)
		}
	}
}
