package layer

import (
	"bufio"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// maxTrailing bounds the bytes accepted after a layer's last tar entry;
// tar pads to 10 KiB records, so 1 MiB is generous.
const maxTrailing = 1 << 20

// UnpackStream verifies and applies one (compressed or plain) layer
// stream to dir; name is used in errors. Decompression runs in its own
// goroutine, in parallel with writing files. The uncompressed stream's
// diff_id is checked (and the compressed one's digest, where rc verifies
// it, once drained); on a mismatch the error says which, and the caller
// discards dir.
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
