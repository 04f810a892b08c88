package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// phases of one `run` from sched tracepoints (perf script text).
type phases struct {
	Setup    float64 // runtime exec -> fork of the process that becomes init
	Init     float64 // that fork -> workload execve
	Work     float64 // workload execve -> its exit
	Teardown float64 // workload exit -> last exit
	Execs    int
	Forks    int    // processes and threads
	Chain    string // fork/exec events on the way to the workload
}

// parseSched reads `perf script` lines of sched_process_{fork,exec,exit}.
func parseSched(r io.Reader, workload string) (phases, error) {
	var p phases
	parent := map[int]int{}
	forkAt := map[int]float64{}
	execAt := map[int]float64{}
	var order []int // pids in exec order
	type event struct {
		ts   float64
		pid  int
		what string
	}
	var events []event
	var t0, tEnd, wExec, wExit float64
	wPid := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var ts float64
		ev := ""
		for i, x := range f {
			if strings.HasPrefix(x, "sched:sched_process_") && i > 0 {
				ev = strings.TrimSuffix(strings.TrimPrefix(x, "sched:sched_process_"), ":")
				ts, _ = strconv.ParseFloat(strings.TrimSuffix(f[i-1], ":"), 64)
			}
		}
		if ev == "" {
			continue
		}
		kv := map[string]string{}
		for _, x := range f {
			if k, v, ok := strings.Cut(x, "="); ok {
				kv[k] = v
			}
		}
		tEnd = ts
		switch ev {
		case "fork":
			pp, _ := strconv.Atoi(kv["pid"])
			c, _ := strconv.Atoi(kv["child_pid"])
			parent[c], forkAt[c] = pp, ts
			p.Forks++
			events = append(events, event{ts, c, "fork"})
		case "exec":
			pid, _ := strconv.Atoi(kv["pid"])
			if t0 == 0 {
				t0 = ts
			}
			if _, seen := execAt[pid]; !seen {
				execAt[pid] = ts
				order = append(order, pid)
			}
			p.Execs++
			events = append(events, event{ts, pid, "exec " + kv["filename"]})
			if kv["filename"] == workload {
				wPid, wExec = pid, ts
			}
		case "exit":
			if pid, _ := strconv.Atoi(kv["pid"]); pid == wPid && wExec > 0 && wExit == 0 {
				wExit = ts
			}
		}
	}
	if wPid == 0 || t0 == 0 {
		return p, fmt.Errorf("no execve of %s in the trace", workload)
	}
	// Lineage of the workload; the first pid in it (after the runtime's
	// own) that execs or is the workload marks where init starts.
	chain := map[int]bool{}
	for q := wPid; q != 0; q = parent[q] {
		chain[q] = true
	}
	spawn := forkAt[wPid]
	for _, pid := range order[1:] {
		if chain[pid] {
			spawn = forkAt[pid]
			break
		}
	}
	var chainTxt []string
	for _, e := range events {
		if chain[e.pid] && e.ts >= spawn && e.ts <= wExec {
			chainTxt = append(chainTxt, fmt.Sprintf("+%.2f %s", (e.ts-t0)*1000, e.what))
		}
	}
	p.Chain = strings.Join(chainTxt, ", ")
	p.Setup = (spawn - t0) * 1000
	p.Init = (wExec - spawn) * 1000
	p.Work = (wExit - wExec) * 1000
	p.Teardown = (tEnd - wExit) * 1000
	return p, sc.Err()
}

// printTimeline summarises perf script files (one run each) with medians.
func printTimeline(files []string, workload string) error {
	var cols [4][]float64
	var last phases
	for _, fn := range files {
		f, err := os.Open(fn)
		if err != nil {
			return err
		}
		p, err := parseSched(f, workload)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		for i, v := range []float64{p.Setup, p.Init, p.Work, p.Teardown} {
			cols[i] = append(cols[i], v)
		}
		last = p
	}
	if len(files) == 0 {
		return fmt.Errorf("no trace files")
	}
	fmt.Printf("  timeline, median of %d runs (perf sched tracepoints):\n", len(files))
	fmt.Printf("    runtime exec -> fork of init:   %6.2f ms\n", median(cols[0]))
	fmt.Printf("    init fork -> workload execve:  %6.2f ms\n", median(cols[1]))
	fmt.Printf("    workload execve -> exit:       %6.2f ms\n", median(cols[2]))
	fmt.Printf("    workload exit -> runtime exit: %6.2f ms\n", median(cols[3]))
	fmt.Printf("    sum of medians:                %6.2f ms  (execs %d, forks incl. threads %d)\n",
		median(cols[0])+median(cols[1])+median(cols[2])+median(cols[3]), last.Execs, last.Forks)
	fmt.Printf("    init lineage of the last run (ms since runtime exec): %s\n", last.Chain)
	return nil
}
