package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/exeseal"
	"github.com/myrun-org/myrun/libcontainer/initproc"
	"github.com/myrun-org/myrun/libcontainer/netdev"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/libcontainer/resctrl"
	"github.com/myrun-org/myrun/libcontainer/syncproto"
	"github.com/myrun-org/myrun/libcontainer/userns"
	"github.com/myrun-org/myrun/specs"
)

// nsFlags maps spec namespace types to their CLONE_NEW* flags (one table,
// the one specs validates against).
var nsFlags = specs.NamespaceFlags

// spawnRequest describes one process to start through `myrun init`.
type spawnRequest struct {
	boot     nsexec.Bootstrap
	cfg      *initproc.Config
	preserve int              // fds 3..3+preserve-1 of ours are passed through
	fifo     *os.File         // exec fifo (read+write), init only
	console  *os.File         // connected console socket
	seccomp  *os.File         // connected seccomp listener socket
	idmapped map[int]*os.File // detached idmapped mounts by mount index
	// exec, for exec, is the prepared process the constructor execs
	// itself (constructorExec); nil means Go init does it.
	exec        *nsexec.ExecProcess
	stdio       [3]*os.File // nil = ours
	uidMaps     []rspec.LinuxIDMapping
	gidMaps     []rspec.LinuxIDMapping
	cgroup      cgroups.Manager       // init: the cgroup to create and limit
	join        cgroups.Joiner        // exec: the container's cgroup to enter
	subCgroups  []string              // exec --cgroup: dirs to move the process on to
	resources   *rspec.LinuxResources // applied once the pid is in the cgroup
	oomScoreAdj *int
	affinity    *rspec.CPUAffinity // process.execCPUAffinity (affinity.go)
	rdt         *resctrl.Group     // linux.intelRdt: the resctrl group to join
	// netDevices (linux.netDevices) are moved into init's network
	// namespace once it exists; moved says which are there, for undoing.
	netDevices map[string]rspec.LinuxNetDevice
	moved      []netdev.Moved
	// onHooks runs prestart/createRuntime hooks when init asks for them.
	onHooks func(pid int) error
	// onPid is called as soon as the container process's pid is known, so
	// that a failure later can still kill it; its error fails the spawn.
	onPid func(pid int) error
}

// into is the cgroup the process goes into: init's or exec's; nil for none.
func (req *spawnRequest) into() cgroups.Joiner {
	if req.cgroup != nil {
		return req.cgroup
	}
	return req.join
}

// spawn starts init and drives the handshake until init reports ready (or,
// for exec, until the user process was exec'd). It returns the container
// process's pid as seen from our pid namespace. On failure nothing it
// started survives.
func (r *Runtime) spawn(req *spawnRequest) (pid int, err error) {
	p := &initProcess{r: r, req: req, writeMaps: func(first int) error {
		return userns.WriteMaps(first, req.uidMaps, req.gidMaps, r.Rootless)
	}}
	defer p.close()
	if err := p.passFds(); err != nil {
		return 0, err
	}
	if err := p.start(); err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			p.fail()
			pid = 0
		}
	}()
	if err := p.constructorPhase(); err != nil {
		return 0, err
	}
	if err := p.place(); err != nil {
		return 0, err
	}
	if req.exec != nil {
		return p.pid, p.execInConstructor()
	}
	return p.pid, p.goPhase()
}

// initProcess is one `myrun init` on its way to becoming the container's
// process (or an exec'd one), in phases: passFds, start, constructorPhase
// (the C constructor: maps and pid), place, then goPhase (Go init: config,
// hooks, ready) or execInConstructor; fail undoes what was done.
type initProcess struct {
	r    *Runtime
	req  *spawnRequest
	conn *syncproto.Conn // our end of the sync socket

	child   *os.File   // init's end, ours to close once init has it
	extra   []*os.File // init's fds from 3 up
	files   []uintptr  // every fd init gets, from 0 up
	syncFd  int        // init's number for child
	boot    []byte     // the bootstrap message's payload
	closers []func()   // what we opened only for init

	first        int  // the process we forked
	bornInCgroup bool // CLONE_INTO_CGROUP put first in its cgroup
	tStart       time.Time

	pid int // the container process, from the constructor's Pid message
	// firstGone: first was reaped, or is pid itself (which create
	// leaves running), so failing must not kill and wait for it.
	firstGone bool
	limitsSet bool
	// writeMaps writes the uid/gid maps of first's new user namespace.
	writeMaps func(first int) error
}

// passFds numbers init's fds (stdio, preserved, then ours) and puts the
// numbers in its config.
func (p *initProcess) passFds() error {
	req, r := p.req, p.r
	conn, child, err := syncproto.NewSocketPair()
	if err != nil {
		return err
	}
	p.conn, p.child = conn, child
	for i := 0; i < req.preserve; i++ {
		p.extra = append(p.extra, os.NewFile(uintptr(3+i), "preserved-fd-"+strconv.Itoa(3+i)))
	}
	p.syncFd = p.add(child)
	cfg := req.cfg
	cfg.FifoFd = p.add(req.fifo)
	cfg.ConsoleFd = p.add(req.console)
	cfg.SeccompFd = p.add(req.seccomp)
	for i, tree := range req.idmapped {
		if cfg.IDMapFds == nil {
			cfg.IDMapFds = map[int]int{}
		}
		cfg.IDMapFds[i] = p.add(tree)
	}
	// A process the constructor execs itself (req.exec) never runs Go
	// init, the only writer of the log: no relay (a pipe, a goroutine and
	// a round trip through it in every exec).
	cfg.LogFd = -1
	if req.exec == nil {
		if err := p.relayLogs(); err != nil {
			return err
		}
	}
	cfg.LogFormat = r.LogFormat
	cfg.Debug = r.Debug

	// The container process is put in its cgroup once its pid is known,
	// while its Go runtime starts; it does nothing before the config,
	// which is sent after that. (The first cgroup.procs write waits for
	// an RCU grace period: milliseconds we would otherwise wait alone.)
	req.boot.LatePlacement = true
	req.boot.Exec = req.exec != nil
	if p.boot, err = req.boot.Encode(); err != nil {
		return err
	}
	stdio, err := p.stdio()
	if err != nil {
		return err
	}
	for _, f := range append(stdio[:], p.extra...) {
		p.files = append(p.files, f.Fd())
	}
	return nil
}

// relayLogs gives Go init a pipe to our log (logRelay).
func (p *initProcess) relayLogs() error {
	r, cfg := p.r, p.req.cfg
	logFile := r.LogFile
	if logFile == nil {
		logFile = os.Stderr
	}
	logs, err := newLogRelay(logFile)
	if err != nil {
		return err
	}
	// Once spawn returns, init's lines so far are in the log.
	p.closers = append(p.closers, logs.sync)
	if cfg.Mode == initproc.ModeInit {
		r.initLogs = logs
		cfg.KeepLog = r.RelayInitLogs
	}
	cfg.LogFd = p.add(logs.w)
	return nil
}

// add passes f to init and returns its number there; -1 for none.
func (p *initProcess) add(f *os.File) int {
	if f == nil {
		return -1
	}
	p.extra = append(p.extra, f)
	return 2 + len(p.extra)
}

// stdio is init's fds 0-2: ours, or the request's with /dev/null for a nil
// one (as os/exec does for a nil stream).
func (p *initProcess) stdio() ([3]*os.File, error) {
	if p.req.stdio[0] == nil {
		return [3]*os.File{os.Stdin, os.Stdout, os.Stderr}, nil
	}
	stdio := p.req.stdio
	for i, f := range stdio {
		if f != nil {
			continue
		}
		null, err := os.OpenFile(os.DevNull, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return stdio, err
		}
		p.closers = append(p.closers, func() { null.Close() })
		stdio[i] = null
	}
	return stdio, nil
}

// start forks and execs `myrun init` from a sealed view of our binary.
func (p *initProcess) start() error {
	top := 0
	for _, fd := range p.files {
		top = max(top, int(fd))
	}
	// The child moves fds out of the way before its dup2s, to numbers
	// from max(len(files), top)+1 upwards (the exec error pipe plus up to
	// one per file): the binary's fd must lie above all of them, or
	// execve runs whatever was dup'ed over it.
	exe, err := exeseal.Open(max(len(p.files), top) + len(p.files) + 3)
	if err != nil {
		return err
	}
	p.closers = append(p.closers, func() { exe.Close() })
	sys := &syscall.SysProcAttr{}
	if into := p.req.into(); into != nil {
		// CLONE_INTO_CGROUP: the child is born in the container's cgroup.
		if fd, err := into.CgroupFD(); err == nil && fd >= 0 {
			p.closers = append(p.closers, func() { unix.Close(fd) })
			sys.UseCgroupFD = true
			sys.CgroupFD = fd
		}
	}
	p.r.Log.Debug("start init", "exe", exe.Name(), "extra_fds", len(p.extra), "clone_flags", fmt.Sprintf("%#x", p.req.boot.CloneFlags), "joins", p.req.boot.Joins, "into_cgroup", sys.UseCgroupFD)
	// syscall.ForkExec rather than os/exec: os.StartProcess probes
	// CLONE_PIDFD with an extra vfork the first time a process starts a
	// child, which costs every myrun invocation a process.
	p.tStart = time.Now()
	restoreAffinity, err := forkAffinity(p.req.affinity)
	if err != nil {
		return err
	}
	env := []string{nsexec.SyncFdEnv + "=" + strconv.Itoa(p.syncFd), nsexec.KeepFdsEnv + "=" + strconv.Itoa(len(p.files)), nsexec.NoRseqEnv}
	if e := nsexec.ChildEnv(); e != "" {
		// Our signal mask is not the caller's (nsexec/sigfwd.go).
		env = append(env, e)
	}
	first, born, err := forkIntoCgroup("/proc/self/fd/"+strconv.Itoa(int(exe.Fd())), []string{"myrun", "init"}, &syscall.ProcAttr{
		Env:   env,
		Files: p.files,
		Sys:   sys,
	})
	restoreAffinity()
	if err != nil {
		return fmt.Errorf("starting init: %w", err)
	}
	if sys.UseCgroupFD && !born {
		p.r.Log.Debug("CLONE_INTO_CGROUP refused; the process is moved into its cgroup after birth")
	}
	p.bornInCgroup = born
	p.first = first
	p.child.Close()
	return nil
}

// constructorPhase sends the bootstrap and answers the constructor until it
// reports the pid of the process that continues into Go (or execs).
func (p *initProcess) constructorPhase() error {
	if err := p.conn.SendBytes(syncproto.TypeBootstrap, p.boot); err != nil {
		return fmt.Errorf("sending bootstrap: %w", err)
	}
	for p.pid == 0 {
		m, err := p.conn.Recv()
		if err != nil {
			return p.exitedEarly(err)
		}
		switch m.Type {
		case syncproto.TypeMaps:
			t0 := time.Now()
			if err := p.writeMaps(p.first); err != nil {
				return err
			}
			p.r.Log.Debug("write id maps", "pid", p.first, "uid_map", p.req.uidMaps, "gid_map", p.req.gidMaps, "took", time.Since(t0).String())
			if err := p.conn.SendBytes(syncproto.TypeMapsOK, nil); err != nil {
				return err
			}
		case syncproto.TypePid:
			if m.Cred == nil || m.Cred.Pid <= 0 {
				return errors.New("init did not send its credentials")
			}
			p.pid = int(m.Cred.Pid)
			if p.req.onPid != nil {
				if err := p.req.onPid(p.pid); err != nil {
					return err
				}
			}
		default:
			return unexpected(m)
		}
	}
	// We never wait for init itself: `create` leaves it behind. The
	// intermediate forked for a pid/time namespace exits right away.
	p.firstGone = true
	if p.pid != p.first {
		if err := waitPid(p.first); err != nil {
			return fmt.Errorf("init intermediate: %w", err)
		}
	}
	p.r.Log.Debug("namespaces ready", "pid", p.pid, "took", time.Since(p.tStart).String())
	return nil
}

// exitedEarly turns a closed socket into the reason init died.
func (p *initProcess) exitedEarly(err error) error {
	if !errors.Is(err, syncproto.ErrClosed) {
		return err
	}
	p.firstGone = true
	if werr := waitPid(p.first); werr != nil {
		return fmt.Errorf("init exited early: %w", werr)
	}
	return errors.New("init exited early")
}

// unexpected is the error for a message init should not have sent now:
// its own error when it is one.
func unexpected(m *syncproto.Message) error {
	if m.Type == syncproto.TypeError {
		return errors.New(string(m.Payload))
	}
	return fmt.Errorf("unexpected %q from init", m.Type)
}

// place puts the container process in its cgroup and resctrl group, moves
// the network devices into its namespace and, for an exec'd process, sets
// its limits; init gets its own once its setup is done (setLimits).
func (p *initProcess) place() error {
	if err := p.r.place(p.req, p.pid, p.bornInCgroup); err != nil {
		return err
	}
	if len(p.req.netDevices) > 0 {
		t0 := time.Now()
		var err error
		if p.req.moved, err = netdev.Move(p.pid, p.req.netDevices); err != nil {
			return err
		}
		p.r.Log.Debug("network devices moved", "devices", p.req.moved, "took", time.Since(t0).String())
	}
	if p.req.exec != nil || p.req.cfg.Mode == initproc.ModeExec {
		return p.setLimits()
	}
	return nil
}

// execInConstructor sends the prepared process and waits for the execve:
// the socket is close-on-exec, so EOF means it happened.
func (p *initProcess) execInConstructor() error {
	p.req.exec.ConsoleFd = p.req.cfg.ConsoleFd
	msg, err := p.req.exec.Encode()
	if err != nil {
		return err
	}
	if err := p.conn.SendBytes(syncproto.TypeExecProcess, msg); err != nil {
		return fmt.Errorf("sending the process: %w", err)
	}
	m, err := p.conn.Recv()
	switch {
	case errors.Is(err, syncproto.ErrClosed):
		return nil
	case err != nil:
		return fmt.Errorf("init: %w", err)
	}
	return unexpected(m)
}

// goPhase sends Go init its config and serves it until it is ready (or,
// for exec, has exec'd).
func (p *initProcess) goPhase() error {
	cfg := p.req.cfg
	cfg.UnshareCgroupNS = p.req.boot.CloneFlags&unix.CLONE_NEWCGROUP != 0
	cfg.HostPid = p.pid
	if err := p.conn.Send(syncproto.TypeConfig, cfg); err != nil {
		return fmt.Errorf("sending config: %w", err)
	}
	for {
		m, err := p.conn.Recv()
		if errors.Is(err, syncproto.ErrClosed) && cfg.Mode == initproc.ModeExec {
			return nil // close-on-exec: the process is running
		}
		if err != nil {
			return fmt.Errorf("init: %w", err)
		}
		switch m.Type {
		case syncproto.TypeHooks:
			if err := p.runHooks(); err != nil {
				return err
			}
		case syncproto.TypeReady:
			return p.setLimits()
		default:
			return unexpected(m)
		}
	}
}

// runHooks runs the prestart/createRuntime hooks init asked for, under the
// container's limits, and tells init how they went.
func (p *initProcess) runHooks() error {
	err := p.setLimits()
	if err == nil && p.req.onHooks != nil {
		err = p.req.onHooks(p.pid)
	}
	if err != nil {
		p.conn.SendError(err)
		return err
	}
	if err := p.conn.SendBytes(syncproto.TypeHooksDone, nil); err != nil {
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			return errors.New("container init exited while the prestart/createRuntime hooks ran")
		}
		return err
	}
	return nil
}

// fail undoes start: nothing we started survives, and no host device dies
// with its network namespace.
func (p *initProcess) fail() {
	if p.pid > 0 {
		if len(p.req.moved) > 0 {
			if err := netdev.Return(p.pid, p.req.moved); err != nil {
				p.r.Log.Warn("moving network devices back to the host", "error", err)
			}
			p.req.moved = nil
		}
		unix.Kill(p.pid, unix.SIGKILL)
	}
	if !p.firstGone {
		unix.Kill(p.first, unix.SIGKILL)
		waitPid(p.first)
	}
}

// close releases what spawn opened; init has its own copies.
func (p *initProcess) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	if p.conn != nil {
		p.conn.Close()
		p.child.Close()
	}
}

// place puts the container process in its cgroup (and resctrl group) and
// sets its oom_score_adj; the limits come later (setLimits).
func (r *Runtime) place(req *spawnRequest, pid int, bornInCgroup bool) error {
	if into := req.into(); into != nil && !bornInCgroup {
		t0 := time.Now()
		place := into.Join // exec: the cgroup is set up; only enter it
		if req.cgroup != nil {
			place = req.cgroup.Apply
		}
		if err := place(pid); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		r.Log.Debug("cgroup apply", "pid", pid, "took", time.Since(t0).String())
	}
	for _, d := range req.subCgroups {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("--cgroup: %w", err)
		}
	}
	if req.rdt != nil {
		if err := req.rdt.Join(pid); err != nil {
			return err
		}
	}
	if req.oomScoreAdj != nil {
		if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte(strconv.Itoa(*req.oomScoreAdj)), 0); err != nil {
			return fmt.Errorf("process.oomScoreAdj: %w", err)
		}
	}
	return nil
}

// setLimits applies the cgroup limits and the final CPU affinity once
// init has done its own setup (it reports hooks or ready), as runc does:
// init's mounts and Go runtime must not run under the workload's limits.
// A pod sandbox has cpu.shares 2, which starved init for seconds on a busy
// host; a pids limit below init's thread count killed it. The cpuset comes
// before the affinity, which must be a subset of it. Only the first call
// does anything.
func (p *initProcess) setLimits() error {
	if p.limitsSet {
		return nil
	}
	p.limitsSet = true
	if p.req.cgroup != nil && p.req.resources != nil {
		t0 := time.Now()
		if err := p.req.cgroup.Set(p.req.resources); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		p.r.Log.Debug("cgroup set", "took", time.Since(t0).String())
	}
	return finalAffinity(p.pid, p.req.affinity)
}

// waitPid reaps pid and reports a non-zero exit the way os/exec words it.
func waitPid(pid int) error {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return nil
	case ws.Exited():
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Errorf("signal: %v", ws.Signal())
	}
	return fmt.Errorf("wait status %#x", uint32(ws))
}

// bootstrapFor turns the spec's namespaces into the constructor's message.
func bootstrapFor(spec *rspec.Spec) (nsexec.Bootstrap, error) {
	var b nsexec.Bootstrap
	if spec.Linux == nil {
		return b, nil
	}
	for i, ns := range spec.Linux.Namespaces {
		flag, ok := nsFlags[ns.Type]
		if !ok {
			return b, fmt.Errorf("linux.namespaces[%d].type: unknown namespace type %q", i, ns.Type)
		}
		if ns.Path == "" {
			b.CloneFlags |= uintptr(flag)
		} else {
			b.Joins = append(b.Joins, nsexec.Join{Flag: flag, Path: ns.Path})
		}
	}
	if b.CloneFlags&unix.CLONE_NEWUSER != 0 {
		b.WaitForMaps = true
	}
	for clock, off := range spec.Linux.TimeOffsets {
		b.TimeOffsets = append(b.TimeOffsets, nsexec.TimeOffset{Clock: clock, Secs: off.Secs, Nanos: off.Nanosecs})
	}
	return b, nil
}

func hasNS(spec *rspec.Spec, t rspec.LinuxNamespaceType) (present bool, path string) {
	if spec.Linux == nil {
		return false, ""
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true, ns.Path
		}
	}
	return false, ""
}

// forkExec is syscall.ForkExec (tests replace it).
var forkExec = syscall.ForkExec

// forkIntoCgroup forks and execs; born says whether CLONE_INTO_CGROUP put
// the child in its cgroup. The kernel checks the move at clone time as it
// would a write to cgroup.procs: the caller needs write access to the
// common ancestor of its own and the target cgroup. A rootless exec from a
// login session (session-N.scope, outside user@UID.service) into a scope
// of the user's manager has not (the ancestor user-UID.slice is root's),
// so that clone fails with EACCES or EPERM. The child is then forked
// without it, and place() moves it, asking systemd where cgroupfs refuses.
func forkIntoCgroup(argv0 string, argv []string, attr *syscall.ProcAttr) (pid int, born bool, err error) {
	pid, err = forkExec(argv0, argv, attr)
	if err == nil || !attr.Sys.UseCgroupFD || !(errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) {
		return pid, err == nil && attr.Sys.UseCgroupFD, err
	}
	retry := *attr.Sys
	retry.UseCgroupFD, retry.CgroupFD = false, 0
	again := *attr
	again.Sys = &retry
	pid, err = forkExec(argv0, argv, &again)
	return pid, false, err
}
