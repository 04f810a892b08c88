package build

import (
	"slices"
	"strings"
	"testing"
)

func TestRunCapsAndUlimits(t *testing.T) {
	caps, err := RunCaps([]string{"sys_admin", "CAP_NET_ADMIN"}, []string{"chown"})
	if err != nil || !slices.Contains(caps, "CAP_SYS_ADMIN") || !slices.Contains(caps, "CAP_NET_ADMIN") || slices.Contains(caps, "CAP_CHOWN") || !slices.Contains(caps, "CAP_SETUID") {
		t.Fatalf("%v %v", caps, err)
	}
	if caps, err := RunCaps([]string{"KILL"}, []string{"ALL"}); err != nil || strings.Join(caps, ",") != "CAP_KILL" {
		t.Fatalf("drop ALL add KILL: %v %v", caps, err)
	}
	if _, err := RunCaps([]string{"CAP_NOPE"}, nil); err == nil || !strings.Contains(err.Error(), "--cap-add CAP_NOPE: unknown capability") {
		t.Fatalf("unknown: %v", err)
	}
	l, err := ParseUlimit("nofile=512:2048")
	if err != nil || l.Type != "RLIMIT_NOFILE" || l.Soft != 512 || l.Hard != 2048 {
		t.Fatalf("%+v %v", l, err)
	}
	if l, err := ParseUlimit("core=-1"); err != nil || l.Soft != ^uint64(0) || l.Hard != l.Soft {
		t.Fatalf("core=-1: %+v %v", l, err)
	}
	for _, bad := range []string{"nofile", "nosuch=1", "nofile=2:1", "nofile=x"} {
		if _, err := ParseUlimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
