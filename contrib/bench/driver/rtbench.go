package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rotate gives each iteration a different runtime order so drift in the
// machine's load does not favour whoever goes first.
func rotate(rts []*rtime, i int) []*rtime {
	out := make([]*rtime, 0, len(rts))
	for k := range rts {
		rt := rts[(i+k)%len(rts)]
		if rt.Err == nil {
			out = append(out, rt)
		}
	}
	return out
}

func (b *bench) notePeak(rt *rtime, res result) {
	if kb := float64(res.MaxRSSKB()) / 1024; kb > b.peak[rt.Name] {
		b.peak[rt.Name] = kb
	}
}

// benchRun: `run` of /bin/true, the whole lifecycle in one command.
func (b *bench) benchRun(rts []*rtime) {
	for i := -b.warmup; i < b.runs; i++ {
		for _, rt := range rotate(rts, i+b.warmup) {
			id := fmt.Sprintf("%s-run-%d", rt.Name, i+b.warmup)
			dir, err := b.bundleFor(rt, id, []string{"/bin/true"})
			if err != nil {
				b.ok(rt, result{Err: err})
				continue
			}
			rt.sp.setTag(rt.Name)
			res := b.exec(rt, "run", "--bundle", dir, id)
			if !b.ok(rt, res) || i < 0 {
				continue
			}
			b.add("run /bin/true", "ms", rt.Name, ms(res.Wall))
			b.add("run CPU (user+sys)", "ms", rt.Name, ms(res.CPU()))
			b.add("run peak RSS", "MB", rt.Name, float64(res.MaxRSSKB())/1024)
			b.notePeak(rt, res)
		}
	}
}

// benchLifecycle: create, state, start, (wait for exit), delete, each timed.
func (b *bench) benchLifecycle(rts []*rtime) {
	for i := 0; i < b.runs; i++ {
		for _, rt := range rotate(rts, i) {
			id := fmt.Sprintf("%s-life-%d", rt.Name, i)
			dir, err := b.bundleFor(rt, id, []string{"/bin/true"})
			if err != nil {
				b.ok(rt, result{Err: err})
				continue
			}
			rt.sp.setTag(rt.Name)
			pidFile := filepath.Join(dir, "pid")
			var cpu time.Duration
			cr := b.exec(rt, "create", "--bundle", dir, "--pid-file", pidFile, id)
			if !b.ok(rt, cr) {
				b.exec(rt, "delete", "--force", id)
				continue
			}
			pid, err := containerPid(pidFile)
			st := b.exec(rt, "state", id)
			sr := b.exec(rt, "start", id)
			if !b.ok(rt, st) || !b.ok(rt, sr) || err != nil {
				b.exec(rt, "delete", "--force", id)
				continue
			}
			init, reaped := rt.sp.waitOrphan(pid, 5*time.Second)
			if !reaped { // not our child: poll state until stopped
				for k := 0; k < 500; k++ {
					if s, _, _ := stateStatus(b.exec(rt, "state", id).Stdout); s == "stopped" {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			dr := b.exec(rt, "delete", id)
			if !b.ok(rt, dr) {
				b.exec(rt, "delete", "--force", id)
				continue
			}
			cpu = cr.CPU() + sr.CPU() + dr.CPU() + init.CPU()
			b.add("create", "ms", rt.Name, ms(cr.Wall))
			b.add("state", "ms", rt.Name, ms(st.Wall))
			b.add("start", "ms", rt.Name, ms(sr.Wall))
			b.add("delete", "ms", rt.Name, ms(dr.Wall))
			b.add("create+start+delete", "ms", rt.Name, ms(cr.Wall+sr.Wall+dr.Wall))
			b.add("lifecycle CPU incl. init", "ms", rt.Name, ms(cpu))
			b.add("create peak RSS", "MB", rt.Name, float64(cr.MaxRSSKB())/1024)
			for _, r := range []result{cr, st, sr, dr} {
				b.notePeak(rt, r)
			}
		}
	}
	b.dropOrphans()
}

// startSleeper creates and starts a long-running container.
func (b *bench) startSleeper(rt *rtime, id string) error {
	dir, err := b.bundleFor(rt, id, []string{"/bin/sleep", "100000"})
	if err != nil {
		return err
	}
	if r := b.exec(rt, "create", "--bundle", dir, id); r.Err != nil {
		return r.Err
	}
	if r := b.exec(rt, "start", id); r.Err != nil {
		b.exec(rt, "delete", "--force", id)
		return r.Err
	}
	return nil
}

// benchExec: exec /bin/true into a running container.
func (b *bench) benchExec(rts []*rtime) {
	var live []*rtime
	for _, rt := range rotate(rts, 0) {
		if err := b.startSleeper(rt, rt.Name+"-exec"); err != nil {
			b.ok(rt, result{Err: err})
			continue
		}
		live = append(live, rt)
	}
	for i := -b.warmup; i < b.runs; i++ {
		for _, rt := range rotate(live, i+b.warmup) {
			rt.sp.setTag(rt.Name)
			res := b.exec(rt, "exec", rt.Name+"-exec", "/bin/true")
			if !b.ok(rt, res) || i < 0 {
				continue
			}
			b.add("exec /bin/true", "ms", rt.Name, ms(res.Wall))
			b.add("exec CPU (user+sys)", "ms", rt.Name, ms(res.CPU()))
			b.notePeak(rt, res)
		}
	}
	for _, rt := range live {
		b.ok(rt, b.exec(rt, "delete", "--force", rt.Name+"-exec"))
	}
}

// parallel runs f(0..n-1) on w workers.
func parallel(n, w int, f func(int)) {
	ch := make(chan int)
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
}

// benchBurst: n containers created+started by 8 workers, then deleted.
func (b *bench) benchBurst(rts []*rtime) {
	for round := 0; round < b.burstRounds; round++ {
		for _, rt := range rotate(rts, round) {
			ids := make([]string, b.burst)
			dirs := make([]string, b.burst)
			for k := range ids {
				ids[k] = fmt.Sprintf("%s-burst%d-%d", rt.Name, round, k)
				d, err := b.bundleFor(rt, ids[k], []string{"/bin/sleep", "100000"})
				if err != nil {
					b.ok(rt, result{Err: err})
					return
				}
				dirs[k] = d
			}
			rt.sp.setTag(rt.Name)
			orph0 := rt.sp.orphanCPU(rt.Name)
			var mu sync.Mutex
			var cpu time.Duration
			var failed error
			account := func(r result) {
				mu.Lock()
				cpu += r.CPU()
				if r.Err != nil && failed == nil {
					failed = r.Err
				}
				mu.Unlock()
				b.notePeakLocked(rt, r)
			}
			t0 := time.Now()
			parallel(b.burst, b.workers, func(k int) {
				r := b.exec(rt, "create", "--bundle", dirs[k], ids[k])
				account(r)
				if r.Err == nil {
					account(b.exec(rt, "start", ids[k]))
				}
			})
			up := time.Since(t0)
			t1 := time.Now()
			parallel(b.burst, b.workers, func(k int) {
				account(b.exec(rt, "delete", "--force", ids[k]))
			})
			down := time.Since(t1)
			time.Sleep(200 * time.Millisecond) // killed inits come back to the reaper
			inits := rt.sp.orphanCPU(rt.Name) - orph0
			if failed != nil {
				b.ok(rt, result{Err: fmt.Errorf("burst: %w", failed)})
				continue
			}
			name := fmt.Sprintf("burst %d create+start (%d par.)", b.burst, b.workers)
			b.add(name, "ms", rt.Name, ms(up))
			b.add(fmt.Sprintf("burst %d delete --force", b.burst), "ms", rt.Name, ms(down))
			b.add(fmt.Sprintf("burst %d CPU incl. inits", b.burst), "ms", rt.Name, ms(cpu+inits))
		}
	}
	b.dropOrphans()
}

func (b *bench) notePeakLocked(rt *rtime, r result) {
	b.mu.Lock()
	b.notePeak(rt, r)
	b.mu.Unlock()
}

// runtimeBench is the whole runtime part.
func (b *bench) runtimeBench() error {
	rts := b.findRuntimes(b.runtimeNames)
	if len(rts) == 0 {
		return fmt.Errorf("no runtime found")
	}
	b.rts = rts
	if err := b.stateTmpfs(); err != nil {
		return err
	}
	b.rootfs = filepath.Join(b.work, "rootfs")
	if r := b.r.run(cmd{Argv: []string{"/bin/sh", filepath.Join(b.contrib, "bundle", "busybox-rootfs.sh"), b.rootfs}}); r.Err != nil {
		return fmt.Errorf("busybox rootfs: %w", r.Err)
	}
	if b.hostSp != nil { // what maxrss reads for a trivial static program
		b.floorKB = b.hostSp.run([]string{"/bin/true"}).MaxRSSKB()
	}
	before := b.snapshotMounts()
	steps := []struct {
		name string
		f    func([]*rtime)
	}{{"floor", b.benchFloor}, {"run", b.benchRun}, {"lifecycle", b.benchLifecycle}, {"exec", b.benchExec}, {"burst", b.benchBurst}}
	if !b.skipCounts {
		b.strace, b.valgrind = lookup("strace"), lookup("valgrind")
		steps = append(steps, []struct {
			name string
			f    func([]*rtime)
		}{{"syscalls", b.benchSyscalls}, {"instructions", b.benchInstructions}}...)
	}
	for _, s := range steps {
		t := time.Now()
		s.f(rts)
		fmt.Fprintf(os.Stderr, "bench: runtime %s done in %.1fs\n", s.name, time.Since(t).Seconds())
	}
	for _, rt := range rts {
		if b.peak[rt.Name] > 0 {
			b.add("peak RSS (max, any verb)", "MB", rt.Name, b.peak[rt.Name])
		}
		b.add("binary size", "MB", rt.Name, float64(rt.Size)/(1<<20))
	}
	b.leakCheck(rts, before)
	return nil
}

func (b *bench) dropOrphans() {
	for _, sp := range []*spawner{b.hostSp, b.crunSp} {
		if sp != nil {
			sp.dropOrphans()
		}
	}
}

// benchFloor: `--version`, the cost of just starting the binary.
func (b *bench) benchFloor(rts []*rtime) {
	for i := 0; i < b.runs/2; i++ {
		for _, rt := range rotate(rts, i) {
			res := rt.sp.run([]string{rt.Bin, "--version"})
			if !b.ok(rt, res) {
				continue
			}
			b.add("--version (process floor)", "ms", rt.Name, ms(res.Wall))
			b.add("--version CPU", "ms", rt.Name, ms(res.CPU()))
			b.add("--version peak RSS", "MB", rt.Name, float64(res.MaxRSSKB())/1024)
		}
	}
}

// stateTmpfs puts the runtimes' --root dirs on a tmpfs, as /run is on
// real hosts (it is not on this one, and fsyncs on disk would dominate).
func (b *bench) stateTmpfs() error {
	if err := os.MkdirAll(b.stateDir, 0o700); err != nil {
		return err
	}
	if err := unix.Mount("bench-state", b.stateDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		return fmt.Errorf("tmpfs on %s: %w", b.stateDir, err)
	}
	for _, rt := range b.rts {
		if err := os.MkdirAll(rt.Root, 0o700); err != nil {
			return err
		}
	}
	return nil
}
