// Package container runs images as containers for `myimg run`: a record
// per container under <store>/containers/<id>, a bundle whose rootfs is an
// overlay of the cached image layers, a monitor process that holds the
// container's stdio, writes its log and records its exit code, and
// ps/stop/rm/exec/inspect on top of those records and the runtime's state.
package container

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/userns"
	"golang.org/x/sys/unix"
)

// Container statuses.
const (
	StatusCreating = "creating"
	StatusRunning  = "running"
	StatusExited   = "exited"
)

// Record is what we know of a container; it is the source of truth for
// ps, stop, rm and inspect, together with what exists on the host.
type Record struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Image       string    `json:"image"`
	ImageDigest string    `json:"imageDigest"`
	Command     []string  `json:"command"`
	Created     time.Time `json:"created"`
	Status      string    `json:"status"`
	Pid         int       `json:"pid,omitempty"`
	ExitCode    int       `json:"exitCode"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	FinishedAt  time.Time `json:"finishedAt,omitzero"`
	Error       string    `json:"error,omitempty"`
	MonitorPid  int       `json:"monitorPid,omitempty"`
	MonitorTime uint64    `json:"monitorStartTime,omitempty"`
	PausePid    int       `json:"pausePid,omitempty"`
	PauseTime   uint64    `json:"pauseStartTime,omitempty"`
	Runtime     string    `json:"runtime"`
	Bundle      string    `json:"bundle"`
	LogPath     string    `json:"logPath"`
	CgroupsPath string    `json:"cgroupsPath,omitempty"`
	// SystemdCgroup is a rootless container's cgroupsPath for the
	// runtime's systemd driver (rootlesscg.go): a scope of the user
	// manager, which systemd removes with the container's processes.
	SystemdCgroup string `json:"systemdCgroup,omitempty"`
	Hostname      string `json:"hostname"`
	StopSignal    string `json:"stopSignal"`
	AutoRemove    bool   `json:"autoRemove,omitempty"`
	Detached      bool   `json:"detached,omitempty"`
	// OpenStdin is -i with -d: the container reads the stdin fifo in its
	// directory, which `attach` writes (attach.go).
	OpenStdin bool `json:"openStdin,omitempty"`
	// TTY is -t with -d: the monitor holds the terminal (ttydetached.go).
	TTY      bool `json:"tty,omitempty"`
	Rootless bool `json:"rootless,omitempty"`
	// IDMaps are a rootless container's user namespace maps (the
	// caller's subordinate ranges, or the single mapping without them).
	IDMaps  *userns.Maps       `json:"idMaps,omitempty"`
	Network network.Attachment `json:"network"`
	// Connected are the networks joined by `network connect` (eth1...),
	// in the same network namespace; they are made again on restart.
	Connected []network.Attachment `json:"connectedNetworks,omitempty"`
	// --restart, carried out by the monitor (restart.go).
	Restart       string `json:"restart,omitempty"`
	RestartMax    int    `json:"restartMax,omitempty"`
	RestartCount  int    `json:"restartCount,omitempty"`
	StopRequested bool   `json:"stopRequested,omitempty"`
	// The effective healthcheck (image's HEALTHCHECK and --health-*
	// flags, defaults filled) and its state (health.go).
	Healthcheck *store.HealthConfig `json:"healthcheck,omitempty"`
	Health      *Health             `json:"health,omitempty"`
	// HealthOnFailure is --health-on-failure; HealthRestart asks the
	// monitor for one restart whatever the restart policy.
	HealthOnFailure string `json:"healthOnFailure,omitempty"`
	HealthRestart   bool   `json:"healthRestart,omitempty"`
	// DNS are run's --dns servers: they replace the network's name
	// server and the host's in resolv.conf.
	DNS []string `json:"dns,omitempty"`
	// Labels are the image's labels with run's --label over them.
	Labels map[string]string `json:"labels,omitempty"`
}

// Manager keeps container records beside an image store.
type Manager struct {
	Images *store.Store
	// Root is <image store>/containers.
	Root string
	// LogDir is /var/log/myimg for root, Root/logs otherwise.
	LogDir string
}

// Open returns the container store of an image store.
func Open(s *store.Store) (*Manager, error) {
	cs := &Manager{Images: s, Root: filepath.Join(s.Root, "containers"), LogDir: "/var/log/myimg"}
	if os.Geteuid() != 0 {
		cs.LogDir = filepath.Join(cs.Root, "logs")
	}
	for _, d := range []string{cs.Root, cs.StateRoot()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// StateRoot is the runtime's --root for our containers, so they never
// mix with containers of other tools using the same runtime.
func (cs *Manager) StateRoot() string { return filepath.Join(cs.Root, "state") }

// IPAMDir holds the address leases of bridge networks.
func (cs *Manager) IPAMDir() string { return filepath.Join(cs.Images.Root, "network") }

// Dir is the directory of container id.
func (cs *Manager) Dir(id string) string { return filepath.Join(cs.Root, id) }

func (cs *Manager) recordPath(id string) string { return filepath.Join(cs.Dir(id), "container.json") }

// Save writes r atomically. It never creates the container directory,
// so a monitor finishing after `rm` cannot bring a record back.
func (cs *Manager) Save(r *Record) error {
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(cs.recordPath(r.ID), b, 0o600)
}

// Load reads the record of id.
func (cs *Manager) Load(id string) (*Record, error) {
	b, err := os.ReadFile(cs.recordPath(id))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", cs.recordPath(id), err)
	}
	return &r, nil
}

// Update reads, changes and saves the record of id under its lock.
func (cs *Manager) Update(id string, fn func(r *Record)) (*Record, error) {
	unlock, err := lockFile(filepath.Join(cs.Dir(id), "lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := cs.Load(id)
	if err != nil {
		return nil, err
	}
	fn(r)
	return r, cs.Save(r)
}

// List returns every container, newest first. Directories without a
// readable record (a crash before the first save) come back as records
// with only the ID, so rm can still remove them.
func (cs *Manager) List() ([]*Record, error) {
	ents, err := os.ReadDir(cs.Root)
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, e := range ents {
		if !e.IsDir() || !isID(e.Name()) {
			continue
		}
		r, err := cs.Load(e.Name())
		if err != nil {
			r = &Record{ID: e.Name(), Status: StatusCreating}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// ErrNotFound is returned by Lookup.
var ErrNotFound = errors.New("no such container")

// Lookup finds a container by name, full ID or unique ID prefix.
func (cs *Manager) Lookup(ref string) (*Record, error) {
	all, err := cs.List()
	if err != nil {
		return nil, err
	}
	for _, r := range all {
		if r.Name == ref || r.ID == ref {
			return r, nil
		}
	}
	var match *Record
	if len(ref) >= 3 {
		for _, r := range all {
			if strings.HasPrefix(r.ID, ref) {
				if match != nil {
					return nil, fmt.Errorf("container %q: ambiguous ID prefix", ref)
				}
				match = r
			}
		}
	}
	if match == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	return match, nil
}

func (cs *Manager) lockNames() (func(), error) {
	return lockFile(filepath.Join(cs.Root, "names.lock"))
}

func lockFile(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
