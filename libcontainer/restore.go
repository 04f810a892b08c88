package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/myrun-org/myrun/libcontainer/criu/rpc"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/console"
	"github.com/myrun-org/myrun/libcontainer/criu"
	"github.com/myrun-org/myrun/libcontainer/hooks"
	"github.com/myrun-org/myrun/libcontainer/state"
)

// RestoreOpts are `myrun restore`'s flags (runc's).
type RestoreOpts struct {
	CriuPath          string
	ID                string
	Bundle            string
	ConsoleSocket     string
	PidFile           string
	NoPivot           bool // accepted: CRIU restores the root itself, no pivot_root of ours
	ImagePath         string
	WorkPath          string
	TCPEstablished    bool
	ExtUnixSk         bool
	ShellJob          bool
	FileLocks         bool
	ManageCgroupsMode string
	EmptyNs           []string
	AutoDedup         bool
	LazyPages         bool
	LsmProfile        string
	LsmMountContext   string
	Stdio             [3]*os.File   // handed to CRIU for fds that were external pipes
	CriuTimeout       time.Duration // bound on each CRIU answer; 0 = none; < 0: criu.Timeout's sources
}

// Restore brings a container back from a CRIU image under a new (or the
// same) id, from the bundle's config.json. It returns init's pid. On any
// failure nothing is left: no process, cgroup, mount or state dir.
func (r *Runtime) Restore(o RestoreOpts) (pid int, err error) {
	rs, err := r.checkRestore(o)
	if err != nil {
		return 0, err
	}
	if rs.h, err = r.store.Create(o.ID); err != nil {
		return 0, err
	}
	defer rs.h.Unlock()
	defer func() {
		if err != nil {
			r.cleanupFailedCreate(rs.h, rs.pid, rs.cg)
			pid = 0
		}
	}()
	defer rs.close() // runs before the cleanup
	if err := criu.Check(o.CriuPath); err != nil {
		return 0, criuUnusable("restore", err)
	}
	if err := rs.saveCreating(); err != nil {
		return 0, err
	}
	if rs.terminal {
		if rs.console, err = dialUnix(o.ConsoleSocket); err != nil {
			return 0, fmt.Errorf("--console-socket: %w", err)
		}
		rs.closeLater(func() { rs.console.Close() })
	}
	if err := rs.bindRoot(); err != nil {
		return 0, err
	}
	opts, extra, err := rs.criuOpts()
	if err != nil {
		return 0, err
	}
	if err := rs.runCriu(opts, extra); err != nil {
		return rs.pid, err
	}
	if err := rs.recordInit(); err != nil {
		return rs.pid, err
	}
	return rs.pid, nil
}

// restoration is one Restore in progress: its checked inputs and what it
// has set up so far, which close (then, on failure, cleanupFailedCreate)
// removes.
type restoration struct {
	r        *Runtime
	o        RestoreOpts
	terminal bool
	mode     rpc.CriuCgMode
	emptyNs  uint32
	imageDir string
	workDir  string
	descs    []string // init's stdio at the dump (criu.ReadDescriptors)
	cfgFile  string
	joins    []*rpc.JoinNamespace
	nsPaths  map[string]string // external key -> path
	bundleFiles

	h   *state.Handle
	st  *state.State
	rec recovery
	cg  cgroups.Manager // set once it is ours to clean up

	console  *os.File // the --console-socket connection
	criuRoot string   // the rootfs bound for CRIU
	mounted  bool     // criuRoot is mounted
	extMnt   []*rpc.ExtMountMap
	closers  []func() // run in reverse when Restore returns

	pid int // init, once CRIU reported it
}

// checkRestore checks every input that can be checked before anything is
// set up.
func (r *Runtime) checkRestore(o RestoreOpts) (*restoration, error) {
	b, err := openBundle(o.ID, o.Bundle)
	if err != nil {
		return nil, err
	}
	spec := b.spec
	if spec.Linux == nil {
		b.raw = nil
		spec.Linux = &rspec.Linux{}
	}
	rs := &restoration{r: r, o: o, bundleFiles: b}
	rs.terminal = spec.Process != nil && spec.Process.Terminal
	if rs.terminal && o.ConsoleSocket == "" {
		return nil, errors.New("--console-socket: required to restore a container with process.terminal")
	}
	if !rs.terminal && o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket: the container has no terminal (process.terminal is false)")
	}
	if rs.mode, err = criu.ParseCgroupsMode(o.ManageCgroupsMode); err != nil {
		return nil, err
	}
	if rs.emptyNs, err = criu.ParseEmptyNs(o.EmptyNs); err != nil {
		return nil, err
	}
	if err := rs.checkDirs(); err != nil {
		return nil, err
	}
	if rs.descs, err = criu.ReadDescriptors(rs.imageDir); err != nil {
		return nil, fmt.Errorf("--image-path: %w", err)
	}
	if rs.cfgFile, err = criu.ConfigFile(spec.Annotations); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if rs.o.CriuTimeout, err = criu.Timeout(o.CriuTimeout, spec.Annotations); err != nil {
		return nil, err
	}
	if err := rs.checkNamespaces(); err != nil {
		return nil, err
	}
	return rs, nil
}

// checkDirs checks the image directory (readable by the container's root)
// and the work directory.
func (rs *restoration) checkDirs() (err error) {
	o := rs.o
	if o.ImagePath == "" {
		return errors.New("--image-path: required")
	}
	if rs.imageDir, err = filepath.Abs(o.ImagePath); err != nil {
		return fmt.Errorf("--image-path: %w", err)
	}
	if err := criu.CheckImageDir("--image-path", rs.imageDir); err != nil {
		return err
	}
	if uid, gid, ok := specNSRoot(rs.spec); ok {
		if err := checkImageDirForUserNS("--image-path", rs.imageDir, uid, gid); err != nil {
			return err
		}
	}
	rs.workDir = rs.imageDir
	if o.WorkPath != "" {
		if rs.workDir, err = filepath.Abs(o.WorkPath); err != nil {
			return fmt.Errorf("--work-path: %w", err)
		}
		if fi, err := os.Stat(rs.workDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("--work-path: %s: not a directory", rs.workDir)
		}
	}
	return nil
}

// checkNamespaces sorts the namespaces joined by path: net and pid are
// handed to CRIU as inherited fds, ipc, uts and time are joined by it.
func (rs *restoration) checkNamespaces() error {
	rs.nsPaths = map[string]string{}
	for i, ns := range rs.spec.Linux.Namespaces {
		if ns.Path == "" {
			continue
		}
		switch ns.Type {
		case rspec.NetworkNamespace:
			rs.nsPaths[extNetNS] = ns.Path
		case rspec.PIDNamespace:
			rs.nsPaths[extPidNS] = ns.Path
		case rspec.IPCNamespace, rspec.UTSNamespace, rspec.TimeNamespace:
			kind := map[rspec.LinuxNamespaceType]string{rspec.IPCNamespace: "ipc", rspec.UTSNamespace: "uts", rspec.TimeNamespace: "time"}[ns.Type]
			rs.joins = append(rs.joins, &rpc.JoinNamespace{Ns: rpc.String(kind), NsFile: rpc.String(ns.Path)})
		default:
			return fmt.Errorf("config.json: linux.namespaces[%d]: joining a %s namespace by path is not supported on restore", i, ns.Type)
		}
		if _, err := os.Stat(ns.Path); err != nil {
			return fmt.Errorf("config.json: linux.namespaces[%d].path: %w", i, err)
		}
	}
	return nil
}

func (rs *restoration) closeLater(f func()) {
	rs.closers = append(rs.closers, f)
}

// close undoes, last first, what is only needed while Restore runs.
func (rs *restoration) close() {
	for i := len(rs.closers) - 1; i >= 0; i-- {
		rs.closers[i]()
	}
}

// saveCreating saves the state of a container being created and makes
// its cgroup, with the recovery record that lets a crash be cleaned up.
func (rs *restoration) saveCreating() (err error) {
	r, o, spec := rs.r, rs.o, rs.spec
	rs.st = &state.State{
		ID: o.ID, Bundle: rs.bundle, Rootfs: rs.rootPath, Created: time.Now().UTC(),
		Owner: ownerName(), Annotations: spec.Annotations, Config: spec, Creating: true,
		Systemd: r.Systemd, Rootless: r.Rootless,
	}
	rs.st.SetConfigJSON(rs.raw)
	if err := rs.h.Save(rs.st); err != nil {
		return err
	}
	rs.cg, err = cgroups.New(r.cgroupConfig(o.ID, briefOf(spec), r.Systemd, r.Rootless))
	if err != nil {
		return err
	}
	rs.st.CgroupPaths = rs.cg.Paths()
	rs.rec = recovery{Systemd: r.Systemd, Rootless: r.Rootless, PendingCgroups: rs.cg.Missing(), CgroupsPath: spec.Linux.CgroupsPath}
	if err := writeRecovery(rs.h, rs.rec); err != nil {
		return err
	}
	r.rememberCgroup(o.ID, rs.cg)
	return nil
}

// bindRoot makes the rootfs as CRIU sees it: mountpoints of the external
// bind mounts made in it (as create would), then a recursive bind for
// CRIU, detached once it is done (CRIU's cgroup yard cannot be mounted in
// a swrk child given its own mount namespace: EINVAL in the VM). The bind
// is a slave, not private: a container root that was a slave of a host
// mount (create makes / rslave) is restored by copying the sharing of
// this root (MOVE_MOUNT_SET_GROUP), which the kernel refuses from a
// private mount; as a slave nothing CRIU mounts under it propagates back
// to the host.
func (rs *restoration) bindRoot() (err error) {
	if rs.extMnt, err = criuRestoreMounts(rs.spec, rs.bundle); err != nil {
		return err
	}
	if err := restoreMountpoints(rs.spec, rs.bundle, rs.rootPath); err != nil {
		return err
	}
	rs.criuRoot = filepath.Join(rs.h.Dir, "criu-root")
	if err := os.Mkdir(rs.criuRoot, 0o700); err != nil {
		return err
	}
	rs.closeLater(func() { os.Remove(rs.criuRoot) })
	if err := unix.Mount(rs.rootPath, rs.criuRoot, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("restore: binding the rootfs for CRIU: %w", err)
	}
	rs.mounted = true
	rs.closeLater(rs.detach)
	if err := unix.Mount("", rs.criuRoot, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// detach unmounts CRIU's bind of the rootfs (once).
func (rs *restoration) detach() {
	if rs.mounted {
		unix.Unmount(rs.criuRoot, unix.MNT_DETACH)
		rs.mounted = false
	}
}

// criuOpts is the restore request's options but for the cgroup roots,
// and the files the swrk child inherits (as fds 4, 5, ...).
func (rs *restoration) criuOpts() (*rpc.CriuOpts, []*os.File, error) {
	o := rs.o
	imgF, err := os.Open(rs.imageDir)
	if err != nil {
		return nil, nil, fmt.Errorf("--image-path: %w", err)
	}
	rs.closeLater(func() { imgF.Close() })
	workF, err := os.Open(rs.workDir)
	if err != nil {
		return nil, nil, fmt.Errorf("--work-path: %w", err)
	}
	rs.closeLater(func() { workF.Close() })
	// Image and work dirs by our fd numbers (CRIU opens them through
	// /proc/<peer>/fd); inherited fds are passed to the child, by its own.
	var extra []*os.File
	fdOf := func(f *os.File) int32 { extra = append(extra, f); return int32(3 + len(extra)) }

	opts := &rpc.CriuOpts{
		ImagesDirFd:       rpc.Int32(int32(imgF.Fd())),
		WorkDirFd:         rpc.Int32(int32(workF.Fd())),
		LogLevel:          rpc.Int32(4),
		LogFile:           rpc.String("restore.log"),
		Root:              rpc.String(rs.criuRoot),
		RstSibling:        rpc.Bool(true),
		ManageCgroups:     rpc.Bool(true),
		ManageCgroupsMode: &rs.mode,
		ShellJob:          rpc.Bool(o.ShellJob),
		TcpEstablished:    rpc.Bool(o.TCPEstablished),
		ExtUnixSk:         rpc.Bool(o.ExtUnixSk),
		FileLocks:         rpc.Bool(o.FileLocks),
		AutoDedup:         rpc.Bool(o.AutoDedup),
		LazyPages:         rpc.Bool(o.LazyPages),
		OrphanPtsMaster:   rpc.Bool(rs.terminal),
		ExtMnt:            rs.extMnt,
		JoinNs:            rs.joins,
	}
	if rs.emptyNs != 0 {
		opts.EmptyNs = rpc.Uint32(rs.emptyNs)
	}
	if rs.cfgFile != "" {
		opts.ConfigFile = rpc.String(rs.cfgFile)
	}
	if o.LsmProfile != "" {
		opts.LsmProfile = rpc.String(o.LsmProfile)
	}
	if o.LsmMountContext != "" {
		opts.LsmMountContext = rpc.String(o.LsmMountContext)
	}
	for key, p := range rs.nsPaths {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, fmt.Errorf("config.json: linux.namespaces: %w", err)
		}
		rs.closeLater(func() { f.Close() })
		opts.InheritFd = append(opts.InheritFd, &rpc.InheritFd{Key: rpc.String(key), Fd: rpc.Int32(fdOf(f))})
	}
	// Init's stdio that was a pipe or socket outside the container comes
	// back as ours (the engine's).
	for i, d := range rs.descs {
		if i < 3 && criu.External(d) && o.Stdio[i] != nil {
			opts.InheritFd = append(opts.InheritFd, &rpc.InheritFd{Key: rpc.String(d), Fd: rpc.Int32(fdOf(o.Stdio[i]))})
		}
	}
	return opts, extra, nil
}

// runCriu starts the swrk child in the container's cgroups (restored
// tasks are born in the cgroups their restorer is in) and has it restore;
// rs.pid is the restored init once it reported it.
func (rs *restoration) runCriu(opts *rpc.CriuOpts, extra []*os.File) error {
	sw, err := criu.Start(rs.o.CriuPath, extra, false)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	sw.Timeout = rs.o.CriuTimeout
	swrkDone := false
	defer func() {
		if !swrkDone {
			sw.Close()
		}
	}()
	if err := rs.cg.Apply(sw.Pid()); err != nil {
		return fmt.Errorf("restore: cgroup: %w", err)
	}
	if err := rs.cg.Set(rs.spec.Linux.Resources); err != nil {
		return fmt.Errorf("restore: cgroup: %w", err)
	}
	roots, err := cgroupRoots(sw.Pid())
	if err != nil {
		return fmt.Errorf("restore: cgroup: %w", err)
	}
	opts.CgRoot = roots

	t := rpc.CriuReqType_RESTORE
	_, derr := sw.Do(&rpc.CriuReq{Type: &t, Opts: opts}, rs.notify)
	swrkDone = true
	sw.Close()
	rs.detach()
	if derr != nil {
		if err := criu.DetachYards(rs.workDir); err != nil {
			derr = fmt.Errorf("%w (and %v)", derr, err)
		}
		log := filepath.Join(rs.workDir, "restore.log")
		if e := sw.Stderr(); e != "" {
			derr = fmt.Errorf("%w: %s", derr, e)
		}
		return fmt.Errorf("restore: %w%s (--image-path %s; CRIU's log: %s)", derr, criuCause(derr, log), rs.imageDir, log)
	}
	if rs.pid <= 0 {
		return errors.New("restore: CRIU reported no restored pid")
	}
	return nil
}

// notify answers CRIU's notifications: the hooks once the namespaces are
// set up, the pty master to the console socket, the restored init's pid.
func (rs *restoration) notify(script string, p int32, fd *os.File) error {
	spec := rs.spec
	hs := func(status rspec.ContainerState) *rspec.State {
		return &rspec.State{Version: rspec.Version, ID: rs.o.ID, Status: status, Pid: int(p), Bundle: rs.bundle, Annotations: spec.Annotations}
	}
	switch script {
	case "setup-namespaces":
		if spec.Hooks == nil {
			return nil
		}
		if err := hooks.Run("prestart", spec.Hooks.Prestart, hs(rspec.StateCreated)); err != nil {
			return err
		}
		return hooks.Run("createRuntime", spec.Hooks.CreateRuntime, hs(rspec.StateCreating))
	case "orphan-pts-master":
		if fd == nil {
			return errors.New("no pty master received")
		}
		defer fd.Close()
		return console.SendFd(rs.console, "console", fd.Fd())
	case "post-restore":
		rs.pid = int(p)
	}
	if fd != nil {
		fd.Close()
	}
	return nil
}

// recordInit saves the restored init's pid and start time: the container
// is running.
func (rs *restoration) recordInit() error {
	pid := rs.pid
	start, _, err := procStartTime(pid)
	if err != nil {
		return fmt.Errorf("restore: restored init exited: %w", err)
	}
	rs.st.InitPid, rs.st.InitStartTime, rs.st.Creating, rs.st.Started = pid, start, false, true
	rs.rec.InitPid, rs.rec.InitStartTime, rs.rec.PendingCgroups = pid, start, nil
	if err := writeRecovery(rs.h, rs.rec); err != nil {
		return err
	}
	if err := rs.h.Save(rs.st); err != nil {
		return err
	}
	if rs.o.PidFile != "" {
		return writePidFile(rs.o.PidFile, pid)
	}
	return nil
}
