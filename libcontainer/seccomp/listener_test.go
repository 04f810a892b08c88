package seccomp

import (
	"net"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "sock")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	a, b := conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestListenerProtocol(t *testing.T) {
	for _, meta := range []string{"small", strings.Repeat("m", 2<<20)} {
		send, recv := socketPair(t)
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		st := specs.ContainerProcessState{Pid: 4242, Metadata: meta, State: specs.State{ID: "c1", Status: specs.StateRunning}}
		errc := make(chan error, 1)
		go func() {
			errc <- SendListenerConn(send, p[1], st)
			send.Close()
			unix.Close(p[1])
		}()
		got, fd, err := RecvListener(recv)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if got.Version != specs.Version || got.Pid != 4242 || got.Metadata != meta || got.State.ID != "c1" ||
			len(got.Fds) != 1 || got.Fds[0] != specs.SeccompFdName {
			t.Fatalf("state mismatch: version %q pid %d fds %v id %q metadata len %d", got.Version, got.Pid, got.Fds, got.State.ID, len(got.Metadata))
		}
		// The received fd is the pipe's write end: data must come through.
		if _, err := unix.Write(fd, []byte("x")); err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		buf := make([]byte, 1)
		if n, err := unix.Read(p[0], buf); n != 1 || err != nil || buf[0] != 'x' {
			t.Fatalf("fd passing broken: %d %v", n, err)
		}
		unix.Close(p[0])
	}
}

func TestListenerErrors(t *testing.T) {
	send, _ := socketPair(t)
	if err := SendListenerConn(send, -1, specs.ContainerProcessState{}); err == nil {
		t.Error("negative fd accepted")
	}
	if err := SendListenerConn(send, 0, specs.ContainerProcessState{Fds: []string{"a", "b"}}); err == nil {
		t.Error("two fd names for one fd accepted")
	}
	if err := SendListenerPath("/nonexistent/myrun-seccomp.sock", 0, specs.ContainerProcessState{}); err == nil ||
		!strings.Contains(err.Error(), "linux.seccomp.listenerPath") {
		t.Errorf("dial error %v", err)
	}
	// State without any fd.
	a, b := socketPair(t)
	go func() { a.Write([]byte(`{"ociVersion":"1.3.0","fds":["seccompFd"],"pid":1,"state":{}}`)); a.Close() }()
	if _, fd, err := RecvListener(b); err == nil {
		unix.Close(fd)
		t.Error("state without SCM_RIGHTS accepted")
	}
}
