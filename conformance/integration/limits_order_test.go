//go:build integration

package integration

import (
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// The container's limits are applied once init has done its own setup, as
// runc does, not while it runs: a pids limit below the thread count of
// init's Go runtime killed init ("pthread_create failed") about every
// other run, and a pod sandbox's cpu.shares of 2 (CRI) starved init's
// setup for seconds on a busy host. A workload that needs one task runs
// under pids.max 1 every time, and the limit is in place once create
// returns, before the workload starts.
func TestLimitsAfterInitSetup(t *testing.T) {
	for i := 0; i < 12; i++ {
		b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
			s.Linux.Resources = &rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: i64p(1)}}
		})
		if out, errs, code := b.run(); code != 0 {
			t.Fatalf("run %d with pids.limit 1 exited %d: stdout %q stderr %q", i, code, out, errs)
		}
	}
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		s.Linux.Resources = &rspec.LinuxResources{
			Pids: &rspec.LinuxPids{Limit: i64p(1)},
			CPU:  &rspec.LinuxCPU{Shares: u64p(2)},
		}
	})
	if _, errs, code := b.myrun("create", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	if got := cgFile(b, "pids", "pids.max"); got != "1" {
		t.Errorf("pids.max after create = %q, want 1", got)
	}
	if got := cgFile(b, "cpu", "cpu.shares"); got != "2" {
		t.Errorf("cpu.shares after create = %q, want 2", got)
	}
	if _, errs, code := b.myrun("start", b.id); code != 0 {
		t.Fatalf("start: %s", errs)
	}
}
