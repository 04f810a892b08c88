package procstat

import (
	"os"
	"os/exec"
	"testing"
)

func TestParse(t *testing.T) {
	// comm with spaces and parentheses, as a process may name itself.
	line := []byte("42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n")
	start, state, err := Parse(line)
	if err != nil || start != 987654 || state != 'S' {
		t.Fatalf("Parse = %d %c %v", start, state, err)
	}
	for _, bad := range []string{"", "42 (x", "42 (x)", "42 (x) S 1 2", "42 (x) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 soon 1000"} {
		if _, _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

func TestAlive(t *testing.T) {
	start, state, err := StartTime(os.Getpid())
	if err != nil || start == 0 || Exited(state) {
		t.Fatalf("StartTime(self) = %d %c %v", start, state, err)
	}
	if !Alive(os.Getpid(), start) {
		t.Error("this process is not alive")
	}
	if Alive(os.Getpid(), start+1) {
		t.Error("another start time counts as alive")
	}
	// Unknown start time: a pid alone does not identify a process.
	if Alive(os.Getpid(), 0) {
		t.Error("start time 0 counts as alive")
	}
	if Alive(0, start) || Alive(-1, start) {
		t.Error("pid <= 0 counts as alive")
	}
	if _, _, err := StartTime(1 << 30); err == nil {
		t.Error("start time of a pid that cannot exist: no error")
	}
}

// A zombie has exited, whatever its start time.
func TestAliveZombie(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer cmd.Wait()
	start, state, err := StartTime(pid)
	for err == nil && !Exited(state) {
		start, state, err = StartTime(pid)
	}
	if err != nil {
		t.Fatal(err)
	}
	if Alive(pid, start) {
		t.Errorf("zombie %d (state %c) counts as alive", pid, state)
	}
}
