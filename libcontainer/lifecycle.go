package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/hooks"
	"github.com/myrun-org/myrun/libcontainer/state"
)

// Status values, the spec's plus runc's "paused".
const (
	Creating = "creating"
	Created  = "created"
	Running  = "running"
	Paused   = "paused"
	Stopped  = "stopped"
)

// ContainerState is what `myrun state` prints: the spec's state plus the
// fields runc adds and engines read.
type ContainerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// container is a loaded, locked container.
type container struct {
	h  *state.Handle
	st *state.State
}

func (r *Runtime) open(id string) (*container, error) {
	h, err := r.store.Open(id)
	if err != nil {
		return nil, err
	}
	st, err := h.Load()
	if err != nil {
		h.Unlock()
		return nil, err
	}
	return &container{h: h, st: st}, nil
}

func (c *container) close() { c.h.Unlock() }

func (r *Runtime) status(c *container) string {
	st := c.st
	if st.Creating {
		// A create that died half-way leaves "creating" behind; once its
		// init is gone it is simply stopped.
		if st.InitPid == 0 || !alive(st.InitPid, st.InitStartTime) {
			return Stopped
		}
		return Creating
	}
	if !alive(st.InitPid, st.InitStartTime) {
		return Stopped
	}
	if _, err := os.Lstat(c.h.FifoPath()); err == nil {
		return Created
	}
	if r.frozen(c) {
		return Paused
	}
	return Running
}

// frozen reads the container's freezer through the cgroup dirs its state
// recorded, or through a manager when it recorded none (a state.json
// written before cgroup_paths was, or a container without cgroups).
func (r *Runtime) frozen(c *container) bool {
	if len(c.st.CgroupPaths) > 0 {
		s, err := cgroups.FreezerStateAt(c.st.CgroupPaths)
		return err == nil && s == cgroups.StateFrozen
	}
	if cg := r.cgroupOf(c); cg != nil {
		s, err := cg.FreezerState()
		return err == nil && s == cgroups.StateFrozen
	}
	return false
}

// frozenBeforeStart is CheckBeforeStart's freezer check (a hybrid host's
// cgroup2 side included), read the way frozen reads.
func (r *Runtime) frozenBeforeStart(c *container) bool {
	if len(c.st.CgroupPaths) > 0 {
		f, err := cgroups.FrozenBeforeStartAt(c.st.CgroupPaths)
		return err == nil && f
	}
	if cg := r.cgroupOf(c); cg != nil {
		_, err := cgroups.CheckBeforeStart(cg)
		return errors.Is(err, cgroups.ErrFrozen)
	}
	return false
}

// cgroupOf is cgroupManager with its error logged, for the verbs that go
// on without a manager.
func (r *Runtime) cgroupOf(c *container) cgroups.Manager {
	cg, err := r.cgroupManager(c)
	if err != nil {
		r.Log.Warn("cgroup", "id", c.st.ID, "error", err)
		return nil
	}
	return cg
}

// cgroupManager builds (once per process) the manager of c's cgroup.
func (r *Runtime) cgroupManager(c *container) (cgroups.Manager, error) {
	if cg, ok := r.cgroups[c.st.ID]; ok {
		return cg, nil
	}
	b, err := c.st.Brief()
	if err != nil {
		return nil, err
	}
	cfg := r.cgroupConfig(c.st.ID, b, c.st.Systemd, c.st.Rootless)
	cfg.Paths = c.st.CgroupPaths
	cg, err := cgroups.New(cfg)
	if err != nil {
		return nil, err
	}
	r.rememberCgroup(c.st.ID, cg)
	return cg, nil
}

// rememberCgroup keeps cg for later verbs on id in this process.
func (r *Runtime) rememberCgroup(id string, cg cgroups.Manager) {
	if r.cgroups == nil {
		r.cgroups = map[string]cgroups.Manager{}
	}
	r.cgroups[id] = cg
}

func (r *Runtime) stateOf(c *container) *ContainerState {
	s := &ContainerState{
		OCIVersion: rspec.Version, ID: c.st.ID, Status: r.status(c), Bundle: c.st.Bundle,
		Rootfs: c.st.Rootfs, Created: c.st.Created, Annotations: c.st.Annotations, Owner: c.st.Owner,
	}
	if s.Status != Stopped {
		s.Pid = c.st.InitPid
	}
	return s
}

func (c *container) specState(status string) *rspec.State {
	pid := c.st.InitPid
	if status == Stopped {
		pid = 0
	}
	return &rspec.State{Version: rspec.Version, ID: c.st.ID, Status: rspec.ContainerState(status),
		Pid: pid, Bundle: c.st.Bundle, Annotations: c.st.Annotations}
}

// State returns the state of one container.
func (r *Runtime) State(id string) (*ContainerState, error) {
	c, err := r.open(id)
	if err != nil {
		return nil, err
	}
	defer c.close()
	return r.stateOf(c), nil
}

// Start lets a created container's init exec the user's process.
func (r *Runtime) Start(id string) error {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.close()
	switch s := r.status(c); s {
	case Created:
	case Stopped:
		return errStartStopped
	case Running:
		return errStartRunning
	case Paused:
		return errStartPaused
	default:
		return fmt.Errorf("cannot start a container in the %s state", s)
	}
	pidfd, err := openPidfd(c.st.InitPid, c.st.InitStartTime)
	if err != nil {
		return errStartStopped
	}
	defer unix.Close(pidfd)
	hasProcess, hs, err := c.st.Hooks()
	if err != nil {
		return err
	}
	if !hasProcess {
		// Nothing to run: the container ends here, as stopped.
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		waitExit(pidfd, 10*time.Second)
		return errors.New("cannot start a container without a process: config.json has no process")
	}
	// Frozen by hand after create: init could not take the fifo byte and
	// start would wait for it forever.
	if r.frozenBeforeStart(c) {
		return cgroups.ErrFrozen
	}
	if err := r.releaseFifo(c, pidfd); err != nil {
		return err
	}
	c.st.Started = true
	if err := c.h.Save(c.st); err != nil {
		return err
	}
	if hs != nil && len(hs.Poststart) > 0 {
		if err := hooks.RunAll("poststart", hs.Poststart, c.specState(Running)); err != nil {
			// The spec: a failing poststart hook is a warning only.
			r.Log.Warn(err.Error())
		}
	}
	return nil
}

// releaseFifo writes the byte that init waits for in read(2) on the exec
// fifo, which init holds open for reading and writing (close-on-exec): we
// return once the fifo has no reader left, that is once the user's process
// runs (or init died), so poststart hooks and signals reach the user's
// process, not init.
func (r *Runtime) releaseFifo(c *container, pidfd int) error {
	fd, err := unix.Open(c.h.FifoPath(), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENXIO) {
		// No reader: an init of an older myrun, which blocks opening
		// the write end (or a dead init, which that path reports).
		return r.releaseFifoReader(c, pidfd)
	}
	if err != nil {
		return fmt.Errorf("opening exec fifo: %w", err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte{'0'}); err != nil {
		if errors.Is(err, unix.EPIPE) {
			return errors.New("container init exited before start")
		}
		return fmt.Errorf("writing exec fifo: %w", err)
	}
	// The fifo has done its job: the container counts as running.
	if err := os.Remove(c.h.FifoPath()); err != nil {
		return err
	}
	for {
		// POLLERR on a fifo's write end: no reader is left.
		fds := []unix.PollFd{{Fd: int32(fd)}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return err
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 || fds[1].Revents&unix.POLLIN != 0 {
			return nil
		}
	}
}

// releaseFifoReader is the protocol of older inits, which block opening
// the fifo's write end: open the read end, read the byte, and wait for EOF.
func (r *Runtime) releaseFifoReader(c *container, pidfd int) error {
	fd, err := unix.Open(c.h.FifoPath(), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening exec fifo: %w", err)
	}
	defer unix.Close(fd)
	started := false
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return err
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0 {
			var b [16]byte
			n, err := unix.Read(fd, b[:])
			if n > 0 {
				if !started {
					started = true
					// The byte is read: the fifo has done its job,
					// and the container counts as running.
					if err := os.Remove(c.h.FifoPath()); err != nil {
						return err
					}
				}
				continue
			}
			if n == 0 && err == nil && started {
				return nil // EOF: init exec'd (or exited)
			}
		}
		if fds[1].Revents&unix.POLLIN != 0 {
			if started {
				return nil
			}
			return errors.New("container init exited before start")
		}
		if !started {
			// No writer yet: poll reports nothing until init opens.
			continue
		}
	}
}

// Kill sends sig to the container's init, or with all to every process in
// its cgroup.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.close()
	s := r.status(c)
	// Without a PID namespace of its own, killing init does not take the
	// container's other processes with it (init is not PID 1 of a
	// namespace): SIGKILL goes to every process in its cgroup, as runc
	// >= 1.2, also when init is already gone and the rest live on.
	hostPid := false
	if sig == unix.SIGKILL {
		if spec, err := c.st.Spec(); err == nil {
			hostPid = sharesPidNS(spec)
		}
	}
	if s == Stopped && !all && !hostPid {
		return errNotRunning
	}
	if all || hostPid {
		return r.signalAll(c, sig)
	}
	pidfd, err := openPidfd(c.st.InitPid, c.st.InitStartTime)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errNotRunning
		}
		return err
	}
	return nil
}

// sharesPidNS says whether the container runs in a PID namespace it does
// not own: none listed (the runtime's) or one joined by path.
func sharesPidNS(spec *rspec.Spec) bool {
	present, path := hasNS(spec, rspec.PIDNamespace)
	return !present || path != ""
}

// signalAll signals every process in the container's cgroup, freezing it
// first so none can fork past the signal.
func (r *Runtime) signalAll(c *container, sig unix.Signal) error {
	cg := r.cgroupOf(c)
	if cg == nil || !cg.Exists() {
		if alive(c.st.InitPid, c.st.InitStartTime) {
			return unix.Kill(c.st.InitPid, sig)
		}
		return nil
	}
	if sig == unix.SIGKILL {
		if ok, err := cgroups.KillAll(cg); ok {
			r.Log.Debug("killed through cgroup.kill", "id", c.st.ID)
			return err
		}
	}
	frozen := cg.Freeze() == nil
	pids, err := cg.Pids()
	for _, p := range pids {
		unix.Kill(p, sig)
	}
	if frozen {
		cg.Thaw()
	}
	return err
}

// Delete removes a stopped (or, with force, any) container.
func (r *Runtime) Delete(id string, force bool) error {
	c, err := r.open(id)
	if err != nil {
		if force {
			// A corrupt state file must not make a container undeletable.
			return r.forceRemoveCorrupt(id, err)
		}
		return err
	}
	defer c.close()
	switch s := r.status(c); s {
	case Stopped:
	default:
		if !force {
			return fmt.Errorf("cannot delete container %s that %w: %s", id, errNotStopped, s)
		}
		r.killAndWait(c)
	}
	return r.destroy(c)
}

// killAndWait SIGKILLs init (and, through cgroup.kill where there is one,
// the whole cgroup) and waits for init to exit. Its callers go on to
// destroy, whose kill loop ends whatever else the cgroup still holds.
func (r *Runtime) killAndWait(c *container) {
	cg := r.cgroupOf(c)
	if cg != nil {
		// Sub-cgroups too: a frozen process takes no SIGKILL.
		cgroups.ThawTree(cg)
	}
	pidfd, err := openPidfd(c.st.InitPid, c.st.InitStartTime)
	if cg != nil {
		// Every process at once where cgroup.kill exists (pure v2).
		if ok, _ := cgroups.KillAll(cg); ok {
			r.Log.Debug("killed through cgroup.kill", "id", c.st.ID)
		}
	}
	if err == nil {
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		waitExit(pidfd, 10*time.Second)
		unix.Close(pidfd)
	}
}

// destroy kills leftovers, removes the cgroup, runs poststop hooks and
// removes the state directory. A cgroup that cannot be removed (a process
// that does not die, something mounted in it) is an error naming it, and
// the state directory stays, as with runc since 1.2 (1.1 removed it and
// exited 0): delete can be retried and still finds the cgroup; the
// poststop hooks run then.
func (r *Runtime) destroy(c *container) error {
	if !r.recordedCgroupRemoved(c) {
		if err := r.destroyCgroupOf(c); err != nil {
			return err
		}
	}
	if _, hs, err := c.st.Hooks(); err != nil {
		r.Log.Warn("poststop hooks not run", "id", c.st.ID, "error", err)
	} else if hs != nil && len(hs.Poststop) > 0 && !c.st.PoststopDone {
		if err := hooks.RunAll("poststop", hs.Poststop, c.specState(Stopped)); err != nil {
			// The spec: poststop failures are warnings; deletion goes on.
			r.Log.Warn(err.Error())
		}
	}
	delete(r.cgroups, c.st.ID)
	r.destroyRdt(c.h)
	return c.h.Remove()
}

// recordedCgroupRemoved removes the cgroup of a stopped container through
// the dirs its state recorded (cgroups.RemoveIfEmptyAt), without building
// a manager, and says whether that proved it empty and gone. Not for a
// create that died (pending dirs to claim first), the systemd driver
// (systemd removes the unit's) or a manager this process has already.
func (r *Runtime) recordedCgroupRemoved(c *container) bool {
	if _, built := r.cgroups[c.st.ID]; built || c.st.Creating || c.st.Systemd {
		return false
	}
	return cgroups.RemoveIfEmptyAt(c.st.CgroupPaths) == nil
}

// destroyCgroupOf kills what is left in c's cgroup and removes it, with a
// manager.
func (r *Runtime) destroyCgroupOf(c *container) error {
	cg := r.cgroupOf(c)
	if cg == nil {
		return nil
	}
	if c.st.Creating {
		// create died: maybe between a mkdir and its marker.
		if rec, err := readRecovery(c.h); err == nil {
			cgroups.Claim(rec.PendingCgroups)
		}
	}
	// Without a pid namespace of its own, processes can outlive init:
	// destroyCgroup kills them until none is left. Not gated on Exists: a
	// create killed half-way may have made only some hierarchies'
	// directories; Destroy removes what is there.
	if err := destroyCgroup(cg); err != nil {
		return fmt.Errorf("container %s: %w", c.st.ID, err)
	}
	return nil
}

func (r *Runtime) forceRemoveCorrupt(id string, cause error) error {
	h, err := r.store.OpenRaw(id)
	if err != nil {
		if errors.Is(cause, state.ErrNotExist) {
			return nil // runc: delete --force of a missing container succeeds
		}
		return cause
	}
	defer h.Unlock()
	r.Log.Warn("removing container with unreadable state", "id", id, "error", cause)
	if err := r.recoverAndClean(h); err != nil {
		return err
	}
	return h.Remove()
}
