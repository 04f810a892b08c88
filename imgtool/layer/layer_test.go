package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func mkTar(t *testing.T, ents ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		if e.mode == 0 {
			e.mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), ModTime: time.Unix(1000, 0)}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return buf.Bytes()
}

func TestHostileEntries(t *testing.T) {
	cases := map[string][]entry{
		"dotdot":          {{name: "../evil", typ: tar.TypeReg, body: "x"}},
		"dotdot-inside":   {{name: "a/../../evil", typ: tar.TypeReg, body: "x"}},
		"symlink-write":   {{name: "etc", typ: tar.TypeSymlink, link: "/etc"}, {name: "etc/passwd", typ: tar.TypeReg, body: "pwned"}},
		"symlink-file":    {{name: "p", typ: tar.TypeSymlink, link: "/etc/passwd"}, {name: "p/x", typ: tar.TypeReg, body: "pwned"}},
		"relative-escape": {{name: "d", typ: tar.TypeSymlink, link: "../../../../tmp"}, {name: "d/evil", typ: tar.TypeReg, body: "x"}},
		"hardlink-escape": {{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}},
		"hardlink-via-symlink": {{name: "s", typ: tar.TypeSymlink, link: "/etc"},
			{name: "h", typ: tar.TypeLink, link: "s/passwd"}},
	}
	for name, ents := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "a", "b")
			os.MkdirAll(dir, 0o755)
			err := ExtractTar(bytes.NewReader(mkTar(t, ents...)), dir, ExtractOptions{})
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("want a refused entry, got %v", err)
			}
			if _, err := os.Lstat(filepath.Join(parent, "evil")); err == nil {
				t.Fatal("file written outside the root")
			}
			if _, err := os.Lstat(filepath.Join(parent, "a", "evil")); err == nil {
				t.Fatal("file written outside the root")
			}
			if b, _ := os.ReadFile("/etc/passwd"); strings.Contains(string(b), "pwned") {
				t.Fatal("host /etc/passwd written")
			}
		})
	}
}

func TestCheckTarRejectsDotDot(t *testing.T) {
	if err := CheckTar(bytes.NewReader(mkTar(t, entry{name: "../evil", typ: tar.TypeReg}))); err == nil {
		t.Fatal("accepted ../evil")
	}
	if err := CheckTar(bytes.NewReader(mkTar(t, entry{name: "ok", typ: tar.TypeReg, body: "x"}))); err != nil {
		t.Fatal(err)
	}
}

// gzip layers are written at BestSpeed (the header's XFL byte says 4,
// "fastest"), the same bytes every time, and the cache key names the level.
func TestGzipLevel(t *testing.T) {
	data := bytes.Repeat([]byte("layer bytes, fairly compressible. "), 100000)
	var outs [2][]byte
	for i := range outs {
		var buf bytes.Buffer
		z, err := Compressor(&buf, Gzip)
		if err != nil {
			t.Fatal(err)
		}
		z.Write(data)
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		outs[i] = buf.Bytes()
	}
	if len(outs[0]) < 10 || outs[0][8] != 4 {
		t.Fatalf("gzip header %x: want XFL 4 (BestSpeed)", outs[0][:10])
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("gzip output differs between two runs")
	}
	rc, err := Decompress(bytes.NewReader(outs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if back, err := io.ReadAll(rc); err != nil || !bytes.Equal(back, data) {
		t.Fatalf("round trip: %v", err)
	}
	if CacheName(Gzip) != "gzip-1" || CacheName("") != "gzip-1" || CacheName(Zstd) != "zstd" {
		t.Fatalf("CacheName: %s %s %s", CacheName(Gzip), CacheName(""), CacheName(Zstd))
	}
	// Levels name other bytes; a level is the same bytes every time.
	if CacheNameLevel(Gzip, 6) != "gzip-6" || CacheNameLevel(Zstd, 3) != "zstd-3" || CacheNameLevel(None, 0) != "none" {
		t.Fatalf("CacheNameLevel: %s %s", CacheNameLevel(Gzip, 6), CacheNameLevel(Zstd, 3))
	}
	var l6 [2]bytes.Buffer
	for i := range l6 {
		w, err := CompressorLevel(&l6[i], Gzip, 6)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	}
	if !bytes.Equal(l6[0].Bytes(), l6[1].Bytes()) || bytes.Equal(l6[0].Bytes(), outs[0]) || l6[0].Bytes()[8] != 0 {
		t.Fatalf("gzip level 6: header %x", l6[0].Bytes()[:10])
	}
	for _, bad := range [][2]any{{Gzip, 10}, {Zstd, 23}, {None, 1}, {Gzip, -1}} {
		if _, err := CompressorLevel(io.Discard, bad[0].(string), bad[1].(int)); err == nil {
			t.Errorf("level %v accepted", bad)
		}
	}
}
