//go:build integration

package integration

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
)

// runningBundle starts a detached `sleep 1000` container and returns it
// with init's pid.
func sleepingBundle(t *testing.T) (*bundle, float64) {
	t.Helper()
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	return b, b.state()["pid"].(float64)
}

// assertUntouched checks the container still runs with the same init.
func assertUntouched(t *testing.T, b *bundle, pid float64) {
	t.Helper()
	st := b.state()
	if st["status"] != "running" || st["pid"] != pid {
		t.Fatalf("container changed: %v (pid was %v)", st, pid)
	}
}

// failingCriu is the host's criu when its `criu check` fails (as Debian
// 12's 3.17 does on kernel 6.18), else a stand-in that fails the same way.
func failingCriu(t *testing.T) string {
	if p, err := exec.LookPath("criu"); err == nil {
		if exec.Command(p, "check").Run() != nil {
			return p
		}
	}
	sh := filepath.Join(t.TempDir(), "criu")
	script := "#!/bin/sh\necho 'Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.' >&2\nexit 1\n"
	if err := os.WriteFile(sh, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return sh
}

// validHeader writes an inventory.img with CRIU's magics and nothing else:
// it passes our image check, so what fails next is CRIU (or the id).
func validHeader(t *testing.T) string {
	dir := t.TempDir()
	hdr := make([]byte, 8)
	binary.LittleEndian.PutUint32(hdr, 0x58313116) // as criu 3.17 writes it
	binary.LittleEndian.PutUint32(hdr[4:], 0x26)
	if err := os.WriteFile(filepath.Join(dir, "inventory.img"), hdr, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckpointCRIUUnusable(t *testing.T) {
	b, pid := sleepingBundle(t)
	img := filepath.Join(t.TempDir(), "img")
	for _, tc := range []struct{ name, criu, want string }{
		{"missing", "/nonexistent/criu", "checkpoint: criu binary not found"},
		{"check fails", failingCriu(t), "checkpoint: CRIU cannot run on this kernel: criu check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := b.myrun("--criu", tc.criu, "checkpoint", "--image-path", img, b.id)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want an error with %q", code, errs, tc.want)
			}
			if _, err := os.Stat(img); !os.IsNotExist(err) {
				t.Fatalf("image dir left behind: %v", err)
			}
			assertUntouched(t, b, pid)
		})
	}
	// The default criu (on PATH) fails the same way on this kernel.
	if p, err := exec.LookPath("criu"); err == nil && p == failingCriu(t) {
		_, errs, code := b.myrun("checkpoint", "--image-path", img, b.id)
		if code == 0 || !strings.Contains(errs, "CRIU cannot run on this kernel") || !strings.Contains(errs, "kerndat") {
			t.Fatalf("default criu: exit %d, stderr %q", code, errs)
		}
		assertUntouched(t, b, pid)
	}
}

func TestCheckpointBadInput(t *testing.T) {
	b, pid := sleepingBundle(t)
	notPre := t.TempDir()
	img := filepath.Join(t.TempDir(), "img")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--parent-path", notPre}, "--parent-path: " + notPre + ": not a pre-dump"},
		{[]string{"--parent-path", "../nowhere"}, "--parent-path: stat " + filepath.Join(filepath.Dir(img), "nowhere")},
		{[]string{"--manage-cgroups-mode", "props"}, "--manage-cgroups-mode: invalid value"},
		{[]string{"--empty-ns", "ipc"}, "not supported (only network)"},
		{[]string{"--page-server", "localhost"}, "--page-server"},
		// CRIU writes to the status fd only for a lazy dump.
		{[]string{"--status-fd", "1"}, "--status-fd: only with --lazy-pages"},
		{[]string{"--lazy-pages", "--status-fd", "99"}, "--status-fd: 99: bad file descriptor"},
		{[]string{"--lazy-pages", "--status-fd", "0"}, "--status-fd: 0: not open for writing"},
	} {
		args := append(append([]string{"checkpoint", "--image-path", img}, tc.args...), b.id)
		_, errs, code := b.myrun(args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errs, tc.want)
		}
		if _, err := os.Stat(img); !os.IsNotExist(err) {
			t.Fatalf("%v: image dir left behind", tc.args)
		}
		assertUntouched(t, b, pid)
	}
	if _, errs, code := b.myrun("checkpoint", "--image-path", img, "no-such-id"); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Errorf("unknown id: exit %d, %q", code, errs)
	}

	// A created (never started) and a stopped container are refused.
	c := newBundle(t, []string{"true"}, nil)
	if _, errs, code := c.myrun("create", "--bundle", c.dir, c.id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	if _, errs, code := c.myrun("checkpoint", "--image-path", img, c.id); code == 0 || !strings.Contains(errs, "is created: only a running or paused container") {
		t.Errorf("created: exit %d, %q", code, errs)
	}
	if _, errs, code := c.myrun("kill", c.id, "KILL"); code != 0 {
		t.Fatalf("kill: %s", errs)
	}
	for i := 0; i < 500 && c.state()["status"] != "stopped"; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if _, errs, code := c.myrun("checkpoint", "--image-path", img, c.id); code == 0 || !strings.Contains(errs, "is stopped: only a running or paused container") {
		t.Errorf("stopped: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(img); !os.IsNotExist(err) {
		t.Fatal("image dir left behind")
	}
}

func TestRestoreBadInput(t *testing.T) {
	b, pid := sleepingBundle(t)
	empty := t.TempDir()
	corrupt := t.TempDir()
	os.WriteFile(filepath.Join(corrupt, "inventory.img"), []byte("not an image"), 0o600)
	good := validHeader(t)
	r := newBundle(t, []string{"sleep", "1000"}, nil)
	for _, tc := range []struct {
		name string
		args []string
		id   string
		want string
	}{
		{"missing image dir", []string{"--image-path", "/nonexistent/img"}, r.id, "--image-path: stat /nonexistent/img"},
		{"no inventory", []string{"--image-path", empty}, r.id, "--image-path: " + empty + ": not a checkpoint image"},
		{"corrupt", []string{"--image-path", corrupt}, r.id, "corrupt checkpoint image (bad magic"},
		{"missing work dir", []string{"--image-path", good, "--work-path", "/nonexistent/w"}, r.id, "--work-path: /nonexistent/w"},
		{"bad cgroups mode", []string{"--image-path", good, "--manage-cgroups-mode", "x"}, r.id, "--manage-cgroups-mode"},
		{"console socket without terminal", []string{"--image-path", good, "--console-socket", "/tmp/x.sock"}, r.id, "--console-socket: the container has no terminal"},
		{"existing id", []string{"--image-path", good}, b.id, "already exists: " + b.id},
		{"criu unusable", []string{"--image-path", good}, r.id, "restore: CRIU cannot run on this kernel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--root", b.root, "--criu", failingCriu(t), "restore", "-d", "--bundle", r.dir}, tc.args...)
			_, errs, code := runWithTimeout(t, 60*time.Second, append(args, tc.id)...)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %q", code, errs, tc.want)
			}
			// No half-restored container: only b is in the state root.
			ents, _ := os.ReadDir(b.root)
			if len(ents) != 1 || ents[0].Name() != b.id {
				t.Fatalf("state root holds %v", ents)
			}
			if dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent + "/" + r.id); len(dirs) > 0 {
				t.Fatalf("cgroups left behind: %v", dirs)
			}
			if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), "criu-root") {
				t.Fatal("criu-root mount left behind")
			}
			assertUntouched(t, b, pid)
		})
	}
	// A terminal container needs --console-socket.
	r.spec.Process.Terminal = true
	r.write()
	_, errs, code := b.myrun("restore", "-d", "--image-path", good, "--bundle", r.dir, r.id)
	if code == 0 || !strings.Contains(errs, "--console-socket: required") {
		t.Fatalf("terminal: exit %d, %q", code, errs)
	}
}

// A user-namespaced container's restored tasks open the images as its
// root: an image directory they cannot search is refused before CRIU runs.
func TestRestoreUserNSImageDir(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) { escUserns(s, 100000, 65536) })
	img := validHeader(t)
	os.Chmod(img, 0o700)
	_, errs, code := runWithTimeout(t, 60*time.Second, "--root", b.root, "--criu", failingCriu(t), "restore", "-d", "--image-path", img, "--bundle", b.dir, b.id)
	if code == 0 || !strings.Contains(errs, "--image-path: "+img) || !strings.Contains(errs, "not searchable by the container's root (host uid 100000") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if ents, _ := os.ReadDir(b.root); len(ents) != 0 {
		t.Fatalf("state root holds %v", ents)
	}
	// Searchable by it: the next check (CRIU) is reached.
	os.Chown(img, 100000, 100000)
	_, errs, code = runWithTimeout(t, 60*time.Second, "--root", b.root, "--criu", failingCriu(t), "restore", "-d", "--image-path", img, "--bundle", b.dir, b.id)
	if code == 0 || !strings.Contains(errs, "restore: CRIU cannot run on this kernel") {
		t.Fatalf("chowned: exit %d, stderr %q", code, errs)
	}
}

func TestFeaturesCheckpoint(t *testing.T) {
	out, errs, code := runWithTimeout(t, 30*time.Second, "features")
	if code != 0 {
		t.Fatalf("features: %s", errs)
	}
	var f struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	if got := f.Annotations["run.myrun.checkpoint.enabled"]; got != "true" {
		t.Fatalf("run.myrun.checkpoint.enabled = %q, annotations %v", got, f.Annotations)
	}
}

// Where `criu check` fails only in its kernel probe (kerndat), a wrapper
// that answers `check` lets the real CRIU take our whole RPC request: it
// must accept every option, open the image and work dirs we pass, and
// stop at the same probe, named in its log; the container is untouched
// and a failed restore leaves nothing.
func TestCheckpointRestoreReachCRIU(t *testing.T) {
	real, err := exec.LookPath("criu")
	if err != nil {
		t.Fatal("criu is not installed (contrib/install-deps.sh installs it)")
	}
	if exec.Command(real, "check").Run() == nil {
		t.Skip("criu works on this kernel: criu_vm_test.go covers real dumps")
	}
	wrap := filepath.Join(t.TempDir(), "criu")
	if err := os.WriteFile(wrap, []byte("#!/bin/sh\n[ \"$1\" = check ] && exit 0\nexec "+real+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, pid := sleepingBundle(t)
	img := filepath.Join(t.TempDir(), "img")
	_, errs, code := b.myrun("--criu", wrap, "checkpoint", "--image-path", img, "--tcp-established", "--file-locks", "--manage-cgroups-mode", "full", b.id)
	if code == 0 || !strings.Contains(errs, "checkpoint: criu dump failed") || !strings.Contains(errs, filepath.Join(img, "dump.log")) {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	// The cause from CRIU's log and the image path are in the message.
	if !strings.Contains(errs, ": Error (criu/") || !strings.Contains(errs, "(--image-path "+img+")") {
		t.Fatalf("no CRIU error or --image-path in %q", errs)
	}
	if log, _ := os.ReadFile(filepath.Join(img, "dump.log")); !strings.Contains(string(log), "kerndat") {
		t.Fatalf("dump.log does not end in the kernel probe: %s", log)
	}
	assertUntouched(t, b, pid)

	good := validHeader(t)
	r := newBundle(t, []string{"sleep", "1000"}, nil)
	_, errs, code = runWithTimeout(t, 60*time.Second, "--root", b.root, "--criu", wrap, "restore", "-d", "--image-path", good, "--bundle", r.dir, r.id)
	if code == 0 || !strings.Contains(errs, "restore: criu restore failed") {
		t.Fatalf("restore: exit %d, stderr %q", code, errs)
	}
	if !strings.Contains(errs, ": Error (criu/") || !strings.Contains(errs, "(--image-path "+good+"; CRIU's log: "+filepath.Join(good, "restore.log")+")") {
		t.Fatalf("restore: no CRIU error or --image-path in %q", errs)
	}
	if log, _ := os.ReadFile(filepath.Join(good, "restore.log")); !strings.Contains(string(log), "kerndat") {
		t.Fatalf("restore.log does not end in the kernel probe: %s", log)
	}
	if ents, _ := os.ReadDir(b.root); len(ents) != 1 {
		t.Fatalf("state root holds %v", ents)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), "criu-root") {
		t.Fatal("criu-root mount left behind")
	}
	if dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent + "/" + r.id); len(dirs) > 0 {
		t.Fatalf("cgroups left behind: %v", dirs)
	}
	assertUntouched(t, b, pid)
}

// freezingCriu is a criu that passes `criu check` and, as `criu swrk 3`,
// takes the dump request, sets the container's freezer to state (FROZEN
// as CRIU does before dumping, or THAWED) and fails: how is "reply" (an
// error answer), "exit" (no answer) or "hang" (no answer until myrun
// kills it at --criu-timeout).
func freezingCriu(t *testing.T, b *bundle, state, how string) string {
	t.Helper()
	var freeze string
	for _, d := range cgroupDirs(b) {
		if _, err := os.Stat(filepath.Join(d, "freezer.state")); err == nil {
			freeze = "echo " + state + " > " + filepath.Join(d, "freezer.state")
		} else if _, err := os.Stat(filepath.Join(d, "cgroup.freeze")); err == nil && freeze == "" {
			freeze = "echo " + map[string]string{"FROZEN": "1", "THAWED": "0"}[state] + " > " + filepath.Join(d, "cgroup.freeze")
		}
	}
	if freeze == "" {
		t.Fatalf("no freezer among %v", cgroupDirs(b))
	}
	dir := t.TempDir()
	typ := rpc.CriuReqType_DUMP
	reply, _ := proto.Marshal(&rpc.CriuResp{Type: &typ, Success: proto.Bool(false), CrErrmsg: proto.String("fake CRIU fails after freezing"), CrErrno: proto.Int32(5)})
	if err := os.WriteFile(filepath.Join(dir, "reply"), reply, 0o600); err != nil {
		t.Fatal(err)
	}
	end := map[string]string{"reply": "exec cat " + filepath.Join(dir, "reply") + " >&3", "exit": "exit 1", "hang": "exec sleep 1000"}[how]
	sh := filepath.Join(dir, "criu")
	script := "#!/bin/sh\n[ \"$1\" = check ] && exit 0\ndd bs=1M count=1 of=/dev/null <&3 2>/dev/null\n" + freeze + "\n" + end + "\n"
	if err := os.WriteFile(sh, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return sh
}

// A dump that fails after CRIU froze the container (an error answer, a
// CRIU that dies, one killed at --criu-timeout) leaves it as it was: a
// running container thawed, a paused one paused (even if it was thawed
// meanwhile), its init the same.
func TestCheckpointFailureKeepsFreezerState(t *testing.T) {
	b, pid := sleepingBundle(t)
	img := filepath.Join(t.TempDir(), "img")
	for _, tc := range []struct{ how, want string }{
		{"reply", "criu dump failed: fake CRIU fails after freezing (errno 5)"},
		{"exit", "swrk closed the connection"},
		{"hang", "CRIU did not answer within 1s: killed its swrk child"},
	} {
		t.Run(tc.how, func(t *testing.T) {
			_, errs, code := b.myrun("--criu", freezingCriu(t, b, "FROZEN", tc.how), "checkpoint", "--criu-timeout", "1s", "--image-path", img, b.id)
			if code == 0 || !strings.Contains(errs, "checkpoint: ") || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want an error with %q", code, errs, tc.want)
			}
			assertUntouched(t, b, pid)
			os.RemoveAll(img)
		})
	}
	if _, errs, code := b.myrun("pause", b.id); code != 0 {
		t.Fatalf("pause: %s", errs)
	}
	for _, state := range []string{"FROZEN", "THAWED"} {
		_, errs, code := b.myrun("--criu", freezingCriu(t, b, state, "reply"), "checkpoint", "--image-path", img, b.id)
		if code == 0 || !strings.Contains(errs, "fake CRIU fails after freezing") {
			t.Fatalf("paused, CRIU leaving it %s: exit %d, stderr %q", state, code, errs)
		}
		if st := b.state(); st["status"] != "paused" || st["pid"] != pid {
			t.Fatalf("paused, CRIU leaving it %s: the container is now %v", state, st)
		}
		os.RemoveAll(img)
	}
	if _, errs, code := b.myrun("resume", b.id); code != 0 {
		t.Fatalf("resume: %s", errs)
	}
	assertUntouched(t, b, pid)
}

// Engines cannot pass --criu-timeout: the container's
// run.myrun.criu-timeout annotation, else MYRUN_CRIU_TIMEOUT in the
// runtime's environment, bounds the wait (the flag wins over both). Bad
// values are refused naming their source, for restore too.
func TestCriuTimeoutSources(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Annotations = map[string]string{"run.myrun.criu-timeout": "2s"}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	pid := b.state()["pid"].(float64)
	img := filepath.Join(t.TempDir(), "img")
	for _, tc := range []struct {
		env  string
		args []string
		want string
	}{
		{"MYRUN_CRIU_TIMEOUT=1s", nil, "CRIU did not answer within 2s"},
		{"MYRUN_CRIU_TIMEOUT=5s", []string{"--criu-timeout", "1s"}, "CRIU did not answer within 1s"},
	} {
		cmd := exec.Command(myrun, append(append([]string{"--root", b.root, "--criu", freezingCriu(t, b, "FROZEN", "hang"), "checkpoint", "--image-path", img}, tc.args...), b.id)...)
		cmd.Env = append(os.Environ(), tc.env)
		_, errs, code := runCmd(t, time.Minute, cmd)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Fatalf("%s %v: exit %d, stderr %q; want %q", tc.env, tc.args, code, errs, tc.want)
		}
		assertUntouched(t, b, pid)
		os.RemoveAll(img)
	}
	// Without the annotation the environment counts.
	c, cpid := sleepingBundle(t)
	cmd := exec.Command(myrun, "--root", c.root, "--criu", freezingCriu(t, c, "FROZEN", "hang"), "checkpoint", "--image-path", img, c.id)
	cmd.Env = append(os.Environ(), "MYRUN_CRIU_TIMEOUT=1s")
	if _, errs, code := runCmd(t, time.Minute, cmd); code == 0 || !strings.Contains(errs, "CRIU did not answer within 1s") {
		t.Fatalf("env: exit %d, stderr %q", code, errs)
	}
	assertUntouched(t, c, cpid)
	os.RemoveAll(img)
	cmd = exec.Command(myrun, "--root", c.root, "checkpoint", "--image-path", img, c.id)
	cmd.Env = append(os.Environ(), "MYRUN_CRIU_TIMEOUT=soon")
	if _, errs, code := runCmd(t, time.Minute, cmd); code == 0 || !strings.Contains(errs, `MYRUN_CRIU_TIMEOUT: \"soon\": not a duration`) {
		t.Fatalf("bad env: exit %d, stderr %q", code, errs)
	}
	assertUntouched(t, c, cpid)

	// Restore: a bad annotation in config.json, before CRIU runs.
	r := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Annotations = map[string]string{"run.myrun.criu-timeout": "-5m"}
	})
	_, errs, code := runWithTimeout(t, 60*time.Second, "--root", r.root, "--criu", failingCriu(t), "restore", "-d", "--image-path", validHeader(t), "--bundle", r.dir, r.id)
	if code == 0 || !strings.Contains(errs, `annotations[\"run.myrun.criu-timeout\"]: \"-5m\": not a duration`) {
		t.Fatalf("restore, bad annotation: exit %d, stderr %q", code, errs)
	}
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Fatalf("state root holds %v", ents)
	}
}
