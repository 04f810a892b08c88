package layer

import (
	"bufio"
	"fmt"
	"io"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Create tars dir, compresses it into a new store blob and returns the
// blob's descriptor and the layer's diff_id. Tar writing and compression
// run in separate goroutines.
func Create(s *store.Store, dir string, o WriteOptions, compression string) (ocispec.Descriptor, digest.Digest, error) {
	mt, err := MediaType(compression)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	ing, err := s.NewIngest()
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer ing.Abort()
	pr, pw := io.Pipe()
	diff := digest.SHA256.Digester()
	go func() {
		bw := bufio.NewWriterSize(io.MultiWriter(pw, diff.Hash()), 1<<20)
		err := WriteTar(bw, dir, o)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	cw, err := Compressor(ing, compression)
	if err != nil {
		pr.CloseWithError(err)
		return ocispec.Descriptor{}, "", err
	}
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

// Unpack verifies and applies one layer blob to dir. Decompression runs in
// its own goroutine, in parallel with writing files. The blob's digest and
// size and the uncompressed stream's diff_id are all checked; on a
// mismatch the error says which, and the caller discards dir.
func Unpack(s *store.Store, desc ocispec.Descriptor, diffID digest.Digest, dir string, o ExtractOptions) error {
	rc, err := s.Open(desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	return UnpackStream(rc, desc.Digest, diffID, dir, o)
}

// maxTrailing bounds the bytes accepted after a layer's last tar entry;
// tar pads to 10 KiB records, so 1 MiB is generous.
const maxTrailing = 1 << 20

// UnpackStream is Unpack for a (compressed or plain) stream; name is used in errors.
func UnpackStream(rc io.Reader, name digest.Digest, diffID digest.Digest, dir string, o ExtractOptions) error {
	if err := diffID.Validate(); err != nil {
		return fmt.Errorf("layer %s: diff_id %q: %w", name, diffID, err)
	}
	// The diff_id is hashed on the decompressing goroutine too, so the
	// extracting one only parses the tar and creates files.
	v := diffID.Verifier()
	pr, pw := io.Pipe()
	go func() {
		z, err := Decompress(rc)
		if err != nil {
			pw.CloseWithError(fmt.Errorf("layer %s: %w", name, err))
			return
		}
		bw := bufio.NewWriterSize(pw, 1<<20)
		_, err = io.Copy(io.MultiWriter(bw, v), z)
		if err == nil {
			err = bw.Flush()
		}
		z.Close()
		if err == nil {
			// Drain the compressed stream so its digest gets checked.
			_, err = io.Copy(io.Discard, rc)
		}
		if err != nil {
			err = fmt.Errorf("layer %s: %w", name, err)
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	if err := ExtractTar(pr, dir, o); err != nil {
		return fmt.Errorf("layer %s: %w", name, err)
	}
	// What trails the entries (end blocks, record padding; umoci writes
	// none) still counts for the diff_id, but only so much of it: a bomb
	// of zeros after the end would otherwise be inflated in full. EOF
	// here means the goroutine is done writing (and hashing).
	n, err := io.Copy(io.Discard, io.LimitReader(pr, maxTrailing+1))
	if err != nil {
		return err
	}
	if n > maxTrailing {
		return fmt.Errorf("layer %s: more than %d bytes of data after the end of the tar archive", name, maxTrailing)
	}
	if !v.Verified() {
		return fmt.Errorf("layer %s: uncompressed content does not match diff_id %s", name, diffID)
	}
	return nil
}
