// Package unpack turns an image into a runtime bundle (rootfs +
// config.json) and keeps extracted layers cached in the store.
//
// Layer cache: every layer is extracted once, in overlay format (whiteouts
// as 0/0 character devices, opaque dirs by xattr), to
// <store>/layers/<diff_id hex>. An unpack then only mounts an overlay of
// those directories on <bundle>/rootfs with the upper and work dirs in
// <bundle>/.overlay, so a second unpack of the same image costs one mount.
// Writes from the container land in the bundle's upper dir; the cache is
// never modified. `myimg unmount BUNDLE` (or umount) detaches it.
// Non-root users and --copy get a flattened copy instead.
package unpack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/layerblob"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// LayerDir is where the extracted layer with diffID lives.
func LayerDir(s *store.Store, diffID digest.Digest) string {
	return filepath.Join(s.Root, store.LayersDir, diffID.Encoded())
}

// Progress receives one line per extracted layer (may be nil).
type Progress func(format string, args ...any)

// EnsureLayers extracts the layers of img that are not cached yet, in
// parallel, and returns the layer dirs bottom-first.
func EnsureLayers(s *store.Store, layers []ocispec.Descriptor, diffIDs []digest.Digest, p Progress) ([]string, error) {
	if len(layers) != len(diffIDs) {
		return nil, fmt.Errorf("%d layers but %d diff_ids", len(layers), len(diffIDs))
	}
	dirs := make([]string, len(layers))
	errs := make([]error, len(layers))
	sem := make(chan struct{}, max(2, runtime.NumCPU()))
	var wg sync.WaitGroup
	for i := range layers {
		dirs[i] = LayerDir(s, diffIDs[i])
		if _, err := os.Stat(dirs[i]); err == nil {
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = extractCached(s, layers[i], diffIDs[i], dirs[i])
			if errs[i] == nil && p != nil {
				p("Extracted layer %s (%d bytes)", layers[i].Digest.Encoded()[:12], layers[i].Size)
			}
		}(i)
	}
	wg.Wait()
	return dirs, errors.Join(errs...)
}

func extractCached(s *store.Store, desc ocispec.Descriptor, diffID digest.Digest, dst string) error {
	tmp, err := s.TempDir("layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "d")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	layer.SpreadHint(root)
	if err := layerblob.Unpack(s, desc, diffID, root, layer.ExtractOptions{Mode: layer.Overlay}); err != nil {
		return err
	}
	if err := os.Rename(root, dst); err != nil && !errors.Is(err, os.ErrExist) {
		if _, serr := os.Stat(dst); serr == nil {
			return nil // another unpack won the race
		}
		return err
	}
	return nil
}
