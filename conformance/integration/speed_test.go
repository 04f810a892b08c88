//go:build integration

package integration

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Package init runs in every process myrun starts: each verb and the
// container's Go init. Budget in allocations (they repeat exactly, unlike
// times): at 6408c3d `specs` compiled its SemVer regexp at init, 200 of
// the 494 allocations of `myrun --version`; now it is compiled on first
// use (docs/benchmarks.md, issue 18). At stop 14 go-criu's generated
// protobuf package and the protobuf runtime added 111 allocations (469
// in all) and a third of the init time to every verb, for
// checkpoint/restore alone; the CRIU messages are now encoded by
// libcontainer/criu/rpc and no protobuf package is linked: 359 at
// speed18. The budget leaves 20 for small additions; a new dependency
// with a heavy init (a generated protobuf or a registry) does not fit.
func TestPackageInitBudget(t *testing.T) {
	cmd := exec.Command(myrun, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("myrun --version: %v\n%s", err, out)
	}
	total, pkgs := 0, 0
	for _, l := range strings.Split(string(out), "\n") {
		// init <pkg> @0.010 ms, 0.002 ms clock, 16 bytes, 1 allocs
		f := strings.Fields(l)
		if len(f) < 10 || f[0] != "init" || f[len(f)-1] != "allocs" {
			continue
		}
		n, err := strconv.Atoi(f[len(f)-2])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", l, err)
		}
		pkgs++
		total += n
		if n > 60 {
			t.Errorf("package %s allocates %d times at init (budget 60): make that work lazy", f[1], n)
		}
	}
	if pkgs == 0 {
		t.Fatalf("no inittrace output:\n%s", out)
	}
	if total > 380 {
		t.Errorf("package inits allocate %d times in all (budget 380)", total)
	}
	t.Logf("%d package inits, %d allocations", pkgs, total)
}

// No protobuf runtime in myrun: its package init (registry, file
// descriptors, detrand reading the executable: ~110 allocations and ~15
// syscalls) ran in every process, each verb and the container's init.
// The CRIU RPC is encoded by libcontainer/criu/rpc; tests may link the
// generated types to check it.
func TestNoProtobufRuntime(t *testing.T) {
	bi, err := buildinfo.ReadFile(myrun)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range bi.Deps {
		if d.Path == "google.golang.org/protobuf" || strings.HasPrefix(d.Path, "github.com/checkpoint-restore/go-criu") {
			t.Errorf("myrun links %s %s", d.Path, d.Version)
		}
	}
}

// The linker's dead-code elimination of methods stays on: once any
// reachable function looks methods up by name at run time
// (reflect.Value.MethodByName, as text/template does for urfave/cli's
// help templates), the linker keeps every exported method of every
// reachable type. myrun is built with urfave/cli's
// urfave_cli_no_template tag (its help is rendered without
// text/template, same text): 9.26 -> 8.00 MB of binary and ~0.7 MB less
// RSS in every process (docs/benchmarks.md, speed18d). The function
// names stay in pclntab after -s -w, so the binary is searched for them.
func TestNoReflectMethodLookup(t *testing.T) {
	bin, err := os.ReadFile(myrun)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"text/template.(*state).evalField", "reflect.Value.MethodByName", "reflect.(*rtype).MethodByName"} {
		if strings.Contains(string(bin), name) {
			t.Errorf("myrun links %s: method dead-code elimination is off (build with the urfave_cli_no_template tag; find the caller with -ldflags=-dumpdep, <ReflectMethod>)", name)
		}
	}
}

// `exec ID cmd` reads the container's state once: the process it starts
// from is built from the state Exec reads under its lock (it used to open,
// lock and decode state.json a first time just for the base process).
// Counted with inotify's IN_OPEN on the state directory.
func TestExecReadsStateOnce(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, filepath.Join(b.root, b.id), unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := b.myrun("exec", "--env", "X=1", b.id, "sh", "-c", "echo $X"); code != 0 || out != "1\n" {
		t.Fatalf("exec: %d %q %s", code, out, errs)
	}
	opens := 0
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			if name == "state.json" {
				opens++
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
	if opens != 1 {
		t.Errorf("exec opened state.json %d times, want 1", opens)
	}
}
