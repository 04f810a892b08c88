//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/network"
)

// Issue 17, store part: docker-archive both ways with podman 4.3 and
// skopeo as the oracles, and the store verbs podman users reach for.

// privatePodman is a private podman (vfs storage under a temp dir); it
// returns a function running podman there.
func privatePodman(t *testing.T) func(args ...string) string {
	t.Helper()
	needTools(t, "podman", "skopeo")
	// podman wants a runroot under 50 characters.
	p, err := os.MkdirTemp("", "p17-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(p) })
	graph, run, tmp := p+"/root", p+"/runroot", p+"/tmp"
	os.MkdirAll(tmp, 0o700)
	os.WriteFile(p+"/storage.conf", []byte(fmt.Sprintf(
		"[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", graph, run)), 0o644)
	os.WriteFile(p+"/containers.conf", []byte("[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nlock_type = \"file\"\n"), 0o644)
	env := []string{"CONTAINERS_STORAGE_CONF=" + p + "/storage.conf", "CONTAINERS_CONF=" + p + "/containers.conf"}
	return func(args ...string) string {
		return runTool(t, env, "podman", append([]string{"--root", graph, "--runroot", run, "--tmpdir", tmp, "--storage-driver", "vfs"}, args...)...)
	}
}

func imageID(t *testing.T, root, name string) string {
	t.Helper()
	return strings.TrimPrefix(strings.TrimSpace(mustImg(t, root, "images", "--format", "{{.ID}}", "--no-trunc", name)), "sha256:")
}

func TestDockerArchiveWithPodman(t *testing.T) {
	podman := privatePodman(t)
	dir := privDir(t, "darch")
	// An image podman made (its own config, with fields we do not model).
	busyboxTar(t, dir+"/rootfs.tar")
	podman("import", "--change", "CMD [\"/bin/sh\"]", dir+"/rootfs.tar", "localhost/pimp:1")
	pid := strings.TrimSpace(podman("images", "--no-trunc", "--format", "{{.ID}}", "localhost/pimp:1"))
	podman("save", "--format", "docker-archive", "-o", dir+"/p.tar", "localhost/pimp:1")

	root := busyboxStore(t)
	out := mustImg(t, root, "load", "-q", "-i", dir+"/p.tar")
	if out != "Loaded image: localhost/pimp:1\n" {
		t.Fatalf("load -q printed %q", out)
	}
	if got := imageID(t, root, "localhost/pimp:1"); "sha256:"+got != pid && got != pid {
		t.Fatalf("podman's image has ID %s here, %s in podman", got, pid)
	}
	bb := imageID(t, root, "busybox")

	// Two images need -m; then podman loads both with their IDs.
	if out, err := myimg(t, root, "save", "--format", "docker-archive", "-o", dir+"/m.tar", "busybox", "localhost/pimp:1"); err == nil || !strings.Contains(out, "-m") {
		t.Fatalf("two images without -m: %v\n%s", err, out)
	}
	if _, err := os.Stat(dir + "/m.tar"); err == nil {
		t.Fatal("a refused save left its output")
	}
	mustImg(t, root, "save", "--format", "docker-archive", "-m", "-o", dir+"/m.tar", "busybox", "localhost/pimp:1")
	podman("rmi", "-a")
	podman("load", "-i", dir+"/m.tar")
	for name, want := range map[string]string{"localhost/busybox:latest": bb, "localhost/pimp:1": pid} {
		got := strings.TrimPrefix(strings.TrimSpace(podman("images", "--no-trunc", "--format", "{{.ID}}", name)), "sha256:")
		if got != strings.TrimPrefix(want, "sha256:") {
			t.Errorf("podman load of our -m archive: %s has ID %s, want %s", name, got, want)
		}
	}
	// skopeo reads a single-image one.
	mustImg(t, root, "save", "--format", "docker-archive", "-o", dir+"/one.tar", "busybox")
	if out := runTool(t, nil, "skopeo", "inspect", "--config", "docker-archive:"+dir+"/one.tar"); !strings.Contains(out, `"os": "linux"`) {
		t.Fatalf("skopeo inspect --config:\n%s", out)
	}
	if out, err := myimg(t, root, "save", "-m", "-o", dir+"/x.tar", "busybox"); err == nil || !strings.Contains(out, "docker-archive") {
		t.Fatalf("-m with oci-archive: %v\n%s", err, out)
	}
}

// openPty returns a pseudo-terminal's two ends.
func openPty(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func TestSaveLoadRefuseTerminal(t *testing.T) {
	root := busyboxStore(t)
	_, pts := openPty(t)
	for _, args := range [][]string{
		{"save", "busybox"},
		{"save", "--format", "docker-archive", "busybox"},
		{"load"},
	} {
		cmd := exec.Command(filepath.Join(binDir, "myimg"), append([]string{"--root", root}, args...)...)
		var errb strings.Builder
		cmd.Stdout, cmd.Stdin, cmd.Stderr = pts, pts, &errb
		err := cmd.Run()
		if err == nil || !strings.Contains(errb.String(), "terminal") {
			t.Errorf("myimg %v on a terminal: %v\n%s", args, err, errb.String())
		}
	}
}

func TestRmiRefusesImageInUse(t *testing.T) {
	root := runEnv(t)
	mustImg(t, root, "tag", "busybox", "second:1")
	mustImg(t, root, "run", "--name", "user1", "busybox", "true")
	// One of two names may go: the image stays.
	mustImg(t, root, "rmi", "second:1")
	for _, args := range [][]string{{"rmi", "busybox"}, {"rm", "busybox"}, {"rmi", "-a"}, {"rm", "-f", "busybox"}} {
		out, err := myimg(t, root, args...)
		if err == nil || !strings.Contains(out, "in use by container(s) user1") {
			t.Fatalf("myimg %v: %v\n%s", args, err, out)
		}
		if imageID(t, root, "busybox") == "" {
			t.Fatalf("myimg %v removed the image", args)
		}
	}
	c := inspectCtr(t, root, "user1")
	if out := mustImg(t, root, "rmi", "--force", "busybox"); !strings.Contains(out, "Untagged: busybox") {
		t.Fatalf("rmi --force printed %q", out)
	}
	if _, err := myimg(t, root, "inspect", "--type", "container", "user1"); err == nil {
		t.Fatal("rmi --force left the container")
	}
	noTraces(t, root, c)
	if out := mustImg(t, root, "images", "-q"); out != "" {
		t.Fatalf("images after rmi --force: %q", out)
	}
}

func TestImagesFormatHistorySize(t *testing.T) {
	root := busyboxStore(t)
	ctx := t.TempDir()
	os.WriteFile(ctx+"/Containerfile", []byte("FROM busybox\nRUN head -c 300000 /dev/zero > /zeros\nENV A=b\n"), 0o644)
	mustImg(t, root, "build", "--cgroup-parent", cgroupP, "-t", "zeros:1", ctx)
	// SIZE is the sum of the uncompressed layer tars: the zeros compress
	// to almost nothing but count in full.
	var js []struct {
		ID    string `json:"Id"`
		Names []string
		Size  int64
	}
	if err := json.Unmarshal([]byte(mustImg(t, root, "images", "--format", "json", "zeros")), &js); err != nil || len(js) != 1 {
		t.Fatalf("images --format json: %v %+v", err, js)
	}
	if js[0].Names[0] != "zeros:1" || js[0].Size < 300000+1000000 {
		t.Fatalf("images --format json: %+v", js[0])
	}
	if out := mustImg(t, root, "images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}", "zeros"); out != "zeros 1 "+js[0].ID[:12]+"\n" {
		t.Fatalf("images --format template: %q", out)
	}
	if out := mustImg(t, root, "images", "--format", "table {{.Repository}}\t{{.ID}}"); !strings.HasPrefix(out, "REPOSITORY  IMAGE ID\n") || !strings.Contains(out, "busybox ") {
		t.Fatalf("images --format table:\n%s", out)
	}
	if out, err := myimg(t, root, "images", "--format", "{{.Nope}}"); err == nil || !strings.Contains(out, "Nope") {
		t.Fatalf("bad template: %v %s", err, out)
	}
	h := mustImg(t, root, "history", "zeros:1")
	lines := strings.Split(strings.TrimSpace(h), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], js[0].ID[:12]) ||
		!strings.Contains(lines[1], "ENV A=b") || !strings.HasPrefix(lines[2], "<missing>") || !strings.Contains(lines[2], "302 kB") ||
		!strings.Contains(lines[3], "myimg import") {
		t.Fatalf("history:\n%s", h)
	}
	var hj []struct {
		ID        string `json:"id"`
		CreatedBy string `json:"createdBy"`
		Size      int64  `json:"size"`
	}
	if err := json.Unmarshal([]byte(mustImg(t, root, "history", "--format", "json", "zeros:1")), &hj); err != nil || len(hj) != 3 || hj[1].Size < 300000 || hj[0].Size != 0 {
		t.Fatalf("history json: %v %+v", err, hj)
	}
	if out := mustImg(t, root, "history", "-q", "--no-trunc", "zeros:1"); out != js[0].ID+"\n<missing>\n<missing>\n" {
		t.Fatalf("history -q: %q", out)
	}
}

func TestPsFormat(t *testing.T) {
	root := runEnv(t)
	if _, e, code := runImg(t, root, "run", "--name", "fmt1", "busybox", "sh", "-c", "exit 4"); code != 4 {
		t.Fatalf("run: %d %s", code, e)
	}
	c := inspectCtr(t, root, "fmt1")
	defer func() { mustImg(t, root, "rm", "fmt1"); noTraces(t, root, c) }()
	if out := mustImg(t, root, "ps", "-a", "--format", "{{.Names}} {{.State}} {{.ExitCode}} {{.Image}}"); out != "fmt1 exited 4 busybox\n" {
		t.Fatalf("ps --format: %q", out)
	}
	if out := mustImg(t, root, "ps", "--format", "{{.Names}}"); out != "" {
		t.Fatalf("ps --format without -a shows an exited container: %q", out)
	}
	var js []struct {
		ID       string `json:"Id"`
		Names    []string
		State    string
		ExitCode int
		Command  []string
	}
	if err := json.Unmarshal([]byte(mustImg(t, root, "ps", "-a", "--format", "json")), &js); err != nil || len(js) != 1 ||
		js[0].ID != c.ID || js[0].Names[0] != "fmt1" || js[0].ExitCode != 4 || js[0].State != "exited" || strings.Join(js[0].Command, " ") != "sh -c exit 4" {
		t.Fatalf("ps --format json: %v %+v", err, js)
	}
	if out := mustImg(t, root, "ps", "-a", "--format", "table {{.ID}}\t{{.Names}}"); !strings.HasPrefix(out, "CONTAINER ID  NAMES\n"+c.ID[:12]+"  fmt1") {
		t.Fatalf("ps --format table:\n%s", out)
	}
	// As podman 4.3 (checked here with podman create): {{.Created}} a
	// time, {{.RunningFor}} and {{.CreatedHuman}} how long ago (were
	// {{.Created}} "... ago" and unknown fields), and the table's COMMAND
	// unquoted (was "sh -c exit 4" in quotes).
	f := strings.Split(strings.TrimSpace(mustImg(t, root, "ps", "-a", "--format", "{{.Created}}|{{.RunningFor}}|{{.CreatedHuman}}")), "|")
	if len(f) != 3 || !strings.HasSuffix(f[0], " +0000 UTC") || !strings.HasSuffix(f[1], " ago") || f[2] != f[1] {
		t.Errorf("ps {{.Created}}|{{.RunningFor}}|{{.CreatedHuman}}: %q", f)
	}
	if out := mustImg(t, root, "ps", "-a"); !strings.Contains(out, "   sh -c exit 4   ") {
		t.Errorf("ps table COMMAND:\n%s", out)
	}
}

// deadOwner is a marker naming a process that has exited.
func deadOwner(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d 12345", cmd.Process.Pid)
}

// halfBundle makes what a killed unpack leaves: the marker, a rootfs
// with some files in it and, when mounted, a mount on it; no config.json.
func halfBundle(t *testing.T, marker string, mounted bool) string {
	t.Helper()
	b := filepath.Join(t.TempDir(), "b")
	os.MkdirAll(filepath.Join(b, "rootfs", "bin"), 0o755)
	os.MkdirAll(filepath.Join(b, ".overlay", "upper"), 0o755)
	os.WriteFile(filepath.Join(b, ".myimg-unpacking"), []byte(marker), 0o600)
	if mounted {
		if err := unix.Mount("tmpfs", filepath.Join(b, "rootfs"), "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(filepath.Join(b, "rootfs"), unix.MNT_DETACH) })
		os.WriteFile(filepath.Join(b, "rootfs", "half"), []byte("x"), 0o644)
	}
	return b
}

func mountedAt(p string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	return strings.Contains(string(b), " "+p+" ")
}

func TestUnpackRecoversKilledUnpack(t *testing.T) {
	root := busyboxStore(t)
	for _, mounted := range []bool{false, true} {
		// The next unpack into the same directory takes it over.
		b := halfBundle(t, deadOwner(t), mounted)
		mustImg(t, root, "unpack", "-q", "busybox", b)
		if _, err := os.Stat(filepath.Join(b, "config.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(b, ".myimg-unpacking")); err == nil {
			t.Fatal("a finished unpack kept its marker")
		}
		if _, err := os.Stat(filepath.Join(b, "rootfs", "bin", "busybox")); err != nil {
			t.Fatal(err)
		}
		mustImg(t, root, "unmount", b)
		if mountedAt(filepath.Join(b, "rootfs")) {
			t.Fatal("rootfs still mounted after unmount")
		}
		// unmount of a half-made bundle removes it too.
		b = halfBundle(t, deadOwner(t), mounted)
		mustImg(t, root, "unmount", b)
		if _, err := os.Stat(b); err == nil || mountedAt(filepath.Join(b, "rootfs")) {
			t.Fatalf("unmount left the half-made bundle (mounted %v)", mounted)
		}
	}
	// A live unpack's bundle is left alone, by both.
	self, _ := os.ReadFile("/proc/self/stat")
	f := strings.Fields(string(self[strings.LastIndexByte(string(self), ')')+2:]))
	b := halfBundle(t, fmt.Sprintf("%d %s", os.Getpid(), f[19]), false)
	for _, args := range [][]string{{"unpack", "busybox", b}, {"unmount", b}} {
		if out, err := myimg(t, root, args...); err == nil || !strings.Contains(out, fmt.Sprintf("being unpacked by process %d", os.Getpid())) {
			t.Errorf("myimg %v on a live unpack's bundle: %v\n%s", args, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(b, "rootfs", "bin")); err != nil {
		t.Fatal("a live unpack's bundle was touched")
	}
	// A non-empty directory that is no bundle of ours is still refused.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "keep"), nil, 0o644)
	if out, err := myimg(t, root, "unpack", "busybox", other); err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("unpack into a full dir: %v\n%s", err, out)
	}
}

// bridgeState is what the shared bridge network leaves on the host.
func bridgeState(t *testing.T, br string) (link bool, rules int) {
	t.Helper()
	for _, tb := range []string{"nat", "filter"} {
		r, err := network.RulesWithComment(tb, network.NetComment(br))
		if err != nil {
			t.Fatal(err)
		}
		rules += len(r)
	}
	return network.LinkExists(br), rules
}

func TestBridgeRemovedWithLastContainer(t *testing.T) {
	root := runEnv(t)
	br := os.Getenv("MYIMG_BRIDGE")
	var cs []inspected
	for _, n := range []string{"br1", "br2"} {
		mustImg(t, root, "run", "-d", "--name", n, "busybox", "sleep", "1000")
		cs = append(cs, inspectCtr(t, root, n))
	}
	defer func() {
		for _, c := range cs {
			myimg(t, root, "rm", "-f", c.ID)
		}
	}()
	if l, r := bridgeState(t, br); !l || r != 4 {
		t.Fatalf("with two containers: bridge %v, %d shared rules", l, r)
	}
	mustImg(t, root, "rm", "-f", "br1")
	if l, r := bridgeState(t, br); !l || r != 4 {
		t.Fatalf("with one container left: bridge %v, %d shared rules", l, r)
	}
	mustImg(t, root, "rm", "-f", "br2")
	if l, r := bridgeState(t, br); l || r != 0 {
		t.Fatalf("after the last container: bridge %v, %d shared rules", l, r)
	}
	for _, c := range cs {
		noTraces(t, root, c)
	}
	// The next container makes it again.
	if out := mustImg(t, root, "run", "--rm", "busybox", "sh", "-c", "ip -4 addr show eth0 | grep -c inet"); out != "1\n" {
		t.Fatalf("run after the bridge went: %q", out)
	}
	if l, r := bridgeState(t, br); l || r != 0 {
		t.Fatalf("after a --rm container: bridge %v, %d shared rules", l, r)
	}
}

func TestRunEnvFilePortRangesPublishAllWaitTop(t *testing.T) {
	root := runEnv(t)
	// --env-file: K=V, bare K from the host, comments; -e wins.
	ef := filepath.Join(t.TempDir(), "env")
	os.WriteFile(ef, []byte("A=1\n# comment\n\nB\nC=3\n"), 0o644)
	t.Setenv("B", "hostb")
	if out := mustImg(t, root, "run", "--rm", "--net", "none", "--env-file", ef, "-e", "C=over", "busybox", "sh", "-c", "echo $A $B $C"); out != "1 hostb over\n" {
		t.Fatalf("--env-file: %q", out)
	}
	os.WriteFile(ef, []byte("A=1\nnot valid\n"), 0o644)
	if out, err := myimg(t, root, "run", "--rm", "--env-file", ef, "busybox", "true"); err == nil || !strings.Contains(out, ef+":2") {
		t.Fatalf("bad --env-file: %v %s", err, out)
	}
	if out, err := myimg(t, root, "run", "--rm", "--env-file", ef+".missing", "busybox", "true"); err == nil || !strings.Contains(out, "--env-file") {
		t.Fatalf("missing --env-file: %v %s", err, out)
	}

	// A port range publishes each port.
	var p int
	for i := 0; i < 20; i++ {
		p = freeRunPort(t)
		if l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			l.Close()
			break
		}
	}
	www := t.TempDir()
	os.WriteFile(filepath.Join(www, "index.html"), []byte("ranged\n"), 0o644)
	mustImg(t, root, "run", "-d", "--name", "ranged", "-p", fmt.Sprintf("127.0.0.1:%d-%d:80-81", p, p+1), "-v", www+":/www:ro",
		"busybox", "sh", "-c", "httpd -p 80 -h /www; exec httpd -f -p 81 -h /www")
	c := inspectCtr(t, root, "ranged")
	var made []inspected
	defer rmAll(t, root, &made)
	made = append(made, c)
	if len(c.Network.Ports) != 2 || c.Network.Ports[1].HostPort != uint16(p+1) || c.Network.Ports[1].ContainerPort != 81 {
		t.Fatalf("ports %+v", c.Network.Ports)
	}
	for _, hp := range []int{p, p + 1} {
		if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", hp)); got != "ranged\n" {
			t.Fatalf("port %d: %q", hp, got)
		}
	}
	// top shows its processes; it runs until rm.
	if out := mustImg(t, root, "top", "ranged"); !strings.Contains(out, "httpd -f -p 81") || !strings.Contains(out, "PID") {
		t.Fatalf("top:\n%s", out)
	}
	if out := mustImg(t, root, "top", "ranged", "-o", "pid,comm"); !strings.Contains(out, "httpd") || strings.Contains(out, "-p 81") {
		t.Fatalf("top -o pid,comm:\n%s", out)
	}
	for _, bad := range []string{"1-2:80", "0-1:80-81", "5-3:80-82"} {
		if out, err := myimg(t, root, "run", "--rm", "-p", bad, "busybox", "true"); err == nil || !strings.Contains(out, "-p") {
			t.Errorf("-p %s: %v %s", bad, err, out)
		}
	}

	// -P: every EXPOSEd port on a free host port.
	ctx := t.TempDir()
	os.WriteFile(ctx+"/Containerfile", []byte("FROM busybox\nEXPOSE 80 90/udp\n"), 0o644)
	mustImg(t, root, "build", "--cgroup-parent", cgroupP, "-t", "exposing", ctx)
	mustImg(t, root, "run", "-d", "--name", "all", "-P", "-v", www+":/www:ro", "exposing", "httpd", "-f", "-p", "80", "-h", "/www")
	ca := inspectCtr(t, root, "all")
	made = append(made, ca)
	if len(ca.Network.Ports) != 2 || ca.Network.Ports[0].ContainerPort != 80 || ca.Network.Ports[0].Proto != "tcp" ||
		ca.Network.Ports[1].ContainerPort != 90 || ca.Network.Ports[1].Proto != "udp" || ca.Network.Ports[0].HostPort == 0 {
		t.Fatalf("-P ports %+v", ca.Network.Ports)
	}
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", ca.Network.Ports[0].HostPort)); got != "ranged\n" {
		t.Fatalf("-P port: %q", got)
	}

	// wait prints the exit code once the container exits.
	mustImg(t, root, "run", "-d", "--name", "waiter", "--net", "none", "busybox", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 7")
	made = append(made, inspectCtr(t, root, "waiter"))
	done := make(chan string)
	go func() { out, _ := myimg(t, root, "wait", "waiter"); done <- out }()
	mustImg(t, root, "exec", "waiter", "touch", "/tmp/go")
	if out := <-done; out != "7\n" {
		t.Fatalf("wait printed %q", out)
	}
	if out := mustImg(t, root, "wait", "waiter"); out != "7\n" {
		t.Fatalf("wait on an exited container: %q", out)
	}
	if out, err := myimg(t, root, "top", "waiter"); err == nil || !strings.Contains(out, "not running") {
		t.Fatalf("top of an exited container: %v %s", err, out)
	}
}

func TestNamedVolumes(t *testing.T) {
	root := runEnv(t)
	if out := mustImg(t, root, "volume", "create", "v1"); out != "v1\n" {
		t.Fatalf("volume create: %q", out)
	}
	if out, err := myimg(t, root, "volume", "create", "v1"); err == nil || !strings.Contains(out, `volume name "v1" is already in use`) {
		t.Fatalf("clashing volume name: %v %s", err, out)
	}
	if out, err := myimg(t, root, "volume", "create", "bad/name"); err == nil || !strings.Contains(out, "volume name") {
		t.Fatalf("bad volume name: %v %s", err, out)
	}
	ctx := t.TempDir()
	os.WriteFile(ctx+"/Containerfile", []byte("FROM busybox\nRUN mkdir /seed && echo from-image > /seed/f && chown 1234:1234 /seed/f && ln -s f /seed/l\n"), 0o644)
	mustImg(t, root, "build", "--cgroup-parent", cgroupP, "-t", "seeded", ctx)
	// First use creates the volume and fills it from the image.
	if out := mustImg(t, root, "run", "--rm", "--net", "none", "-v", "auto:/seed", "seeded", "sh", "-c", "cat /seed/l; echo more > /seed/g; rm /seed/f"); out != "from-image\n" {
		t.Fatalf("first run: %q", out)
	}
	var vi []struct{ Name, Mountpoint string }
	if err := json.Unmarshal([]byte(mustImg(t, root, "volume", "inspect", "auto")), &vi); err != nil || len(vi) != 1 || vi[0].Name != "auto" {
		t.Fatalf("volume inspect: %v %+v", err, vi)
	}
	if l, err := os.Readlink(filepath.Join(vi[0].Mountpoint, "l")); err != nil || l != "f" {
		t.Fatalf("symlink in the volume: %q %v", l, err)
	}
	// Later containers see the data, and the image's content is not copied again.
	if out := mustImg(t, root, "run", "--rm", "--net", "none", "-v", "auto:/seed:ro", "seeded", "sh", "-c", "cat /seed/g; ls /seed; touch /seed/x 2>/dev/null || echo ro"); out != "more\ng\nl\nro\n" {
		t.Fatalf("second run: %q", out)
	}
	// Ownership came from the image.
	mustImg(t, root, "volume", "create", "owned")
	mustImg(t, root, "run", "--rm", "--net", "none", "-v", "owned:/seed", "seeded", "true")
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(filepath.Dir(vi[0].Mountpoint), "..", "owned", "_data", "f"), &st); err != nil || st.Uid != 1234 {
		t.Fatalf("copied file owner: %d %v", st.Uid, err)
	}
	if out := mustImg(t, root, "volume", "ls", "-q"); out != "auto\nowned\nv1\n" {
		t.Fatalf("volume ls -q: %q", out)
	}
	// In use: rm refused, prune keeps it.
	mustImg(t, root, "run", "-d", "--name", "holder", "--net", "none", "-v", "auto:/seed", "busybox", "sleep", "1000")
	c := inspectCtr(t, root, "holder")
	if out, err := myimg(t, root, "volume", "rm", "auto"); err == nil || !strings.Contains(out, "in use by container(s) holder") {
		t.Fatalf("volume rm in use: %v %s", err, out)
	}
	if out := mustImg(t, root, "volume", "prune", "-f"); out != "owned\nv1\n" {
		t.Fatalf("volume prune: %q", out)
	}
	mustImg(t, root, "volume", "rm", "-f", "auto")
	if _, err := myimg(t, root, "inspect", "--type", "container", "holder"); err == nil {
		t.Fatal("volume rm -f left its container")
	}
	noTraces(t, root, c)
	if out := mustImg(t, root, "volume", "ls", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("volumes left: %s", out)
	}
	if out, err := myimg(t, root, "run", "--rm", "-v", "no such:/x", "busybox", "true"); err == nil || !strings.Contains(out, "-v") {
		t.Fatalf("bad -v: %v %s", err, out)
	}
}

type restartState struct {
	Status       string `json:"status"`
	ExitCode     int    `json:"exitCode"`
	RestartCount int    `json:"restartCount"`
	Error        string `json:"error"`
	MonitorPid   int    `json:"monitorPid"`
}

// waitRestart polls the record until done says so (bounded, not timed).
func waitRestart(t *testing.T, root, name string, done func(restartState) bool) restartState {
	t.Helper()
	var st restartState
	for i := 0; i < 600; i++ {
		json.Unmarshal([]byte(mustImg(t, root, "inspect", "--type", "container", name)), &st)
		if done(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: restart state never reached: %+v", name, st)
	return st
}

func TestRunRestartPolicies(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	for _, bad := range [][]string{
		{"--restart", "sometimes", "-d"}, {"--restart", "on-failure:x", "-d"}, {"--restart", "always:3", "-d"},
		{"--restart", "always", "--rm", "-d"}, {"--restart", "always"},
	} {
		args := append(append([]string{"run"}, bad...), "busybox", "true")
		if out, err := myimg(t, root, args...); err == nil || !strings.Contains(out, "--restart") {
			t.Errorf("myimg %v: %v %s", args, err, out)
		}
	}
	// on-failure:2 on a command that always fails: two restarts, then it
	// gives up, saying so. The bridge network is made again each time.
	mustImg(t, root, "run", "-d", "--name", "failing", "--restart", "on-failure:2", "busybox", "sh", "-c", "ip -4 addr show eth0 | grep -q inet && echo run; exit 3")
	made = append(made, inspectCtr(t, root, "failing"))
	st := waitRestart(t, root, "failing", func(s restartState) bool {
		return s.Status == "exited" && s.RestartCount == 2 && (s.MonitorPid == 0 || gone(s.MonitorPid))
	})
	if st.ExitCode != 3 || !strings.Contains(st.Error, "gave up after 2 restarts") {
		t.Fatalf("on-failure:2: %+v", st)
	}
	if out, _, _ := runImg(t, root, "logs", "failing"); out != "run\nrun\nrun\n" {
		t.Fatalf("logs of three runs: %q", out)
	}
	// on-failure does not restart a success.
	mustImg(t, root, "run", "-d", "--name", "fine", "--net", "none", "--restart", "on-failure", "busybox", "true")
	made = append(made, inspectCtr(t, root, "fine"))
	if out := mustImg(t, root, "wait", "fine"); out != "0\n" {
		t.Fatalf("wait: %q", out)
	}
	if st := waitRestart(t, root, "fine", func(s restartState) bool { return s.Status == "exited" }); st.RestartCount != 0 {
		t.Fatalf("on-failure restarted a success: %+v", st)
	}
	// always: restarted after a clean exit until stop; stop ends it.
	mustImg(t, root, "run", "-d", "--name", "looping", "--net", "none", "--restart", "always", "busybox", "sh", "-c", "echo up; sleep 0.2")
	made = append(made, inspectCtr(t, root, "looping"))
	waitRestart(t, root, "looping", func(s restartState) bool { return s.RestartCount >= 2 })
	mustImg(t, root, "stop", "-t", "1", "looping")
	st = waitRestart(t, root, "looping", func(s restartState) bool {
		return s.Status == "exited" && (s.MonitorPid == 0 || gone(s.MonitorPid))
	})
	n := st.RestartCount
	time.Sleep(500 * time.Millisecond) // longer than the first backoffs: no restart may follow
	if st = waitRestart(t, root, "looping", func(restartState) bool { return true }); st.RestartCount != n || st.Status != "exited" {
		t.Fatalf("restarted after stop: %+v (had %d)", st, n)
	}
}
