package initproc

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/internal/rlimits"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/specs"
)

// FuzzProcessJSON decodes process.json as `myrun exec -p` does, validates
// it as the facade does and sends it through the Config init receives.
// Properties: no panic; what validation accepts, init can apply (every
// rlimit name is known to init) and survives the parent->init encoding.
func FuzzProcessJSON(f *testing.F) {
	f.Add([]byte(`{"args":["sh","-c","true"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}`))
	f.Add([]byte(`{"args":["x"],"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]}`))
	f.Add([]byte(`{"args":["x"],"cwd":"/","capabilities":{"bounding":["CAP_KILL"],"ambient":["CAP_NET_RAW"]},"oomScoreAdj":1001}`))
	f.Add([]byte(`{"args":["x"],"cwd":"/","ioPriority":{"class":"IOPRIO_CLASS_RT","priority":8}}`))
	f.Add([]byte(`{"terminal":true,"consoleSize":{"height":0,"width":65536},"args":["x"],"cwd":"/"}`))
	container := specs.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		var p rspec.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return // runtime/exec.go reports "--process: FILE: <json error>"
		}
		if err := specs.ValidateProcess(&p, container, "process.json"); err != nil {
			if !strings.Contains(err.Error(), "process.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for i, rl := range p.Rlimits {
			if _, ok := rlimits.Resources[rl.Type]; !ok {
				t.Fatalf("process.rlimits[%d].type %q passes validation but init cannot set it", i, rl.Type)
			}
		}
		env, needHome := nsexec.Env(append(append([]string{}, p.Env...), "HOME=/x"))
		seen := map[string]bool{}
		for _, kv := range env {
			k, _, _ := strings.Cut(kv, "=")
			if seen[k] {
				t.Fatalf("nsexec.Env keeps %q twice: %q", k, env)
			}
			seen[k] = true
		}
		if needHome {
			t.Fatal("nsexec.Env misses HOME")
		}
		cfg := Config{Mode: ModeExec, ID: "fz", Process: &p, FifoFd: -1, ConsoleFd: -1, LogFd: -1, SeccompFd: -1}
		raw, err := json.Marshal(&cfg)
		if err != nil {
			t.Fatalf("valid process does not encode for init: %v", err)
		}
		var got Config
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("init cannot decode what the parent sends: %v", err)
		}
		a, _ := json.Marshal(cfg.Process)
		b, _ := json.Marshal(got.Process)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("process changed on the way to init:\n%s\n%s", a, b)
		}
	})
}

// FuzzInitConfig decodes arbitrary bytes as the Config init receives: a
// malformed message must be an error, and a decoded one must keep its mode.
func FuzzInitConfig(f *testing.F) {
	f.Add([]byte(`{"mode":"init","id":"a","spec":{"ociVersion":"1.0.0"},"fifo_fd":3,"console_fd":-1,"log_fd":-1,"seccomp_fd":-1}`))
	f.Add([]byte(`{"mode":"exec","process":{"args":["x"]},"preserve_fds":-5}`))
	f.Add([]byte(`{"mode":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg Config
		if json.Unmarshal(data, &cfg) != nil {
			return
		}
		raw, err := json.Marshal(&cfg)
		if err != nil {
			t.Fatalf("decoded config does not re-encode: %v", err)
		}
		var again Config
		if err := json.Unmarshal(raw, &again); err != nil || again.Mode != cfg.Mode || again.ID != cfg.ID {
			t.Fatalf("config round trip: %v %q/%q", err, again.Mode, cfg.Mode)
		}
	})
}
