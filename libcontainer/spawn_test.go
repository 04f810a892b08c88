package libcontainer

import (
	"syscall"
	"testing"
)

func TestWaitPid(t *testing.T) {
	for _, tc := range []struct {
		script, want string
	}{
		{"exit 0", ""},
		{"exit 3", "exit status 3"},
		{"kill -KILL $$", "signal: killed"},
	} {
		pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", tc.script}, &syscall.ProcAttr{})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if err := waitPid(pid); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%q: waitPid = %q, want %q", tc.script, got, tc.want)
		}
	}
}
