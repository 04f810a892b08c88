//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/imgtool/store"
)

// Tests of `myimg run` and friends. Each test gets its own store and its
// own bridge (name and subnet derived from the test pid), removed at the
// end; traffic stays on loopback and inside namespaces the tests make.

var (
	subreaperOnce sync.Once
	netSeq        int
)

// runEnv makes us the reaper of detached monitors (PID 1 here does not
// reap) and points myimg at a bridge of our own.
func runEnv(t *testing.T) string {
	t.Helper()
	subreaperOnce.Do(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
	netSeq++
	br := fmt.Sprintf("mit%d%d", os.Getpid()%100000, netSeq)
	subnet := fmt.Sprintf("10.89.%d.0/24", 100+(os.Getpid()+netSeq)%150)
	t.Setenv("MYIMG_BRIDGE", br)
	t.Setenv("MYIMG_SUBNET", subnet)
	t.Cleanup(func() {
		if err := network.RemoveBridge(br); err != nil {
			t.Errorf("remove bridge %s: %v", br, err)
		}
		reapZombies()
	})
	return busyboxStore(t)
}

func reapZombies() {
	for {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// gone reports whether pid is no longer a live process.
func gone(pid int) bool {
	reapZombies()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// runImg runs myimg with separate stdout and stderr and its exit code.
func runImg(t *testing.T, root string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "myimg"), append([]string{"--root", root}, args...)...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "MYIMG_RUNTIME=")
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

type inspected struct {
	ID         string             `json:"id"`
	Status     string             `json:"status"`
	ExitCode   int                `json:"exitCode"`
	Pid        int                `json:"pid"`
	MonitorPid int                `json:"monitorPid"`
	Network    network.Attachment `json:"network"`
	PausePid   int                `json:"pausePid"`
}

func inspectCtr(t *testing.T, root, ref string) inspected {
	t.Helper()
	var c inspected
	if err := json.Unmarshal([]byte(mustImg(t, root, "inspect", "--type", "container", ref)), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func freeRunPort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for i := 0; i < 30; i++ {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// rmAll removes the containers a test made and checks that none left
// anything behind; deferred with the list's address, it sees the list as
// the test ends.
func rmAll(t *testing.T, root string, made *[]inspected) {
	t.Helper()
	for _, c := range *made {
		myimg(t, root, "rm", "-f", c.ID)
	}
	for _, c := range *made {
		noTraces(t, root, c)
	}
}

// noTraces fails if anything of container id is left on the host.
func noTraces(t *testing.T, root string, c inspected) {
	t.Helper()
	s, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := container.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	if left := cs.Leftovers(c.ID); len(left) > 0 {
		t.Errorf("left behind by %s:\n%s", c.ID[:12], strings.Join(left, "\n"))
	}
	for _, p := range []int{c.Pid, c.MonitorPid, c.Network.SlirpPid, c.PausePid} {
		if p > 0 && !gone(p) {
			t.Errorf("process %d still runs", p)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "containers", "state")); len(ents) > 0 {
		t.Errorf("runtime state left: %v", ents)
	}
}

func TestRunForegroundEchoExitCode(t *testing.T) {
	root := runEnv(t)
	if out, errOut, code := runImg(t, root, "run", "--rm", "busybox", "echo", "hi"); out != "hi\n" || code != 0 {
		t.Fatalf("run echo: %q %q %d", out, errOut, code)
	}
	if _, _, code := runImg(t, root, "run", "--rm", "busybox", "sh", "-c", "exit 3"); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	if _, _, code := runImg(t, root, "run", "--name", "five", "busybox", "sh", "-c", "echo out; echo err >&2; exit 5"); code != 5 {
		t.Fatalf("exit code %d, want 5", code)
	}
	c := inspectCtr(t, root, "five")
	if c.Status != "exited" || c.ExitCode != 5 {
		t.Fatalf("recorded %+v", c)
	}
	if ps := mustImg(t, root, "ps", "-a"); !strings.Contains(ps, "Exited (5)") || !strings.Contains(ps, "five") {
		t.Fatalf("ps -a:\n%s", ps)
	}
	if out, errOut, _ := runImg(t, root, "logs", "five"); out != "out\n" || errOut != "err\n" {
		t.Fatalf("logs: %q %q", out, errOut)
	}
	mustImg(t, root, "rm", "five")
	noTraces(t, root, c)
	// --rm leaves nothing either.
	if ents, _ := os.ReadDir(filepath.Join(root, "containers")); len(ents) != 2 { // names.lock, state
		t.Errorf("containers dir: %v", ents)
	}
}

func TestRunDetachedHTTPLifecycle(t *testing.T) {
	root := runEnv(t)
	port := freeRunPort(t)
	www := t.TempDir()
	os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from myimg\n"), 0o644)
	id := strings.TrimSpace(mustImg(t, root, "run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port),
		"-v", www+":/www:ro", "busybox", "httpd", "-f", "-v", "-p", "80", "-h", "/www"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	c := inspectCtr(t, root, "web")
	defer func() { myimg(t, root, "rm", "-f", id) }()
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "hello from myimg\n" {
		t.Fatalf("GET: %q", got)
	}
	if ps := mustImg(t, root, "ps"); !strings.Contains(ps, "Up ") || !strings.Contains(ps, fmt.Sprintf("127.0.0.1:%d->80/tcp", port)) {
		t.Fatalf("ps:\n%s", ps)
	}
	// Same port again: refused before anything is made.
	if out, err := myimg(t, root, "run", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "true"); err == nil || !strings.Contains(out, "-p") {
		t.Fatalf("port reuse: %v %s", err, out)
	}
	if _, _, code := runImg(t, root, "exec", "web", "sh", "-c", "test -f /www/index.html && exit 4"); code != 4 {
		t.Fatalf("exec exit code %d", code)
	}
	// logs -f ends when the container stops.
	logs := exec.Command(filepath.Join(binDir, "myimg"), "--root", root, "logs", "-f", "web")
	var lout strings.Builder
	logs.Stdout, logs.Stderr = &lout, &lout
	if err := logs.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	mustImg(t, root, "stop", "-t", "1", "web") // httpd as pid 1 ignores TERM: KILL after 1s
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v", d)
	}
	done := make(chan error, 1)
	go func() { done <- logs.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		logs.Process.Kill()
		t.Fatal("logs -f did not end after stop")
	}
	if !strings.Contains(lout.String(), "response:200") {
		t.Errorf("logs -f: %q", lout.String())
	}
	if st := inspectCtr(t, root, "web"); st.Status != "exited" || st.ExitCode != 137 {
		t.Fatalf("after stop: %+v", st)
	}
	if ps := mustImg(t, root, "ps", "-a"); !strings.Contains(ps, "Exited (137)") {
		t.Fatalf("ps -a:\n%s", ps)
	}
	mustImg(t, root, "rm", "web")
	noTraces(t, root, c)
}

func TestBridgeNetworkNoneDNS(t *testing.T) {
	root := runEnv(t)
	id := strings.TrimSpace(mustImg(t, root, "run", "-d", "--name", "srv", "--hostname", "srvhost", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"))
	defer myimg(t, root, "rm", "-f", id)
	c := inspectCtr(t, root, id)
	if c.Network.IP == "" {
		t.Fatalf("no IP: %+v", c.Network)
	}
	out := mustImg(t, root, "run", "--rm", "busybox", "sh", "-c", "ping -c1 -W3 "+c.Network.IP+" >/dev/null && wget -q -O- http://"+c.Network.IP+"/hostname")
	if strings.TrimSpace(out) != "srvhost" {
		t.Fatalf("container to container: %q", out)
	}
	hosts := mustImg(t, root, "exec", "srv", "cat", "/etc/hosts")
	if !strings.Contains(hosts, c.Network.IP+"\tsrvhost") || !strings.Contains(hosts, "127.0.0.1\tlocalhost") {
		t.Fatalf("hosts:\n%s", hosts)
	}
	links := mustImg(t, root, "run", "--rm", "--net", "none", "busybox", "ip", "-o", "link")
	if n := strings.Count(strings.TrimSpace(links), "\n") + 1; n != 1 || !strings.Contains(links, "lo:") || !strings.Contains(links, "UP") {
		t.Fatalf("--net none links:\n%s", links)
	}
	resolv := mustImg(t, root, "run", "--rm", "--dns", "192.0.2.53", "busybox", "cat", "/etc/resolv.conf")
	if !strings.Contains(resolv, "nameserver 192.0.2.53\n") || strings.Count(resolv, "nameserver") != 1 {
		t.Fatalf("--dns resolv.conf:\n%s", resolv)
	}
	resolv = mustImg(t, root, "run", "--rm", "busybox", "cat", "/etc/resolv.conf")
	if strings.Contains(resolv, "nameserver 127.") {
		t.Fatalf("loopback nameserver in a bridge container:\n%s", resolv)
	}
	mustImg(t, root, "stop", "-t", "0", "srv")
	mustImg(t, root, "rm", "srv")
	noTraces(t, root, c)
}

func TestMonitorKilledThenRmForce(t *testing.T) {
	root := runEnv(t)
	port := freeRunPort(t)
	id := strings.TrimSpace(mustImg(t, root, "run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "--memory", "64m", "--pids-limit", "50", "busybox", "httpd", "-f", "-p", "80"))
	c := inspectCtr(t, root, id)
	if c.MonitorPid == 0 || c.Pid == 0 {
		t.Fatalf("no pids recorded: %+v", c)
	}
	cg := "/sys/fs/cgroup/memory/myimg/" + id + "/memory.limit_in_bytes"
	if b, err := os.ReadFile(cg); err != nil || strings.TrimSpace(string(b)) != "67108864" {
		t.Errorf("memory limit: %q %v", b, err)
	}
	syscall.Kill(c.MonitorPid, syscall.SIGKILL)
	for i := 0; i < 50 && !gone(c.MonitorPid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if ps := mustImg(t, root, "ps"); !strings.Contains(ps, "monitor lost") {
		t.Errorf("ps after monitor crash:\n%s", ps)
	}
	mustImg(t, root, "rm", "-f", id)
	noTraces(t, root, c)
	// rm -f of something already gone is not an error.
	mustImg(t, root, "rm", "-f", id)
}

func TestRunBadInput(t *testing.T) {
	root := runEnv(t)
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	id := strings.TrimSpace(mustImg(t, root, "run", "-d", "--name", "taken", "busybox", "sleep", "60"))
	defer myimg(t, root, "rm", "-f", id)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"nosuchimage"}, "nosuchimage"},
		{[]string{"-p", "80x:80", "busybox"}, "-p"},
		{[]string{"-p", busy.Addr().String() + ":80", "busybox"}, "already in use"},
		{[]string{"--name", "taken", "busybox"}, "--name"},
		{[]string{"-v", "/nonexistent-myimg-src:/x", "busybox"}, "-v"},
		{[]string{"--net", "bogus", "busybox"}, "--net"},
		{[]string{"--memory", "lots", "busybox"}, "--memory"},
		{[]string{"-u", "nosuchuser", "busybox"}, "-u"},
	}
	before, _ := os.ReadDir(filepath.Join(root, "containers"))
	for _, c := range cases {
		out, err := myimg(t, root, append([]string{"run"}, append(c.args, "true")...)...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("run %v: err=%v out=%q, want an error naming %q", c.args, err, out, c.want)
		}
	}
	after, _ := os.ReadDir(filepath.Join(root, "containers"))
	if len(after) != len(before) {
		t.Errorf("bad input left containers: %v -> %v", before, after)
	}
	if veths, _ := filepath.Glob("/sys/class/net/myv*"); len(veths) > 1 { // only "taken"'s
		t.Errorf("veths: %v", veths)
	}
}

// TestRootlessSlirp4netns runs as an unprivileged user (nobody) with
// slirp4netns; /dev/net/tun is 0600 here, so the test opens it up for the
// test's duration and restores its mode.
func TestRootlessSlirp4netns(t *testing.T) {
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		t.Skip("slirp4netns not installed")
	}
	subreaperOnce.Do(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
	const uid = 65534
	st, err := os.Stat("/dev/net/tun")
	if err != nil {
		t.Skip("no /dev/net/tun")
	}
	os.Chmod("/dev/net/tun", 0o666)
	defer os.Chmod("/dev/net/tun", st.Mode().Perm())
	os.Chmod(binDir, 0o755)
	home, err := os.MkdirTemp("", fmt.Sprintf("myimg-rootless-%d-", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	os.Chmod(home, 0o755)
	os.Chown(home, uid, uid)
	root := filepath.Join(home, "store")
	as := func(args ...string) (string, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = home
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MYIMG=" + filepath.Join(binDir, "myimg")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		// nobody has no subordinate ids: myimg warns (as podman) and maps root only.
		var keep []string
		for _, l := range strings.SplitAfter(string(out), "\n") {
			if !strings.HasPrefix(l, "WARN: no subordinate ids for nobody") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, ""), err
	}
	img := func(args ...string) (string, error) {
		return as(append([]string{filepath.Join(binDir, "myimg"), "--root", root}, args...)...)
	}
	if out, err := as(filepath.Join(repo, "contrib/images/busybox.sh"), "-r", root); err != nil {
		t.Fatalf("busybox.sh as nobody: %v\n%s", err, out)
	}
	if out, err := img("run", "--net", "bridge", "busybox", "true"); err == nil || !strings.Contains(out, "--net bridge needs root") {
		t.Fatalf("rootless --net bridge: %v %s", err, out)
	}
	if out, err := img("run", "--rm", "busybox", "echo", "hi"); err != nil || out != "hi\n" {
		t.Fatalf("rootless run: %v %q", err, out)
	}
	// With a terminal the network is set up too (pause process, slirp4netns).
	tty := filepath.Join(binDir, "myimg") + " --root " + root + " run --rm -t busybox sh -c 'ip -o link show tap0 >/dev/null && echo net-ok'"
	if out, err := as("script", "-qec", tty, "/dev/null"); err != nil || !strings.Contains(out, "net-ok") {
		t.Fatalf("rootless run -t has no slirp4netns network: %v %q", err, out)
	}
	port := freeRunPort(t)
	out, err := img("run", "-d", "--name", "rweb", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	if err != nil {
		t.Fatalf("rootless run -d: %v\n%s", err, out)
	}
	id := strings.TrimSpace(out)
	defer img("rm", "-f", id)
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); strings.TrimSpace(got) != id[:12] {
		t.Fatalf("GET through slirp4netns: %q", got)
	}
	insp, _ := img("inspect", "rweb")
	var c inspected
	json.Unmarshal([]byte(insp), &c)
	if c.Network.SlirpPid == 0 || c.PausePid == 0 {
		t.Fatalf("inspect: %s", insp)
	}
	if out, err := img("rm", "-f", "rweb"); err != nil {
		t.Fatalf("rm -f: %v %s", err, out)
	}
	for _, p := range []int{c.Network.SlirpPid, c.PausePid, c.MonitorPid, c.Pid} {
		for i := 0; i < 50 && p > 0 && !gone(p); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if p > 0 && !gone(p) {
			t.Errorf("process %d left", p)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "containers")); len(ents) != 3 { // logs, names.lock, state
		t.Errorf("containers dir: %v", ents)
	}
}

// stop sends the image's STOPSIGNAL, not SIGTERM: a process that exits
// cleanly on USR1 and ignores TERM stops at once with exit code 0.
func TestStopUsesImageStopSignal(t *testing.T) {
	root := runEnv(t)
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\nSTOPSIGNAL SIGUSR1\n"), 0o644)
	mustImg(t, root, "build", "--cgroup-parent", cgroupP, "-t", "usr1", ctx)
	out := mustImg(t, root, "run", "-d", "--name", "sig", "usr1", "sh", "-c",
		`trap "echo got-usr1; exit 0" USR1; trap "" TERM; echo ready; while :; do sleep 0.1; done`)
	id := strings.TrimSpace(out)
	defer myimg(t, root, "rm", "-f", id)
	for i := 0; i < 100 && !strings.Contains(mustImg(t, root, "logs", "sig"), "ready"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	mustImg(t, root, "stop", "-t", "10", "sig")
	c := inspectCtr(t, root, "sig")
	if c.Status != "exited" || c.ExitCode != 0 {
		t.Fatalf("after stop: status %s exit %d (STOPSIGNAL not used?)", c.Status, c.ExitCode)
	}
	if logs := mustImg(t, root, "logs", "sig"); !strings.Contains(logs, "got-usr1") {
		t.Fatalf("logs: %q", logs)
	}
}

// A foreground `myimg run` killed with SIGKILL mid-run: `rm -f` still
// removes every trace (container, cgroup, veth, port rules, lease).
func TestForegroundRunKilledThenRmForce(t *testing.T) {
	root := runEnv(t)
	port := freeRunPort(t)
	cmd := exec.Command(filepath.Join(binDir, "myimg"), "--root", root, "run", "--name", "fg",
		"-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "httpd", "-f", "-p", "80")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var c inspected
	for i := 0; i < 200; i++ {
		if out, err := myimg(t, root, "inspect", "fg"); err == nil {
			json.Unmarshal([]byte(out), &c)
			if c.Pid > 0 && c.Status == "running" {
				break
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if c.Pid == 0 {
		t.Fatal("container never ran")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	mustImg(t, root, "rm", "-f", "fg")
	noTraces(t, root, c)
}
