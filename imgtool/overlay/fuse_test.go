package overlay

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/myrun-org/myrun/internal/procstat"
)

// TestStopFuseByPidAndStart: StopFuse ends the process its pid file
// names only when the start time matches too (a reused pid is left
// alone), and removes the pid file either way.
func TestStopFuseByPidAndStart(t *testing.T) {
	dir := t.TempDir()
	target, pidFile := filepath.Join(dir, "rootfs"), filepath.Join(dir, "fuse.pid")
	os.Mkdir(target, 0o755)
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	pid := cmd.Process.Pid
	start, _, err := procstat.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	unmountOK := func(err error) bool { return err == nil || os.Geteuid() != 0 }
	os.WriteFile(pidFile, []byte(fmt.Sprintf("%d %d", pid, start+1)), 0o600)
	if err := StopFuse(target, pidFile); !unmountOK(err) || !procstat.Alive(pid, start) {
		t.Fatalf("another start time: %v, alive %v (want it left running)", err, procstat.Alive(pid, start))
	}
	if _, err := os.Stat(pidFile); err == nil && os.Geteuid() == 0 {
		t.Errorf("pid file kept")
	}
	os.WriteFile(pidFile, []byte(fmt.Sprintf("%d %d", pid, start)), 0o600)
	if err := StopFuse(target, pidFile); !unmountOK(err) || procstat.Alive(pid, start) {
		t.Fatalf("the recorded process: %v, alive %v (want it ended)", err, procstat.Alive(pid, start))
	}
	<-exited
	if err := StopFuse(target, pidFile); !unmountOK(err) {
		t.Errorf("no pid file: %v", err)
	}
	os.WriteFile(pidFile, []byte("garbage"), 0o600)
	if err := StopFuse(target, pidFile); err == nil {
		t.Errorf("a bad pid file is an error")
	}
}
