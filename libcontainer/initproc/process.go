package initproc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/moby/sys/user"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/caps"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/libcontainer/pathrs"
	"github.com/myrun-org/myrun/libcontainer/seccomp"
)

// Rlimits maps the spec's names to resource numbers.
var Rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// userProcess is the checked, ready-to-exec user process.
type userProcess struct {
	path   string
	env    []string
	caps   *caps.Caps
	filter *seccomp.Filter // built early, loaded last
}

// prepareProcess does everything that can fail in an explainable way while
// the parent still listens: rlimits, cwd, executable lookup, caps parsing.
func prepareProcess(cfg *Config, log *slog.Logger, c *caps.Caps) (*userProcess, error) {
	p := cfg.Process
	env := p.Env
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+homeDir(p.User.UID))
	}
	os.Clearenv()
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			os.Setenv(k, v)
		}
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := step(log, "chdir", func() error { return chdirChecked(cwd) }, "cwd", cwd); err != nil {
		return nil, fmt.Errorf("process.cwd: %w", err)
	}
	if len(p.Args) == 0 {
		return nil, errors.New("process.args: must not be empty")
	}
	path, err := exec.LookPath(p.Args[0])
	if err != nil {
		return nil, fmt.Errorf("exec: %q: %w", p.Args[0], unwrapExecErr(err))
	}
	if p.ApparmorProfile != "" {
		if err := apparmorEnabled(p.ApparmorProfile); err != nil {
			return nil, err
		}
	}
	up := &userProcess{path: path, env: env, caps: c}
	// Build the filter now, while memory is plentiful: an RLIMIT_AS set
	// later can make libseccomp's allocations fail.
	if cfg.Spec != nil && cfg.Spec.Linux != nil && cfg.Spec.Linux.Seccomp != nil {
		f, err := seccomp.Build(cfg.Spec.Linux.Seccomp)
		if err != nil {
			return nil, err
		}
		up.filter = f
	}
	return up, nil
}

func unwrapExecErr(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// homeDir looks the user up in the container's /etc/passwd, as runc does
// when HOME is not set.
func homeDir(uid uint32) string {
	users, err := user.ParsePasswdFileFilter("/etc/passwd", func(u user.User) bool { return u.Uid == int(uid) })
	if err == nil && len(users) > 0 && users[0].Home != "" {
		return users[0].Home
	}
	return "/"
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

func setRlimits(limits []rspec.POSIXRlimit) error {
	nofile := false
	for i, l := range limits {
		res, ok := Rlimits[l.Type]
		if !ok {
			return fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, l.Type)
		}
		if res == unix.RLIMIT_NOFILE {
			nofile = true
		}
		// syscall.Setrlimit, not x/sys: it tells the Go runtime not to
		// restore its saved NOFILE limit at execve.
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return fmt.Errorf("process.rlimits[%d] (%s %d:%d): %w", i, l.Type, l.Soft, l.Hard, err)
		}
	}
	if !nofile {
		// Hand the container the soft limit we were started with, not
		// the one the Go runtime raised.
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err == nil {
			if orig := nsexec.OrigNofileCur(); orig > 0 && orig <= cur.Max {
				cur.Cur = orig
				return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &cur)
			}
		}
	}
	return nil
}

// exec switches to the container's identity, applies capabilities,
// no_new_privs and seccomp (last), closes every fd we do not hand on, and
// execs the user's process.
func (up *userProcess) exec(cfg *Config, log *slog.Logger) error {
	if err := up.finish(cfg, log); err != nil {
		return err
	}
	return up.execve(cfg, log)
}

// finish does everything but the execve and a seccomp filter that waits
// for no_new_privs: fds marked, labels, rlimits, scheduling, bounding set,
// user and groups, capabilities, umask, no_new_privs. Afterwards we hold
// the container's capabilities and nothing more.
func (up *userProcess) finish(cfg *Config, log *slog.Logger) error {
	p := cfg.Process
	// Only 0-2 and the preserved fds survive execve (CVE-2024-21626).
	// Marked now: a seccomp profile may not allow close_range later.
	first := 3 + cfg.PreserveFds
	if err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	if p.ApparmorProfile != "" {
		if err := applyApparmor(p.ApparmorProfile); err != nil {
			return err
		}
	}
	if p.SelinuxLabel != "" {
		if err := applySelinux(p.SelinuxLabel); err != nil {
			return err
		}
	}
	// As late as possible, but while we may still raise hard limits:
	// limits like RLIMIT_AS constrain the Go runtime itself too.
	if err := step(log, "rlimits", func() error { return setRlimits(p.Rlimits) }); err != nil {
		return err
	}
	var linux *rspec.Linux
	if cfg.Spec != nil {
		linux = cfg.Spec.Linux
	}
	if err := step(log, "scheduling", func() error { return applyScheduling(p, linux) }); err != nil {
		return err
	}
	if err := step(log, "bounding capabilities", up.caps.ApplyBounding); err != nil {
		return err
	}
	// Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
	// the container user may not keep: load it while we still have it.
	if up.filter != nil && !p.NoNewPrivileges {
		if err := step(log, "seccomp", func() error { return loadSeccomp(cfg, up.filter) }); err != nil {
			return err
		}
	}
	if err := step(log, "set user", func() error { return setUser(p.User) }, "uid", p.User.UID, "gid", p.User.GID); err != nil {
		return err
	}
	if err := step(log, "capabilities", up.caps.ApplyCaps); err != nil {
		return err
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	return nil
}

// execve loads a seccomp filter that needed no_new_privs (as late as
// possible, so the profile needs to allow few syscalls of ours) and execs
// the user's process.
func (up *userProcess) execve(cfg *Config, log *slog.Logger) error {
	p := cfg.Process
	if up.filter != nil && p.NoNewPrivileges {
		if err := step(log, "seccomp", func() error { return loadSeccomp(cfg, up.filter) }); err != nil {
			return err
		}
	}
	log.Debug("execve", "path", up.path, "args", p.Args)
	err := unix.Exec(up.path, p.Args, up.env)
	return fmt.Errorf("exec %s: %w", up.path, err)
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

// applyApparmor and applySelinux write the label through a verified
// procfs handle, never by path: the container's /proc could redirect it.
func applyApparmor(profile string) error {
	err := pathrs.WriteThreadSelf("attr/apparmor/exec", "exec "+profile)
	if errors.Is(err, os.ErrNotExist) {
		err = pathrs.WriteThreadSelf("attr/exec", "exec "+profile)
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
	sc := cfg.Spec.Linux.Seccomp
	fd, err := filter.Load()
	if err != nil {
		return err
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	if cfg.SeccompFd < 0 {
		return errors.New("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY used but no listener socket")
	}
	f := os.NewFile(uintptr(cfg.SeccompFd), "seccomp-listener")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return err
	}
	defer c.Close()
	st := rspec.ContainerProcessState{
		Version:  rspec.Version,
		Fds:      []string{rspec.SeccompFdName},
		Pid:      cfg.HostPid,
		Metadata: sc.ListenerMetadata,
		State:    *hookState(cfg, rspec.StateRunning),
	}
	return seccomp.SendListenerConn(c.(*net.UnixConn), fd, st)
}
