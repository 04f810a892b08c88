// Package fdio holds raw-descriptor I/O that several layers need without
// an *os.File (whose poller attempt costs syscalls on hot paths).
package fdio

import "golang.org/x/sys/unix"

// WriteAll writes all of b to fd, going on after short writes and EINTR.
func WriteAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
