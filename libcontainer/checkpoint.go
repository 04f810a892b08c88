package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
	CriuTimeout       time.Duration // bound on each CRIU answer; 0 = none; < 0: criu.Timeout's sources
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
	s := r.status(c)
	if s != Running && s != Paused {
		return fmt.Errorf("checkpoint: container %s is %s: only a running or paused container can be checkpointed", id, s)
	}
	d, err := r.checkDump(c, o)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = d.removeMade(err)
		}
	}()
	defer d.close() // runs before removeMade
	if err := d.makeDirs(); err != nil {
		return err
	}
	opts, err := d.criuOpts()
	if err != nil {
		return err
	}
	if !o.PreDump {
		if err := criu.WriteDescriptors(d.imageDir, d.pid); err != nil {
			return fmt.Errorf("--image-path: %w", err)
		}
	}
	if err := d.runCriu(opts); err != nil {
		return r.keepFreezerState(c, s == Paused, err)
	}
	d.made = nil
	herr := d.handImagesToNSRoot()
	if o.LeaveRunning || o.PreDump {
		return herr
	}
	// CRIU killed the tree after dumping it: remove what is left.
	r.killAndWait(c)
	return errors.Join(r.destroy(c), herr)
}

// keepFreezerState puts the container's cgroup back in the freezer state
// it had before CRIU ran, after a dump that failed (err): CRIU freezes the
// tree through FreezeCgroup first, and one that fails after that without
// thawing (it died, or was killed at --criu-timeout) would leave a running
// container paused. A container paused before stays paused.
func (r *Runtime) keepFreezerState(c *container, wasPaused bool, err error) error {
	cg := r.cgroupOf(c)
	if cg == nil {
		return err
	}
	st, serr := cg.FreezerState()
	if serr != nil || st == "" {
		return err
	}
	frozen := st == cgroups.StateFrozen
	switch {
	case frozen && !wasPaused:
		if terr := cg.Thaw(); terr != nil {
			return fmt.Errorf("%w; the container is left frozen: thawing it: %v", err, terr)
		}
	case !frozen && wasPaused:
		if ferr := cg.Freeze(); ferr != nil {
			return fmt.Errorf("%w; the paused container was thawed: freezing it again: %v", err, ferr)
		}
	}
	return err
}

// dumping is one Checkpoint in progress: its checked inputs, the
// directories it made (removed again if CRIU fails before writing
// anything worth reading, its log) and the files it opened.
type dumping struct {
	r        *Runtime
	c        *container
	o        CheckpointOpts
	spec     *rspec.Spec
	pid      int // the container's init
	mode     rpc.CriuCgMode
	emptyNs  uint32
	imageDir string
	workDir  string
	psAddr   string
	psPort   int32
	cfgFile  string

	made    []string
	nsRoot  *int     // host uid the image dir was given to (makeDirs)
	closers []func() // run in reverse when Checkpoint returns
}

// checkDump checks every input before anything is made, CRIU last.
func (r *Runtime) checkDump(c *container, o CheckpointOpts) (_ *dumping, err error) {
	d := &dumping{r: r, c: c, o: o, pid: c.st.InitPid}
	if d.spec, err = c.st.Spec(); err != nil {
		return nil, err
	}
	if d.mode, err = criu.ParseCgroupsMode(o.ManageCgroupsMode); err != nil {
		return nil, err
	}
	if d.emptyNs, err = criu.ParseEmptyNs(o.EmptyNs); err != nil {
		return nil, err
	}
	if o.ImagePath == "" {
		return nil, errors.New("--image-path: required")
	}
	if d.imageDir, err = filepath.Abs(o.ImagePath); err != nil {
		return nil, fmt.Errorf("--image-path: %w", err)
	}
	d.workDir = d.imageDir
	if o.WorkPath != "" {
		if d.workDir, err = filepath.Abs(o.WorkPath); err != nil {
			return nil, fmt.Errorf("--work-path: %w", err)
		}
	}
	if o.ParentPath != "" {
		p := o.ParentPath
		if !filepath.IsAbs(p) {
			p = filepath.Join(d.imageDir, p)
		}
		if err := criu.CheckPreDump("--parent-path", p); err != nil {
			return nil, err
		}
	}
	if o.PageServer != "" {
		if d.psAddr, d.psPort, err = criu.ParsePageServer(o.PageServer); err != nil {
			return nil, err
		}
	}
	if o.PreDump && o.LazyPages {
		return nil, errors.New("--pre-dump and --lazy-pages cannot be used together")
	}
	if err := checkStatusFd(o); err != nil {
		return nil, err
	}
	if d.cfgFile, err = criu.ConfigFile(d.spec.Annotations); err != nil {
		return nil, err
	}
	if d.o.CriuTimeout, err = criu.Timeout(o.CriuTimeout, d.spec.Annotations); err != nil {
		return nil, err
	}
	if err := criu.Check(o.CriuPath); err != nil {
		return nil, criuUnusable("checkpoint", err)
	}
	return d, nil
}

// checkStatusFd checks --status-fd: CRIU writes to it only once the page
// server of a --lazy-pages dump is ready (through /proc/<our pid>/fd/N),
// so without --lazy-pages it would be ignored, and it must be open for
// writing.
func checkStatusFd(o CheckpointOpts) error {
	if o.StatusFd < 0 {
		return nil
	}
	if !o.LazyPages {
		return errors.New("--status-fd: only with --lazy-pages (CRIU writes to it once its lazy page server is ready)")
	}
	fl, err := unix.FcntlInt(uintptr(o.StatusFd), unix.F_GETFL, 0)
	if err != nil {
		return fmt.Errorf("--status-fd: %d: %w", o.StatusFd, err)
	}
	if fl&(unix.O_WRONLY|unix.O_RDWR) == 0 {
		return fmt.Errorf("--status-fd: %d: not open for writing", o.StatusFd)
	}
	return nil
}

// makeDirs makes the image and work directories that do not exist. An
// image dir made for a user-namespaced container goes to the container's
// root, group host root, 0710: restored tasks open images as either.
func (d *dumping) makeDirs() error {
	for _, dir := range []struct{ flag, path string }{{"--image-path", d.imageDir}, {"--work-path", d.workDir}} {
		if _, serr := os.Stat(dir.path); errors.Is(serr, os.ErrNotExist) {
			if err := os.Mkdir(dir.path, 0o700); err != nil {
				return fmt.Errorf("%s: %w", dir.flag, err)
			}
			d.made = append(d.made, dir.path)
		} else if serr != nil {
			return fmt.Errorf("%s: %w", dir.flag, serr)
		}
	}
	if uid, _, ok := nsRootOf(d.pid); ok && slices.Contains(d.made, d.imageDir) {
		if err := os.Chown(d.imageDir, uid, 0); err != nil {
			return fmt.Errorf("--image-path: %w", err)
		}
		if err := os.Chmod(d.imageDir, 0o710); err != nil {
			return fmt.Errorf("--image-path: %w", err)
		}
		d.nsRoot = &uid
	}
	return nil
}

// handImagesToNSRoot gives the files CRIU wrote (0600, root's) to the
// container's root, group host root, mode 0640. A restored task opens
// some images (timens-0.img) twice: once before its uid_map is written,
// as host uid and gid 0 without capabilities over the dir's owner, which
// the group bits let through (the dir is 0710), and once as the
// container's root, which owns them. Symlinks are not followed.
func (d *dumping) handImagesToNSRoot() error {
	if d.nsRoot == nil {
		return nil
	}
	ents, err := os.ReadDir(d.imageDir)
	if err != nil {
		return fmt.Errorf("--image-path: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := giveImage(filepath.Join(d.imageDir, e.Name()), *d.nsRoot); err != nil {
			return fmt.Errorf("--image-path: give the images to the container's root: %w", err)
		}
	}
	return nil
}

// giveImage makes one image file uid's, group root's, mode 0640, through
// an fd opened without following a symlink.
func giveImage(path string, uid int) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chown(uid, 0); err != nil {
		return err
	}
	return f.Chmod(0o640)
}

// removeMade removes the directories made, last first; one CRIU wrote
// its log in is kept, and err says so.
func (d *dumping) removeMade(err error) error {
	for _, dir := range slices.Backward(d.made) {
		if os.Remove(dir) != nil {
			err = fmt.Errorf("%w (CRIU's log: %s)", err, filepath.Join(dir, "dump.log"))
		}
	}
	return err
}

// close closes, last first, the files opened for CRIU.
func (d *dumping) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

// criuOpts is the dump request's options. CRIU opens the image and work
// dirs (and the status fd) through /proc/<peer>/fd/N of the process on
// the other end of the socket: our fd numbers.
func (d *dumping) criuOpts() (*rpc.CriuOpts, error) {
	o := d.o
	imgF, err := os.Open(d.imageDir)
	if err != nil {
		return nil, fmt.Errorf("--image-path: %w", err)
	}
	d.closers = append(d.closers, func() { imgF.Close() })
	workF, err := os.Open(d.workDir)
	if err != nil {
		return nil, fmt.Errorf("--work-path: %w", err)
	}
	d.closers = append(d.closers, func() { workF.Close() })
	opts := &rpc.CriuOpts{
		Pid:               rpc.Int32(int32(d.pid)),
		ImagesDirFd:       rpc.Int32(int32(imgF.Fd())),
		WorkDirFd:         rpc.Int32(int32(workF.Fd())),
		LogLevel:          rpc.Int32(4),
		LogFile:           rpc.String("dump.log"),
		Root:              rpc.String(d.c.st.Rootfs),
		ManageCgroups:     rpc.Bool(true),
		ManageCgroupsMode: &d.mode,
		ShellJob:          rpc.Bool(o.ShellJob),
		LeaveRunning:      rpc.Bool(o.LeaveRunning || o.PreDump),
		TcpEstablished:    rpc.Bool(o.TCPEstablished),
		TcpSkipInFlight:   rpc.Bool(o.TCPSkipInFlight),
		ExtUnixSk:         rpc.Bool(o.ExtUnixSk),
		FileLocks:         rpc.Bool(o.FileLocks),
		LinkRemap:         rpc.Bool(o.LinkRemap),
		AutoDedup:         rpc.Bool(o.AutoDedup),
		LazyPages:         rpc.Bool(o.LazyPages),
		OrphanPtsMaster:   rpc.Bool(d.spec.Process != nil && d.spec.Process.Terminal),
	}
	if d.emptyNs != 0 {
		opts.EmptyNs = rpc.Uint32(d.emptyNs)
	}
	if d.cfgFile != "" {
		opts.ConfigFile = rpc.String(d.cfgFile)
	}
	if o.ParentPath != "" {
		opts.ParentImg = rpc.String(o.ParentPath)
	}
	if o.PreDump || o.ParentPath != "" {
		opts.TrackMem = rpc.Bool(true)
	}
	if o.PageServer != "" {
		opts.Ps = &rpc.CriuPageServerInfo{Address: rpc.String(d.psAddr), Port: rpc.Int32(d.psPort)}
	}
	if o.StatusFd >= 0 {
		opts.StatusFd = rpc.Int32(int32(o.StatusFd))
	}
	return opts, d.addExternals(opts)
}

// addExternals adds the freezer cgroup, the external mounts and the
// namespaces joined by path (named by inode, restored from fds).
func (d *dumping) addExternals(opts *rpc.CriuOpts) error {
	if cg := d.r.cgroupOf(d.c); cg != nil {
		if p := freezerDir(cg); p != "" {
			opts.FreezeCgroup = rpc.String(p)
		}
	}
	if !d.o.PreDump {
		opts.ExtMnt = criuDumpMounts(d.spec, func(p string) bool {
			fi, err := os.Stat(fmt.Sprintf("/proc/%d/root%s", d.pid, cleanDest(p)))
			return err == nil && !fi.IsDir()
		})
	}
	if d.spec.Linux == nil {
		return nil
	}
	for _, ns := range d.spec.Linux.Namespaces {
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
	return nil
}

// runCriu has a swrk child dump (or pre-dump); on failure the
// descriptors record is removed again.
func (d *dumping) runCriu(opts *rpc.CriuOpts) error {
	// Only inherit_fd and join_ns fds are CRIU's own: none for a dump.
	sw, err := criu.Start(d.o.CriuPath, nil, false)
	if err != nil {
		os.Remove(filepath.Join(d.imageDir, criu.DescriptorsFile))
		return fmt.Errorf("checkpoint: %w", err)
	}
	sw.Timeout = d.o.CriuTimeout
	t := rpc.CriuReqType_DUMP
	if d.o.PreDump {
		t = rpc.CriuReqType_PRE_DUMP
	}
	_, derr := sw.Do(&rpc.CriuReq{Type: &t, Opts: opts}, func(string, int32, *os.File) error { return nil })
	sw.Close()
	if derr != nil {
		os.Remove(filepath.Join(d.imageDir, criu.DescriptorsFile))
		if err := criu.DetachYards(d.workDir); err != nil {
			derr = fmt.Errorf("%w (and %v)", derr, err)
		}
		if e := sw.Stderr(); e != "" {
			derr = fmt.Errorf("%w: %s", derr, e)
		}
		return fmt.Errorf("checkpoint: %w%s (--image-path %s)", derr, criuCause(derr, filepath.Join(d.workDir, "dump.log")), d.imageDir)
	}
	return nil
}

// criuCause is ": " and the first error in CRIU's log when it holds one
// that err (CRIU's RPC answer) does not already give.
func criuCause(err error, log string) string {
	if e := criu.LogError(log); e != "" && !strings.Contains(err.Error(), e) {
		return ": " + e
	}
	return ""
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
