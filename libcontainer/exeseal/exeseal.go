// Package exeseal gives the runtime a copy of its own binary that the
// container cannot modify (CVE-2019-5736): a sealed memfd. The container
// could otherwise open /proc/<init-pid>/exe and overwrite the host binary.
package exeseal

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// Open returns a sealed, executable, close-on-exec copy of /proc/self/exe.
// minFd places the descriptor at or above that number so that the dup2 of
// ExtraFiles in the child cannot clobber it before execve.
func Open(minFd int) (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("exeseal: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("exeseal: %w", err)
	}

	fd, err := unix.MemfdCreate("myrun:sealed", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL { // kernels before 6.3 lack MFD_EXEC
		fd, err = unix.MemfdCreate("myrun:sealed", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("exeseal: memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "myrun:sealed")
	fail := func(err error) (*os.File, error) {
		mem.Close()
		return nil, fmt.Errorf("exeseal: %w", err)
	}
	// sendfile under the hood: the copy stays in the kernel.
	if n, err := io.Copy(mem, src); err != nil {
		return fail(err)
	} else if n != st.Size() {
		return fail(fmt.Errorf("short copy of /proc/self/exe: %d of %d bytes", n, st.Size()))
	}
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return fail(fmt.Errorf("F_ADD_SEALS: %w", err))
	}
	if minFd <= int(mem.Fd()) {
		return mem, nil
	}
	hi, err := unix.FcntlInt(mem.Fd(), unix.F_DUPFD_CLOEXEC, minFd)
	mem.Close()
	if err != nil {
		return nil, fmt.Errorf("exeseal: dup: %w", err)
	}
	return os.NewFile(uintptr(hi), "myrun:sealed"), nil
}

// IsSealed reports whether f is a memfd carrying our seals; init uses it to
// refuse running from an unsealed binary.
func IsSealed(f *os.File) bool {
	s, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	return err == nil && s&seals == seals
}
