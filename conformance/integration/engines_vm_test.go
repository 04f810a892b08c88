//go:build integration && vm

// Engines on a pure cgroup v2 host with systemd as PID 1 (the VM lane):
// podman with cgroup_manager = "systemd", root and rootless (through the
// user manager, user@1000.service), and containerd's runc v2 shim with
// SystemdCgroup, each with MYRUN as its OCI runtime. MYRUN may name runc:
// the lane runs these with myrun and with runc 1.1.5 as the baseline.
package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const vmImage = "localhost/vmbusybox:latest"

// engineWait is the hang guard of one engine command under emulation.
var engineWait = 3 * time.Minute * timeoutScale

// vmEngine runs an engine binary with a fixed environment, as root or as
// the image's user (cred).
type vmEngine struct {
	t    *testing.T
	bin  string
	pre  []string // global flags
	env  []string
	cred *escCred
}

func (e *vmEngine) run(args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, append(append([]string{}, e.pre...), args...)...)
	cmd.Env = e.env
	if e.cred != nil {
		e.cred.apply(cmd)
	}
	return runCmd(e.t, engineWait, cmd)
}

func (e *vmEngine) must(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("%s %v: exit %d: %s%s", filepath.Base(e.bin), args, code, errs, out)
	}
	return strings.TrimSpace(out)
}

func vmNeedSystemdV2(t *testing.T) {
	t.Helper()
	if raw, err := os.ReadFile("/proc/1/comm"); err != nil || strings.TrimSpace(string(raw)) != "systemd" {
		t.Fatal("the vm tests need systemd as PID 1")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		t.Fatal("the vm tests need pure cgroup v2 at /sys/fs/cgroup")
	}
}

// vmRootfsTar packs a busybox rootfs into dir/rootfs.tar (for podman
// import and as the layer of the OCI archive).
func vmRootfsTar(t *testing.T, dir string) string {
	t.Helper()
	r := filepath.Join(dir, "rootfs")
	busyboxRootfs(t, r)
	tarball := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "--numeric-owner", "--owner=0", "--group=0", "-C", r, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	os.RemoveAll(r)
	return tarball
}

// vmOCIArchive makes an OCI image layout archive (one uncompressed layer)
// named vmImage, for `ctr image import`.
func vmOCIArchive(t *testing.T, dir string) string {
	t.Helper()
	layout := filepath.Join(dir, "oci")
	blobs := filepath.Join(layout, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(raw []byte) (string, int) {
		sum := sha256.Sum256(raw)
		d := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(blobs, d), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + d, len(raw)
	}
	layer, err := os.ReadFile(vmRootfsTar(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	ld, ls := put(layer)
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Env": []string{"PATH=/bin"}, "Cmd": []string{"/bin/sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{ld}}})
	cd, cs := put(cfg)
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}}})
	md, ms := put(man)
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
		"platform":    map[string]string{"architecture": "amd64", "os": "linux"},
		"annotations": map[string]string{"io.containerd.image.name": vmImage, "org.opencontainers.image.ref.name": "latest"}}}})
	os.WriteFile(filepath.Join(layout, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(layout, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	out := filepath.Join(dir, "oci.tar")
	if raw, err := exec.Command("tar", "-C", layout, "-cf", out, "oci-layout", "index.json", "blobs").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, raw)
	}
	return out
}

// procCgroup is the v2 cgroup of a process ("0::PATH").
func procCgroup(t *testing.T, pid string) string {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatalf("cgroup of pid %s: %v", pid, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(raw)), "0::")
}

func v2File(t *testing.T, cg, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", cg, name))
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return strings.TrimSpace(string(raw))
}

// userUnitProp reads a property of a unit of the user manager of uid.
func userUnitProp(t *testing.T, uid int, unit, prop string) string {
	t.Helper()
	xdg := fmt.Sprintf("/run/user/%d", uid)
	cmd := exec.Command("systemctl", "--user", "show", "-p", prop, "--value", unit)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "XDG_RUNTIME_DIR=" + xdg, "DBUS_SESSION_BUS_ADDRESS=unix:path=" + xdg + "/bus"}
	(&escCred{uint32(uid), uint32(uid)}).apply(cmd)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("systemctl --user show %s %s: %v", unit, prop, err)
	}
	return strings.TrimSpace(string(out))
}

// vmUnmountUnder detaches every mount under dir (engines' overlay and
// shm mounts left by a failed test), deepest first.
func vmUnmountUnder(dir string) {
	raw, _ := os.ReadFile("/proc/self/mountinfo")
	var mps []string
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mps = append(mps, f[4])
		}
	}
	for i := len(mps) - 1; i >= 0; i-- {
		syscall.Unmount(mps[i], syscall.MNT_DETACH)
	}
}

// ---- podman ----------------------------------------------------------

const vmUID = 1000 // the image's user: lingering, user@1000.service delegated

// newPodman sets up podman with a private store and configuration
// (cgroup_manager = "systemd") using MYRUN, as root or as uid 1000.
func newPodman(t *testing.T, rootless bool) *vmEngine {
	vmNeedSystemdV2(t)
	base, err := os.MkdirTemp("", "vm-podman-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	bin := filepath.Join(base, "bin", filepath.Base(myrun))
	os.MkdirAll(filepath.Dir(bin), 0o755)
	escInstall(t, myrun, bin)
	conf := fmt.Sprintf(`[engine]
cgroup_manager = "systemd"
events_logger = "file"
events_logfile_path = "%[1]s/events.log"
lock_type = "file"
num_locks = 128
runtime_supports_json = ["crun", "runc", "%[2]s"]
tmp_dir = "%[1]s/tmp"
volume_path = "%[1]s/root/volumes"

[network]
network_backend = "netavark"
network_config_dir = "%[1]s/networks"
`, base, filepath.Base(myrun))
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = \"%[1]s/root\"\nrunroot = \"%[1]s/runroot\"\n", base)
	for _, d := range []string{"root", "runroot", "tmp", "networks", "home"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
	}
	os.WriteFile(filepath.Join(base, "containers.conf"), []byte(conf), 0o644)
	os.WriteFile(filepath.Join(base, "storage.conf"), []byte(storage), 0o644)
	tarball := vmRootfsTar(t, base)
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + base + "/home",
		"CONTAINERS_CONF=" + base + "/containers.conf", "CONTAINERS_STORAGE_CONF=" + base + "/storage.conf"}
	var cred *escCred
	xdg := fmt.Sprintf("/run/user/%d", vmUID)
	if rootless {
		if _, err := os.Stat(xdg + "/bus"); err != nil {
			t.Fatalf("the user manager of uid %d is not up: %v", vmUID, err)
		}
		escChownTree(t, base, vmUID, vmUID)
		cred = &escCred{vmUID, vmUID}
		env = append(env, "USER=user", "LOGNAME=user", "XDG_RUNTIME_DIR="+xdg,
			"DBUS_SESSION_BUS_ADDRESS=unix:path="+xdg+"/bus", "XDG_CONFIG_HOME="+base+"/home/.config")
	}
	p := &vmEngine{t: t, bin: "podman", env: env, cred: cred,
		pre: []string{"--root", base + "/root", "--runroot", base + "/runroot", "--tmpdir", base + "/tmp",
			"--runtime", bin, "--cgroup-manager", "systemd"}}
	t.Cleanup(func() {
		p.run("rm", "-fa", "-t", "0")
		p.run("pod", "rm", "-fa")
		p.run("system", "reset", "-f")
		if rootless {
			if raw, err := os.ReadFile(xdg + "/libpod/tmp/pause.pid"); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		vmUnmountUnder(base)
		os.RemoveAll(base)
	})
	p.must("import", "--change", "CMD=/bin/sh", tarball, vmImage)
	return p
}

// podmanLifecycle: run, exec, limits in the container's systemd scope
// (files and unit properties), update, pause/unpause, stop, rm, and a pod.
// scopeParent is where podman's scopes land (machine.slice for root, the
// user manager's user.slice rootless); prop reads a unit property from
// the right manager.
func podmanLifecycle(t *testing.T, p *vmEngine, scopeParent string, prop func(unit, name string) string) {
	if out := p.must("run", "--rm", "--network", "none", vmImage, "echo", "hello-vm"); out != "hello-vm" {
		t.Fatalf("run --rm: %q", out)
	}
	if _, _, code := p.run("run", "--rm", "--network", "none", vmImage, "sh", "-c", "exit 3"); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	p.must("run", "-d", "--name", "c1", "--network", "none", "--memory", "64m", "--cpus", "0.5",
		"--pids-limit", "40", vmImage, "sleep", "1000")
	id := p.must("inspect", "-f", "{{.Id}}", "c1")
	pid := p.must("inspect", "-f", "{{.State.Pid}}", "c1")
	unit := "libpod-" + id + ".scope"
	cg := procCgroup(t, pid)
	if cg != scopeParent+"/"+unit {
		t.Fatalf("container cgroup %s, want %s/%s", cg, scopeParent, unit)
	}
	for file, want := range map[string]string{"memory.max": "67108864", "cpu.max": "50000 100000", "pids.max": "40"} {
		if got := v2File(t, cg, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	for name, want := range map[string]string{"MemoryMax": "67108864", "TasksMax": "40", "CPUQuotaPerSecUSec": "500ms", "ActiveState": "active"} {
		if got := prop(unit, name); got != want {
			t.Errorf("%s %s = %q, want %q", unit, name, got, want)
		}
	}
	if out := p.must("exec", "c1", "cat", "/proc/self/cgroup"); out != "0::/" {
		t.Errorf("exec sees cgroup %q, want 0::/ (private cgroup namespace)", out)
	}
	if _, _, code := p.run("exec", "c1", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec exit code %d, want 7", code)
	}
	p.must("update", "--memory", "96m", "c1")
	if got := v2File(t, cg, "memory.max"); got != "100663296" {
		t.Errorf("after update memory.max = %q, want 100663296", got)
	}
	if got := prop(unit, "MemoryMax"); got != "100663296" {
		t.Errorf("after update %s MemoryMax = %q, want 100663296", unit, got)
	}
	p.must("pause", "c1")
	if got := v2File(t, cg, "cgroup.freeze"); got != "1" {
		t.Errorf("paused: cgroup.freeze = %q", got)
	}
	if st := p.must("inspect", "-f", "{{.State.Status}}", "c1"); st != "paused" {
		t.Errorf("status %q after pause", st)
	}
	p.must("unpause", "c1")
	if got := v2File(t, cg, "cgroup.freeze"); got != "0" {
		t.Errorf("unpaused: cgroup.freeze = %q", got)
	}
	p.must("stop", "-t", "1", "c1")
	if st := p.must("inspect", "-f", "{{.State.Status}}", "c1"); st != "exited" {
		t.Errorf("status %q after stop", st)
	}
	p.must("rm", "c1")
	escWaitFor(t, time.Minute*timeoutScale, unit+" to go", func() bool {
		_, err := os.Stat(filepath.Join("/sys/fs/cgroup", cg))
		return os.IsNotExist(err) && prop(unit, "ActiveState") != "active"
	})

	// A pod: its infra container and a member share the pod's slice.
	p.must("pod", "create", "--name", "p1", "--network", "none")
	pod := p.must("pod", "inspect", "-f", "{{.Id}}", "p1")
	p.must("run", "-d", "--pod", "p1", "--name", "m1", "--memory", "32m", vmImage, "sleep", "1000")
	mid := p.must("inspect", "-f", "{{.Id}}", "m1")
	mcg := procCgroup(t, p.must("inspect", "-f", "{{.State.Pid}}", "m1"))
	slice := "machine-libpod_pod_" + pod + ".slice"
	if p.cred != nil {
		slice = "user-libpod_pod_" + pod + ".slice"
	}
	if !strings.HasSuffix(mcg, "/"+slice+"/libpod-"+mid+".scope") {
		t.Errorf("pod member cgroup %s, want .../%s/libpod-%s.scope", mcg, slice, mid)
	}
	if got := v2File(t, mcg, "memory.max"); got != "33554432" {
		t.Errorf("pod member memory.max = %q", got)
	}
	if out := p.must("exec", "m1", "echo", "in-pod"); out != "in-pod" {
		t.Errorf("exec in pod member: %q", out)
	}
	p.must("pod", "rm", "-f", "p1")
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", mcg)); !os.IsNotExist(err) {
		t.Errorf("pod member cgroup %s left after pod rm: %v", mcg, err)
	}
}

func TestVMPodmanSystemd(t *testing.T) {
	p := newPodman(t, false)
	podmanLifecycle(t, p, "/machine.slice", func(unit, name string) string { return unitProp(t, unit, name) })
}

func TestVMPodmanRootlessSystemd(t *testing.T) {
	p := newPodman(t, true)
	parent := fmt.Sprintf("/user.slice/user-%d.slice/user@%d.service/user.slice", vmUID, vmUID)
	podmanLifecycle(t, p, parent, func(unit, name string) string { return userUnitProp(t, vmUID, unit, name) })
}

// podman container checkpoint/restore (in place, then --export/--import
// into a new container) with the runtime's checkpoint and restore verbs;
// the restored container is back in its systemd scope with its limits.
func TestVMPodmanCheckpoint(t *testing.T) {
	p := newPodman(t, false)
	// CRIU's logs of every step go where the lane reads them back.
	t.Cleanup(func() {
		keep := os.Getenv("MYRUN_TEST_CRIU_LOGS")
		if keep == "" {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(p.pre[1], "overlay-containers", "*", "userdata", "*", "*.log"))
		more, _ := filepath.Glob(filepath.Join(p.pre[1], "overlay-containers", "*", "userdata", "*.log"))
		os.MkdirAll(keep, 0o755)
		for i, l := range append(logs, more...) {
			if raw, err := os.ReadFile(l); err == nil {
				os.WriteFile(filepath.Join(keep, fmt.Sprintf("podman-%d-%s", i, filepath.Base(l))), raw, 0o644)
			}
		}
	})
	p.must("run", "-d", "--name", "ck", "--network", "none", "--memory", "64m", vmImage,
		"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/count; sleep 0.2; done")
	count := func(name string) int {
		return readCounter(func() string { return p.must("exec", name, "cat", "/count") })
	}
	waitPast := func(name string, n int) int {
		var c int
		escWaitFor(t, 2*time.Minute*timeoutScale, name+"'s counter to pass "+strconv.Itoa(n), func() bool {
			c = count(name)
			return c > n
		})
		return c
	}
	n := waitPast("ck", 2)
	p.must("container", "checkpoint", "ck")
	if st := p.must("inspect", "-f", "{{.State.Status}}", "ck"); st != "exited" {
		t.Fatalf("status %q after checkpoint", st)
	}
	p.must("container", "restore", "ck")
	if st := p.must("inspect", "-f", "{{.State.Status}}", "ck"); st != "running" {
		t.Fatalf("status %q after restore", st)
	}
	if c := count("ck"); c < n {
		t.Fatalf("counter went back from %d to %d", n, c)
	}
	n = waitPast("ck", count("ck"))
	id := p.must("inspect", "-f", "{{.Id}}", "ck")
	cg := procCgroup(t, p.must("inspect", "-f", "{{.State.Pid}}", "ck"))
	if cg != "/machine.slice/libpod-"+id+".scope" {
		t.Errorf("restored container's cgroup %s", cg)
	}
	if got := v2File(t, cg, "memory.max"); got != "67108864" {
		t.Errorf("restored memory.max = %q", got)
	}

	export := filepath.Join(t.TempDir(), "ck.tar.gz")
	p.must("container", "checkpoint", "--export", export, "ck")
	p.must("rm", "-f", "ck")
	p.must("container", "restore", "--import", export, "--name", "ck2")
	if st := p.must("inspect", "-f", "{{.State.Status}}", "ck2"); st != "running" {
		t.Fatalf("status %q after restore --import", st)
	}
	if c := count("ck2"); c < n {
		t.Fatalf("imported counter went back from %d to %d", n, c)
	}
	waitPast("ck2", count("ck2"))
	id2 := p.must("inspect", "-f", "{{.Id}}", "ck2")
	if cg := procCgroup(t, p.must("inspect", "-f", "{{.State.Pid}}", "ck2")); cg != "/machine.slice/libpod-"+id2+".scope" {
		t.Errorf("imported container's cgroup %s", cg)
	}
	p.must("stop", "-t", "1", "ck2")
	p.must("rm", "ck2")
}

// ---- containerd ------------------------------------------------------

// newContainerd starts a private containerd (its own root, state, socket;
// the CRI plugin off) and imports the busybox image; ctr runs tasks with
// the runc v2 shim, BinaryName MYRUN and SystemdCgroup.
func newContainerd(t *testing.T) (*vmEngine, []string) {
	vmNeedSystemdV2(t)
	base, err := os.MkdirTemp("", "vm-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"root", "state", "opt", "fifo", "rt-root"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
	}
	conf := fmt.Sprintf(`version = 2
root = "%[1]s/root"
state = "%[1]s/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "%[1]s/c.sock"
[ttrpc]
  address = "%[1]s/c.sock.ttrpc"
[debug]
  address = "%[1]s/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "%[1]s/opt"
`, base)
	os.WriteFile(filepath.Join(base, "config.toml"), []byte(conf), 0o644)
	logf, err := os.Create(filepath.Join(base, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	d := exec.Command("containerd", "--config", filepath.Join(base, "config.toml"))
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	c := &vmEngine{t: t, bin: "ctr", env: []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
		pre: []string{"--address", base + "/c.sock", "-n", "vmtest"}}
	t.Cleanup(func() {
		out, _, _ := c.run("task", "ls", "-q")
		for _, id := range strings.Fields(out) {
			c.run("task", "kill", "-a", "-s", "SIGKILL", id)
			time.Sleep(time.Second)
			c.run("task", "rm", "-f", id)
		}
		out, _, _ = c.run("container", "ls", "-q")
		for _, id := range strings.Fields(out) {
			c.run("container", "rm", id)
		}
		d.Process.Kill()
		d.Wait()
		logf.Close()
		if t.Failed() {
			raw, _ := os.ReadFile(filepath.Join(base, "containerd.log"))
			if len(raw) > 4000 {
				raw = raw[len(raw)-4000:]
			}
			t.Logf("containerd.log (end):\n%s", raw)
		}
		vmUnmountUnder(base)
		os.RemoveAll(base)
	})
	escWaitFor(t, time.Minute*timeoutScale, "containerd to answer", func() bool {
		_, _, code := c.run("version")
		return code == 0
	})
	c.must("image", "import", vmOCIArchive(t, base))
	bin := filepath.Join(base, "bin", filepath.Base(myrun))
	os.MkdirAll(filepath.Dir(bin), 0o755)
	escInstall(t, myrun, bin)
	runFlags := []string{"--fifo-dir", base + "/fifo", "--runc-binary", bin, "--runc-root", base + "/rt-root", "--runc-systemd-cgroup"}
	return c, runFlags
}

// ctrStatus is a task's STATUS column in `ctr task ls`.
func ctrStatus(c *vmEngine, id string) string {
	out, _, _ := c.run("task", "ls")
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == id {
			return f[2]
		}
	}
	return "absent"
}

func ctrPid(c *vmEngine, id string) string {
	out, _, _ := c.run("task", "ls")
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == id {
			return f[1]
		}
	}
	return ""
}

// ctr run -d / exec / pause / resume / kill / rm with SystemdCgroup: the
// task's scope under system.slice carries its limits, and goes at rm.
func TestVMContainerdSystemd(t *testing.T) {
	c, runFlags := newContainerd(t)
	id := fmt.Sprintf("vmctr-%d", os.Getpid())
	args := append([]string{"run", "-d"}, runFlags...)
	args = append(args, "--cgroup", "system.slice:vmctr:"+id, "--memory-limit", "67108864",
		"--cpu-quota", "25000", "--cpu-period", "100000", vmImage, id, "sleep", "1000")
	c.must(args...)
	if st := ctrStatus(c, id); st != "RUNNING" {
		t.Fatalf("task status %s", st)
	}
	unit := "vmctr-" + id + ".scope"
	cg := procCgroup(t, ctrPid(c, id))
	if cg != "/system.slice/"+unit {
		t.Fatalf("task cgroup %s, want /system.slice/%s", cg, unit)
	}
	if got := v2File(t, cg, "memory.max"); got != "67108864" {
		t.Errorf("memory.max = %q", got)
	}
	if got := v2File(t, cg, "cpu.max"); got != "25000 100000" {
		t.Errorf("cpu.max = %q", got)
	}
	if got := unitProp(t, unit, "MemoryMax"); got != "67108864" {
		t.Errorf("%s MemoryMax = %q", unit, got)
	}
	if got := unitProp(t, unit, "CPUQuotaPerSecUSec"); got != "250ms" {
		t.Errorf("%s CPUQuotaPerSecUSec = %q", unit, got)
	}
	if out := c.must("task", "exec", "--fifo-dir", runFlags[1], "--exec-id", "e1", id, "echo", "exec-ok"); out != "exec-ok" {
		t.Errorf("exec: %q", out)
	}
	if _, _, code := c.run("task", "exec", "--fifo-dir", runFlags[1], "--exec-id", "e2", id, "sh", "-c", "exit 5"); code != 5 {
		t.Errorf("exec exit code %d, want 5", code)
	}
	c.must("task", "pause", id)
	if st := ctrStatus(c, id); st != "PAUSED" {
		t.Errorf("status %s after pause", st)
	}
	if got := v2File(t, cg, "cgroup.freeze"); got != "1" {
		t.Errorf("paused: cgroup.freeze = %q", got)
	}
	c.must("task", "resume", id)
	if st := ctrStatus(c, id); st != "RUNNING" {
		t.Errorf("status %s after resume", st)
	}
	c.must("task", "kill", "-s", "SIGKILL", id)
	escWaitFor(t, time.Minute*timeoutScale, "the task to stop", func() bool { return ctrStatus(c, id) == "STOPPED" })
	c.must("task", "rm", id)
	c.must("container", "rm", id)
	escWaitFor(t, time.Minute*timeoutScale, unit+" to go", func() bool {
		_, err := os.Stat(filepath.Join("/sys/fs/cgroup", cg))
		return os.IsNotExist(err) && unitProp(t, unit, "ActiveState") != "active"
	})
}

// ctr containers checkpoint --task (the runtime's checkpoint verb, the
// task left running), then the container removed and brought back with
// ctr containers restore --live (the runtime's restore verb through the
// runc v2 shim), counting on in its systemd scope.
func TestVMContainerdCheckpoint(t *testing.T) {
	c, runFlags := newContainerd(t)
	id := fmt.Sprintf("vmck-%d", os.Getpid())
	args := append([]string{"run", "-d"}, runFlags...)
	args = append(args, "--cgroup", "system.slice:vmctr:"+id, "--memory-limit", "67108864", vmImage, id,
		"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/count; sleep 0.2; done")
	c.must(args...)
	exe := 0
	count := func() int {
		return readCounter(func() string {
			exe++
			out, errs, code := c.run("task", "exec", "--fifo-dir", runFlags[1], "--exec-id", fmt.Sprintf("cat%d", exe), id, "cat", "/count")
			if code != 0 {
				t.Fatalf("exec cat /count: %d %s", code, errs)
			}
			return out
		})
	}
	waitPast := func(n int) int {
		var got int
		escWaitFor(t, 2*time.Minute*timeoutScale, "the counter to pass "+strconv.Itoa(n), func() bool {
			got = count()
			return got > n
		})
		return got
	}
	// The checkpoint is taken after the counter showed dumped; the task
	// goes on counting past it, but the restore brings back the dumped
	// state: at least dumped, and usually less than the task reached
	// (comparing with that was this test's own bug, seen in the guest:
	// "counter went back from 24 to 17").
	dumped := waitPast(2)
	ref := "localhost/vmck:" + id
	c.must("container", "checkpoint", "--task", "--rw", "--image", id, ref)
	if st := ctrStatus(c, id); st != "RUNNING" {
		t.Fatalf("status %s after a checkpoint (the task is left running)", st)
	}
	waitPast(dumped)
	c.must("task", "kill", "-s", "SIGKILL", id)
	escWaitFor(t, time.Minute*timeoutScale, "the task to stop", func() bool { return ctrStatus(c, id) == "STOPPED" })
	c.must("task", "rm", id)
	c.must("container", "rm", id)

	// restore --live stays attached to the task: run it in the background.
	logf, err := os.Create(filepath.Join(t.TempDir(), "restore.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	rs := exec.Command(c.bin, append(append([]string{}, c.pre...), "container", "restore", "--live", "--rw", id, ref)...)
	rs.Env, rs.Stdout, rs.Stderr = c.env, logf, logf
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rs.Wait() }()
	t.Cleanup(func() {
		rs.Process.Kill()
		<-done
	})
	escWaitFor(t, 3*time.Minute*timeoutScale, "the restored task to run", func() bool {
		select {
		case err := <-done:
			done <- err
			raw, _ := os.ReadFile(logf.Name())
			t.Fatalf("ctr container restore ended: %v: %s", err, raw)
		default:
		}
		return ctrStatus(c, id) == "RUNNING"
	})
	if got := count(); got < dumped {
		t.Fatalf("restored counter %d is below %d, read before the checkpoint", got, dumped)
	}
	waitPast(count())
	cg := procCgroup(t, ctrPid(c, id))
	if cg != "/system.slice/vmctr-"+id+".scope" {
		t.Errorf("restored task's cgroup %s", cg)
	}
	if got := v2File(t, cg, "memory.max"); got != "67108864" {
		t.Errorf("restored memory.max = %q", got)
	}
	c.must("task", "kill", "-s", "SIGKILL", id)
	escWaitFor(t, time.Minute*timeoutScale, "the restored task to stop", func() bool { return ctrStatus(c, id) == "STOPPED" })
}
