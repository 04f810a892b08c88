package initproc

import (
	"encoding/json"

	"github.com/myrun-org/myrun/libcontainer/internal/rawjson"
)

// configJSON is Config without its methods; the outer Spec field of
// configHead shadows the embedded one.
type configJSON Config

// configHead is Config without its spec, which MarshalJSON appends as
// raw bytes (rawjson).
type configHead struct {
	*configJSON
	Spec json.RawMessage `json:"spec,omitempty"`
}

// MarshalJSON sends SpecJSON verbatim when the parent has it, instead of
// re-encoding the spec with reflection, and does not send the process
// twice when it is the spec's own.
func (c *Config) MarshalJSON() ([]byte, error) {
	if c.SpecJSON == nil || c.Spec == nil {
		return json.Marshal((*configJSON)(c))
	}
	cc := *c
	if cc.Process == cc.Spec.Process {
		cc.Process, cc.ProcessIsSpec = nil, true
	}
	head, err := json.Marshal(configHead{configJSON: (*configJSON)(&cc)})
	if err != nil {
		return nil, err
	}
	return rawjson.AppendField(head, "spec", c.SpecJSON), nil
}

// fixup restores what MarshalJSON left out.
func (c *Config) fixup() {
	if c.ProcessIsSpec && c.Spec != nil {
		c.Process = c.Spec.Process
	}
}
