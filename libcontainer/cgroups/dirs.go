package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"

	lib "github.com/opencontainers/cgroups"
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
	mkdirFn    = os.Mkdir
	rmdirFn    = unix.Rmdir     // one directory (a parent we created)
	removePath = lib.RemovePath // a cgroup and the sub-cgroups made in it
)

// mkdirMarked creates dir and its missing parents below base, marking
// each directory it creates. visit (may be nil) is called for base and
// each level below it, top down, once that level exists and before the
// next is made; created says whether we made it. It returns the
// directories created, top first.
func mkdirMarked(base, dir string, visit func(level string, created bool) error) ([]string, error) {
	if err := checkWithin(dir, base); err != nil {
		return nil, err
	}
	var created []string
	// A parent we found may be removed under us by the delete of the last
	// sibling container (it removes the parents it created once empty):
	// mkdir then fails with ENOENT, and we start again from the top.
	// An existing level costs one failed mkdir, no stat.
	for attempt := 0; ; attempt++ {
		again := false
		for _, p := range levels(base, dir) {
			made := false
			if p != base {
				err := mkdirFn(p, 0o755)
				switch {
				case err == nil:
					made = true
					created = append(created, p)
					// Best effort: without xattrs only the leaf is removed later.
					_ = unix.Setxattr(p, markerName(), []byte(markerValue), 0)
				case errors.Is(err, os.ErrExist): // not ours (maybe a racing creator's)
				case errors.Is(err, os.ErrNotExist) && attempt < 10:
					again = true
				default:
					return created, err
				}
			}
			if again {
				break
			}
			if visit != nil {
				if err := visit(p, made); err != nil {
					return created, err
				}
			}
		}
		if !again {
			return created, nil
		}
	}
}

// levels lists base and each directory below it down to dir, top first.
func levels(base, dir string) []string {
	out := []string{dir}
	for p := dir; p != base && within(p, base); {
		p = filepath.Dir(p)
		out = append(out, p)
	}
	slices.Reverse(out)
	return out
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

// isOurs reports whether dir carries our marker.
func isOurs(dir string) bool {
	ours, _ := marked(dir)
	return ours
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
	// Gone already: marked sees ENOENT, and there is nothing to do.
	if ours, unknown := marked(dir); !ours && !unknown {
		return nil // joined a cgroup that existed before: leave it
	}
	if err := removePath(dir); err != nil {
		return err
	}
	removeParents(base, dir)
	return nil
}

// removeParents removes the parents of dir below base that we created,
// bottom up, while they are empty.
func removeParents(base, dir string) {
	for p := filepath.Dir(dir); p != base && within(p, base); p = filepath.Dir(p) {
		if !isOurs(p) {
			break
		}
		if err := rmdirFn(p); err != nil {
			break // still used by a sibling container
		}
	}
}

// errNotProven: removeIfEmpty cannot show the cgroup empty without
// reading it (the host's root, or a cgroup we joined and leave in place).
var errNotProven = errors.New("cgroup not ours to remove")

// removeIfEmpty is removeCgroup with one rmdir per directory and no
// retries: the kernel refuses rmdir of a cgroup with a process or a
// sub-cgroup in it (EBUSY), so nil proves dir held no process. Gone
// already is nil too. A cgroup we did not create is never removed and
// proves nothing: errNotProven.
func removeIfEmpty(base, dir string) error {
	if dir == base || checkWithin(dir, base) != nil {
		return errNotProven
	}
	if ours, unknown := marked(dir); !ours && !unknown {
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return errNotProven
	}
	if err := rmdirEmpty(dir); err != nil {
		return err
	}
	removeParents(base, dir)
	return nil
}

// rmdirEmpty removes dir and the sub-cgroups below it, depth first, one
// rmdir each: an EBUSY rmdir is retried once after its sub-directories
// are gone, and only when it has some (else processes hold it).
func rmdirEmpty(dir string) error {
	err := rmdirFn(dir)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case !errors.Is(err, unix.EBUSY):
		return pathErr(dir, err)
	}
	entries, rerr := os.ReadDir(dir)
	if rerr != nil {
		return pathErr(dir, err)
	}
	subs := 0
	for _, e := range entries {
		if e.IsDir() {
			subs++
			if err := rmdirEmpty(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if subs == 0 {
		return pathErr(dir, err)
	}
	return pathErr(dir, rmdirFn(dir))
}

func pathErr(dir string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: "rmdir", Path: dir, Err: err}
}
