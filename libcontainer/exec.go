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
	"github.com/myrun-org/myrun/libcontainer/userns"
	"github.com/myrun-org/myrun/specs"
)

// ExecOpts are the options of `myrun exec`.
type ExecOpts struct {
	ID            string
	Process       *rspec.Process
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
	paused := false
	switch s := r.status(c); s {
	case Running, Created:
	case Paused:
		if !o.IgnorePaused {
			return 0, ErrExecPaused
		}
		// The process joins the frozen cgroup and runs once resumed.
		paused = true
	case Stopped:
		return 0, errExecStopped
	default:
		return 0, fmt.Errorf("cannot exec in a %s container", s)
	}
	if o.Process == nil {
		return 0, errors.New("exec: no process given")
	}
	cg := r.cgroupOf(c)
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
	if err := specs.ValidateProcess(o.Process, spec, "process.json"); err != nil {
		return 0, err
	}
	if o.Process.Terminal && o.ConsoleSocket == "" && o.ConsoleConn == nil {
		return 0, errors.New("cannot allocate tty if myrun will detach without setting console socket")
	}
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
				Path: fmt.Sprintf("/proc/%d/ns/%s", c.st.InitPid, name),
			})
		}
	}
	consoleConn := o.ConsoleConn
	if o.ConsoleSocket != "" {
		consoleConn, err = dialUnix(o.ConsoleSocket)
		if err != nil {
			return 0, fmt.Errorf("--console-socket: %w", err)
		}
		defer consoleConn.Close()
	}
	var seccompConn *os.File
	if spec.Linux != nil && spec.Linux.Seccomp != nil && spec.Linux.Seccomp.ListenerPath != "" {
		seccompConn, err = dialUnix(spec.Linux.Seccomp.ListenerPath)
		if err != nil {
			return 0, fmt.Errorf("linux.seccomp.listenerPath: %w", err)
		}
		defer seccompConn.Close()
	}
	var subDirs []string
	if len(o.SubCgroups) > 0 {
		if cg == nil {
			return 0, errors.New("--cgroup: the container has no cgroup of its own")
		}
		if subDirs, err = subCgroupDirs(cg.Paths(), o.SubCgroups); err != nil {
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
	fast, err := r.constructorExec(o.Process, spec, o.PreserveFds)
	if err != nil {
		return 0, err
	}
	rdt, err := rdtOf(c.h)
	if err != nil {
		return 0, err
	}
	req := &spawnRequest{
		boot: boot, exec: fast,
		cfg: &initproc.Config{
			Mode: initproc.ModeExec, ID: o.ID, Spec: execSpec(spec), Process: o.Process,
			Rootfs: c.st.Rootfs, Bundle: c.st.Bundle, InUserNS: inUserNS, PreserveFds: o.PreserveFds,
		},
		preserve: o.PreserveFds, console: consoleConn, seccomp: seccompConn, stdio: o.Stdio,
		cgroup: cg, subCgroups: subDirs, oomScoreAdj: o.Process.OOMScoreAdj, affinity: o.Process.ExecCPUAffinity, rdt: rdt,
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
