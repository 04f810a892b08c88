package specs

import (
	"fmt"
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsGetNsType is NS_GET_NSTYPE, _IO(0xb7, 0x3); x/sys does not define it.
const nsGetNsType = 0xb703

// NamespaceFlags maps spec namespace types to their CLONE_NEW* flags.
var NamespaceFlags = map[rspec.LinuxNamespaceType]int{
	rspec.PIDNamespace:     unix.CLONE_NEWPID,
	rspec.NetworkNamespace: unix.CLONE_NEWNET,
	rspec.MountNamespace:   unix.CLONE_NEWNS,
	rspec.IPCNamespace:     unix.CLONE_NEWIPC,
	rspec.UTSNamespace:     unix.CLONE_NEWUTS,
	rspec.UserNamespace:    unix.CLONE_NEWUSER,
	rspec.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	rspec.TimeNamespace:    unix.CLONE_NEWTIME,
}

// CheckNamespacePath verifies that path is a namespace file (nsfs) of type t,
// so that setns(2) later joins what the user meant and not some other file.
func CheckNamespacePath(path string, t rspec.LinuxNamespaceType) error {
	// O_PATH first: opening a FIFO or a device for real could block or
	// have side effects; only an nsfs file is opened for the ioctl.
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT {
			return fmt.Errorf("namespace file %q does not exist", path)
		}
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Statfs_t
	err = unix.Fstatfs(pfd, &st)
	if err != nil || st.Type != unix.NSFS_MAGIC {
		unix.Close(pfd)
		if err != nil {
			return fmt.Errorf("statfs %q: %w", path, err)
		}
		return fmt.Errorf("%q is not a namespace file", path)
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", pfd), os.O_RDONLY|unix.O_CLOEXEC, 0)
	unix.Close(pfd)
	if err != nil {
		return err
	}
	defer f.Close()
	got, err := unix.IoctlRetInt(int(f.Fd()), nsGetNsType)
	if err != nil {
		// Kernels before 4.11 lack NS_GET_NSTYPE: nsfs magic is all we can check.
		if err == unix.ENOTTY || err == unix.EINVAL {
			return nil
		}
		return fmt.Errorf("NS_GET_NSTYPE %q: %w", path, err)
	}
	if want := NamespaceFlags[t]; got != want {
		return fmt.Errorf("%q is a %s namespace, not %s", path, nsName(got), t)
	}
	return nil
}

func nsName(flag int) string {
	for t, f := range NamespaceFlags {
		if f == flag {
			return string(t)
		}
	}
	return fmt.Sprintf("unknown (%#x)", flag)
}

// sameFile reports whether two paths name the same inode.
func sameFile(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
