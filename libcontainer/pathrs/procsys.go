package pathrs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// SysctlPath turns a sysctl key into its path below /proc/sys. Dots
// separate components unless the key uses slashes (sysctl(8) rules, so
// interface names such as "eth0.100" can be written as
// "net/ipv4/conf/eth0.100/forwarding").
func SysctlPath(key string) (string, error) {
	p := key
	if !strings.Contains(key, "/") {
		p = strings.ReplaceAll(key, ".", "/")
	}
	p = strings.Trim(p, "/")
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." || c == ".." {
			return "", fmt.Errorf("invalid sysctl key %q", key)
		}
	}
	return "sys/" + p, nil
}

// WriteProcSys writes value to the sysctl key through a procfs handle
// that is verified to be the kernel's procfs with nothing mounted over
// the path (a container-controlled /proc could redirect the write).
func WriteProcSys(key, value string) error {
	sub, err := SysctlPath(key)
	if err != nil {
		return err
	}
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs: %w", err)
	}
	defer proc.Close()
	h, err := proc.OpenRoot(sub)
	if errors.Is(err, unix.ENOENT) {
		// The library words every failed lookup as "unsafe procfs
		// detected"; a missing file is a sysctl this kernel lacks.
		return fmt.Errorf("sysctl %s: /proc/%s: no such sysctl on this kernel (%w)", key, sub, unix.ENOENT)
	}
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", key, err)
	}
	defer h.Close()
	if !IsProcfs(h) {
		return fmt.Errorf("sysctl %s: /proc/%s is not on procfs", key, sub)
	}
	f, err := reopen(h, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", key, err)
	}
	defer f.Close()
	if _, err := f.WriteString(value); err != nil {
		return fmt.Errorf("sysctl %s: %w", key, err)
	}
	return nil
}

// WriteThreadSelf writes value to /proc/thread-self/<subpath> (an LSM
// label in attr/, for instance) through a procfs handle verified to be
// the kernel's procfs with nothing mounted over the path. Opening the path
// by name inside the container would follow whatever the image put at
// /proc or mounted there, and the label would go to a file of its choosing
// (the container then starts unconfined). The caller must be on the thread
// the write is for (a locked OS thread).
func WriteThreadSelf(subpath, value string) error {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs: %w", err)
	}
	defer proc.Close()
	h, unlock, err := proc.OpenThreadSelf(subpath)
	if err != nil {
		return fmt.Errorf("/proc/thread-self/%s: %w", subpath, err)
	}
	defer unlock()
	defer h.Close()
	if !IsProcfs(h) {
		return fmt.Errorf("/proc/thread-self/%s is not on procfs", subpath)
	}
	f, err := reopen(h, unix.O_WRONLY)
	if err != nil {
		return fmt.Errorf("/proc/thread-self/%s: %w", subpath, err)
	}
	defer f.Close()
	if _, err := f.WriteString(value); err != nil {
		return fmt.Errorf("/proc/thread-self/%s: %w", subpath, err)
	}
	return nil
}
