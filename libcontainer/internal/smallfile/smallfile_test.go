package smallfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadAt(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // over one 4 KiB read
	for name, data := range map[string][]byte{"empty": nil, "small": []byte("{}"), "big": big} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: got %d bytes, %v", name, len(got), err)
		}
	}
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	if got, err := ReadAt(dfd, "small"); err != nil || string(got) != "{}" {
		t.Fatalf("ReadAt: %q, %v", got, err)
	}
	if _, err := ReadAt(dfd, "missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}
	// /proc files report size 0: read until EOF, not by size.
	if got, err := Read("/proc/self/stat"); err != nil || !bytes.Contains(got, []byte(")")) {
		t.Fatalf("/proc/self/stat: %q, %v", got, err)
	}
	if _, err := Read(dir); err == nil {
		t.Fatal("reading a directory succeeded")
	}
}

// No fd is left open: a file read is closed again.
func TestReadAtClosesFd(t *testing.T) {
	before, _ := os.ReadDir("/proc/self/fd")
	for i := 0; i < 50; i++ {
		Read("/proc/self/stat")
		Read("/nonexistent/file")
	}
	after, _ := os.ReadDir("/proc/self/fd")
	if len(after) != len(before) {
		t.Fatalf("fds %d -> %d", len(before), len(after))
	}
}
