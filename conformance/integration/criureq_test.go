//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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
	// A per-container CRIU config (org.criu.config) and the network
	// namespace joined by path (ours, by its inode).
	cfg := filepath.Join(t.TempDir(), "criu.conf")
	os.WriteFile(cfg, []byte("# ours\n"), 0o600)
	bind := func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/mnt/b", Source: src, Type: "bind", Options: []string{"rbind", "ro"}})
		s.Annotations = map[string]string{"org.criu.config": cfg}
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == rspec.NetworkNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/net", os.Getpid())
			}
		}
	}
	var netns syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &netns); err != nil {
		t.Fatal(err)
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
		ConfigFile:        proto.String(cfg),
		External:          []string{fmt.Sprintf("net[%d]:extRootNetNS", netns.Ino)},
	}}
	if !proto.Equal(req, want) {
		t.Errorf("dump request:\n got %v\nwant %v", req, want)
	}
	assertUntouched(t, b, pid)

	// Restore: init's stdio recorded as the engine's pipes is inherited.
	good := validHeader(t)
	os.WriteFile(filepath.Join(good, "descriptors.json"), []byte(`["pipe:[1]","pipe:[2]","/dev/null"]`), 0o600)
	// The restored container also joins our ipc namespace (CRIU
	// joins it by path; net is handed over as an fd).
	ipcPath := fmt.Sprintf("/proc/%d/ns/ipc", os.Getpid())
	r := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		bind(s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.IPCNamespace, Path: ipcPath})
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n rspec.LinuxNamespace) bool { return n.Type == rspec.IPCNamespace && n.Path == "" })
	})
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
		ConfigFile:        proto.String(cfg),
		JoinNs:            []*rpc.JoinNamespace{{Ns: proto.String("ipc"), NsFile: proto.String(ipcPath)}},
		InheritFd: []*rpc.InheritFd{
			{Key: proto.String("extRootNetNS"), Fd: proto.Int32(4)},
			{Key: proto.String("pipe:[1]"), Fd: proto.Int32(5)},
			{Key: proto.String("pipe:[2]"), Fd: proto.Int32(6)},
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

// A restore runs the prestart and createRuntime hooks (as runc) when CRIU
// notifies "setup-namespaces", with the restored init's pid in the state
// they read. The fake CRIU sends that notification, takes the answer and
// fails the restore: nothing is left.
func TestRestoreHooksAtSetupNamespaces(t *testing.T) {
	dir := t.TempDir()
	nt, rs := rpc.CriuReqType_NOTIFY, rpc.CriuReqType_RESTORE
	for name, m := range map[string]*rpc.CriuResp{
		"notify": {Type: &nt, Success: proto.Bool(true), Notify: &rpc.CriuNotify{Script: proto.String("setup-namespaces"), Pid: proto.Int32(4242)}},
		"fail":   {Type: &rs, Success: proto.Bool(false), CrErrmsg: proto.String("fake CRIU stops here")},
	} {
		b, _ := proto.Marshal(m)
		os.WriteFile(filepath.Join(dir, name), b, 0o600)
	}
	sh := filepath.Join(dir, "criu")
	script := "#!/bin/sh\n[ \"$1\" = check ] && exit 0\ndd bs=1M count=1 of=/dev/null <&3 2>/dev/null\ncat " + filepath.Join(dir, "notify") +
		" >&3\ndd bs=1M count=1 of=" + filepath.Join(dir, "ack") + " <&3 2>/dev/null\nexec cat " + filepath.Join(dir, "fail") + " >&3\n"
	os.WriteFile(sh, []byte(script), 0o755)
	hook := func(out string) rspec.Hook {
		return rspec.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + out}}
	}
	r := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Hooks = &rspec.Hooks{Prestart: []rspec.Hook{hook(filepath.Join(dir, "prestart"))}, CreateRuntime: []rspec.Hook{hook(filepath.Join(dir, "createRuntime"))}}
	})
	_, errs, code := runWithTimeout(t, 60*time.Second, "--root", r.root, "--criu", sh, "restore", "-d", "--image-path", validHeader(t), "--bundle", r.dir, r.id)
	if code == 0 || !strings.Contains(errs, "criu restore failed: fake CRIU stops here") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for hookName, status := range map[string]string{"prestart": "created", "createRuntime": "creating"} {
		b, err := os.ReadFile(filepath.Join(dir, hookName))
		if err != nil {
			t.Fatalf("%s hook did not run: %v", hookName, err)
		}
		var st rspec.State
		if err := json.Unmarshal(b, &st); err != nil || st.ID != r.id || st.Pid != 4242 || st.Bundle != r.dir || string(st.Status) != status {
			t.Errorf("%s hook read %s (%v); want id %s, pid 4242, status %s", hookName, b, err, r.id, status)
		}
	}
	ack := readCriuReq(t, filepath.Join(dir, "ack"))
	if ack.GetType() != rpc.CriuReqType_NOTIFY || !ack.GetNotifySuccess() {
		t.Errorf("answer to the notification: %v", ack)
	}
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Fatalf("state root holds %v", ents)
	}

	// A failing prestart hook fails the restore, and nothing is left.
	r.spec.Hooks.Prestart = []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 3"}}}
	r.write()
	_, errs, code = runWithTimeout(t, 60*time.Second, "--root", r.root, "--criu", sh, "restore", "-d", "--image-path", validHeader(t), "--bundle", r.dir, r.id)
	if code == 0 || !strings.Contains(errs, `criu notification \"setup-namespaces\"`) || !strings.Contains(errs, "prestart") {
		t.Fatalf("failing hook: exit %d, stderr %q", code, errs)
	}
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Fatalf("failing hook: state root holds %v", ents)
	}
	if dirs := cgroupDirs(r); len(dirs) > 0 {
		t.Fatalf("failing hook: cgroups left behind: %v", dirs)
	}
}
