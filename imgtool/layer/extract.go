package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/overlay"
)

// Mode says how whiteouts are applied.
type Mode int

const (
	// Apply deletes whited-out paths from dir (flattening onto a rootfs).
	Apply Mode = iota
	// Overlay writes an overlay lower dir: whiteouts become 0/0 character
	// devices and opaque dirs get trusted.overlay.opaque=y. Needs root.
	Overlay
)

// IDMap maps container ids to host ids (runtime-spec LinuxIDMapping shape).
type IDMap struct {
	ContainerID, HostID, Size uint32
}

// ExtractOptions control Extract.
type ExtractOptions struct {
	Mode           Mode
	UIDMap, GIDMap []IDMap
	// Rootless ignores what an unprivileged user cannot do (chown, device
	// nodes, trusted.* xattrs). Set automatically when not root.
	Rootless bool
	// MaxBytes caps the total uncompressed file bytes of one layer so a
	// decompression bomb cannot fill the disk; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxEntries caps the entries of one layer so a layer of empty files
	// cannot exhaust the filesystem's inodes; 0 means DefaultMaxEntries.
	MaxEntries int
}

// The budgets used when ExtractOptions leaves them 0: far above real
// images (a full Debian is ~200k entries and a few GiB), far below what
// takes a host down.
const (
	DefaultMaxBytes   int64 = 32 << 30
	DefaultMaxEntries       = 4 << 20
)

// Error is a refused tar entry.
type Error struct {
	Entry  string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("tar entry %q: %s", e.Entry, e.Reason) }

type extractor struct {
	dir     string
	o       ExtractOptions
	created map[string]bool
	dirs    []dirTime
	buf     []byte
	skipped int
	fw      DirPool
	// fresh: dir was empty, so a path this extraction did not create
	// (created, dirOK) does not exist and needs no lstat. Cleared on the
	// first removal.
	fresh bool
	// dirOK caches parent directories already checked to be real
	// directories inside dir; cleared whenever anything is removed.
	dirOK map[string]bool
}

type dirTime struct {
	path  string
	mtime time.Time
	atime time.Time
	rel   string
}

// ExtractTar applies the uncompressed tar stream r to dir. Entries with
// "..", writes through symlinks and hardlinks leaving dir are refused.
func ExtractTar(r io.Reader, dir string, o ExtractOptions) error {
	if os.Geteuid() != 0 {
		o.Rootless = true
	}
	e := &extractor{dir: dir, o: o, created: map[string]bool{}, buf: make([]byte, 1<<20),
		dirOK: map[string]bool{}, fresh: isEmpty(dir)}
	defer e.fw.Stop()
	limit := o.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	maxEntries := o.MaxEntries
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	var total int64
	var entries int
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layer tar: %w", err)
		}
		if total += hdr.Size; hdr.Size < 0 || total > limit {
			return &Error{Entry: hdr.Name, Reason: fmt.Sprintf("layer exceeds byte budget of %d bytes", limit)}
		}
		if entries++; entries > maxEntries {
			return &Error{Entry: hdr.Name, Reason: fmt.Sprintf("layer exceeds entry budget of %d entries", maxEntries)}
		}
		if err := e.entry(hdr, tr); err != nil {
			return err
		}
		if err := e.fw.Err(); err != nil {
			return err
		}
	}
	if err := e.fw.Stop(); err != nil {
		return err
	}
	// Directory times last, deepest first, so writing children does not
	// bump them again.
	// A later entry may have replaced a parent with a symlink, so each
	// directory is opened beneath dir without following any link.
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &pathErr{"open", dir, err}
	}
	defer unix.Close(root)
	how := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	for i := len(e.dirs) - 1; i >= 0; i-- {
		d := e.dirs[i]
		fd, err := unix.Openat2(root, d.rel, how)
		if err != nil {
			continue // gone or replaced: nothing of ours to stamp
		}
		ts := [2]unix.Timespec{unix.NsecToTimespec(d.atime.UnixNano()), unix.NsecToTimespec(d.mtime.UnixNano())}
		futimens(fd, &ts)
		unix.Close(fd)
	}
	return nil
}

// cleanName validates a tar path and returns it relative, without "./".
func cleanName(name string) (string, error) {
	n := strings.TrimLeft(name, "/")
	for _, c := range strings.Split(n, "/") {
		if c == ".." {
			return "", &Error{name, "path contains \"..\" and would leave the root"}
		}
	}
	n = path.Clean(n)
	if n == "." || n == "" {
		return ".", nil
	}
	return n, nil
}

// parent resolves the parent directory of rel, creating missing
// directories. Any symlink on the way is refused: a layer may not write
// through a link (that is how /etc/passwd on the host gets overwritten).
func (e *extractor) parent(entry, rel string) (string, error) {
	dirRel := path.Dir(rel)
	want := filepath.Join(e.dir, dirRel)
	if e.dirOK[dirRel] {
		return want, nil
	}
	got, err := securejoin.SecureJoin(e.dir, dirRel)
	if err != nil {
		return "", &Error{entry, err.Error()}
	}
	if got != want {
		return "", &Error{entry, "a parent directory is a symlink; writing through symlinks is refused"}
	}
	if err := os.MkdirAll(want, 0o755); err != nil {
		return "", &Error{entry, err.Error()}
	}
	// MkdirAll made (or found) every ancestor too.
	for d := dirRel; d != "." && !e.dirOK[d]; d = path.Dir(d) {
		e.dirOK[d] = true
	}
	return want, nil
}

// removed notes that something under dir was deleted: cached parent
// checks and the "fresh" shortcut no longer hold.
func (e *extractor) removed() {
	e.fresh = false
	clear(e.dirOK)
}

func isEmpty(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) == 0 && err == io.EOF
}

func (e *extractor) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeLink {
		// Refused by name, like CheckTar, even for entries that are skipped.
		if _, err := cleanName(hdr.Linkname); err != nil {
			return &Error{hdr.Name, fmt.Sprintf("hardlink target %q leaves the root", hdr.Linkname)}
		}
	}
	if rel == "." {
		return nil
	}
	base := path.Base(rel)
	if strings.HasPrefix(base, WhiteoutPrefix) {
		return e.whiteout(hdr.Name, rel, base)
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	}
	pdir, err := e.parent(hdr.Name, rel)
	if err != nil {
		return err
	}
	target := filepath.Join(pdir, base)
	if e.created[rel] {
		// A second entry for the same path: its first write may be queued.
		if err := e.fw.Barrier(); err != nil {
			return err
		}
	}
	if err := e.replace(hdr, rel, target); err != nil {
		return err
	}
	e.created[rel] = true
	switch hdr.Typeflag {
	case tar.TypeDir:
		err := os.Mkdir(target, 0o700)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return &Error{hdr.Name, err.Error()}
		}
		// Its children need no fresh symlink check: the parent was checked
		// and mkdir (or the lstat above) saw a real directory. Without
		// this, each level of a deep tree re-walks all levels above it.
		if err == nil {
			e.dirOK[rel] = true
		} else if fi, lerr := os.Lstat(target); lerr == nil && fi.IsDir() {
			e.dirOK[rel] = true
		}
	case tar.TypeReg, tar.TypeRegA:
		return e.regular(hdr, target, r)
	case tar.TypeSymlink:
		// The link itself is harmless: we never follow links while
		// extracting and the runtime resolves them inside the rootfs.
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return &Error{hdr.Name, err.Error()}
		}
	case tar.TypeLink:
		return e.hardlink(hdr, target) // a hardlink shares the target's metadata
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if skipped, err := e.device(hdr, rel, target); err != nil || skipped {
			return err
		}
	default:
		return nil
	}
	return e.meta(hdr, rel, target)
}

// replace removes what is at target unless both it and the entry are
// directories; in a fresh tree only a path made earlier can be there.
func (e *extractor) replace(hdr *tar.Header, rel, target string) error {
	if e.fresh && !e.created[rel] && !e.dirOK[rel] {
		return nil
	}
	fi, err := os.Lstat(target)
	if err != nil || (fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
		return nil
	}
	if err := e.fw.Barrier(); err != nil {
		return err
	}
	if err := os.RemoveAll(target); err != nil {
		return &Error{hdr.Name, err.Error()}
	}
	e.removed()
	return nil
}

// hardlink links target to the entry's link target, which must be a
// non-directory already extracted at that very path (no symlink on the
// way).
func (e *extractor) hardlink(hdr *tar.Header, target string) error {
	lrel, err := cleanName(hdr.Linkname)
	if err != nil || lrel == "." {
		return &Error{hdr.Name, fmt.Sprintf("hardlink target %q leaves the root", hdr.Linkname)}
	}
	want := filepath.Join(e.dir, lrel)
	got, err := securejoin.SecureJoin(e.dir, lrel)
	if err != nil || got != want {
		return &Error{hdr.Name, fmt.Sprintf("hardlink target %q goes through a symlink", hdr.Linkname)}
	}
	if err := e.fw.Barrier(); err != nil { // the target may still be queued
		return err
	}
	fi, err := os.Lstat(want)
	if err != nil {
		return &Error{hdr.Name, fmt.Sprintf("hardlink target %q: %v", hdr.Linkname, err)}
	}
	if fi.IsDir() {
		return &Error{hdr.Name, fmt.Sprintf("hardlink target %q is a directory", hdr.Linkname)}
	}
	if err := unix.Linkat(unix.AT_FDCWD, want, unix.AT_FDCWD, target, 0); err != nil {
		return &Error{hdr.Name, err.Error()}
	}
	return nil
}

// device makes a device node or fifo; rootless, a device node that
// cannot be made is skipped (counted, not recorded as created).
func (e *extractor) device(hdr *tar.Header, rel, target string) (skipped bool, err error) {
	mode := uint32(unix.S_IFIFO)
	if hdr.Typeflag == tar.TypeChar {
		mode = unix.S_IFCHR
	} else if hdr.Typeflag == tar.TypeBlock {
		mode = unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknod(target, mode|0o600, int(dev)); err != nil {
		if e.o.Rootless && hdr.Typeflag != tar.TypeFifo {
			e.skipped++ // device nodes only as root
			delete(e.created, rel)
			return true, nil
		}
		return false, &Error{hdr.Name, err.Error()}
	}
	return false, nil
}

// ids maps the entry's owner to host ids.
func (e *extractor) ids(hdr *tar.Header) (uid, gid int, err error) {
	if uid, err = mapID(hdr.Uid, e.o.UIDMap); err != nil {
		return 0, 0, &Error{hdr.Name, "uid " + err.Error()}
	}
	if gid, err = mapID(hdr.Gid, e.o.GIDMap); err != nil {
		return 0, 0, &Error{hdr.Name, "gid " + err.Error()}
	}
	return uid, gid, nil
}

// regular writes a file: small ones are queued for the workers, large
// ones streamed here.
func (e *extractor) regular(hdr *tar.Header, target string, r io.Reader) error {
	uid, gid, err := e.ids(hdr)
	if err != nil {
		return err
	}
	if hdr.Size < 0 || hdr.Size > queuedMax {
		return writeRegular(hdr, target, nil, r, e.buf, uid, gid, e.o.Rootless)
	}
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(r, data); err != nil {
		return fmt.Errorf("reading layer tar: %s: %w", hdr.Name, err)
	}
	rootless := e.o.Rootless
	e.fw.Submit(filepath.Dir(target), hdr.Size, func() error {
		return writeRegular(hdr, target, data, nil, nil, uid, gid, rootless)
	})
	return nil
}

func (e *extractor) meta(hdr *tar.Header, rel, target string) error {
	uid, gid, err := e.ids(hdr)
	if err != nil {
		return err
	}
	if err := os.Lchown(target, uid, gid); err != nil && !e.o.Rootless {
		return &Error{hdr.Name, err.Error()}
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if forbiddenXattr(name) {
			continue
		}
		if err := unix.Lsetxattr(target, name, []byte(v), 0); err != nil && !e.o.Rootless &&
			!errors.Is(err, unix.ENOTSUP) {
			return &Error{hdr.Name, fmt.Sprintf("xattr %s: %v", name, err)}
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// After chown, which clears setuid bits.
		if err := unix.Fchmodat(unix.AT_FDCWD, target, uint32(hdr.Mode&0o7777), 0); err != nil {
			return &Error{hdr.Name, err.Error()}
		}
	}
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	if hdr.Typeflag == tar.TypeDir {
		e.dirs = append(e.dirs, dirTime{target, hdr.ModTime, at, rel})
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.ENOTSUP) {
		return &Error{hdr.Name, err.Error()}
	}
	return nil
}

func mapID(id int, m []IDMap) (int, error) {
	if len(m) == 0 {
		return id, nil
	}
	for _, e := range m {
		if uint32(id) >= e.ContainerID && uint32(id)-e.ContainerID < e.Size {
			return int(e.HostID + uint32(id) - e.ContainerID), nil
		}
	}
	return 0, fmt.Errorf("%d is not in the id mapping", id)
}

func (e *extractor) whiteout(name, rel, base string) error {
	// Whiteouts remove things: let queued writes land first.
	if err := e.fw.Barrier(); err != nil {
		return err
	}
	pdir, err := e.parent(name, rel)
	if err != nil {
		return err
	}
	dirRel := path.Dir(rel)
	if base == WhiteoutOpaque {
		if e.o.Mode == Overlay {
			if err := unix.Lsetxattr(pdir, overlay.OpaqueXattr(), []byte("y"), 0); err != nil {
				return &Error{name, "marking opaque directory: " + err.Error()}
			}
			return nil
		}
		ents, err := os.ReadDir(pdir)
		if err != nil {
			return &Error{name, err.Error()}
		}
		for _, c := range ents {
			if !e.created[path.Join(dirRel, c.Name())] {
				if err := os.RemoveAll(filepath.Join(pdir, c.Name())); err != nil {
					return &Error{name, err.Error()}
				}
				e.removed()
			}
		}
		return nil
	}
	victim := base[len(WhiteoutPrefix):]
	if victim == "" || victim == "." || victim == ".." || strings.Contains(victim, "/") {
		return &Error{name, "invalid whiteout name"}
	}
	target := filepath.Join(pdir, victim)
	if _, err := os.Lstat(target); err == nil {
		e.removed()
	}
	if e.o.Mode == Overlay {
		os.RemoveAll(target)
		if err := unix.Mknod(target, unix.S_IFCHR|0o600, 0); err != nil {
			return &Error{name, "creating overlay whiteout: " + err.Error()}
		}
		return nil
	}
	if err := os.RemoveAll(target); err != nil {
		return &Error{name, err.Error()}
	}
	return nil
}

// CheckTar reads a tar stream to the end and fails on unsafe entry names
// or hardlink targets (it writes nothing). It drains r on success.
func CheckTar(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			_, err = io.Copy(io.Discard, r)
			return err
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if _, err := cleanName(hdr.Name); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeLink {
			if _, err := cleanName(hdr.Linkname); err != nil {
				return &Error{hdr.Name, fmt.Sprintf("hardlink target %q leaves the root", hdr.Linkname)}
			}
		}
	}
}
