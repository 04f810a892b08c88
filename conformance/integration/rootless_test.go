//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/internal/testuser"
)

// escCred runs a command as another user.
type escCred struct {
	uid, gid uint32
}

func (c *escCred) apply(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: c.uid, Gid: c.gid, Groups: []uint32{}}}
}

// rootlessUser is an unprivileged account made for one test run.
type rootlessUser struct {
	*testuser.User
	t    *testing.T
	xdg  string // XDG_RUNTIME_DIR
	cred *escCred
	bin  string // a copy of myrun the user can execute
}

// newRootlessUser creates a user (testuser.New) and its XDG_RUNTIME_DIR;
// everything is removed at cleanup. The subordinate ranges are added by
// AddSubIDs so the test can first run without them.
func newRootlessUser(t *testing.T) *rootlessUser {
	t.Helper()
	u := &rootlessUser{User: testuser.New(t, "myrunrl", 400000000), t: t}
	u.cred = &escCred{uint32(u.UID), uint32(u.GID)}
	// MYRUN may live under a directory the user cannot enter.
	binDir, err := os.MkdirTemp("", "myrun-rootless-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(binDir) })
	os.Chmod(binDir, 0o755)
	u.bin = filepath.Join(binDir, "myrun")
	escInstall(t, myrun, u.bin)
	u.xdg = fmt.Sprintf("/run/user/%d", u.UID)
	if escExists(u.xdg) {
		t.Fatalf("%s already exists", u.xdg)
	}
	if err := os.MkdirAll(u.xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	// The user's containers go first, then their runtime dir.
	t.Cleanup(func() { u.Kill(); os.RemoveAll(u.xdg) })
	os.Chown(u.xdg, u.UID, u.GID)
	return u
}

// myrun runs the runtime as the user with a minimal environment (no
// --root: the state must go to $XDG_RUNTIME_DIR/myrun by default).
func (u *rootlessUser) myrun(args ...string) (string, string, int) {
	u.t.Helper()
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/", "USER=" + u.Name,
		"XDG_RUNTIME_DIR=" + u.xdg}
	return escRunEnv(u.t, u.bin, nil, env, u.cred, args...)
}

// bundle writes a busybox bundle owned by the user whose config comes from
// `myrun spec --rootless` run as the user, then mutate.
func (u *rootlessUser) bundle(args []string, mutate func(*rspec.Spec)) (dir string) {
	u.t.Helper()
	dir, err := os.MkdirTemp("", "myrun-rootless-")
	if err != nil {
		u.t.Fatal(err)
	}
	u.t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	busyboxRootfs(u.t, filepath.Join(dir, "rootfs"))
	escChownTree(u.t, dir, u.UID, u.GID)
	if _, errs, code := u.myrun("spec", "--rootless", "--bundle", dir); code != 0 {
		u.t.Fatalf("spec --rootless as %s: %s", u.Name, errs)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		u.t.Fatal(err)
	}
	var s rspec.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		u.t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	if mutate != nil {
		mutate(&s)
	}
	raw, _ = json.MarshalIndent(&s, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		u.t.Fatal(err)
	}
	os.Chown(filepath.Join(dir, "config.json"), u.UID, u.GID)
	return dir
}

func (u *rootlessUser) waitStatus(id, want string) {
	u.t.Helper()
	escWaitFor(u.t, 10*time.Second, id+" "+want, func() bool {
		out, _, _ := u.myrun("state", id)
		return strings.Contains(out, `"status": "`+want+`"`) || strings.Contains(out, `"status":"`+want+`"`)
	})
}

// cgroupsUnder lists cgroup directories named like p in any hierarchy.
func rootlessCgroups(p string) []string {
	a, _ := filepath.Glob("/sys/fs/cgroup/*/" + p)
	b, _ := filepath.Glob("/sys/fs/cgroup/*/*/" + p)
	return append(a, b...)
}

// Rootless, end to end, as a freshly created unprivileged user: `myrun spec
// --rootless` runs as is (uid 0 inside mapped to the user), the state
// lives in $XDG_RUNTIME_DIR/myrun, the full lifecycle works as the user,
// no cgroup is created on this cgroup v1 host (a warning says so; a write
// to a parent cgroup is CVE-2023-25809), devices are bind mounts (an
// unprivileged user cannot mknod), and a multi-range mapping goes through
// newuidmap/newgidmap from /etc/subuid and /etc/subgid — failing clearly
// while the user has no ranges.
func TestRootless(t *testing.T) {
	u := newRootlessUser(t)
	cgName := fmt.Sprintf("myrun-rootless-%d", os.Getpid())

	t.Run("spec-rootless-run", func(t *testing.T) {
		dir := u.bundle([]string{"sh", "-c", "id -u; cat /proc/self/uid_map; grep ' /dev/null ' /proc/self/mountinfo; stat -c '%t:%T' /dev/null"}, func(s *rspec.Spec) {
			s.Linux.CgroupsPath = "/" + cgName + "/a"
		})
		id := fmt.Sprintf("rl-%d-a", os.Getpid())
		out, errs, code := u.myrun("run", "--bundle", dir, id)
		if code != 0 {
			t.Fatalf("run as %s: %d %s", u.Name, code, errs)
		}
		f := strings.Fields(out)
		if len(f) < 4 || f[0] != "0" || f[1] != "0" || f[2] != strconv.Itoa(u.UID) || f[3] != "1" {
			t.Errorf("uid 0 inside must map to %d:\n%s", u.UID, out)
		}
		if !strings.Contains(out, "/dev/null") || !strings.Contains(out, "1:3") {
			t.Errorf("/dev/null is not a bind mount of the host device:\n%s", out)
		}
		t.Logf("stderr: %s", strings.TrimSpace(errs))
		if !strings.Contains(strings.ToLower(errs), "cgroup") {
			t.Errorf("no warning about skipped cgroups on stderr: %q", errs)
		}
		if cg := rootlessCgroups(cgName); len(cg) > 0 {
			t.Errorf("rootless run created cgroups: %v", cg)
		}
		u.myrun("delete", "--force", id)
	})

	// Limits cannot be applied without delegation: refused naming
	// linux.resources (runc's choice) or skipped with a warning; never
	// written to a cgroup the user does not own (CVE-2023-25809).
	t.Run("resources-without-delegation", func(t *testing.T) {
		dir := u.bundle([]string{"true"}, func(s *rspec.Spec) {
			s.Linux.CgroupsPath = "/" + cgName + "/r"
			limit := int64(100)
			s.Linux.Resources = &rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: &limit}}
		})
		id := fmt.Sprintf("rl-%d-r", os.Getpid())
		_, errs, code := u.myrun("run", "--bundle", dir, id)
		defer u.myrun("delete", "--force", id)
		t.Logf("exit %d: %s", code, strings.TrimSpace(errs))
		if code != 0 && !strings.Contains(errs, "linux.resources") {
			t.Errorf("refusal does not name linux.resources: %s", errs)
		}
		// The words engines match for this refusal (libcontainer.Messages).
		if code != 0 && !strings.Contains(errs, "permission denied") {
			t.Errorf("refusal does not say permission denied: %s", errs)
		}
		if code == 0 && !strings.Contains(strings.ToLower(errs), "cgroup") {
			t.Errorf("limits silently ignored (no warning): %s", errs)
		}
		if cg := rootlessCgroups(cgName); len(cg) > 0 {
			t.Errorf("rootless run created cgroups: %v", cg)
		}
		if code != 0 && escExists(filepath.Join(u.xdg, "myrun", id)) {
			t.Errorf("state left behind after the failed run")
		}
	})

	t.Run("lifecycle", func(t *testing.T) {
		dir := u.bundle([]string{"sleep", "100"}, func(s *rspec.Spec) {
			s.Linux.CgroupsPath = "/" + cgName + "/b"
		})
		id := fmt.Sprintf("rl-%d-b", os.Getpid())
		defer u.myrun("delete", "--force", id)
		if _, errs, code := u.myrun("create", "--bundle", dir, id); code != 0 {
			t.Fatalf("create: %s", errs)
		}
		stateDir := filepath.Join(u.xdg, "myrun", id)
		if !escExists(stateDir) {
			ents, _ := os.ReadDir(u.xdg)
			t.Errorf("state not under $XDG_RUNTIME_DIR/myrun (%s): %v", stateDir, ents)
		}
		if escExists(filepath.Join("/run/myrun", id)) {
			t.Errorf("rootless state written to /run/myrun")
		}
		u.waitStatus(id, "created")
		if _, errs, code := u.myrun("start", id); code != 0 {
			t.Fatalf("start: %s", errs)
		}
		u.waitStatus(id, "running")
		out, errs, code := u.myrun("exec", id, "id", "-u")
		if code != 0 || out != "0\n" {
			t.Fatalf("exec: %d %q %s", code, out, errs)
		}
		if out, _, _ := u.myrun("list", "-q"); !strings.Contains(out, id) {
			t.Errorf("list -q: %q", out)
		}
		if _, errs, code := u.myrun("kill", id, "KILL"); code != 0 {
			t.Fatalf("kill: %s", errs)
		}
		u.waitStatus(id, "stopped")
		if _, errs, code := u.myrun("delete", id); code != 0 {
			t.Fatalf("delete: %s", errs)
		}
		if escExists(stateDir) {
			t.Errorf("state dir left behind: %s", stateDir)
		}
		if cg := rootlessCgroups(cgName); len(cg) > 0 {
			t.Errorf("rootless container created cgroups: %v", cg)
		}
	})

	multi := func(s *rspec.Spec) {
		s.Linux.UIDMappings = []rspec.LinuxIDMapping{
			{ContainerID: 0, HostID: uint32(u.UID), Size: 1},
			{ContainerID: 1, HostID: uint32(u.SubStart), Size: 65536},
		}
		s.Linux.GIDMappings = []rspec.LinuxIDMapping{
			{ContainerID: 0, HostID: uint32(u.GID), Size: 1},
			{ContainerID: 1, HostID: uint32(u.SubStart), Size: 65536},
		}
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
		// chown to a mapped id proves the second range is live.
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_CHOWN")
		c.Effective = append(c.Effective, "CAP_CHOWN")
		c.Permitted = append(c.Permitted, "CAP_CHOWN")
	}

	t.Run("multi-range-without-subids", func(t *testing.T) {
		dir := u.bundle([]string{"true"}, multi)
		id := fmt.Sprintf("rl-%d-c", os.Getpid())
		_, errs, code := u.myrun("run", "--bundle", dir, id)
		defer u.myrun("delete", "--force", id)
		if code == 0 {
			t.Fatalf("multi-range mapping without /etc/subuid ranges succeeded")
		}
		t.Logf("refused: %s", strings.TrimSpace(errs))
		low := strings.ToLower(errs)
		if !strings.Contains(low, "subuid") && !strings.Contains(low, "newuidmap") && !strings.Contains(low, "uidmappings") {
			t.Errorf("error does not say what is missing: %s", errs)
		}
		if escExists(filepath.Join(u.xdg, "myrun", id)) {
			t.Errorf("state left behind after the failed run")
		}
	})

	t.Run("multi-range", func(t *testing.T) {
		u.AddSubIDs()
		dir := u.bundle([]string{"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; echo x > /tmp/f; chown 1000:1000 /tmp/f && stat -c '%u:%g' /tmp/f"}, multi)
		id := fmt.Sprintf("rl-%d-d", os.Getpid())
		out, errs, code := u.myrun("run", "--bundle", dir, id)
		defer u.myrun("delete", "--force", id)
		if code != 0 {
			t.Fatalf("run with multi-range mapping: %d %s\n%s", code, errs, out)
		}
		want := fmt.Sprintf("1 %d 65536", u.SubStart)
		if strings.Count(strings.Join(strings.Fields(out), " "), want) != 2 || !strings.Contains(out, "1000:1000") {
			t.Fatalf("maps or chown wrong (want %q in both maps):\n%s", want, out)
		}

		// The whole lifecycle through newuidmap: create, start, exec as a
		// mapped user, kill, delete.
		dir = u.bundle([]string{"sleep", "1000"}, multi)
		id = fmt.Sprintf("rl-%d-e", os.Getpid())
		defer u.myrun("delete", "--force", id)
		for _, args := range [][]string{{"create", "--bundle", dir, id}, {"start", id}} {
			if _, errs, code := u.myrun(args...); code != 0 {
				t.Fatalf("%s: %d %s", args[0], code, errs)
			}
		}
		if out, errs, code := u.myrun("exec", "-u", "1000:1000", id, "sh", "-c", "id -u; cat /proc/self/uid_map"); code != 0 ||
			!strings.HasPrefix(out, "1000\n") || !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Fatalf("exec as a mapped user: %d %q %s", code, out, errs)
		}
		if _, errs, code := u.myrun("kill", id, "KILL"); code != 0 {
			t.Fatalf("kill: %s", errs)
		}
		for i := 0; i < 100; i++ {
			if out, _, _ := u.myrun("state", id); strings.Contains(out, `"stopped"`) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, errs, code := u.myrun("delete", id); code != 0 {
			t.Fatalf("delete: %s", errs)
		}
		if escExists(filepath.Join(u.xdg, "myrun", id)) {
			t.Errorf("state left behind after delete")
		}
	})

}
