package initproc

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The fifo as create opens it for init (read+write) never blocks in open;
// waitStart returns once start's byte is there.
func TestWaitStartReadsStartByte(t *testing.T) {
	p := filepath.Join(t.TempDir(), "exec.fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	w, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("start's open of the write end: %v", err)
	}
	defer unix.Close(w)
	if _, err := unix.Write(w, []byte{'0'}); err != nil {
		t.Fatal(err)
	}
	if err := waitStart(fd); err != nil {
		t.Fatal(err)
	}
}

func TestWaitStartRefusesEOF(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := waitStart(int(f.Fd())); err == nil {
		t.Fatal("EOF taken for start")
	}
}

// closeDirFds closes directories from first up and leaves other files.
func TestCloseDirFds(t *testing.T) {
	dir := t.TempDir()
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := closeDirFds(min(d, int(f.Fd()))); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(d), unix.F_GETFD, 0); err != unix.EBADF {
		unix.Close(d)
		t.Errorf("directory fd %d still open (%v)", d, err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil {
		t.Errorf("file fd closed: %v", err)
	}
}
