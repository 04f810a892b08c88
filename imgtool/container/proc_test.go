package container

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// A record without a start time (0) must not let a kill hit whatever
// process now has the pid.
func TestKillVerifiedNeedsStartTime(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	start, err := procStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if alive(pid, 0) || alive(os.Getpid(), 0) {
		t.Error("start time 0 counts as alive")
	}
	killVerified(pid, 0, syscall.SIGKILL)
	if !alive(pid, start) {
		t.Fatal("killVerified with start time 0 killed the process")
	}
	killVerified(pid, start+1, syscall.SIGKILL)
	if !alive(pid, start) {
		t.Fatal("killVerified with another start time killed the process")
	}
	killVerified(pid, start, syscall.SIGKILL)
	if err := cmd.Wait(); err == nil {
		t.Fatal("sleep exited 0 after SIGKILL")
	}
}
