package libcontainer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/hooks"
	"github.com/myrun-org/myrun/libcontainer/initproc"
	"github.com/myrun-org/myrun/libcontainer/netdev"
	"github.com/myrun-org/myrun/libcontainer/rootfs"
	"github.com/myrun-org/myrun/libcontainer/seccomp"
	"github.com/myrun-org/myrun/libcontainer/state"
	"github.com/myrun-org/myrun/libcontainer/userns"
	"github.com/myrun-org/myrun/specs"
)

// CreateOpts are the options of `myrun create` (and `run`).
type CreateOpts struct {
	ID            string
	Bundle        string
	ConsoleSocket string   // path of the engine's console socket
	ConsoleConn   *os.File // an already connected socket (run -t without --console-socket)
	PidFile       string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFds   int
	// ListenFds of the PreserveFds are socket-activation fds (systemd's
	// LISTEN_FDS): the process is told with LISTEN_FDS=N and LISTEN_PID=1.
	ListenFds int
	Stdio     [3]*os.File
}

// Create sets up a container and leaves its init waiting for Start.
// On any failure nothing is left behind: no process, cgroup or state dir.
func (r *Runtime) Create(o CreateOpts) (err error) {
	t0 := time.Now()
	if err := state.ValidateID(o.ID); err != nil {
		return err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return err
	}
	spec, rootPath, raw, err := loadBundle(bundle)
	if err != nil {
		return err
	}
	// The raw JSON stands in for the spec in state.json and in init's
	// config only while they agree (see below: Linux may be defaulted).
	if spec.Linux == nil {
		raw = nil
	}
	if o.ListenFds > 0 && spec.Process != nil {
		spec.Process.Env = append(spec.Process.Env, "LISTEN_FDS="+strconv.Itoa(o.ListenFds), "LISTEN_PID=1")
		raw = nil
	}
	for _, w := range specs.Warnings(spec) {
		r.Log.Warn(w)
	}
	if spec.Process != nil && spec.Process.Terminal && o.ConsoleSocket == "" && o.ConsoleConn == nil {
		return errors.New("cannot allocate tty if myrun will detach without setting console socket")
	}
	if (spec.Process == nil || !spec.Process.Terminal) && o.ConsoleSocket != "" {
		return errors.New("cannot use console socket if myrun will not detach or allocate tty")
	}
	boot, err := bootstrapFor(spec)
	if err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	if spec.Linux != nil {
		if err := netdev.Check(spec.Linux.NetDevices); err != nil {
			return fmt.Errorf("config.json: %w", err)
		}
	}
	if spec.Linux != nil {
		f, err := seccomp.Build(spec.Linux.Seccomp)
		if err != nil {
			return fmt.Errorf("config.json: %w", err)
		}
		if f != nil && len(f.Skipped) > 0 {
			// As runc: a profile written for newer kernels still loads.
			r.Log.Debug("seccomp: syscalls unknown to libseccomp on this architecture, their rules skipped", "syscalls", f.Skipped)
		}
	}

	if spec.Linux != nil && spec.Linux.Resources != nil {
		if err := cgroups.CheckUnified(spec.Linux.Resources.Unified, r.Systemd); err != nil {
			return err
		}
	}

	h, err := r.store.Create(o.ID)
	if err != nil {
		return err
	}
	defer h.Unlock()
	st := &state.State{
		ID: o.ID, Bundle: bundle, Rootfs: rootPath, Created: time.Now().UTC(),
		Owner: ownerName(), Annotations: spec.Annotations, Config: spec, Creating: true,
		Systemd: r.Systemd, Rootless: r.Rootless,
	}
	st.SetConfigJSON(raw)
	var cg cgroups.Manager
	var pid int
	var req *spawnRequest
	defer func() {
		if err != nil {
			if req != nil && pid > 0 && len(req.moved) > 0 {
				if rerr := netdev.Return(pid, req.moved); rerr != nil {
					r.Log.Warn("moving network devices back to the host", "error", rerr)
				}
			}
			r.cleanupFailedCreate(h, pid, cg)
		}
	}()
	if err := h.Save(st); err != nil {
		return err
	}

	newCg, err := cgroups.New(r.cgroupConfig(o.ID, briefOf(spec), r.Systemd, r.Rootless))
	if err != nil {
		return err
	}
	// Checked before cg is set: a refused cgroup is not ours to clean.
	n, err := cgroups.CheckBeforeStart(newCg)
	if err != nil {
		return err
	}
	cg = newCg
	if n > 0 {
		r.Log.Warn(fmt.Sprintf("container's cgroup is not empty: %d process(es) found", n))
	}
	st.CgroupPaths = cg.Paths()
	rec := recovery{Systemd: r.Systemd, Rootless: r.Rootless, PendingCgroups: cg.Missing()}
	if spec.Linux != nil {
		rec.CgroupsPath = spec.Linux.CgroupsPath
	}
	if err := writeRecovery(h, rec); err != nil {
		return err
	}
	r.rememberCgroup(o.ID, cg)
	rdt, err := setupRdt(h, o.ID, spec)
	if err != nil {
		return err
	}
	if p, ok := cg.(cgroups.Prewarmer); ok {
		go p.PrewarmMigration()
	}

	if err := unix.Mkfifo(h.FifoPath(), 0o600); err != nil {
		return fmt.Errorf("creating exec fifo: %w", err)
	}
	// Opened here for init, read+write (which never blocks on a fifo):
	// init waits in read(2) for `start`'s byte and needs no procfs
	// handle to reopen anything.
	fifo, err := os.OpenFile(h.FifoPath(), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening exec fifo: %w", err)
	}
	defer fifo.Close()

	consoleConn := o.ConsoleConn
	if o.ConsoleSocket != "" {
		consoleConn, err = dialUnix(o.ConsoleSocket)
		if err != nil {
			return fmt.Errorf("--console-socket: %w", err)
		}
		defer consoleConn.Close()
	}
	var seccompConn *os.File
	if spec.Linux == nil {
		spec.Linux = &rspec.Linux{}
	}
	if sc := spec.Linux.Seccomp; sc != nil && sc.ListenerPath != "" {
		seccompConn, err = dialUnix(sc.ListenerPath)
		if err != nil {
			return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
		}
		defer seccompConn.Close()
	}

	idmapped, err := rootfs.IDMappedTrees(spec, bundle)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range idmapped {
			t.Close()
		}
	}()

	newUser, _ := hasNS(spec, rspec.UserNamespace)
	newPid, pidPath := hasNS(spec, rspec.PIDNamespace)
	newUTS, utsPath := hasNS(spec, rspec.UTSNamespace)
	st.SharedPidNS = !newPid || pidPath != ""
	req = &spawnRequest{
		boot: boot, netDevices: spec.Linux.NetDevices,
		cfg: &initproc.Config{
			Mode: initproc.ModeInit, ID: o.ID, Spec: spec, Process: spec.Process,
			Rootfs: rootPath, Bundle: bundle, NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring,
			CgroupPaths: st.CgroupPaths, InUserNS: newUser || userns.RunningInUserNS(),
			MountLabel: mountLabel(spec),
			NewUTSNS:   newUTS && utsPath == "", PreserveFds: o.PreserveFds,
			ParentHooks: spec.Hooks != nil && (len(spec.Hooks.Prestart) > 0 || len(spec.Hooks.CreateRuntime) > 0),
			SpecJSON:    raw,
		},
		preserve: o.PreserveFds, fifo: fifo, console: consoleConn, seccomp: seccompConn, idmapped: idmapped,
		stdio: o.Stdio, cgroup: cg, resources: spec.Linux.Resources, rdt: rdt,
		onPid: func(p int) { pid = p },
		onHooks: func(p int) error {
			hs := &rspec.State{Version: rspec.Version, ID: o.ID, Status: rspec.StateCreated, Pid: p, Bundle: bundle, Annotations: spec.Annotations}
			// prestart is the legacy hook and sees "created", as
			// runtime-tools expects; createRuntime runs mid-create.
			if err := hooks.Run("prestart", spec.Hooks.Prestart, hs); err != nil {
				return err
			}
			hs.Status = rspec.StateCreating
			return hooks.Run("createRuntime", spec.Hooks.CreateRuntime, hs)
		},
	}
	if spec.Process != nil {
		req.oomScoreAdj, req.affinity = spec.Process.OOMScoreAdj, spec.Process.ExecCPUAffinity
	}
	if newUser {
		req.uidMaps, req.gidMaps = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	pid, err = r.spawn(req)
	if err != nil {
		return err
	}
	start, _, err := procStartTime(pid)
	if err != nil {
		return fmt.Errorf("container init exited during create: %w", err)
	}
	st.InitPid, st.InitStartTime, st.Creating = pid, start, false
	rec.InitPid, rec.InitStartTime, rec.PendingCgroups = pid, start, nil
	if err := writeRecovery(h, rec); err != nil {
		return err
	}
	if err := h.Save(st); err != nil {
		return err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			return err
		}
	}
	r.Log.Debug("created", "id", o.ID, "pid", pid, "took", time.Since(t0).String())
	return nil
}

// loadBundle is specs.LoadBundle that also returns config.json's bytes, so
// the spec is not encoded again for state.json and init.
func loadBundle(abs string) (*rspec.Spec, string, []byte, error) {
	data, err := os.ReadFile(filepath.Join(abs, specs.ConfigFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", nil, &specs.FieldError{Msg: fmt.Sprintf("not found in bundle %q", abs)}
		}
		return nil, "", nil, &specs.FieldError{Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	s, err := specs.Decode(data)
	if err != nil {
		return nil, "", nil, invalidConfig(err)
	}
	if err := specs.Validate(s, abs); err != nil {
		return nil, "", nil, invalidConfig(err)
	}
	return s, specs.RootfsPath(s, abs), data, nil
}

// cgroupConfig is the same for every command on one container, so each can
// rebuild its manager instead of persisting it.
func (r *Runtime) cgroupConfig(id string, b *state.Brief, systemd, rootless bool) cgroups.Config {
	return cgroups.Config{
		Name: id, Systemd: systemd, Rootless: rootless, Logger: r.Log,
		Path: b.CgroupsPath, Resources: b.Resources, Devices: b.Devices,
	}
}

// briefOf is state.Brief for a spec at hand.
func briefOf(spec *rspec.Spec) *state.Brief {
	st := state.State{Config: spec}
	b, _ := st.Brief() // cannot fail with a config
	return b
}

// cleanupFailedCreate undoes a partial create.
func (r *Runtime) cleanupFailedCreate(h *state.Handle, pid int, cg cgroups.Manager) {
	if pid > 0 {
		unix.Kill(pid, unix.SIGKILL)
	}
	if cg != nil {
		if pids, err := cg.Pids(); err == nil {
			for _, p := range pids {
				unix.Kill(p, unix.SIGKILL)
			}
		}
		destroyCgroup(cg)
	}
	delete(r.cgroups, h.ID)
	r.destroyRdt(h)
	h.Remove()
}

// destroyCgroup retries briefly: a killed process leaves its cgroup only
// once the kernel has finished tearing it down.
func destroyCgroup(cg cgroups.Manager) error {
	var err error
	for i := 0; i < 200; i++ {
		if err = cg.Destroy(); err == nil {
			return nil
		}
		// A create killed mid-placement can leave init in only some
		// hierarchies, where Pids (which reads one) does not see it.
		killCgroupProcs(cg.Paths())
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// killCgroupProcs SIGKILLs every process listed in the container's own
// cgroup directories (only the container's processes can be there).
func killCgroupProcs(paths map[string]string) {
	for _, dir := range paths {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
}

func dialUnix(path string) (*os.File, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.File()
}

// writePidFile writes atomically, as engines poll for it.
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--pid-file: %w", err)
	}
	return nil
}

func ownerName() string {
	if u, err := user.LookupId(strconv.Itoa(os.Geteuid())); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Geteuid())
}

// mountLabel is linux.mountLabel when SELinux is active; without it the
// label is ignored with a warning (specs.Warnings).
func mountLabel(spec *rspec.Spec) string {
	if spec.Linux == nil || spec.Linux.MountLabel == "" || !specs.SELinuxEnabled() {
		return ""
	}
	return spec.Linux.MountLabel
}
