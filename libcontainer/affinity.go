package libcontainer

import (
	"fmt"
	"runtime"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/initproc"
)

// CPU affinity of a new container process, as runc 1.5 does it:
//   - it does not inherit the caller's (`taskset -c 0 myrun run` must not pin
//     the container): the process is started with every CPU allowed, and
//     joining the container's cpuset cgroup narrows that to the cgroup's
//     CPUs (the kernel intersects the cpuset with the requested mask);
//   - process.execCPUAffinity.initial replaces "every CPU" before the
//     process joins its cgroup, and .final is set once it is in it.
//
// The start mask is set on the thread that forks, so the child is born
// with it: with CLONE_INTO_CGROUP there is no moment between birth and
// the cgroup at which a parent could set it.

// forkAffinity sets the calling thread's affinity for the fork of a
// container process and returns a function that restores it; the caller
// must fork from this goroutine before calling it.
func forkAffinity(a *rspec.CPUAffinity) (restore func(), err error) {
	set, field, err := initialAffinity(a)
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		if field == "" {
			// Resetting is best effort: the caller's mask is still a
			// valid one.
			return func() {}, nil
		}
		return nil, fmt.Errorf("%s: sched_setaffinity: %w", field, err)
	}
	return func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	}, nil
}

// initialAffinity is the mask a container process starts with, and the
// field it comes from ("" for the default: every CPU).
func initialAffinity(a *rspec.CPUAffinity) (unix.CPUSet, string, error) {
	var set unix.CPUSet
	if a != nil && a.Initial != "" {
		s, err := initproc.ParseCPUList(a.Initial)
		if err != nil {
			return set, "", fmt.Errorf("process.execCPUAffinity.initial: %w", err)
		}
		return s, "process.execCPUAffinity.initial", nil
	}
	for i := 0; i < len(set)*64; i++ {
		set.Set(i)
	}
	return set, "", nil
}

// finalAffinity applies process.execCPUAffinity.final to pid, which is in
// its cgroup now and has not exec'd yet: its main thread (the one that
// execs, in Go init and in the constructor) is the one it sets.
func finalAffinity(pid int, a *rspec.CPUAffinity) error {
	if a == nil || a.Final == "" {
		return nil
	}
	set, err := initproc.ParseCPUList(a.Final)
	if err != nil {
		return fmt.Errorf("process.execCPUAffinity.final: %w", err)
	}
	if err := unix.SchedSetaffinity(pid, &set); err != nil {
		return fmt.Errorf("process.execCPUAffinity.final: sched_setaffinity: %w", err)
	}
	return nil
}
