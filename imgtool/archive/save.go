package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/myrun-org/myrun/imgtool/store"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// SaveDir writes the named images as an OCI layout directory at dir
// (created, or added to when it already is a layout). Each image keeps its
// name as org.opencontainers.image.ref.name. Layers e compresses are
// written compressed (podman's oci-dir and oci-archive gzip the
// uncompressed layers of its store the same way).
func SaveDir(s *store.Store, dir string, names []string, e Export) error {
	dst, err := store.Open(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		desc, err := s.Resolve(n)
		if err != nil {
			return err
		}
		out, err := copyImage(s, dst, desc, e)
		if err != nil {
			return err
		}
		if err := dst.Tag(refName(n), out); err != nil {
			return err
		}
	}
	// Our private directories are not part of an exported layout.
	for _, d := range []string{"ingest", store.LayersDir, store.CacheDir, store.BundlesDir, "index.lock", "gc.lock"} {
		os.RemoveAll(filepath.Join(dst.Root, d))
	}
	return os.Chmod(dst.Root, 0o755)
}

func refName(n string) string {
	if _, err := digestLike(n); err == nil {
		return n
	}
	return store.NormalizeName(n)
}

func digestLike(n string) (string, error) {
	if len(n) >= 6 && len(n) <= 71 {
		for _, c := range n {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == ':' || c >= 's' && c <= 'z') {
				return "", fmt.Errorf("no")
			}
		}
		return n, nil
	}
	return "", fmt.Errorf("no")
}

// SaveArchive writes an oci-archive (a tar of an OCI layout) to w.
func SaveArchive(s *store.Store, w io.Writer, names []string, e Export) error {
	tmp, err := s.TempDir("save-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "layout")
	if err := SaveDir(s, dir, names, e); err != nil {
		return err
	}
	return tarDir(w, dir)
}

// tarDir writes dir's files (layout files and blobs) in lexical order.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Mode: 0o644, Typeflag: tar.TypeReg, Size: st.Size()}
		if d.IsDir() {
			hdr.Name += "/"
			hdr.Mode, hdr.Typeflag, hdr.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

var _ = ocispec.ImageLayoutFile
