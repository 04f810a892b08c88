package libcontainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/hooks"
	"github.com/myrun-org/myrun/libcontainer/initproc"
	"github.com/myrun-org/myrun/libcontainer/netdev"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/libcontainer/resctrl"
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
	c, err := r.checkCreate(o)
	if err != nil {
		return err
	}
	if c.h, err = r.store.Create(o.ID); err != nil {
		return err
	}
	defer c.h.Unlock()
	defer func() {
		if err != nil {
			c.undo()
		}
	}()
	defer c.close() // runs before undo
	if err := c.saveCreating(); err != nil {
		return err
	}
	if err := c.setUpCgroup(); err != nil {
		return err
	}
	if err := c.openForInit(); err != nil {
		return err
	}
	c.req = c.request()
	if c.pid, err = r.spawn(c.req); err != nil {
		return err
	}
	if err := c.recordInit(); err != nil {
		return err
	}
	r.Log.Debug("created", "id", o.ID, "pid", c.pid, "took", time.Since(t0).String())
	return nil
}

// creation is one Create in progress: what it has set up so far, which is
// what undo removes.
type creation struct {
	r    *Runtime
	o    CreateOpts
	boot nsexec.Bootstrap
	bundleFiles

	h   *state.Handle
	st  *state.State
	rec recovery
	cg  cgroups.Manager // set once it is ours to clean up
	rdt *resctrl.Group

	// What init gets: the exec fifo, the console and seccomp listener
	// sockets, detached idmapped trees; closed when Create returns.
	fifo, console, seccomp *os.File
	idmapped               map[int]*os.File
	closers                []func()

	req *spawnRequest
	pid int // init, as soon as it is known (spawnRequest.onPid)
}

// checkCreate loads and checks the bundle; it changes nothing on the host.
func (r *Runtime) checkCreate(o CreateOpts) (*creation, error) {
	b, err := openBundle(o.ID, o.Bundle)
	if err != nil {
		return nil, err
	}
	spec := b.spec
	// The raw JSON stands in for the spec in state.json and in init's
	// config only while they agree (see below: Linux may be defaulted).
	if spec.Linux == nil {
		b.raw = nil
	}
	if o.ListenFds > 0 && spec.Process != nil {
		spec.Process.Env = append(spec.Process.Env, "LISTEN_FDS="+strconv.Itoa(o.ListenFds), "LISTEN_PID=1")
		b.raw = nil
	}
	for _, w := range specs.Warnings(spec) {
		r.Log.Warn(w)
	}
	if spec.Process != nil && spec.Process.Terminal && o.ConsoleSocket == "" && o.ConsoleConn == nil {
		return nil, errors.New("cannot allocate tty if myrun will detach without setting console socket")
	}
	if (spec.Process == nil || !spec.Process.Terminal) && o.ConsoleSocket != "" {
		return nil, errors.New("cannot use console socket if myrun will not detach or allocate tty")
	}
	boot, err := bootstrapFor(spec)
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if err := r.checkLinux(spec.Linux); err != nil {
		return nil, err
	}
	return &creation{r: r, o: o, boot: boot, bundleFiles: b}, nil
}

// checkLinux checks what only the host can tell of linux: the network
// devices, that the seccomp profile compiles, the unified cgroup keys.
func (r *Runtime) checkLinux(l *rspec.Linux) error {
	if l == nil {
		return nil
	}
	if err := netdev.Check(l.NetDevices); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	f, err := seccomp.Build(l.Seccomp)
	if err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	if f != nil && len(f.Skipped) > 0 {
		// As runc: a profile written for newer kernels still loads.
		r.Log.Debug("seccomp: syscalls unknown to libseccomp on this architecture, their rules skipped", "syscalls", f.Skipped)
	}
	if l.Resources != nil {
		return cgroups.CheckUnified(l.Resources.Unified, r.Systemd)
	}
	return nil
}

// saveCreating writes the first state.json, status "creating".
func (c *creation) saveCreating() error {
	c.st = &state.State{
		ID: c.o.ID, Bundle: c.bundle, Rootfs: c.rootPath, Created: time.Now().UTC(),
		Owner: ownerName(), Annotations: c.spec.Annotations, Config: c.spec, Creating: true,
		Systemd: c.r.Systemd, Rootless: c.r.Rootless,
	}
	c.st.SetConfigJSON(c.raw)
	return c.h.Save(c.st)
}

// cgroupDir names the container's cgroup for an error: the pids
// controller's directory on cgroup v1, else the first one.
func cgroupDir(cg cgroups.Manager) string {
	paths := cg.Paths()
	if p, ok := paths["pids"]; ok {
		return p
	}
	keys := slices.Sorted(maps.Keys(paths))
	if len(keys) == 0 {
		return "(no cgroup directory)"
	}
	return paths[keys[0]]
}

// setUpCgroup prepares the container's cgroup (and resctrl group), with
// recovery.json naming them before they exist.
func (c *creation) setUpCgroup() error {
	r := c.r
	cg, err := cgroups.New(r.cgroupConfig(c.o.ID, briefOf(c.spec), r.Systemd, r.Rootless))
	if err != nil {
		return err
	}
	// Checked before c.cg is set: a refused cgroup is not ours to clean.
	n, err := cgroups.CheckBeforeStart(cg)
	if err != nil {
		return err
	}
	if n > 0 {
		// As runc 1.2 and later (1.1 warned): the processes would share
		// the container's limits and be killed with it.
		return fmt.Errorf("container's cgroup is not empty: %d process(es) found in %s", n, cgroupDir(cg))
	}
	c.cg = cg
	c.st.CgroupPaths = cg.Paths()
	c.rec = recovery{Systemd: r.Systemd, Rootless: r.Rootless, PendingCgroups: cg.Missing()}
	if c.spec.Linux != nil {
		c.rec.CgroupsPath = c.spec.Linux.CgroupsPath
	}
	if err := writeRecovery(c.h, c.rec); err != nil {
		return err
	}
	r.rememberCgroup(c.o.ID, cg)
	if c.rdt, err = setupRdt(c.h, c.o.ID, c.spec); err != nil {
		return err
	}
	if p, ok := cg.(cgroups.Prewarmer); ok {
		go p.PrewarmMigration()
	}
	return nil
}

// openForInit opens what init is passed: the exec fifo, the console and
// seccomp listener connections, the idmapped mount trees.
func (c *creation) openForInit() error {
	if err := unix.Mkfifo(c.h.FifoPath(), 0o600); err != nil {
		return fmt.Errorf("creating exec fifo: %w", err)
	}
	// Opened here for init, read+write (which never blocks on a fifo):
	// init waits in read(2) for `start`'s byte and needs no procfs
	// handle to reopen anything.
	fifo, err := os.OpenFile(c.h.FifoPath(), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening exec fifo: %w", err)
	}
	c.fifo = c.closeLater(fifo)
	c.console = c.o.ConsoleConn
	if c.o.ConsoleSocket != "" {
		conn, err := dialUnix(c.o.ConsoleSocket)
		if err != nil {
			return fmt.Errorf("--console-socket: %w", err)
		}
		c.console = c.closeLater(conn)
	}
	if c.spec.Linux == nil {
		c.spec.Linux = &rspec.Linux{}
	}
	if sc := c.spec.Linux.Seccomp; seccomp.UsesNotify(sc) {
		conn, err := dialAgent(sc.ListenerPath)
		if err != nil {
			return err
		}
		c.seccomp = c.closeLater(conn)
	}
	idmapped, err := rootfs.IDMappedTrees(c.spec, c.bundle)
	for _, t := range idmapped {
		c.closeLater(t)
	}
	c.idmapped = idmapped
	return err
}

func (c *creation) closeLater(f *os.File) *os.File {
	c.closers = append(c.closers, func() { f.Close() })
	return f
}

// request is what spawn needs to start init.
func (c *creation) request() *spawnRequest {
	spec, o := c.spec, c.o
	newUser, _ := hasNS(spec, rspec.UserNamespace)
	newPid, pidPath := hasNS(spec, rspec.PIDNamespace)
	newUTS, utsPath := hasNS(spec, rspec.UTSNamespace)
	c.st.SharedPidNS = !newPid || pidPath != ""
	req := &spawnRequest{
		boot: c.boot, netDevices: spec.Linux.NetDevices,
		cfg: &initproc.Config{
			Mode: initproc.ModeInit, ID: o.ID, Spec: spec, Process: spec.Process,
			Rootfs: c.rootPath, Bundle: c.bundle, NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring,
			CgroupPaths: c.st.CgroupPaths, InUserNS: newUser || userns.RunningInUserNS(),
			MountLabel: mountLabel(spec),
			NewUTSNS:   newUTS && utsPath == "", PreserveFds: o.PreserveFds,
			ParentHooks: spec.Hooks != nil && (len(spec.Hooks.Prestart) > 0 || len(spec.Hooks.CreateRuntime) > 0),
			SpecJSON:    c.raw,
		},
		preserve: o.PreserveFds, fifo: c.fifo, console: c.console, seccomp: c.seccomp, idmapped: c.idmapped,
		stdio: o.Stdio, cgroup: c.cg, resources: spec.Linux.Resources, rdt: c.rdt,
		onPid:   c.initKnown,
		onHooks: c.runParentHooks,
	}
	if spec.Process != nil {
		req.oomScoreAdj, req.affinity = spec.Process.OOMScoreAdj, spec.Process.ExecCPUAffinity
	}
	if newUser {
		req.uidMaps, req.gidMaps = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	return req
}

// initKnown records init's pid as soon as it is in its namespaces and
// checks what only they can tell.
func (c *creation) initKnown(pid int) error {
	c.pid = pid
	if err := checkJoinedMaps(c.spec, pid); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	return nil
}

// runParentHooks runs the prestart and createRuntime hooks for init pid.
func (c *creation) runParentHooks(pid int) error {
	spec := c.spec
	hs := &rspec.State{Version: rspec.Version, ID: c.o.ID, Status: rspec.StateCreated, Pid: pid, Bundle: c.bundle, Annotations: spec.Annotations}
	// prestart is the legacy hook and sees "created", as runtime-tools
	// expects; createRuntime runs mid-create.
	if err := hooks.Run("prestart", spec.Hooks.Prestart, hs); err != nil {
		return err
	}
	hs.Status = rspec.StateCreating
	return hooks.Run("createRuntime", spec.Hooks.CreateRuntime, hs)
}

// recordInit saves init's pid and start time: the container is created.
func (c *creation) recordInit() error {
	start, _, err := procStartTime(c.pid)
	if err != nil {
		return fmt.Errorf("container init exited during create: %w", err)
	}
	c.st.InitPid, c.st.InitStartTime, c.st.Creating = c.pid, start, false
	c.rec.InitPid, c.rec.InitStartTime, c.rec.PendingCgroups = c.pid, start, nil
	if err := writeRecovery(c.h, c.rec); err != nil {
		return err
	}
	if err := c.h.Save(c.st); err != nil {
		return err
	}
	if c.o.PidFile != "" {
		return writePidFile(c.o.PidFile, c.pid)
	}
	return nil
}

// undo removes what a failed Create set up, host network devices first.
func (c *creation) undo() {
	if c.req != nil && c.pid > 0 && len(c.req.moved) > 0 {
		if err := netdev.Return(c.pid, c.req.moved); err != nil {
			c.r.Log.Warn("moving network devices back to the host", "error", err)
		}
	}
	c.r.cleanupFailedCreate(c.h, c.pid, c.cg)
}

// close closes our copies of what init was passed.
func (c *creation) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

// bundleFiles is a loaded bundle: its absolute path, its spec and rootfs,
// and config.json's bytes while they stand for spec.
type bundleFiles struct {
	bundle   string
	rootPath string
	spec     *rspec.Spec
	raw      []byte
}

// openBundle checks the container id and loads the bundle at dir.
func openBundle(id, dir string) (bundleFiles, error) {
	if err := state.ValidateID(id); err != nil {
		return bundleFiles{}, err
	}
	bundle, err := filepath.Abs(dir)
	if err != nil {
		return bundleFiles{}, err
	}
	spec, rootPath, raw, err := loadBundle(bundle)
	if err != nil {
		return bundleFiles{}, err
	}
	// Compacted once here: state.json and init's message carry these
	// bytes as they are (internal/rawjson). They decoded, so they are
	// valid JSON; Compact checks again.
	var compact bytes.Buffer
	compact.Grow(len(raw))
	if err := json.Compact(&compact, raw); err != nil {
		return bundleFiles{}, fmt.Errorf("config.json: %w", err)
	}
	raw = compact.Bytes()
	return bundleFiles{bundle: bundle, rootPath: rootPath, spec: spec, raw: raw}, nil
}

// loadBundle is specs.LoadBundle that also returns config.json's bytes, so
// the spec is not encoded again for state.json and init, and marks what
// is wrong inside the file as ErrInvalidConfig.
func loadBundle(abs string) (*rspec.Spec, string, []byte, error) {
	data, err := specs.ReadConfig(abs)
	if err != nil {
		return nil, "", nil, err
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

// cleanupFailedCreate undoes a partial create. The create's own error
// is what the caller reports; a cgroup that cannot be removed is named in
// a warning.
func (r *Runtime) cleanupFailedCreate(h *state.Handle, pid int, cg cgroups.Manager) {
	if pid > 0 {
		unix.Kill(pid, unix.SIGKILL)
	}
	if cg != nil {
		if err := destroyCgroup(cg); err != nil {
			r.Log.Warn("after a failed create", "id", h.ID, "error", err)
		}
	}
	delete(r.cgroups, h.ID)
	r.destroyRdt(h)
	h.Remove()
}

// Bounds of destroyCgroup (tests shorten the retries). The removal is
// bounded in time as well as in tries: the library's rmdir itself retries
// a busy cgroup for about a second.
var (
	killRounds      = 200 // of SIGKILL to every process left, 10 ms apart
	destroyTries    = 200
	destroyRetryGap = 10 * time.Millisecond
	destroyBudget   = 2 * time.Second
)

// destroyCgroup kills every process left in the container's cgroups
// (bounded) and removes them, retrying briefly: a killed process leaves
// its cgroup only once the kernel has finished tearing it down. The error
// names the directories. First one rmdir per directory: when it succeeds
// the cgroups were empty (a stopped container's), and the kill walk,
// which reads cgroup.procs in every hierarchy and sub-cgroup, is skipped.
func destroyCgroup(cg cgroups.Manager) error {
	if cg.RemoveIfEmpty() == nil {
		return nil
	}
	killErr := cgroups.KillUntilEmpty(cg, killRounds)
	start := time.Now()
	var err error
	for i := 0; i < destroyTries && (i == 0 || time.Since(start) < destroyBudget); i++ {
		if err = cg.Destroy(); err == nil {
			return nil
		}
		cgroups.KillUntilEmpty(cg, 1)
		time.Sleep(destroyRetryGap)
	}
	return fmt.Errorf("cgroup %s not removed: %w", strings.Join(cgroups.Dirs(cg), ", "), errors.Join(err, killErr))
}

// dialAgent connects to the seccomp agent at linux.seccomp.listenerPath.
func dialAgent(path string) (*os.File, error) {
	f, err := dialUnix(path)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.listenerPath: failed to connect with seccomp agent: %w", err)
	}
	return f, nil
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
