package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/libcontainer/internal/rawjson"
)

// The container's config is the biggest part of state.json. Encoding
// *rspec.Spec with reflection builds encoders for the whole runtime-spec
// type tree in every process that saves, so the state keeps the config's
// JSON as read (from config.json at create, from state.json later) and
// writes it back verbatim until the config is changed.

// stateJSON is State without its methods, so the codecs below do not
// recurse; the outer Config field shadows the embedded one.
type stateJSON State

type stateWire struct {
	*stateJSON
	Config json.RawMessage `json:"config"`
}

// stateHead is what MarshalJSON encodes with reflection: State without
// its config, which it appends as raw bytes (rawjson).
type stateHead struct {
	*stateJSON
	Config json.RawMessage `json:"config,omitempty"`
}

// SetConfigJSON records raw as the JSON form of st.Config; the caller
// guarantees they agree and that raw is valid JSON (it is written into
// state.json as is: compact it first, as create does).
func (st *State) SetConfigJSON(raw []byte) { st.configJSON, st.brief = raw, nil }

// ConfigJSON is the recorded JSON form of st.Config, or nil.
func (st *State) ConfigJSON() []byte { return st.configJSON }

// ConfigChanged must be called after st.Config is modified in place.
func (st *State) ConfigChanged() { st.configJSON, st.brief = nil, nil }

// Spec returns the container's config, decoding it on first use: Load
// leaves it as JSON because decoding the whole runtime-spec tree costs a
// fresh process ~0.6 ms, and most verbs only need Brief.
func (st *State) Spec() (*rspec.Spec, error) {
	if st.Config == nil && st.configJSON != nil {
		var s rspec.Spec
		if err := json.Unmarshal(st.configJSON, &s); err != nil {
			return nil, fmt.Errorf("corrupt config in state file: %w", err)
		}
		st.Config = &s
	}
	if st.Config == nil {
		return nil, errors.New("state file has no config")
	}
	return st.Config, nil
}

// execWire is the part of a config that exec reads.
type execWire struct {
	Version     string            `json:"ociVersion"`
	Process     *rspec.Process    `json:"process"`
	Annotations map[string]string `json:"annotations"`
	Linux       *struct {
		Namespaces  []rspec.LinuxNamespace  `json:"namespaces"`
		UIDMappings []rspec.LinuxIDMapping  `json:"uidMappings"`
		GIDMappings []rspec.LinuxIDMapping  `json:"gidMappings"`
		Seccomp     *rspec.LinuxSeccomp     `json:"seccomp"`
		Personality *rspec.LinuxPersonality `json:"personality"`
		// MemoryPolicy applies to exec'd processes too.
		MemoryPolicy *rspec.LinuxMemoryPolicy `json:"memoryPolicy"`
		// IntelRdt: exec'd processes join the container's resctrl group.
		IntelRdt *rspec.LinuxIntelRdt `json:"intelRdt"`
	} `json:"linux"`
}

// ExecSpec returns what exec reads of the config (ociVersion, process,
// annotations, linux.namespaces, the id mappings, linux.seccomp,
// linux.personality, linux.memoryPolicy and linux.intelRdt) as a
// Spec with only those fields set. Unless the whole config was decoded
// already, only they are: encoding/json builds its reflection caches for
// the entire type tree it decodes into, which for the whole runtime-spec
// costs a fresh process over a millisecond.
func (st *State) ExecSpec() (*rspec.Spec, error) {
	if st.Config != nil {
		return st.Config, nil
	}
	if st.configJSON == nil {
		return nil, errors.New("state file has no config")
	}
	var w execWire
	if err := json.Unmarshal(st.configJSON, &w); err != nil {
		return nil, fmt.Errorf("corrupt config in state file: %w", err)
	}
	s := &rspec.Spec{Version: w.Version, Process: w.Process, Annotations: w.Annotations}
	if w.Linux != nil {
		s.Linux = &rspec.Linux{Namespaces: w.Linux.Namespaces, UIDMappings: w.Linux.UIDMappings,
			GIDMappings: w.Linux.GIDMappings, Seccomp: w.Linux.Seccomp, Personality: w.Linux.Personality,
			MemoryPolicy: w.Linux.MemoryPolicy, IntelRdt: w.Linux.IntelRdt}
	}
	return s, nil
}

// Brief is the part of the config that state, start, kill and delete use.
type Brief struct {
	HasProcess  bool
	Hooks       *rspec.Hooks
	CgroupsPath string
	Resources   *rspec.LinuxResources
	Devices     []rspec.LinuxDevice
}

type briefWire struct {
	Process json.RawMessage `json:"process"`
	Hooks   *rspec.Hooks    `json:"hooks"`
	Linux   *struct {
		CgroupsPath string                `json:"cgroupsPath"`
		Resources   *rspec.LinuxResources `json:"resources"`
		Devices     []rspec.LinuxDevice   `json:"devices"`
	} `json:"linux"`
}

// Brief returns those fields, from the decoded config when there is one
// and otherwise from a decode of just them.
func (st *State) Brief() (*Brief, error) {
	if st.brief != nil {
		return st.brief, nil
	}
	b := &Brief{}
	switch {
	case st.Config != nil:
		c := st.Config
		b.HasProcess, b.Hooks = c.Process != nil, c.Hooks
		if c.Linux != nil {
			b.CgroupsPath, b.Resources, b.Devices = c.Linux.CgroupsPath, c.Linux.Resources, c.Linux.Devices
		}
	case st.configJSON != nil:
		var w briefWire
		if err := json.Unmarshal(st.configJSON, &w); err != nil {
			return nil, fmt.Errorf("corrupt config in state file: %w", err)
		}
		b.HasProcess = len(w.Process) > 0 && string(w.Process) != "null"
		b.Hooks = w.Hooks
		if w.Linux != nil {
			b.CgroupsPath, b.Resources, b.Devices = w.Linux.CgroupsPath, w.Linux.Resources, w.Linux.Devices
		}
	default:
		return nil, errors.New("state file has no config")
	}
	st.brief = b
	return b, nil
}

// Hooks returns the config's hooks and whether it has a process, all that
// start and delete read of it. Unless Brief or the whole config was
// decoded already, they are decoded alone: linux.resources and
// linux.devices, which Brief adds, cost a fresh process encoding/json's
// reflection caches for their whole type trees.
func (st *State) Hooks() (hasProcess bool, hooks *rspec.Hooks, err error) {
	if st.Config != nil || st.brief != nil || st.configJSON == nil {
		b, err := st.Brief()
		if err != nil {
			return false, nil, err
		}
		return b.HasProcess, b.Hooks, nil
	}
	var w struct {
		Process json.RawMessage `json:"process"`
		Hooks   *rspec.Hooks    `json:"hooks"`
	}
	if err := json.Unmarshal(st.configJSON, &w); err != nil {
		return false, nil, fmt.Errorf("corrupt config in state file: %w", err)
	}
	return len(w.Process) > 0 && string(w.Process) != "null", w.Hooks, nil
}

// CheckConfigJSONEnv, set to 1, makes every save check that the recorded
// config JSON still says what st.Config says, so a change to the config
// without ConfigChanged fails instead of saving stale bytes. The
// integration tests set it for every myrun they run; it costs a full
// encode and decode, so it is off otherwise.
const CheckConfigJSONEnv = "_MYRUN_CHECK_CONFIG_JSON"

var checkConfigJSON = os.Getenv(CheckConfigJSONEnv) == "1"

// errStaleConfig is what a save with the check on returns for stale bytes.
var errStaleConfig = errors.New("state: recorded config JSON differs from the config (changed without ConfigChanged)")

// configJSONAgrees reports whether raw decodes to what c encodes to.
func configJSONAgrees(raw []byte, c *rspec.Spec) (bool, error) {
	enc, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	var want, got rspec.Spec
	if err := json.Unmarshal(enc, &want); err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return false, err
	}
	return reflect.DeepEqual(want, got), nil
}

// MarshalJSON writes the recorded config JSON when there is one.
func (st *State) MarshalJSON() ([]byte, error) {
	if st.configJSON == nil {
		return json.Marshal((*stateJSON)(st))
	}
	if checkConfigJSON && st.Config != nil {
		if ok, err := configJSONAgrees(st.configJSON, st.Config); err != nil || !ok {
			return nil, errors.Join(errStaleConfig, err)
		}
	}
	head, err := json.Marshal(stateHead{stateJSON: (*stateJSON)(st)})
	if err != nil {
		return nil, err
	}
	return rawjson.AppendField(head, "config", st.configJSON), nil
}

// UnmarshalJSON keeps the config's JSON for a later Save.
func (st *State) UnmarshalJSON(b []byte) error {
	w := stateWire{stateJSON: (*stateJSON)(st)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	st.Config, st.configJSON, st.brief = nil, nil, nil
	if len(w.Config) == 0 || string(w.Config) == "null" {
		return nil
	}
	// Decoded on demand (Spec, Brief); only its syntax is checked here.
	st.configJSON = w.Config
	return nil
}
