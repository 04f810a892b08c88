package main

import (
	"math"
	"testing"
)

func TestParseStrace(t *testing.T) {
	out := `100 execve("/usr/bin/myrun", ["myrun", "run"], 0x7ffd /* 35 vars */) = 0
100 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, child_tid=0x1}, 88) = 101
100 clone3({flags=CLONE_VM|CLONE_THREAD, child_tid=0x2} <unfinished ...>
100 <... clone3 resumed> => {parent_tid=[0]}, 88) = 102
101 clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD <unfinished ...>
103 execve("/proc/self/fd/22", ["myrun", "init"], 0x12 /* 2 vars */ <unfinished ...>
104 execve("/bin/true", ["/bin/true"], 0x2 /* 3 vars */) = 0
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ------------------
 40.00    0.000400           4       100           futex
  1.00    0.000010           5         2           clone3
------ ----------- ----------- --------- --------- ------------------
100.00    0.001000           2      4532       184 total
`
	c, err := parseStrace(out)
	if err != nil {
		t.Fatal(err)
	}
	if c != (traceCount{Calls: 4532, Threads: 2, Procs: 1, Execs: 3, Work: 4432}) {
		t.Fatalf("got %+v", c)
	}
	// no errors column in the total line
	c, err = parseStrace("100.00    0.001000           2      996 total\n")
	if err != nil || c.Calls != 996 {
		t.Fatalf("got %+v, %v", c, err)
	}
	if _, err := parseStrace("strace: exec failed\n"); err == nil {
		t.Fatal("no summary accepted")
	}
}

func TestParseIrefs(t *testing.T) {
	n, ok := parseIrefs("==1== \n==6650== I   refs:      12,539,723\n")
	if !ok || n != 12539723 {
		t.Fatalf("got %v %v", n, ok)
	}
	if _, ok := parseIrefs("no count"); ok {
		t.Fatal("count from nothing")
	}
	if got := unhandled("--1-- WARNING: unhandled amd64-linux syscall: 437\n--1-- WARNING: unhandled amd64-linux syscall: 434\n--1-- WARNING: unhandled amd64-linux syscall: 437\n"); len(got) != 2 || sysNames(got) != "pidfd_open,openat2" {
		t.Fatalf("got %v", got)
	}
}

func TestTargets(t *testing.T) {
	b := &bench{burst: 50, workers: 8}
	for _, v := range []float64{10, 12, 11} {
		b.rt.add("run /bin/true", "ms", "myrun", v)
		b.rt.add("run /bin/true", "ms", "crun", v-2)
	}
	b.rt.add("exec /bin/true", "ms", "myrun", 7)
	b.rt.add("exec /bin/true", "ms", "crun", 7.5)
	b.rt.add("peak RSS (max, any verb)", "MB", "myrun", 4.5)
	b.rt.add("threads: run", "n", "myrun", 3)
	b.rt.add("threads: run", "n", "crun", 0)
	got := map[string]string{}
	for _, l := range b.targetLines() {
		got[l[0]] = l[3]
	}
	want := map[string]string{"run": "MISSED", "exec": "met", "peak RSS of any verb": "met",
		"threads per run (no unneeded thread)": "MISSED", "state": "not measured"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
	if r := median([]float64{12, 10, 11}) / median([]float64{10, 8, 9}); math.Abs(r-11.0/9) > 1e-9 {
		t.Fatal(r)
	}
}
