package main

import (
	"math"
	"strings"
	"testing"
)

const schedSample = `           myrun  100 [000]  10.000000: sched:sched_process_exec: filename=/bin/myrun pid=100 old_pid=100
           myrun  100 [001]  10.002000: sched:sched_process_fork: comm=myrun pid=100 child_comm=myrun child_pid=101
           myrun  101 [001]  10.005000: sched:sched_process_fork: comm=myrun pid=101 child_comm=myrun child_pid=102
              16  102 [000]  10.005500: sched:sched_process_exec: filename=/proc/self/fd/16 pid=102 old_pid=102
              16  102 [000]  10.010000: sched:sched_process_fork: comm=16 pid=102 child_comm=16 child_pid=103
            true  103 [000]  10.020000: sched:sched_process_exec: filename=/bin/true pid=103 old_pid=103
            true  103 [000]  10.021000: sched:sched_process_exit: comm=true pid=103 prio=120 group_dead=true
           myrun  100 [000]  10.025000: sched:sched_process_exit: comm=myrun pid=100 prio=120 group_dead=true
`

func TestParseSched(t *testing.T) {
	p, err := parseSched(strings.NewReader(schedSample), "/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-6 }
	// 101 is a thread of 100 (never execs); init starts with the fork of 102.
	if !near(p.Setup, 5) || !near(p.Init, 15) || !near(p.Work, 1) || !near(p.Teardown, 4) {
		t.Fatalf("phases = %+v", p)
	}
	if p.Execs != 3 || p.Forks != 3 {
		t.Fatalf("execs %d forks %d", p.Execs, p.Forks)
	}
	if !strings.Contains(p.Chain, "+5.50 exec /proc/self/fd/16") {
		t.Fatalf("chain = %q", p.Chain)
	}
	if _, err := parseSched(strings.NewReader("nothing"), "/bin/true"); err == nil {
		t.Fatal("no workload must be an error")
	}
}
