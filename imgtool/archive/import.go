// Package archive moves images in and out of the store as files: import
// of a rootfs (directory or tarball), save and load of oci-archive and
// docker-archive tarballs.
package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/layerblob"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImportOptions describe the one-layer image Import makes.
type ImportOptions struct {
	Compression string     // the layer in the store: none (also ""), gzip or zstd
	Created     *time.Time // nil: now; also clamps file mtimes when set
	Config      store.Config
	Comment     string
	// IDs maps the owners of a directory's files (see layer.WriteOptions).
	IDs func(uid, gid uint32) (uint32, uint32)
}

// Import makes a one-layer image from a rootfs directory or a (possibly
// compressed) tarball and returns its manifest descriptor.
func Import(s *store.Store, src string, o ImportOptions) (_ ocispec.Descriptor, err error) {
	end, err := s.Import()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer func() { end(err != nil) }()
	st, err := os.Stat(src)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if o.Compression == "" {
		o.Compression = layer.None
	}
	var desc ocispec.Descriptor
	var diffID digest.Digest
	if st.IsDir() {
		desc, diffID, err = layerblob.Create(s, src, layer.WriteOptions{Clamp: o.Created, IDs: o.IDs}, o.Compression)
	} else {
		desc, diffID, err = importTarball(s, src, o.Compression)
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("import %s: %w", src, err)
	}
	created := time.Now().UTC()
	if o.Created != nil {
		created = o.Created.UTC()
	}
	comment := o.Comment
	if comment == "" {
		comment = "imported from " + src
	}
	img := store.Image{
		Created:  &created,
		Platform: store.HostPlatform(),
		Config:   o.Config,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History:  []ocispec.History{{Created: &created, CreatedBy: "myimg import", Comment: comment}},
	}
	return s.PutImage(img, []ocispec.Descriptor{desc}, nil)
}

// importTarball recompresses a tarball, checking that it is a tar.
func importTarball(s *store.Store, src, compression string) (ocispec.Descriptor, digest.Digest, error) {
	f, err := os.Open(src)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer f.Close()
	z, err := layer.Decompress(f)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer z.Close()
	return layerblob.Put(s, compression, func(w io.Writer) error {
		// Validate while copying: the stream must parse as tar with safe names.
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := layer.CheckTar(pr)
			pr.CloseWithError(err)
			done <- err
		}()
		_, err := io.Copy(io.MultiWriter(w, pw), bufio.NewReaderSize(z, 1<<20))
		pw.CloseWithError(err)
		if cerr := <-done; err == nil {
			err = cerr
		}
		return err
	})
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
