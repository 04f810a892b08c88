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
