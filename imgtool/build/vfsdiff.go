package build

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/overlay"
)

// The vfs driver: a step's rootfs (merged) is a copy of the flattened
// lower rootfs (lower), and the step's layer is what differs, written
// into the upper dir in the form layer.WriteTar reads: changed entries
// (hard links of merged's), deletions as .wh.NAME files, a directory
// that replaced what was there (a new inode, or a directory over a
// non-directory) marked opaque by a .wh..wh..opq file, as the kernel's
// overlay marks one made over a whiteout.

// stamp is what an entry of merged was when copied: a changed inode or
// birth time is a new entry, a changed ctime a changed one.
type stamp struct {
	ino          uint64
	btime, ctime unix.StatxTimestamp
}

func statStamp(p string) (stamp, *unix.Statx_t, error) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &st); err != nil {
		return stamp{}, nil, err
	}
	s := stamp{ino: st.Ino, ctime: st.Ctime}
	if st.Mask&unix.STATX_BTIME != 0 {
		s.btime = st.Btime
	}
	return s, &st, nil
}

// populate flattens dirs into w.lower and w.merged and stamps merged
// (once: a squashed stage's workspace is mounted again per step).
func (w *workspace) populate(dirs []string) error {
	if w.stamps != nil {
		return nil
	}
	w.lower = filepath.Join(w.dir, "lower")
	if err := os.MkdirAll(w.lower, 0o755); err != nil {
		return err
	}
	if err := flatten(dirs, w.lower); err != nil {
		return err
	}
	if err := flatten(dirs, w.merged); err != nil {
		return err
	}
	w.stamps = map[string]stamp{}
	return filepath.WalkDir(w.merged, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		s, _, err := statStamp(p)
		rel, _ := filepath.Rel(w.merged, p)
		w.stamps[rel] = s
		return err
	})
}

// upperOptions is how w's upper dir is read as a layer.
func (b *builder) upperOptions(w *workspace) layer.WriteOptions {
	o := layer.WriteOptions{Overlay: true}
	if b.kind == overlay.KindFuse {
		lowers := w.lowers
		o.LowerHas = func(rel string) bool { return overlay.LowerHas(lowers, rel) }
	}
	return o
}

// finishUpper writes the vfs diff of w into w.upper (nothing for the
// mounting kinds, whose upper dir is already the diff).
func (b *builder) finishUpper(w *workspace) error {
	if b.kind != overlay.KindVFS || w.stamps == nil {
		return nil
	}
	d := &differ{w: w}
	if err := d.walk("."); err != nil {
		return err
	}
	// Directories last: making entries in them changed their times.
	for i := len(d.dirs) - 1; i >= 0; i-- {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(w.merged, d.dirs[i]), &st); err != nil {
			return err
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(w.upper, d.dirs[i]), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return nil
}

type differ struct {
	w    *workspace
	made map[string]bool
	dirs []string
}

// walk compares directory rel of merged with lower's.
func (d *differ) walk(rel string) error {
	ents, err := os.ReadDir(filepath.Join(d.w.merged, rel))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range ents {
		seen[e.Name()] = true
		if err := d.entry(path.Join(rel, e.Name())); err != nil {
			return err
		}
	}
	lents, err := os.ReadDir(filepath.Join(d.w.lower, rel))
	if err != nil {
		return err
	}
	for _, e := range lents {
		if !seen[e.Name()] {
			if err := d.ensureDir(rel); err != nil {
				return err
			}
			f, err := os.OpenFile(filepath.Join(d.w.upper, rel, layer.WhiteoutPrefix+e.Name()), os.O_CREATE|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
			if err != nil {
				return err
			}
			f.Close()
		}
	}
	return nil
}

func (d *differ) entry(rel string) error {
	s, mst, err := statStamp(filepath.Join(d.w.merged, rel))
	if err != nil {
		return err
	}
	var lst unix.Stat_t
	lerr := unix.Lstat(filepath.Join(d.w.lower, rel), &lst)
	old, known := d.w.stamps[rel]
	isDir := mst.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case lerr != nil:
		return d.copyTree(rel, false) // new
	case isDir && lst.Mode&unix.S_IFMT == unix.S_IFDIR && known && old.ino == s.ino && old.btime == s.btime:
		if old.ctime != s.ctime {
			if err := d.ensureDir(rel); err != nil {
				return err
			}
		}
		return d.walk(rel)
	case isDir:
		return d.copyTree(rel, true) // replaced what was there
	case !known || old != s:
		return d.copyTree(rel, false)
	}
	return nil
}

// ensureDir makes rel and its parents in upper with merged's owners,
// modes and xattrs (times: finishUpper).
func (d *differ) ensureDir(rel string) error {
	if rel == "." || d.made[rel] {
		return nil
	}
	if d.made == nil {
		d.made = map[string]bool{}
	}
	if err := d.ensureDir(path.Dir(rel)); err != nil {
		return err
	}
	src, dst := filepath.Join(d.w.merged, rel), filepath.Join(d.w.upper, rel)
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	if err := unix.Mkdir(dst, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
		return err
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	d.made[rel] = true
	d.dirs = append(d.dirs, rel)
	return nil
}

// copyTree puts rel (and all below it) into upper: hard links of
// merged's files, directories made as ensureDir makes them.
func (d *differ) copyTree(rel string, opaque bool) error {
	src := filepath.Join(d.w.merged, rel)
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := d.ensureDir(path.Dir(rel)); err != nil {
			return err
		}
		return os.Link(src, filepath.Join(d.w.upper, rel))
	}
	if err := d.ensureDir(rel); err != nil {
		return err
	}
	if opaque {
		f, err := os.OpenFile(filepath.Join(d.w.upper, rel, layer.WhiteoutOpaque), os.O_CREATE|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		f.Close()
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := d.copyTree(path.Join(rel, e.Name()), false); err != nil {
			return err
		}
	}
	return nil
}

func copyXattrs(src, dst string) error {
	sz, err := unix.Llistxattr(src, nil)
	if err != nil || sz == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(src, buf); err != nil {
		return err
	}
	for _, n := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		v := make([]byte, 64<<10)
		vn, err := unix.Lgetxattr(src, n, v)
		if err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, n, v[:vn], 0); err != nil {
			return err
		}
	}
	return nil
}
