package seccomp

import (
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Raw gives the loader outside Go the program the kernel reads and the
// flags Load would use; a listener has no raw form.
func TestRaw(t *testing.T) {
	f, err := Build(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}},
	})
	if err != nil {
		t.Fatal(err)
	}
	prog, flags, ok := f.Raw()
	if !ok || len(prog) != 8*len(f.prog) {
		t.Fatalf("ok %v, %d bytes for %d instructions", ok, len(prog), len(f.prog))
	}
	if want := uint(unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_TSYNC); flags != want {
		t.Errorf("flags %#x, want %#x", flags, want)
	}
	// Bytes 0-1 are the first instruction's code, in native byte order.
	if code := binary.NativeEndian.Uint16(prog); code != f.prog[0].Code {
		t.Errorf("first code %#x, want %#x", code, f.prog[0].Code)
	}
	n, err := Build(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow, ListenerPath: "/x",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := n.Raw(); ok {
		t.Error("a listener filter has a raw form")
	}
}
