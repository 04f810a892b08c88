package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/myrun-org/myrun/libcontainer/criu/rpc"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/criu"
)

// CheckpointOpts are `myrun checkpoint`'s flags (runc's).
type CheckpointOpts struct {
	CriuPath          string // global --criu; "" = criu on PATH
	ImagePath         string
	WorkPath          string // "" = ImagePath
	ParentPath        string // a pre-dump; relative paths are to ImagePath, as CRIU reads them
	LeaveRunning      bool
	TCPEstablished    bool
	TCPSkipInFlight   bool
	ExtUnixSk         bool
	ShellJob          bool
	LinkRemap         bool
	LazyPages         bool
	StatusFd          int // -1 = none
	PageServer        string
	FileLocks         bool
	PreDump           bool
	ManageCgroupsMode string
	EmptyNs           []string
	AutoDedup         bool
}

// External keys for namespaces the container joined by path: the dump
// names them, the restore hands CRIU an fd for each.
const (
	extNetNS = "extRootNetNS"
	extPidNS = "extRootPidNS"
)

// criuUnusable wraps a failed criu.Check in the words engines show.
func criuUnusable(verb string, err error) error {
	var ke *criu.KernelError
	if errors.As(err, &ke) {
		return fmt.Errorf("%s: CRIU cannot run on this kernel: %v", verb, err)
	}
	return fmt.Errorf("%s: %w", verb, err)
}

// Checkpoint dumps a running (or paused) container with CRIU. Unless
// LeaveRunning or PreDump, the container is gone afterwards (as runc).
// Every input is checked before CRIU runs; a failure before CRIU leaves
// nothing behind and the container untouched.
func (r *Runtime) Checkpoint(id string, o CheckpointOpts) (err error) {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.close()
	if s := r.status(c); s != Running && s != Paused {
		return fmt.Errorf("checkpoint: container %s is %s: only a running or paused container can be checkpointed", id, s)
	}
	spec, err := c.st.Spec()
	if err != nil {
		return err
	}
	mode, err := criu.ParseCgroupsMode(o.ManageCgroupsMode)
	if err != nil {
		return err
	}
	emptyNs, err := criu.ParseEmptyNs(o.EmptyNs)
	if err != nil {
		return err
	}
	if o.ImagePath == "" {
		return errors.New("--image-path: required")
	}
	imageDir, err := filepath.Abs(o.ImagePath)
	if err != nil {
		return fmt.Errorf("--image-path: %w", err)
	}
	workDir := imageDir
	if o.WorkPath != "" {
		if workDir, err = filepath.Abs(o.WorkPath); err != nil {
			return fmt.Errorf("--work-path: %w", err)
		}
	}
	if o.ParentPath != "" {
		p := o.ParentPath
		if !filepath.IsAbs(p) {
			p = filepath.Join(imageDir, p)
		}
		if err := criu.CheckPreDump("--parent-path", p); err != nil {
			return err
		}
	}
	var psAddr string
	var psPort int32
	if o.PageServer != "" {
		if psAddr, psPort, err = criu.ParsePageServer(o.PageServer); err != nil {
			return err
		}
	}
	if o.PreDump && o.LazyPages {
		return errors.New("--pre-dump and --lazy-pages cannot be used together")
	}
	cfgFile, err := criu.ConfigFile(spec.Annotations)
	if err != nil {
		return err
	}
	if err := criu.Check(o.CriuPath); err != nil {
		return criuUnusable("checkpoint", err)
	}

	// Directories we make are removed again if CRIU fails before writing
	// anything worth reading (its log).
	var made []string
	defer func() {
		if err != nil {
			for _, d := range slices.Backward(made) {
				if os.Remove(d) != nil {
					// CRIU wrote its log there: keep it and say so.
					err = fmt.Errorf("%w (CRIU's log: %s)", err, filepath.Join(d, "dump.log"))
				}
			}
		}
	}()
	for _, d := range []struct{ flag, path string }{{"--image-path", imageDir}, {"--work-path", workDir}} {
		if _, serr := os.Stat(d.path); errors.Is(serr, os.ErrNotExist) {
			if err := os.Mkdir(d.path, 0o700); err != nil {
				return fmt.Errorf("%s: %w", d.flag, err)
			}
			made = append(made, d.path)
		} else if serr != nil {
			return fmt.Errorf("%s: %w", d.flag, serr)
		}
	}
	// A directory we made for a user-namespaced container goes to the
	// container's root, which opens the images on restore.
	if uid, gid, ok := nsRootOf(c.st.InitPid); ok && slices.Contains(made, imageDir) {
		if err := os.Chown(imageDir, uid, gid); err != nil {
			return fmt.Errorf("--image-path: %w", err)
		}
	}
	imgF, err := os.Open(imageDir)
	if err != nil {
		return fmt.Errorf("--image-path: %w", err)
	}
	defer imgF.Close()
	workF, err := os.Open(workDir)
	if err != nil {
		return fmt.Errorf("--work-path: %w", err)
	}
	defer workF.Close()
	// CRIU opens the image and work dirs (and the status fd) through
	// /proc/<peer>/fd/N of the process on the other end of the socket:
	// our fd numbers. Only inherit_fd and join_ns fds are its own.
	var extra []*os.File

	pid := c.st.InitPid
	opts := &rpc.CriuOpts{
		Pid:               rpc.Int32(int32(pid)),
		ImagesDirFd:       rpc.Int32(int32(imgF.Fd())),
		WorkDirFd:         rpc.Int32(int32(workF.Fd())),
		LogLevel:          rpc.Int32(4),
		LogFile:           rpc.String("dump.log"),
		Root:              rpc.String(c.st.Rootfs),
		ManageCgroups:     rpc.Bool(true),
		ManageCgroupsMode: &mode,
		ShellJob:          rpc.Bool(o.ShellJob),
		LeaveRunning:      rpc.Bool(o.LeaveRunning || o.PreDump),
		TcpEstablished:    rpc.Bool(o.TCPEstablished),
		TcpSkipInFlight:   rpc.Bool(o.TCPSkipInFlight),
		ExtUnixSk:         rpc.Bool(o.ExtUnixSk),
		FileLocks:         rpc.Bool(o.FileLocks),
		LinkRemap:         rpc.Bool(o.LinkRemap),
		AutoDedup:         rpc.Bool(o.AutoDedup),
		LazyPages:         rpc.Bool(o.LazyPages),
		OrphanPtsMaster:   rpc.Bool(spec.Process != nil && spec.Process.Terminal),
	}
	if emptyNs != 0 {
		opts.EmptyNs = rpc.Uint32(emptyNs)
	}
	if cfgFile != "" {
		opts.ConfigFile = rpc.String(cfgFile)
	}
	if o.ParentPath != "" {
		opts.ParentImg = rpc.String(o.ParentPath)
	}
	if o.PreDump || o.ParentPath != "" {
		opts.TrackMem = rpc.Bool(true)
	}
	if o.PageServer != "" {
		opts.Ps = &rpc.CriuPageServerInfo{Address: rpc.String(psAddr), Port: rpc.Int32(psPort)}
	}
	if o.StatusFd >= 0 {
		sf := os.NewFile(uintptr(o.StatusFd), "status-fd")
		if sf == nil {
			return fmt.Errorf("--status-fd: %d: not an fd", o.StatusFd)
		}
		opts.StatusFd = rpc.Int32(int32(sf.Fd()))
	}
	if cg := r.cgroupOf(c); cg != nil {
		if p := freezerDir(cg); p != "" {
			opts.FreezeCgroup = rpc.String(p)
		}
	}
	if !o.PreDump {
		opts.ExtMnt = criuDumpMounts(spec, func(p string) bool {
			fi, err := os.Stat(fmt.Sprintf("/proc/%d/root%s", pid, cleanDest(p)))
			return err == nil && !fi.IsDir()
		})
	}
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			key := map[rspec.LinuxNamespaceType]string{rspec.NetworkNamespace: extNetNS, rspec.PIDNamespace: extPidNS}[ns.Type]
			if ns.Path == "" || key == "" {
				continue
			}
			var st unix.Stat_t
			if err := unix.Stat(ns.Path, &st); err != nil {
				return fmt.Errorf("linux.namespaces: %s path %s: %w", ns.Type, ns.Path, err)
			}
			kind := map[string]string{extNetNS: "net", extPidNS: "pid"}[key]
			opts.External = append(opts.External, fmt.Sprintf("%s[%d]:%s", kind, st.Ino, key))
		}
	}
	if !o.PreDump {
		if err := criu.WriteDescriptors(imageDir, pid); err != nil {
			return fmt.Errorf("--image-path: %w", err)
		}
	}

	sw, err := criu.Start(o.CriuPath, extra, false)
	if err != nil {
		os.Remove(filepath.Join(imageDir, criu.DescriptorsFile))
		return fmt.Errorf("checkpoint: %w", err)
	}
	t := rpc.CriuReqType_DUMP
	if o.PreDump {
		t = rpc.CriuReqType_PRE_DUMP
	}
	_, derr := sw.Do(&rpc.CriuReq{Type: &t, Opts: opts}, func(string, int32, *os.File) error { return nil })
	sw.Close()
	if derr != nil {
		os.Remove(filepath.Join(imageDir, criu.DescriptorsFile))
		if e := sw.Stderr(); e != "" {
			return fmt.Errorf("checkpoint: %w: %s", derr, e)
		}
		return fmt.Errorf("checkpoint: %w", derr)
	}
	made = nil
	if o.LeaveRunning || o.PreDump {
		return nil
	}
	// CRIU killed the tree after dumping it: remove what is left.
	r.killAndWait(c)
	return r.destroy(c)
}

// freezerDir is the cgroup CRIU freezes the tree through: the v1 freezer,
// else the v2 directory.
func freezerDir(cg cgroups.Manager) string {
	p := cg.Paths()
	if d := p["freezer"]; d != "" {
		return d
	}
	if d := p[""]; d != "" {
		return d
	}
	return ""
}

func isBindMount(m rspec.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// cgroupRoots tells CRIU the cgroups a restore goes into: those the swrk
// child was placed in (the container's), read from its /proc/pid/cgroup.
func cgroupRoots(pid int) ([]*rpc.CgroupRoot, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	var roots []*rpc.CgroupRoot
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		ctrl := f[1]
		if strings.HasPrefix(ctrl, "name=") {
			continue
		}
		r := &rpc.CgroupRoot{Path: rpc.String(f[2])}
		if ctrl != "" {
			r.Ctrl = rpc.String(ctrl)
		}
		roots = append(roots, r)
	}
	return roots, nil
}
