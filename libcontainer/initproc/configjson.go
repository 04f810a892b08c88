package initproc

import "encoding/json"

// configJSON is Config without its methods; the outer Spec field of
// configWire shadows the embedded one.
type configJSON Config

type configWire struct {
	*configJSON
	Spec json.RawMessage `json:"spec"`
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
	return json.Marshal(configWire{configJSON: (*configJSON)(&cc), Spec: c.SpecJSON})
}

// fixup restores what MarshalJSON left out.
func (c *Config) fixup() {
	if c.ProcessIsSpec && c.Spec != nil {
		c.Process = c.Spec.Process
	}
}
