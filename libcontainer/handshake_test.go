package libcontainer

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/initproc"
	"github.com/myrun-org/myrun/libcontainer/syncproto"
)

// peer is a scripted init: the constructor's and Go init's side of the
// handshake, on the child end of a real socketpair.
type peer struct {
	t    *testing.T
	conn *syncproto.Conn
}

func (p *peer) send(typ syncproto.Type, payload string) {
	if err := p.conn.SendBytes(typ, []byte(payload)); err != nil {
		p.t.Error(err)
	}
}

// sendPid is what the constructor sends: Pid with our credentials.
func (p *peer) sendPid() {
	cred := unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())})
	if err := unix.Sendmsg(p.conn.Fd(), syncproto.Frame(syncproto.TypePid, nil), cred, nil, 0); err != nil {
		p.t.Error(err)
	}
}

func (p *peer) expect(typ syncproto.Type) *syncproto.Message {
	m, err := p.conn.Recv()
	if err != nil {
		p.t.Errorf("peer waiting for %s: %v", typ, err)
		return &syncproto.Message{}
	}
	if m.Type != typ {
		p.t.Errorf("peer: got %s (%q), want %s", m.Type, m.Payload, typ)
	}
	return m
}

// handshake runs the parent's phases against script. first is the
// process the parent believes it forked; the peer reports our own pid.
func handshake(t *testing.T, first int, mode string, script func(*peer)) (*initProcess, []string, error) {
	t.Helper()
	parent, child, err := syncproto.NewSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	var calls []string
	req := &spawnRequest{
		cfg:     &initproc.Config{Mode: mode, ID: "c1"},
		onPid:   func(pid int) error { calls = append(calls, "pid"); return nil },
		onHooks: func(pid int) error { calls = append(calls, "hooks"); return nil },
	}
	req.boot.CloneFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWCGROUP
	p := &initProcess{
		r: &Runtime{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, req: req, conn: parent, child: child,
		first: first, boot: []byte("clone 1\nmaps\n"),
		writeMaps: func(pid int) error { calls = append(calls, "maps"); return nil },
	}
	c := childConn(t, child)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.Close()
		script(&peer{t: t, conn: c})
	}()
	err = p.constructorPhase()
	if err == nil {
		err = p.place()
	}
	if err == nil {
		err = p.goPhase()
	}
	parent.Close() // a peer still waiting sees EOF
	<-done
	return p, calls, err
}

// childConn moves the child end to a Conn of its own, as the fork does:
// the parent sees EOF once the peer closes it.
func childConn(t *testing.T, child *os.File) *syncproto.Conn {
	fd, err := unix.Dup(int(child.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	child.Close()
	return syncproto.FromFd(fd)
}

func TestHandshakeInit(t *testing.T) {
	p, calls, err := handshake(t, os.Getpid(), initproc.ModeInit, func(c *peer) {
		if m := c.expect(syncproto.TypeBootstrap); string(m.Payload) != "clone 1\nmaps\n" {
			t.Errorf("bootstrap payload %q", m.Payload)
		}
		c.send(syncproto.TypeMaps, "")
		c.expect(syncproto.TypeMapsOK)
		c.sendPid()
		var cfg initproc.Config
		if _, err := c.conn.Expect(syncproto.TypeConfig, &cfg); err != nil {
			t.Error(err)
		}
		if cfg.HostPid != os.Getpid() || !cfg.UnshareCgroupNS || cfg.ID != "c1" {
			t.Errorf("config: host pid %d, unshare cgroupns %v, id %q", cfg.HostPid, cfg.UnshareCgroupNS, cfg.ID)
		}
		c.send(syncproto.TypeHooks, "")
		c.expect(syncproto.TypeHooksDone)
		c.send(syncproto.TypeReady, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, ","); got != "maps,pid,hooks" {
		t.Errorf("parent did %s", got)
	}
	if p.pid != os.Getpid() || !p.firstGone || !p.limitsSet {
		t.Errorf("pid %d, firstGone %v, limitsSet %v", p.pid, p.firstGone, p.limitsSet)
	}
}

func TestHandshakeExecEOF(t *testing.T) {
	_, _, err := handshake(t, os.Getpid(), initproc.ModeExec, func(c *peer) {
		c.expect(syncproto.TypeBootstrap)
		c.sendPid()
		c.expect(syncproto.TypeConfig)
		// close-on-exec: the socket closes when the process runs
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHandshakeHookFailure(t *testing.T) {
	parentErr := errors.New("prestart: hook 0 failed")
	var peerGot string
	parent, child, err := syncproto.NewSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	p := &initProcess{
		r: &Runtime{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, conn: parent, pid: os.Getpid(),
		req: &spawnRequest{cfg: &initproc.Config{Mode: initproc.ModeInit}, onHooks: func(int) error { return parentErr }},
	}
	c := childConn(t, child)
	defer c.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Expect(syncproto.TypeConfig, nil)
		c.SendBytes(syncproto.TypeHooks, nil)
		if _, err := c.Expect(syncproto.TypeHooksDone, nil); err != nil {
			peerGot = err.Error()
		}
	}()
	if err := p.goPhase(); err != parentErr {
		t.Errorf("goPhase = %v", err)
	}
	<-done
	if peerGot != parentErr.Error() {
		t.Errorf("init was told %q", peerGot)
	}
}

func TestHandshakeConstructorErrors(t *testing.T) {
	// A child that exits 3 stands for an init that died.
	dead, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit 3"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		first  int
		script func(*peer)
		want   string
	}{
		{"error", os.Getpid(), func(c *peer) {
			c.expect(syncproto.TypeBootstrap)
			c.send(syncproto.TypeError, "nsexec: setns user namespace: operation not permitted")
		}, "nsexec: setns user namespace: operation not permitted"},
		{"unexpected", os.Getpid(), func(c *peer) {
			c.expect(syncproto.TypeBootstrap)
			c.send(syncproto.TypeReady, "")
		}, `unexpected "ready" from init`},
		{"died", dead, func(c *peer) {
			c.expect(syncproto.TypeBootstrap)
		}, "init exited early: exit status 3"},
	} {
		p, calls, err := handshake(t, tc.first, initproc.ModeInit, tc.script)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if len(calls) != 0 || p.pid != 0 {
			t.Errorf("%s: parent did %v, pid %d", tc.name, calls, p.pid)
		}
		if tc.name == "died" && !p.firstGone {
			t.Errorf("died: the dead init is still to be killed")
		}
	}
}
