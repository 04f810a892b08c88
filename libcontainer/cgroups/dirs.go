package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Directories we create carry this xattr so that Destroy, maybe run by
// another myrun process, removes exactly those and never a cgroup that
// existed before (cgroupfs supports trusted.* and user.* xattrs).
const markerValue = "myrun"

func markerName() string {
	if os.Geteuid() == 0 {
		return "trusted.myrun.created"
	}
	return "user.myrun.created"
}

// Replaced by tests: a fake cgroupfs needs its "kernel" files created on
// mkdir and removed before rmdir.
var (
	mkdirFn = os.Mkdir
	rmdirFn = unix.Rmdir
)

// mkdirMarked creates dir and its missing parents below base, marking each
// directory it creates. It returns the directories created, top first.
func mkdirMarked(base, dir string) ([]string, error) {
	if err := checkWithin(dir, base); err != nil {
		return nil, err
	}
	var created []string
	// A parent we found may be removed under us by the delete of the last
	// sibling container (it removes the parents it created once empty):
	// mkdir then fails with ENOENT, and we start again from the top.
	for attempt := 0; ; attempt++ {
		again := false
		for _, p := range missingDirs(base, dir) {
			if err := mkdirFn(p, 0o755); err != nil {
				if errors.Is(err, os.ErrExist) {
					continue // raced with another creator: not ours
				}
				if errors.Is(err, os.ErrNotExist) && attempt < 10 {
					again = true
					break
				}
				return created, err
			}
			created = append(created, p)
			// Best effort: without xattrs only the leaf is removed later.
			_ = unix.Setxattr(p, markerName(), []byte(markerValue), 0)
		}
		if !again {
			return created, nil
		}
	}
}

// missingDirs lists dir and its parents below base that do not exist,
// top first: what mkdirMarked would create.
func missingDirs(base, dir string) []string {
	if checkWithin(dir, base) != nil {
		return nil
	}
	var missing []string
	for p := dir; p != base && within(p, base); p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		missing = append(missing, p)
	}
	slices.Reverse(missing)
	return missing
}

// Claim marks as ours those of dirs (from an earlier Missing) that exist
// without our marker: the runtime that made them died before marking.
// Only paths under the cgroup root are touched.
func Claim(dirs []string) {
	for _, d := range dirs {
		d = filepath.Clean(d)
		if d == cgroupRoot || !within(d, cgroupRoot) {
			continue
		}
		if ours, _ := marked(d); ours {
			continue
		}
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() {
			continue
		}
		_ = unix.Setxattr(d, markerName(), []byte(markerValue), 0)
	}
}

// marked reports whether dir carries our marker; unknown is true when
// the filesystem cannot tell (no xattr support).
func marked(dir string) (ours, unknown bool) {
	buf := make([]byte, 16)
	for _, name := range []string{"trusted.myrun.created", "user.myrun.created"} {
		n, err := unix.Getxattr(dir, name, buf)
		if err == nil && string(buf[:n]) == markerValue {
			return true, false
		}
		if errors.Is(err, unix.ENOTSUP) {
			unknown = true
		}
	}
	return false, unknown
}

// removeCgroup removes dir (and sub-cgroups the container made) if we
// created it, then every empty parent below base that we created. Gone
// already is fine. Processes are never killed: a busy cgroup is an error.
func removeCgroup(base, dir string) error {
	if err := checkWithin(dir, base); err != nil || dir == base {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if ours, unknown := marked(dir); !ours && !unknown {
		return nil // joined a cgroup that existed before: leave it
	}
	if err := removeTree(dir); err != nil {
		return err
	}
	for p := filepath.Dir(dir); p != base && within(p, base); p = filepath.Dir(p) {
		if ours, _ := marked(p); !ours {
			break
		}
		if err := rmdirFn(p); err != nil {
			break // still used by a sibling container
		}
	}
	return nil
}

func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	// The kernel may need a moment after the last task exits.
	delay := time.Millisecond
	for i := 0; ; i++ {
		err = rmdirFn(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || i >= 6 {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(delay)
		delay *= 2
	}
}
