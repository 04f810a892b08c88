package initproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/rlimits"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/libcontainer/pathrs"
	"github.com/myrun-org/myrun/libcontainer/seccomp"
)

func unwrapExecErr(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// chdirChecked enters cwd and refuses a working directory outside the
// container's root, which a leaked host fd could otherwise give
// (CVE-2024-21626).
func chdirChecked(cwd string) error {
	if !strings.HasPrefix(cwd, "/") {
		return fmt.Errorf("must be an absolute path, got %q", cwd)
	}
	if err := unix.Chdir(cwd); err != nil {
		return err
	}
	wd, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("getcwd: %w", err)
	}
	if !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("current working directory %q is outside the container root", wd)
	}
	return nil
}

// pendingRlimit is a process.rlimits entry that execRlimits sets.
type pendingRlimit struct {
	index int
	name  string
	res   int
	lim   unix.Rlimit
}

// setRlimits applies process.rlimits (step "rlimits"). With atExec the
// entries are only checked here: a hard limit above ours is raised now,
// while we still have CAP_SYS_RESOURCE (the later steps drop it; lowering
// needs nothing), the soft limit left alone, and the entries are returned
// for execRlimits to set right before execve. Until then this Go runtime
// grows its heap, opens fds and starts threads without them.
func setRlimits(limits []rspec.POSIXRlimit, atExec bool) ([]pendingRlimit, error) {
	nofile := false
	var pending []pendingRlimit
	for i, l := range limits {
		res, ok := rlimits.Resources[l.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, l.Type)
		}
		if res == unix.RLIMIT_NOFILE {
			nofile = true
		}
		var err error
		if atExec {
			pending = append(pending, pendingRlimit{index: i, name: l.Type, res: res, lim: unix.Rlimit{Cur: l.Soft, Max: l.Hard}})
			err = raiseHard(res, l)
		} else {
			// syscall.Setrlimit, not x/sys: it tells the Go runtime not to
			// restore its saved NOFILE limit at execve.
			err = syscall.Setrlimit(res, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard})
		}
		if err != nil {
			return nil, fmt.Errorf("process.rlimits[%d] (%s %d:%d): %w", i, l.Type, l.Soft, l.Hard, err)
		}
	}
	if !nofile {
		// Hand the container the soft limit we were started with, not
		// the one the Go runtime raised.
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err == nil {
			if orig := nsexec.OrigNofileCur(); orig > 0 && orig <= cur.Max {
				cur.Cur = orig
				return pending, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &cur)
			}
		}
	}
	return pending, nil
}

// raiseHard raises our hard limit to l.Hard when it is lower, keeping the
// soft one; l.Soft > l.Hard is refused as setrlimit(2) would.
func raiseHard(res int, l rspec.POSIXRlimit) error {
	if l.Soft > l.Hard {
		return unix.EINVAL
	}
	var cur unix.Rlimit
	if err := unix.Prlimit(0, res, nil, &cur); err != nil {
		return err
	}
	if l.Hard <= cur.Max {
		return nil
	}
	return unix.Prlimit(0, res, &unix.Rlimit{Cur: cur.Cur, Max: l.Hard}, nil)
}

func setUser(u rspec.User) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_KEEPCAPS: %w", err)
	}
	gids := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		gids[i] = int(g)
	}
	if err := unix.Setgroups(gids); err != nil {
		// A rootless user namespace has setgroups denied; that is only
		// a problem when groups were asked for.
		b, _ := os.ReadFile("/proc/self/setgroups")
		if len(gids) > 0 || strings.TrimSpace(string(b)) != "deny" {
			return fmt.Errorf("process.user.additionalGids: setgroups: %w", err)
		}
	}
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("process.user.gid: setresgid(%d): %w", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("process.user.uid: setresuid(%d): %w", u.UID, err)
	}
	return unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
}

func apparmorEnabled(profile string) error {
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err != nil || !strings.HasPrefix(string(b), "Y") {
		return fmt.Errorf("process.apparmorProfile: %q set but AppArmor is not enabled on this host", profile)
	}
	return nil
}

// writeProcAttr writes a file of /proc/thread-self (a variable for tests).
var writeProcAttr = pathrs.WriteThreadSelf

// writeFailed tells a failed write (the kernel refused the value) from a
// file that could not be opened: both can be ENOENT.
func writeFailed(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && pe.Op == "write"
}

// applyApparmor and applySelinux write the label through a verified
// procfs handle, never by path: the container's /proc could redirect it.
// attr/exec is the older kernels' file, used only when attr/apparmor/exec
// does not exist; AppArmor answers a write naming a profile it has not
// loaded with ENOENT.
func applyApparmor(profile string) error {
	err := writeProcAttr("attr/apparmor/exec", "exec "+profile)
	if errors.Is(err, os.ErrNotExist) && !writeFailed(err) {
		err = writeProcAttr("attr/exec", "exec "+profile)
	}
	if err != nil && writeFailed(err) && errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("process.apparmorProfile: profile %q is not loaded (load it with apparmor_parser): %w", profile, err)
	}
	if err != nil {
		return fmt.Errorf("process.apparmorProfile: %w", err)
	}
	return nil
}

// applySelinux sets the context the next execve runs in (validation has
// refused a label on a host without SELinux).
func applySelinux(label string) error {
	if err := pathrs.WriteThreadSelf("attr/exec", label); err != nil {
		return fmt.Errorf("process.selinuxLabel: %w", err)
	}
	return nil
}

func loadSeccomp(cfg *Config, filter *seccomp.Filter) error {
	if !filter.Notify() {
		_, err := filter.Load()
		return err
	}
	if cfg.SeccompFd < 0 {
		return errors.New("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY used but no listener socket")
	}
	defer unix.Close(cfg.SeccompFd)
	// Everything the hand-over needs is ready before the filter is: from
	// loading to sendmsg no syscall runs that the agent would have to
	// answer (it has no fd until then).
	h, err := seccomp.NewHandoff(cfg.SeccompFd, rspec.ContainerProcessState{
		Version:  rspec.Version,
		Fds:      []string{rspec.SeccompFdName},
		Pid:      cfg.HostPid,
		Metadata: cfg.Spec.Linux.Seccomp.ListenerMetadata,
		State:    *hookState(cfg, rspec.StateRunning),
	})
	if err != nil {
		return err
	}
	fd, err := filter.Load()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return h.Send(fd)
}
