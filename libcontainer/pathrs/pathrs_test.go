package pathrs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	pathrslite "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// newRoot makes a root with a few escaping symlinks.
func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "tmp"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"abs":     "/etc/passwd",
		"dotdot":  "../../../../etc/passwd",
		"dangle":  fmt.Sprintf("/tmp/pathrs-escape-%d", os.Getpid()),
		"danglef": fmt.Sprintf("/tmp/pathrs-escape-file-%d", os.Getpid()),
		"updir":   "../../..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSecureJoin(t *testing.T) {
	root := newRoot(t)
	for in, want := range map[string]string{
		"/abs": "/etc/passwd", "dotdot": "/etc/passwd", "../../x": "/x", "/updir/etc": "/etc",
	} {
		got, err := SecureJoin(root, in)
		if err != nil || got != root+want {
			t.Errorf("%s: %q %v, want %q", in, got, err, root+want)
		}
	}
}

func TestOpenInRootStaysInside(t *testing.T) {
	root := newRoot(t)
	for _, p := range []string{"/abs", "dotdot", "/updir/etc/passwd"} {
		f, err := OpenInRoot(root, p, unix.O_RDONLY)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		buf := make([]byte, 16)
		n, _ := f.Read(buf)
		f.Close()
		if string(buf[:n]) != "inside" {
			t.Errorf("%s: read %q, want the root's file", p, buf[:n])
		}
	}
	h, err := OpenInRoot(root, "/etc", unix.O_PATH)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fl, _ := unix.FcntlInt(h.Fd(), unix.F_GETFL, 0)
	if fl&unix.O_PATH == 0 {
		t.Error("O_PATH requested but not returned")
	}
	if _, err := OpenInRoot(root, "/nope", unix.O_PATH); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing path: %v", err)
	}
}

func TestCreateInRootDanglingSymlink(t *testing.T) {
	root := newRoot(t)
	hostDir := fmt.Sprintf("/tmp/pathrs-escape-%d", os.Getpid())
	hostFile := fmt.Sprintf("/tmp/pathrs-escape-file-%d", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(hostDir); os.Remove(hostFile) })

	d, err := CreateInRoot(root, "/dangle", true, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if st, err := os.Stat(filepath.Join(root, hostDir)); err != nil || !st.IsDir() {
		t.Errorf("directory not created inside the root: %v", err)
	}
	f, err := CreateInRoot(root, "/danglef", false, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st, err := os.Stat(filepath.Join(root, hostFile)); err != nil || !st.Mode().IsRegular() {
		t.Errorf("file not created inside the root: %v", err)
	}
	for _, p := range []string{hostDir, hostFile} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s created on the host (%v)", p, err)
		}
	}
	// Existing entries are returned, not recreated.
	f, err = CreateInRoot(root, "/abs", false, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); string(b) != "inside" {
		t.Errorf("existing file changed: %q", b)
	}
	// Parents are created.
	f, err = CreateInRoot(root, "/updir/a/b/c", false, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(root, "a/b/c")); err != nil {
		t.Error(err)
	}
}

func TestMkdirAllInRoot(t *testing.T) {
	root := newRoot(t)
	d, err := MkdirAllInRoot(root, "/updir/x/y", 0o711)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	st, err := os.Stat(filepath.Join(root, "x/y"))
	if err != nil || !st.IsDir() {
		t.Fatalf("not created inside the root: %v", err)
	}
	p, base, err := MkdirParentInRoot(root, "/dotdot")
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if base != "passwd" || !strings.HasSuffix(p.Name(), "etc") {
		t.Errorf("parent %q base %q", p.Name(), base)
	}
}

func TestIsDevNullAndProcfs(t *testing.T) {
	open := func(p string) *os.File {
		f, err := os.OpenFile(p, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	fake := filepath.Join(t.TempDir(), "null")
	if err := os.WriteFile(fake, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if !IsDevNull(open("/dev/null")) {
		t.Error("/dev/null not recognised")
	}
	if IsDevNull(open("/dev/zero")) || IsDevNull(open(fake)) {
		t.Error("fake /dev/null accepted")
	}
	if !IsProcfs(open("/proc/self/status")) {
		t.Error("/proc not recognised")
	}
	if IsProcfs(open(fake)) {
		t.Error("tmp file taken for procfs")
	}
}

func TestSysctlPath(t *testing.T) {
	for in, want := range map[string]string{
		"net.ipv4.ip_forward":               "sys/net/ipv4/ip_forward",
		"net/ipv4/conf/eth0.100/forwarding": "sys/net/ipv4/conf/eth0.100/forwarding",
		"kernel.shm_rmid_forced":            "sys/kernel/shm_rmid_forced",
	} {
		got, err := SysctlPath(in)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "net..x", "net/../../etc", "/", "a/./b"} {
		if _, err := SysctlPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWriteProcSysErrors(t *testing.T) {
	if err := WriteProcSys("kernel.no_such_sysctl_pathrs_test", "1"); err == nil {
		t.Error("missing sysctl accepted")
	}
	if err := WriteProcSys("../../etc/passwd", "x"); err == nil {
		t.Error("escaping key accepted")
	}
	// fs.file-nr is read-only: the write must fail, not be dropped.
	if err := WriteProcSys("fs.file-nr", "1"); err == nil {
		t.Error("write to a read-only sysctl reported success")
	}
}

func TestMkdirParentNoFollow(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(root+"/dev", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside+"/x", root+"/dev/null"); err != nil {
		t.Fatal(err)
	}
	parent, base, err := MkdirParentNoFollow(root, "/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	if base != "null" {
		t.Fatalf("base %q", base)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatalf("the last component must be the symlink itself: %v %o", err, st.Mode)
	}
	if _, _, err := MkdirParentNoFollow(root, "/"); err == nil {
		t.Fatal("root accepted as a file name")
	}
}

func TestWriteThreadSelf(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := WriteThreadSelf("comm", "pathrs-comm")
		var buf [16]byte
		unix.Prctl(unix.PR_GET_NAME, uintptr(unsafe.Pointer(&buf[0])), 0, 0, 0)
		if err == nil && unix.ByteSliceToString(buf[:]) != "pathrs-comm" {
			err = fmt.Errorf("thread name %q after the write", unix.ByteSliceToString(buf[:]))
		}
		unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("pathrs.test\x00")[0])), 0, 0, 0)
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := WriteThreadSelf("../../../etc/passwd", "x"); err == nil {
		t.Fatal("a subpath leaving /proc/thread-self was written")
	}
}

// lookupInRoot skips only pathrs-lite's renaming after openat2: for every
// path, escaping or not, it must give a handle to the same inode as
// pathrs-lite's OpenInRoot, or fail with the same errno.
func TestLookupInRootMatchesPathrsLite(t *testing.T) {
	root := newRoot(t)
	if err := os.Symlink("/proc/self/root", filepath.Join(root, "magic")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/abs", "dotdot", "/updir/etc/passwd", "/updir", "/etc", "/", "", ".",
		"etc/../../etc/passwd", "/nope", "/dangle", "/abs/x", "/magic", "/magic/etc",
	} {
		ours, oerr := lookupInRoot(root, p)
		theirs, terr := pathrslite.OpenInRoot(root, p)
		if (oerr == nil) != (terr == nil) {
			t.Errorf("%q: ours %v, pathrs-lite %v", p, oerr, terr)
		}
		if oerr != nil && terr != nil && errno(oerr) != errno(terr) {
			t.Errorf("%q: ours %v, pathrs-lite %v", p, oerr, terr)
		}
		if oerr == nil && terr == nil {
			var a, b unix.Stat_t
			if err := unix.Fstat(int(ours.Fd()), &a); err != nil {
				t.Fatal(err)
			}
			if err := unix.Fstat(int(theirs.Fd()), &b); err != nil {
				t.Fatal(err)
			}
			if a.Dev != b.Dev || a.Ino != b.Ino {
				t.Errorf("%q: ours is %d:%d, pathrs-lite's %d:%d", p, a.Dev, a.Ino, b.Dev, b.Ino)
			}
			fl, _ := unix.FcntlInt(ours.Fd(), unix.F_GETFL, 0)
			if fl&unix.O_PATH == 0 {
				t.Errorf("%q: not an O_PATH handle", p)
			}
		}
		for _, f := range []*os.File{ours, theirs} {
			if f != nil {
				f.Close()
			}
		}
	}
}

func errno(err error) unix.Errno {
	var e unix.Errno
	errors.As(err, &e)
	return e
}

// The handle is named by the lexical join, not by a readlink of
// /proc/thread-self/fd after the lookup (pathrs-lite's way: ~12 syscalls
// per lookup, ~25 lookups per container's mount setup).
func TestOpenInRootNamesWithoutProcfs(t *testing.T) {
	root := newRoot(t)
	f, err := OpenInRoot(root, "/abs", unix.O_PATH)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if want := filepath.Join(root, "/abs"); f.Name() != want {
		t.Errorf("name %q, want %q", f.Name(), want)
	}
}

// existingDir stands in for pathrs-lite's MkdirAllHandle only where the
// directory exists: the same inode, opened O_RDONLY|O_DIRECTORY (not
// O_PATH) as MkdirAllHandle's; anything else is left to MkdirAllHandle.
func TestExistingDirMatchesMkdirAllHandle(t *testing.T) {
	root := newRoot(t)
	if err := os.Symlink("etc", filepath.Join(root, "etclink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(root, "etcabs")); err != nil {
		t.Fatal(err)
	}
	rootDir, err := openRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer rootDir.Close()
	for _, rel := range []string{".", "etc", "etclink", "etcabs", "etc/../tmp", "updir/etc", "etc/.", "tmp"} {
		ours := existingDir(rootDir, root, rel, 0o755)
		if ours == nil {
			t.Errorf("%q: existing directory not taken", rel)
			continue
		}
		theirs, err := pathrslite.MkdirAllHandle(rootDir, rel, 0o755)
		if err != nil {
			t.Fatalf("%q: %v", rel, err)
		}
		a, fa := statFlags(t, ours)
		b, fb := statFlags(t, theirs)
		if a.Dev != b.Dev || a.Ino != b.Ino {
			t.Errorf("%q: ours is %d:%d, MkdirAllHandle's %d:%d", rel, a.Dev, a.Ino, b.Dev, b.Ino)
		}
		if fa != fb {
			t.Errorf("%q: flags %#x, MkdirAllHandle's %#x", rel, fa, fb)
		}
		ours.Close()
		theirs.Close()
	}
	// Missing, not a directory, a dangling link, a mode with more than
	// permission bits: MkdirAllHandle's job.
	for _, c := range []struct {
		rel  string
		mode os.FileMode
	}{{"nope", 0o755}, {"etc/passwd", 0o755}, {"dangle", 0o755}, {"abs", 0o755}, {"etc", 0o755 | os.ModeSticky}} {
		if d := existingDir(rootDir, root, c.rel, c.mode); d != nil {
			d.Close()
			t.Errorf("%q %v: taken", c.rel, c.mode)
		}
	}
}

// newLeafDir stands in for MkdirAllHandle where only the last component
// is missing: it creates that one directory with the mode asked for and
// returns the same kind of handle; a missing parent, an existing
// non-directory, a symlink in its place or a mode with more than
// permission bits is left to MkdirAllHandle.
func TestNewLeafDirMatchesMkdirAllHandle(t *testing.T) {
	// The same tree twice: ours creates in one, MkdirAllHandle in the other.
	roots := [2]string{newRoot(t), newRoot(t)}
	var dirs [2]*os.File
	for i, r := range roots {
		if err := os.Symlink("etc", filepath.Join(r, "etclink")); err != nil {
			t.Fatal(err)
		}
		d, err := openRoot(r)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		dirs[i] = d
	}
	root, rootDir := roots[0], dirs[0]
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, rel := range []string{"new", "etc/new", "etclink/new2", "updir/etc/new3"} {
		d := newLeafDir(rootDir, root, rel, 0o711)
		if d == nil {
			t.Errorf("%q: not created", rel)
			continue
		}
		theirs, err := pathrslite.MkdirAllHandle(dirs[1], rel, 0o711)
		if err != nil {
			t.Fatalf("%q: %v", rel, err)
		}
		a, fa := statFlags(t, d)
		b, fb := statFlags(t, theirs)
		var at unix.Stat_t
		if err := unix.Fstatat(int(rootDir.Fd()), lexical(t, root, rel), &at, 0); err != nil {
			t.Fatal(err)
		}
		if a.Ino != at.Ino || a.Mode != b.Mode || a.Mode&0o7777 != 0o711 {
			t.Errorf("%q: ours is inode %d mode %o (the tree's %d), MkdirAllHandle's mode %o", rel, a.Ino, a.Mode, at.Ino, b.Mode)
		}
		if fa != fb {
			t.Errorf("%q: flags %#x, MkdirAllHandle's %#x", rel, fa, fb)
		}
		d.Close()
		theirs.Close()
	}
	if _, err := os.Stat(filepath.Join(root, "etc/new3")); err != nil {
		t.Errorf("updir/etc/new3 not created inside the root: %v", err)
	}
	if err := os.Symlink("/tmp", filepath.Join(root, "etc/swapped")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rel  string
		mode os.FileMode
	}{{"nope/x", 0o755}, {"etc/passwd", 0o755}, {"etc/swapped", 0o755}, {"etc/sticky", 0o755 | os.ModeSticky}, {".", 0o755}} {
		if d := newLeafDir(rootDir, root, c.rel, c.mode); d != nil {
			d.Close()
			t.Errorf("%q %v: taken", c.rel, c.mode)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/sticky")); !os.IsNotExist(err) {
		t.Errorf("etc/sticky created for a mode with more than permission bits (%v)", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "nope")); !os.IsNotExist(err) {
		t.Errorf("a missing parent was created (%v)", err)
	}
}

// A path openat2 does not find fails without pathrs-lite's second lookup,
// with its error (and any other failure is pathrs-lite's own).
func TestLookupInRootNotFoundAsPathrsLite(t *testing.T) {
	root := newRoot(t)
	for _, p := range []string{"/nope", "nope/x", "/abs/x", "/dangle"} {
		_, ours := lookupInRoot(root, p)
		_, theirs := pathrslite.OpenInRoot(root, p)
		if ours == nil || theirs == nil || ours.Error() != theirs.Error() || errno(ours) != errno(theirs) {
			t.Errorf("%q: ours %v, pathrs-lite %v", p, ours, theirs)
		}
	}
}

func lexical(t *testing.T, root, p string) string {
	t.Helper()
	rel, err := lexicalInRoot(root, p)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// statFlags is f's stat and its open flags.
func statFlags(t *testing.T, f *os.File) (unix.Stat_t, int) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return st, fl
}
