//go:build integration

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/myrun-org/myrun/imgtool/network"
)

// Issue 17, second part: healthchecks, stats, attach, user networks
// with name resolution, ps/images --filter.

type healthState struct {
	Healthcheck *struct {
		Test        []string
		Interval    time.Duration
		Timeout     time.Duration
		StartPeriod time.Duration
		Retries     int
	} `json:"healthcheck"`
	Health *struct {
		Status        string
		FailingStreak int
		Log           []struct {
			ExitCode int
			Output   string
		}
	} `json:"health"`
}

func inspectHealth(t *testing.T, root, name string) healthState {
	t.Helper()
	var h healthState
	if err := json.Unmarshal([]byte(mustImg(t, root, "inspect", "--type", "container", name)), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// waitPs polls `ps --format {{.Status}}` of name until it contains want
// (bounded by a count, not timed).
func waitPs(t *testing.T, root, name, want string) {
	t.Helper()
	var out string
	for i := 0; i < 300; i++ {
		out = mustImg(t, root, "ps", "-a", "--format", "{{.Names}} {{.Status}}")
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, name+" ") && strings.Contains(l, want) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never showed %q in ps:\n%s", name, want, out)
}

func TestHealthcheck(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	if out, err := buildCtx(t, root, "hc", "FROM busybox\nHEALTHCHECK --interval=1s --retries=1 CMD test -f /tmp/ok\n", map[string]string{}); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// Bad input: errors name the flag and nothing is made.
	for _, bad := range [][]string{
		{"--health-retries", "0"}, {"--health-interval", "10ms"}, {"--health-timeout", "x"},
		{"--health-start-period", "-1s"}, {"--no-healthcheck", "--health-cmd", "true"},
		{"--health-cmd", `["CMD-SHELL"]`},
	} {
		args := append(append([]string{"run", "-d", "--net", "none"}, bad...), "hc", "sleep", "1")
		if out, err := myimg(t, root, args...); err == nil || !strings.Contains(out, bad[0]) {
			t.Errorf("myimg %v: %v %s", args, err, out)
		}
	}
	if out, err := myimg(t, root, "run", "-d", "--net", "none", "--health-interval", "5s", "busybox", "sleep", "1"); err == nil || !strings.Contains(out, "no healthcheck") {
		t.Errorf("--health-interval on an image without HEALTHCHECK: %v %s", err, out)
	}
	if out := mustImg(t, root, "ps", "-a", "-q"); out != "" {
		t.Fatalf("refused runs left containers: %q", out)
	}

	// The image's HEALTHCHECK runs on its interval: unhealthy after one
	// failure (retries 1), healthy once the file exists.
	mustImg(t, root, "run", "-d", "--name", "img", "--net", "none", "hc", "sleep", "300")
	made = append(made, inspectCtr(t, root, "img"))
	if h := inspectHealth(t, root, "img"); h.Healthcheck == nil || h.Healthcheck.Interval != time.Second || h.Healthcheck.Retries != 1 ||
		h.Healthcheck.Timeout != 30*time.Second || strings.Join(h.Healthcheck.Test, " ") != "CMD-SHELL test -f /tmp/ok" {
		t.Fatalf("healthcheck from the image: %+v", h.Healthcheck)
	}
	waitPs(t, root, "img", "(unhealthy)")
	mustImg(t, root, "exec", "img", "touch", "/tmp/ok")
	waitPs(t, root, "img", "(healthy)")
	if h := inspectHealth(t, root, "img"); h.Health.Status != "healthy" || h.Health.FailingStreak != 0 || len(h.Health.Log) < 2 || len(h.Health.Log) > 5 {
		t.Fatalf("health after recovery: %+v", h.Health)
	}
	var js []struct{ Status string }
	json.Unmarshal([]byte(mustImg(t, root, "ps", "--format", "json")), &js)
	if len(js) != 1 || !strings.HasSuffix(js[0].Status, "(healthy)") {
		t.Fatalf("ps --format json status: %+v", js)
	}

	// --health-cmd (JSON array) replaces it; with the timer disabled
	// only `healthcheck run` checks: exit 1 and "unhealthy" for a failed
	// check, the status turns after --health-retries of them.
	mustImg(t, root, "run", "-d", "--name", "manual", "--net", "none", "--health-cmd", `["sh","-c","echo out-$((1+1)); test -f /tmp/ok"]`,
		"--health-interval", "disable", "--health-retries", "2", "hc", "sleep", "300")
	made = append(made, inspectCtr(t, root, "manual"))
	waitPs(t, root, "manual", "(starting)")
	for i, want := range []string{"starting", "unhealthy"} {
		out, _, code := runImg(t, root, "healthcheck", "run", "manual")
		if code != 1 || out != "unhealthy\n" {
			t.Fatalf("failed check %d: exit %d, %q", i, code, out)
		}
		if h := inspectHealth(t, root, "manual"); h.Health.Status != want || h.Health.FailingStreak != i+1 || h.Health.Log[i].Output != "out-2\n" || h.Health.Log[i].ExitCode != 1 {
			t.Fatalf("after failed check %d: %+v", i, h.Health)
		}
	}
	mustImg(t, root, "exec", "manual", "touch", "/tmp/ok")
	if out, errOut, code := runImg(t, root, "healthcheck", "run", "manual"); code != 0 || out != "" {
		t.Fatalf("passing check: exit %d, %q %s", code, out, errOut)
	}
	waitPs(t, root, "manual", "(healthy)")

	// A check that outlives --health-timeout fails and its process is
	// killed; failures inside --health-start-period do not count.
	mustImg(t, root, "run", "-d", "--name", "slow", "--net", "none", "--health-cmd", "sleep 60", "--health-timeout", "1s",
		"--health-interval", "disable", "--health-start-period", "1h", "hc", "sleep", "300")
	made = append(made, inspectCtr(t, root, "slow"))
	if out, _, code := runImg(t, root, "healthcheck", "run", "slow"); code != 1 || out != "unhealthy\n" {
		t.Fatalf("timed-out check: exit %d %q", code, out)
	}
	h := inspectHealth(t, root, "slow")
	if h.Health.Status != "starting" || h.Health.FailingStreak != 0 || !strings.Contains(h.Health.Log[0].Output, "timeout") {
		t.Fatalf("timed out in the start period: %+v", h.Health)
	}
	if top := mustImg(t, root, "top", "slow"); strings.Contains(top, "sleep 60") {
		t.Fatalf("the timed-out check still runs:\n%s", top)
	}

	// --no-healthcheck: no health anywhere; healthcheck run refuses.
	mustImg(t, root, "run", "-d", "--name", "off", "--net", "none", "--no-healthcheck", "hc", "sleep", "300")
	made = append(made, inspectCtr(t, root, "off"))
	if h := inspectHealth(t, root, "off"); h.Healthcheck != nil || h.Health != nil {
		t.Fatalf("--no-healthcheck: %+v", h)
	}
	if _, errOut, code := runImg(t, root, "healthcheck", "run", "off"); code != 125 || !strings.Contains(errOut, "no defined healthcheck") {
		t.Fatalf("healthcheck run without one: %d %s", code, errOut)
	}
	mustImg(t, root, "stop", "-t", "0", "img")
	if _, errOut, code := runImg(t, root, "healthcheck", "run", "img"); code != 125 || !strings.Contains(errOut, "not running") {
		t.Fatalf("healthcheck run of a stopped container: %d %s", code, errOut)
	}
	for _, l := range strings.Split(mustImg(t, root, "ps", "-a", "--format", "{{.Names}}|{{.Status}}"), "\n") {
		if strings.HasPrefix(l, "img|") && (!strings.Contains(l, "Exited") || strings.Contains(l, "(healthy)") || strings.Contains(l, "(unhealthy)")) {
			t.Fatalf("stopped container's status: %q", l)
		}
	}
}

type statsOut struct {
	ID, Name, CPUTime, CPUPercent, AvgCPU, MemUsage, MemPercent, NetIO, BlockIO, PIDs string
}

func statsJSONOf(t *testing.T, root string, args ...string) []statsOut {
	t.Helper()
	var raw []map[string]string
	out := mustImg(t, root, append([]string{"stats", "--no-stream", "--format", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("stats json: %v\n%s", err, out)
	}
	var res []statsOut
	for _, m := range raw {
		res = append(res, statsOut{ID: m["id"], Name: m["name"], CPUTime: m["cpu_time"], CPUPercent: m["cpu_percent"], AvgCPU: m["avg_cpu"],
			MemUsage: m["mem_usage"], MemPercent: m["mem_percent"], NetIO: m["net_io"], BlockIO: m["block_io"], PIDs: m["pids"]})
	}
	return res
}

// cgroupInt reads a v1 cgroup file of a container.
func cgroupInt(t *testing.T, ctrl, id, file string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctrl, "myimg", id, file))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStats(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	// A busy container with limits and three processes, on the bridge.
	mustImg(t, root, "run", "-d", "--name", "busy", "--memory", "64m", "--pids-limit", "50", "busybox",
		"sh", "-c", "sleep 300 & while :; do :; done")
	made = append(made, inspectCtr(t, root, "busy"))
	mustImg(t, root, "run", "-d", "--name", "hostnet", "--net", "host", "busybox", "sleep", "300")
	made = append(made, inspectCtr(t, root, "hostnet"))
	c := made[0]
	mustImg(t, root, "exec", "busy", "ping", "-c", "2", "-W", "1", strings.TrimSuffix(c.Network.Gateway, "/24"))
	ss := statsJSONOf(t, root, "busy")
	if len(ss) != 1 || ss[0].ID != c.ID[:12] || ss[0].Name != "busy" {
		t.Fatalf("stats busy: %+v", ss)
	}
	s := ss[0]
	if s.PIDs != "2" || !strings.HasSuffix(s.MemUsage, " / 67.11MB") || s.MemPercent == "--" || s.BlockIO == "-- / --" {
		t.Fatalf("pids, memory, block io: %+v", s)
	}
	if s.NetIO == "-- / --" || strings.HasPrefix(s.NetIO, "0B") || strings.HasSuffix(s.NetIO, " 0B") {
		t.Fatalf("net io after a ping: %+v", s)
	}
	cpu1, err := time.ParseDuration(s.CPUTime)
	if err != nil || cpu1 <= 0 {
		t.Fatalf("cpu time %q: %v", s.CPUTime, err)
	}
	if used := cgroupInt(t, "cpuacct", c.ID, "cpuacct.usage"); time.Duration(used) < cpu1 {
		t.Fatalf("stats said %v of CPU, the cgroup has %v later", cpu1, time.Duration(used))
	}
	// The byte form of the memory limit is the cgroup's.
	if out := mustImg(t, root, "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsageBytes}}", "busy"); !strings.HasSuffix(out, " / 64MiB\n") {
		t.Fatalf("MemUsageBytes: %q", out)
	}
	// --net host has no counters of its own; without names every
	// running container shows, in the default table.
	if ss := statsJSONOf(t, root, "hostnet"); ss[0].NetIO != "-- / --" || ss[0].PIDs != "1" {
		t.Fatalf("stats of a --net host container: %+v", ss)
	}
	table := mustImg(t, root, "stats", "--no-stream")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") ||
		!strings.Contains(lines[0], "MEM USAGE / LIMIT") || !strings.Contains(lines[0], "AVG CPU %") {
		t.Fatalf("stats table:\n%s", table)
	}

	// Streaming ends when the named containers are gone; a reading per
	// interval, the last one after the stop.
	cmd := exec.Command(filepath.Join(binDir, "myimg"), "--root", root, "stats", "-i", "1", "--format", "{{.Name}} {{.PIDs}}", "hostnet")
	pipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("hostnet 1\n"))
	if _, err := io.ReadFull(pipe, first); err != nil || string(first) != "hostnet 1\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first streamed reading %q: %v", first, err)
	}
	mustImg(t, root, "stop", "-t", "0", "hostnet")
	rest, _ := io.ReadAll(pipe)
	if err := cmd.Wait(); err != nil || !strings.HasSuffix(string(rest), "hostnet --\n") {
		t.Fatalf("stream after stop: %v %q", err, rest)
	}
	if out, err := myimg(t, root, "stats", "--no-stream", "hostnet"); err == nil || !strings.Contains(out, "not running") {
		t.Fatalf("stats of a stopped container: %v %s", err, out)
	}
	if ss := statsJSONOf(t, root, "-a", "hostnet"); ss[0].PIDs != "--" || ss[0].CPUPercent != "--" {
		t.Fatalf("stats -a of a stopped container: %+v", ss)
	}
	if out, err := myimg(t, root, "stats", "-i", "0"); err == nil || !strings.Contains(out, "--interval") {
		t.Fatalf("-i 0: %v %s", err, out)
	}

	// Rootless containers have no cgroup on this host: a clear refusal.
	u := newRLUser(t)
	u.AddSubIDs()
	bb := exec.Command(filepath.Join(repo, "contrib/images/busybox.sh"), "-r", filepath.Join(u.home, "store"))
	bb.Dir = u.home
	bb.Env = []string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MYIMG=" + filepath.Join(binDir, "myimg")}
	bb.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	if out, err := bb.CombinedOutput(); err != nil {
		t.Fatalf("busybox.sh: %v\n%s", err, out)
	}
	if out, stderr, err := u.img(nil, "run", "-d", "--name", "rl", "--net", "none", "busybox", "sleep", "300"); err != nil {
		t.Fatalf("rootless run: %v %s %s", err, out, stderr)
	}
	defer u.img(nil, "rm", "-f", "rl")
	if out, stderr, err := u.img(nil, "stats", "--no-stream", "rl"); err == nil || !strings.Contains(stderr, "rootless") {
		t.Fatalf("rootless stats: %v %q %s", err, out, stderr)
	}
}

// syncBuf collects a process's output for polling.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until cond holds (bounded by a count).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("never happened: %s", what)
}

// startAttach runs `myimg attach` with a stdin pipe.
func startAttach(t *testing.T, root string, args ...string) (*exec.Cmd, io.WriteCloser, *syncBuf, *syncBuf) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "myimg"), append([]string{"--root", root, "attach"}, args...)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, errb := &syncBuf{}, &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, in, out, errb
}

func exitOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestAttach(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	// Output from the attach on, both streams, then the exit code.
	mustImg(t, root, "run", "-d", "--name", "talk", "--net", "none", "busybox", "sh", "-c",
		"echo before; while [ ! -f /tmp/stop ]; do [ -f /tmp/go ] && echo line; sleep 0.1; done; echo bye; echo err >&2; exit 7")
	made = append(made, inspectCtr(t, root, "talk"))
	waitFor(t, "first log line", func() bool { o, _, _ := runImg(t, root, "logs", "talk"); return o == "before\n" })
	cmd, in, out, errb := startAttach(t, root, "talk")
	mustImg(t, root, "exec", "talk", "touch", "/tmp/go")
	waitFor(t, "attached output", func() bool { return strings.Contains(out.String(), "line\n") })
	mustImg(t, root, "exec", "talk", "touch", "/tmp/stop")
	err := cmd.Wait()
	in.Close()
	if exitOf(err) != 7 || strings.Contains(out.String(), "before") || !strings.HasSuffix(out.String(), "line\nbye\n") || errb.String() != "err\n" {
		t.Fatalf("attach: exit %v, stdout %q, stderr %q", err, out.String(), errb.String())
	}

	// The detach keys (default and custom) leave the container running.
	mustImg(t, root, "run", "-d", "--name", "ticker", "--net", "none", "busybox", "sh", "-c",
		`trap "echo got-term; exit 3" TERM; while :; do echo tick; sleep 0.1; done`)
	made = append(made, inspectCtr(t, root, "ticker"))
	for _, k := range []struct{ flag, typed string }{{"", "abc\x10\x11"}, {"ctrl-a,x", "\x10\x11\x01x"}} {
		args := []string{"ticker"}
		if k.flag != "" {
			args = []string{"--detach-keys", k.flag, "ticker"}
		}
		cmd, in, out, _ := startAttach(t, root, args...)
		waitFor(t, "ticks", func() bool { return strings.Contains(out.String(), "tick\n") })
		io.WriteString(in, k.typed)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("detach with %q: %v", k.typed, err)
		}
		if st := inspectCtr(t, root, "ticker"); st.Status != "running" {
			t.Fatalf("after detaching (%q) the container is %s", k.typed, st.Status)
		}
	}
	// ctrl-p alone does not detach; a signal to attach goes to the
	// container (--sig-proxy), whose exit code attach returns.
	cmd, in, out, _ = startAttach(t, root, "ticker")
	waitFor(t, "ticks", func() bool { return strings.Contains(out.String(), "tick\n") })
	io.WriteString(in, "\x10a\x11")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); exitOf(err) != 3 || !strings.HasSuffix(out.String(), "got-term\n") {
		t.Fatalf("SIGTERM through attach: %v, %q", err, out.String())
	}

	// Errors: a stopped container, bad keys.
	if _, e, code := runImg(t, root, "attach", "talk"); code != 125 || !strings.Contains(e, "not running") {
		t.Fatalf("attach to an exited container: %d %s", code, e)
	}
	for _, bad := range []string{"ctrl-1", "ab", "ctrl-"} {
		if _, e, code := runImg(t, root, "attach", "--detach-keys", bad, "ticker"); code != 125 || !strings.Contains(e, "--detach-keys") {
			t.Fatalf("--detach-keys %q: %d %s", bad, code, e)
		}
	}
}

func TestUserNetworks(t *testing.T) {
	root := runEnv(t)
	br := fmt.Sprintf("mun%d", os.Getpid()%100000)
	subnet := fmt.Sprintf("10.90.%d.0/24", os.Getpid()%250)
	t.Cleanup(func() {
		if err := network.RemoveBridge(br); err != nil {
			t.Errorf("remove bridge %s: %v", br, err)
		}
	})
	var made []inspected
	defer rmAll(t, root, &made)
	if out := mustImg(t, root, "network", "create", "--subnet", subnet, "--interface-name", br, "app"); out != "app\n" {
		t.Fatalf("network create: %q", out)
	}
	// Made lazily: no bridge until a container joins.
	if network.LinkExists(br) {
		t.Fatal("network create made the bridge already")
	}
	for _, bad := range [][]string{
		{"app"}, {"bridge"}, {"--subnet", subnet, "other"}, {"--subnet", "10.90.0.1/24", "other"},
		{"--interface-name", br, "other"}, {"--driver", "macvlan", "other"}, {"bad/name"},
	} {
		if out, err := myimg(t, root, append([]string{"network", "create"}, bad...)...); err == nil {
			t.Errorf("network create %v accepted: %s", bad, out)
		}
	}
	// A second network without options gets a free subnet and bridge.
	mustImg(t, root, "network", "create", "--label", "k=v", "spare")
	var spare []struct {
		Interface string `json:"network_interface"`
		Subnets   []struct{ Subnet, Gateway string }
		Labels    map[string]string
	}
	if err := json.Unmarshal([]byte(mustImg(t, root, "network", "inspect", "spare")), &spare); err != nil || len(spare) != 1 ||
		!strings.HasPrefix(spare[0].Interface, "myimg") || spare[0].Subnets[0].Subnet == subnet || spare[0].Labels["k"] != "v" {
		t.Fatalf("network inspect spare: %v %+v", err, spare)
	}
	if out := mustImg(t, root, "network", "ls", "--format", "{{.Name}} {{.Driver}}"); out != "bridge bridge\napp bridge\nspare bridge\n" {
		t.Fatalf("network ls: %q", out)
	}
	mustImg(t, root, "network", "rm", "spare")

	// Containers on the network reach each other by name, both ways, and
	// one that joins later is known to those already there.
	mustImg(t, root, "run", "-d", "--name", "srv", "--net", "app", "busybox", "sh", "-c",
		"mkdir /www; echo hi-from-srv > /www/index.html; httpd -f -p 80 -h /www")
	made = append(made, inspectCtr(t, root, "srv"))
	if out := mustImg(t, root, "run", "--rm", "--net", "app", "busybox", "wget", "-qO-", "http://srv/"); out != "hi-from-srv\n" {
		t.Fatalf("wget http://srv/: %q", out)
	}
	mustImg(t, root, "run", "-d", "--name", "late", "--net", "app", "busybox", "sleep", "300")
	late := inspectCtr(t, root, "late")
	made = append(made, late)
	if !strings.HasPrefix(late.Network.IP, strings.TrimSuffix(subnet, "0/24")) {
		t.Fatalf("late's address %s is not in %s", late.Network.IP, subnet)
	}
	mustImg(t, root, "exec", "srv", "ping", "-c", "1", "-W", "2", "late")
	mustImg(t, root, "exec", "late", "ping", "-c", "1", "-W", "2", late.ID[:12])
	// The default network knows none of them.
	if out, err := myimg(t, root, "run", "--rm", "busybox", "ping", "-c", "1", "-W", "1", "srv"); err == nil {
		t.Fatalf("srv resolved on the default network: %s", out)
	}
	var insp []struct {
		Containers map[string]struct{ Name, IP string }
	}
	json.Unmarshal([]byte(mustImg(t, root, "network", "inspect", "app")), &insp)
	if len(insp) != 1 || len(insp[0].Containers) != 2 || insp[0].Containers[late.ID].IP != late.Network.IP {
		t.Fatalf("network inspect members: %+v", insp)
	}
	// Leaving takes the name out of the others' hosts files.
	mustImg(t, root, "rm", "-f", "late")
	if out := mustImg(t, root, "exec", "srv", "cat", "/etc/hosts"); strings.Contains(out, "late") || !strings.Contains(out, "srv") {
		t.Fatalf("srv's hosts after late left:\n%s", out)
	}
	if out, err := myimg(t, root, "run", "--rm", "--net", "nosuch", "busybox", "true"); err == nil || !strings.Contains(out, "nosuch") {
		t.Fatalf("--net nosuch: %v %s", err, out)
	}
	// rm refuses while a container uses it; -f takes the containers, the
	// bridge, its rules and leases too.
	if out, err := myimg(t, root, "network", "rm", "app"); err == nil || !strings.Contains(out, "srv") {
		t.Fatalf("network rm of a used network: %v %s", err, out)
	}
	if out, err := myimg(t, root, "network", "rm", "bridge"); err == nil || !strings.Contains(out, "default") {
		t.Fatalf("network rm bridge: %v %s", err, out)
	}
	if !network.LinkExists(br) {
		t.Fatal("no bridge while srv runs")
	}
	mustImg(t, root, "network", "rm", "-f", "app")
	if link, rules := bridgeState(t, br); link || rules > 0 {
		t.Fatalf("after network rm -f: link %v, %d rules", link, rules)
	}
	if out := mustImg(t, root, "network", "ls", "-q"); out != "bridge\n" {
		t.Fatalf("network ls after rm: %q", out)
	}
	if ents, _ := filepath.Glob(filepath.Join(root, "network", "*"+strings.ReplaceAll(strings.TrimSuffix(subnet, "/24"), ".", "-")+"*")); len(ents) > 0 {
		t.Fatalf("lease files left: %v", ents)
	}
	if out := mustImg(t, root, "ps", "-a", "-q"); out != "" {
		t.Fatalf("containers left: %q", out)
	}
}

func TestPsImagesFilter(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	if out, err := buildCtx(t, root, "localhost/lab:1", "FROM busybox\nLABEL tier=web\n", map[string]string{}); err != nil {
		t.Fatalf("build lab: %v\n%s", err, out)
	}
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\nLABEL x=1\n"), 0o644)
	mustImg(t, root, "build", "--cgroup-parent", cgroupP, ctx) // no -t: dangling
	labID := imageID(t, root, "localhost/lab:1")

	images := func(f ...string) string {
		t.Helper()
		args := []string{"images", "--format", "{{.Repository}}:{{.Tag}}"}
		for _, x := range f {
			args = append(args, "--filter", x)
		}
		return strings.TrimSpace(strings.ReplaceAll(mustImg(t, root, args...), "\n", " "))
	}
	for _, c := range []struct {
		f    []string
		want string
	}{
		{nil, "<none>:<none> busybox:latest localhost/lab:1"},
		{[]string{"reference=busybox"}, "busybox:latest"},
		{[]string{"reference=lab"}, "localhost/lab:1"},
		{[]string{"reference=localhost/*"}, "localhost/lab:1"},
		{[]string{"reference=lab:1"}, "localhost/lab:1"},
		{[]string{"reference=lab:2"}, ""},
		{[]string{"reference=lab", "reference=busybox"}, "busybox:latest localhost/lab:1"},
		{[]string{"reference=busybox", "label=tier"}, ""},
		{[]string{"dangling=true"}, "<none>:<none>"},
		{[]string{"dangling=false"}, "busybox:latest localhost/lab:1"},
		{[]string{"label=tier=web"}, "localhost/lab:1"},
		{[]string{"label=tier=db"}, ""},
		{[]string{"label=tier"}, "localhost/lab:1"},
		{[]string{"label=x", "dangling=true"}, "<none>:<none>"},
		{[]string{"since=busybox"}, "<none>:<none> localhost/lab:1"},
		{[]string{"before=localhost/lab:1"}, "busybox:latest"},
		{[]string{"id=" + labID[:10]}, "localhost/lab:1"},
	} {
		if got := images(c.f...); got != c.want {
			t.Errorf("images --filter %v: %q, want %q", c.f, got, c.want)
		}
	}
	for _, bad := range []string{"bogus=1", "dangling=maybe", "before=nosuch", "reference=[", "nokey"} {
		if out, err := myimg(t, root, "images", "--filter", bad); err == nil || !strings.Contains(out, "--filter") {
			t.Errorf("images --filter %s: %v %s", bad, err, out)
		}
	}

	// Containers, oldest first: web1 (labels from the image and -l),
	// job (exit 3), ok (exit 0), db.
	mustImg(t, root, "run", "-d", "--name", "web1", "--net", "none", "-l", "app=a", "localhost/lab:1", "sleep", "300")
	made = append(made, inspectCtr(t, root, "web1"))
	for _, n := range []string{"job", "ok"} {
		code := "3"
		if n == "ok" {
			code = "0"
		}
		runImg(t, root, "run", "--name", n, "--net", "none", "busybox", "sh", "-c", "exit "+code)
		made = append(made, inspectCtr(t, root, n))
	}
	mustImg(t, root, "run", "-d", "--name", "db", "-l", "tier=db", "busybox", "sleep", "300")
	made = append(made, inspectCtr(t, root, "db"))
	ps := func(f ...string) string {
		t.Helper()
		args := []string{"ps", "--format", "{{.Names}}"}
		for _, x := range f {
			if x == "-a" {
				args = append(args, x)
				continue
			}
			args = append(args, "--filter", x)
		}
		return strings.TrimSpace(strings.ReplaceAll(mustImg(t, root, args...), "\n", " "))
	}
	for _, c := range []struct {
		f    []string
		want string
	}{
		{nil, "db web1"},
		{[]string{"name=^web"}, "web1"},
		{[]string{"name=web1", "name=db"}, "db web1"},
		{[]string{"name=b"}, "db web1"},
		{[]string{"-a", "name=o"}, "ok job"},
		{[]string{"label=tier=web"}, "web1"},
		{[]string{"label=app"}, "web1"},
		{[]string{"label=tier"}, "db web1"},
		{[]string{"status=exited"}, "ok job"}, // implies -a
		{[]string{"status=running", "status=created"}, "db web1"},
		{[]string{"-a", "exited=3"}, "job"},
		{[]string{"ancestor=localhost/lab:1"}, "web1"},
		{[]string{"-a", "ancestor=" + labID[:12]}, "web1"},
		{[]string{"-a", "ancestor=busybox"}, "db ok job"},
		{[]string{"-a", "since=web1"}, "db ok job"},
		{[]string{"-a", "before=db"}, "ok job web1"},
		{[]string{"-a", "since=web1", "before=db"}, "ok job"},
		{[]string{"network=none"}, "web1"},
		{[]string{"network=bridge"}, "db"},
		{[]string{"name=web1", "status=exited"}, ""},
		{[]string{"id=" + made[0].ID[:8]}, "web1"},
		{[]string{"health=none"}, "db web1"},
	} {
		if got := ps(c.f...); got != c.want {
			t.Errorf("ps %v: %q, want %q", c.f, got, c.want)
		}
	}
	if out := mustImg(t, root, "ps", "-q", "--filter", "name=db"); out != made[3].ID[:12]+"\n" {
		t.Errorf("ps -q --filter name=db: %q", out)
	}
	for _, bad := range []string{"bogus=1", "status=sleeping", "exited=x", "name=(", "since=nosuch", "health=ill"} {
		if out, err := myimg(t, root, "ps", "--filter", bad); err == nil || !strings.Contains(out, "--filter") {
			t.Errorf("ps --filter %s: %v %s", bad, err, out)
		}
	}
	var lab struct{ Labels map[string]string }
	json.Unmarshal([]byte(mustImg(t, root, "inspect", "--type", "container", "web1")), &lab)
	if lab.Labels["tier"] != "web" || lab.Labels["app"] != "a" {
		t.Errorf("web1's labels: %v", lab.Labels)
	}
}

// authProxy is a registry behind HTTP basic auth (user alice, password
// s3cret): a proxy of ours in front of docker-registry.
func authProxy(t *testing.T) string {
	t.Helper()
	target, _ := url.Parse("http://" + startRegistry(t))
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="myimg-test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestLoginLogout(t *testing.T) {
	needTools(t, "skopeo")
	root := busyboxStore(t)
	reg := authProxy(t)
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv("HOME", t.TempDir()) // no ~/.docker/config.json of the machine's
	t.Setenv("REGISTRY_AUTH_FILE", "")
	authFile := filepath.Join(run, "containers", "auth.json")
	ref := reg + "/bb:1"

	if out, err := myimg(t, root, "push", "-q", "--tls-verify=false", "busybox", ref); err == nil {
		t.Fatalf("push without credentials: %s", out)
	}
	if out, err := myimgStdin(t, root, []byte("wrong\n"), "login", "--tls-verify=false", "-u", "alice", "--password-stdin", reg); err == nil || !strings.Contains(out, "invalid username/password") {
		t.Fatalf("login with a wrong password: %v %s", err, out)
	}
	if _, err := os.Stat(authFile); err == nil {
		t.Fatal("a failed login wrote the auth file")
	}
	if out, err := myimgStdin(t, root, []byte("s3cret\n"), "login", "--tls-verify=false", "-u", "alice", "--password-stdin", reg); err != nil || out != "Login Succeeded!\n" {
		t.Fatalf("login: %v %s", err, out)
	}
	var conf struct {
		Auths map[string]struct{ Auth string }
	}
	b, err := os.ReadFile(authFile)
	if err != nil || json.Unmarshal(b, &conf) != nil || conf.Auths[reg].Auth != "YWxpY2U6czNjcmV0" {
		t.Fatalf("auth file %s: %v %s", authFile, err, b)
	}
	if st, _ := os.Stat(authFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("auth file mode %v", st.Mode())
	}
	if out := mustImg(t, root, "login", "--get-login", reg); out != "alice\n" {
		t.Fatalf("--get-login: %q", out)
	}
	mustImg(t, root, "push", "-q", "--tls-verify=false", "busybox", ref)
	// skopeo reads our file (and so podman: the same library).
	if out := runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--authfile", authFile, "docker://"+ref); !strings.Contains(out, `"Os": "linux"`) {
		t.Fatalf("skopeo inspect with our auth file:\n%s", out)
	}
	root2 := filepath.Join(t.TempDir(), "store")
	mustImg(t, root2, "pull", "-q", "--tls-verify=false", ref)

	// logout, then nothing works; a second logout says so.
	if out := mustImg(t, root, "logout", reg); out != "Removed login credentials for "+reg+"\n" {
		t.Fatalf("logout: %q", out)
	}
	if out, err := myimg(t, root2, "pull", "-q", "--tls-verify=false", ref); err == nil {
		t.Fatalf("pull after logout: %s", out)
	}
	if out, err := myimg(t, root, "logout", reg); err == nil || !strings.Contains(out, "not logged into") {
		t.Fatalf("second logout: %v %s", err, out)
	}
	// skopeo's login writes a file we read, with --authfile.
	other := filepath.Join(t.TempDir(), "skopeo-auth.json")
	runTool(t, nil, "skopeo", "login", "--tls-verify=false", "--authfile", other, "-u", "alice", "-p", "s3cret", reg)
	mustImg(t, root2, "pull", "-q", "--tls-verify=false", "--authfile", other, ref)
	if out := mustImg(t, root, "logout", "--authfile", other, "-a"); out != "Removed login credentials for all registries\n" {
		t.Fatalf("logout -a: %q", out)
	}
	if out, err := myimg(t, root2, "pull", "-q", "--tls-verify=false", "--authfile", other, ref); err == nil {
		t.Fatalf("pull after logout -a: %s", out)
	}
	for _, bad := range [][]string{{"login", reg}, {"login", "-u", "a:b", "-p", "x", reg}, {"login", "-p", "x", "--password-stdin", "-u", "a", reg}} {
		if out, err := myimg(t, root, bad...); err == nil {
			t.Errorf("myimg %v accepted: %s", bad, out)
		}
	}
}

func TestShortNamesMirrors(t *testing.T) {
	root := busyboxStore(t)
	primary, mirror, other := startRegistry(t), startRegistry(t), startRegistry(t)
	mustImg(t, root, "push", "-q", "--tls-verify=false", "busybox", mirror+"/bb:1")
	mustImg(t, root, "tag", "busybox", "only:1")
	mustImg(t, root, "push", "-q", "--tls-verify=false", "only:1", primary+"/only:1")
	mustImg(t, root, "push", "-q", "--tls-verify=false", "busybox", other+"/elsewhere:1")
	conf := filepath.Join(t.TempDir(), "registries.conf")
	write := func(extra string) {
		t.Helper()
		body := fmt.Sprintf(`unqualified-search-registries = [%q]
[aliases]
"aliased" = "%s/bb"
[[registry]]
location = %q
insecure = true
%s
[[registry.mirror]]
location = %q
insecure = true
[[registry]]
location = %q
insecure = true
`, primary, primary, primary, extra, mirror, other)
		os.WriteFile(conf, []byte(body), 0o644)
	}
	write("")
	t.Setenv("CONTAINERS_REGISTRIES_CONF", conf)
	names := func(r string) string {
		return strings.TrimSpace(strings.ReplaceAll(mustImg(t, r, "images", "--format", "{{.Name}}"), "\n", " "))
	}
	// A short name goes to the search registry, served by its mirror,
	// named as podman names it; insecure comes from the file.
	r1 := filepath.Join(t.TempDir(), "s1")
	mustImg(t, r1, "pull", "-q", "bb:1")
	if got := names(r1); got != primary+"/bb:1" {
		t.Fatalf("pull bb:1 stored %q", got)
	}
	// An alias; a name the mirror lacks comes from the location itself.
	mustImg(t, r1, "pull", "-q", "aliased:1")
	mustImg(t, r1, "pull", "-q", "only:1")
	if got := names(r1); got != primary+"/bb:1 "+primary+"/only:1" {
		t.Fatalf("after alias and fallback: %q", got)
	}
	// mirror-by-digest-only: a tag is not taken from the mirror.
	write("mirror-by-digest-only = true")
	r2 := filepath.Join(t.TempDir(), "s2")
	if out, err := myimg(t, r2, "pull", "-q", "bb:1"); err == nil {
		t.Fatalf("mirror used for a tag with mirror-by-digest-only: %s", out)
	}
	// Two search registries: enforcing refuses, permissive tries in order.
	body := fmt.Sprintf("unqualified-search-registries = [%q, %q]\n[[registry]]\nlocation = %q\ninsecure = true\n[[registry]]\nlocation = %q\ninsecure = true\n", primary, other, primary, other)
	os.WriteFile(conf, []byte(body), 0o644)
	if out, err := myimg(t, r2, "pull", "-q", "elsewhere:1"); err == nil || !strings.Contains(out, "enforcing") {
		t.Fatalf("two search registries, enforcing: %v %s", err, out)
	}
	os.WriteFile(conf, []byte("short-name-mode = \"permissive\"\n"+body), 0o644)
	mustImg(t, r2, "pull", "-q", "elsewhere:1")
	if got := names(r2); got != other+"/elsewhere:1" {
		t.Fatalf("permissive: %q", got)
	}
	os.WriteFile(conf, nil, 0o644)
	if out, err := myimg(t, r2, "pull", "-q", "bb:1"); err == nil || !strings.Contains(out, "unqualified-search-registries") {
		t.Fatalf("short name without search registries: %v %s", err, out)
	}
}

// TestRootlessVolumeFilled: with subordinate ids a named volume is filled
// from the image as root's is, owners and modes kept, and volume rm
// removes what those ids own.
func TestRootlessVolumeFilled(t *testing.T) {
	u := newRLUser(t)
	u.AddSubIDs()
	tarball := filepath.Join(u.home, "rootfs.tar")
	writeUserImageTar(t, tarball)
	os.Chown(tarball, u.UID, u.GID)
	if out, stderr, err := u.img(nil, "import", "-c", "USER app", tarball, "appimg"); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err := u.img(nil, "run", "--rm", "--net", "none", "-v", "hv:/home/app", "appimg", "sh", "-c",
		"stat -c '%u:%g %a' /home/app /home/app/owned; cat /home/app/owned; echo more > /home/app/new")
	if err != nil || out != "1500:1500 700\n1500:1500 600\nmine\n" || strings.Contains(stderr, "Warning") {
		t.Fatalf("first run with the volume: %v %q %s", err, out, stderr)
	}
	// Filled once: the second container sees the first one's file.
	if out, stderr, err := u.img(nil, "run", "--rm", "--net", "none", "-v", "hv:/home/app", "appimg", "cat", "/home/app/owned", "/home/app/new"); err != nil || out != "mine\nmore\n" {
		t.Fatalf("second run: %v %q %s", err, out, stderr)
	}
	vdir := filepath.Join(u.home, "store", "volumes", "hv")
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(vdir, "_data", "owned"), &st); err != nil || int(st.Uid) != u.SubStart+1500-1 {
		t.Fatalf("host owner of the volume's file: %v uid %d (want %d)", err, st.Uid, u.SubStart+1500-1)
	}
	if out, stderr, err := u.img(nil, "volume", "rm", "hv"); err != nil {
		t.Fatalf("volume rm: %v %s %s", err, out, stderr)
	}
	if _, err := os.Stat(vdir); err == nil {
		t.Fatal("volume rm left the directory")
	}
}

func TestPublishRandomHostPort(t *testing.T) {
	root := runEnv(t)
	mustImg(t, root, "run", "-d", "--name", "rnd", "-p", "127.0.0.1::80", "busybox", "sh", "-c", "mkdir /w; echo random > /w/index.html; httpd -f -p 80 -h /w")
	c := inspectCtr(t, root, "rnd")
	defer func() { mustImg(t, root, "rm", "-f", "rnd"); noTraces(t, root, c) }()
	if len(c.Network.Ports) != 1 || c.Network.Ports[0].HostPort == 0 || c.Network.Ports[0].ContainerPort != 80 || c.Network.Ports[0].HostIP != "127.0.0.1" {
		t.Fatalf("ports: %+v", c.Network.Ports)
	}
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", c.Network.Ports[0].HostPort)); got != "random\n" {
		t.Fatalf("GET: %q", got)
	}
}

func TestHealthOnFailure(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	hc := []string{"--net", "none", "--health-cmd", "false", "--health-interval", "disable", "--health-retries", "1"}
	for _, bad := range [][]string{
		append([]string{"-d", "--health-on-failure", "bogus"}, hc...),
		append([]string{"--health-on-failure", "restart"}, hc...),
		{"-d", "--net", "none", "--health-on-failure", "kill"},
	} {
		args := append(append([]string{"run"}, bad...), "busybox", "true")
		if out, err := myimg(t, root, args...); err == nil || !strings.Contains(out, "--health-on-failure") {
			t.Errorf("myimg %v: %v %s", args, err, out)
		}
	}
	run := func(name, action string, extra []string, cmd ...string) {
		t.Helper()
		args := append(append(append([]string{"run", "-d", "--name", name, "--health-on-failure", action}, hc...), extra...), "busybox")
		mustImg(t, root, append(args, cmd...)...)
		made = append(made, inspectCtr(t, root, name))
		if out, _, code := runImg(t, root, "healthcheck", "run", name); code != 1 || out != "unhealthy\n" {
			t.Fatalf("%s: check: %d %q", name, code, out)
		}
	}
	// kill: SIGKILL when it turns unhealthy.
	run("hk", "kill", nil, "sleep", "300")
	if out := mustImg(t, root, "wait", "hk"); out != "137\n" {
		t.Fatalf("kill: exit %q", out)
	}
	// stop: the stop signal, and the restart policy does not bring it back.
	run("hs", "stop", []string{"--restart", "always"}, "sh", "-c", `trap "exit 5" TERM; while :; do sleep 0.1; done`)
	st := waitRestart(t, root, "hs", func(s restartState) bool { return s.Status == "exited" && (s.MonitorPid == 0 || gone(s.MonitorPid)) })
	if st.ExitCode != 5 || st.RestartCount != 0 {
		t.Fatalf("stop: %+v", st)
	}
	// restart: once, without a restart policy; health starts over.
	run("hr", "restart", nil, "sleep", "300")
	waitRestart(t, root, "hr", func(s restartState) bool { return s.RestartCount == 1 && s.Status == "running" })
	if h := inspectHealth(t, root, "hr"); h.Health.Status != "starting" || h.Health.FailingStreak != 0 {
		t.Fatalf("after the health restart: %+v", h.Health)
	}
}

func TestUserNetworkIPv6(t *testing.T) {
	root := runEnv(t)
	br := fmt.Sprintf("mu6%d", os.Getpid()%100000)
	t.Cleanup(func() { network.RemoveBridge(br) })
	third := 10 + os.Getpid()%200
	mustImg(t, root, "network", "create", "--subnet", fmt.Sprintf("10.91.%d.0/24", third), "--subnet", fmt.Sprintf("fd89:1:0:%d::/64", third),
		"--interface-name", br, "v6net")
	mustImg(t, root, "run", "-d", "--name", "six", "--net", "v6net", "busybox", "sleep", "300")
	c := inspectCtr(t, root, "six")
	defer func() { mustImg(t, root, "rm", "-f", "six"); noTraces(t, root, c) }()
	var ip6 struct {
		Network struct{ IP6 string } `json:"network"`
	}
	json.Unmarshal([]byte(mustImg(t, root, "inspect", "--type", "container", "six")), &ip6)
	if want := fmt.Sprintf("fd89:1:0:%d::2", third); ip6.Network.IP6 != want {
		t.Fatalf("six's IPv6 address %q, want %s", ip6.Network.IP6, want)
	}
	// By name over IPv6 from a second member, and the bridge's address.
	out := mustImg(t, root, "run", "--rm", "--net", "v6net", "busybox", "sh", "-c",
		fmt.Sprintf("ping -6 -c 1 -W 2 six >/dev/null && ping -c 1 -W 2 fd89:1:0:%d::1 >/dev/null && echo ok", third))
	if out != "ok\n" {
		t.Fatalf("IPv6 by name: %q", out)
	}
	var insp []struct {
		IPv6    bool `json:"ipv6_enabled"`
		Subnets []struct{ Subnet string }
	}
	json.Unmarshal([]byte(mustImg(t, root, "network", "inspect", "v6net")), &insp)
	if len(insp) != 1 || !insp[0].IPv6 || len(insp[0].Subnets) != 2 {
		t.Fatalf("inspect: %+v", insp)
	}
	if out, err := myimg(t, root, "network", "create", "--subnet", "fd89:1::/64", "--subnet", "fd89:2::/64", "two6"); err == nil {
		t.Fatalf("two IPv6 subnets accepted: %s", out)
	}
	mustImg(t, root, "network", "rm", "-f", "v6net")
	if network.LinkExists(br) {
		t.Fatal("bridge left")
	}
}
