package specs

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fieldErrors flattens an errors.Join tree into its leaves.
func fieldErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// FuzzDecodeValidate feeds arbitrary bytes to config.json loading: decoding
// and validation must never panic, and every problem must be a FieldError
// that names config.json, so users always get a file/field message.
func FuzzDecodeValidate(f *testing.F) {
	bundle := f.TempDir()
	if err := os.MkdirAll(filepath.Join(bundle, "rootfs/bin"), 0o755); err != nil {
		f.Fatal(err)
	}
	def, _ := json.Marshal(Default())
	f.Add(def)
	f.Add([]byte(`{"ociVersion":"1.3.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}}`))
	f.Add([]byte(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"pid"},{"type":"pid"},{"type":"foo"}]}}`))
	f.Add([]byte(`{"ociVersion":"1.0.0","root":{"path":"/nonexistent"},"mounts":[{"destination":"rel","type":"bind","source":"x"}]}`))
	f.Add([]byte("{\"ociVersion\":1}"))
	f.Add([]byte("\xff\xfe"))
	f.Add([]byte("  \n "))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode error %T is not a FieldError: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), ConfigFile+": ") {
				t.Fatalf("Decode error does not name %s: %q", ConfigFile, err)
			}
			return
		}
		if s == nil {
			t.Fatal("Decode returned nil spec and nil error")
		}
		verr := validateBounded(t, s, bundle, data)
		if verr == nil {
			// What validates must survive a round trip unchanged in meaning.
			raw, err := json.Marshal(s)
			if err != nil {
				t.Fatalf("valid spec does not marshal: %v", err)
			}
			s2, err := Decode(raw)
			if err != nil {
				t.Fatalf("re-decoding a valid spec: %v", err)
			}
			if err := Validate(s2, bundle); err != nil {
				t.Fatalf("valid spec invalid after round trip: %v", err)
			}
			_ = RootfsPath(s, bundle)
			return
		}
		for _, e := range fieldErrors(verr) {
			var fe *FieldError
			if !errors.As(e, &fe) {
				t.Fatalf("validation problem %T is not a FieldError: %v", e, e)
			}
			if fe.Msg == "" || !strings.HasPrefix(e.Error(), ConfigFile+": ") {
				t.Fatalf("validation problem without a clear message: %q", e)
			}
		}
	})
}

// validateBounded fails (and so records the input) when validation blocks:
// it opens host paths named in the config.
func validateBounded(t *testing.T, s *rspec.Spec, bundle string, data []byte) error {
	done := make(chan error, 1)
	go func() { done <- Validate(s, bundle) }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("Validate did not return within 5s for %q", data)
	}
	return nil
}

// FuzzValidateProcess covers the process of `myrun exec --process`.
func FuzzValidateProcess(f *testing.F) {
	f.Add([]byte(`{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}`))
	f.Add([]byte(`{"args":[""],"cwd":"rel","rlimits":[{"type":"RLIMIT_FOO","hard":1,"soft":2}]}`))
	f.Add([]byte(`{"args":["x"],"cwd":"/","env":["=x","A"],"capabilities":{"bounding":["CAP_NOPE"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p rspec.Process
		if json.Unmarshal(data, &p) != nil {
			return
		}
		container := Default()
		for _, c := range []*rspec.Spec{nil, container} {
			err := ValidateProcess(&p, c, "process.json")
			if err == nil {
				if len(p.Args) == 0 || p.Args[0] == "" {
					t.Fatalf("process with empty args accepted: %q", p.Args)
				}
				continue
			}
			for _, e := range fieldErrors(err) {
				if !strings.HasPrefix(e.Error(), "process.json: ") {
					t.Fatalf("problem does not name process.json: %q", e)
				}
			}
		}
	})
}

// TestNamespacePathFifoDoesNotHang: validation opens linux.namespaces[].path
// to check it is nsfs; a FIFO (or any file whose open blocks) must give an
// error, not hang `myrun create` forever.
func TestNamespacePathFifoDoesNotHang(t *testing.T) {
	bundle := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(bundle, "netns-fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &rspec.Spec{Version: "1.0.0", Root: &rspec.Root{Path: "rootfs"},
		Linux: &rspec.Linux{Namespaces: []rspec.LinuxNamespace{{Type: rspec.NetworkNamespace, Path: fifo}}}}
	done := make(chan error, 1)
	go func() { done <- Validate(s, bundle) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "linux.namespaces[0].path") {
			t.Fatalf("FIFO namespace path: want an error naming the field, got %v", err)
		}
	case <-time.After(3 * time.Second):
		// Unblock the open so the goroutine ends with the test binary.
		if w, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatal("Validate blocks forever opening a FIFO given as linux.namespaces[0].path")
	}
}
