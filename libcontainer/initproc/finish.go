package initproc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/rlimits"
	"github.com/myrun-org/myrun/libcontainer/caps"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/libcontainer/seccomp"
	"github.com/myrun-org/myrun/libcontainer/syncproto"
)

// finisher carries the user's process through nsexec.Finish, the order
// and meaning the constructor's exec path (nsexec/execproc.c) shares.
type finisher struct {
	cfg    *Config
	conn   *syncproto.Conn
	log    *slog.Logger
	caps   *caps.Caps
	path   string   // the executable, from "lookup"
	env    []string // from "env"
	filter *seccomp.Filter
	late   []pendingRlimit // process.rlimits left for "execve"
}

// goSteps implements every step of nsexec.Finish (TestGoSteps).
var goSteps = map[string]func(*finisher) error{
	"console":       (*finisher).console,
	"env":           (*finisher).setEnv,
	"chdir":         (*finisher).chdir,
	"lookup":        (*finisher).lookup,
	"seccomp-build": (*finisher).buildSeccomp,
	"close-fds":     (*finisher).closeFds,
	"lsm":           (*finisher).lsm,
	"rlimits":       (*finisher).rlimits,
	"scheduling":    (*finisher).scheduling,
	"bounding":      func(f *finisher) error { return step(f.log, "bounding capabilities", f.caps.ApplyBounding) },
	"seccomp-early": func(f *finisher) error { return f.loadSeccomp(!f.cfg.Process.NoNewPrivileges) },
	"user":          (*finisher).user,
	"caps":          func(f *finisher) error { return step(f.log, "capabilities", f.caps.ApplyCaps) },
	"umask":         (*finisher).umask,
	"nnp":           (*finisher).nnp,
	"close-dir-fds": (*finisher).closeDirFds,
	"seccomp-late":  func(f *finisher) error { return f.loadSeccomp(f.cfg.Process.NoNewPrivileges) },
	"start":         (*finisher).start,
	"execve":        (*finisher).execve,
}

// finishProcess runs every step in order; it returns only on failure.
// Everything up to "start" fails while the parent still listens.
func finishProcess(cfg *Config, conn *syncproto.Conn, log *slog.Logger, c *caps.Caps) error {
	if len(cfg.Process.Args) == 0 {
		return errors.New("process.args: must not be empty")
	}
	f := &finisher{cfg: cfg, conn: conn, log: log, caps: c}
	for _, s := range nsexec.Finish {
		if err := goSteps[s.Name](f); err != nil {
			return err
		}
	}
	return errors.New("execve returned")
}

// console: init made the pty already, while preparing the rootfs (it is
// also bound to /dev/console there).
func (f *finisher) console() error {
	if f.cfg.Mode != ModeExec || !f.cfg.Process.Terminal {
		return nil
	}
	return step(f.log, "console", func() error { return setupConsole(f.cfg, false) })
}

func (f *finisher) setEnv() error {
	env, needHome := nsexec.Env(f.cfg.Process.Env)
	if needHome {
		env = nsexec.SetHome(env, passwdHome("/etc/passwd", f.cfg.Process.User.UID))
	}
	os.Clearenv()
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			os.Setenv(k, v)
		}
	}
	f.env = env
	return nil
}

// maxPasswd bounds what is read of the container's /etc/passwd (as
// execproc.c's MAX_PASSWD).
const maxPasswd = 4 << 20

// passwdHome is the home of the first entry for uid in the passwd file,
// even an empty one, or "/" without one (step "env"): the uid field must
// be the uid in decimal as written by us (no sign, no leading zero). Only
// a regular file is read: it is the container's.
func passwdHome(path string, uid uint32) string {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return "/"
	}
	file := os.NewFile(uintptr(fd), path)
	defer file.Close()
	if st, err := file.Stat(); err != nil || !st.Mode().IsRegular() {
		return "/"
	}
	b, _ := io.ReadAll(io.LimitReader(file, maxPasswd))
	want := strconv.FormatUint(uint64(uid), 10)
	for line := range strings.SplitSeq(string(b), "\n") {
		fields := strings.SplitN(line, ":", 7)
		if len(fields) >= 6 && fields[2] == want {
			return fields[5]
		}
	}
	return "/"
}

func (f *finisher) chdir() error {
	cwd := f.cfg.Process.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := step(f.log, "chdir", func() error { return chdirChecked(cwd) }, "cwd", cwd); err != nil {
		return fmt.Errorf("process.cwd: %w", err)
	}
	return nil
}

func (f *finisher) lookup() error {
	name := f.cfg.Process.Args[0]
	path, err := exec.LookPath(name)
	if err != nil {
		err = unwrapExecErr(err)
		// execve says EACCES for a directory (Go's LookPath EISDIR), and
		// engines read the words: podman 4.3 maps "permission denied"
		// to exit 126 (exec) and expects it (run).
		if errors.Is(err, unix.EISDIR) {
			return fmt.Errorf("exec: %q: %w: %w", name, unix.EISDIR, unix.EACCES)
		}
		return fmt.Errorf("exec: %q: %w", name, err)
	}
	f.path = path
	return nil
}

// buildSeccomp builds the filter now, while memory is plentiful: an
// RLIMIT_AS set later can make libseccomp's allocations fail.
func (f *finisher) buildSeccomp() error {
	s := f.cfg.Spec
	if s == nil || s.Linux == nil || s.Linux.Seccomp == nil {
		return nil
	}
	filter, err := seccomp.Build(s.Linux.Seccomp)
	f.filter = filter
	return err
}

func (f *finisher) closeFds() error {
	first := 3 + f.cfg.PreserveFds
	if err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	return nil
}

func (f *finisher) lsm() error {
	p := f.cfg.Process
	if p.ApparmorProfile != "" {
		if err := apparmorEnabled(p.ApparmorProfile); err != nil {
			return err
		}
		if err := applyApparmor(p.ApparmorProfile); err != nil {
			return err
		}
	}
	if p.SelinuxLabel != "" {
		return applySelinux(p.SelinuxLabel)
	}
	return nil
}

func (f *finisher) rlimits() error {
	atExec := f.rlimitsAtExec()
	return step(f.log, "rlimits", func() (err error) {
		f.late, err = setRlimits(f.cfg.Process.Rlimits, atExec)
		return err
	}, "at_execve", atExec)
}

// rlimitsAtExec: the limits wait for execve unless the filter, loaded
// before that, would refuse our prlimit64 for one of them; they are then
// set now, before the filter, and this runtime lives under them.
func (f *finisher) rlimitsAtExec() bool {
	for _, l := range f.cfg.Process.Rlimits {
		if res, ok := rlimits.Resources[l.Type]; ok && !f.filter.Allows(unix.SYS_PRLIMIT64, [6]uint64{0, uint64(res)}) {
			return false
		}
	}
	return true
}

func (f *finisher) scheduling() error {
	var linux *rspec.Linux
	if f.cfg.Spec != nil {
		linux = f.cfg.Spec.Linux
	}
	return step(f.log, "scheduling", func() error { return applyScheduling(f.cfg.Process, linux) })
}

// loadSeccomp loads the filter in the step whose turn it is (when is
// true): before the uid switch without no_new_privs, since the kernel
// then wants CAP_SYS_ADMIN; else after no_new_privs, before `ready`.
func (f *finisher) loadSeccomp(when bool) error {
	if f.filter == nil || !when {
		return nil
	}
	return step(f.log, "seccomp", func() error { return loadSeccomp(f.cfg, f.filter) })
}

func (f *finisher) user() error {
	u := f.cfg.Process.User
	return step(f.log, "set user", func() error { return setUser(u) }, "uid", u.UID, "gid", u.GID)
}

func (f *finisher) umask() error {
	if m := f.cfg.Process.User.Umask; m != nil {
		unix.Umask(int(*m))
	}
	return nil
}

func (f *finisher) nnp() error {
	if f.cfg.Process.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	return nil
}

// start: init has become the container's process before waiting for
// `start`, as runc does: a created container may wait for days, and
// anything that can ptrace it then (an exec'd process with
// CAP_SYS_PTRACE, a sibling in a shared pid namespace) must find the
// container's identity and capabilities, not root with every capability.
// What remains open while it waits: stdio, the preserved fds, the fifo
// (a pipe, not a directory), and for `run` the log, a pipe to our parent
// (libcontainer/logrelay.go), which relays our lines after `start`. A
// created init closes it: `out=$(myrun create ...)` must not wait on it.
func (f *finisher) start() error {
	cfg := f.cfg
	if cfg.Mode == ModeExec {
		return nil
	}
	if err := f.conn.Send(syncproto.TypeReady, nil); err != nil {
		return err
	}
	f.conn.Close()
	closeLog(cfg, f.log)
	if err := waitStart(cfg.FifoFd); err != nil {
		return err
	}
	if h := cfg.Spec.Hooks; h != nil && len(h.StartContainer) > 0 {
		return runStartHooks(cfg)
	}
	return nil
}

// closeDirFds: init only (an exec'd process caches none).
func (f *finisher) closeDirFds() error {
	if f.cfg.Mode == ModeExec {
		return nil
	}
	return closeDirFds(3 + f.cfg.PreserveFds)
}

func (f *finisher) execve() error {
	f.log.Debug("execve", "path", f.path, "args", f.cfg.Process.Args, "rlimits", len(f.late))
	if len(f.late) > 0 {
		return execRlimits(f.path, f.cfg.Process.Args, f.env, f.late)
	}
	err := unix.Exec(f.path, f.cfg.Process.Args, f.env)
	return fmt.Errorf("exec %s: %w", f.path, err)
}
