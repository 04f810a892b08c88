package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"abc", "a-b_c.d+1", "x"} {
		if err := ValidateID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", "a\nb"} {
		if err := ValidateID(id); err == nil {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestCreateLoadSaveRemove(t *testing.T) {
	s := &Store{Root: filepath.Join(t.TempDir(), "root")}
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create("c1"); !errors.Is(err, ErrExist) {
		t.Fatalf("duplicate create: %v", err)
	}
	if err := h.Save(&State{ID: "c1", InitPid: 42}); err != nil {
		t.Fatal(err)
	}
	h.Unlock()
	h2, err := s.Open("c1")
	if err != nil {
		t.Fatal(err)
	}
	st, err := h2.Load()
	if err != nil || st.InitPid != 42 {
		t.Fatalf("load: %+v %v", st, err)
	}
	if ids, _ := s.List(); len(ids) != 1 || ids[0] != "c1" {
		t.Fatalf("list: %v", ids)
	}
	if err := h2.Remove(); err != nil {
		t.Fatal(err)
	}
	h2.Unlock()
	if _, err := s.Open("c1"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("open removed: %v", err)
	}
}

func TestCorruptState(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	h, err := s.Create("bad")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unlock()
	os.WriteFile(filepath.Join(h.Dir, stateFile), []byte(`{"id":"ba`), 0o600)
	if _, err := h.Load(); err == nil {
		t.Fatal("truncated state accepted")
	}
}

func TestConcurrentCreateOneWins(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h, err := s.Create("same"); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
				h.Unlock()
			} else if !errors.Is(err, ErrExist) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d creates won", wins)
	}
}

// Remove takes every file of the directory through its locked fd, however
// many (more than one getdents buffer) and whatever kind (the exec fifo),
// and a sub-directory through os.RemoveAll; the handle stays usable for
// Unlock.
func TestRemoveEverything(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	for _, c := range []struct {
		name   string
		subdir bool
	}{{"files", false}, {"with-subdir", true}} {
		h, err := s.Create(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Save(&State{ID: c.name}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 300; i++ {
			if err := os.WriteFile(filepath.Join(h.Dir, fmt.Sprintf("file-with-a-long-name-%03d", i)), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := unix.Mkfifo(h.FifoPath(), 0o600); err != nil {
			t.Fatal(err)
		}
		if c.subdir {
			if err := os.MkdirAll(filepath.Join(h.Dir, "sub", "deeper"), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if !c.subdir {
			// The fd path alone empties it.
			if err := h.removeFiles(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(h.Dir); len(left) != 0 {
				t.Fatalf("left %d entries", len(left))
			}
		}
		if err := h.Remove(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		h.Unlock()
		if _, err := os.Lstat(h.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: dir left: %v", c.name, err)
		}
	}
}
