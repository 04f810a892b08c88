package initproc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/myrun-org/myrun/libcontainer/nsexec"
)

// Go init runs nsexec.Finish: every step has its function, and nothing
// else is registered.
func TestGoSteps(t *testing.T) {
	for _, s := range nsexec.Finish {
		if goSteps[s.Name] == nil {
			t.Errorf("step %q has no Go implementation", s.Name)
		}
	}
	if len(goSteps) != len(nsexec.Finish) {
		t.Errorf("%d Go steps for %d in nsexec.Finish", len(goSteps), len(nsexec.Finish))
	}
}

func TestPasswdHome(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	os.WriteFile(path, []byte("garbage\nroot:x:0:0:root:/root:/bin/sh\n"+
		"bad:x:+5:5::/plus:/bin/sh\nfirst:x:1000:1000::"+
		"\nsecond:x:1000:1000::/home/second:/bin/sh\nshort:x:7:7:gecos\nsix:x:8:8::/six\nzero:x:09:9::/zero\n"), 0o644)
	for _, c := range []struct {
		uid  uint32
		want string
	}{
		{0, "/root"},
		{1000, ""}, // the first entry wins, even with an empty home (runc)
		{5, "/"},   // "+5" is not how the uid is written
		{7, "/"},   // too few fields
		{8, "/six"},
		{9, "/"}, // "09"
		{42, "/"},
	} {
		if got := passwdHome(path, c.uid); got != c.want {
			t.Errorf("uid %d: %q, want %q", c.uid, got, c.want)
		}
	}
	if got := passwdHome(dir, 0); got != "/" {
		t.Errorf("a directory as passwd: %q", got)
	}
	if got := passwdHome(filepath.Join(dir, "none"), 0); got != "/" {
		t.Errorf("no passwd: %q", got)
	}
}
