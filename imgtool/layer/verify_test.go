package layer

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestCopyVerified(t *testing.T) {
	raw := []byte("not really a tar, but bytes of a layer")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	var out bytes.Buffer
	if n, err := CopyVerified(&out, bytes.NewReader(gz.Bytes()), digest.FromBytes(raw)); err != nil || n != int64(len(raw)) || !bytes.Equal(out.Bytes(), raw) {
		t.Fatalf("good layer: n=%d err=%v out=%q", n, err, out.Bytes())
	}
	for name, c := range map[string]struct {
		data   []byte
		diffID digest.Digest
		want   string
	}{
		"wrong diff_id": {gz.Bytes(), digest.FromString("other"), "uncompressed content does not match diff_id"},
		"bad diff_id":   {gz.Bytes(), "sha256:../../x", `diff_id "sha256:../../x"`},
		"truncated":     {gz.Bytes()[:gz.Len()-10], digest.FromBytes(raw), "decompressing (truncated or corrupt?)"},
	} {
		if _, err := CopyVerified(io.Discard, bytes.NewReader(c.data), c.diffID); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
}
