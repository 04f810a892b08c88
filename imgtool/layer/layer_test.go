package layer

import (
	"archive/tar"
	"bytes"
	"errors"
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
