package criu

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gorpc "github.com/checkpoint-restore/go-criu/v7/rpc"
	"github.com/myrun-org/myrun/libcontainer/criu/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// The test binary stands in for `criu swrk 3` when FAKE_CRIU_SWRK is set:
// it speaks the RPC protocol over fd 3 as CRIU does for a restore, with
// go-criu's generated types (ours are checked against them on the wire).
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_CRIU_SWRK"); mode != "" {
		fakeSwrk(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeSwrk(mode string) {
	sk := os.NewFile(3, "sk")
	buf := make([]byte, 1<<16)
	read := func() *gorpc.CriuReq {
		n, err := sk.Read(buf)
		if err != nil {
			os.Exit(2)
		}
		req := &gorpc.CriuReq{}
		if proto.Unmarshal(buf[:n], req) != nil {
			os.Exit(3)
		}
		return req
	}
	send := func(r *gorpc.CriuResp, fd int) {
		b, _ := proto.Marshal(r)
		var oob []byte
		if fd >= 0 {
			oob = unix.UnixRights(fd)
		}
		if unix.Sendmsg(3, b, oob, nil, 0) != nil {
			os.Exit(4)
		}
	}
	req := read()
	if mode == "hang" {
		// As criu 3.17 restoring a truncated pages-*.img: no answer,
		// and a task left that holds CRIU's stderr.
		c := exec.Command("sleep", "1000")
		c.Stderr = os.Stderr
		if c.Start() == nil {
			os.WriteFile(os.Getenv("FAKE_CRIU_CHILD"), []byte(strconv.Itoa(c.Process.Pid)), 0o600)
		}
		select {}
	}
	if mode == "fail" {
		send(&gorpc.CriuResp{Type: req.Type, Success: proto.Bool(false), CrErrmsg: proto.String("kerndat says no"), CrErrno: proto.Int32(22)}, -1)
		return
	}
	// The inherited fd CRIU was told about must be open at that number.
	inh := req.GetOpts().GetInheritFd()
	msg := "missing"
	if len(inh) == 1 {
		b := make([]byte, 5)
		if _, err := io.ReadFull(os.NewFile(uintptr(inh[0].GetFd()), "inh"), b); err == nil {
			msg = string(b)
		}
	}
	nt := gorpc.CriuReqType_NOTIFY
	for _, n := range []struct {
		script string
		pid    int32
		fd     int
	}{{"setup-namespaces", 42, -1}, {"orphan-pts-master", 0, 1}, {"post-restore", 43, -1}} {
		send(&gorpc.CriuResp{Type: &nt, Success: proto.Bool(true), Notify: &gorpc.CriuNotify{Script: proto.String(n.script), Pid: proto.Int32(n.pid)}}, n.fd)
		if r := read(); !r.GetNotifySuccess() {
			os.Exit(5)
		}
	}
	send(&gorpc.CriuResp{Type: req.Type, Success: proto.Bool(true), CrErrmsg: proto.String(msg)}, -1)
}

func TestSwrkRestoreNotifications(t *testing.T) {
	t.Setenv("FAKE_CRIU_SWRK", "ok")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.Write([]byte("hello"))
	w.Close()
	sw, err := Start(os.Args[0], []*os.File{r}, false)
	if err != nil {
		t.Fatal(err)
	}
	typ := rpc.CriuReqType_RESTORE
	opts := &rpc.CriuOpts{ImagesDirFd: rpc.Int32(-1), InheritFd: []*rpc.InheritFd{{Key: rpc.String("pipe:[1]"), Fd: rpc.Int32(4)}}}
	var seen []string
	var gotFd bool
	resp, err := sw.Do(&rpc.CriuReq{Type: &typ, Opts: opts}, func(script string, pid int32, fd *os.File) error {
		seen = append(seen, script+":"+string(rune('0'+pid%10)))
		if fd != nil {
			gotFd = true
			fd.Close()
		}
		return nil
	})
	sw.Close()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != "setup-namespaces:2,orphan-pts-master:0,post-restore:3" || !gotFd {
		t.Fatalf("notifications %v, fd received %v", seen, gotFd)
	}
	if resp.GetCrErrmsg() != "hello" {
		t.Fatalf("inherited fd 4 in the child read %q", resp.GetCrErrmsg())
	}
}

func TestSwrkFailure(t *testing.T) {
	t.Setenv("FAKE_CRIU_SWRK", "fail")
	sw, err := Start(os.Args[0], nil, false)
	if err != nil {
		t.Fatal(err)
	}
	typ := rpc.CriuReqType_DUMP
	_, err = sw.Do(&rpc.CriuReq{Type: &typ, Opts: &rpc.CriuOpts{ImagesDirFd: rpc.Int32(-1)}}, nil)
	sw.Close()
	if err == nil || !strings.Contains(err.Error(), "criu dump failed: kerndat says no (errno 22)") {
		t.Fatalf("%v", err)
	}
}

// A CRIU that never answers: Do gives up after Timeout and kills the
// swrk child by pid; Close returns although a task it left holds its
// stderr.
func TestSwrkNoAnswer(t *testing.T) {
	t.Setenv("FAKE_CRIU_SWRK", "hang")
	childF := filepath.Join(t.TempDir(), "child")
	t.Setenv("FAKE_CRIU_CHILD", childF)
	sw, err := Start(os.Args[0], nil, false)
	if err != nil {
		t.Fatal(err)
	}
	sw.Timeout = 300 * time.Millisecond
	typ := rpc.CriuReqType_RESTORE
	_, err = sw.Do(&rpc.CriuReq{Type: &typ, Opts: &rpc.CriuOpts{ImagesDirFd: rpc.Int32(-1)}}, nil)
	sw.Close()
	if b, rerr := os.ReadFile(childF); rerr == nil {
		if pid, _ := strconv.Atoi(string(b)); pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	var na *NoAnswerError
	if !errors.As(err, &na) || na.Pid != sw.Pid() || !strings.Contains(err.Error(), "CRIU did not answer within 300ms: killed its swrk child (pid ") {
		t.Fatalf("%v", err)
	}
	if err := unix.Kill(sw.Pid(), 0); err != unix.ESRCH {
		t.Fatalf("swrk child %d still there: %v", sw.Pid(), err)
	}
}

func TestSwrkMissingBinary(t *testing.T) {
	if _, err := Start("/nonexistent/criu", nil, false); err == nil || !strings.Contains(err.Error(), "/nonexistent/criu") {
		t.Fatalf("%v", err)
	}
}
