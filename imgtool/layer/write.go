// Package layer turns directories into OCI layer tars (with OCI whiteouts
// taken from an overlay upper directory) and applies layer tars to
// directories safely.
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

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/overlay"
)

// OCI whiteout names.
const (
	WhiteoutPrefix = ".wh."
	WhiteoutOpaque = ".wh..wh..opq"
)

// OverlayOpaqueXattr marks an opaque directory in an overlay upper dir.
const OverlayOpaqueXattr = "trusted.overlay.opaque"

// WriteOptions control WriteTar.
type WriteOptions struct {
	// Overlay reads root as an overlay upper dir: 0/0 character devices
	// become .wh.<name> entries and opaque dirs get .wh..wh..opq.
	Overlay bool
	// Clamp, when set, caps every mtime (SOURCE_DATE_EPOCH / --timestamp),
	// which is what makes rebuilds byte-identical.
	Clamp *time.Time
	// Skip, when set, leaves out rel (and everything below it).
	Skip func(rel string) bool
	// IDs, when set, turns a file's host owner into the one recorded
	// (rootless import: the user's ids become the container's).
	IDs func(uid, gid uint32) (uint32, uint32)
	// LowerHas, when set with Overlay, says whether the rootfs below the
	// upper dir has an entry at rel; an opaque mark on a directory over
	// nothing is dropped (fuse-overlayfs marks every directory it makes
	// opaque; the kernel's overlay only one that replaced something).
	LowerHas func(rel string) bool
}

// Markers fuse-overlayfs (and the vfs driver's diff) leave in an upper
// dir: an opaque dir holds a .wh..wh..opq file (fuse-overlayfs also a
// .wh..opq whiteout device), a deletion may be a .wh.NAME file where a
// whiteout device could not be made.
const fuseOpaqueDevice = ".wh..opq"

// WriteTar writes the tree under root as a tar stream in lexical order
// with numeric ids only, so the same tree gives the same bytes.
func WriteTar(w io.Writer, root string, o WriteOptions) error {
	tw := tar.NewWriter(w)
	tw2 := &treeWriter{tw: tw, root: root, o: o, links: map[[2]uint64]string{}, buf: make([]byte, 1<<20)}
	if err := tw2.dir(""); err != nil {
		return err
	}
	return tw.Close()
}

type treeWriter struct {
	tw    *tar.Writer
	root  string
	o     WriteOptions
	links map[[2]uint64]string
	buf   []byte
}

func (t *treeWriter) dir(rel string) error {
	f, err := os.Open(filepath.Join(t.root, rel))
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	sortStrings(names)
	for _, n := range names {
		child := path.Join(rel, n)
		if t.o.Skip != nil && t.o.Skip(child) {
			continue
		}
		if t.o.Overlay && (n == WhiteoutOpaque || n == fuseOpaqueDevice) {
			continue // the directory's opaque mark, written with it
		}
		if err := t.entry(child); err != nil {
			return err
		}
	}
	return nil
}

func (t *treeWriter) mtime(st *unix.Stat_t) time.Time {
	m := time.Unix(st.Mtim.Sec, 0).UTC()
	if t.o.Clamp != nil && m.After(*t.o.Clamp) {
		m = t.o.Clamp.UTC()
	}
	return m
}

func (t *treeWriter) entry(rel string) error {
	full := filepath.Join(t.root, rel)
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	uid, gid := st.Uid, st.Gid
	if t.o.IDs != nil {
		uid, gid = t.o.IDs(uid, gid)
	}
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(uid),
		Gid:     int(gid),
		ModTime: t.mtime(&st),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFREG:
		if t.o.Overlay && strings.HasPrefix(path.Base(rel), WhiteoutPrefix) {
			return t.whiteout(rel, hdr.ModTime) // fuse-overlayfs' or the vfs diff's
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		if st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := t.links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				t.links[key] = rel
			}
		}
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		l, err := os.Readlink(full)
		if err != nil {
			return err
		}
		hdr.Linkname = l
	case unix.S_IFCHR:
		if t.o.Overlay && st.Rdev == 0 {
			return t.whiteout(path.Join(path.Dir(rel), WhiteoutPrefix+path.Base(rel)), hdr.ModTime)
		}
		hdr.Typeflag = tar.TypeChar
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // sockets do not belong in images
	}
	opaque := t.opaque(addXattrs(hdr, full), hdr, full, rel)
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		return t.content(full, hdr.Size)
	case tar.TypeDir:
		if t.o.Overlay && opaque {
			if err := t.tw.WriteHeader(&tar.Header{
				Name: path.Join(rel, WhiteoutOpaque), Typeflag: tar.TypeReg,
				ModTime: hdr.ModTime, Format: tar.FormatPAX,
			}); err != nil {
				return err
			}
		}
		return t.dir(rel)
	}
	return nil
}

// whiteout writes the OCI whiteout entry name.
func (t *treeWriter) whiteout(name string, mtime time.Time) error {
	return t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, ModTime: mtime, Format: tar.FormatPAX})
}

// opaque says whether the directory entry hdr (at full, rel) is opaque:
// marked by an xattr (xattr) or a .wh..wh..opq file, and not over
// nothing when the lower is known.
func (t *treeWriter) opaque(xattr bool, hdr *tar.Header, full, rel string) bool {
	if !t.o.Overlay || hdr.Typeflag != tar.TypeDir {
		return xattr
	}
	if _, err := os.Lstat(filepath.Join(full, WhiteoutOpaque)); err == nil {
		xattr = true
	}
	return xattr && (t.o.LowerHas == nil || t.o.LowerHas(rel))
}

// addXattrs records full's extended attributes in hdr (PAX), except
// overlayfs' own; it says whether full is an opaque overlay directory.
func addXattrs(hdr *tar.Header, full string) (opaque bool) {
	xs, err := listXattrs(full)
	if err != nil {
		return false
	}
	for _, x := range xs {
		if strings.HasPrefix(x.name, "trusted.overlay.") || strings.HasPrefix(x.name, "user.overlay.") || strings.HasPrefix(x.name, "user.fuseoverlayfs.") {
			if (x.name == overlay.OpaqueXattr() || x.name == overlay.FuseOpaqueXattr) && string(x.value) == "y" {
				opaque = true
			}
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+x.name] = string(x.value)
	}
	return opaque
}

// content writes size bytes of the regular file full, never following a
// link. A raw fd: os.Open costs an fcntl and a failing epoll registration
// per file.
func (t *treeWriter) content(full string, size int64) error {
	fd, err := unix.Open(full, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: full, Err: err}
	}
	_, err = io.CopyBuffer(t.tw, io.LimitReader(fdReader(fd), size), t.buf)
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	return nil
}

type fdReader int

func (f fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(f), p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

type xattr struct {
	name  string
	value []byte
}

func listXattrs(p string) ([]xattr, error) {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		return nil, err
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	var out []xattr
	for _, n := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if n == "" {
			continue
		}
		vsz, err := unix.Lgetxattr(p, n, nil)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return nil, err
		}
		v := make([]byte, vsz)
		vsz, err = unix.Lgetxattr(p, n, v)
		if err != nil {
			return nil, err
		}
		out = append(out, xattr{n, v[:vsz]})
	}
	sortXattrs(out)
	return out, nil
}
