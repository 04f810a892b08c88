package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad writes arbitrary bytes as state.json: Load must return a clear
// error or a state for this id, never panic; what loads must save and load
// back the same, and the directory must stay removable (delete --force).
func FuzzLoad(f *testing.F) {
	good, _ := json.Marshal(&State{ID: "fz", Bundle: "/b", InitPid: 1, CgroupPaths: map[string]string{"memory": "/x"}})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"id":"other"}`))
	f.Add([]byte(`{"id":"fz","config":{"process":{"args":[1]}}}`))
	f.Add([]byte("\x00\x00\x00"))
	f.Add([]byte(""))
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Store{Root: filepath.Join(root, "r")}
		h, err := s.Create("fz")
		if err != nil {
			t.Fatal(err)
		}
		defer h.Unlock()
		if err := os.WriteFile(filepath.Join(h.Dir, stateFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := h.Load()
		if err != nil {
			if !strings.Contains(err.Error(), "corrupt state file") && err != ErrNotExist {
				t.Fatalf("unclear error for bad state: %v", err)
			}
		} else {
			if st.ID != "fz" {
				t.Fatalf("loaded state for id %q", st.ID)
			}
			if err := h.Save(st); err != nil {
				t.Fatalf("saving loaded state: %v", err)
			}
			st2, err := h.Load()
			if err != nil {
				t.Fatalf("state does not load after save: %v", err)
			}
			a, _ := json.Marshal(st)
			b, _ := json.Marshal(st2)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("save/load changed state:\n%s\n%s", a, b)
			}
		}
		// A listing shows the id; force-removal works whatever the content.
		if ids, err := s.List(); err != nil || len(ids) != 1 || ids[0] != "fz" {
			t.Fatalf("list: %v %v", ids, err)
		}
		h.Unlock() // flock: a second open file would wait for this one
		raw, err := s.OpenRaw("fz")
		if err != nil {
			t.Fatalf("OpenRaw: %v", err)
		}
		defer raw.Unlock()
		if err := raw.Remove(); err != nil {
			t.Fatalf("removing: %v", err)
		}
		if ids, _ := s.List(); len(ids) != 0 {
			t.Fatalf("left after remove: %v", ids)
		}
	})
}

// FuzzValidateID: an accepted id names exactly one directory right below
// the root, so no id can reach another container's or the host's files.
func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"abc", "..", ".", "a/b", "../x", "a\x00b", "a.b-c_d+e", strings.Repeat("x", 1025), "...", ".hidden"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateID(id) != nil {
			return
		}
		root := "/run/myrun"
		p := filepath.Join(root, id)
		if filepath.Dir(p) != root || filepath.Base(p) != id {
			t.Fatalf("id %q maps to %q, not a direct child of %s", id, p, root)
		}
		if strings.ContainsAny(id, "/\x00\n") || len(id) > 1024 {
			t.Fatalf("id %q accepted", id)
		}
	})
}
