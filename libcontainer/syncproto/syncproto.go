// Package syncproto is the typed message channel between the runtime (parent)
// and the container's init (child): one JSON message per SOCK_SEQPACKET
// packet, so message boundaries never need framing code.
package syncproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Message types. The C constructor speaks the first three as plain strings
// ("maps", "pid", "error ..."); the rest are JSON.
const (
	TypeMaps   = "maps"    // child -> parent: write my uid/gid maps
	TypeMapsOK = "maps-ok" // parent -> child
	TypePid    = "pid"     // child -> parent, with SCM_CREDENTIALS

	TypeConfig     = "config"      // parent -> child: init or exec configuration
	TypeHooks      = "hooks"       // child -> parent: run prestart/createRuntime hooks now
	TypeHooksDone  = "hooks-done"  // parent -> child
	TypeReady      = "ready"       // child -> parent: created, waiting on the exec fifo (or exec done)
	TypeError      = "error"       // child -> parent
	TypeSeccompFd  = "seccomp-fd"  // child -> parent: listener fd attached
	TypeSeccompAck = "seccomp-ack" // parent -> child
)

// Message is the envelope for every JSON packet.
type Message struct {
	Type    string          `json:"type"`
	Error   string          `json:"error,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Conn is one end of the socketpair.
type Conn struct {
	f *os.File
}

// NewSocketPair returns (parent, child) ends; the child end is inheritable by
// exec only through ExtraFiles.
func NewSocketPair() (*Conn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	// The parent needs the sender's credentials to learn the container
	// process's pid in its own pid namespace.
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("SO_PASSCRED: %w", err)
	}
	return &Conn{f: os.NewFile(uintptr(fds[0]), "sync-parent")}, os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// FromFd wraps an inherited socket.
func FromFd(fd int) *Conn { return &Conn{f: os.NewFile(uintptr(fd), "sync")} }

// Fd returns the socket's descriptor.
func (c *Conn) Fd() int { return int(c.f.Fd()) }

// Close closes the socket.
func (c *Conn) Close() error { return c.f.Close() }

// SendRaw sends one packet, optionally with fds attached.
func (c *Conn) SendRaw(b []byte, fds ...int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(c.Fd(), b, oob, nil, 0)
}

// Send sends a JSON message with an optional payload.
func (c *Conn) Send(typ string, payload any, fds ...int) error {
	m := Message{Type: typ}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return err
		}
		m.Payload = b
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.SendRaw(b, fds...)
}

// SendError reports a failure to the other side.
func (c *Conn) SendError(err error) error {
	b, _ := json.Marshal(Message{Type: TypeError, Error: err.Error()})
	return c.SendRaw(b)
}

// Packet is one received packet.
type Packet struct {
	Data []byte
	Fds  []int
	Cred *unix.Ucred
}

// ErrClosed is returned when the peer closed the socket (e.g. it died).
var ErrClosed = errors.New("peer closed the sync socket")

// RecvRaw receives one packet with any fds and credentials attached.
func (c *Conn) RecvRaw() (*Packet, error) {
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(64*4)+unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := unix.Recvmsg(c.Fd(), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 && oobn == 0 {
			return nil, ErrClosed
		}
		p := &Packet{Data: buf[:n]}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, err
		}
		for i := range msgs {
			if fds, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				p.Fds = append(p.Fds, fds...)
			} else if cred, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
				p.Cred = cred
			}
		}
		return p, nil
	}
}

// Recv receives one JSON message. A C-level "error ..." string becomes an
// error message too.
func (c *Conn) Recv() (*Message, *Packet, error) {
	p, err := c.RecvRaw()
	if err != nil {
		return nil, nil, err
	}
	return Decode(p)
}

// Decode parses a packet as either a constructor string or a JSON message.
func Decode(p *Packet) (*Message, *Packet, error) {
	if len(p.Data) > 0 && p.Data[0] != '{' {
		s := string(p.Data)
		if len(s) > 6 && s[:6] == "error " {
			return &Message{Type: TypeError, Error: s[6:]}, p, nil
		}
		return &Message{Type: s}, p, nil
	}
	var m Message
	if err := json.Unmarshal(p.Data, &m); err != nil {
		return nil, p, fmt.Errorf("bad sync message: %w", err)
	}
	return &m, p, nil
}

// Expect receives a message of the given type; an error message from the
// peer becomes the returned error.
func (c *Conn) Expect(typ string, payload any) (*Packet, error) {
	m, p, err := c.Recv()
	if err != nil {
		return nil, err
	}
	if m.Type == TypeError {
		return p, errors.New(m.Error)
	}
	if m.Type != typ {
		return p, fmt.Errorf("sync: expected %q, got %q", typ, m.Type)
	}
	if payload != nil && len(m.Payload) > 0 {
		if err := json.Unmarshal(m.Payload, payload); err != nil {
			return p, fmt.Errorf("sync: decoding %s: %w", typ, err)
		}
	}
	return p, nil
}
