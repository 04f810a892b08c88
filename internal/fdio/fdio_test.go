package fdio

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// TestWriteAll: everything reaches the file; a closed fd is an error.
func TestWriteAll(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := bytes.Repeat([]byte("myrun "), 100000)
	if err := WriteAll(int(f.Fd()), want); err != nil {
		t.Fatal(err)
	}
	f.Seek(0, io.SeekStart)
	if got, _ := io.ReadAll(f); !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes, want %d", len(got), len(want))
	}
	if err := WriteAll(-1, []byte("x")); err == nil {
		t.Error("fd -1: no error")
	}
}
