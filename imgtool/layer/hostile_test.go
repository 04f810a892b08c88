package layer

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type hEnt struct {
	name, link string
	typ        byte
	size       int64
}

func hostileTar(t *testing.T, ents []hEnt) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: e.size, Format: tar.FormatPAX}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.size > 0 {
			if _, err := tw.Write(make([]byte, e.size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hostileBoth runs ExtractTar in both modes into a fresh dir under a
// sentinel parent and checks nothing appeared beside the root.
func hostileBoth(t *testing.T, data []byte, o ExtractOptions, check func(t *testing.T, root string, err error)) {
	for _, m := range []Mode{Apply, Overlay} {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		o.Mode = m
		err := ExtractTar(bytes.NewReader(data), root, o)
		check(t, root, err)
		if ents, _ := os.ReadDir(parent); len(ents) != 1 {
			t.Fatalf("mode %d: entries created outside root: %v", m, ents)
		}
		if _, serr := os.Stat(root); serr != nil {
			t.Fatalf("mode %d: root gone: %v", m, serr)
		}
	}
}

func TestHostileByteBudget(t *testing.T) {
	data := hostileTar(t, []hEnt{{name: "bomb", typ: tar.TypeReg, size: 1 << 20}})
	hostileBoth(t, data, ExtractOptions{MaxBytes: 1 << 16}, func(t *testing.T, root string, err error) {
		if err == nil || !strings.Contains(err.Error(), "budget") {
			t.Fatalf("want budget error, got %v", err)
		}
	})
}

func TestHostileEscapes(t *testing.T) {
	for name, ents := range map[string][]hEnt{
		"hardlink-out":  {{name: "h", link: "../../etc/passwd", typ: tar.TypeLink}},
		"symlink-write": {{name: "s", link: "/..", typ: tar.TypeSymlink}, {name: "s/evil", typ: tar.TypeReg}},
		"loop":          {{name: "a", link: "b", typ: tar.TypeSymlink}, {name: "b", link: "a", typ: tar.TypeSymlink}, {name: "a/f", typ: tar.TypeReg}},
		"dotdot":        {{name: "../evil", typ: tar.TypeReg}},
	} {
		t.Run(name, func(t *testing.T) {
			hostileBoth(t, hostileTar(t, ents), ExtractOptions{}, func(t *testing.T, root string, err error) {
				if err == nil {
					t.Fatalf("want error")
				}
			})
		})
	}
}

func TestHostileWhiteoutRoot(t *testing.T) {
	for _, n := range []string{".wh..wh..opq", ".wh.", "./.wh..", "/.wh..wh..opq"} {
		hostileBoth(t, hostileTar(t, []hEnt{{name: "keep", typ: tar.TypeReg, size: 1}, {name: n, typ: tar.TypeReg}}), ExtractOptions{},
			func(t *testing.T, root string, err error) {})
	}
}

func TestHostileDuplicate(t *testing.T) {
	data := hostileTar(t, []hEnt{{name: "f", typ: tar.TypeReg, size: 1}, {name: "f", typ: tar.TypeReg, size: 3}})
	hostileBoth(t, data, ExtractOptions{}, func(t *testing.T, root string, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(filepath.Join(root, "f")); st == nil || st.Size() != 3 {
			t.Fatalf("last entry should win: %v", st)
		}
	})
}

func TestHostileLongNameAndDeep(t *testing.T) {
	long := strings.Repeat("n", 4096)
	hostileBoth(t, hostileTar(t, []hEnt{{name: long, typ: tar.TypeReg}}), ExtractOptions{}, func(t *testing.T, root string, err error) {
		if err == nil {
			t.Fatal("want error for 4096-byte name")
		}
		t.Logf("long name: %.120s", err)
	})
	deep := strings.TrimSuffix(strings.Repeat("d/", 4096), "/")
	hostileBoth(t, hostileTar(t, []hEnt{{name: deep + "/f", typ: tar.TypeReg}}), ExtractOptions{}, func(t *testing.T, root string, err error) {
		t.Logf("deep: err=%.120v", err) // success or clear error; must not crash
	})
}

func TestHostileManyFiles(t *testing.T) {
	const n = 100000
	ents := make([]hEnt, 0, n)
	for i := 0; i < n; i++ {
		ents = append(ents, hEnt{name: "f" + strconv.Itoa(i), typ: tar.TypeReg})
	}
	data := hostileTar(t, ents)
	start := time.Now()
	hostileBoth(t, data, ExtractOptions{}, func(t *testing.T, root string, err error) {
		if err != nil {
			t.Fatal(err)
		}
	})
	if d := time.Since(start); d > 40*time.Second {
		t.Fatalf("100k files in both modes took %v", d)
	}
}

func TestHostileSetuidKept(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "su", Typeflag: tar.TypeReg, Mode: 0o4755})
	tw.Close()
	hostileBoth(t, b.Bytes(), ExtractOptions{}, func(t *testing.T, root string, err error) {
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(filepath.Join(root, "su"))
		if os.Geteuid() == 0 && (st == nil || st.Mode()&os.ModeSetuid == 0) {
			t.Fatalf("setuid bit lost as root: %v", st)
		}
	})
}
