package store

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Two locks: "index.lock" serialises read-modify-write of index.json;
// "gc.lock" is held shared by writers (build, pull, load, import) while they
// add unreferenced blobs, and exclusively by prune, so prune never removes a
// blob another process is about to reference.

func (s *Store) flock(name string, how int) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.Root, name), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

func (s *Store) lockIndex() (func(), error) { return s.flock("index.lock", unix.LOCK_EX) }

// WriterLock is held while adding content that is not yet referenced.
func (s *Store) WriterLock() (func(), error) { return s.flock("gc.lock", unix.LOCK_SH) }

// GCLock is held by prune.
func (s *Store) GCLock() (func(), error) { return s.flock("gc.lock", unix.LOCK_EX) }

// Import takes the writer lock for an import (pull, load, import, copy
// from a layout). end releases it and, when the import failed, takes the
// blobs it added back out, so that bad or cut-short input leaves the store
// as it was: only when no other writer holds the lock (one may be about to
// reference them; prune collects them later then) and nothing references
// them.
func (s *Store) Import() (end func(failed bool), err error) {
	s.mu.Lock()
	s.added = nil
	s.mu.Unlock()
	unlock, err := s.WriterLock()
	if err != nil {
		return nil, err
	}
	return func(failed bool) {
		unlock()
		if failed {
			s.discardAdded()
		}
	}, nil
}

func (s *Store) discardAdded() {
	s.mu.Lock()
	added := s.added
	s.added = nil
	s.mu.Unlock()
	if len(added) == 0 {
		return
	}
	unlock, err := s.flock("gc.lock", unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return // another writer is at work
	}
	defer unlock()
	keep, _, err := s.live()
	if err != nil {
		return
	}
	for _, d := range added {
		if !keep[d] {
			os.Remove(s.BlobPath(d))
		}
	}
}
