//go:build integration

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuncSubset runs three real programs against runc (one of them leaks
// mounts in the host namespace) and checks the output and the cleanup.
func TestRuncSubset(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc not installed")
	}
	cache := os.Getenv("CONFORMANCE_CACHE")
	if cache == "" {
		cache = filepath.Join("..", "..", ".cache", "conformance")
	}
	t.Setenv("ONLY", "")
	t.Setenv("MIN_PASS", "")
	mountsBefore, _ := readMounts()
	idsBefore := listIDs("/run/runc")

	var out, errOut strings.Builder
	rc := realMain([]string{"-cache", cache, "-only", "default linux_ns_itype kill", "-min-pass", "3", runc}, &out, &errOut)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	if rc != 0 {
		t.Fatalf("exit %d", rc)
	}
	want := "ok   default\nok   kill\nok   linux_ns_itype\nvalidation: 3 passed, 0 failed\n"
	if out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
	if !strings.Contains(errOut.String(), "cleanup linux_ns_itype: unmounted") {
		t.Errorf("expected linux_ns_itype's leaked mounts to be reported")
	}
	mountsAfter, _ := readMounts()
	if leaked := newMountsUnder(mountsBefore, mountsAfter, []string{os.TempDir()}); len(leaked) != 0 {
		t.Errorf("mounts left: %v", leaked)
	}
	if left := newEntries(idsBefore, listIDs("/run/runc")); len(left) != 0 {
		t.Errorf("containers left: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "myrun-rtv-*")); len(left) != 0 {
		t.Errorf("temp dirs left: %v", left)
	}

	// MIN_PASS above what can pass must fail the run.
	out.Reset()
	if rc := realMain([]string{"-cache", cache, "-only", "default", "-min-pass", "2", runc}, &out, &errOut); rc != 1 {
		t.Fatalf("MIN_PASS floor not enforced: exit %d", rc)
	}
}
