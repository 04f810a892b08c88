//go:build integration

package integration

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
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
