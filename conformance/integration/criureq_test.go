//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
)

// recordingCriu is a criu that passes `criu check` and, as `criu swrk 3`,
// saves the one request it is sent to req and exits (the session then
// fails, as a CRIU that dies would).
func recordingCriu(t *testing.T, req string) string {
	sh := filepath.Join(t.TempDir(), "criu")
	script := "#!/bin/sh\n[ \"$1\" = check ] && exit 0\nexec dd bs=1M count=1 of=" + req + " <&3 2>/dev/null\n"
	if err := os.WriteFile(sh, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return sh
}

func readCriuReq(t *testing.T, path string) *rpc.CriuReq {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("criu got no request: %v", err)
	}
	req := &rpc.CriuReq{}
	if err := proto.Unmarshal(b, req); err != nil {
		t.Fatal(err)
	}
	return req
}

// takeExtMnt checks the request maps the bind mount (and /dev/null for
// masked files on restore) and removes the list, whose other entries
// follow the default spec's masked paths and devices.
func takeExtMnt(t *testing.T, o *rpc.CriuOpts, want ...string) {
	t.Helper()
	got := map[string]string{}
	for _, m := range o.GetExtMnt() {
		got[m.GetKey()] = m.GetVal()
	}
	for i := 0; i < len(want); i += 2 {
		if got[want[i]] != want[i+1] {
			t.Errorf("ext_mnt[%s] = %q, want %q (all: %v)", want[i], got[want[i]], want[i+1], got)
		}
	}
	o.ExtMnt = nil
}

// The whole CRIU request built from a representative spec and flag set,
// for a dump and a restore: every option, in the form CRIU reads.
// Fields that name this run's fds, pids, paths and cgroups are checked
// for shape, then compared whole with proto.Equal.
func TestCheckpointRestoreCriuRequest(t *testing.T) {
	src := t.TempDir()
	bind := func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/mnt/b", Source: src, Type: "bind", Options: []string{"rbind", "ro"}})
	}
	b := newBundle(t, []string{"sleep", "1000"}, bind)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	pid := b.state()["pid"].(float64)
	reqF := filepath.Join(t.TempDir(), "dump.req")
	img := filepath.Join(t.TempDir(), "img")
	_, errs, code := b.myrun("--criu", recordingCriu(t, reqF), "checkpoint", "--image-path", img,
		"--leave-running", "--tcp-established", "--tcp-skip-in-flight", "--ext-unix-sk", "--shell-job",
		"--file-locks", "--link-remap", "--auto-dedup", "--manage-cgroups-mode", "full",
		"--empty-ns", "network", "--page-server", "127.0.0.1:27", b.id)
	if code == 0 {
		t.Fatalf("checkpoint with a dying criu succeeded: %q", errs)
	}
	req := readCriuReq(t, reqF)
	o := req.GetOpts()
	if o.GetImagesDirFd() < 3 || o.GetWorkDirFd() < 3 || o.GetFreezeCgroup() == "" {
		t.Fatalf("fds or freezer missing: %v", o)
	}
	o.ImagesDirFd, o.WorkDirFd, o.FreezeCgroup = nil, nil, nil
	takeExtMnt(t, o, "/mnt/b", "/mnt/b")
	full := rpc.CriuCgMode_FULL
	dump := rpc.CriuReqType_DUMP
	want := &rpc.CriuReq{Type: &dump, Opts: &rpc.CriuOpts{
		Pid:               proto.Int32(int32(pid)),
		LogLevel:          proto.Int32(4),
		NotifyScripts:     proto.Bool(true),
		LogFile:           proto.String("dump.log"),
		Root:              proto.String(filepath.Join(b.dir, "rootfs")),
		ManageCgroups:     proto.Bool(true),
		ManageCgroupsMode: &full,
		ShellJob:          proto.Bool(true),
		LeaveRunning:      proto.Bool(true),
		TcpEstablished:    proto.Bool(true),
		TcpSkipInFlight:   proto.Bool(true),
		ExtUnixSk:         proto.Bool(true),
		FileLocks:         proto.Bool(true),
		LinkRemap:         proto.Bool(true),
		AutoDedup:         proto.Bool(true),
		LazyPages:         proto.Bool(false),
		OrphanPtsMaster:   proto.Bool(false),
		EmptyNs:           proto.Uint32(0x40000000), // CLONE_NEWNET
		Ps:                &rpc.CriuPageServerInfo{Address: proto.String("127.0.0.1"), Port: proto.Int32(27)},
	}}
	if !proto.Equal(req, want) {
		t.Errorf("dump request:\n got %v\nwant %v", req, want)
	}
	assertUntouched(t, b, pid)

	// Restore: init's stdio recorded as the engine's pipes is inherited.
	good := validHeader(t)
	os.WriteFile(filepath.Join(good, "descriptors.json"), []byte(`["pipe:[1]","pipe:[2]","/dev/null"]`), 0o600)
	r := newBundle(t, []string{"sleep", "1000"}, bind)
	reqF = filepath.Join(t.TempDir(), "restore.req")
	_, errs, code = runWithTimeout(t, 60*time.Second, "--root", b.root, "--criu", recordingCriu(t, reqF),
		"restore", "-d", "--image-path", good, "--bundle", r.dir, "--tcp-established", "--ext-unix-sk",
		"--shell-job", "--file-locks", "--auto-dedup", "--manage-cgroups-mode", "soft", "--empty-ns", "network",
		"--lsm-profile", "apparmor:p", "--lsm-mount-context", "ctx", r.id)
	if code == 0 || !strings.Contains(errs, "restore: ") {
		t.Fatalf("restore with a dying criu: exit %d, %q", code, errs)
	}
	req = readCriuReq(t, reqF)
	o = req.GetOpts()
	if o.GetImagesDirFd() < 3 || o.GetWorkDirFd() < 3 || !strings.HasSuffix(o.GetRoot(), "/criu-root") || len(o.GetCgRoot()) == 0 {
		t.Fatalf("fds, root or cgroup roots missing: %v", o)
	}
	for _, cr := range o.GetCgRoot() {
		if !strings.HasSuffix(cr.GetPath(), r.id) {
			t.Errorf("cg_root %v is not the container's", cr)
		}
	}
	o.ImagesDirFd, o.WorkDirFd, o.Root, o.CgRoot = nil, nil, nil, nil
	takeExtMnt(t, o, "/mnt/b", src, "/dev/null", "/dev/null")
	soft := rpc.CriuCgMode_SOFT
	restore := rpc.CriuReqType_RESTORE
	want = &rpc.CriuReq{Type: &restore, Opts: &rpc.CriuOpts{
		LogLevel:          proto.Int32(4),
		NotifyScripts:     proto.Bool(true),
		LogFile:           proto.String("restore.log"),
		RstSibling:        proto.Bool(true),
		ManageCgroups:     proto.Bool(true),
		ManageCgroupsMode: &soft,
		ShellJob:          proto.Bool(true),
		TcpEstablished:    proto.Bool(true),
		ExtUnixSk:         proto.Bool(true),
		FileLocks:         proto.Bool(true),
		AutoDedup:         proto.Bool(true),
		LazyPages:         proto.Bool(false),
		OrphanPtsMaster:   proto.Bool(false),
		EmptyNs:           proto.Uint32(0x40000000),
		LsmProfile:        proto.String("apparmor:p"),
		LsmMountContext:   proto.String("ctx"),
		InheritFd: []*rpc.InheritFd{
			{Key: proto.String("pipe:[1]"), Fd: proto.Int32(4)},
			{Key: proto.String("pipe:[2]"), Fd: proto.Int32(5)},
		},
	}}
	if !proto.Equal(req, want) {
		t.Errorf("restore request:\n got %v\nwant %v", req, want)
	}
	if ents, _ := os.ReadDir(b.root); len(ents) != 1 {
		t.Fatalf("state root holds %v", ents)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), "criu-root") {
		t.Fatal("criu-root mount left behind")
	}
}
