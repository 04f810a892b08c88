// Package layerblob stores layers as blobs: it joins the layer codec
// (package layer: tar, compression) with the store, which the codec
// itself does not know.
package layerblob

import (
	"bufio"
	"io"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Put compresses the uncompressed layer that produce writes into a new
// store blob and returns the blob's descriptor and the layer's diff_id.
// produce runs in its own goroutine, in parallel with compression, and
// has returned when Put does; its error (or a compression error) leaves
// nothing in the store.
func Put(s *store.Store, compression string, produce func(io.Writer) error) (ocispec.Descriptor, digest.Digest, error) {
	mt, err := layer.MediaType(compression)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	ing, err := s.NewIngest()
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer ing.Abort()
	if compression == layer.None {
		return putPlain(ing, mt, produce)
	}
	cw, err := layer.Compressor(ing, compression)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	pr, pw := io.Pipe()
	diff := digest.SHA256.Digester()
	produced := make(chan struct{})
	// produce is done with its input when Put returns, even on an error.
	defer func() { pr.Close(); <-produced }()
	go func() {
		defer close(produced)
		bw := bufio.NewWriterSize(io.MultiWriter(pw, diff.Hash()), 1<<20)
		err := produce(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	if _, err := io.Copy(cw, pr); err != nil {
		pr.CloseWithError(err)
		return ocispec.Descriptor{}, "", err
	}
	if err := cw.Close(); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	desc, err := ing.Commit(mt, nil)
	return desc, diff.Digest(), err
}

// putPlain is Put without compression: the blob is the tar, so its
// digest is the diff_id and one hash does for both; produce writes
// straight into the ingest.
func putPlain(ing *store.Ingest, mt string, produce func(io.Writer) error) (ocispec.Descriptor, digest.Digest, error) {
	bw := bufio.NewWriterSize(ing, 1<<20)
	if err := produce(bw); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	if err := bw.Flush(); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	desc, err := ing.Commit(mt, nil)
	return desc, desc.Digest, err
}

// Create tars dir into a new compressed store blob and returns the blob's
// descriptor and the layer's diff_id.
func Create(s *store.Store, dir string, o layer.WriteOptions, compression string) (ocispec.Descriptor, digest.Digest, error) {
	return Put(s, compression, func(w io.Writer) error { return layer.WriteTar(w, dir, o) })
}

// Unpack verifies and applies one layer blob to dir: the blob's digest
// and size and the uncompressed stream's diff_id are all checked (see
// layer.UnpackStream).
func Unpack(s *store.Store, desc ocispec.Descriptor, diffID digest.Digest, dir string, o layer.ExtractOptions) error {
	rc, err := s.Open(desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	return layer.UnpackStream(rc, desc.Digest, diffID, dir, o)
}
