package layer

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Many small files go through the worker pool; later entries that touch
// queued paths (duplicates, hardlinks, replacement by a symlink) must see
// them written first, and metadata must be set on every file.
func TestParallelExtractOrdering(t *testing.T) {
	var ents []entry
	for d := range 8 {
		ents = append(ents, entry{name: fmt.Sprintf("d%d/", d), typ: tar.TypeDir, mode: 0o750})
		for f := range 60 {
			ents = append(ents, entry{name: fmt.Sprintf("d%d/f%d", d, f), typ: tar.TypeReg,
				body: fmt.Sprintf("%d/%d", d, f), mode: 0o640})
		}
	}
	big := strings.Repeat("b", queuedMax+1) // streamed inline, not queued
	ents = append(ents,
		entry{name: "d0/f1", typ: tar.TypeReg, body: "second", mode: 0o600},
		entry{name: "h", typ: tar.TypeLink, link: "d3/f7"},
		entry{name: "big", typ: tar.TypeReg, body: big, mode: 0o644},
		entry{name: "d5", typ: tar.TypeSymlink, link: "/etc"},
		entry{name: "x/.wh.gone", typ: tar.TypeReg},
	)
	dir := t.TempDir()
	if err := ExtractTar(bytes.NewReader(mkTar(t, ents...)), dir, ExtractOptions{Mode: Apply}); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string { b, _ := os.ReadFile(filepath.Join(dir, p)); return string(b) }
	if got := read("d2/f59"); got != "2/59" {
		t.Errorf("d2/f59 = %q", got)
	}
	if got := read("d0/f1"); got != "second" {
		t.Errorf("duplicate entry: d0/f1 = %q, want the later one", got)
	}
	if got := read("h"); got != "3/7" {
		t.Errorf("hardlink to a queued file = %q", got)
	}
	if got := read("big"); got != big {
		t.Errorf("big file: %d bytes", len(got))
	}
	if l, err := os.Readlink(filepath.Join(dir, "d5")); err != nil || l != "/etc" {
		t.Errorf("d5 not replaced by a symlink: %q %v", l, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "d7", "f3"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o640 || st.Mtim.Sec != 1000 {
		t.Errorf("d7/f3: mode %o mtime %d, want 640 and 1000", st.Mode&0o7777, st.Mtim.Sec)
	}
	if err := unix.Lstat(filepath.Join(dir, "d1"), &st); err != nil || st.Mode&0o7777 != 0o750 || st.Mtim.Sec != 1000 {
		t.Errorf("d1: mode %o mtime %d err %v", st.Mode&0o7777, st.Mtim.Sec, err)
	}
}

// Extracting onto a tree that is not empty checks what is there: an
// existing file is replaced, not refused by the worker's O_EXCL create.
func TestExtractReplacesExistingFile(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "f"), []byte("old"), 0o644)
	data := mkTar(t, entry{name: "a/f", typ: tar.TypeReg, body: "new"})
	if err := ExtractTar(bytes.NewReader(data), dir, ExtractOptions{}); err != nil {
		t.Fatalf("replacing an existing file: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a", "f")); string(b) != "new" {
		t.Fatalf("a/f = %q", b)
	}
}

func TestDirPoolFirstErrorAndBarrier(t *testing.T) {
	var p DirPool
	done := make([]bool, 100)
	for i := range done {
		p.Submit(fmt.Sprint(i%7), 10, func() error { done[i] = true; return nil })
	}
	if err := p.Barrier(); err != nil {
		t.Fatal(err)
	}
	for i, d := range done {
		if !d {
			t.Fatalf("job %d not done after Barrier", i)
		}
	}
	p.Submit("a", 0, func() error { return fmt.Errorf("boom") })
	p.Submit("a", 0, func() error { return fmt.Errorf("second") })
	if err := p.Stop(); err == nil || err.Error() != "boom" {
		t.Fatalf("Stop = %v, want the first error", err)
	}
}

// The gzip bytes must not depend on the number of CPUs.
func TestCompressorIndependentOfCPUs(t *testing.T) {
	in := bytes.Repeat([]byte("some text that compresses, and some that does not: "), 100000)
	out := func(procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		var b bytes.Buffer
		w, err := Compressor(&b, Gzip)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(in)
		w.Close()
		return b.Bytes()
	}
	a, b := out(1), out(8)
	if !bytes.Equal(a, b) {
		t.Fatal("gzip output differs between GOMAXPROCS 1 and 8")
	}
	r, err := Decompress(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(r)
	if !bytes.Equal(got.Bytes(), in) {
		t.Fatal("round trip differs")
	}
}

// SpreadHint sets chattr +T where the filesystem has it and is harmless
// elsewhere.
func TestSpreadHint(t *testing.T) {
	dir := t.TempDir()
	SpreadHint(dir)
	SpreadHint(dir) // idempotent
	SpreadHint(filepath.Join(dir, "missing"))
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Skipf("no inode flags here: %v", err)
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil && st.Type == unix.EXT4_SUPER_MAGIC && flags&fsTopdirFL == 0 {
		t.Fatalf("ext4 dir flags %#x: TOPDIR not set", flags)
	}
}
