package libcontainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestNSRootHelpers(t *testing.T) {
	if n, ok := rootIn("         1     200000          5\n         0     100000          1\n"); !ok || n != 100000 {
		t.Fatalf("rootIn: %d %v", n, ok)
	}
	if _, ok := rootIn("1 200000 5\n"); ok {
		t.Fatal("rootIn found a root in a map without 0")
	}
	spec := &rspec.Spec{Linux: &rspec.Linux{
		Namespaces:  []rspec.LinuxNamespace{{Type: rspec.UserNamespace}},
		UIDMappings: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GIDMappings: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}},
	}}
	if u, g, ok := specNSRoot(spec); !ok || u != 100000 || g != 200000 {
		t.Fatalf("specNSRoot: %d %d %v", u, g, ok)
	}
	spec.Linux.Namespaces = nil
	if _, _, ok := specNSRoot(spec); ok {
		t.Fatal("specNSRoot without a user namespace")
	}
	if _, _, ok := nsRootOf(os.Getpid()); ok {
		t.Fatal("nsRootOf(self) says we are in another user namespace")
	}
	for _, c := range []struct {
		uid, gid, mode uint32
		want           bool
	}{
		{0, 0, 0o700, false}, {100000, 0, 0o700, true}, {0, 200000, 0o750, true},
		{0, 200000, 0o705, false}, {0, 0, 0o711, true}, {100000, 0, 0o077, false},
	} {
		st := &unix.Stat_t{Uid: c.uid, Gid: c.gid, Mode: unix.S_IFDIR | c.mode}
		if got := searchableBy(st, 100000, 200000); got != c.want {
			t.Errorf("%d:%d %#o: searchable %v, want %v", c.uid, c.gid, c.mode, got, c.want)
		}
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	err := checkImageDirForUserNS("--image-path", dir, 100000, 200000)
	if err == nil || !strings.Contains(err.Error(), "--image-path: "+dir) || !strings.Contains(err.Error(), "host uid 100000") {
		t.Fatalf("checkImageDirForUserNS: %v", err)
	}
}

// The images of a user-namespaced container go to its root with the
// directory; a symlink's target is left alone.
func TestHandImagesToNSRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "outside")
	for _, f := range []string{filepath.Join(dir, "timens-0.img"), outside} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.img")); err != nil {
		t.Fatal(err)
	}
	d := &dumping{imageDir: dir}
	if err := d.handImagesToNSRoot(); err != nil {
		t.Fatal(err)
	}
	stat := func(f string) unix.Stat_t {
		var st unix.Stat_t
		if err := unix.Stat(f, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	owner := func(f string) uint32 { return stat(f).Uid }
	if owner(filepath.Join(dir, "timens-0.img")) != 0 {
		t.Fatal("images chowned without a user namespace")
	}
	if err := os.Chown(filepath.Join(dir, "timens-0.img"), 0, 7); err != nil {
		t.Fatal(err)
	}
	root := 100000
	d.nsRoot = &root
	if err := d.handImagesToNSRoot(); err != nil {
		t.Fatal(err)
	}
	// Before its uid_map is written a restored task is host uid and gid 0
	// without capabilities here: group root and 0640 let it read.
	if st := stat(filepath.Join(dir, "timens-0.img")); st.Uid != 100000 || st.Gid != 0 || st.Mode&0o777 != 0o640 {
		t.Fatalf("image %d:%d %o, want 100000:0 640", st.Uid, st.Gid, st.Mode&0o777)
	}
	if u := owner(outside); u != 0 {
		t.Fatalf("the symlink's target was chowned to %d", u)
	}
}
