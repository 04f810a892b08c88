package container

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// rt builds a command of the runtime binary with our own state root.
func (cs *Manager) rt(r *Record, args ...string) *exec.Cmd {
	return exec.Command(r.Runtime, append([]string{"--root", cs.StateRoot()}, args...)...)
}

// runtimeStatus is the runtime's view of the container ("created",
// "running", "stopped", ...) or "" when it does not know it.
func (cs *Manager) runtimeStatus(r *Record) string {
	if r.Runtime == "" {
		return ""
	}
	out, err := cs.rt(r, "state", r.ID).Output()
	if err != nil {
		return ""
	}
	var st struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(out, &st) != nil {
		return ""
	}
	return st.Status
}

// runtimeError returns the last error the runtime logged to its --log
// file in the container dir (JSON lines with "msg").
func runtimeError(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "runtime.log"))
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		var l struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(lines[i], &l) == nil && l.Level == "error" {
			return l.Msg
		}
	}
	return ""
}

func withRuntimeError(err error, dir string) error {
	if m := runtimeError(dir); m != "" {
		return fmt.Errorf("%w: %s", err, m)
	}
	return err
}

// removeCgroup removes the container's cgroup directories in every
// hierarchy (only ours: the absolute path recorded for it).
func removeCgroup(p string) {
	if p == "" || !strings.HasPrefix(p, CgroupParent+"/") {
		return
	}
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, root := range roots {
		os.Remove(filepath.Join(root, p))
	}
}

// cgroupDirs lists the container's cgroup directories that exist.
func cgroupDirs(p string) []string {
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, root := range roots {
		if st, err := os.Stat(filepath.Join(root, p)); err == nil && st.IsDir() {
			out = append(out, filepath.Join(root, p))
		}
	}
	return out
}
