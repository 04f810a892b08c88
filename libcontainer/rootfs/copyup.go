package rootfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// openUnder opens the directory a tmpfs is about to hide, so that
// tmpcopyup can still read it once the tmpfs is mounted on top.
func openUnder(target *os.File) (*os.File, error) {
	fd, err := unix.Open(procFd(target), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tmpcopyup: %w", err)
	}
	return os.NewFile(uintptr(fd), target.Name()), nil
}

// copyUp copies the tree under src (the hidden directory) into dst (the
// fresh tmpfs), keeping modes and owners, as runc's tmpcopyup does. Both
// are descriptors, so no path in the rootfs is resolved again.
func copyUp(src, dst *os.File) error {
	// The trailing slash makes the walk follow the fd's magic link.
	srcRoot := "/proc/self/fd/" + strconv.Itoa(int(src.Fd())) + "/"
	dstRoot := "/proc/self/fd/" + strconv.Itoa(int(dst.Fd())) + "/"
	return filepath.WalkDir(srcRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(srcRoot, p)
		to := filepath.Join(dstRoot, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		mode := info.Mode()
		switch {
		case rel == ".":
			err = os.Chmod(to, mode.Perm()|mode&(fs.ModeSticky|fs.ModeSetgid|fs.ModeSetuid))
		case mode.IsDir():
			err = os.Mkdir(to, mode.Perm())
		case mode.IsRegular():
			err = copyFile(p, to, mode.Perm())
		case mode&fs.ModeSymlink != 0:
			var link string
			if link, err = os.Readlink(p); err == nil {
				err = os.Symlink(link, to)
			}
		default:
			err = unix.Mknod(to, st.Mode, int(st.Rdev))
		}
		if err != nil {
			return fmt.Errorf("tmpcopyup %s: %w", rel, err)
		}
		if st != nil {
			if err := os.Lchown(to, int(st.Uid), int(st.Gid)); err != nil {
				return fmt.Errorf("tmpcopyup %s: %w", rel, err)
			}
			if mode.IsDir() && rel != "." {
				// Mkdir was subject to the umask and chown clears setgid.
				os.Chmod(to, mode.Perm()|mode&(fs.ModeSticky|fs.ModeSetgid|fs.ModeSetuid))
			}
		}
		return nil
	})
}

func copyFile(from, to string, perm os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
