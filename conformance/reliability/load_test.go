//go:build integration

package reliability

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// 50 containers created, started, exec'ed into and deleted, 8 at a time.
func TestParallelLifecycles(t *testing.T) {
	e := newEnv(t)
	before := measure(e.root)
	const n, par = 50, 8
	ids := make([]string, n)
	bundles := make([]string, n)
	for i := range ids {
		ids[i] = newID("par")
		bundles[i] = e.bundle(ids[i], []string{"sleep", "100"}, nil)
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	t0 := time.Now()
	for i := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func(id, b string) {
			defer wg.Done()
			defer func() { <-sem }()
			fail := func(step string, r result) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s %s: %d %s", id, step, r.code, strings.TrimSpace(r.err)))
				mu.Unlock()
			}
			if r := e.run(60*time.Second, "create", "--bundle", b, id); r.code != 0 {
				fail("create", r)
				return
			}
			if r := e.run(60*time.Second, "start", id); r.code != 0 {
				fail("start", r)
			}
			if r := e.run(60*time.Second, "exec", id, "sh", "-c", "echo ok"); r.code != 0 || r.out != "ok\n" {
				fail("exec", r)
			}
			if r := e.run(60*time.Second, "delete", "--force", id); r.code != 0 {
				fail("delete", r)
			}
		}(ids[i], bundles[i])
	}
	wg.Wait()
	took := time.Since(t0)
	for _, f := range failures {
		t.Error(f)
	}
	for i, id := range ids {
		e.assertGone(id, bundles[i], "parallel lifecycles")
	}
	after := measure(e.root)
	t.Logf("%d lifecycles (create/start/exec/delete), %d at a time, in %v; before %v; after %v", n, par, took.Round(time.Millisecond), before, after)
	checkUsage(t, e, before, after)
}

// 10 parallel creates of one id: exactly one wins, the others say the
// container exists, and nothing leaks.
func TestParallelCreateSameID(t *testing.T) {
	e := newEnv(t)
	id := newID("same")
	b := e.bundle(id, []string{"sleep", "100"}, nil)
	results := make([]result, 10)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i] = e.run(60*time.Second, "create", "--bundle", b, id)
		}(i)
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, r := range results {
		switch {
		case r.code == 0:
			wins++
		case !strings.Contains(r.err, "exists"):
			t.Errorf("losing create: want \"exists\", got %q", strings.TrimSpace(r.err))
		}
	}
	if wins != 1 {
		t.Errorf("%d of 10 parallel creates of one id succeeded", wins)
	}
	if r := e.run(30*time.Second, "start", id); wins == 1 && r.code != 0 {
		t.Errorf("start of the winner: %s", r.err)
	}
	if pids := cgroupPids(id); len(pids) != 1 {
		t.Errorf("want the winner's one process in the cgroup, got %v", pids)
	}
	if r := e.run(30*time.Second, "delete", "--force", id); r.code != 0 {
		t.Errorf("delete: %s", r.err)
	}
	e.assertGone(id, b, "parallel create of one id")
}

// Soak: sequential `myrun run` lifecycles; fds, mounts, cgroups, children
// and the state dir must return to where they started.
func TestSoakRun(t *testing.T) {
	n := 1000 // ~30 s here
	if os.Getenv("SOAK") != "" {
		n = 10000
	}
	e := newEnv(t)
	id := newID("soak")
	b := e.bundle(id, []string{"true"}, nil)
	e.run(30*time.Second, "run", "--bundle", b, id) // warm caches
	before := measure(e.root)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if r := e.run(30*time.Second, "run", "--bundle", b, id); r.code != 0 {
			t.Fatalf("run %d: %d %s", i, r.code, r.err)
		}
	}
	took := time.Since(t0)
	after := measure(e.root)
	t.Logf("soak: %d sequential runs in %v (%v each); before %v; after %v", n, took.Round(time.Millisecond), (took / time.Duration(n)).Round(time.Microsecond), before, after)
	checkUsage(t, e, before, after)
	e.assertGone(id, b, "soak")
}
