package layer

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// SizesDir holds the uncompressed size of each layer, by diff_id, so
// `images` and `history` decompress a layer once.
const SizesDir = "sizes"

// UncompressedSize is the size of the layer's tar (podman's and docker's
// SIZE is the sum of these). The blob is read, verified and counted the
// first time; the answer is kept in <store>/sizes/<diff_id>.
func UncompressedSize(s *store.Store, ld ocispec.Descriptor, diffID digest.Digest) (int64, error) {
	if ld.MediaType == ocispec.MediaTypeImageLayer || ld.MediaType == "application/vnd.docker.image.rootfs.diff.tar" {
		return ld.Size, nil
	}
	// Checked before it names a file (CopyVerified checks it again).
	if err := diffID.Validate(); err != nil {
		return 0, fmt.Errorf("diff_id %q: %w", diffID, err)
	}
	p := filepath.Join(s.Root, SizesDir, diffID.Encoded())
	if b, err := os.ReadFile(p); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	}
	rc, err := s.Open(ld)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := CopyVerified(io.Discard, rc, diffID)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", ld.Digest, err)
	}
	// A cache only: a store we may not write to still gets its answer.
	if os.MkdirAll(filepath.Dir(p), 0o700) == nil {
		store.WriteFileAtomic(p, []byte(strconv.FormatInt(n, 10)+"\n"), 0o600)
	}
	return n, nil
}
