package initproc

import (
	"fmt"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Scheduling attributes of the process (runtime-spec process.ioPriority,
// process.scheduler, linux.personality, linux.memoryPolicy), applied
// while init still has the capabilities real-time classes need.

var ioprioClasses = map[rspec.IOPriorityClass]int{
	rspec.IOPRIO_CLASS_RT: 1, rspec.IOPRIO_CLASS_BE: 2, rspec.IOPRIO_CLASS_IDLE: 3,
}

var schedPolicies = map[rspec.LinuxSchedulerPolicy]uint32{
	rspec.SchedOther: 0, rspec.SchedFIFO: 1, rspec.SchedRR: 2, rspec.SchedBatch: 3,
	rspec.SchedISO: 4, rspec.SchedIdle: 5, rspec.SchedDeadline: 6,
}

var schedFlags = map[rspec.LinuxSchedulerFlag]uint64{
	rspec.SchedFlagResetOnFork: 0x01, rspec.SchedFlagReclaim: 0x02, rspec.SchedFlagDLOverrun: 0x04,
	rspec.SchedFlagKeepPolicy: 0x08, rspec.SchedFlagKeepParams: 0x10,
	rspec.SchedFlagUtilClampMin: 0x20, rspec.SchedFlagUtilClampMax: 0x40,
}

var personalities = map[rspec.LinuxPersonalityDomain]int{rspec.PerLinux: 0x0000, rspec.PerLinux32: 0x0008}

// applyScheduling sets what the spec asks of the calling thread before it
// execs; each error names its field.
func applyScheduling(p *rspec.Process, linux *rspec.Linux) error {
	if io := p.IOPriority; io != nil {
		class, ok := ioprioClasses[io.Class]
		if !ok {
			return fmt.Errorf("process.ioPriority.class: unknown class %q", io.Class)
		}
		// ioprio_set(IOPRIO_WHO_PROCESS, self, class << IOPRIO_CLASS_SHIFT | data)
		if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, 1, 0, uintptr(class<<13|int(io.Priority))); errno != 0 {
			return fmt.Errorf("process.ioPriority: ioprio_set: %w", errno)
		}
	}
	if s := p.Scheduler; s != nil {
		policy, ok := schedPolicies[s.Policy]
		if !ok {
			return fmt.Errorf("process.scheduler.policy: unknown policy %q", s.Policy)
		}
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: policy, Nice: s.Nice, Priority: uint32(s.Priority),
			Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
		for i, f := range s.Flags {
			bit, ok := schedFlags[f]
			if !ok {
				return fmt.Errorf("process.scheduler.flags[%d]: unknown flag %q", i, f)
			}
			attr.Flags |= bit
		}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			return fmt.Errorf("process.scheduler: sched_setattr: %w", err)
		}
	}
	if linux != nil && linux.Personality != nil {
		dom, ok := personalities[linux.Personality.Domain]
		if !ok {
			return fmt.Errorf("linux.personality.domain: unknown domain %q", linux.Personality.Domain)
		}
		if _, _, errno := unix.Syscall(unix.SYS_PERSONALITY, uintptr(dom), 0, 0); errno != 0 {
			return fmt.Errorf("linux.personality: %w", errno)
		}
	}
	// process.execCPUAffinity is set by the parent, around the move
	// into the cgroup (libcontainer/affinity.go).
	if linux != nil && linux.MemoryPolicy != nil {
		return applyMemoryPolicy(linux.MemoryPolicy)
	}
	return nil
}

// ParseCPUList reads a CPU list such as "0-3,7".
func ParseCPUList(s string) (unix.CPUSet, error) {
	var set unix.CPUSet
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= len(set)*64 {
			return set, fmt.Errorf("bad CPU list %q", s)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return set, nil
}
