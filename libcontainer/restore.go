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
	Stdio             [3]*os.File // handed to CRIU for fds that were external pipes
}

// Restore brings a container back from a CRIU image under a new (or the
// same) id, from the bundle's config.json. It returns init's pid. On any
// failure nothing is left: no process, cgroup, mount or state dir.
func (r *Runtime) Restore(o RestoreOpts) (pid int, err error) {
	if err := state.ValidateID(o.ID); err != nil {
		return 0, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return 0, err
	}
	spec, rootPath, raw, err := loadBundle(bundle)
	if err != nil {
		return 0, err
	}
	if spec.Linux == nil {
		raw = nil
		spec.Linux = &rspec.Linux{}
	}
	terminal := spec.Process != nil && spec.Process.Terminal
	if terminal && o.ConsoleSocket == "" {
		return 0, errors.New("--console-socket: required to restore a container with process.terminal")
	}
	if !terminal && o.ConsoleSocket != "" {
		return 0, errors.New("--console-socket: the container has no terminal (process.terminal is false)")
	}
	mode, err := criu.ParseCgroupsMode(o.ManageCgroupsMode)
	if err != nil {
		return 0, err
	}
	emptyNs, err := criu.ParseEmptyNs(o.EmptyNs)
	if err != nil {
		return 0, err
	}
	if o.ImagePath == "" {
		return 0, errors.New("--image-path: required")
	}
	imageDir, err := filepath.Abs(o.ImagePath)
	if err != nil {
		return 0, fmt.Errorf("--image-path: %w", err)
	}
	if err := criu.CheckImageDir("--image-path", imageDir); err != nil {
		return 0, err
	}
	if uid, gid, ok := specNSRoot(spec); ok {
		if err := checkImageDirForUserNS("--image-path", imageDir, uid, gid); err != nil {
			return 0, err
		}
	}
	workDir := imageDir
	if o.WorkPath != "" {
		if workDir, err = filepath.Abs(o.WorkPath); err != nil {
			return 0, fmt.Errorf("--work-path: %w", err)
		}
		if fi, err := os.Stat(workDir); err != nil || !fi.IsDir() {
			return 0, fmt.Errorf("--work-path: %s: not a directory", workDir)
		}
	}
	descs, err := criu.ReadDescriptors(imageDir)
	if err != nil {
		return 0, fmt.Errorf("--image-path: %w", err)
	}
	cfgFile, err := criu.ConfigFile(spec.Annotations)
	if err != nil {
		return 0, fmt.Errorf("config.json: %w", err)
	}
	var joins []*rpc.JoinNamespace
	nsPaths := map[string]string{} // external key -> path
	for i, ns := range spec.Linux.Namespaces {
		if ns.Path == "" {
			continue
		}
		switch ns.Type {
		case rspec.NetworkNamespace:
			nsPaths[extNetNS] = ns.Path
		case rspec.PIDNamespace:
			nsPaths[extPidNS] = ns.Path
		case rspec.IPCNamespace, rspec.UTSNamespace, rspec.TimeNamespace:
			kind := map[rspec.LinuxNamespaceType]string{rspec.IPCNamespace: "ipc", rspec.UTSNamespace: "uts", rspec.TimeNamespace: "time"}[ns.Type]
			joins = append(joins, &rpc.JoinNamespace{Ns: rpc.String(kind), NsFile: rpc.String(ns.Path)})
		default:
			return 0, fmt.Errorf("config.json: linux.namespaces[%d]: joining a %s namespace by path is not supported on restore", i, ns.Type)
		}
		if _, err := os.Stat(ns.Path); err != nil {
			return 0, fmt.Errorf("config.json: linux.namespaces[%d].path: %w", i, err)
		}
	}

	h, err := r.store.Create(o.ID)
	if err != nil {
		return 0, err
	}
	defer h.Unlock()
	var cg cgroups.Manager
	defer func() {
		if err != nil {
			r.cleanupFailedCreate(h, pid, cg)
			pid = 0
		}
	}()
	if err := criu.Check(o.CriuPath); err != nil {
		return 0, criuUnusable("restore", err)
	}
	st := &state.State{
		ID: o.ID, Bundle: bundle, Rootfs: rootPath, Created: time.Now().UTC(),
		Owner: ownerName(), Annotations: spec.Annotations, Config: spec, Creating: true,
		Systemd: r.Systemd, Rootless: r.Rootless,
	}
	st.SetConfigJSON(raw)
	if err := h.Save(st); err != nil {
		return 0, err
	}
	cg, err = cgroups.New(r.cgroupConfig(o.ID, briefOf(spec), r.Systemd, r.Rootless))
	if err != nil {
		return 0, err
	}
	st.CgroupPaths = cg.Paths()
	rec := recovery{Systemd: r.Systemd, Rootless: r.Rootless, PendingCgroups: cg.Missing(), CgroupsPath: spec.Linux.CgroupsPath}
	if err := writeRecovery(h, rec); err != nil {
		return 0, err
	}
	r.rememberCgroup(o.ID, cg)

	var consoleConn *os.File
	if terminal {
		if consoleConn, err = dialUnix(o.ConsoleSocket); err != nil {
			return 0, fmt.Errorf("--console-socket: %w", err)
		}
		defer consoleConn.Close()
	}

	// The rootfs as CRIU sees it: mountpoints of the external bind mounts
	// made in it (as create would), then a recursive bind for CRIU,
	// detached once it is done (CRIU's cgroup yard cannot be mounted in a
	// swrk child given its own mount namespace: EINVAL in the VM). The
	// bind is a slave, not private: a container root that was a slave of
	// a host mount (create makes / rslave) is restored by copying the
	// sharing of this root (MOVE_MOUNT_SET_GROUP), which the kernel
	// refuses from a private mount; as a slave nothing CRIU mounts under
	// it propagates back to the host.
	extMnt, err := criuRestoreMounts(spec, bundle)
	if err != nil {
		return 0, err
	}
	if err := restoreMountpoints(spec, bundle, rootPath); err != nil {
		return 0, err
	}
	criuRoot := filepath.Join(h.Dir, "criu-root")
	if err := os.Mkdir(criuRoot, 0o700); err != nil {
		return 0, err
	}
	defer os.Remove(criuRoot)
	if err := unix.Mount(rootPath, criuRoot, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return 0, fmt.Errorf("restore: binding the rootfs for CRIU: %w", err)
	}
	mounted := true
	detach := func() {
		if mounted {
			unix.Unmount(criuRoot, unix.MNT_DETACH)
			mounted = false
		}
	}
	defer detach()
	if err := unix.Mount("", criuRoot, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}

	imgF, err := os.Open(imageDir)
	if err != nil {
		return 0, fmt.Errorf("--image-path: %w", err)
	}
	defer imgF.Close()
	workF, err := os.Open(workDir)
	if err != nil {
		return 0, fmt.Errorf("--work-path: %w", err)
	}
	defer workF.Close()
	// Image and work dirs by our fd numbers (CRIU opens them through
	// /proc/<peer>/fd); inherited fds are passed to the child, by its own.
	var extra []*os.File
	fdOf := func(f *os.File) int32 { extra = append(extra, f); return int32(3 + len(extra)) }

	opts := &rpc.CriuOpts{
		ImagesDirFd:       rpc.Int32(int32(imgF.Fd())),
		WorkDirFd:         rpc.Int32(int32(workF.Fd())),
		LogLevel:          rpc.Int32(4),
		LogFile:           rpc.String("restore.log"),
		Root:              rpc.String(criuRoot),
		RstSibling:        rpc.Bool(true),
		ManageCgroups:     rpc.Bool(true),
		ManageCgroupsMode: &mode,
		ShellJob:          rpc.Bool(o.ShellJob),
		TcpEstablished:    rpc.Bool(o.TCPEstablished),
		ExtUnixSk:         rpc.Bool(o.ExtUnixSk),
		FileLocks:         rpc.Bool(o.FileLocks),
		AutoDedup:         rpc.Bool(o.AutoDedup),
		LazyPages:         rpc.Bool(o.LazyPages),
		OrphanPtsMaster:   rpc.Bool(terminal),
		ExtMnt:            extMnt,
		JoinNs:            joins,
	}
	if emptyNs != 0 {
		opts.EmptyNs = rpc.Uint32(emptyNs)
	}
	if cfgFile != "" {
		opts.ConfigFile = rpc.String(cfgFile)
	}
	if o.LsmProfile != "" {
		opts.LsmProfile = rpc.String(o.LsmProfile)
	}
	if o.LsmMountContext != "" {
		opts.LsmMountContext = rpc.String(o.LsmMountContext)
	}
	for key, p := range nsPaths {
		f, err := os.Open(p)
		if err != nil {
			return 0, fmt.Errorf("config.json: linux.namespaces: %w", err)
		}
		defer f.Close()
		opts.InheritFd = append(opts.InheritFd, &rpc.InheritFd{Key: rpc.String(key), Fd: rpc.Int32(fdOf(f))})
	}
	// Init's stdio that was a pipe or socket outside the container comes
	// back as ours (the engine's).
	for i, d := range descs {
		if i < 3 && criu.External(d) && o.Stdio[i] != nil {
			opts.InheritFd = append(opts.InheritFd, &rpc.InheritFd{Key: rpc.String(d), Fd: rpc.Int32(fdOf(o.Stdio[i]))})
		}
	}

	sw, err := criu.Start(o.CriuPath, extra, false)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	swrkDone := false
	defer func() {
		if !swrkDone {
			sw.Close()
		}
	}()
	// Restored tasks are born in the cgroups their restorer is in.
	if err := cg.Apply(sw.Pid()); err != nil {
		return 0, fmt.Errorf("restore: cgroup: %w", err)
	}
	if err := cg.Set(spec.Linux.Resources); err != nil {
		return 0, fmt.Errorf("restore: cgroup: %w", err)
	}
	roots, err := cgroupRoots(sw.Pid())
	if err != nil {
		return 0, fmt.Errorf("restore: cgroup: %w", err)
	}
	opts.CgRoot = roots

	hs := func(status rspec.ContainerState, p int32) *rspec.State {
		return &rspec.State{Version: rspec.Version, ID: o.ID, Status: status, Pid: int(p), Bundle: bundle, Annotations: spec.Annotations}
	}
	t := rpc.CriuReqType_RESTORE
	_, derr := sw.Do(&rpc.CriuReq{Type: &t, Opts: opts}, func(script string, p int32, fd *os.File) error {
		switch script {
		case "setup-namespaces":
			if spec.Hooks == nil {
				return nil
			}
			if err := hooks.Run("prestart", spec.Hooks.Prestart, hs(rspec.StateCreated, p)); err != nil {
				return err
			}
			return hooks.Run("createRuntime", spec.Hooks.CreateRuntime, hs(rspec.StateCreating, p))
		case "orphan-pts-master":
			if fd == nil {
				return errors.New("no pty master received")
			}
			defer fd.Close()
			return console.SendFd(consoleConn, "console", fd.Fd())
		case "post-restore":
			pid = int(p)
		}
		if fd != nil {
			fd.Close()
		}
		return nil
	})
	swrkDone = true
	sw.Close()
	detach()
	if derr != nil {
		if e := sw.Stderr(); e != "" {
			derr = fmt.Errorf("%w: %s", derr, e)
		}
		return pid, fmt.Errorf("restore: %w (CRIU's log: %s)", derr, filepath.Join(workDir, "restore.log"))
	}
	if pid <= 0 {
		return 0, errors.New("restore: CRIU reported no restored pid")
	}
	start, _, err := procStartTime(pid)
	if err != nil {
		return pid, fmt.Errorf("restore: restored init exited: %w", err)
	}
	st.InitPid, st.InitStartTime, st.Creating, st.Started = pid, start, false, true
	rec.InitPid, rec.InitStartTime, rec.PendingCgroups = pid, start, nil
	if err := writeRecovery(h, rec); err != nil {
		return pid, err
	}
	if err := h.Save(st); err != nil {
		return pid, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			return pid, err
		}
	}
	return pid, nil
}
