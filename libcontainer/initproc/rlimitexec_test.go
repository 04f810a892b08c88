package initproc

import (
	"errors"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// With atExec, step "rlimits" leaves our own limits alone (the hard
// limits here are not below ours, so nothing is raised) and hands every
// entry, in order, to execRlimits; soft above hard is refused naming the
// entry, as setrlimit(2) would refuse it.
func TestSetRlimitsAtExecDefers(t *testing.T) {
	var core, nofile unix.Rlimit
	if err := unix.Prlimit(0, unix.RLIMIT_CORE, nil, &core); err != nil {
		t.Fatal(err)
	}
	if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &nofile); err != nil {
		t.Fatal(err)
	}
	limits := []rspec.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 0, Hard: 0}, {Type: "RLIMIT_NOFILE", Soft: 3, Hard: 3}}
	pending, err := setRlimits(limits, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].index != 0 || pending[0].res != unix.RLIMIT_CORE || pending[0].lim != (unix.Rlimit{}) ||
		pending[1].index != 1 || pending[1].name != "RLIMIT_NOFILE" || pending[1].lim != (unix.Rlimit{Cur: 3, Max: 3}) {
		t.Fatalf("pending %+v", pending)
	}
	var core2, nofile2 unix.Rlimit
	unix.Prlimit(0, unix.RLIMIT_CORE, nil, &core2)
	unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &nofile2)
	if core2 != core || nofile2 != nofile {
		t.Fatalf("limits changed before execve: core %+v -> %+v, nofile %+v -> %+v", core, core2, nofile, nofile2)
	}
	_, err = setRlimits([]rspec.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 2, Hard: 1}}, true)
	if !errors.Is(err, unix.EINVAL) || err.Error() != "process.rlimits[0] (RLIMIT_CORE 2:1): invalid argument" {
		t.Fatalf("soft above hard: %v", err)
	}
}
