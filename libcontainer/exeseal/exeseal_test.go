package exeseal

import (
	"errors"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// The descriptor we exec through must refuse writes, both directly and
// through a reopen of /proc/self/fd/N (what /proc/<pid>/exe resolves to).
func checkUnwritable(t *testing.T, f *os.File) {
	t.Helper()
	w, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0)
	if err != nil {
		return // refused at open: read-only mount (EROFS) or busy text
	}
	defer w.Close()
	// A sealed memfd opens, but no byte may change.
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("wrote to the sealed binary")
	}
}

func TestOpen(t *testing.T) {
	f, err := Open(100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Fd() < 100 {
		t.Fatalf("fd %d below minimum", f.Fd())
	}
	checkUnwritable(t, f)
}

func TestSealedCopy(t *testing.T) {
	f, err := sealedCopy()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkUnwritable(t, f)
}

func TestReadOnlyMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs CAP_SYS_ADMIN")
	}
	// A file nobody executes, so the kernel's answer is about the mount
	// and not ETXTBSY.
	p := t.TempDir() + "/bin"
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := readOnlyMountOf(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0)
	if !errors.Is(err, unix.EROFS) {
		t.Fatalf("write open through read-only mount: %v, want EROFS", err)
	}
}
