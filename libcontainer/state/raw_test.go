package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestConfigJSONRoundTrip(t *testing.T) {
	s := &Store{Root: filepath.Join(t.TempDir(), "root")}
	h, err := s.Create("raw1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unlock()
	raw := []byte(`{"ociVersion": "1.1.0", "hostname": "from-raw", "linux": {"cgroupsPath": "/x"}}`)
	var orig rspec.Spec
	if err := json.Unmarshal(raw, &orig); err != nil {
		t.Fatal(err)
	}
	st := &State{ID: "raw1", Config: &orig}
	st.SetConfigJSON(raw)
	if err := h.Save(st); err != nil {
		t.Fatal(err)
	}
	got, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Config != nil {
		t.Fatal("config decoded by Load, want it left for Spec/Brief")
	}
	b, err := got.Brief()
	if err != nil || b.CgroupsPath != "/x" || b.HasProcess {
		t.Fatalf("brief = %+v, %v", b, err)
	}
	spec, err := got.Spec()
	if err != nil || spec.Hostname != "from-raw" || spec.Linux.CgroupsPath != "/x" {
		t.Fatalf("config not restored: %+v %v", spec, err)
	}
	if !strings.Contains(string(got.ConfigJSON()), `"from-raw"`) {
		t.Fatalf("raw config not kept: %s", got.ConfigJSON())
	}

	// In-place changes must reach the file once announced.
	spec.Hostname = "changed"
	got.ConfigChanged()
	if err := h.Save(got); err != nil {
		t.Fatal(err)
	}
	again, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := again.Spec(); err != nil || spec.Hostname != "changed" {
		t.Fatalf("hostname = %+v %v, want changed", spec, err)
	}
}

func TestBriefAndBadConfig(t *testing.T) {
	var st State
	if err := json.Unmarshal([]byte(`{"id":"a","config":{"process":{"args":["x"]},"hooks":{"poststop":[{"path":"/p"}]},"linux":{"cgroupsPath":"/c","devices":[{"path":"/dev/x","type":"c"}]}}}`), &st); err != nil {
		t.Fatal(err)
	}
	b, err := st.Brief()
	if err != nil || !b.HasProcess || b.CgroupsPath != "/c" || len(b.Devices) != 1 || b.Hooks == nil || len(b.Hooks.Poststop) != 1 {
		t.Fatalf("brief = %+v, %v", b, err)
	}
	// A config that is JSON but not a spec loads; using it fails clearly.
	st = State{}
	if err := json.Unmarshal([]byte(`{"id":"a","config":{"process":{"args":[1]}}}`), &st); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Spec(); err == nil || !strings.Contains(err.Error(), "corrupt config") {
		t.Fatalf("Spec() = %v", err)
	}
	// No config at all is an error, not a nil spec.
	st = State{}
	if _, err := st.Brief(); err == nil {
		t.Fatal("Brief without config succeeded")
	}
}

// Hooks answers what Brief would, from the raw config, the decoded one
// or a Brief already made; a corrupt hooks object is an error.
func TestHooks(t *testing.T) {
	for _, c := range []struct {
		config     string
		hasProcess bool
		poststop   string
	}{
		{`{"process":{"args":["x"]},"hooks":{"poststop":[{"path":"/p"}]},"linux":{"resources":{"memory":{"limit":1}}}}`, true, "/p"},
		{`{"process":null,"hooks":{}}`, false, ""},
		{`{"root":{"path":"r"}}`, false, ""},
	} {
		var st State
		if err := json.Unmarshal([]byte(`{"id":"a","config":`+c.config+`}`), &st); err != nil {
			t.Fatal(err)
		}
		has, hs, err := st.Hooks()
		got := ""
		if hs != nil && len(hs.Poststop) == 1 {
			got = hs.Poststop[0].Path
		}
		if err != nil || has != c.hasProcess || got != c.poststop {
			t.Errorf("%s: Hooks = %v %q %v, want %v %q", c.config, has, got, err, c.hasProcess, c.poststop)
		}
		b, err := st.Brief()
		if err != nil || b.HasProcess != has || (b.Hooks == nil) != (hs == nil) {
			t.Errorf("%s: Brief %+v %v disagrees", c.config, b, err)
		}
		if has2, hs2, err := st.Hooks(); err != nil || has2 != has || hs2 != b.Hooks {
			t.Errorf("%s: Hooks after Brief = %v %v %v", c.config, has2, hs2, err)
		}
	}
	var st State
	if err := json.Unmarshal([]byte(`{"id":"a","config":{"hooks":{"poststop":"x"}}}`), &st); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Hooks(); err == nil || !strings.Contains(err.Error(), "corrupt config") {
		t.Errorf("corrupt hooks: %v", err)
	}
	if _, _, err := (&State{}).Hooks(); err == nil {
		t.Error("no config: no error")
	}
}

func TestConfigJSONNull(t *testing.T) {
	var st State
	if err := json.Unmarshal([]byte(`{"id":"a","config":null}`), &st); err != nil {
		t.Fatal(err)
	}
	if st.Config != nil || st.ConfigJSON() != nil || st.ID != "a" {
		t.Fatalf("got %+v", st)
	}
	b, err := json.Marshal(&st)
	if err != nil || !strings.Contains(string(b), `"config":null`) {
		t.Fatalf("marshal: %s %v", b, err)
	}
}

func TestValidateIDCharset(t *testing.T) {
	if err := ValidateID("A_b+c-1.2"); err != nil {
		t.Error(err)
	}
	for _, id := range []string{"é", "a:b", "a\x00b", "a*", strings.Repeat("x", 1025)} {
		if ValidateID(id) == nil {
			t.Errorf("%q accepted", id)
		}
	}
}

// ExecSpec decodes exactly the fields exec reads, equal to a full decode's.
func TestExecSpec(t *testing.T) {
	raw := []byte(`{"ociVersion": "1.2.0", "hostname": "h", "annotations": {"a": "b"},
		"process": {"args": ["sh"], "cwd": "/", "user": {"uid": 5, "gid": 6}, "capabilities": {"bounding": ["CAP_KILL"]}},
		"linux": {"cgroupsPath": "/x", "namespaces": [{"type": "pid"}, {"type": "user"}],
			"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
			"gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}],
			"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}}}`)
	var full rspec.Spec
	if err := json.Unmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	st := &State{}
	st.SetConfigJSON(raw)
	got, err := st.ExecSpec()
	if err != nil {
		t.Fatal(err)
	}
	want := rspec.Spec{Version: full.Version, Process: full.Process, Annotations: full.Annotations, Linux: &rspec.Linux{
		Namespaces: full.Linux.Namespaces, UIDMappings: full.Linux.UIDMappings, GIDMappings: full.Linux.GIDMappings, Seccomp: full.Linux.Seccomp}}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(&want)
	if string(a) != string(b) {
		t.Fatalf("got  %s\nwant %s", a, b)
	}
	if got.Hostname != "" || got.Linux.CgroupsPath != "" {
		t.Fatal("decoded more than exec reads")
	}
	st.SetConfigJSON([]byte(`{"process": 3}`))
	if _, err := st.ExecSpec(); err == nil || !strings.Contains(err.Error(), "corrupt config") {
		t.Fatalf("corrupt config: %v", err)
	}
}

// With the check on (as in the integration tests), a save of a config
// changed in place without ConfigChanged fails rather than writing the
// stale bytes; after ConfigChanged it saves the config as it is.
func TestStaleConfigJSONRefused(t *testing.T) {
	defer func(v bool) { checkConfigJSON = v }(checkConfigJSON)
	checkConfigJSON = true
	raw := []byte(`{"ociVersion": "1.1.0", "hostname": "a", "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}}}`)
	var spec rspec.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	st := &State{ID: "c", Config: &spec}
	st.SetConfigJSON(raw)
	if _, err := json.Marshal(st); err != nil {
		t.Fatalf("agreeing config: %v", err)
	}
	spec.Process.Env = append(spec.Process.Env, "LISTEN_FDS=1")
	if _, err := json.Marshal(st); err == nil || !strings.Contains(err.Error(), "ConfigChanged") {
		t.Fatalf("stale config JSON saved: %v", err)
	}
	st.ConfigChanged()
	b, err := json.Marshal(st)
	if err != nil || !strings.Contains(string(b), "LISTEN_FDS=1") {
		t.Fatalf("after ConfigChanged: %s %v", b, err)
	}
	// Off (the default), nothing is checked: the bytes are trusted.
	checkConfigJSON = false
	st.SetConfigJSON(raw)
	if _, err := json.Marshal(st); err != nil {
		t.Fatal(err)
	}
}

// Save writes the recorded config bytes as they are: json.Marshal checked
// and compacted them twice per save (and HTML-escaped "<", ">", "&").
func TestSaveWritesConfigAsIs(t *testing.T) {
	s := &Store{Root: filepath.Join(t.TempDir(), "root")}
	h, err := s.Create("raw2")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unlock()
	raw := []byte(`{"ociVersion":"1.1.0","hostname":"a<b>&c"}`)
	st := &State{ID: "raw2", Bundle: "/b"}
	st.SetConfigJSON(raw)
	if err := h.Save(st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(h.Dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), `,"config":`+string(raw)+`}`) {
		t.Errorf("config not written as is: %s", b)
	}
	got, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := got.Spec(); err != nil || spec.Hostname != "a<b>&c" || got.Bundle != "/b" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
}
