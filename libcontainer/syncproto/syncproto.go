// Package syncproto is the message channel between the runtime (parent)
// and the container's init (child): a SOCK_SEQPACKET socketpair carrying one
// message per packet. Every message has the same framing, spoken by both
// the Go side and the C constructor (libcontainer/nsexec/nsexec.h):
//
//	offset 0  uint32  type (Type, below)
//	offset 4  uint32  payload length in bytes (the rest of the packet)
//	offset 8  payload
//
// in host byte order (both ends are the same binary on the same machine).
// The type alone says how the payload is encoded; nothing is sniffed. A
// payload longer than fits in one packet with the header (Chunk bytes in
// all) continues in packets of its own, payload only, each at most Chunk
// bytes, until the length the header gives: a packet must fit the sender's
// socket buffer (about 208 KiB by default), a config.json or an exec'd
// process's environment need not.
//
// The exchange, in order. "constructor" is the C code that runs in `myrun
// init` before the Go runtime (nsexec.c, execproc.c); "init" is the Go code
// that follows it (initproc). The phases are those of libcontainer's
// initProcess. Payloads: lines = "key value\n" text (nsexec.Bootstrap),
// fields = NUL-terminated key=value strings (nsexec.ExecProcess).
//
//	phase        from         type         payload  when                  answered by
//	-----------  -----------  -----------  -------  --------------------  ----------------------
//	constructor  parent       Bootstrap    lines    always, first         Maps, Pid or Error
//	constructor  constructor  Maps         none     new user namespace    MapsOK
//	constructor  parent       MapsOK       none     maps written          -
//	constructor  constructor  Pid          none +   namespaces done       (the parent places the
//	                                       creds                          pid in its cgroup)
//	exec         parent       ExecProcess  fields   exec without Go init  EOF (execve) or Error
//	go           parent       Config       JSON     init, or exec via Go  Hooks, Ready, Error,
//	                                       (initproc.Config)              EOF (exec: execve)
//	go           init         Hooks        none     prestart or           HooksDone or Error
//	                                                createRuntime hooks
//	go           parent       HooksDone    none     hooks ran             -
//	go           init         Ready        none     waiting on the fifo   -
//	any          either       Error        text     a failure             - (the sender gives up)
//
// The parent learns the container process's pid from the Pid message's
// SCM_CREDENTIALS, which the kernel translates into the receiver's pid
// namespace. An exec'd process (Config of ModeExec, or ExecProcess) never
// sends Ready: the socket is close-on-exec, so EOF means execve succeeded.
// EOF at any other point means the child died (ErrClosed).
package syncproto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Type is the type of a message, the first word of its header. The numbers
// are part of the protocol: nsexec.h defines the same ones for C, and
// nsexec fails to build when they differ.
type Type uint32

// The message types; see the package comment for who sends which, when.
const (
	TypeBootstrap   Type = 1  // parent -> constructor: namespaces to join and create
	TypeMaps        Type = 2  // constructor -> parent: write my uid/gid maps
	TypeMapsOK      Type = 3  // parent -> constructor: maps written
	TypePid         Type = 4  // constructor -> parent, with SCM_CREDENTIALS
	TypeExecProcess Type = 5  // parent -> constructor: the prepared process to exec
	TypeConfig      Type = 6  // parent -> init: init or exec configuration (JSON)
	TypeHooks       Type = 7  // init -> parent: run prestart/createRuntime hooks now
	TypeHooksDone   Type = 8  // parent -> init
	TypeReady       Type = 9  // init -> parent: created, waiting on the exec fifo
	TypeError       Type = 10 // either way: the payload is the error's text
)

var typeNames = [...]string{
	TypeBootstrap: "bootstrap", TypeMaps: "maps", TypeMapsOK: "maps-ok", TypePid: "pid",
	TypeExecProcess: "exec-process", TypeConfig: "config", TypeHooks: "hooks",
	TypeHooksDone: "hooks-done", TypeReady: "ready", TypeError: "error",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "type " + strconv.FormatUint(uint64(t), 10)
}

// HeaderSize is the size of a message header.
const HeaderSize = 8

// MaxMessage bounds a message we accept (header and payload).
const MaxMessage = 16 << 20

// Chunk is the largest packet we send: a quarter of the default socket
// buffer, so that a packet never waits for more than what the peer drains.
const Chunk = 48 << 10

// Message is one received message.
type Message struct {
	Type Type
	// Payload is valid until the next Recv on the same Conn: it is a
	// slice of the Conn's reused buffer.
	Payload []byte
	// Cred is the sender's credentials when it attached them (Pid).
	Cred *unix.Ucred
}

// Conn is one end of the socketpair.
type Conn struct {
	f   *os.File
	buf []byte // reused by every Recv, grown to the largest message
	oob []byte
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
	return FromFd(fds[0]), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// FromFd wraps a socket.
func FromFd(fd int) *Conn { return &Conn{f: os.NewFile(uintptr(fd), "sync")} }

// Fd returns the socket's descriptor.
func (c *Conn) Fd() int { return int(c.f.Fd()) }

// Close closes the socket.
func (c *Conn) Close() error { return c.f.Close() }

// Frame returns a packet: the header of a message of type t, then payload.
func Frame(t Type, payload []byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(payload))
	binary.NativeEndian.PutUint32(b[0:], uint32(t))
	binary.NativeEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

// SendBytes sends a message whose payload is already encoded.
func (c *Conn) SendBytes(t Type, payload []byte) error {
	if len(payload) > MaxMessage-HeaderSize {
		return fmt.Errorf("sync: %s message too large (%d bytes)", t, len(payload))
	}
	// write(2), a packet each on a SOCK_SEQPACKET socket: init sends
	// "ready" under the container's seccomp filter, and profiles written
	// for runc allow write, not always sendmsg.
	for p := Frame(t, payload); len(p) > 0; {
		n := min(len(p), Chunk)
		if _, err := unix.Write(c.Fd(), p[:n]); err != nil {
			return fmt.Errorf("sync: sending %s: %w", t, err)
		}
		p = p[n:]
	}
	return nil
}

// Send sends a message with payload encoded as JSON; nil sends none.
func (c *Conn) Send(t Type, payload any) error {
	var b []byte
	if payload != nil {
		var err error
		// A Marshaler's output is sent as it is: json.Marshal would
		// check and compact it once more (initproc.Config, whose spec
		// is appended raw, internal/rawjson); the receiver decodes it.
		if m, ok := payload.(json.Marshaler); ok {
			b, err = m.MarshalJSON()
		} else {
			b, err = json.Marshal(payload)
		}
		if err != nil {
			return fmt.Errorf("sync: encoding %s: %w", t, err)
		}
	}
	return c.SendBytes(t, b)
}

// SendError reports a failure to the other side.
func (c *Conn) SendError(err error) error {
	return c.SendBytes(TypeError, []byte(err.Error()))
}

// ErrClosed is returned when the peer closed the socket (e.g. it died).
var ErrClosed = errors.New("peer closed the sync socket")

// Recv receives one message. Its first packet's header is peeked at first
// for the message's size, so the buffer grows to fit instead of being sized
// for the worst case.
func (c *Conn) Recv() (*Message, error) {
	if c.buf == nil {
		c.buf = make([]byte, 4096)
		c.oob = make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	}
	n, _, err := c.recvmsg(c.buf[:HeaderSize], nil, unix.MSG_PEEK|unix.MSG_TRUNC)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, ErrClosed
	}
	size, err := messageSize(c.buf[:min(n, HeaderSize)], n)
	if err != nil {
		c.recvmsg(c.buf[:HeaderSize], nil, 0) // drop it: the next starts clean
		return nil, err
	}
	if size > len(c.buf) {
		c.buf = make([]byte, size)
	}
	n, oobn, err := c.recvmsg(c.buf[:size], c.oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	cred, err := credentials(c.oob[:oobn])
	if err != nil {
		return nil, err
	}
	for n < size {
		// MSG_TRUNC: the length of the packet, even if longer than asked.
		more, _, err := c.recvmsg(c.buf[n:size], nil, unix.MSG_TRUNC)
		if err != nil {
			return nil, err
		}
		if more == 0 {
			return nil, ErrClosed
		}
		if more > size-n {
			return nil, fmt.Errorf("sync: message continues past its %d bytes", size)
		}
		n += more
	}
	m, err := parse(c.buf[:n])
	if err != nil {
		return nil, err
	}
	m.Cred = cred
	return m, nil
}

// messageSize returns the size of the message whose first packet, of n
// bytes, starts with hdr.
func messageSize(hdr []byte, n int) (int, error) {
	if n < HeaderSize {
		return 0, fmt.Errorf("sync: short message (%d bytes)", n)
	}
	t, l := Type(binary.NativeEndian.Uint32(hdr)), uint64(binary.NativeEndian.Uint32(hdr[4:]))
	if l > MaxMessage-HeaderSize {
		return 0, fmt.Errorf("sync: %s message too large (%d bytes)", t, l)
	}
	if l < uint64(n-HeaderSize) {
		return 0, fmt.Errorf("sync: %s message says %d payload bytes, has %d", t, l, n-HeaderSize)
	}
	return HeaderSize + int(l), nil
}

func (c *Conn) recvmsg(b, oob []byte, flags int) (n, oobn int, err error) {
	for {
		n, oobn, _, _, err = unix.Recvmsg(c.Fd(), b, oob, flags)
		if err != unix.EINTR {
			return n, oobn, err
		}
	}
}

// parse checks a packet's header against its length.
func parse(p []byte) (*Message, error) {
	if len(p) < HeaderSize {
		return nil, fmt.Errorf("sync: short message (%d bytes)", len(p))
	}
	m := &Message{Type: Type(binary.NativeEndian.Uint32(p)), Payload: p[HeaderSize:]}
	if l := binary.NativeEndian.Uint32(p[4:]); uint64(l) != uint64(len(m.Payload)) {
		return nil, fmt.Errorf("sync: %s message says %d payload bytes, has %d", m.Type, l, len(m.Payload))
	}
	return m, nil
}

// credentials returns the SCM_CREDENTIALS in a control buffer, if any.
func credentials(oob []byte) (*unix.Ucred, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	for i := range msgs {
		if msgs[i].Header.Level == unix.SOL_SOCKET && msgs[i].Header.Type == unix.SCM_CREDENTIALS {
			return unix.ParseUnixCredentials(&msgs[i])
		}
	}
	return nil, nil
}

// Expect receives a message of type t and decodes its JSON payload into v
// (when v is not nil and there is a payload). An Error message from the
// peer becomes the returned error, any other type an error naming both.
func (c *Conn) Expect(t Type, v any) (*Message, error) {
	m, err := c.Recv()
	if err != nil {
		return nil, err
	}
	if m.Type != t {
		return m, unexpected(t, m)
	}
	if v != nil && len(m.Payload) > 0 {
		if err := json.Unmarshal(m.Payload, v); err != nil {
			return m, fmt.Errorf("sync: decoding %s: %w", t, err)
		}
	}
	return m, nil
}

// unexpected is the error for m where a message of type want was due: the
// peer's own error when m is one.
func unexpected(want Type, m *Message) error {
	if m.Type == TypeError {
		return errors.New(string(m.Payload))
	}
	return fmt.Errorf("sync: expected %q, got %q", want, m.Type)
}
