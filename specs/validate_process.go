package specs

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/validate/capabilities"

	"github.com/myrun-org/myrun/internal/rlimits"
)

// ValidateProcess checks the process of `myrun exec --process FILE`
// against the container's spec (for id mappings); errors name the field
// as `<file>: process.args: ...`.
func ValidateProcess(pr *rspec.Process, container *rspec.Spec, file string) error {
	p := problems{file: file}
	s := rspec.Spec{Process: pr}
	if container != nil {
		s.Linux = container.Linux
	}
	checkProcess(&p, &s)
	checkLSM(&p, &rspec.Spec{Process: pr})
	checkSpecFields(&p, &rspec.Spec{Process: pr})
	return p.err()
}

func checkProcess(p *problems, s *rspec.Spec) {
	pr := s.Process
	if pr == nil {
		// Optional at create; `start` refuses it (runtime.md#start).
		return
	}
	if len(pr.Args) == 0 {
		p.add("process.args", "must not be empty")
	} else if pr.Args[0] == "" {
		p.add("process.args[0]", "must not be empty")
	}
	if !filepath.IsAbs(pr.Cwd) {
		p.add("process.cwd", "must be an absolute path, got %q", pr.Cwd)
	}
	for i, e := range pr.Env {
		checkEnv(p, idx("process.env", i), e)
	}
	checkRlimits(p, pr.Rlimits)
	if pr.Capabilities != nil {
		c := pr.Capabilities
		checkCaps(p, "process.capabilities.bounding", c.Bounding)
		checkCaps(p, "process.capabilities.effective", c.Effective)
		checkCaps(p, "process.capabilities.inheritable", c.Inheritable)
		checkCaps(p, "process.capabilities.permitted", c.Permitted)
		checkCaps(p, "process.capabilities.ambient", c.Ambient)
	}
	if pr.OOMScoreAdj != nil && (*pr.OOMScoreAdj < -1000 || *pr.OOMScoreAdj > 1000) {
		p.add("process.oomScoreAdj", "%d is out of range -1000..1000", *pr.OOMScoreAdj)
	}
	checkUserIDs(p, pr.User)
	if s.Linux != nil {
		checkUserMapped(p, pr.User, s.Linux)
	}
	if pr.IOPriority != nil {
		switch pr.IOPriority.Class {
		case rspec.IOPRIO_CLASS_RT, rspec.IOPRIO_CLASS_BE, rspec.IOPRIO_CLASS_IDLE:
		default:
			p.add("process.ioPriority.class", "unknown class %q", pr.IOPriority.Class)
		}
		if pr.IOPriority.Priority < 0 || pr.IOPriority.Priority > 7 {
			p.add("process.ioPriority.priority", "%d is out of range 0..7", pr.IOPriority.Priority)
		}
	}
	checkExecCPUAffinity(p, pr.ExecCPUAffinity)
	if sc := pr.Scheduler; sc != nil {
		if !slices.Contains([]rspec.LinuxSchedulerPolicy{rspec.SchedOther, rspec.SchedFIFO, rspec.SchedRR, rspec.SchedBatch,
			rspec.SchedISO, rspec.SchedIdle, rspec.SchedDeadline}, sc.Policy) {
			p.add("process.scheduler.policy", "unknown policy %q", sc.Policy)
		}
		for i, f := range sc.Flags {
			if !slices.Contains([]rspec.LinuxSchedulerFlag{rspec.SchedFlagResetOnFork, rspec.SchedFlagReclaim, rspec.SchedFlagDLOverrun,
				rspec.SchedFlagKeepPolicy, rspec.SchedFlagKeepParams, rspec.SchedFlagUtilClampMin, rspec.SchedFlagUtilClampMax}, f) {
				p.add(idx("process.scheduler.flags", i), "unknown flag %q", f)
			}
		}
		if sc.Nice < -20 || sc.Nice > 19 {
			p.add("process.scheduler.nice", "%d is out of range -20..19", sc.Nice)
		}
	}
}

// checkEnv applies the rules execve callers rely on: KEY=value, a non-empty
// key and no NUL byte.
func checkEnv(p *problems, field, e string) {
	k, _, ok := strings.Cut(e, "=")
	switch {
	case !ok:
		p.add(field, "%q must have the form KEY=value", e)
	case k == "":
		p.add(field, "%q has an empty variable name", e)
	case strings.IndexByte(e, 0) >= 0:
		p.add(field, "contains a NUL byte")
	}
}

func checkRlimits(p *problems, rl []rspec.POSIXRlimit) {
	seen := map[string]bool{}
	for i, r := range rl {
		f := idx("process.rlimits", i)
		if _, ok := rlimits.Resources[r.Type]; !ok {
			p.add(f+".type", "unknown rlimit %q", r.Type)
		}
		if seen[r.Type] {
			p.add(f+".type", "duplicate rlimit %q", r.Type)
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			p.add(f, "soft limit %d is greater than hard limit %d", r.Soft, r.Hard)
		}
	}
}

func checkCaps(p *problems, field string, caps []string) {
	for i, c := range caps {
		// runtime-tools knows every capability moby/sys/capability knows;
		// not host-specific so a config stays valid across kernels.
		if capabilities.CapValid(c, false) != nil {
			p.add(idx(field, i), "unknown capability %q", c)
		}
	}
}

// MaxID is the largest uid or gid accepted, as runc does: 4294967295 is
// (uid_t)-1, which setresuid/setresgid read as "leave unchanged", so the
// process would keep init's root identity.
const MaxID = 1<<31 - 1

// CheckID reports an id outside 0..MaxID.
func CheckID(id uint32) error {
	if id > MaxID {
		return fmt.Errorf("%d is out of range 0..%d", id, MaxID)
	}
	return nil
}

func checkUserIDs(p *problems, u rspec.User) {
	if err := CheckID(u.UID); err != nil {
		p.add("process.user.uid", "%v", err)
	}
	if err := CheckID(u.GID); err != nil {
		p.add("process.user.gid", "%v", err)
	}
	for i, g := range u.AdditionalGids {
		if err := CheckID(g); err != nil {
			p.add(idx("process.user.additionalGids", i), "%v", err)
		}
	}
}

// checkUserMapped reports ids that the kernel would refuse because they are
// outside the container's user namespace mappings.
func checkUserMapped(p *problems, u rspec.User, l *rspec.Linux) {
	if !hasNewNamespace(l, rspec.UserNamespace) || len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0 {
		return
	}
	if !mapped(l.UIDMappings, u.UID) {
		p.add("process.user.uid", "%d is not mapped by linux.uidMappings", u.UID)
	}
	if !mapped(l.GIDMappings, u.GID) {
		p.add("process.user.gid", "%d is not mapped by linux.gidMappings", u.GID)
	}
	for i, g := range u.AdditionalGids {
		if !mapped(l.GIDMappings, g) {
			p.add(idx("process.user.additionalGids", i), "%d is not mapped by linux.gidMappings", g)
		}
	}
}

func mapped(m []rspec.LinuxIDMapping, id uint32) bool {
	for _, e := range m {
		if uint64(id) >= uint64(e.ContainerID) && uint64(id) < uint64(e.ContainerID)+uint64(e.Size) {
			return true
		}
	}
	return false
}
