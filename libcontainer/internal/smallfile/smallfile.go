// Package smallfile reads small files (state.json, /proc files) with plain
// syscalls. os.ReadFile costs ten syscalls for one such file in Go 1.26: it
// tries to register every new *os.File with the netpoller (fcntl O_NONBLOCK,
// an epoll_ctl that fails with EPERM for regular files, fcntl back) and
// fstats for a size hint; the first one also creates the epoll instance.
// ReadAt uses openat, read until EOF, close.
package smallfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// max bounds what ReadAt reads: these files are a few KiB.
const max = 64 << 20

// ReadAt reads name relative to dirfd (unix.AT_FDCWD for the working
// directory or an absolute name). Errors are *os.PathError, so
// errors.Is(err, os.ErrNotExist) works as with os.ReadFile.
func ReadAt(dirfd int, name string) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= max {
				return nil, &os.PathError{Op: "read", Path: name, Err: unix.EFBIG}
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// Read is ReadAt of an absolute or working-directory-relative name.
func Read(name string) ([]byte, error) { return ReadAt(unix.AT_FDCWD, name) }
