package main

// Counts that repeat under load, beside the noisy wall times: syscalls,
// threads, processes and execs per verb (strace -f), and user-space
// instructions per verb (valgrind's cachegrind). This VM has no PMU, so
// `perf stat -e instructions` reads "not supported"; cachegrind counts the
// same work within about 2% run to run whatever the machine's load.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// traceCount is what one `strace -f -C` output file says.
type traceCount struct {
	Calls, Threads, Procs, Execs int
	// Work is Calls without the Go scheduler's and preemption's calls,
	// whose number follows the machine's load (futex, nanosleep, ...).
	Work int
}

// schedCalls are the syscalls whose count depends on scheduling, not work.
var schedCalls = map[string]bool{"futex": true, "nanosleep": true, "sched_yield": true, "epoll_pwait": true,
	"epoll_wait": true, "tgkill": true, "getpid": true, "rt_sigreturn": true, "restart_syscall": true}

// parseStrace reads an `strace -f -C -o FILE` output: the per-call lines
// (threads = clones with CLONE_THREAD, processes = the other clones and
// forks, execs) and the summary's total.
func parseStrace(text string) (traceCount, error) {
	var c traceCount
	total, sched := false, 0
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		// summary rows: % time, seconds, usecs/call, calls, [errors,] name
		if len(f) >= 5 && len(f) <= 6 && schedCalls[f[len(f)-1]] && strings.Contains(f[0], ".") {
			if n, err := strconv.Atoi(f[3]); err == nil {
				sched += n
			}
			continue
		}
		if len(f) >= 5 && f[len(f)-1] == "total" {
			n, err := strconv.Atoi(f[3])
			if err != nil {
				return c, fmt.Errorf("strace summary %q: %w", l, err)
			}
			c.Calls, total = n, true
			continue
		}
		if strings.Contains(l, " resumed>") {
			continue
		}
		switch {
		case strings.Contains(l, "clone(") || strings.Contains(l, "clone3("):
			if strings.Contains(l, "CLONE_THREAD") {
				c.Threads++
			} else {
				c.Procs++
			}
		case strings.Contains(l, "vfork(") || strings.Contains(l, " fork("):
			c.Procs++
		case strings.Contains(l, "execve(") || strings.Contains(l, "execveat("):
			c.Execs++
		}
	}
	if !total {
		return c, fmt.Errorf("no strace summary")
	}
	c.Work = c.Calls - sched
	return c, nil
}

// parseIrefs reads cachegrind's "I refs: 1,234,567" line from stderr.
func parseIrefs(stderr string) (float64, bool) {
	for _, l := range strings.Split(stderr, "\n") {
		i := strings.Index(l, "I   refs:")
		if i < 0 {
			i = strings.Index(l, "I refs:")
		}
		if i < 0 {
			continue
		}
		f := strings.Fields(l[i:])
		n, err := strconv.ParseFloat(strings.ReplaceAll(f[len(f)-1], ",", ""), 64)
		return n, err == nil
	}
	return 0, false
}

// unhandled lists the syscalls valgrind said it does not know (they fail
// with ENOSYS under it, so the program may take another path or fail).
func unhandled(stderr string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		const k = "unhandled amd64-linux syscall: "
		if i := strings.Index(l, k); i >= 0 {
			n := strings.TrimSpace(l[i+len(k):])
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// sysName names the syscalls valgrind 3.19 lacks that runtimes use.
var sysName = map[string]string{"317": "seccomp", "424": "pidfd_send_signal", "428": "open_tree",
	"434": "pidfd_open", "435": "clone3", "437": "openat2", "438": "pidfd_getfd", "439": "faccessat2",
	"442": "mount_setattr"}

func sysNames(nums []string) string {
	var s []string
	for _, n := range nums {
		if v := sysName[n]; v != "" {
			n = v
		}
		s = append(s, n)
	}
	return strings.Join(s, ",")
}

// traced runs a verb under strace -f -C and records its counts.
func (b *bench) traced(rt *rtime, verb string, args ...string) (traceCount, result) {
	out := filepath.Join(b.work, fmt.Sprintf("strace-%s-%s-%d", rt.Name, verb, time.Now().UnixNano()))
	defer os.Remove(out)
	argv := append([]string{b.strace, "-f", "-C", "-o", out}, rt.argv(args...)...)
	res := rt.sp.run(argv)
	if res.Err != nil {
		return traceCount{}, res
	}
	text, err := os.ReadFile(out)
	if err != nil {
		res.Err = err
		return traceCount{}, res
	}
	c, err := parseStrace(string(text))
	res.Err = err
	return c, res
}

func (b *bench) addTrace(rt *rtime, verb string, c traceCount) {
	b.add("syscalls: "+verb, "calls", rt.Name, float64(c.Calls))
	b.add("syscalls excl. scheduler: "+verb, "calls", rt.Name, float64(c.Work))
	b.add("threads: "+verb, "n", rt.Name, float64(c.Threads))
	if verb == "run" {
		b.add("processes forked: run", "n", rt.Name, float64(c.Procs))
		b.add("execs: run", "n", rt.Name, float64(c.Execs))
	}
}

// benchSyscalls: strace counts of run (whole tree: runtime, init and
// workload) and of state/start/delete/exec (the verb's own tree).
func (b *bench) benchSyscalls(rts []*rtime) {
	if b.strace == "" {
		b.notes = append(b.notes, "strace not found: no syscall and thread counts")
		return
	}
	for i := 0; i < b.countReps; i++ {
		for _, rt := range rotate(rts, i) {
			rt.sp.setTag(rt.Name)
			id := fmt.Sprintf("%s-sys-%d", rt.Name, i)
			dir, err := b.bundleFor(rt, id, []string{"/bin/true"})
			if err != nil {
				b.ok(rt, result{Err: err})
				continue
			}
			if c, res := b.traced(rt, "run", "run", "--bundle", dir, id); b.ok(rt, res) {
				b.addTrace(rt, "run", c)
			} else {
				b.exec(rt, "delete", "--force", id)
			}
			id += "-life"
			pidFile := filepath.Join(dir, "pid")
			os.Remove(pidFile)
			if r := b.exec(rt, "create", "--bundle", dir, "--pid-file", pidFile, id); !b.ok(rt, r) {
				b.exec(rt, "delete", "--force", id)
				continue
			}
			pid, perr := containerPid(pidFile)
			if c, res := b.traced(rt, "state", "state", id); b.ok(rt, res) {
				b.addTrace(rt, "state", c)
			}
			c, res := b.traced(rt, "start", "start", id)
			if !b.ok(rt, res) || perr != nil {
				b.exec(rt, "delete", "--force", id)
				continue
			}
			b.addTrace(rt, "start", c)
			rt.sp.waitOrphan(pid, 5*time.Second)
			if c, res := b.traced(rt, "delete", "delete", id); b.ok(rt, res) {
				b.addTrace(rt, "delete", c)
			} else {
				b.exec(rt, "delete", "--force", id)
			}
			sid := fmt.Sprintf("%s-sysx-%d", rt.Name, i)
			if err := b.startSleeper(rt, sid); err != nil {
				b.ok(rt, result{Err: err})
				continue
			}
			if c, res := b.traced(rt, "exec", "exec", sid, "/bin/true"); b.ok(rt, res) {
				b.addTrace(rt, "exec", c)
			}
			b.exec(rt, "delete", "--force", sid)
		}
	}
	b.dropOrphans()
}

// grind runs a verb under cachegrind and records its instruction count.
// Valgrind does not follow execs here, so this is the runtime's own
// process and what it forks without exec: crun's container side is in its
// count (crun forks it), myrun's init is not (an exec of the sealed binary).
// A verb valgrind cannot run (myrun's start/kill/exec need pidfd_open,
// which valgrind 3.19 answers ENOSYS) is noted, not counted.
func (b *bench) grind(rt *rtime, verb string, args ...string) result {
	key := rt.Name + " " + verb
	if b.grindFailed[key] {
		return result{Err: fmt.Errorf("%s fails under valgrind", key)}
	}
	argv := append([]string{lookup("env"), "GODEBUG=asyncpreemptoff=1", b.valgrind, "--tool=cachegrind", "--cache-sim=no",
		"--cachegrind-out-file=/dev/null"}, rt.argv(args...)...)
	res := rt.sp.run(argv)
	miss := unhandled(res.Stderr)
	n, ok := parseIrefs(res.Stderr)
	if res.Err != nil || !ok {
		b.grindFailed[key] = true
		b.noteOnce(fmt.Sprintf("instructions: %s %s fails under valgrind (unhandled syscalls: %s): not counted", rt.Name, verb, sysNames(miss)))
		if res.Err == nil {
			res.Err = fmt.Errorf("no instruction count")
		}
		return res
	}
	name := "instructions: " + verb
	if len(miss) > 0 && !(len(miss) == 1 && miss[0] == "317") {
		b.noteOnce(fmt.Sprintf("instructions: %s %s ran with ENOSYS for %s under valgrind (fallback paths)", rt.Name, verb, sysNames(miss)))
	}
	b.add(name, "M instr", rt.Name, n/1e6)
	return res
}

func (b *bench) noteOnce(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.notes {
		if n == s {
			return
		}
	}
	b.notes = append(b.notes, s)
}

// benchInstructions: cachegrind counts of --version, run, create, state,
// start, exec and delete.
func (b *bench) benchInstructions(rts []*rtime) {
	if b.valgrind == "" {
		b.notes = append(b.notes, "valgrind not found: no instruction counts")
		return
	}
	b.grindFailed = map[string]bool{}
	var counted []*rtime
	for _, rt := range rts {
		if rt.Name == "crun" {
			// crun re-executes itself from a sealed memfd first, which
			// fails under valgrind ("Failed to re-execute libcrun via
			// memory file descriptor"): its count would be the failure's.
			b.notes = append(b.notes, "instructions: crun not counted (its memfd re-exec fails under valgrind)")
			continue
		}
		counted = append(counted, rt)
	}
	for i := 0; i < b.instrReps; i++ {
		for _, rt := range rotate(counted, i) {
			rt.sp.setTag(rt.Name)
			b.grind(rt, "--version", "--version")
			id := fmt.Sprintf("%s-vg-%d", rt.Name, i)
			dir, err := b.bundleFor(rt, id, []string{"/bin/true"})
			if err != nil {
				b.ok(rt, result{Err: err})
				continue
			}
			if b.grind(rt, "run", "run", "--bundle", dir, id).Err != nil {
				b.exec(rt, "delete", "--force", id)
			}
			id += "-life"
			pidFile := filepath.Join(dir, "pid")
			os.Remove(pidFile)
			if b.grind(rt, "create", "create", "--bundle", dir, "--pid-file", pidFile, id).Err != nil {
				b.exec(rt, "delete", "--force", id)
				if r := b.exec(rt, "create", "--bundle", dir, "--pid-file", pidFile, id); !b.ok(rt, r) {
					b.exec(rt, "delete", "--force", id)
					continue
				}
			}
			pid, perr := containerPid(pidFile)
			b.grind(rt, "state", "state", id)
			if b.grind(rt, "start", "start", id).Err != nil {
				if r := b.exec(rt, "start", id); !b.ok(rt, r) {
					b.exec(rt, "delete", "--force", id)
					continue
				}
			}
			if perr == nil {
				rt.sp.waitOrphan(pid, 5*time.Second)
			}
			if b.grind(rt, "delete", "delete", id).Err != nil {
				b.exec(rt, "delete", "--force", id)
			}
			sid := fmt.Sprintf("%s-vgx-%d", rt.Name, i)
			if err := b.startSleeper(rt, sid); err != nil {
				b.ok(rt, result{Err: err})
				continue
			}
			b.grind(rt, "exec", "exec", sid, "/bin/true")
			b.exec(rt, "delete", "--force", sid)
		}
	}
	b.dropOrphans()
}
