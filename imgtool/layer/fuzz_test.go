package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The fuzz targets here check the one property that matters for a layer:
// extracting it into a root never creates, changes or removes anything
// outside that root, whatever the entries say.

// sandbox is base/{root,outside}; outside holds victims a hostile layer
// would like to reach (by absolute or relative links).
type sandbox struct {
	base, root, outside string
	before              map[string]string
}

func newSandbox(t *testing.T) *sandbox {
	base := t.TempDir()
	sb := &sandbox{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{sb.root, filepath.Join(sb.outside, "vdir", "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sb.outside, "victim"), []byte("orig"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sb.outside, "vdir", "sub", "f"), []byte("orig"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Old, fixed times, so any touch shows.
	old := time.Unix(1e9, 0)
	for _, p := range []string{"victim", "vdir/sub/f", "vdir/sub", "vdir", "."} {
		os.Chtimes(filepath.Join(sb.outside, p), old, old)
	}
	sb.before = sb.snapshot(t)
	return sb
}

// snapshot describes everything in base outside root: type, mode, owner,
// size, mtime and content hash.
func (sb *sandbox) snapshot(t *testing.T) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(sb.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			out[p] = "error " + err.Error()
			return nil
		}
		if p == sb.root {
			var st unix.Stat_t
			unix.Lstat(p, &st)
			out[p] = fmt.Sprintf("root mode=%o", st.Mode)
			return fs.SkipDir
		}
		if p == sb.base {
			return nil // its mtime changes with root's entries? no: root is fixed
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			out[p] = "lstat " + err.Error()
			return nil
		}
		desc := fmt.Sprintf("mode=%o uid=%d gid=%d size=%d mtime=%d.%d", st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" sha=%x", sha256.Sum256(b))
		}
		out[p] = desc
		return nil
	})
	// Nothing new beside base either (a "../.." escape from root).
	ents, _ := os.ReadDir(filepath.Dir(sb.base))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	out["<parent listing>"] = strings.Join(names, ",")
	return out
}

func (sb *sandbox) check(t *testing.T, what string) {
	t.Helper()
	after := sb.snapshot(t)
	for k, v := range sb.before {
		if after[k] != v {
			t.Fatalf("%s: outside the root %s changed:\nbefore %s\nafter  %s", what, k, v, after[k])
		}
	}
	for k, v := range after {
		if _, ok := sb.before[k]; !ok {
			t.Fatalf("%s: created outside the root: %s (%s)", what, k, v)
		}
	}
}

// scriptTar turns a small text script into a tar stream, so the fuzzer
// works on entries rather than on tar's checksums. One entry per line:
// a type letter (d dir, f file, l symlink, h hardlink, p fifo, c char
// device, b block device, s setuid file) then the name, then optionally a
// tab and the link name. "@OUT" is replaced by the outside directory.
func scriptTar(script, outside string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(1234567890, 0)
	for _, line := range strings.Split(script, "\n") {
		if line == "" {
			continue
		}
		line = strings.ReplaceAll(line, "@OUT", outside)
		typ, rest := line[0], line[1:]
		name, link, _ := strings.Cut(rest, "\t")
		h := &tar.Header{Name: name, Linkname: link, Mode: 0o755, ModTime: mt, Format: tar.FormatPAX}
		var body []byte
		switch typ {
		case 'd':
			h.Typeflag = tar.TypeDir
		case 'f':
			h.Typeflag, body = tar.TypeReg, []byte(name)
		case 's':
			h.Typeflag, h.Mode, body = tar.TypeReg, 0o4755, []byte("suid")
		case 'l':
			h.Typeflag = tar.TypeSymlink
		case 'h':
			h.Typeflag = tar.TypeLink
		case 'p':
			h.Typeflag = tar.TypeFifo
		case 'c':
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, 1, 3
		case 'b':
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeBlock, 7, 200
		case 'x':
			h.Typeflag, body = tar.TypeReg, []byte("x")
			h.PAXRecords = map[string]string{"SCHILY.xattr.user.fz": link, "SCHILY.xattr.trusted.overlay.opaque": "y"}
			h.Linkname = ""
		default:
			continue
		}
		h.Size = int64(len(body))
		if tw.WriteHeader(h) != nil {
			continue // names tar itself cannot encode
		}
		tw.Write(body)
	}
	tw.Close()
	return buf.Bytes()
}

// fuzzFileLimit caps every file the fuzz targets write (RLIMIT_FSIZE), so
// a layer that expands without bound fails with EFBIG instead of filling
// the disk.
const fuzzFileLimit = 64 << 20

func limitFileSize(f *testing.F) {
	// Not in the fuzzing coordinator: it sizes its shared-memory files
	// past the limit. Workers and plain `go test` runs get it.
	if fz := flag.Lookup("test.fuzz"); fz != nil && fz.Value.String() != "" {
		if w := flag.Lookup("test.fuzzworker"); w == nil || w.Value.String() != "true" {
			return
		}
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		f.Fatal(err)
	}
	signal.Ignore(syscall.SIGXFSZ)
	lim := old
	lim.Cur = fuzzFileLimit
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_FSIZE, &old) })
}

// extractWatched fails the input when extraction does not end in time.
func extractWatched(t *testing.T, data []byte, dir string, mode Mode) error {
	done := make(chan error, 1)
	go func() { done <- ExtractTar(bytes.NewReader(data), dir, ExtractOptions{Mode: mode}) }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("mode %d: extracting a %d-byte layer takes over 20s", mode, len(data))
	}
	return nil
}

func extractBoth(t *testing.T, sb *sandbox, data []byte) {
	for _, mode := range []Mode{Apply, Overlay} {
		os.RemoveAll(sb.root)
		os.Mkdir(sb.root, 0o755)
		err := extractWatched(t, data, sb.root, mode)
		if err != nil && errors.Is(err, unix.EFBIG) {
			t.Fatalf("mode %d: a %d-byte layer expands to a file over %d MiB (sparse or bomb entry): extraction has no size bound: %v",
				mode, len(data), fuzzFileLimit>>20, err)
		}
		if err != nil {
			var le *Error
			if !errors.As(err, &le) && !strings.HasPrefix(err.Error(), "reading layer tar") {
				t.Fatalf("mode %d: unclear error %T: %v", mode, err, err)
			}
		}
		sb.check(t, fmt.Sprintf("mode %d (err %v)", mode, err))
		// CheckTar (the check without extraction) must refuse every name
		// that leaves the root, as extraction does.
		var le *Error
		if errors.As(err, &le) && strings.Contains(le.Reason, `".."`) {
			if cerr := CheckTar(bytes.NewReader(data)); cerr == nil {
				t.Fatalf("CheckTar accepts what extraction refuses: %v", err)
			}
		}
	}
}

func FuzzExtractScript(f *testing.F) {
	for _, s := range []string{
		"da\nfa/b\nla/c\t../b\nha/d\ta/b\n",
		"fa/../../x\n",
		"letc\t@OUT\nfetc/victim\n",
		"ld\t../outside\nfd/victim\n",
		"ld\t../../\nfd/evil\n",
		"hh\t../outside/victim\n",
		"ls\t@OUT\nhh\ts/victim\n",
		"ls\t@OUT/victim\nhh\ts\n",
		"da\nda/sub\nla\t@OUT/vdir\n",
		"da\nda/sub\nfa/sub/f\nla\t@OUT/vdir\n",
		"ls\t@OUT/vdir\nfs/.wh.sub\n",
		"ls\t@OUT/vdir\nfs/.wh..wh..opq\n",
		"f.wh..wh..opq\nf.wh...\nf.wh.\n",
		"ll\tl\nfl/x\n",
		"ca/null\nba/loop\npa/fifo\nsa/suid\n",
		"xa\tval\n",
		"da\nla\t@OUT/victim\nda\n",
		"fa\nla\t@OUT/victim\nfa\n",
		"d/\nf/\nf.\nf./x\n",
	} {
		f.Add(s)
	}
	limitFileSize(f)
	f.Fuzz(func(t *testing.T, script string) {
		if len(script) > 4096 {
			return
		}
		sb := newSandbox(t)
		extractBoth(t, sb, scriptTar(script, sb.outside))
	})
}

// FuzzExtractRaw feeds raw (possibly gzip-compressed) bytes as a layer.
func FuzzExtractRaw(f *testing.F) {
	f.Add(scriptTar("da\nfa/b\nla/c\tb\nha/d\ta/b\n", "/nonexistent"))
	f.Add(scriptTar("ld\t../../\nfd/evil\n", "/nonexistent"))
	f.Add(scriptTar("fa/../../x\n", "/nonexistent"))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff})
	limitFileSize(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		sb := newSandbox(t)
		z, err := Decompress(bytes.NewReader(data))
		if err != nil {
			return
		}
		plain, err := io.ReadAll(io.LimitReader(z, 1<<20))
		if err != nil && len(plain) == 0 {
			return
		}
		extractBoth(t, sb, plain)
	})
}
