//go:build integration

package integration

import (
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
// use (docs/benchmarks.md, issue 18). Since stop 14 go-criu's generated
// protobuf package and the protobuf runtime add about 120 allocations and
// 0.4 ms (of 1.1 ms) to every verb for checkpoint/restore alone: the
// budget is 480 until the CRIU messages are encoded without the generated
// registry (protowire), which should bring it back under 400.
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
	if total > 480 {
		t.Errorf("package inits allocate %d times in all (budget 480)", total)
	}
	t.Logf("%d package inits, %d allocations", pkgs, total)
}
