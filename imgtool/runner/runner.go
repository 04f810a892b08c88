// Package runner runs the OCI runtime binary (myrun, runc, crun) for
// myimg: build's RUN containers and myimg's own containers both go
// through it, with their own state root, the runtime's JSON log for its
// errors, and the cleanup of the cgroups a runtime may leave behind.
package runner

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Runtime is a runtime binary with the --root (and optionally --log) it
// is run with.
type Runtime struct {
	Path string // the binary; "" when none was found
	Root string // --root: our own state directory
	Log  string // --log (JSON format) when not ""
	// Systemd adds --systemd-cgroup (a rootless container's scope of the
	// user manager).
	Systemd bool
}

// WithLog is r writing its own errors to path as JSON lines.
func (r Runtime) WithLog(path string) Runtime {
	r.Log = path
	return r
}

// Command is the runtime invoked with args after the global flags.
func (r Runtime) Command(args ...string) *exec.Cmd {
	g := []string{"--root", r.Root}
	if r.Log != "" {
		g = append(g, "--log", r.Log, "--log-format", "json")
	}
	if r.Systemd {
		g = append(g, "--systemd-cgroup")
	}
	return exec.Command(r.Path, append(g, args...)...)
}

// Delete force-deletes container id (its processes and state); a
// container the runtime does not know is not an error worth reporting,
// nor logged: the log keeps the error that made us delete.
func (r Runtime) Delete(id string) {
	r.Log = ""
	r.Command("delete", "--force", id).Run()
}

// Status is the runtime's view of container id ("created", "running",
// "stopped", ...) or "" when it does not know it.
func (r Runtime) Status(id string) string {
	if r.Path == "" {
		return ""
	}
	out, err := r.Command("state", id).Output()
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

// LogError is the message of the last error the runtime wrote to its
// log (runc's JSON lines with "level" and "msg"), or "".
func (r Runtime) LogError() string {
	if r.Log == "" {
		return ""
	}
	return LastError(r.Log)
}

// LastError is the message of the last "error" line of the JSON log at
// path, or "".
func LastError(path string) string {
	b, _ := os.ReadFile(path)
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

// cgroupRoots lists the mounted hierarchies (each v1 controller, the
// unified one of a hybrid host, and the v2 root); a variable for tests.
var cgroupRoots = func() []string {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	return append(roots, "/sys/fs/cgroup")
}

// below reports whether the absolute path p lies strictly under parent.
func below(parent, p string) bool {
	if !filepath.IsAbs(p) || !filepath.IsAbs(parent) {
		return false
	}
	rel, err := filepath.Rel(parent, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// RemoveCgroup removes the cgroup directory p in every hierarchy where a
// runtime left it, only when p is strictly below parent (the cgroup
// parent that is ours): nothing outside it, never parent itself, never a
// hierarchy's root. Only empty cgroups go (rmdir).
func RemoveCgroup(parent, p string) {
	if !below(parent, p) {
		return
	}
	for _, root := range cgroupRoots() {
		os.Remove(filepath.Join(root, p))
	}
}

// CgroupDirs lists the directories of cgroup p that exist.
func CgroupDirs(p string) []string {
	var out []string
	for _, root := range cgroupRoots() {
		d := filepath.Join(root, p)
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	return out
}
