package syncproto_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"github.com/myrun-org/myrun/libcontainer/syncproto"
)

// The C constructor numbers the messages it speaks in nsexec.h.
func TestTypesMatchConstructor(t *testing.T) {
	for _, c := range []struct {
		c    uint32
		want syncproto.Type
	}{
		{nsexec.MsgBootstrap, syncproto.TypeBootstrap},
		{nsexec.MsgMaps, syncproto.TypeMaps},
		{nsexec.MsgMapsOK, syncproto.TypeMapsOK},
		{nsexec.MsgPid, syncproto.TypePid},
		{nsexec.MsgExecProcess, syncproto.TypeExecProcess},
		{nsexec.MsgError, syncproto.TypeError},
	} {
		if syncproto.Type(c.c) != c.want {
			t.Errorf("%s: nsexec.h says %d, syncproto %d", c.want, c.c, uint32(c.want))
		}
	}
}

func TestTypeString(t *testing.T) {
	if s := syncproto.TypeHooksDone.String(); s != "hooks-done" {
		t.Errorf("TypeHooksDone = %q", s)
	}
	if s := syncproto.Type(0).String(); s != "type 0" {
		t.Errorf("Type(0) = %q", s)
	}
	if s := syncproto.Type(99).String(); s != "type 99" {
		t.Errorf("Type(99) = %q", s)
	}
}

func pair(t *testing.T) (parent, child *syncproto.Conn) {
	t.Helper()
	p, c, err := syncproto.NewSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(c.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	child = syncproto.FromFd(fd)
	t.Cleanup(func() { p.Close(); child.Close() })
	return p, child
}

func TestFramingAndReusedBuffer(t *testing.T) {
	parent, child := pair(t)
	big := bytes.Repeat([]byte("x"), 100<<10)
	for _, m := range []struct {
		typ     syncproto.Type
		payload []byte
	}{
		{syncproto.TypeReady, nil},
		{syncproto.TypeError, []byte("boom")},
		{syncproto.TypeConfig, big},
		{syncproto.TypeHooks, nil},
	} {
		if err := child.SendBytes(m.typ, m.payload); err != nil {
			t.Fatal(err)
		}
		got, err := parent.Recv()
		if err != nil {
			t.Fatalf("%s: %v", m.typ, err)
		}
		if got.Type != m.typ || !bytes.Equal(got.Payload, m.payload) {
			t.Fatalf("sent %s with %d bytes, got %s with %d", m.typ, len(m.payload), got.Type, len(got.Payload))
		}
	}
	// Once grown, receiving allocates only the message itself, not a
	// buffer per receive.
	allocs := testing.AllocsPerRun(50, func() {
		child.SendBytes(syncproto.TypeConfig, big)
		if _, err := parent.Recv(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 8 {
		t.Errorf("%.0f allocations per send+receive of 100 KiB", allocs)
	}
}

func TestRecvChecksHeader(t *testing.T) {
	parent, child := pair(t)
	for _, pkts := range [][][]byte{
		{{1, 2, 3}},
		// The header says less than the packet holds.
		{append(syncproto.Frame(syncproto.TypeReady, nil)[:4], 1, 0, 0, 0, 'x', 'y')},
		// A continuation longer than the rest of the message.
		{append(syncproto.Frame(syncproto.TypeReady, nil)[:4], 3, 0, 0, 0, 'x'), []byte("yzw")},
		{append(syncproto.Frame(syncproto.TypeReady, nil)[:4], 0, 0, 0, 2)}, // 32 MiB
	} {
		for _, pkt := range pkts {
			if err := unix.Sendmsg(child.Fd(), pkt, nil, nil, 0); err != nil {
				t.Fatal(err)
			}
		}
		if m, err := parent.Recv(); err == nil {
			t.Errorf("packets %x accepted as %s", pkts, m.Type)
		}
	}
	// A message cut short by the peer's death.
	if err := unix.Sendmsg(child.Fd(), append(syncproto.Frame(syncproto.TypeReady, nil)[:4], 3, 0, 0, 0, 'x'), nil, nil, 0); err != nil {
		t.Fatal(err)
	}
	child.Close()
	if _, err := parent.Recv(); !errors.Is(err, syncproto.ErrClosed) {
		t.Errorf("Recv of a message cut short: %v", err)
	}
}

// A message larger than a socket buffer (a config.json of a few hundred
// KiB, an exec's environment) goes in packets of Chunk bytes at most.
func TestMessageLargerThanSocketBuffer(t *testing.T) {
	parent, child := pair(t)
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	sent := make(chan error, 1)
	go func() { sent <- parent.SendBytes(syncproto.TypeConfig, big) }()
	m, err := child.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != syncproto.TypeConfig || !bytes.Equal(m.Payload, big) {
		t.Fatalf("got %s with %d bytes, want config with %d", m.Type, len(m.Payload), len(big))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	// The next message starts at a packet boundary again.
	parent.SendBytes(syncproto.TypeReady, []byte("x"))
	if m, err := child.Recv(); err != nil || m.Type != syncproto.TypeReady || string(m.Payload) != "x" {
		t.Fatalf("after a large message: %v, %v", m, err)
	}
}

func TestExpect(t *testing.T) {
	parent, child := pair(t)
	type cfg struct{ A int }
	if err := parent.Send(syncproto.TypeConfig, cfg{A: 7}); err != nil {
		t.Fatal(err)
	}
	var got cfg
	if _, err := child.Expect(syncproto.TypeConfig, &got); err != nil || got.A != 7 {
		t.Fatalf("Expect(config) = %+v, %v", got, err)
	}
	parent.SendError(errors.New("hook failed"))
	if _, err := child.Expect(syncproto.TypeHooksDone, nil); err == nil || err.Error() != "hook failed" {
		t.Errorf("Expect after an error message: %v", err)
	}
	parent.Send(syncproto.TypeMapsOK, nil)
	if _, err := child.Expect(syncproto.TypeHooksDone, nil); err == nil || !strings.Contains(err.Error(), `expected "hooks-done", got "maps-ok"`) {
		t.Errorf("Expect of the wrong type: %v", err)
	}
	parent.Close()
	if _, err := child.Recv(); !errors.Is(err, syncproto.ErrClosed) {
		t.Errorf("Recv after close: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	parent, child := pair(t)
	cred := unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())})
	if err := unix.Sendmsg(child.Fd(), syncproto.Frame(syncproto.TypePid, nil), cred, nil, 0); err != nil {
		t.Fatal(err)
	}
	m, err := parent.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != syncproto.TypePid || m.Cred == nil || int(m.Cred.Pid) != os.Getpid() {
		t.Fatalf("got %s with %+v", m.Type, m.Cred)
	}
}
