package store

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BlobPath is where a blob with digest d lives.
func (s *Store) BlobPath(d digest.Digest) string {
	return filepath.Join(s.Root, "blobs", d.Algorithm().String(), d.Encoded())
}

// HasBlob reports whether a blob with the digest and size is present.
func (s *Store) HasBlob(desc ocispec.Descriptor) bool {
	if desc.Digest.Validate() != nil {
		return false
	}
	st, err := os.Stat(s.BlobPath(desc.Digest))
	return err == nil && st.Mode().IsRegular() && st.Size() == desc.Size
}

// Ingest is a blob being written: it hashes what it is given and lands in
// blobs/ only on Commit.
type Ingest struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

// blobTempPrefix starts blob temp file names; the owner's tag follows.
const blobTempPrefix = "blob-"

// NewIngest starts writing a blob.
func (s *Store) NewIngest() (*Ingest, error) {
	f, err := os.CreateTemp(filepath.Join(s.Root, ingestDir), blobTempPrefix+ownerTag()+"-*")
	if err != nil {
		return nil, err
	}
	return &Ingest{s: s, f: f, h: digest.SHA256.Hash()}, nil
}

func (w *Ingest) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Digest of what was written so far.
func (w *Ingest) Digest() digest.Digest { return digest.NewDigest(digest.SHA256, w.h) }

// Size written so far.
func (w *Ingest) Size() int64 { return w.n }

// Abort discards the blob. Safe to call after Commit.
func (w *Ingest) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// Commit fsyncs and renames the blob into place. If expected is set the
// content must match it (digest and size) or nothing is stored.
func (w *Ingest) Commit(mediaType string, expected *ocispec.Descriptor) (ocispec.Descriptor, error) {
	defer w.Abort()
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: w.Digest(), Size: w.n}
	if expected != nil {
		if expected.Size != w.n {
			return desc, fmt.Errorf("blob %s: size %d does not match descriptor size %d", expected.Digest, w.n, expected.Size)
		}
		if expected.Digest != desc.Digest {
			return desc, fmt.Errorf("blob %s: content digest is %s", expected.Digest, desc.Digest)
		}
	}
	if w.s.HasBlob(desc) {
		return desc, nil
	}
	if err := w.f.Sync(); err != nil {
		return desc, err
	}
	if err := w.f.Chmod(0o644); err != nil {
		return desc, err
	}
	if err := w.f.Close(); err != nil {
		return desc, err
	}
	w.done = true
	dst := w.s.BlobPath(desc.Digest)
	if err := os.Rename(w.f.Name(), dst); err != nil {
		os.Remove(w.f.Name())
		return desc, err
	}
	w.s.mu.Lock()
	w.s.added = append(w.s.added, desc.Digest)
	w.s.mu.Unlock()
	return desc, syncDir(filepath.Dir(dst))
}

// PutBlob stores r, verifying it against expected when given.
func (s *Store) PutBlob(r io.Reader, mediaType string, expected *ocispec.Descriptor) (ocispec.Descriptor, error) {
	if expected != nil && s.HasBlob(*expected) {
		// Content addressed: already there (verified on every read anyway).
		d := *expected
		d.MediaType = mediaType
		return d, nil
	}
	w, err := s.NewIngest()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer w.Abort()
	if _, err := io.Copy(w, r); err != nil {
		return ocispec.Descriptor{}, err
	}
	return w.Commit(mediaType, expected)
}

// PutBytes stores a small blob (config, manifest).
func (s *Store) PutBytes(mediaType string, b []byte) (ocispec.Descriptor, error) {
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if s.HasBlob(desc) {
		return desc, nil
	}
	w, err := s.NewIngest()
	if err != nil {
		return desc, err
	}
	defer w.Abort()
	if _, err := w.Write(b); err != nil {
		return desc, err
	}
	return w.Commit(mediaType, &desc)
}

// ErrVerify marks content that does not match its descriptor.
var ErrVerify = errors.New("blob verification failed")

// Open returns a reader over the blob that fails (with ErrVerify) at EOF
// unless exactly desc.Size bytes hashing to desc.Digest were read.
func (s *Store) Open(desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("descriptor digest %q: %w", desc.Digest, err)
	}
	f, err := os.Open(s.BlobPath(desc.Digest))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("blob %s: missing from store %s", desc.Digest, s.Root)
		}
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() != desc.Size {
		f.Close()
		return nil, fmt.Errorf("%w: blob %s is %d bytes, descriptor says %d", ErrVerify, desc.Digest, st.Size(), desc.Size)
	}
	return NewVerifier(f, desc), nil
}

// ReadBlob reads and verifies a whole blob (use for small JSON blobs).
func (s *Store) ReadBlob(desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > 64<<20 {
		return nil, fmt.Errorf("blob %s: %d bytes is too large to read into memory", desc.Digest, desc.Size)
	}
	r, err := s.Open(desc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

type verifier struct {
	rc   io.ReadCloser
	desc ocispec.Descriptor
	v    digest.Verifier
	n    int64
}

// NewVerifier wraps rc so that reading it to EOF checks digest and size.
func NewVerifier(rc io.ReadCloser, desc ocispec.Descriptor) io.ReadCloser {
	return &verifier{rc: rc, desc: desc, v: desc.Digest.Verifier()}
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.n += int64(n)
	v.v.Write(p[:n])
	if v.n > v.desc.Size {
		return n, fmt.Errorf("%w: blob %s is larger than descriptor size %d", ErrVerify, v.desc.Digest, v.desc.Size)
	}
	if err == io.EOF {
		if v.n != v.desc.Size {
			return n, fmt.Errorf("%w: blob %s: read %d bytes, descriptor says %d", ErrVerify, v.desc.Digest, v.n, v.desc.Size)
		}
		if !v.v.Verified() {
			return n, fmt.Errorf("%w: blob %s: content does not match digest", ErrVerify, v.desc.Digest)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }
