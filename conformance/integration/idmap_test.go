//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// idmapSource makes a host directory with files owned by 0 and by 1000, and
// a tmpfs submount holding a file owned by 0 (removed at cleanup).
func idmapSource(t *testing.T) string {
	src := filepath.Join(t.TempDir(), "src")
	sub := filepath.Join(src, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]int{"root-file": 0, "user-file": 1000} {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, id, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(sub, "sub-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(src), 0o755)
	return src
}

func idmapBundle(t *testing.T, src string, m rspec.Mount, mutate func(*rspec.Spec)) *bundle {
	m.Destination, m.Type, m.Source = "/data", "bind", src
	return newBundle(t, []string{"stat", "-c", "%n %u:%g", "/data/root-file", "/data/user-file", "/data/sub/sub-file"}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, m)
		if mutate != nil {
			mutate(s)
		}
	})
}

func maps(container, host, size uint32) []rspec.LinuxIDMapping {
	return []rspec.LinuxIDMapping{{ContainerID: container, HostID: host, Size: size}}
}

// A mount's own mappings: files owned by id N in the source show as the
// host id the mapping gives N; ridmap maps submounts too, idmap does not.
func TestIDMappedMountOwnMappings(t *testing.T) {
	src := idmapSource(t)
	for _, tc := range []struct {
		opts []string
		want string
	}{
		{[]string{"rbind", "ridmap"}, "/data/root-file 2000:3000\n/data/user-file 3000:4000\n/data/sub/sub-file 2000:3000\n"},
		{[]string{"rbind", "idmap"}, "/data/root-file 2000:3000\n/data/user-file 3000:4000\n/data/sub/sub-file 0:0\n"},
	} {
		b := idmapBundle(t, src, rspec.Mount{Options: tc.opts, UIDMappings: maps(0, 2000, 1001), GIDMappings: maps(0, 3000, 1001)}, nil)
		if out := b.mustRun(); out != tc.want {
			t.Errorf("%v: got\n%swant\n%s", tc.opts, out, tc.want)
		}
	}
	// The source itself is untouched.
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(src, "root-file"), &st); err != nil || st.Uid != 0 {
		t.Fatalf("source changed: uid %d, %v", st.Uid, err)
	}
}

// idmap without mappings takes the container's user namespace mapping:
// root's files in the source are root's in the container, and what the
// container's root writes lands as the host's root.
func TestIDMappedMountContainerMapping(t *testing.T) {
	src := idmapSource(t)
	b := idmapBundle(t, src, rspec.Mount{Options: []string{"bind", "idmap"}}, func(s *rspec.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
		s.Linux.UIDMappings = maps(0, 100000, 65536)
		s.Linux.GIDMappings = maps(0, 100000, 65536)
		s.Process.Args = []string{"sh", "-c", "stat -c '%n %u:%g' /data/root-file /data/user-file && touch /data/new"}
	})
	os.Chmod(b.dir, 0o755)
	os.Chmod(filepath.Dir(b.dir), 0o755)
	// The rootfs belongs to the host's root, unmapped in the container.
	if err := os.Mkdir(filepath.Join(b.dir, "rootfs/data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out := b.mustRun(); out != "/data/root-file 0:0\n/data/user-file 1000:1000\n" {
		t.Fatalf("got %q", out)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(src, "new"), &st); err != nil || st.Uid != 0 || st.Gid != 0 {
		t.Fatalf("file written through the idmapped mount: uid %d gid %d, %v", st.Uid, st.Gid, err)
	}
}

// Bad idmapped mounts fail create with the field named, and leave nothing.
func TestIDMappedMountErrors(t *testing.T) {
	src := idmapSource(t)
	for _, tc := range []struct {
		name string
		m    rspec.Mount
		want string
	}{
		{"no mapping, no user namespace", rspec.Mount{Options: []string{"bind", "idmap"}}, ".options: idmap without uidMappings/gidMappings"},
		{"uid only", rspec.Mount{Options: []string{"bind", "idmap"}, UIDMappings: maps(0, 1000, 1)}, ".gidMappings: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var field string
			b := idmapBundle(t, src, tc.m, func(s *rspec.Spec) { field = fmt.Sprintf("mounts[%d]", len(s.Mounts)-1) })
			_, errs, code := b.myrun("create", "--bundle", b.dir, b.id)
			if code == 0 || !strings.Contains(errs, field+tc.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, errs, field+tc.want)
			}
			b.assertNothingLeft()
		})
	}
}
