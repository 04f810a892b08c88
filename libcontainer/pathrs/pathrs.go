// Package pathrs resolves paths inside a container root without letting
// symlinks or ".." escape it, and checks that the special files we write
// through (procfs, /dev/null) are what they claim to be.
package pathrs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrslite "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// SecureJoin joins unsafePath onto root, resolving symlinks as if root
// were "/". The result is a plain path: use it only for messages or where
// nobody can race us; prefer the handle-returning helpers.
func SecureJoin(root, unsafePath string) (string, error) {
	return securejoin.SecureJoin(root, unsafePath)
}

// OpenInRoot opens unsafePath inside root (openat2 RESOLVE_IN_ROOT when the
// kernel has it, a verified userspace walk otherwise). With O_PATH in
// flags the resolution handle itself is returned; any other flags reopen
// it through a checked procfs handle, so the final open cannot follow a
// swapped-in symlink.
func OpenInRoot(root, unsafePath string, flags int) (*os.File, error) {
	h, err := lookupInRoot(root, unsafePath)
	if err != nil {
		return nil, err
	}
	if flags&unix.O_PATH != 0 {
		return h, nil
	}
	defer h.Close()
	return reopen(h, flags)
}

// lookupInRoot is pathrs-lite's OpenInRoot without the renaming it does
// after a successful openat2: the same root open (O_PATH|O_DIRECTORY),
// the same openat2 (O_PATH, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) retried
// on EAGAIN/EXDEV like pathrs-lite's, but the handle is named by the
// lexical join instead of a readlink of /proc/thread-self/fd (a verified
// procfs lookup, the readlink, a dup and two closes: ~12 syscalls per
// lookup, ~25 lookups per container). The name is only for messages. On
// any failure pathrs-lite does the whole lookup itself, so its errors
// and its fallback resolver (no openat2, or openat2 blocked by seccomp)
// stay exactly as they were.
func lookupInRoot(root, unsafePath string) (*os.File, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		fd, err := openat2InRoot(rootFd, unsafePath)
		unix.Close(rootFd)
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(root, unsafePath)), nil
		}
		if err == unix.ENOENT {
			// The kernel's answer is final: pathrs-lite's lookup would
			// ask the same openat2 again (after its probe that openat2
			// works) and wrap the ENOENT as below.
			return nil, notFound(root, unsafePath)
		}
	}
	return pathrslite.OpenInRoot(root, unsafePath)
}

// notFound is pathrs-lite's OpenInRoot error for a path openat2 did not
// find, so a message reads the same whichever of us looked.
func notFound(root, unsafePath string) error {
	full := unsafePath
	if !filepath.IsAbs(unsafePath) {
		full = root + "/" + unsafePath
	}
	return &os.PathError{Op: "securejoin.OpenInRoot", Path: unsafePath,
		Err: &os.PathError{Op: "openat2", Path: full, Err: unix.ENOENT}}
}

// openat2InRoot resolves unsafePath under dir as pathrs-lite's
// lookupOpenat2 does for a complete lookup.
func openat2InRoot(dir int, unsafePath string) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(dir, unsafePath, how)
		// ".." during a rename or mount anywhere gives EAGAIN, the final
		// in-root check EXDEV: pathrs-lite retries both 128 times.
		if (err == unix.EAGAIN || err == unix.EXDEV) && tries < 128 {
			continue
		}
		return fd, err
	}
}

// reopen opens a new file description for handle's inode through a
// verified procfs handle.
func reopen(handle *os.File, flags int) (*os.File, error) {
	return pathrslite.Reopen(handle, flags|unix.O_CLOEXEC)
}

// MkdirAllInRoot creates unsafePath and its parents inside root and returns
// a handle to the final directory.
func MkdirAllInRoot(root, unsafePath string, mode os.FileMode) (*os.File, error) {
	rootDir, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	defer rootDir.Close()
	rel, err := lexicalInRoot(root, unsafePath)
	if err != nil {
		return nil, err
	}
	if d := existingDir(rootDir, root, rel, mode); d != nil {
		return d, nil
	}
	if d := newLeafDir(rootDir, root, rel, mode); d != nil {
		return d, nil
	}
	return pathrslite.MkdirAllHandle(rootDir, rel, mode)
}

// newLeafDir is what pathrs-lite's MkdirAllHandle does when only the last
// component of rel is missing (a mount point such as /dev/shm on a fresh
// /dev): the parent through existingDir (its lookup, dead-inode check and
// reopen, without procfs), mkdirat of the name (EEXIST is fine, as there),
// and its open of the new directory that follows no symlink and does not
// leave the parent. That is ~6 syscalls instead of ~35 (its procfs
// verified renaming of the parent handle). nil on any failure: then
// MkdirAllHandle does it all and returns its own error.
func newLeafDir(rootDir *os.File, root, rel string, mode os.FileMode) *os.File {
	parentRel, base := filepath.Split(rel)
	if base == "" || base == "." || base == ".." || mode != mode.Perm() {
		return nil
	}
	if parentRel == "" {
		parentRel = "."
	}
	parent := existingDir(rootDir, root, parentRel, mode)
	if parent == nil {
		return nil
	}
	defer parent.Close()
	if err := unix.Mkdirat(int(parent.Fd()), base, uint32(mode)); err != nil && err != unix.EEXIST {
		return nil
	}
	fd, err := unix.Openat2(int(parent.Fd()), base, &unix.OpenHow{
		Flags:   unix.O_NOFOLLOW | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, rel))
}

// existingDir is what pathrs-lite's MkdirAllHandle returns when rel is
// already a directory, without its procfs round trips: its lookup (the
// openat2 of lookupInRoot, which its partial lookup tries first), its
// dead-inode check, and an O_DIRECTORY reopen of the same inode ("."
// from the handle instead of /proc/thread-self/fd/N, whose verified
// procfs lookup, renaming readlink and overmount statx cost ~25 syscalls
// a call). nil when rel is missing, not a directory, or anything fails,
// or mode has more than permission bits: then MkdirAllHandle does all
// of it (its mode checks, the creation) as before.
func existingDir(rootDir *os.File, root, rel string, mode os.FileMode) *os.File {
	if mode != mode.Perm() {
		return nil
	}
	fd, err := openat2InRoot(int(rootDir.Fd()), rel)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Nlink == 0 || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	dir, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(dir), filepath.Join(root, rel))
}

// CreateInRoot returns an O_PATH handle to unsafePath inside root,
// creating it when missing: a directory (with parents) when dir is set,
// else an empty regular file. A dangling symlink is followed inside root,
// so a link to /tmp/x creates root/tmp/x, never the host's /tmp/x.
func CreateInRoot(root, unsafePath string, dir bool, mode os.FileMode) (*os.File, error) {
	f, err := lookupInRoot(root, unsafePath)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return f, err
	}
	if dir {
		d, err := MkdirAllInRoot(root, unsafePath, mode)
		if err != nil {
			return nil, err
		}
		return reopenPath(d)
	}
	parent, base, err := MkdirParentInRoot(root, unsafePath)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	// O_NOFOLLOW|O_EXCL: never create through a symlink someone just put
	// there; an existing entry is fine as long as it is not a symlink.
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "create", Path: unsafePath, Err: err}
	}
	fd, err = unix.Openat(int(parent.Fd()), base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: unsafePath, Err: err}
	}
	h := os.NewFile(uintptr(fd), filepath.Join(parent.Name(), base))
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		h.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		h.Close()
		return nil, &os.PathError{Op: "open", Path: unsafePath, Err: unix.ELOOP}
	}
	return h, nil
}

// MkdirParentInRoot resolves unsafePath inside root (dangling symlinks
// included), creates its parent directories and returns a handle to the
// parent plus the final component, for *at(2) calls that must not follow
// a symlink there (use AT_SYMLINK_NOFOLLOW / O_NOFOLLOW).
func MkdirParentInRoot(root, unsafePath string) (*os.File, string, error) {
	rel, err := lexicalInRoot(root, unsafePath)
	if err != nil {
		return nil, "", err
	}
	parentRel, base := filepath.Split(rel)
	if base == "" || base == "." || base == ".." {
		return nil, "", fmt.Errorf("%s: not a file name", unsafePath)
	}
	parent, err := MkdirAllInRoot(root, parentRel, 0o755)
	if err != nil {
		return nil, "", err
	}
	return parent, base, nil
}

// lexicalInRoot resolves unsafePath inside root (following symlinks,
// dangling ones included, as if root were "/") and returns it relative to
// root. Creation then walks the result with handles, so a racing rename
// can at worst make the walk fail, never leave root.
func lexicalInRoot(root, unsafePath string) (string, error) {
	joined, err := securejoin.SecureJoin(root, unsafePath)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(filepath.Clean(root), joined)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s: resolves outside %s", unsafePath, root)
	}
	return rel, nil
}

// openRoot opens root as an O_PATH handle. Not os.OpenFile: it would try
// to make the O_PATH fd non-blocking (an F_GETFL and a failing F_SETFL).
func openRoot(root string) (*os.File, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	return os.NewFile(uintptr(fd), root), nil
}

// reopenPath turns a directory handle into an O_PATH one on the same inode.
func reopenPath(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.Openat(int(f.Fd()), ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// MkdirParentNoFollow is MkdirParentInRoot for a name that must not itself
// be resolved: only the directories above it are (inside root), so a
// symlink planted at the last component is seen as a symlink by the
// caller's *at(2) calls, never followed (CVE-2025-31133 family).
func MkdirParentNoFollow(root, unsafePath string) (*os.File, string, error) {
	dir, base := filepath.Split(filepath.Clean("/" + unsafePath))
	if base == "" || base == "." || base == ".." {
		return nil, "", fmt.Errorf("%s: not a file name", unsafePath)
	}
	parent, err := MkdirAllInRoot(root, dir, 0o755)
	if err != nil {
		return nil, "", err
	}
	return parent, base, nil
}
