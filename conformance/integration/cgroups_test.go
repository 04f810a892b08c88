//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func cgFile(b *bundle, ctrl, file string) string {
	path := filepath.Join("/sys/fs/cgroup", ctrl, cgroupParent, b.id, file)
	if pureV2() {
		// The VM lane: the same reading from the v2 file.
		v2, ok := v2Names[file]
		if !ok {
			b.t.Fatalf("%s/%s: no v2 equivalent here (a v1-only test)", ctrl, file)
		}
		path = filepath.Join(v2Dir(b), v2)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		b.t.Fatalf("reading %s/%s: %v", ctrl, file, err)
	}
	return strings.TrimSpace(string(raw))
}

// v2Names are the v2 files holding what the v1 files named hold, in the
// same unit.
var v2Names = map[string]string{
	"memory.limit_in_bytes": "memory.max", "memory.usage_in_bytes": "memory.current",
	"pids.max": "pids.max", "cgroup.procs": "cgroup.procs",
}

// pureV2 is a host with only cgroup v2 (the VM lane's guest).
func pureV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// v2Dir is the container's cgroup on a pure v2 host, for either driver.
func v2Dir(b *bundle) string {
	if systemdCgroup {
		return "/sys/fs/cgroup/system.slice/" + cgroupParent[1:] + "-" + b.id + ".scope"
	}
	return "/sys/fs/cgroup" + cgroupParent + "/" + b.id
}

func i64p(v int64) *int64   { return &v }
func u64p(v uint64) *uint64 { return &v }
func boolp(v bool) *bool    { return &v }

// Each limit lands in the right v1 file on this hybrid host.
func TestCgroupLimitsLand(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Linux.Resources = &rspec.LinuxResources{
			Memory: &rspec.LinuxMemory{Limit: i64p(64 << 20), Reservation: i64p(32 << 20), Swap: i64p(128 << 20), Swappiness: u64p(10)},
			CPU:    &rspec.LinuxCPU{Shares: u64p(512), Quota: i64p(50000), Period: u64p(100000), Cpus: "0", Mems: "0"},
			Pids:   &rspec.LinuxPids{Limit: i64p(77)},
		}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	for _, c := range []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", fmt.Sprint(64 << 20)},
		{"memory", "memory.soft_limit_in_bytes", fmt.Sprint(32 << 20)},
		{"memory", "memory.memsw.limit_in_bytes", fmt.Sprint(128 << 20)},
		{"memory", "memory.swappiness", "10"},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", "0"},
		{"pids", "pids.max", "77"},
	} {
		if got := cgFile(b, c.ctrl, c.file); got != c.want {
			t.Errorf("%s/%s = %q, want %q", c.ctrl, c.file, got, c.want)
		}
	}
	pid := fmt.Sprint(b.state()["pid"])
	if !strings.Contains(cgFile(b, "freezer", "cgroup.procs"), pid) {
		t.Error("init is not in its freezer cgroup")
	}
	// update changes limits live.
	if _, errs, code := b.myrun("update", "--memory", "96m", "--memory-swap", fmt.Sprint(192<<20), "--cpu-quota", "20000", "--pids-limit", "50", b.id); code != 0 {
		t.Fatalf("update: %s", errs)
	}
	if cgFile(b, "memory", "memory.limit_in_bytes") != fmt.Sprint(96<<20) || cgFile(b, "cpu", "cpu.cfs_quota_us") != "20000" || cgFile(b, "pids", "pids.max") != "50" {
		t.Fatal("update did not change the limits")
	}
	res := `{"pids":{"limit":60}}`
	cmd := exec.Command(myrun, "--root", b.root, "update", "-r", "-", b.id)
	cmd.Stdin = strings.NewReader(res)
	if out, err := cmd.CombinedOutput(); err != nil || cgFile(b, "pids", "pids.max") != "60" {
		t.Fatalf("update -r -: %v %s", err, out)
	}
	// events --stats reports memory, cpu and pids.
	out, errs, code := b.myrun("events", "--stats", b.id)
	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			CPU    map[string]any `json:"cpu"`
			Memory map[string]any `json:"memory"`
			Pids   struct {
				Current uint64 `json:"current"`
				Limit   uint64 `json:"limit"`
			} `json:"pids"`
		} `json:"data"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil || ev.Type != "stats" || ev.ID != b.id ||
		ev.Data.Pids.Current != 1 || ev.Data.Pids.Limit != 60 || ev.Data.Memory == nil || ev.Data.CPU == nil {
		t.Fatalf("events --stats: %d %q %s", code, out, errs)
	}
}

func TestCgroupBadInput(t *testing.T) {
	b := runningBundle(t)
	for _, args := range [][]string{
		{"update", "--memory", "lots", b.id},
		{"update", "--cpu-period", "-5", b.id},
		{"update", "--pids-limit", "", b.id},
		{"update", "--memory", "1", "nosuchcontainer"},
	} {
		if _, _, code := b.myrun(args...); code == 0 {
			t.Errorf("%v succeeded", args)
		}
	}
	if st := b.state(); st["status"] != "running" {
		t.Fatalf("container disturbed: %v", st["status"])
	}
	b.myrun("kill", b.id, "KILL")
	waitStatus(t, b, "stopped")
	if _, errs, code := b.myrun("exec", b.id, "true"); code == 0 || !strings.Contains(errs, "stopped") {
		t.Errorf("exec into stopped: %d %s", code, errs)
	}
	if _, errs, code := b.myrun("pause", b.id); code == 0 || !strings.Contains(errs, "not running") {
		t.Errorf("pause of stopped: %d %s", code, errs)
	}
}

// An OOM kill inside the container shows up as an "oom" event.
func TestEventsOOM(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Linux.Resources = &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: i64p(16 << 20), Swap: i64p(16 << 20)}}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	lines := streamEvents(t, b)
	<-lines // the first stats event: the stream is up
	// dd's 64 MB buffer does not fit in 16 MB.
	b.myrun("exec", b.id, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	deadline := time.After(10 * time.Second * timeoutScale)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("events stream ended without an oom event")
			}
			if strings.Contains(l, `"type":"oom"`) && strings.Contains(l, b.id) {
				return
			}
		case <-deadline:
			t.Fatal("no oom event within 10s")
		}
	}
}

// 20 containers through create, exec, pause, resume, update and delete in
// parallel leave no cgroup, process, mount or state behind.
func TestCgroupStress(t *testing.T) {
	const n = 20
	bs := make([]*bundle, n)
	for i := range bs {
		bs[i] = newBundle(t, []string{"sleep", "1000"}, nil)
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for _, b := range bs {
		wg.Add(1)
		go func(b *bundle) {
			defer wg.Done()
			steps := [][]string{
				{"create", "--bundle", b.dir, b.id}, {"start", b.id}, {"exec", b.id, "true"},
				{"pause", b.id}, {"resume", b.id}, {"update", "--pids-limit", "30", b.id},
				{"delete", "--force", b.id},
			}
			for _, s := range steps {
				if _, e, code := runWithTimeout(b.t, 60*time.Second, append([]string{"--root", b.root}, s...)...); code != 0 {
					errs <- fmt.Sprintf("%s %v: %s", b.id, s, e)
					return
				}
			}
		}(b)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for _, b := range bs {
		if dirs := cgroupDirs(b); len(dirs) > 0 {
			t.Errorf("cgroups left: %v", dirs)
		}
	}
}

// The events stream is woken by the kernel, not a timer: when the
// container is deleted its cgroup goes, and a stream with a 1h interval
// ends at once.
func TestEventsEndWithContainer(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Linux.Resources = &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: i64p(64 << 20)}}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	lines := streamEvents(t, b)
	if _, ok := <-lines; !ok {
		t.Fatal("no first stats event")
	}
	if _, errs, code := b.myrun("delete", "--force", b.id); code != 0 {
		t.Fatalf("delete --force: %s", errs)
	}
	for deadline := time.After(10 * time.Second * timeoutScale); ; {
		select {
		case _, ok := <-lines:
			if !ok {
				return // the stream ended
			}
		case <-deadline:
			t.Fatal("events kept running after its container was deleted")
		}
	}
}

// streamEvents runs `myrun events --interval 1h` on b's container until
// the test ends; the channel carries its lines and closes at its end.
func streamEvents(t *testing.T, b *bundle) <-chan string {
	t.Helper()
	ev := exec.Command(myrun, "--root", b.root, "events", "--interval", "1h", b.id)
	stdout, _ := ev.StdoutPipe()
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Process.Kill(); ev.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

// The rest of linux.resources.cpu and blockIO on the real v1 hierarchy:
// CFS burst, SCHED_IDLE groups, cpuset.mems, throttles on a real disk.
func TestCgroupCPUBurstIdleMemsThrottle(t *testing.T) {
	var major, minor int64 = -1, -1
	devs, _ := filepath.Glob("/sys/block/*/dev")
	for _, d := range devs {
		if strings.Contains(d, "/loop") || strings.Contains(d, "/zram") || strings.Contains(d, "/ram") {
			continue
		}
		raw, _ := os.ReadFile(d)
		if _, err := fmt.Sscanf(strings.TrimSpace(string(raw)), "%d:%d", &major, &minor); err == nil {
			break
		}
	}
	if major < 0 {
		t.Skip("no block device for the throttle checks")
	}
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Linux.Resources = &rspec.LinuxResources{
			CPU: &rspec.LinuxCPU{Quota: i64p(50000), Period: u64p(100000), Burst: u64p(20000), Idle: i64p(1), Cpus: "0", Mems: "0"},
			BlockIO: &rspec.LinuxBlockIO{
				ThrottleReadBpsDevice:   []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: 1 << 20}},
				ThrottleWriteIOPSDevice: []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: 300}},
			},
		}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	dev := fmt.Sprintf("%d:%d", major, minor)
	for _, c := range []struct{ ctrl, file, want string }{
		{"cpu", "cpu.cfs_burst_us", "20000"},
		{"cpu", "cpu.idle", "1"},
		{"cpuset", "cpuset.mems", "0"},
		{"blkio", "blkio.throttle.read_bps_device", dev + " 1048576"},
		{"blkio", "blkio.throttle.write_iops_device", dev + " 300"},
	} {
		if got := cgFile(b, c.ctrl, c.file); got != c.want {
			t.Errorf("%s/%s = %q, want %q", c.ctrl, c.file, got, c.want)
		}
	}
}

// memory.checkBeforeUpdate: an update to a limit below the current usage
// is refused naming the field, in runc's words ("rejecting memory limit",
// which runc's update.bats matches), with either driver on v1 and v2, and
// the old limit stays; a limit above the usage goes through.
func TestCheckBeforeUpdateRefuses(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=24 2>/dev/null; echo filled; exec sleep 1000"}, func(s *rspec.Spec) {
		s.Linux.Resources = &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: i64p(256 << 20)}}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	for i := 0; i < 100; i++ {
		if u, _ := strconv.ParseInt(cgFile(b, "memory", "memory.usage_in_bytes"), 10, 64); u > 20<<20 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	update := func(res string) (string, int) {
		cmd := exec.Command(myrun, "--root", b.root, "update", "-r", "-", b.id)
		cmd.Stdin = strings.NewReader(res)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), 1
		}
		return string(out), 0
	}
	if out, code := update(`{"memory":{"limit":` + fmt.Sprint(16<<20) + `,"checkBeforeUpdate":true}}`); code == 0 || !strings.Contains(out, "linux.resources.memory.limit") ||
		!strings.Contains(out, "checkBeforeUpdate") || !strings.Contains(out, "rejecting memory limit 16777216 <= usage") {
		t.Fatalf("update below usage with checkBeforeUpdate: %d %s", code, out)
	}
	if got := cgFile(b, "memory", "memory.limit_in_bytes"); got != fmt.Sprint(256<<20) {
		t.Fatalf("limit changed to %s by a refused update", got)
	}
	if out, code := update(`{"memory":{"limit":` + fmt.Sprint(128<<20) + `,"checkBeforeUpdate":true}}`); code != 0 || cgFile(b, "memory", "memory.limit_in_bytes") != fmt.Sprint(128<<20) {
		t.Fatalf("update above usage: %d %s", code, out)
	}
}
