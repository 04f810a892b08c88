package container

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/unpack"
	"github.com/myrun-org/myrun/imgtool/userns"
)

// UsernsCommand is the hidden myimg subcommand that does, as root of a
// rootless container's user namespace, what needs the subordinate ids:
// "unpack DIGEST BUNDLE" extracts the image with the files' owners as in
// the image (also for a user's `myimg unpack`), "unmount BUNDLE" removes
// such a bundle, "rm PATH" deletes a tree owned by those ids, "copyup
// ROOTFS DEST DATA" fills a named volume from the image.
const UsernsCommand = "container-userns"

func multi(r *Record) bool { return r.IDMaps != nil && r.IDMaps.Multi() }

// unpackBundle makes the container's bundle; with subordinate ids the
// layers are extracted inside the user namespace so that chown works.
func (cs *Manager) unpackBundle(r *Record, img *store.Loaded, st unpack.Storage) error {
	if !multi(r) {
		return unpack.Bundle(cs.Images, img, r.Bundle, unpack.Options{Storage: st})
	}
	if err := st.CheckRootless(); err != nil {
		return err
	}
	root, err := filepath.Abs(cs.Images.Root)
	if err != nil {
		return err
	}
	bundle, err := filepath.Abs(r.Bundle)
	if err != nil {
		return err
	}
	return userns.Run(*r.IDMaps, "--root", root, UsernsCommand, "unpack", r.ImageDigest, bundle)
}

// removeInNS deletes path from inside the user namespace (the caller
// cannot enter directories a subordinate id owns with mode 0700).
func removeInNS(r *Record, path string) error {
	if !multi(r) {
		return nil
	}
	if _, err := os.Lstat(path); err != nil {
		return nil
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return userns.Run(*r.IDMaps, UsernsCommand, "rm", path)
}

// ServeUserns runs inside the namespace (see UsernsCommand).
func ServeUserns(s func() (*store.Store, error), args []string) error {
	switch {
	case len(args) == 3 && args[0] == "unpack":
		st, err := s()
		if err != nil {
			return err
		}
		desc, err := st.Resolve(args[1])
		if err != nil {
			return err
		}
		img, err := st.Load(desc)
		if err != nil {
			return err
		}
		return unpack.Bundle(st, img, args[2], unpack.Options{Copy: true, Rootless: true, InUserNS: true})
	case len(args) == 2 && args[0] == "unmount":
		st, err := s()
		if err != nil {
			return err
		}
		return unpack.Remove(st, args[1])
	case len(args) == 2 && args[0] == "rm":
		return os.RemoveAll(args[1])
	case len(args) == 4 && args[0] == "copyup":
		return copyUpFrom(args[1], args[2], args[3])
	}
	return fmt.Errorf("%s: bad arguments %q", UsernsCommand, args)
}
