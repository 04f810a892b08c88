package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
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
		var le *Error
		if !errors.As(err, &le) || le.Entry != long || !strings.Contains(le.Reason, "too long") {
			t.Fatalf("want an error naming the 4096-byte entry as too long, got %.200v", err)
		}
	})
	// 4,096 levels: the name alone is past PATH_MAX, refused by name
	// before any directory is made.
	deep := strings.Repeat("d/", 4096) + "f"
	hostileBoth(t, hostileTar(t, []hEnt{{name: deep, typ: tar.TypeReg}}), ExtractOptions{}, func(t *testing.T, root string, err error) {
		var le *Error
		if !errors.As(err, &le) || le.Entry != deep || !strings.Contains(le.Reason, "too long") {
			t.Fatalf("want an error naming the deep entry as too long, got %.200v", err)
		}
		if ents, _ := os.ReadDir(root); len(ents) != 0 {
			t.Fatalf("deep entry left %v behind", ents)
		}
	})
	// 2,000 levels, one entry per level, just under PATH_MAX: extracted.
	var ents []hEnt
	p := ""
	for i := 0; i < 2000; i++ {
		p += "d/"
		ents = append(ents, hEnt{name: p, typ: tar.TypeDir})
	}
	ents = append(ents, hEnt{name: p + "f", typ: tar.TypeReg, size: 1})
	hostileBoth(t, hostileTar(t, ents), ExtractOptions{}, func(t *testing.T, root string, err error) {
		if err != nil {
			t.Fatalf("2,000-deep tree: %.200v", err)
		}
		if _, err := os.Lstat(filepath.Join(root, p+"f")); err != nil {
			t.Fatalf("2,000-deep file missing: %.200v", err)
		}
	})
}

func TestHostileManyFiles(t *testing.T) {
	const n = 100000
	ents := make([]hEnt, 0, n)
	for i := 0; i < n; i++ {
		ents = append(ents, hEnt{name: "f" + strconv.Itoa(i), typ: tar.TypeReg})
	}
	data := hostileTar(t, ents)
	hostileBoth(t, data, ExtractOptions{}, func(t *testing.T, root string, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadDir(root); len(got) != n {
			t.Fatalf("%d of %d files extracted", len(got), n)
		}
	})
	// The entry budget stops an inode-exhaustion layer at its limit.
	hostileBoth(t, data, ExtractOptions{MaxEntries: 1000}, func(t *testing.T, root string, err error) {
		var le *Error
		if !errors.As(err, &le) || !strings.Contains(le.Reason, "entry budget of 1000") {
			t.Fatalf("want entry budget error, got %v", err)
		}
		if got, _ := os.ReadDir(root); len(got) > 1000 {
			t.Fatalf("%d entries written past a budget of 1000", len(got))
		}
	})
}

// gzipTar writes a gzip'ed tar of n entries of size bytes of zeros, then
// trailing zero bytes after the end of the archive; it returns the blob
// and the digest of its uncompressed content.
func gzipTar(t *testing.T, n int, size int64, trailing int64) ([]byte, digest.Digest) {
	t.Helper()
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	dg := digest.SHA256.Digester()
	raw := io.MultiWriter(zw, dg.Hash())
	tw := tar.NewWriter(raw)
	zero := make([]byte, 1<<20)
	for i := 0; i < n; i++ {
		if err := tw.WriteHeader(&tar.Header{Name: "z" + strconv.Itoa(i), Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
			t.Fatal(err)
		}
		for left := size; left > 0; left -= int64(len(zero)) {
			if _, err := tw.Write(zero[:min(left, int64(len(zero)))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	for left := trailing; left > 0; left -= int64(len(zero)) {
		raw.Write(zero[:min(left, int64(len(zero)))])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return gz.Bytes(), dg.Digest()
}

// Decompression bombs through the real unpack path (gzip, diff_id):
// 256 MiB of files compressed about 1000:1 stops at the byte budget, and
// 256 MiB of zeros after the archive's end is not inflated in full. Disk
// stays under the budget and memory under a fixed bound.
func TestHostileGzipBomb(t *testing.T) {
	const budget = 16 << 20
	for _, c := range []struct {
		name           string
		n              int
		size, trailing int64
		want           string
	}{
		{"files", 64, 4 << 20, 0, "byte budget"},
		{"trailing", 1, 4096, 256 << 20, "after the end of the tar archive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			blob, diffID := gzipTar(t, c.n, c.size, c.trailing)
			logical := int64(c.n)*c.size + c.trailing
			t.Logf("%d MiB inflated from %d KiB: ratio %d:1", logical>>20, len(blob)>>10, logical/int64(len(blob)))
			root := t.TempDir()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := UnpackStream(bytes.NewReader(blob), "sha256:bomb", diffID, root, ExtractOptions{MaxBytes: budget})
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want %q error, got %v", c.want, err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("unpacking the bomb allocated %d MiB", alloc>>20)
			} else {
				t.Logf("allocated %d MiB", alloc>>20)
			}
			var used int64
			filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				var st unix.Stat_t
				if unix.Lstat(p, &st) == nil {
					used += st.Blocks * 512
				}
				return nil
			})
			if used > budget+(1<<20) {
				t.Errorf("%d MiB on disk past a %d MiB budget", used>>20, budget>>20)
			}
		})
	}
}

// Device nodes in a layer unpacked without privileges are skipped (as
// rootless podman and umoci do), never an error, and nothing else is lost.
// As root the extraction runs in a child as nobody.
func TestHostileDeviceNodesRootless(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range []*tar.Header{
		{Name: "dev/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "dev/sda", Typeflag: tar.TypeBlock, Mode: 0o660, Devmajor: 8},
		{Name: "dev/mem", Typeflag: tar.TypeChar, Mode: 0o640, Devmajor: 1, Devminor: 1},
		{Name: "dev/fifo", Typeflag: tar.TypeFifo, Mode: 0o644},
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/keep", Typeflag: tar.TypeReg, Mode: 0o644},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	dir, err := os.MkdirTemp("", "hostile-dev-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	if os.Geteuid() != 0 {
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := ExtractTar(bytes.NewReader(b.Bytes()), root, ExtractOptions{}); err != nil {
			t.Fatal(err)
		}
	} else {
		out, err := extractAsNobody(t, dir, b.Bytes())
		if err != nil {
			t.Fatalf("extraction as nobody: %v\n%s", err, out)
		}
	}
	for name, want := range map[string]os.FileMode{"dev/fifo": os.ModeNamedPipe, "etc/keep": 0} {
		fi, err := os.Lstat(filepath.Join(root, name))
		if err != nil || fi.Mode().Type() != want {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	for _, name := range []string{"dev/sda", "dev/mem"} {
		if _, err := os.Lstat(filepath.Join(root, name)); !os.IsNotExist(err) {
			t.Errorf("%s: device node made without privileges (%v)", name, err)
		}
	}
}

// extractAsNobody runs this test binary as uid/gid 65534 to extract
// data into dir/root (TestHelperExtractAsNobody is the child's side).
func extractAsNobody(t *testing.T, dir string, data []byte) ([]byte, error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The go build cache is private to root: the child runs a copy.
	bin := filepath.Join(dir, "layer.test")
	exe, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "layer.tar"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperExtractAsNobody$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HOSTILE_EXTRACT_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd.CombinedOutput()
}

func TestHelperExtractAsNobody(t *testing.T) {
	dir := os.Getenv("HOSTILE_EXTRACT_DIR")
	if dir == "" {
		t.Skip("child of TestHostileDeviceNodesRootless")
	}
	data, err := os.ReadFile(filepath.Join(dir, "layer.tar"))
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ExtractTar(bytes.NewReader(data), root, ExtractOptions{}); err != nil {
		t.Fatal(err)
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
