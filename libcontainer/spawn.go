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
)

var nsFlags = map[rspec.LinuxNamespaceType]int{
	rspec.PIDNamespace:     unix.CLONE_NEWPID,
	rspec.NetworkNamespace: unix.CLONE_NEWNET,
	rspec.MountNamespace:   unix.CLONE_NEWNS,
	rspec.IPCNamespace:     unix.CLONE_NEWIPC,
	rspec.UTSNamespace:     unix.CLONE_NEWUTS,
	rspec.UserNamespace:    unix.CLONE_NEWUSER,
	rspec.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	rspec.TimeNamespace:    unix.CLONE_NEWTIME,
}

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
	cgroup      cgroups.Manager
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
	// that a failure later can still kill it.
	onPid func(pid int)
}

// spawn starts init and drives the handshake until init reports ready (or,
// for exec, until the user process was exec'd). It returns the container
// process's pid as seen from our pid namespace.
func (r *Runtime) spawn(req *spawnRequest) (pid int, err error) {
	parent, child, err := syncproto.NewSocketPair()
	if err != nil {
		return 0, err
	}
	defer parent.Close()
	defer child.Close()

	var extra []*os.File
	for i := 0; i < req.preserve; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved-fd-"+strconv.Itoa(3+i)))
	}
	add := func(f *os.File) int {
		if f == nil {
			return -1
		}
		extra = append(extra, f)
		return 2 + len(extra)
	}
	syncFd := add(child)
	cfg := req.cfg
	cfg.FifoFd = add(req.fifo)
	cfg.ConsoleFd = add(req.console)
	cfg.SeccompFd = add(req.seccomp)
	for i, tree := range req.idmapped {
		if cfg.IDMapFds == nil {
			cfg.IDMapFds = map[int]int{}
		}
		cfg.IDMapFds[i] = add(tree)
	}
	logFile := r.LogFile
	if logFile == nil {
		logFile = os.Stderr
	}
	cfg.LogFd = add(logFile)
	cfg.LogFormat = r.LogFormat
	cfg.Debug = r.Debug

	// The container process is put in its cgroup once its pid is known,
	// while its Go runtime starts; it does nothing before the config,
	// which is sent after that. (The first cgroup.procs write waits for
	// an RCU grace period: milliseconds we would otherwise wait alone.)
	req.boot.LatePlacement = true
	req.boot.Exec = req.exec != nil
	boot, err := req.boot.Encode()
	if err != nil {
		return 0, err
	}

	stdio := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	if req.stdio[0] != nil {
		stdio = req.stdio
		for i, f := range stdio {
			if f == nil {
				// As os/exec does for a nil stream.
				null, err := os.OpenFile(os.DevNull, os.O_RDWR|unix.O_CLOEXEC, 0)
				if err != nil {
					return 0, err
				}
				defer null.Close()
				stdio[i] = null
			}
		}
	}
	files := make([]uintptr, 0, 3+len(extra))
	top := 0
	for _, f := range append(stdio[:], extra...) {
		files = append(files, f.Fd())
		top = max(top, int(f.Fd()))
	}
	// The child moves fds out of the way before its dup2s, to numbers
	// from max(len(files), top)+1 upwards (the exec error pipe plus up to
	// one per file): the binary's fd must lie above all of them, or
	// execve runs whatever was dup'ed over it.
	exe, err := exeseal.Open(max(len(files), top) + len(files) + 3)
	if err != nil {
		return 0, err
	}
	defer exe.Close()
	sys := &syscall.SysProcAttr{}
	if req.cgroup != nil {
		// CLONE_INTO_CGROUP: the child is born in the container's cgroup.
		if fd, err := req.cgroup.CgroupFD(); err == nil && fd >= 0 {
			defer unix.Close(fd)
			sys.UseCgroupFD = true
			sys.CgroupFD = fd
		}
	}
	r.Log.Debug("start init", "exe", exe.Name(), "extra_fds", len(extra), "clone_flags", fmt.Sprintf("%#x", req.boot.CloneFlags), "joins", req.boot.Joins)
	// syscall.ForkExec rather than os/exec: os.StartProcess probes
	// CLONE_PIDFD with an extra vfork the first time a process starts a
	// child, which costs every myrun invocation a process.
	tStart := time.Now()
	restoreAffinity, err := forkAffinity(req.affinity)
	if err != nil {
		return 0, err
	}
	first, err := syscall.ForkExec("/proc/self/fd/"+strconv.Itoa(int(exe.Fd())), []string{"myrun", "init"}, &syscall.ProcAttr{
		Env:   []string{nsexec.SyncFdEnv + "=" + strconv.Itoa(syncFd), nsexec.KeepFdsEnv + "=" + strconv.Itoa(len(files))},
		Files: files,
		Sys:   sys,
	})
	restoreAffinity()
	if err != nil {
		return 0, fmt.Errorf("starting init: %w", err)
	}
	child.Close()
	waited := false
	defer func() {
		if err != nil {
			// Init failed or we did: make sure nothing we started survives,
			// and no host device dies with its network namespace.
			if pid > 0 && len(req.moved) > 0 {
				if rerr := netdev.Return(pid, req.moved); rerr != nil {
					r.Log.Warn("moving network devices back to the host", "error", rerr)
				}
				req.moved = nil
			}
			if pid > 0 {
				unix.Kill(pid, unix.SIGKILL)
			}
			if !waited {
				unix.Kill(first, unix.SIGKILL)
				waitPid(first)
			}
			pid = 0
		}
	}()

	if err := parent.SendRaw(boot); err != nil {
		return 0, fmt.Errorf("sending bootstrap: %w", err)
	}

	// Constructor phase: id maps, then the pid of the process that
	// continues into Go.
	for pid == 0 {
		m, p, err := parent.Recv()
		if err != nil {
			return 0, initFailed(first, &waited, err)
		}
		switch m.Type {
		case syncproto.TypeMaps:
			tMaps := time.Now()
			if err := userns.WriteMaps(first, req.uidMaps, req.gidMaps, r.Rootless); err != nil {
				return 0, err
			}
			r.Log.Debug("write id maps", "pid", first, "uid_map", req.uidMaps, "gid_map", req.gidMaps, "took", time.Since(tMaps).String())
			if err := parent.SendRaw([]byte(syncproto.TypeMapsOK)); err != nil {
				return 0, err
			}
		case syncproto.TypePid:
			if p.Cred == nil || p.Cred.Pid <= 0 {
				return 0, errors.New("init did not send its credentials")
			}
			pid = int(p.Cred.Pid)
			if req.onPid != nil {
				req.onPid(pid)
			}
		case syncproto.TypeError:
			return 0, initFailed(first, &waited, errors.New(m.Error))
		default:
			return 0, fmt.Errorf("unexpected %q from init", m.Type)
		}
	}
	if pid != first {
		// The intermediate process forked for a pid/time namespace exits
		// right away.
		waited = true
		if err := waitPid(first); err != nil {
			return pid, fmt.Errorf("init intermediate: %w", err)
		}
	} else {
		// We never wait for init itself here: `create` leaves it behind.
		waited = true
	}
	r.Log.Debug("namespaces ready", "pid", pid, "took", time.Since(tStart).String())
	if err := r.place(req, pid, sys.UseCgroupFD); err != nil {
		return pid, err
	}
	if len(req.netDevices) > 0 {
		t0 := time.Now()
		if req.moved, err = netdev.Move(pid, req.netDevices); err != nil {
			return pid, err
		}
		r.Log.Debug("network devices moved", "devices", req.moved, "took", time.Since(t0).String())
	}
	// An exec'd process gets its limits and final affinity now; init
	// once its own setup is done (setLimits).
	limitsSet := false
	if req.exec != nil || cfg.Mode == initproc.ModeExec {
		if err := r.setLimits(req, pid, &limitsSet); err != nil {
			return pid, err
		}
	}
	if req.exec != nil {
		req.exec.ConsoleFd = cfg.ConsoleFd
		msg, err := req.exec.Encode()
		if err != nil {
			return pid, err
		}
		return pid, r.execInConstructor(parent, msg)
	}
	cfg.UnshareCgroupNS = req.boot.CloneFlags&unix.CLONE_NEWCGROUP != 0

	cfg.HostPid = pid
	if err := parent.Send(syncproto.TypeConfig, cfg); err != nil {
		return pid, fmt.Errorf("sending config: %w", err)
	}
	for {
		m, _, err := parent.Recv()
		if errors.Is(err, syncproto.ErrClosed) && cfg.Mode == initproc.ModeExec {
			return pid, nil // close-on-exec: the process is running
		}
		if err != nil {
			return pid, fmt.Errorf("init: %w", err)
		}
		switch m.Type {
		case syncproto.TypeHooks:
			if err := r.setLimits(req, pid, &limitsSet); err != nil {
				parent.SendError(err)
				return pid, err
			}
			if req.onHooks != nil {
				if err := req.onHooks(pid); err != nil {
					parent.SendError(err)
					return pid, err
				}
			}
			if err := parent.Send(syncproto.TypeHooksDone, nil); err != nil {
				if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
					return pid, errors.New("container init exited while the prestart/createRuntime hooks ran")
				}
				return pid, err
			}
		case syncproto.TypeReady:
			return pid, r.setLimits(req, pid, &limitsSet)
		case syncproto.TypeError:
			return pid, errors.New(m.Error)
		default:
			return pid, fmt.Errorf("unexpected %q from init", m.Type)
		}
	}
}

// execInConstructor sends the prepared process and waits for the execve:
// the socket is close-on-exec, so EOF means it happened.
func (r *Runtime) execInConstructor(parent *syncproto.Conn, msg []byte) error {
	if err := parent.SendRaw(msg); err != nil {
		return fmt.Errorf("sending the process: %w", err)
	}
	m, _, err := parent.Recv()
	switch {
	case errors.Is(err, syncproto.ErrClosed):
		return nil
	case err != nil:
		return fmt.Errorf("init: %w", err)
	case m.Type == syncproto.TypeError:
		return errors.New(m.Error)
	}
	return fmt.Errorf("unexpected %q from init", m.Type)
}

// place puts the container process in its cgroup (and resctrl group) and
// sets its oom_score_adj; the limits come later (setLimits).
func (r *Runtime) place(req *spawnRequest, pid int, bornInCgroup bool) error {
	if req.cgroup != nil && !bornInCgroup {
		t0 := time.Now()
		place := req.cgroup.Apply
		if req.cfg.Mode == initproc.ModeExec {
			place = req.cgroup.Join // the cgroup is set up; only enter it
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
// before the affinity, which must be a subset of it.
func (r *Runtime) setLimits(req *spawnRequest, pid int, done *bool) error {
	if *done {
		return nil
	}
	*done = true
	if req.cgroup != nil && req.resources != nil {
		t0 := time.Now()
		if err := req.cgroup.Set(req.resources); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		r.Log.Debug("cgroup set", "took", time.Since(t0).String())
	}
	return finalAffinity(pid, req.affinity)
}

// initFailed turns a closed socket into the reason init died.
func initFailed(first int, waited *bool, err error) error {
	if errors.Is(err, syncproto.ErrClosed) {
		*waited = true
		if werr := waitPid(first); werr != nil {
			return fmt.Errorf("init exited early: %w", werr)
		}
		return errors.New("init exited early")
	}
	return err
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
