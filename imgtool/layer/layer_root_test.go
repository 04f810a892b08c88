//go:build integration

// Layer tests that need root (whiteout devices, trusted xattrs, chown):
// behind the integration tag (docs/CONVENTIONS.md).

package layer

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Whiteouts: upper dir -> tar (OCI whiteouts) -> applied and overlay forms.
func TestOverlayUpperRoundTrip(t *testing.T) {
	upper := t.TempDir()
	os.MkdirAll(filepath.Join(upper, "opaque"), 0o755)
	os.WriteFile(filepath.Join(upper, "opaque", "new"), []byte("n"), 0o644)
	if err := unix.Setxattr(filepath.Join(upper, "opaque"), OverlayOpaqueXattr, []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(upper, "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(upper, "file"), []byte("data"), 0o640)
	os.Link(filepath.Join(upper, "file"), filepath.Join(upper, "hard"))
	os.Symlink("/file", filepath.Join(upper, "link"))

	var buf bytes.Buffer
	clamp := time.Unix(5, 0)
	if err := WriteTar(&buf, upper, WriteOptions{Overlay: true, Clamp: &clamp}); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.ModTime.After(clamp) {
			t.Errorf("%s: mtime %v not clamped", h.Name, h.ModTime)
		}
		names = append(names, h.Name)
	}
	want := "file .wh.gone hard link opaque/ opaque/.wh..wh..opq opaque/new"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("entries = %q, want %q", got, want)
	}
	// Same tree, same bytes.
	var again bytes.Buffer
	WriteTar(&again, upper, WriteOptions{Overlay: true, Clamp: &clamp})
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatal("WriteTar is not deterministic")
	}

	// Apply onto a lower tree.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "opaque"), 0o755)
	os.WriteFile(filepath.Join(root, "opaque", "old"), []byte("o"), 0o644)
	os.WriteFile(filepath.Join(root, "gone"), []byte("g"), 0o644)
	if err := ExtractTar(bytes.NewReader(buf.Bytes()), root, ExtractOptions{Mode: Apply}); err != nil {
		t.Fatal(err)
	}
	for p, exists := range map[string]bool{"gone": false, "opaque/old": false, "opaque/new": true, "file": true, "hard": true} {
		if _, err := os.Lstat(filepath.Join(root, p)); (err == nil) != exists {
			t.Errorf("%s exists=%v, want %v", p, err == nil, exists)
		}
	}
	var a, b unix.Stat_t
	unix.Stat(filepath.Join(root, "file"), &a)
	unix.Stat(filepath.Join(root, "hard"), &b)
	if a.Ino != b.Ino || a.Mode&0o777 != 0o640 {
		t.Errorf("hardlink/mode not preserved: ino %d/%d mode %o", a.Ino, b.Ino, a.Mode&0o777)
	}
	if l, _ := os.Readlink(filepath.Join(root, "link")); l != "/file" {
		t.Errorf("symlink = %q", l)
	}

	// Overlay form: whiteout device and opaque xattr come back.
	ov := t.TempDir()
	if err := ExtractTar(bytes.NewReader(buf.Bytes()), ov, ExtractOptions{Mode: Overlay}); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(ov, "gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout device not created: %v", err)
	}
	v := make([]byte, 1)
	if n, err := unix.Getxattr(filepath.Join(ov, "opaque"), OverlayOpaqueXattr, v); err != nil || n != 1 || v[0] != 'y' {
		t.Errorf("opaque xattr missing: %v", err)
	}
}

// Owners go through the id mapping (unpack --uid-map/--gid-map, rootless
// unpack) and xattrs are kept; an id outside the mapping is an error
// naming the entry.
func TestExtractOwnersMappedAndXattrs(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "root-file", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 0, Gid: 0, Size: 1,
			PAXRecords: map[string]string{"SCHILY.xattr.user.myimg": "kept"}},
		{Name: "user-dir/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 1000, Gid: 1001},
	} {
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	m := []IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	dir := t.TempDir()
	if err := ExtractTar(bytes.NewReader(buf.Bytes()), dir, ExtractOptions{Mode: Apply, UIDMap: m, GIDMap: m}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][2]uint32{"root-file": {100000, 100000}, "user-dir": {101000, 101001}} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, name), &st); err != nil || st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %v (%v)", name, st.Uid, st.Gid, want, err)
		}
	}
	val := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "root-file"), "user.myimg", val); err != nil || string(val[:n]) != "kept" {
		t.Errorf("xattr user.myimg: %q %v", val[:max(n, 0)], err)
	}
	small := []IDMap{{ContainerID: 0, HostID: 100000, Size: 10}}
	err := ExtractTar(bytes.NewReader(buf.Bytes()), t.TempDir(), ExtractOptions{Mode: Apply, UIDMap: small, GIDMap: small})
	if err == nil || !strings.Contains(err.Error(), "user-dir") || !strings.Contains(err.Error(), "not in the id mapping") {
		t.Fatalf("unmapped owner: %v", err)
	}
}
