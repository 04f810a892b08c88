package unpack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/layerblob"
	"github.com/myrun-org/myrun/imgtool/overlay"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
)

// Options for Bundle.
type Options struct {
	// Copy flattens the layers into a real directory instead of mounting
	// an overlay of the layer cache (always so when not root).
	Copy bool
	// Rootless writes a config.json with a user namespace mapping
	// container root to the caller (or UIDMap/GIDMap when given).
	Rootless       bool
	UIDMap, GIDMap []layer.IDMap
	// InUserNS: we are root of a rootless user namespace; owners are
	// set where mapped, device nodes are skipped.
	InUserNS bool
	Progress Progress
	// Storage is the storage driver chosen for every myimg command: a
	// copy (vfs, also with Copy, id maps or without root), the kernel's
	// overlay, or fuse-overlayfs (overlay.mount_program); unset: the
	// kernel's overlay, else fuse-overlayfs where usable, else a copy.
	Storage Storage
}

// Bundle unpacks img into bundle: bundle/rootfs and bundle/config.json.
// bundle must not exist or be empty.
func Bundle(s *store.Store, img *store.Loaded, bundle string, o Options) error {
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return err
	}
	kind, err := o.layout()
	if err != nil {
		return err
	}
	if _, err := recoverHalfMade(s, bundle); err != nil {
		return err
	}
	if ents, err := os.ReadDir(bundle); err == nil && len(ents) > 0 {
		return fmt.Errorf("bundle %s: directory is not empty", bundle)
	}
	if err := os.MkdirAll(bundle, 0o711); err != nil {
		return err
	}
	// First of all: a kill from here on leaves a bundle the next unpack
	// or unmount can tell from a live one.
	if err := store.WriteOwner(filepath.Join(bundle, unpackMarker)); err != nil {
		os.Remove(bundle)
		return err
	}
	rootfs := filepath.Join(bundle, "rootfs")
	ok := false
	defer func() {
		if !ok {
			// The mount, a fuse-overlayfs process, the record, the dir.
			RemoveForce(s, bundle)
		}
	}()
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	layer.SpreadHint(rootfs)
	if kind != overlay.KindVFS {
		if kind, err = mountBundle(s, img, bundle, o, kind); err != nil {
			return err
		}
	}
	if kind == overlay.KindVFS {
		if err := copyLayers(s, img, rootfs, o); err != nil {
			return err
		}
	}
	spec, err := Spec(img, rootfs, o)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	if err := store.WriteFileAtomic(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(bundle, unpackMarker)); err != nil {
		return err
	}
	ok = true
	return nil
}

// copyLayers applies the image's layers onto rootfs (the vfs driver).
func copyLayers(s *store.Store, img *store.Loaded, rootfs string, o Options) error {
	for i, l := range img.Manifest.Layers {
		eo := layer.ExtractOptions{Mode: layer.Apply, UIDMap: o.UIDMap, GIDMap: o.GIDMap, Rootless: o.InUserNS}
		if err := layerblob.Unpack(s, l, img.DiffID(i), rootfs, eo); err != nil {
			return err
		}
		if o.Progress != nil {
			o.Progress("Applied layer %s", l.Digest.Encoded()[:12])
		}
	}
	return nil
}

// mountBundle mounts bundle/rootfs over the store's extracted layers
// with kind (kernel overlay, fuse-overlayfs, or "": the first that
// works), the upper and work dirs in bundle/.overlay. It returns the
// kind used: KindVFS when the automatic choice found no mount, with
// nothing of the mount left (the caller copies).
func mountBundle(s *store.Store, img *store.Loaded, bundle string, o Options, kind string) (string, error) {
	dirs, err := EnsureLayers(s, img.Manifest.Layers, img.Config.RootFS.DiffIDs, o.Progress)
	if err != nil {
		return kind, err
	}
	ov := filepath.Join(bundle, ".overlay")
	upper, work := filepath.Join(ov, "upper"), filepath.Join(ov, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return kind, err
		}
	}
	if len(dirs) == 0 {
		empty := filepath.Join(ov, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return kind, err
		}
		dirs = []string{empty}
	}
	// Record the bundle before mounting so prune keeps its layers.
	rec, _ := json.Marshal(struct {
		Bundle  string          `json:"bundle"`
		DiffIDs []digest.Digest `json:"diffIDs"`
	}{bundle, img.Config.RootFS.DiffIDs})
	if err := store.WriteFileAtomic(recordPath(s, bundle), rec, 0o600); err != nil {
		return kind, err
	}
	kind, err = o.Storage.mount(kind, dirs, ov, filepath.Join(bundle, "rootfs"))
	if err != nil || kind == overlay.KindVFS {
		os.Remove(recordPath(s, bundle))
		os.RemoveAll(ov)
	}
	return kind, err
}

func recordPath(s *store.Store, bundle string) string {
	h := sha256.Sum256([]byte(bundle))
	return filepath.Join(s.Root, store.BundlesDir, hex.EncodeToString(h[:16])+".json")
}

// Remove unmounts a bundle made by Bundle and deletes it.
func Remove(s *store.Store, bundle string) error {
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return err
	}
	if done, err := recoverHalfMade(s, bundle); done || err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(bundle, "config.json")); err != nil {
		return fmt.Errorf("%s does not look like a bundle: %w", bundle, err)
	}
	if err := unmountRootfs(bundle); err != nil {
		return err
	}
	if overlay.IsMounted(filepath.Join(bundle, "rootfs")) {
		return errors.New("rootfs is still mounted")
	}
	os.Remove(recordPath(s, bundle))
	return os.RemoveAll(bundle)
}
