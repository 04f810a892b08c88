package pathrs

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsProcfs reports whether f lives on a procfs mount (CVE-2019-19921: a
// container could put a fake /proc where we expect the kernel's).
func IsProcfs(f *os.File) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Type == unix.PROC_SUPER_MAGIC
}

// IsDevNull reports whether f is the character device 1:3 (CVE-2025-31133:
// masking with a fake /dev/null would expose, not hide, the target).
func IsDevNull(f *os.File) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3)
}
