// Package testrootfs builds the root filesystems the tests run containers
// in. Only tests import it.
package testrootfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Busybox fills dir with a minimal rootfs around the host's busybox-static
// (Debian package busybox-static): every applet linked in /bin, root and
// an unprivileged user (1000, home /home/user) in /etc/passwd and
// /etc/group, and a sticky world-writable /tmp.
func Busybox(dir string) error {
	for _, d := range []string{"bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	src, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("busybox-static is required: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), src, 0o755); err != nil {
		return err
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, app := range strings.Fields(string(out)) {
		if app == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", app)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
		"etc/group":  "root:x:0:\nuser:x:1000:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	// os.Chmod takes os.ModeSticky, not the 01000 bit.
	return os.Chmod(filepath.Join(dir, "tmp"), os.ModeSticky|0o777)
}
