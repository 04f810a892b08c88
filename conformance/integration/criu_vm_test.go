//go:build integration && vm

// Checkpoint/restore through CRIU for real: built only for the VM lane,
// whose Debian 12 kernel matches Debian 12's criu (the host's 6.18 kernel
// fails `criu check`). Runtime-agnostic (MYRUN may be runc: the lane runs
// these with runc 1.1.5 as the baseline).
package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// crIO is a container's stdio: pipes, as engines give them (CRIU cannot
// dump fds on files outside the container's mount namespace).
type crIO struct{ in, out, errs [2]*os.File }

func newCrIO(t *testing.T) *crIO {
	io := &crIO{}
	for _, p := range []*[2]*os.File{&io.in, &io.out, &io.errs} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p[0], p[1] = r, w
		t.Cleanup(func() { r.Close(); w.Close() })
	}
	return io
}

// run runs the runtime with these pipes as stdio and fails the test on a
// non-zero exit, showing what it wrote.
func (io *crIO) run(t *testing.T, b *bundle, args ...string) {
	t.Helper()
	cmd := exec.Command(myrun, append([]string{"--root", b.root}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = io.in[0], io.out[1], io.errs[1]
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v: %v: %s%s", args, err, drain(io.errs[0]), criuLogTail(t, args))
		}
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v timed out: %s", args, drain(io.errs[0]))
	}
}

// criuLogTail is the end of CRIU's log in the command's image dir. With
// MYRUN_TEST_CRIU_LOGS set (the VM lane: a dir it reads back) the whole
// logs are copied there too, named by the test.
func criuLogTail(t *testing.T, args []string) string {
	var out string
	keep := os.Getenv("MYRUN_TEST_CRIU_LOGS")
	for i, a := range args {
		if a == "--image-path" && i+1 < len(args) {
			for _, l := range []string{"dump.log", "restore.log"} {
				if b, err := os.ReadFile(filepath.Join(args[i+1], l)); err == nil {
					if keep != "" && os.MkdirAll(keep, 0o755) == nil {
						name := strings.ReplaceAll(t.Name(), "/", "_") + "-" + filepath.Base(args[i+1]) + "-" + l
						os.WriteFile(filepath.Join(keep, name), b, 0o644)
					}
					lines := strings.Split(string(b), "\n")
					if len(lines) > 25 {
						lines = lines[len(lines)-25:]
					}
					out += "\n--- " + l + ":\n" + strings.Join(lines, "\n")
				}
			}
		}
	}
	return out
}

func drain(f *os.File) string {
	f.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 8192)
	n, _ := f.Read(buf)
	return string(buf[:n])
}

// crCount reads the loop's counter through exec (so exec works too).
func crCount(t *testing.T, b *bundle, id string) int {
	t.Helper()
	return readCounter(func() string {
		out, errs, code := b.myrun("exec", id, "cat", "/tmp/count")
		if code != 0 {
			t.Fatalf("exec cat /tmp/count: %d %s", code, errs)
		}
		return out
	})
}

// readCounter reads a counter the loops write with `echo $i >FILE`: the
// shell truncates the file before it writes, so a read between the two
// sees it empty (a restored loop read at once: "counter went back from
// 42 to 0"); such a read is tried again, a few times.
func readCounter(read func() string) int {
	for try := 0; ; try++ {
		n, err := strconv.Atoi(strings.TrimSpace(read()))
		if err == nil || try == 20 {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crWaitCount waits until the counter exceeds n and returns it.
func crWaitCount(t *testing.T, b *bundle, id string, n int) int {
	t.Helper()
	var c int
	escWaitFor(t, 2*time.Minute, "the loop's counter to pass "+strconv.Itoa(n), func() bool {
		c = crCount(t, b, id)
		return c > n
	})
	return c
}

func crStatus(t *testing.T, b *bundle, id string) string {
	out, _, code := b.myrun("state", id)
	if code != 0 {
		return "absent"
	}
	if i := strings.Index(out, `"status": "`); i >= 0 {
		s := out[i+len(`"status": "`):]
		return s[:strings.Index(s, `"`)]
	}
	return "?"
}

const crLoop = "i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.2; done"

func crBundle(t *testing.T, mutate func(*rspec.Spec)) *bundle {
	return newBundle(t, []string{"sh", "-c", crLoop}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}})
		if mutate != nil {
			mutate(s)
		}
	})
}

// A busybox loop: checkpoint stops and removes it, restore brings it back
// counting on, and state/exec/kill/delete work on the restored container;
// then a second checkpoint restored under a new id.
func TestCRIULoop(t *testing.T) {
	b := crBundle(t, nil)
	newIO := newCrIO(t)
	newIO.run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	n := crWaitCount(t, b, b.id, 2)
	img := filepath.Join(t.TempDir(), "img")
	newIO.run(t, b, "checkpoint", "--image-path", img, b.id)
	if s := crStatus(t, b, b.id); s != "absent" {
		t.Fatalf("after checkpoint the container is %s, want it removed", s)
	}
	newCrIO(t).run(t, b, "restore", "-d", "--image-path", img, "--bundle", b.dir, b.id)
	if s := crStatus(t, b, b.id); s != "running" {
		t.Fatalf("restored container is %s", s)
	}
	if c := crCount(t, b, b.id); c < n {
		t.Fatalf("counter went back from %d to %d", n, c)
	}
	n = crWaitCount(t, b, b.id, crCount(t, b, b.id))
	crMaskedReadonly(t, b, b.id)

	// Into a new id, with its own cgroup.
	img2 := filepath.Join(t.TempDir(), "img2")
	newCrIO(t).run(t, b, "checkpoint", "--image-path", img2, b.id)
	id2 := b.id + "-new"
	b.spec.Linux.CgroupsPath = cgroupParent + "/" + id2
	b.write()
	t.Cleanup(func() { exec.Command(myrun, "--root", b.root, "delete", "--force", id2).Run() })
	newCrIO(t).run(t, b, "restore", "-d", "--image-path", img2, "--bundle", b.dir, id2)
	if c := crWaitCount(t, b, id2, n); c <= n {
		t.Fatalf("counter %d after restore into %s", c, id2)
	}
	if _, errs, code := b.myrun("kill", id2, "KILL"); code != 0 {
		t.Fatalf("kill: %s", errs)
	}
	escWaitFor(t, time.Minute, "the restored container to stop", func() bool { return crStatus(t, b, id2) == "stopped" })
	if _, errs, code := b.myrun("delete", id2); code != 0 {
		t.Fatalf("delete: %s", errs)
	}
}

// crMaskedReadonly checks the restored container still has the spec's
// masked paths (/proc/keys: a /dev/null bound over it; /proc/acpi: an
// empty read-only tmpfs) and read-only paths (/proc/sys).
func crMaskedReadonly(t *testing.T, b *bundle, id string) {
	t.Helper()
	for _, c := range []struct{ cmd, want string }{
		{"stat -c %t:%T /proc/keys", "1:3"},
		{"ls -A /proc/acpi | wc -l; touch /proc/acpi/x 2>/dev/null && echo writable; true", "0"},
		{"awk '$5 == \"/proc/sys\" { split($6, o, \",\"); print o[1] }' /proc/self/mountinfo | tail -1", "ro"},
	} {
		out, errs, code := b.myrun("exec", id, "sh", "-c", c.cmd)
		if code != 0 || strings.TrimSpace(out) != c.want {
			t.Errorf("after restore, %q: exit %d, %q (%s); want %q", c.cmd, code, out, errs, c.want)
		}
	}
}

// A restore in the foreground (no -d) waits for the restored container
// and exits with its status, then deletes it; --pid-file gets the
// restored init's pid, and --work-path takes CRIU's logs (not the image
// dir) on both sides.
func TestCRIURestoreForeground(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "until [ -e /tmp/stop ]; do i=$((i+1)); echo $i >/tmp/count; sleep 0.2; done; exit 7"}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}})
	})
	newCrIO(t).run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	n := crWaitCount(t, b, b.id, 1)
	img, work := filepath.Join(t.TempDir(), "img"), t.TempDir()
	newCrIO(t).run(t, b, "checkpoint", "--image-path", img, "--work-path", work, b.id)
	if _, err := os.Stat(filepath.Join(work, "dump.log")); err != nil {
		t.Errorf("--work-path: %v", err)
	}
	if _, err := os.Stat(filepath.Join(img, "dump.log")); err == nil {
		t.Errorf("dump.log in the image dir despite --work-path")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	work2 := t.TempDir()
	io := newCrIO(t)
	cmd := exec.Command(myrun, "--root", b.root, "restore", "--image-path", img, "--work-path", work2, "--pid-file", pidFile, "--bundle", b.dir, b.id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = io.in[0], io.out[1], io.errs[1]
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ended := false
	defer func() {
		if !ended {
			cmd.Process.Kill()
			<-done
		}
	}()
	escWaitFor(t, 3*time.Minute, "the restored container to run", func() bool { return crStatus(t, b, b.id) == "running" })
	crWaitCount(t, b, b.id, n)
	if _, err := os.Stat(filepath.Join(work2, "restore.log")); err != nil {
		t.Errorf("restore --work-path: %v", err)
	}
	pid, _ := os.ReadFile(pidFile)
	out, _, _ := b.myrun("state", b.id)
	if p := strings.TrimSpace(string(pid)); p == "" || !strings.Contains(out, `"pid": `+p+",") {
		t.Errorf("--pid-file holds %q; state %s", pid, out)
	}
	if _, errs, code := b.myrun("exec", b.id, "touch", "/tmp/stop"); code != 0 {
		t.Fatalf("exec touch: %s", errs)
	}
	select {
	case <-done:
		ended = true
	case <-time.After(2 * time.Minute * timeoutScale):
		t.Fatalf("foreground restore did not end with its container: %s", drain(io.errs[0]))
	}
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Errorf("foreground restore exited %d, want the container's 7: %s", code, drain(io.errs[0]))
	}
	if s := crStatus(t, b, b.id); s != "absent" {
		t.Errorf("after the foreground restore ended the container is %s, want it deleted", s)
	}
}

// --leave-running, then two pre-dumps and a final dump on top of them.
func TestCRIUPreDumpChain(t *testing.T) {
	b := crBundle(t, nil)
	io := newCrIO(t)
	io.run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	crWaitCount(t, b, b.id, 1)
	base := t.TempDir()
	io.run(t, b, "checkpoint", "--leave-running", "--image-path", filepath.Join(base, "lr"), b.id)
	if s := crStatus(t, b, b.id); s != "running" {
		t.Fatalf("after --leave-running: %s", s)
	}
	io.run(t, b, "checkpoint", "--pre-dump", "--image-path", filepath.Join(base, "p1"), b.id)
	io.run(t, b, "checkpoint", "--pre-dump", "--parent-path", "../p1", "--image-path", filepath.Join(base, "p2"), b.id)
	if s := crStatus(t, b, b.id); s != "running" {
		t.Fatalf("after --pre-dump: %s", s)
	}
	n := crCount(t, b, b.id)
	io.run(t, b, "checkpoint", "--parent-path", "../p2", "--image-path", filepath.Join(base, "final"), b.id)
	newCrIO(t).run(t, b, "restore", "-d", "--image-path", filepath.Join(base, "final"), "--bundle", b.dir, b.id)
	crWaitCount(t, b, b.id, n)
}

// A process holding a file, a pipe and a listening TCP socket on loopback.
func TestCRIUFilePipeTCP(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "exec 3>>/tmp/held; httpd -f -p 127.0.0.1:8080 -h / & (while :; do echo tick; sleep 1; done) | cat >/dev/null & wait"}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	})
	io := newCrIO(t)
	io.run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	listening := func() bool {
		out, _, _ := b.myrun("exec", b.id, "cat", "/proc/net/tcp")
		return strings.Contains(out, "0100007F:1F90 00000000:0000 0A")
	}
	escWaitFor(t, time.Minute, "httpd to listen", listening)
	img := filepath.Join(t.TempDir(), "img")
	io.run(t, b, "checkpoint", "--tcp-established", "--image-path", img, b.id)
	newCrIO(t).run(t, b, "restore", "-d", "--tcp-established", "--image-path", img, "--bundle", b.dir, b.id)
	if !listening() {
		t.Fatal("no listening socket on 127.0.0.1:8080 after restore")
	}
	if out, _, _ := b.myrun("exec", b.id, "readlink", "/proc/1/fd/3"); strings.TrimSpace(out) != "/tmp/held" {
		t.Fatalf("fd 3 of init after restore: %q", out)
	}
	out, _, _ := b.myrun("exec", b.id, "sh", "-c", "ls -l /proc/[0-9]*/fd/ 2>/dev/null | grep -c pipe:")
	if n, _ := strconv.Atoi(strings.TrimSpace(out)); n < 2 {
		t.Fatalf("pipe ends after restore: %q", out)
	}
	// The server answers on the restored socket.
	if out, _, _ := b.myrun("exec", b.id, "sh", "-c", "{ printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 3; } | nc 127.0.0.1 8080 | head -1"); !strings.Contains(out, "HTTP/1.") {
		t.Fatalf("httpd reply after restore: %q", out)
	}
}

// A terminal container: the restored pty master goes to --console-socket.
func TestCRIUTerminal(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "while :; do echo tick; sleep 0.5; done"}, func(s *rspec.Spec) { s.Process.Terminal = true })
	sock, got := consoleSocket(t)
	if _, errs, code := b.myrun("run", "-d", "--console-socket", sock, "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	m := <-got
	if m == nil {
		t.Fatal("no pty master")
	}
	defer m.Close()
	readUntil(m, "tick")
	img := filepath.Join(t.TempDir(), "img")
	if _, errs, code := b.myrun("checkpoint", "--image-path", img, b.id); code != 0 {
		t.Fatalf("checkpoint: %s%s", errs, criuLogTail(t, []string{"--image-path", img}))
	}
	sock2, got2 := consoleSocket(t)
	if _, errs, code := b.myrun("restore", "-d", "--console-socket", sock2, "--image-path", img, "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("restore: %s%s", errs, criuLogTail(t, []string{"--image-path", img}))
	}
	m2 := <-got2
	if m2 == nil {
		t.Fatal("no pty master from restore")
	}
	defer m2.Close()
	if out := readUntil(m2, "tick"); !strings.Contains(out, "tick") {
		t.Fatalf("restored terminal output %q", out)
	}
}

// A user-namespaced container.
func TestCRIUUserns(t *testing.T) {
	b := crBundle(t, func(s *rspec.Spec) { escUserns(s, 100000, 65536) })
	// The container's root (host uid 100000) must reach the rootfs.
	for d := b.dir; d != "/tmp"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	io := newCrIO(t)
	io.run(t, b, "run", "-d", "--bundle", b.dir, b.id)
	n := crWaitCount(t, b, b.id, 1)
	img := filepath.Join(t.TempDir(), "img")
	io.run(t, b, "checkpoint", "--image-path", img, b.id)
	newCrIO(t).run(t, b, "restore", "-d", "--image-path", img, "--bundle", b.dir, b.id)
	crWaitCount(t, b, b.id, n)
	out, _, _ := b.myrun("exec", b.id, "cat", "/proc/self/uid_map")
	if f := strings.Fields(out); len(f) != 3 || f[1] != "100000" {
		t.Fatalf("uid_map after restore: %q", out)
	}
}
