package initproc

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"

	"github.com/myrun-org/myrun/internal/logging"
	"github.com/myrun-org/myrun/libcontainer/caps"
	"github.com/myrun-org/myrun/libcontainer/console"
	"github.com/myrun-org/myrun/libcontainer/hooks"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/libcontainer/pathrs"
	"github.com/myrun-org/myrun/libcontainer/rootfs"
	"github.com/myrun-org/myrun/libcontainer/syncproto"
)

// Main is the entry point of `myrun init`. The caller must have locked the
// main goroutine to its OS thread in an init function: capabilities and
// credentials set here are per thread until execve.
func Main() {
	fd, err := strconv.Atoi(os.Getenv(nsexec.SyncFdEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "myrun init: not started by myrun")
		os.Exit(2)
	}
	os.Unsetenv(nsexec.SyncFdEnv)
	os.Unsetenv(nsexec.KeepFdsEnv)
	// glibc has read it; hooks init starts before process.env is set
	// inherit this environment.
	os.Unsetenv(nsexec.NoRseqVar)
	unix.CloseOnExec(fd)
	conn := syncproto.FromFd(fd)
	var cfg Config
	if _, err := conn.Expect(syncproto.TypeConfig, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "myrun init:", err)
		os.Exit(1)
	}
	cfg.fixup()
	log := newLogger(&cfg)
	if err := run(&cfg, conn, log); err != nil {
		// The parent may already be gone (after `start`, e.g. execve
		// failed): then the container's stderr is what is left, and it
		// gets the one line, as runc's (`run` relays the log to the
		// terminal as well: the error there would be said twice).
		if serr := conn.SendError(err); serr != nil {
			log.Debug("container init: " + err.Error())
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}

func newLogger(cfg *Config) *slog.Logger {
	out := os.Stderr
	if cfg.LogFd >= 0 {
		unix.CloseOnExec(cfg.LogFd)
		out = os.NewFile(uintptr(cfg.LogFd), "log")
	}
	return slog.New(logging.Handler(out, cfg.LogFormat, cfg.Debug))
}

// step logs a setup step with its duration; its error names the step.
func step(log *slog.Logger, name string, fn func() error, attrs ...any) error {
	if err := logging.Step(log, name, fn, attrs...); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func run(cfg *Config, conn *syncproto.Conn, log *slog.Logger) error {
	if cfg.UnshareCgroupNS {
		// Per thread: main is locked to this OS thread until execve.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	if cfg.Mode == ModeExec {
		return execProcess(cfg, conn, log)
	}
	spec := cfg.Spec
	var err error
	// Read our capabilities while /proc is still the host's: without a
	// mount namespace the container may have none after chroot.
	var capSets *caps.Caps
	if cfg.Process != nil {
		if capSets, err = caps.New(cfg.Process.Capabilities); err != nil {
			return err
		}
		capSets.WarnDropped(log)
	}
	if !cfg.NoNewKeyring {
		if err := step(log, "session keyring", func() error { return joinKeyring(cfg.ID) }); err != nil {
			return err
		}
	}
	rcfg := &rootfs.Config{
		Spec:        spec,
		Rootfs:      cfg.Rootfs,
		Bundle:      cfg.Bundle,
		NoPivot:     cfg.NoPivot,
		InUserNS:    cfg.InUserNS,
		CgroupPaths: cfg.CgroupPaths,
		IDMapFds:    cfg.IDMapFds,
		MountLabel:  cfg.MountLabel,
		Log:         log,
	}
	if err := enterRootfs(cfg, conn, log, rcfg); err != nil {
		return err
	}
	if err := setKernelState(cfg, log); err != nil {
		return err
	}
	if cfg.Process != nil && cfg.Process.Terminal {
		if err := step(log, "console", func() error { return setupConsole(cfg, true) }); err != nil {
			return err
		}
	}
	if err := step(log, "finalize rootfs", func() error { return rootfs.Finalize(rcfg) }); err != nil {
		return err
	}
	if cfg.Process == nil {
		return waitWithoutProcess(cfg, conn, log)
	}
	return finishProcess(cfg, conn, log, capSets)
}

// enterRootfs prepares the rootfs, lets the parent run its hooks, runs the
// createContainer hooks (in our namespaces, before pivot_root, as the spec
// says) and pivots into the rootfs.
func enterRootfs(cfg *Config, conn *syncproto.Conn, log *slog.Logger, rcfg *rootfs.Config) error {
	spec := cfg.Spec
	if err := step(log, "prepare rootfs", func() error { return rootfs.Prepare(rcfg) }, "rootfs", cfg.Rootfs); err != nil {
		return err
	}
	if cfg.ParentHooks {
		if err := conn.Send(syncproto.TypeHooks, nil); err != nil {
			return err
		}
		if _, err := conn.Expect(syncproto.TypeHooksDone, nil); err != nil {
			return err
		}
	}
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		st := hookState(cfg, rspec.StateCreated)
		if err := step(log, "createContainer hooks", func() error {
			return hooks.Run("createContainer", spec.Hooks.CreateContainer, st)
		}); err != nil {
			return err
		}
	}
	return step(log, "pivot_root", func() error { return rootfs.PivotRoot(rcfg) }, "no_pivot", cfg.NoPivot)
}

// setKernelState applies what belongs to the container's new namespaces:
// sysctls, the loopback link, hostname and domain name.
func setKernelState(cfg *Config, log *slog.Logger) error {
	spec := cfg.Spec
	if spec.Linux != nil {
		for k, v := range spec.Linux.Sysctl {
			if err := step(log, "sysctl", func() error { return pathrs.WriteProcSys(k, v) }, "key", k, "value", v); err != nil {
				return fmt.Errorf("linux.sysctl[%q]: %w", k, err)
			}
		}
	}
	if newNetNS(spec) {
		if err := step(log, "loopback up", loopbackUp); err != nil {
			return err
		}
	}
	if !cfg.NewUTSNS {
		return nil
	}
	if spec.Hostname != "" {
		if err := step(log, "sethostname", func() error { return unix.Sethostname([]byte(spec.Hostname)) }, "hostname", spec.Hostname); err != nil {
			return err
		}
	}
	if spec.Domainname != "" {
		if err := step(log, "setdomainname", func() error { return unix.Setdomainname([]byte(spec.Domainname)) }); err != nil {
			return err
		}
	}
	return nil
}

// waitWithoutProcess is the end of a container without a process: it can
// be created, never started, so it waits on the fifo until `delete` kills
// it.
func waitWithoutProcess(cfg *Config, conn *syncproto.Conn, log *slog.Logger) error {
	if err := conn.Send(syncproto.TypeReady, nil); err != nil {
		return err
	}
	conn.Close()
	closeLog(cfg, log)
	if err := closeDirFds(3 + cfg.PreserveFds); err != nil {
		return err
	}
	return waitStart(cfg.FifoFd)
}

// runStartHooks runs the startContainer hooks as the container's process
// would run: their path resolves in the container, so they get its user,
// capabilities and seccomp filter (already ours), and no fd but 0-2: the
// preserved fds are marked close-on-exec while the hooks start.
func runStartHooks(cfg *Config) error {
	first := 3 + cfg.PreserveFds
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	st := hookState(cfg, rspec.StateRunning)
	err := hooks.Run("startContainer", cfg.Spec.Hooks.StartContainer, st)
	for fd := 3; fd < first; fd++ {
		if _, ferr := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); ferr != nil && err == nil {
			err = fmt.Errorf("preserved fd %d: %w", fd, ferr)
		}
	}
	return err
}

// closeLog closes the log (a pipe to our parent, libcontainer/logrelay.go)
// before the wait for `start` unless the parent stays to relay our later
// lines (`run`, KeepLog); later messages go to our stderr (the
// container's), as errors from Main do.
func closeLog(cfg *Config, log *slog.Logger) {
	if cfg.KeepLog || cfg.LogFd < 0 {
		return
	}
	*log = *slog.New(slog.DiscardHandler)
	unix.Close(cfg.LogFd)
	cfg.LogFd = -1
}

func hookState(cfg *Config, status rspec.ContainerState) *rspec.State {
	st := &rspec.State{Version: rspec.Version, ID: cfg.ID, Status: status, Pid: cfg.HostPid, Bundle: cfg.Bundle}
	if cfg.Spec != nil {
		st.Annotations = cfg.Spec.Annotations
	}
	return st
}

func joinKeyring(id string) error {
	keyID, err := unix.KeyctlJoinSessionKeyring("_ses." + id)
	if err != nil {
		// Keyrings are not namespaced; some hosts refuse them. runc
		// ignores ENOSYS and EACCES the same way.
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return nil
		}
		return err
	}
	// The possessor may do everything; the owning user may view, read,
	// search and link, not write or setattr (runc's 0x3f1b0000).
	return unix.KeyctlSetperm(keyID, 0x3f1b0000)
}

// waitStart blocks until `myrun start` writes its byte to the exec fifo.
// fd is the fifo opened for reading and writing by the parent (a fifo
// opened that way never blocks in open), so no procfs handle is needed to
// reopen an O_PATH fd later. It stays open, close-on-exec: `start` learns
// that the user's process runs when the fifo has no reader left.
func waitStart(fd int) error {
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read exec fifo: %w", err)
		}
		if n != 1 {
			return errors.New("read exec fifo: unexpected end of file")
		}
		return nil
	}
}

// setupConsole creates the pty, passes its master to the console socket
// and makes the slave our stdio. mountConsole binds it to /dev/console.
func setupConsole(cfg *Config, mountConsole bool) error {
	if cfg.ConsoleFd < 0 {
		return errors.New("process.terminal is true but no console socket was given")
	}
	master, slave, err := console.NewPty()
	if err != nil {
		return err
	}
	defer master.Close()
	if err := console.PrepareSlave(slave, cfg.Process.User.UID); err != nil {
		return err
	}
	if mountConsole {
		if err := rootfs.MountConsole(slave); err != nil {
			return err
		}
	}
	if cs := cfg.Process.ConsoleSize; cs != nil {
		if err := console.SetSize(master, cs.Height, cs.Width); err != nil {
			return err
		}
	}
	sock := os.NewFile(uintptr(cfg.ConsoleFd), "console-socket")
	err = console.SendFd(sock, master.Name(), master.Fd())
	sock.Close()
	if err != nil {
		return fmt.Errorf("sending pty master: %w", err)
	}
	err = console.SetupTerminal(slave)
	slave.Close()
	return err
}

// closeDirFds closes every directory fd from first up. The only one left
// at this point is the procfs handle that the pathrs library caches (a
// private procfs of our pid namespace, never closed by the library): the
// wait for `start` holds no directory that a process able to ptrace us
// could walk from. Nothing after the wait uses the library.
func closeDirFds(first int) error {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return nil // no handle, nothing cached
	}
	defer proc.Close()
	h, err := proc.OpenSelf("fd")
	if err != nil {
		return fmt.Errorf("open /proc/self/fd: %w", err)
	}
	rfd, err := unix.Openat(int(h.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	h.Close()
	if err != nil {
		return fmt.Errorf("open /proc/self/fd: %w", err)
	}
	dir := os.NewFile(uintptr(rfd), "/proc/self/fd")
	names, err := dir.Readdirnames(-1)
	own := int(dir.Fd())
	if err != nil {
		dir.Close()
		return fmt.Errorf("read /proc/self/fd: %w", err)
	}
	var dirs []int
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < first || fd == own {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			dirs = append(dirs, fd)
		}
	}
	dir.Close()
	for _, fd := range dirs {
		unix.Close(fd)
	}
	return nil
}
