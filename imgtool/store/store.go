// Package store keeps images in an OCI image layout (image-spec v1.1):
// oci-layout, index.json with org.opencontainers.image.ref.name annotations
// and content-addressed blobs under blobs/sha256. Writes are atomic (temp
// file, fsync, rename, fsync of the directory) and every read is verified
// against the descriptor's digest and size.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store is an OCI image layout on disk plus our private state directories
// (ingest for temp files, layers for the extracted-layer cache, cache for
// build-cache records). Tools that read the layout ignore the extra dirs.
type Store struct {
	Root string

	mu    sync.Mutex
	added []digest.Digest // blobs this process put into blobs/ (see Import)
}

const (
	ingestDir = "ingest"
	// LayersDir holds extracted layers in overlay format, named by diffID.
	LayersDir = "layers"
	// CacheDir holds build-cache records.
	CacheDir = "cache"
	// CacheMountsDir holds RUN --mount=type=cache directories (<sha256 of
	// id>, with .lock and .json beside each).
	CacheMountsDir = "cache-mounts"
	// BundlesDir records bundles whose rootfs is an overlay of cached layers.
	BundlesDir = "bundles"
)

// Open opens (creating if needed) the store at root.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	s := &Store{Root: abs}
	for _, d := range []string{"blobs/sha256", ingestDir, LayersDir, CacheDir, BundlesDir} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("store %s: %w", abs, err)
		}
	}
	if err := os.Chmod(abs, 0o700); err != nil && !errors.Is(err, os.ErrPermission) {
		return nil, err
	}
	s.cleanStaleTemps()
	layoutPath := filepath.Join(abs, ocispec.ImageLayoutFile)
	if _, err := os.Stat(layoutPath); errors.Is(err, os.ErrNotExist) {
		b, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
		if err := WriteFileAtomic(layoutPath, b, 0o644); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(abs, ocispec.ImageIndexFile)); errors.Is(err, os.ErrNotExist) {
		unlock, err := s.lockIndex()
		if err != nil {
			return nil, err
		}
		defer unlock()
		if _, err := os.Stat(filepath.Join(abs, ocispec.ImageIndexFile)); errors.Is(err, os.ErrNotExist) {
			if err := s.writeIndex(newIndex()); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// DefaultRoot is /var/lib/myimg for root and $XDG_DATA_HOME/myimg
// (~/.local/share/myimg) otherwise.
func DefaultRoot() string {
	if os.Geteuid() == 0 {
		return "/var/lib/myimg"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "myimg")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "myimg")
}

// TempDir makes a private temp directory on the store's filesystem (so
// renames into the store are atomic and overlay upper dirs can live there).
func (s *Store) TempDir(pattern string) (string, error) {
	dir, err := os.MkdirTemp(filepath.Join(s.Root, ingestDir), pattern)
	if err != nil {
		return "", err
	}
	if err := markOwner(dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
