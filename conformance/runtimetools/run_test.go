package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeRuntime understands just what cleanup calls: --root R state|delete.
const fakeRuntime = `#!/bin/sh
root=$2
case $3 in
state) [ -f "$root/$4/bundle" ] || exit 1
	printf '{"ociVersion":"1.0.0","id":"%s","status":"created","bundle":"%s"}' "$4" "$(cat "$root/$4/bundle")" ;;
delete) echo "$5" >> "$root/deleted"; rm -rf "$root/$5" ;;
*) exit 1 ;;
esac
`

// leaky behaves like a runtime-tools program that leaves a container and its
// bundle behind (as RuntimeOutsideValidate does when delete fails).
const leaky = `#!/bin/sh
b=$(mktemp -d "$TMPDIR/ocitestXXXX")
id=11111111-2222-3333-4444-555555555555
mkdir -p "$FAKE_ROOT/$id" "$FAKE_ROOT/not-ours"
echo "$b" > "$FAKE_ROOT/$id/bundle"
echo /elsewhere > "$FAKE_ROOT/not-ours/bundle"
echo "TAP version 13"
echo "ok 1 - RUNTIME=$RUNTIME"
echo "1..1"
`

const slow = `#!/bin/sh
sleep 300 &
echo $! > "$FAKE_ROOT/../bgpid"
sleep 300
`

func writeExec(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

func newFakeRunner(t *testing.T) (*runner, string, *[]string) {
	t.Helper()
	base := t.TempDir()
	bin := filepath.Join(base, "bin")
	root := filepath.Join(base, "state")
	for _, d := range []string{bin, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rt := filepath.Join(base, "fakert")
	writeExec(t, rt, fakeRuntime)
	writeExec(t, filepath.Join(bin, "leaky"), leaky)
	writeExec(t, filepath.Join(bin, "slow"), slow)
	// A container that existed before the test must survive even though its
	// id has the runtime-tools shape.
	pre := filepath.Join(root, "99999999-2222-3333-4444-555555555555")
	if err := os.MkdirAll(pre, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_ROOT", root)
	rp, err := startReaper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rp.close)
	var warnings []string
	return &runner{
		suite:   suite{BinDir: bin},
		runtime: rt,
		ctl:     runtimeCtl{path: rt, root: root, reaper: rp},
		timeout: 2 * time.Second,
		logDir:  base,
		reaper:  rp,
		warn:    func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) },
	}, root, &warnings
}

func TestRunCleansUpContainersAndTemp(t *testing.T) {
	r, root, warnings := newFakeRunner(t)
	res := r.run("leaky")
	if res.Reason != "" {
		t.Fatalf("want pass, got %q", res.Reason)
	}
	deleted, _ := os.ReadFile(filepath.Join(root, "deleted"))
	if strings.TrimSpace(string(deleted)) != "11111111-2222-3333-4444-555555555555" {
		t.Fatalf("deleted %q; warnings %v", deleted, *warnings)
	}
	for _, keep := range []string{"not-ours", "99999999-2222-3333-4444-555555555555"} {
		if _, err := os.Stat(filepath.Join(root, keep)); err != nil {
			t.Fatalf("%s was touched: %v", keep, err)
		}
	}
	tap, _ := os.ReadFile(filepath.Join(r.logDir, "leaky.tap"))
	if !strings.Contains(string(tap), "RUNTIME="+r.runtime) {
		t.Fatalf("RUNTIME not passed: %s", tap)
	}
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "runtimetools-leaky-*"))
	if len(left) != 0 {
		t.Fatalf("temp dirs left: %v", left)
	}
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	r, root, _ := newFakeRunner(t)
	start := time.Now()
	res := r.run("slow")
	if !strings.Contains(res.Reason, "timed out") {
		t.Fatalf("reason %q", res.Reason)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("timeout not enforced: %s", time.Since(start))
	}
	b, err := os.ReadFile(filepath.Join(root, "..", "bgpid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The background child was in the group: killed, then reaped by us.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Kill(pid, 0)
		if errors.Is(err, unix.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background process %d still exists (%v)", pid, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
