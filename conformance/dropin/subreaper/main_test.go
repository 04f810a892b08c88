package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildSelf builds the subreaper into a temp dir; the behaviour under test
// (prctl, reaping, exit status) is process-wide, so it runs as a child.
func buildSelf(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "subreaper")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Skipf("cannot build: %v\n%s", err, out)
	}
	return bin
}

func TestSubreaper(t *testing.T) {
	bin := buildSelf(t)
	cases := []struct {
		name      string
		script    string
		wantCode  int
		wantInErr string
	}{
		{"exit status passes through", "exit 3", 3, ""},
		{"clean run", "true", 0, ""},
		// The backgrounded sleep is orphaned when sh exits and must be
		// reparented to the subreaper, reported and killed.
		{"orphan is reported and killed", "sleep 300 & exit 0", 1, "left behind"},
		{"orphan does not mask a failure", "sleep 300 & exit 4", 4, "left behind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, "sh", "-c", c.script)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, c.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.wantInErr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), c.wantInErr)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	bin := buildSelf(t)
	err := exec.Command(bin).Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("no arguments: got %v, want exit 2", err)
	}
}

func TestChildrenOfSelfIncludesStartedChild(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	found := false
	for _, p := range children() {
		if p == cmd.Process.Pid {
			found = true
		}
	}
	if !found {
		t.Fatalf("children() = %v, missing %d", children(), cmd.Process.Pid)
	}
	// Right after fork the child may not have exec'd yet (empty cmdline).
	got := ""
	for i := 0; i < 500 && got != "sleep 30"; i++ {
		if got = cmdline(cmd.Process.Pid); got != "sleep 30" {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got != "sleep 30" {
		t.Errorf("cmdline = %q", got)
	}
	if got := cmdline(-1); got != "?" {
		t.Errorf("cmdline(-1) = %q", got)
	}
}
