// Package state keeps one directory per container under the runtime's root:
// state.json (written atomically) and the exec fifo, guarded by an flock on
// the directory so concurrent commands on one id are serialised.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/fdio"
	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
)

// Errors with runc's wording, which engines match on.
var (
	ErrNotExist = errors.New("container does not exist")
	ErrExist    = errors.New("container with given ID already exists")
)

const stateFile = "state.json"

// ExecFifo is the name of the fifo that init blocks on until `start`.
const ExecFifo = "exec.fifo"

// State is what the runtime remembers about a container between commands.
type State struct {
	ID            string            `json:"id"`
	Bundle        string            `json:"bundle"`
	Rootfs        string            `json:"rootfs"`
	InitPid       int               `json:"init_pid"`
	InitStartTime uint64            `json:"init_start_time"`
	Created       time.Time         `json:"created"`
	Owner         string            `json:"owner"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	Config        *rspec.Spec       `json:"config"`
	Creating      bool              `json:"creating,omitempty"`
	CgroupPaths   map[string]string `json:"cgroup_paths,omitempty"`
	Systemd       bool              `json:"systemd,omitempty"`
	Rootless      bool              `json:"rootless,omitempty"`
	SharedPidNS   bool              `json:"shared_pid_ns,omitempty"`
	Started       bool              `json:"started,omitempty"`
	// PoststopDone records that poststop hooks ran, so a retried delete
	// does not run them twice.
	PoststopDone bool `json:"poststop_done,omitempty"`

	configJSON []byte // see raw.go
	brief      *Brief
}

// ValidateID rejects ids that could escape the state root or confuse tools:
// only [A-Za-z0-9_+.-] (a loop, not a regexp compiled at every start).
func ValidateID(id string) error {
	if id == "" || id == "." || id == ".." || len(id) > 1024 {
		return fmt.Errorf("invalid id format: %q", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '+' || c == '-' || c == '.') {
			return fmt.Errorf("invalid id format: %q", id)
		}
	}
	return nil
}

// Store is the runtime's root directory.
type Store struct {
	Root string
}

// Handle is a locked container directory.
type Handle struct {
	ID  string
	Dir string
	fd  int
}

func (s *Store) dir(id string) string { return filepath.Join(s.Root, id) }

// Create makes and locks a new container directory; it fails with ErrExist
// when the id is taken, atomically (mkdir).
func (s *Store) Create(id string) (*Handle, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Root, 0o711); err != nil {
		return nil, fmt.Errorf("creating state root: %w", err)
	}
	dir := s.dir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	h, err := lock(id, dir)
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	return h, nil
}

// Open locks an existing container directory.
func (s *Store) Open(id string) (*Handle, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	h, err := lock(id, s.dir(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	// A concurrent delete may have removed it while we waited.
	if _, err := os.Stat(filepath.Join(h.Dir, stateFile)); err != nil {
		h.Unlock()
		return nil, ErrNotExist
	}
	return h, nil
}

func lock(id, dir string) (*Handle, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return &Handle{ID: id, Dir: dir, fd: fd}, nil
}

// Unlock releases the lock.
func (h *Handle) Unlock() {
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}

// Load reads state.json; a truncated or garbage file is a clear error.
func (h *Handle) Load() (*State, error) {
	b, err := smallfile.ReadAt(h.fd, stateFile) // the directory we hold locked
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("corrupt state file %s: %w", filepath.Join(h.Dir, stateFile), err)
	}
	if st.ID != h.ID {
		return nil, fmt.Errorf("corrupt state file %s: id %q does not match %q", filepath.Join(h.Dir, stateFile), st.ID, h.ID)
	}
	return &st, nil
}

// Save writes state.json atomically: temp file, rename. No fsync, as
// runc and crun: everything a state describes (processes, cgroups,
// mounts) ends with the kernel, so a state file a crash left half written
// describes nothing left to recover, and `delete --force` removes it. On
// a root on disk (/run is on the root filesystem on some hosts) three
// fsyncs per container cost journal commits.
func (h *Handle) Save(st *State) error {
	// Not json.Marshal(st): it would check and compact MarshalJSON's
	// output, the whole state, once more.
	b, err := st.MarshalJSON()
	if err != nil {
		return err
	}
	tmp, fd, err := createTemp(h.Dir)
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	err = fdio.WriteAll(fd, b)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err == nil {
		// Not os.Rename: it lstats the target first.
		err = unix.Rename(tmp, filepath.Join(h.Dir, stateFile))
	}
	if err != nil {
		unix.Unlink(tmp)
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}

// createTemp creates dir/.state-N for writing, as os.CreateTemp would,
// with plain syscalls: an *os.File tries to register a new file with the
// poller (two fcntl, an epoll_ctl that fails for regular files, two fcntl
// back), five syscalls per save.
func createTemp(dir string) (string, int, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, ".state-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err == unix.EEXIST && try < 100 {
			continue
		}
		if err != nil {
			return "", -1, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return name, fd, nil
	}
}

// Remove deletes the container directory; the handle stays locked until
// Unlock so waiters see it gone. Its files go through the locked
// directory's fd (a getdents and an unlinkat each, where os.RemoveAll
// tries unlink and rmdir of the directory first and opens it again);
// anything else in it, a sub-directory, is left to os.RemoveAll.
func (h *Handle) Remove() error {
	if h.removeFiles() == nil {
		err := unix.Rmdir(h.Dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
	}
	return os.RemoveAll(h.Dir)
}

func (h *Handle) removeFiles() error {
	if h.fd < 0 {
		return unix.EBADF
	}
	if _, err := unix.Seek(h.fd, 0, 0); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for {
		n, err := unix.ReadDirent(h.fd, buf)
		if err != nil || n == 0 {
			return err
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			if err := unix.Unlinkat(h.fd, name, 0); err != nil {
				return err
			}
		}
	}
}

// FifoPath is the exec fifo inside the container directory.
func (h *Handle) FifoPath() string { return filepath.Join(h.Dir, ExecFifo) }

// List returns the ids under the root, sorted.
func (s *Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// OpenRaw locks a container directory whether or not its state file is
// readable, so `delete --force` can remove what a crash left behind.
func (s *Store) OpenRaw(id string) (*Handle, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	return lock(id, s.dir(id))
}
