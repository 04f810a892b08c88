package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// spawner is the client of contrib/bench/spawner (a small C program): it
// forks the runtime commands so that wait4's ru_maxrss is the runtime's and
// not the Go driver's (the pre-exec high-water mark of the parent counts),
// times fork->wait4, and reaps container inits as subreaper.
type spawner struct {
	pid int
	w   *os.File
	mu  sync.Mutex
	id  int64
	// waiting by request id; orphans by pid (container inits)
	waiting map[int64]chan result
	orphans map[int]exit
	orphCPU map[string]time.Duration
	tag     string
	dead    error
}

// buildSpawner compiles the C spawner with gcc into dir.
func (b *bench) buildSpawner(dir string) (string, error) {
	src := filepath.Join(b.contrib, "bench", "spawner", "spawner.c")
	out := filepath.Join(dir, "spawner")
	cc := lookup("gcc")
	if cc == "" {
		cc = lookup("cc")
	}
	if cc == "" {
		return "", fmt.Errorf("no C compiler for %s (apt-get install gcc)", src)
	}
	if r := b.r.run(cmd{Argv: []string{cc, "-O2", "-static", "-o", out, src}}); r.Err != nil {
		return "", fmt.Errorf("compile spawner: %w", r.Err)
	}
	return out, nil
}

// startSpawner runs prog (optionally via wrapper argv) and starts reading.
func (b *bench) startSpawner(argv []string) (*spawner, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	pid, err := b.r.background(argv, []uintptr{inR.Fd(), outW.Fd(), os.Stderr.Fd()})
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	s := &spawner{pid: pid, w: inW, waiting: map[int64]chan result{}, orphans: map[int]exit{}, orphCPU: map[string]time.Duration{}}
	go s.read(outR)
	return s, nil
}

func rusage(ut, st, rss int64) unix.Rusage {
	return unix.Rusage{Utime: unix.NsecToTimeval(ut * 1000), Stime: unix.NsecToTimeval(st * 1000), Maxrss: rss}
}

func (s *spawner) read(f *os.File) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var id, ut, st, rss, wall int64
		var pid, ws int
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "X "):
			fmt.Sscan(line[2:], &id, &pid, &ws, &ut, &st, &rss, &wall)
			e := exit{Pid: pid, Status: unix.WaitStatus(ws), Rusage: rusage(ut, st, rss), At: time.Now()}
			s.mu.Lock()
			ch := s.waiting[id]
			delete(s.waiting, id)
			s.mu.Unlock()
			if ch != nil {
				ch <- result{exit: e, Wall: time.Duration(wall)}
			}
		case strings.HasPrefix(line, "O "):
			fmt.Sscan(line[2:], &pid, &ws, &ut, &st, &rss)
			e := exit{Pid: pid, Status: unix.WaitStatus(ws), Rusage: rusage(ut, st, rss), At: time.Now()}
			s.mu.Lock()
			s.orphans[pid] = e
			s.orphCPU[s.tag] += e.CPU()
			s.mu.Unlock()
		case strings.HasPrefix(line, "E "):
			var errno int
			fmt.Sscan(line[2:], &id, &errno)
			s.mu.Lock()
			ch := s.waiting[id]
			delete(s.waiting, id)
			s.mu.Unlock()
			if ch != nil {
				ch <- result{Err: fmt.Errorf("spawner: fork: %w", syscall.Errno(errno))}
			}
		}
	}
	s.mu.Lock()
	s.dead = fmt.Errorf("spawner %d exited", s.pid)
	for id, ch := range s.waiting {
		ch <- result{Err: s.dead}
		delete(s.waiting, id)
	}
	s.mu.Unlock()
}

// run starts argv through the spawner and waits for it.
func (s *spawner) run(argv []string) result {
	for _, a := range argv {
		if strings.ContainsAny(a, "\n") {
			return result{Err: fmt.Errorf("argument with a newline: %q", a)}
		}
	}
	so, err := os.CreateTemp("", "bench-out-")
	if err != nil {
		return result{Err: err}
	}
	so.Close()
	se, err := os.CreateTemp("", "bench-err-")
	if err != nil {
		os.Remove(so.Name())
		return result{Err: err}
	}
	se.Close()
	defer os.Remove(so.Name())
	defer os.Remove(se.Name())
	ch := make(chan result, 1)
	s.mu.Lock()
	if s.dead != nil {
		s.mu.Unlock()
		return result{Err: s.dead}
	}
	s.id++
	id := s.id
	s.waiting[id] = ch
	req := fmt.Sprintf("R %d %d %s %s\n%s\n", id, len(argv), so.Name(), se.Name(), strings.Join(argv, "\n"))
	_, err = s.w.WriteString(req)
	s.mu.Unlock()
	if err != nil {
		return result{Err: err}
	}
	res := <-ch
	out, _ := os.ReadFile(so.Name())
	errb, _ := os.ReadFile(se.Name())
	res.Stdout, res.Stderr = string(out), string(errb)
	if res.Err == nil && (!res.Status.Exited() || res.Status.ExitStatus() != 0) {
		res.Err = fmt.Errorf("%s: %s: %s", strings.Join(argv, " "), describe(res.Status), firstLine(res.Stderr))
	}
	return res
}

func (s *spawner) setTag(t string) { s.mu.Lock(); s.tag = t; s.mu.Unlock() }

func (s *spawner) orphanCPU(tag string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.orphCPU[tag]
}

// waitOrphan waits until the spawner reaped pid (a container init).
func (s *spawner) waitOrphan(pid int, timeout time.Duration) (exit, bool) {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		e, ok := s.orphans[pid]
		delete(s.orphans, pid)
		s.mu.Unlock()
		if ok {
			return e, true
		}
		if time.Now().After(deadline) {
			return exit{}, false
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func (s *spawner) dropOrphans() { s.mu.Lock(); s.orphans = map[int]exit{}; s.mu.Unlock() }

// close ends the spawner (it exits once its children are reaped).
func (s *spawner) close() { s.w.Close() }

// mountinfo is the spawner's mount table (crun's private namespace).
func (s *spawner) mountinfo() string { return fmt.Sprintf("/proc/%d/mountinfo", s.pid) }
