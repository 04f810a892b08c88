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
	// A private TMPDIR makes every temp dir and mount of this run attributable
	// even when another run of the suite is going on.
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
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
	if leaked := newMountsUnder(mountsBefore, mountsAfter, []string{tmp}); len(leaked) != 0 {
		t.Errorf("mounts left: %v", leaked)
	}
	ctl := runtimeCtl{path: runc, root: "/run/runc"}
	for _, id := range newEntries(idsBefore, listIDs("/run/runc")) {
		if b, ok := ctl.bundle(id); ok && isUnder(b, tmp) {
			t.Errorf("container left: %s (bundle %s)", id, b)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temp dirs left in %s: %v", tmp, left)
	}

	// MIN_PASS above what can pass must fail the run.
	out.Reset()
	if rc := realMain([]string{"-cache", cache, "-only", "default", "-min-pass", "2", runc}, &out, &errOut); rc != 1 {
		t.Fatalf("MIN_PASS floor not enforced: exit %d", rc)
	}
}
