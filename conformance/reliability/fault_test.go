//go:build integration

package reliability

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// phase names what existed when myrun died, for the report.
func (e *env) phase(id string) string {
	var p []string
	if exists(filepath.Join(e.root, id)) {
		p = append(p, "statedir")
	}
	if exists(filepath.Join(e.root, id, "state.json")) {
		p = append(p, "state.json")
	}
	if len(cgroupDirs(id)) > 0 {
		p = append(p, "cgroup")
	}
	if len(cgroupPids(id)) > 0 {
		p = append(p, "init")
	}
	if len(p) == 0 {
		return "nothing"
	}
	return strings.Join(p, "+")
}

// recoverAndCheck is what an engine does after myrun died: list, delete
// --force, then use the id again. Nothing may be left and nothing corrupt.
func (e *env) recoverAndCheck(id, bundle, when string) {
	e.t.Helper()
	e.listOK(when)
	if r := e.run(30*time.Second, "delete", "--force", id); r.code != 0 {
		e.t.Errorf("%s: delete --force failed (%d): %s", when, r.code, r.err)
	}
	e.assertGone(id, bundle, when)
	e.lifecycle(id, bundle)
	e.assertGone(id, bundle, when+", after reuse")
}

// Delays cover the steps of create (state dir, cgroups, fifo, spawn,
// namespaces, mounts, pivot, waiting on the fifo) on this machine, where a
// create takes 20-60 ms.
var killDelays = []time.Duration{0, 1, 2, 3, 5, 7, 10, 13, 16, 20, 25, 30, 40, 50, 70, 100, 150}

func TestKillMyrunDuringCreate(t *testing.T) {
	e := newEnv(t)
	id := newID("kcreate")
	b := e.bundle(id, []string{"sleep", "100"}, nil)
	phases := map[string]int{}
	for _, d := range killDelays {
		if !e.startKill(d*time.Millisecond, nil, "create", "--bundle", b, id) {
			phases["finished"]++
		} else {
			phases[e.phase(id)]++
		}
		e.recoverAndCheck(id, b, fmt.Sprintf("create killed after %v", d*time.Millisecond))
	}
	t.Logf("create killed at %d points; state at the kill: %v", len(killDelays), phases)
}

// Hooks make the kill land at a known step: the hook writes a marker and
// waits; myrun is killed while it waits for the hook.
func TestKillMyrunDuringHooks(t *testing.T) {
	for _, kind := range []string{"createRuntime", "prestart", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			id := newID("khook")
			marker := filepath.Join(e.dir, "marker")
			pidf := filepath.Join(e.dir, "hookpid")
			hook := rspec.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
				fmt.Sprintf("echo $$ > %s; : > %s; exec sleep 30", pidf, marker)}}
			b := e.bundle(id, []string{"sleep", "100"}, func(s *rspec.Spec) {
				s.Hooks = &rspec.Hooks{}
				switch kind {
				case "createRuntime":
					s.Hooks.CreateRuntime = []rspec.Hook{hook}
				case "prestart":
					s.Hooks.Prestart = []rspec.Hook{hook} //nolint:staticcheck // still in the spec
				case "createContainer":
					s.Hooks.CreateContainer = []rspec.Hook{hook}
				}
			})
			killed := e.startKill(0, func() bool { return exists(marker) }, "create", "--bundle", b, id)
			if !killed {
				t.Fatalf("create finished before the %s hook ran", kind)
			}
			t.Logf("killed during %s hook; state: %s", kind, e.phase(id))
			// The hook is ours to end (a child of the dead myrun or in the
			// container); it must not matter for the cleanup.
			if raw, err := os.ReadFile(pidf); err == nil {
				if pid, _ := strconv.Atoi(strings.TrimSpace(string(raw))); pid > 0 {
					defer func() { unix.Kill(pid, unix.SIGKILL); reap() }()
				}
			}
			e.listOK("after kill in " + kind)
			if r := e.run(30*time.Second, "delete", "--force", id); r.code != 0 {
				t.Errorf("delete --force failed: %s", r.err)
			}
			e.assertGone(id, b, "kill in "+kind)
			os.Remove(marker)
			// Reuse the id without the hook.
			b2 := e.bundle(id+"x", []string{"sleep", "100"}, func(s *rspec.Spec) { s.Linux.CgroupsPath = cgroupParent + "/" + id })
			e.lifecycle(id, b2)
			e.assertGone(id, b2, "reuse after kill in "+kind)
		})
	}
}

func TestKillMyrunDuringStart(t *testing.T) {
	e := newEnv(t)
	id := newID("kstart")
	b := e.bundle(id, []string{"sleep", "100"}, nil)
	for _, d := range []time.Duration{0, 1, 2, 4, 8, 16} {
		if r := e.run(30*time.Second, "create", "--bundle", b, id); r.code != 0 {
			t.Fatalf("create: %s", r.err)
		}
		e.startKill(d*time.Millisecond, nil, "start", id)
		r := e.run(10*time.Second, "state", id)
		if r.code != 0 || !strings.Contains(r.out, `"status"`) {
			t.Errorf("state after start killed at %v: %d %s", d, r.code, r.err)
		}
		e.recoverAndCheck(id, b, fmt.Sprintf("start killed after %vms", int(d)))
	}
}

func TestKillMyrunDuringExec(t *testing.T) {
	e := newEnv(t)
	id := newID("kexec")
	b := e.bundle(id, []string{"sleep", "100"}, nil)
	if r := e.run(30*time.Second, "run", "-d", "--bundle", b, id); r.code != 0 {
		t.Fatalf("run -d: %s", r.err)
	}
	// A sleep time unique to this test process, to find its processes.
	secs := strconv.Itoa(5000 + os.Getpid()%1000)
	for _, d := range []time.Duration{0, 2, 5, 10, 20, 40, 80} {
		e.startKill(d*time.Millisecond, nil, "exec", id, "sleep", secs)
		t0 := time.Now()
		if r := e.run(10*time.Second, "exec", id, "true"); r.code != 0 {
			t.Errorf("exec after an exec killed at %vms: %s", int(d), r.err)
		}
		if took := time.Since(t0); took > 2*time.Second {
			t.Errorf("exec after an exec killed at %vms took %v", int(d), took)
		}
	}
	t0 := time.Now()
	e.recoverAndCheck(id, b, "exec killed")
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("recovery (list, delete --force, reuse) after killed execs took %v", took)
	}
	if left := procsWithArgs("sleep", secs); len(left) > 0 {
		t.Errorf("exec'd processes outlive delete --force: %v", left)
		for _, p := range left {
			unix.Kill(p, unix.SIGKILL)
		}
	}
}

func TestKillMyrunDuringDelete(t *testing.T) {
	e := newEnv(t)
	id := newID("kdelete")
	b := e.bundle(id, []string{"sleep", "100"}, nil)
	for _, d := range []time.Duration{0, 1, 2, 5, 10, 20} {
		if r := e.run(30*time.Second, "run", "-d", "--bundle", b, id); r.code != 0 {
			t.Fatalf("run -d: %s", r.err)
		}
		e.startKill(d*time.Millisecond, nil, "delete", "--force", id)
		e.recoverAndCheck(id, b, fmt.Sprintf("delete killed after %vms", int(d)))
	}
}

// A truncated or garbage state.json: a clear error from state, and delete
// --force still removes every trace (cgroup and processes included).
func TestCorruptStateFile(t *testing.T) {
	for name, content := range map[string]string{"truncated": "", "garbage": "\x00\xffnot json", "half": `{"id":"`, "wrong-id": `{"id":"someone-else"}`} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			id := newID("corrupt")
			b := e.bundle(id, []string{"sleep", "100"}, nil)
			if r := e.run(30*time.Second, "run", "-d", "--bundle", b, id); r.code != 0 {
				t.Fatalf("run -d: %s", r.err)
			}
			pids := cgroupPids(id)
			if err := os.WriteFile(filepath.Join(e.root, id, "state.json"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			r := e.run(10*time.Second, "state", id)
			if r.code == 0 || !strings.Contains(r.err, "state") || strings.Contains(r.err, "panic") {
				t.Errorf("state of a corrupt container: want a clear error, got %d %q", r.code, r.err)
			}
			e.listOK("corrupt state")
			if r := e.run(30*time.Second, "delete", "--force", id); r.code != 0 {
				t.Errorf("delete --force of a corrupt container: %s", r.err)
			}
			alive := func() []int {
				reap()
				var out []int
				for _, p := range pids {
					if unix.Kill(p, 0) == nil {
						out = append(out, p)
					}
				}
				return out
			}
			if !waitFor(2*time.Second, func() bool { return len(alive()) == 0 }) {
				t.Errorf("container processes %v still alive after delete --force", alive())
			}
			e.assertGone(id, b, "delete --force with "+name+" state.json")
			e.lifecycle(id, b)
			e.assertGone(id, b, "reuse after corrupt state")
		})
	}
}

// A hook that hangs past its timeout: create fails with a clear error
// naming the timeout, the hook is killed, nothing is left.
func TestHookTimeout(t *testing.T) {
	e := newEnv(t)
	id := newID("hooktimeout")
	pidf := filepath.Join(e.dir, "hookpid")
	b := e.bundle(id, []string{"sleep", "100"}, func(s *rspec.Spec) {
		s.Hooks = &rspec.Hooks{CreateRuntime: []rspec.Hook{{Path: "/bin/sh",
			Args: []string{"sh", "-c", "echo $$ > " + pidf + "; sleep 60"}, Timeout: intp(1)}}}
	})
	t0 := time.Now()
	r := e.run(30*time.Second, "create", "--bundle", b, id)
	took := time.Since(t0)
	if r.code == 0 || !strings.Contains(r.err, "timed out") {
		t.Errorf("hanging hook: want a timeout error, got %d %q", r.code, r.err)
	}
	if took > 10*time.Second {
		t.Errorf("create with a 1s hook timeout took %v", took)
	}
	if raw, err := os.ReadFile(pidf); err == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
		if pid > 0 && !waitFor(3*time.Second, func() bool { reap(); return unix.Kill(pid, 0) != nil }) {
			t.Errorf("hook process %d still alive after its timeout", pid)
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	e.assertGone(id, b, "hook timeout")
}

// The container's init dying at each phase.
func TestInitDies(t *testing.T) {
	killInit := `pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'); kill -9 "$pid"; sleep 0.2`
	cases := map[string]func(*rspec.Spec){
		// Killed from a host hook while create waits for it.
		"in-createRuntime": func(s *rspec.Spec) {
			s.Hooks = &rspec.Hooks{CreateRuntime: []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", killInit}}}}
		},
		"in-prestart": func(s *rspec.Spec) {
			s.Hooks = &rspec.Hooks{Prestart: []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", killInit}}}} //nolint:staticcheck
		},
		// Init fails on its own: the process cannot be found or entered.
		"no-such-binary": func(s *rspec.Spec) { s.Process.Args = []string{"/nonexistent"} },
		"bad-cwd":        func(s *rspec.Spec) { s.Process.Cwd = "/nonexistent" },
		"bad-mount": func(s *rspec.Spec) {
			s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/mnt", Type: "bind", Source: "/nonexistent-rel", Options: []string{"bind"}})
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			id := newID("initdies")
			b := e.bundle(id, []string{"sleep", "100"}, mutate)
			r := e.run(30*time.Second, "create", "--bundle", b, id)
			if r.code == 0 {
				// Accepted create: start must then fail clearly.
				rs := e.run(30*time.Second, "start", id)
				if rs.code == 0 {
					t.Errorf("init died (%s) but create and start succeeded", name)
				} else if strings.TrimSpace(rs.err) == "" {
					t.Errorf("start failed without a message")
				}
				e.run(30*time.Second, "delete", "--force", id)
			} else if strings.TrimSpace(r.err) == "" || strings.Contains(r.err, "panic") {
				t.Errorf("create failed without a clear message: %q", r.err)
			} else if strings.HasPrefix(name, "in-") && !strings.Contains(r.err, "init") {
				// "broken pipe" alone does not tell the user what died.
				t.Errorf("init killed %s: error does not say the container's init died: %q", name, strings.TrimSpace(r.err))
			} else {
				t.Logf("create: %s", strings.TrimSpace(r.err))
			}
			e.assertGone(id, b, "init died "+name)
		})
	}
	t.Run("between-create-and-start", func(t *testing.T) {
		e := newEnv(t)
		id := newID("initdies")
		b := e.bundle(id, []string{"sleep", "100"}, nil)
		if r := e.run(30*time.Second, "create", "--bundle", b, id); r.code != 0 {
			t.Fatalf("create: %s", r.err)
		}
		for _, p := range cgroupPids(id) {
			unix.Kill(p, unix.SIGKILL)
		}
		waitFor(2*time.Second, func() bool { return len(cgroupPids(id)) == 0 })
		r := e.run(30*time.Second, "start", id)
		if r.code == 0 || !strings.Contains(r.err, "stopped") && !strings.Contains(r.err, "exited") {
			t.Errorf("start after init died: %d %q", r.code, r.err)
		}
		if r := e.run(30*time.Second, "delete", id); r.code != 0 {
			t.Errorf("delete of a stopped container: %s", r.err)
		}
		e.assertGone(id, b, "init died before start")
	})
}

// A console socket that closes early (or has no listener): a clear error
// from create, nothing left.
func TestConsoleSocketClosesEarly(t *testing.T) {
	for _, mode := range []string{"accept-and-close", "no-listener"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			id := newID("console")
			sock := filepath.Join(e.dir, "console.sock")
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			if mode == "no-listener" {
				l.SetUnlinkOnClose(false)
				l.Close()
			} else {
				defer l.Close()
				go func() {
					for {
						c, err := l.AcceptUnix()
						if err != nil {
							return
						}
						c.Close()
					}
				}()
			}
			b := e.bundle(id, []string{"sleep", "100"}, func(s *rspec.Spec) { s.Process.Terminal = true })
			r := e.run(30*time.Second, "create", "--console-socket", sock, "--bundle", b, id)
			if r.code != 0 {
				if strings.TrimSpace(r.err) == "" || strings.Contains(r.err, "panic") {
					t.Errorf("create failed without a clear message: %q", r.err)
				}
				t.Logf("create: %s", strings.TrimSpace(r.err))
			} else if mode == "no-listener" {
				t.Errorf("create succeeded with a console socket nobody listens on")
			}
			e.run(30*time.Second, "delete", "--force", id)
			e.assertGone(id, b, "console socket "+mode)
		})
	}
}
