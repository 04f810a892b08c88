package initproc

import (
	"encoding/json"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestConfigSpecJSON(t *testing.T) {
	raw := []byte(`{"ociVersion":"1.1.0","process":{"cwd":"/w","args":["sh"]},"hostname":"h"}`)
	var spec rspec.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	in := &Config{Mode: ModeInit, ID: "c", Spec: &spec, Process: spec.Process, SpecJSON: raw, FifoFd: 5}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), `"cwd"`) != 1 {
		t.Errorf("process sent more than once: %s", b)
	}
	var out Config
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	out.fixup()
	if out.Spec == nil || out.Spec.Hostname != "h" || out.Process == nil || out.Process.Cwd != "/w" || out.FifoFd != 5 || out.ID != "c" {
		t.Fatalf("round trip: %+v", out)
	}
	if in.Process == nil || in.ProcessIsSpec {
		t.Fatal("MarshalJSON modified its receiver")
	}

	// A separate process (exec) travels as itself.
	in.Process = &rspec.Process{Cwd: "/other", Args: []string{"true"}}
	b, _ = json.Marshal(in)
	out = Config{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	out.fixup()
	if out.Process.Cwd != "/other" || out.Spec.Process.Cwd != "/w" {
		t.Fatalf("exec process: %+v", out.Process)
	}
}

// The spec's bytes are appended as they are, not checked and compacted
// again by encoding/json (which would also HTML-escape "<", ">", "&").
func TestConfigSpecJSONAsIs(t *testing.T) {
	raw := []byte(`{"ociVersion":"1.1.0","hostname":"a<b>&c"}`)
	var spec rspec.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	b, err := (&Config{Mode: ModeInit, ID: "c", Spec: &spec, SpecJSON: raw}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), `,"spec":`+string(raw)+`}`) {
		t.Errorf("spec not appended as is: %s", b)
	}
	var out Config
	if err := json.Unmarshal(b, &out); err != nil || out.Spec == nil || out.Spec.Hostname != "a<b>&c" || out.ID != "c" {
		t.Fatalf("round trip: %+v %v", out, err)
	}
}
