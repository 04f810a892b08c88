package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/progress"
	"golang.org/x/sys/unix"
)

// copier writes COPY sources into a rootfs (an overlay mount). Directories,
// symlinks and every check run on the caller's goroutine; regular files
// are copied by a layer.DirPool, since creating 13k files is mostly
// kernel time that one goroutine cannot overlap.
type copier struct {
	rootfs   string
	uid, gid int
	chmod    *fs.FileMode
	dirs     []dirStamp
	pool     layer.DirPool
	// parents caches container dirs already resolved (safe join) and
	// created: cpath -> host path.
	parents map[string]string
	// fresh holds dirs this copy created, so nothing it did not write
	// is in them and targets there need no lstat.
	fresh   map[string]bool
	created map[string]bool
	// meter counts the files copied (progress on long copies).
	meter *progress.Meter
}

type dirStamp struct {
	p string
	t time.Time
}

func newCopier(rootfs string, uid, gid int, chmod *fs.FileMode) *copier {
	return &copier{rootfs: rootfs, uid: uid, gid: gid, chmod: chmod,
		parents: map[string]string{}, fresh: map[string]bool{}, created: map[string]bool{}}
}

// settle waits for queued copies and drops every cached check: used
// before anything is removed or written behind the copier's back.
func (c *copier) settle() error {
	err := c.pool.Barrier()
	clear(c.parents)
	clear(c.fresh)
	return err
}

func (c *copier) mkdirAll(cpath string) error {
	_, err := c.parent(cpath)
	return err
}

// parent resolves a container dir inside rootfs and creates it, one
// component at a time: the directories created here get the copy's owner
// (--chown), as BuildKit and buildah give them; existing ones are kept.
func (c *copier) parent(cdir string) (string, error) {
	cdir = path.Clean("/" + cdir)
	if hp, ok := c.parents[cdir]; ok {
		return hp, nil
	}
	if cdir != "/" {
		if _, err := c.parent(path.Dir(cdir)); err != nil {
			return "", err
		}
	}
	hp, err := securejoin.SecureJoin(c.rootfs, cdir)
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(hp, 0o755); err == nil {
		if err := os.Lchown(hp, c.uid, c.gid); err != nil {
			return "", err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return "", err
	} else if st, err := os.Stat(hp); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s: not a directory", cdir)
	}
	c.parents[cdir] = hp
	return hp, nil
}

func (c *copier) mode(m fs.FileMode) uint32 {
	if c.chmod != nil {
		return uint32(*c.chmod)
	}
	perm := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		perm |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		perm |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		perm |= unix.S_ISVTX
	}
	return perm
}

// copyEntry copies one file, directory or symlink to cpath (a path in
// the container), creating it through a safe join.
func (c *copier) copyEntry(src, cpath string, st fs.FileInfo) error {
	if err := c.pool.Err(); err != nil {
		return err
	}
	cdir := path.Dir(cpath)
	parent, err := c.parent(cdir)
	if err != nil {
		return err
	}
	target := filepath.Join(parent, path.Base(cpath))
	if c.created[cpath] {
		// Copied before (overlapping sources): that copy may be queued.
		if err := c.pool.Barrier(); err != nil {
			return err
		}
	}
	if !c.fresh[cdir] || c.created[cpath] {
		old, oerr := os.Lstat(target)
		if oerr == nil && !(old.IsDir() && st.IsDir()) {
			if err := c.settle(); err != nil {
				return err
			}
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
	}
	c.created[cpath] = true
	switch {
	case st.IsDir():
		err := os.Mkdir(target, 0o755)
		if err != nil && !os.IsExist(err) {
			return err
		}
		if err == nil {
			c.fresh[cpath] = true
			c.parents[cpath] = target
		}
		c.dirs = append(c.dirs, dirStamp{target, st.ModTime()})
	case st.Mode()&fs.ModeSymlink != 0:
		l, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(l, target); err != nil {
			return err
		}
		return os.Lchown(target, c.uid, c.gid)
	case st.Mode().IsRegular():
		mode, mtime, size := c.mode(st.Mode()), st.ModTime(), st.Size()
		c.pool.Submit(parent, 0, func() error {
			err := c.copyFile(src, target, mode, mtime)
			if err == nil && c.meter != nil {
				c.meter.Add(1, size)
			}
			return err
		})
		return nil
	default:
		return nil // devices, sockets and fifos are not copied
	}
	if err := os.Lchown(target, c.uid, c.gid); err != nil {
		return err
	}
	return unix.Chmod(target, c.mode(st.Mode()))
}

// copyFile copies src to the new file target and sets owner, mode and
// mtime through the fd. sendfile keeps the data in the kernel.
func (c *copier) copyFile(src, target string, mode uint32, mtime time.Time) error {
	in, err := unix.Open(src, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: src, Err: err}
	}
	defer unix.Close(in)
	out, err := unix.Open(target, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &fs.PathError{Op: "create", Path: target, Err: err}
	}
	defer unix.Close(out)
	if err := copyFD(out, in); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := unix.Fchown(out, c.uid, c.gid); err != nil {
		return &fs.PathError{Op: "chown", Path: target, Err: err}
	}
	if err := unix.Fchmod(out, mode); err != nil {
		return &fs.PathError{Op: "chmod", Path: target, Err: err}
	}
	// utimensat(fd, NULL, ...): the fd itself.
	ts := [2]unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(out), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0); e != 0 {
		return &fs.PathError{Op: "utimes", Path: target, Err: e}
	}
	return nil
}

func copyFD(out, in int) error {
	for {
		n, err := unix.Sendfile(out, in, nil, 1<<30)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) {
			return copyRW(out, in)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

func copyRW(out, in int) error {
	buf := make([]byte, 256<<10)
	for {
		n, err := unix.Read(in, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		for b := buf[:n]; len(b) > 0; {
			m, err := unix.Write(out, b)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			b = b[m:]
		}
	}
}

func (c *copier) finish() error {
	if err := c.pool.Stop(); err != nil {
		return err
	}
	for i := len(c.dirs) - 1; i >= 0; i-- {
		os.Chtimes(c.dirs[i].p, c.dirs[i].t, c.dirs[i].t)
	}
	return nil
}
