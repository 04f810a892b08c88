package layer

import (
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// CopyVerified decompresses the layer stream r into w (io.Discard to only
// check it) and checks the uncompressed bytes against diffID; r is then
// drained so that a reader verifying the compressed digest (store.Open)
// gets to check it. It returns the uncompressed size. Errors do not name
// the layer: callers do.
func CopyVerified(w io.Writer, r io.Reader, diffID digest.Digest) (int64, error) {
	if err := diffID.Validate(); err != nil {
		return 0, fmt.Errorf("diff_id %q: %w", diffID, err)
	}
	z, err := Decompress(r)
	if err != nil {
		return 0, err
	}
	defer z.Close()
	v := diffID.Verifier()
	n, err := io.Copy(io.MultiWriter(w, v), z)
	if err != nil {
		return 0, fmt.Errorf("decompressing (truncated or corrupt?): %w", err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, err
	}
	if !v.Verified() {
		return 0, fmt.Errorf("uncompressed content does not match diff_id %s", diffID)
	}
	return n, nil
}
