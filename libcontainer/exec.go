package libcontainer

import (
	"errors"
	"fmt"
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/initproc"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/libcontainer/seccomp"
	"github.com/myrun-org/myrun/libcontainer/state"
	"github.com/myrun-org/myrun/libcontainer/userns"
	"github.com/myrun-org/myrun/specs"
)

// ExecOpts are the options of `myrun exec`.
type ExecOpts struct {
	ID      string
	Process *rspec.Process
	// BuildProcess, when Process is nil, makes it from (a shallow copy
	// of) the container's own process, read under the same lock and
	// decode as the rest of exec (`exec ID cmd...`: one state read, not
	// two). It must not modify what base's pointers and slices share.
	BuildProcess  func(base rspec.Process) (*rspec.Process, error)
	ConsoleSocket string
	ConsoleConn   *os.File
	PidFile       string
	PreserveFds   int
	Stdio         [3]*os.File
	// SubCgroups are `--cgroup` values: existing sub-cgroups of the
	// container's cgroup to run the process in.
	SubCgroups []string
	// IgnorePaused allows exec into a paused container (--ignore-paused).
	IgnorePaused bool
}

var nsFiles = map[rspec.LinuxNamespaceType]string{
	rspec.PIDNamespace: "pid", rspec.NetworkNamespace: "net", rspec.MountNamespace: "mnt",
	rspec.IPCNamespace: "ipc", rspec.UTSNamespace: "uts", rspec.UserNamespace: "user",
	rspec.CgroupNamespace: "cgroup", rspec.TimeNamespace: "time",
}

// Exec starts an additional process in a running container, through the
// same init path as the container's first process. It returns its pid.
func (r *Runtime) Exec(o ExecOpts) (int, error) {
	c, err := r.open(o.ID)
	if err != nil {
		return 0, err
	}
	locked := true
	defer func() {
		if locked {
			c.close()
		}
	}()
	paused, err := execAllowed(r.status(c), o.IgnorePaused)
	if err != nil {
		return 0, err
	}
	if o.Process == nil && o.BuildProcess == nil {
		return 0, errors.New("exec: no process given")
	}
	cg := r.execCgroup(c)
	if p, ok := cg.(cgroups.Prewarmer); ok {
		// The placement of the new process waits for an RCU grace
		// period unless the lock is warm: start that wait now, while we
		// decode the spec and start init (see PrewarmMigration).
		go p.PrewarmMigration()
	}
	spec, err := c.st.ExecSpec()
	if err != nil {
		return 0, err
	}
	if o.Process == nil {
		if spec.Process == nil {
			return 0, fmt.Errorf("container %s has no process in its config", o.ID)
		}
		if o.Process, err = o.BuildProcess(*spec.Process); err != nil {
			return 0, err
		}
	}
	if err := specs.ValidateProcess(o.Process, spec, "process.json"); err != nil {
		return 0, err
	}
	if o.Process.Terminal && o.ConsoleSocket == "" && o.ConsoleConn == nil {
		return 0, errors.New("cannot allocate tty if myrun will detach without setting console socket")
	}
	req := execRequest(o, c.st, spec, cg)
	closeConns, err := execConns(o, spec, req)
	defer closeConns()
	if err != nil {
		return 0, err
	}
	if len(o.SubCgroups) > 0 {
		if cg == nil {
			return 0, errors.New("--cgroup: the container has no cgroup of its own")
		}
		if req.subCgroups, err = subCgroupDirs(cg.Paths(), o.SubCgroups); err != nil {
			return 0, err
		}
	}
	// Re-check just before spawning that init is still the process we
	// recorded; the joins go through its /proc entries.
	pidfd, err := openPidfd(c.st.InitPid, c.st.InitStartTime)
	if err != nil {
		return 0, err
	}
	defer unix.Close(pidfd)
	if paused {
		// We wait for the execve, which happens only after a resume:
		// `resume` must be able to take the lock meanwhile.
		c.close()
		locked = false
	}
	return r.execSpawn(o, c.h, spec, req)
}

// execCgroup is the cgroup an exec'd process enters: the dirs the
// container's state recorded (cgroups.Recorded), a manager only when the
// state has none or a write needs one; nil for no cgroup.
func (r *Runtime) execCgroup(c *container) cgroups.Joiner {
	if len(c.st.CgroupPaths) == 0 {
		if cg := r.cgroupOf(c); cg != nil {
			return cg
		}
		return nil
	}
	return cgroups.Recorded(c.st.CgroupPaths, func() (cgroups.Manager, error) { return r.cgroupManager(c) })
}

// execAllowed says whether a container in status s takes an exec, and
// whether it is paused.
func execAllowed(s string, ignorePaused bool) (paused bool, err error) {
	switch s {
	case Running, Created:
		return false, nil
	case Paused:
		if !ignorePaused {
			return false, ErrExecPaused
		}
		// The process joins the frozen cgroup and runs once resumed.
		return true, nil
	case Stopped:
		return false, errExecStopped
	}
	return false, fmt.Errorf("cannot exec in a %s container", s)
}

// execRequest is the spawn request of an exec: join every namespace of
// the container's init.
func execRequest(o ExecOpts, st *state.State, spec *rspec.Spec, cg cgroups.Joiner) *spawnRequest {
	var boot nsexec.Bootstrap
	inUserNS := userns.RunningInUserNS()
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			name := nsFiles[ns.Type]
			if name == "" {
				continue
			}
			if ns.Type == rspec.UserNamespace {
				inUserNS = true
			}
			boot.Joins = append(boot.Joins, nsexec.Join{
				Flag: nsFlags[ns.Type],
				Path: fmt.Sprintf("/proc/%d/ns/%s", st.InitPid, name),
			})
		}
	}
	return &spawnRequest{
		boot: boot,
		cfg: &initproc.Config{
			Mode: initproc.ModeExec, ID: o.ID, Spec: execSpec(spec), Process: o.Process,
			Rootfs: st.Rootfs, Bundle: st.Bundle, InUserNS: inUserNS, PreserveFds: o.PreserveFds,
		},
		preserve: o.PreserveFds, stdio: o.Stdio,
		join: cg, oomScoreAdj: o.Process.OOMScoreAdj, affinity: o.Process.ExecCPUAffinity,
	}
}

// execConns connects the console and seccomp listener sockets for req;
// the returned func closes our copies.
func execConns(o ExecOpts, spec *rspec.Spec, req *spawnRequest) (func(), error) {
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	req.console = o.ConsoleConn
	if o.ConsoleSocket != "" {
		f, err := dialUnix(o.ConsoleSocket)
		if err != nil {
			return closeAll, fmt.Errorf("--console-socket: %w", err)
		}
		opened = append(opened, f)
		req.console = f
	}
	if spec.Linux != nil && seccomp.UsesNotify(spec.Linux.Seccomp) {
		f, err := dialAgent(spec.Linux.Seccomp.ListenerPath)
		if err != nil {
			return closeAll, err
		}
		opened = append(opened, f)
		req.seccomp = f
	}
	return closeAll, nil
}

// execSpawn starts the exec'd process, through the constructor alone when
// it can, and writes the pid file.
func (r *Runtime) execSpawn(o ExecOpts, h *state.Handle, spec *rspec.Spec, req *spawnRequest) (int, error) {
	var err error
	if req.exec, err = r.constructorExec(o.Process, spec, o.PreserveFds); err != nil {
		return 0, err
	}
	if req.rdt, err = rdtOf(h); err != nil {
		return 0, err
	}
	pid, err := r.spawn(req)
	if err != nil {
		return 0, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			unix.Kill(pid, unix.SIGKILL)
			return 0, err
		}
	}
	return pid, nil
}

// execSpec is the part of the container's spec that init reads to set up
// an exec'd process: the seccomp profile, the personality, the memory
// policy and the annotations the seccomp listener gets. Decoding the
// whole spec with reflection in a fresh process costs about a millisecond
// that exec need not pay.
func execSpec(spec *rspec.Spec) *rspec.Spec {
	s := &rspec.Spec{Version: spec.Version, Annotations: spec.Annotations}
	if l := spec.Linux; l != nil && (l.Seccomp != nil || l.Personality != nil || l.MemoryPolicy != nil) {
		s.Linux = &rspec.Linux{Seccomp: l.Seccomp, Personality: l.Personality, MemoryPolicy: l.MemoryPolicy}
	}
	return s
}
