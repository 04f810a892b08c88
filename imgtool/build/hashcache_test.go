//go:build integration

// The COPY cache test runs builds, which mount overlays: root only, behind
// the integration tag (docs/CONVENTIONS.md).

package build

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myrun-org/myrun/imgtool/store"
)

// The COPY cache key comes from file metadata when nothing changed, but a
// content change that keeps size and mtime (ctime still moves) must miss,
// and a touch without a change must still hit (after the copy ran).
func TestCopyCacheKeyFollowsContent(t *testing.T) {
	files := map[string]string{"Containerfile": "FROM scratch\nCOPY dir /dir\n"}
	for _, n := range []string{"a", "b", "sub/c", "sub/d"} {
		files["dir/"+n] = "content of " + n
	}
	ctx := writeCtx(t, files)
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 0).UTC()
	build := func() *Result {
		var out bytes.Buffer
		res, err := Build(s, Options{ContextDir: ctx, Layers: true, Timestamp: &ts, Tags: []string{"t"}, Out: &out})
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return res
	}
	r1 := build()
	ents, _ := filepath.Glob(filepath.Join(s.Root, store.CacheDir, "inputs-*"))
	if len(ents) != 1 {
		t.Fatalf("metadata records: %v", ents)
	}
	if r := build(); r.CacheHits != 1 || r.Manifest.Digest != r1.Manifest.Digest {
		t.Fatalf("no-change rebuild: hits %d", r.CacheHits)
	}
	// Same size, same mtime, other bytes.
	p := filepath.Join(ctx, "dir", "sub", "c")
	st, _ := os.Stat(p)
	if err := os.WriteFile(p, []byte(strings.ToUpper("content of sub/c")), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, st.ModTime(), st.ModTime())
	r3 := build()
	if r3.CacheHits != 0 || r3.Manifest.Digest == r1.Manifest.Digest {
		t.Fatalf("changed content reused the cache: hits %d", r3.CacheHits)
	}
	// Touched back to the first content: metadata differs, content matches.
	os.WriteFile(p, []byte("content of sub/c"), 0o644)
	if r := build(); r.CacheHits != 1 || r.Manifest.Digest != r1.Manifest.Digest {
		t.Fatalf("same content after a touch: hits %d digest %s", r.CacheHits, r.Manifest.Digest)
	}
}
