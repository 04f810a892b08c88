//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/network"
)

// Issue 17, last network gaps: the user networks' name server, network
// connect's --alias/--ip/--ip6/--mac-address, connect and disconnect of
// stopped containers and of the network a container was run with,
// disconnect -f.

// testNets makes user networks with bridges and subnets of the test's
// own (base is the second byte of 10.B.N.0/24) and checks, at the end,
// that no bridge, rule or name server of theirs is left.
func testNets(t *testing.T, root string, base int, names ...string) map[string]string {
	t.Helper()
	n := os.Getpid() % 250
	subnets := map[string]string{}
	brs := []string{}
	for i, name := range names {
		br := fmt.Sprintf("m%c%d", 'd'+i, os.Getpid()%100000)
		sub := fmt.Sprintf("10.%d.%d.0/24", base+i, n)
		args := []string{"network", "create", "--subnet", sub, "--interface-name", br, name}
		if strings.HasSuffix(name, "6") {
			args = append(args[:2], append([]string{"--ipv6"}, args[2:]...)...)
		}
		mustImg(t, root, args...)
		subnets[name] = sub
		brs = append(brs, br)
	}
	t.Cleanup(func() {
		for _, name := range names {
			if pid := resolverPid(root, name); pid > 0 {
				t.Errorf("network %s: name server %d still recorded", name, pid)
			}
			myimg(t, root, "network", "rm", "-f", name)
		}
		for _, br := range brs {
			if link, rules := bridgeState(t, br); link || rules > 0 {
				t.Errorf("bridge %s left: link %v, %d rules", br, link, rules)
			}
			network.RemoveBridge(br)
		}
	})
	return subnets
}

// resolverPid is the pid of network name's name server, 0 if none is
// recorded.
func resolverPid(root, name string) int {
	b, err := os.ReadFile(filepath.Join(root, "network", "dns", name+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.Fields(string(b))[0])
	return pid
}

// nsLookup asks the container's first nameserver for name (busybox
// nslookup) and returns the addresses of the answer.
func nsLookup(t *testing.T, root, ctr, name string) ([]string, error) {
	t.Helper()
	out, err := myimg(t, root, "exec", ctr, "nslookup", name)
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var addrs []string
	answer := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Name:") {
			answer = true
		}
		if a, ok := strings.CutPrefix(l, "Address: "); ok && answer {
			addrs = append(addrs, strings.TrimSpace(a))
		}
	}
	return addrs, nil
}

func gateway(subnet string) string { return strings.TrimSuffix(subnet, "0/24") + "1" }

func TestNetworkNameServer(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	subs := testNets(t, root, 95, "dnsa", "dnsb")
	run := func(name, net string, args ...string) inspected {
		mustImg(t, root, append([]string{"run", "-d", "--name", name, "--net", net}, append(args, "busybox", "sleep", "300")...)...)
		c := inspectCtr(t, root, name)
		made = append(made, c)
		return c
	}
	if pid := resolverPid(root, "dnsa"); pid != 0 {
		t.Fatalf("name server %d before any member", pid)
	}
	srv := run("srv", "dnsa")
	pid := resolverPid(root, "dnsa")
	if pid == 0 || gone(pid) {
		t.Fatalf("no name server with the first member (pid %d)", pid)
	}
	// The member's resolv.conf names it first; a DNS query (not the hosts
	// file) finds the other members, and one that joins later.
	if out := mustImg(t, root, "exec", "srv", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver "+gateway(subs["dnsa"])+"\n") ||
		strings.Index(out, "nameserver "+gateway(subs["dnsa"])) != strings.Index(out, "nameserver") {
		t.Fatalf("resolv.conf:\n%s", out)
	}
	run("cli", "dnsa")
	if got, err := nsLookup(t, root, "cli", "srv"); err != nil || len(got) != 1 || got[0] != srv.Network.IP {
		t.Fatalf("nslookup srv from cli: %v %v, want %s", got, err, srv.Network.IP)
	}
	late := run("late", "dnsa", "--hostname", "latehost")
	for _, n := range []string{"late", "latehost", late.ID[:12], "LATE"} {
		if got, err := nsLookup(t, root, "srv", n); err != nil || len(got) != 1 || got[0] != late.Network.IP {
			t.Fatalf("nslookup %s from srv: %v %v, want %s", n, got, err, late.Network.IP)
		}
	}
	// Names of other networks are not answered; a container that leaves
	// is forgotten; the hosts file still has the names.
	other := run("other", "dnsb")
	if got, err := nsLookup(t, root, "cli", "other"); err == nil {
		t.Fatalf("other (on dnsb) resolved on dnsa: %v", got)
	}
	if out := mustImg(t, root, "exec", "cli", "cat", "/etc/hosts"); !strings.Contains(out, late.Network.IP+"\tlate ") {
		t.Fatalf("hosts file:\n%s", out)
	}
	mustImg(t, root, "rm", "-f", "late")
	if got, err := nsLookup(t, root, "cli", "late"); err == nil {
		t.Fatalf("late resolved after rm: %v", got)
	}
	// Other names go to the host's resolvers: whatever the host resolves,
	// the container resolves too.
	if addrs, err := net.LookupHost("proxy.golang.org"); err == nil {
		if got, err := nsLookup(t, root, "cli", "proxy.golang.org"); err != nil || len(got) == 0 {
			t.Fatalf("nslookup proxy.golang.org (the host has %v): %v %v", addrs, got, err)
		}
	} else {
		t.Logf("the host resolves no proxy.golang.org (%v): forwarding not checked", err)
	}
	// The last member gone, the name server is gone: nothing listens.
	for _, c := range []string{"srv", "cli"} {
		mustImg(t, root, "rm", "-f", c)
	}
	if !gone(pid) || resolverPid(root, "dnsa") != 0 {
		t.Fatalf("name server %d after the last member left (pid file %d)", pid, resolverPid(root, "dnsa"))
	}
	if left, _ := filepath.Glob(filepath.Join(root, "network", "dns", "dnsa.*")); len(left) > 0 {
		t.Fatalf("name server files left: %v", left)
	}
	_ = other
}

func TestNetworkNameServerPortInUse(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	subs := testNets(t, root, 97, "busy")
	// Something else holds port 53 on the bridge address: the run fails
	// naming it, and leaves nothing (rmAll checks the container's traces,
	// testNets the bridge and name server).
	br := "m" + "d" + strconv.Itoa(os.Getpid()%100000)
	gw := gateway(subs["busy"])
	if err := network.EnsureBridge(br, mustSubnet(t, subs["busy"]), net.ParseIP(gw), false); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenPacket("udp", gw+":53")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err := myimg(t, root, "run", "-d", "--name", "x", "--net", "busy", "busybox", "sleep", "300")
	if err == nil || !strings.Contains(out, gw+":53") || !strings.Contains(out, "address already in use") {
		t.Fatalf("run with port 53 taken: %v %s", err, out)
	}
	if ps := mustImg(t, root, "ps", "-a", "-q"); ps != "" {
		t.Fatalf("containers left: %q", ps)
	}
	l.Close()
	network.RemoveBridge(br)
}

func mustSubnet(t *testing.T, s string) *net.IPNet {
	sn, err := network.ParseSubnet(s)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

type connectedNet struct {
	Name    string   `json:"networkName"`
	IP      string   `json:"ip"`
	IP6     string   `json:"ip6"`
	MAC     string   `json:"mac"`
	Aliases []string `json:"aliases"`
	Iface   string   `json:"iface"`
}

type ctrNets struct {
	Network   connectedNet   `json:"network"`
	Connected []connectedNet `json:"connectedNetworks"`
	Status    string         `json:"status"`
}

func ctrNetsOf(t *testing.T, root, name string) ctrNets {
	t.Helper()
	var c ctrNets
	if err := json.Unmarshal([]byte(mustImg(t, root, "inspect", "--type", "container", name)), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNetworkConnectOptions(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	subs := testNets(t, root, 98, "opta", "optb6")
	run := func(name, net string) inspected {
		mustImg(t, root, "run", "-d", "--name", name, "--net", net, "busybox", "sleep", "300")
		c := inspectCtr(t, root, name)
		made = append(made, c)
		return c
	}
	run("a", "opta")
	run("b", "optb6")
	pre := strings.TrimSuffix(subs["optb6"], "0/24")
	n := strings.Split(subs["optb6"], ".")[2]
	ip, ip6, mac := pre+"77", fmt.Sprintf("fd89:0:0:%s::4d", n), "02:11:22:33:44:55"
	for _, bad := range [][]string{
		{"--ip", "10.1.2.3"}, {"--ip", pre + "1"}, {"--ip", pre + "255"}, {"--ip", "nonsense"},
		{"--ip6", "fd89:0:0:" + n + "::1:4d"}, {"--ip6", fmt.Sprintf("fd89:0:0:%s::1", n)}, {"--ip", pre + "78", "--ip6", ip6},
		{"--mac-address", "01:00:5e:00:00:01"}, {"--mac-address", "zz"}, {"--alias", "bad alias"},
	} {
		if out, err := myimg(t, root, append(append([]string{"network", "connect"}, bad...), "optb6", "a")...); err == nil || !strings.Contains(out, bad[0]) {
			t.Errorf("connect %v: %v %s", bad, err, out)
		}
	}
	if out, err := myimg(t, root, "network", "connect", "--ip6", ip6, "opta", "b"); err == nil || !strings.Contains(out, "no IPv6") {
		t.Errorf("--ip6 on an IPv4 network: %v %s", err, out)
	}
	mustImg(t, root, "network", "connect", "--alias", "web1", "--alias", "web2", "--ip6", ip6, "--mac-address", mac, "optb6", "a")
	// The address, IPv6 address and MAC are the container's; the aliases
	// resolve from another container, by DNS and in its hosts file.
	out := mustImg(t, root, "exec", "a", "ip", "addr", "show", "eth1")
	for _, want := range []string{"link/ether " + mac, "inet " + ip + "/24", "inet6 " + ip6 + "/64"} {
		if !strings.Contains(out, want) {
			t.Fatalf("a's eth1 lacks %q:\n%s", want, out)
		}
	}
	for _, al := range []string{"web1", "web2", "a"} {
		if got, err := nsLookup(t, root, "b", al); err != nil || len(got) != 2 || !strings.Contains(strings.Join(got, " "), ip) || !strings.Contains(strings.Join(got, " "), ip6) {
			t.Fatalf("nslookup %s from b: %v %v", al, got, err)
		}
	}
	mustImg(t, root, "exec", "b", "ping", "-c", "1", "-W", "2", "web2")
	var insp []struct {
		Containers map[string]struct {
			IP, IP6, MAC string
			Aliases      []string
		}
	}
	json.Unmarshal([]byte(mustImg(t, root, "network", "inspect", "optb6")), &insp)
	if m := insp[0].Containers[made[0].ID]; m.IP != ip || m.IP6 != ip6 || m.MAC != mac || strings.Join(m.Aliases, ",") != "web1,web2" {
		t.Fatalf("network inspect of a on optb6: %+v", m)
	}
	if out := mustImg(t, root, "exec", "b", "cat", "/etc/hosts"); !strings.Contains(out, ip+"\ta "+made[0].ID[:12]+" web1 web2\n") {
		t.Fatalf("b's hosts:\n%s", out)
	}
	// a asks its first network's name server, which answers for the
	// networks a is on: b by its address on optb6.
	if got, err := nsLookup(t, root, "a", "b"); err != nil || !strings.Contains(" "+strings.Join(got, " ")+" ", " "+made[1].Network.IP+" ") {
		t.Fatalf("nslookup b from a: %v %v", got, err)
	}
	// The static address is taken: another container cannot have it.
	if out, err := myimg(t, root, "network", "connect", "--ip", ip, "optb6", "b"); err == nil {
		t.Fatalf("second connect: %s", out)
	}
	mustImg(t, root, "run", "-d", "--name", "c", "--net", "opta", "busybox", "sleep", "300")
	made = append(made, inspectCtr(t, root, "c"))
	if out, err := myimg(t, root, "network", "connect", "--ip", ip, "optb6", "c"); err == nil || !strings.Contains(out, "in use") {
		t.Fatalf("connect --ip of a taken address: %v %s", err, out)
	}
	if c := ctrNetsOf(t, root, "c"); len(c.Connected) != 0 {
		t.Fatalf("failed connect left %+v", c.Connected)
	}
	testDisconnectForce(t, root, made[0].ID, subs["optb6"])
}

// testDisconnectForce: a teardown that fails (the lease file unreadable)
// fails disconnect and keeps the network; -f forgets it with a warning.
func testDisconnectForce(t *testing.T, root, id, subnet string) {
	t.Helper()
	lf := filepath.Join(root, "network", "ipam-"+strings.NewReplacer("/", "_", ".", "-").Replace(subnet)+".json")
	saved, err := os.ReadFile(lf)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(lf, []byte("not json"), 0o600)
	defer os.WriteFile(lf, saved, 0o600)
	if out, err := myimg(t, root, "network", "disconnect", "optb6", "a"); err == nil || !strings.Contains(out, lf) || !strings.Contains(out, "-f") {
		t.Fatalf("disconnect with a broken lease file: %v %s", err, out)
	}
	if c := ctrNetsOf(t, root, "a"); len(c.Connected) != 1 {
		t.Fatalf("failed disconnect forgot the network: %+v", c.Connected)
	}
	out, errOut, code := runImg(t, root, "network", "disconnect", "-f", "optb6", "a")
	if code != 0 || !strings.Contains(errOut, "warning") || !strings.Contains(errOut, lf) {
		t.Fatalf("disconnect -f: %d %q %q", code, out, errOut)
	}
	if c := ctrNetsOf(t, root, "a"); len(c.Connected) != 0 {
		t.Fatalf("disconnect -f kept %+v", c.Connected)
	}
	if v := network.ConnectedVethName(id, 1); network.LinkExists(v) {
		t.Fatalf("veth %s after disconnect -f", v)
	}
	if out, err := myimg(t, root, "exec", "a", "ip", "link", "show", "eth1"); err == nil {
		t.Fatalf("eth1 after disconnect -f: %s", out)
	}
}

func TestNetworkConnectStoppedAndPrimary(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	subs := testNets(t, root, 100, "stpa", "stpb")
	ctl := t.TempDir()
	// A container in its restart backoff (or already running again) is
	// connected with a static address; its next start has it.
	mustImg(t, root, "run", "-d", "--name", "r", "--net", "stpa", "--restart", "always", "-v", ctl+":/ctl", "busybox", "sh", "-c",
		"[ -f /ctl/go ] && exec sleep 300; echo ran >> /ctl/runs; exit 1")
	made = append(made, inspectCtr(t, root, "r"))
	waitFor(t, "two failed runs", func() bool { b, _ := os.ReadFile(ctl + "/runs"); return strings.Count(string(b), "ran") >= 2 })
	ip := strings.TrimSuffix(subs["stpb"], "0/24") + "50"
	mustImg(t, root, "network", "connect", "--ip", ip, "--alias", "rr", "stpb", "r")
	os.WriteFile(ctl+"/go", nil, 0o644)
	waitFor(t, "r running again", func() bool {
		out, err := myimg(t, root, "exec", "r", "ip", "-4", "addr", "show", "eth1")
		return err == nil && strings.Contains(out, "inet "+ip+"/24")
	})
	// An exited container: connect records the network, inspect shows
	// it, disconnect forgets it; so for the network it was run with.
	mustImg(t, root, "run", "--name", "x", "--net", "stpa", "busybox", "true")
	made = append(made, inspectCtr(t, root, "x"))
	if out, err := myimg(t, root, "network", "connect", "--ip", gateway(subs["stpb"]), "stpb", "x"); err == nil || !strings.Contains(out, "gateway") {
		t.Fatalf("connect --ip GATEWAY of a stopped container: %v %s", err, out)
	}
	mustImg(t, root, "network", "connect", "--alias", "xx", "stpb", "x")
	if c := ctrNetsOf(t, root, "x"); c.Status != "exited" || len(c.Connected) != 1 || c.Connected[0].Name != "stpb" || c.Connected[0].Aliases[0] != "xx" {
		t.Fatalf("exited x after connect: %+v", c)
	}
	mustImg(t, root, "network", "disconnect", "stpb", "x")
	mustImg(t, root, "network", "disconnect", "stpa", "x")
	if c := ctrNetsOf(t, root, "x"); len(c.Connected) != 0 || c.Network.Name != "" {
		t.Fatalf("exited x after disconnects: %+v", c)
	}
	// The network a running container was run with: eth0, its route
	// and its name go; the connected network stays, serves names and
	// takes the default route over.
	mustImg(t, root, "run", "-d", "--name", "p", "--net", "stpb", "busybox", "sleep", "300")
	made = append(made, inspectCtr(t, root, "p"))
	mustImg(t, root, "network", "disconnect", "stpa", "r")
	if out, err := myimg(t, root, "exec", "r", "ip", "link", "show", "eth0"); err == nil {
		t.Fatalf("eth0 after disconnecting the first network: %s", out)
	}
	if out := mustImg(t, root, "exec", "r", "ip", "route"); !strings.Contains(out, "default via "+gateway(subs["stpb"])+" dev eth1") {
		t.Fatalf("r's routes: the connected network did not take the default route over:\n%s", out)
	}
	if out := mustImg(t, root, "exec", "r", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver "+gateway(subs["stpb"])) {
		t.Fatalf("r's resolv.conf:\n%s", out)
	}
	if got, err := nsLookup(t, root, "r", "p"); err != nil || len(got) != 1 {
		t.Fatalf("nslookup p from r: %v %v", got, err)
	}
	if got, err := nsLookup(t, root, "p", "rr"); err != nil || len(got) != 1 || got[0] != ip {
		t.Fatalf("nslookup rr from p: %v %v", got, err)
	}
	if users := mustImg(t, root, "network", "inspect", "stpa"); strings.Contains(users, made[0].ID) {
		t.Fatalf("stpa still lists r:\n%s", users)
	}
	// network rm -f -t: running containers get their stop signal first.
	mustImg(t, root, "run", "-d", "--name", "g", "--net", "stpa", "-v", ctl+":/ctl", "busybox", "sh", "-c",
		`trap "echo term > /ctl/got; exit 0" TERM; echo > /ctl/ready; while :; do sleep 0.1; done`)
	made = append(made, inspectCtr(t, root, "g"))
	waitFor(t, "g's trap set", func() bool { _, err := os.Stat(ctl + "/ready"); return err == nil })
	for _, bad := range [][]string{{"-t", "5", "stpa"}, {"-f", "-t", "-1", "stpa"}} {
		if out, err := myimg(t, root, append([]string{"network", "rm"}, bad...)...); err == nil || !strings.Contains(out, "--time") {
			t.Fatalf("network rm %v: %v %s", bad, err, out)
		}
	}
	mustImg(t, root, "network", "rm", "-f", "-t", "60", "stpa")
	if b, _ := os.ReadFile(ctl + "/got"); string(b) != "term\n" {
		t.Fatalf("network rm -f -t: g got no SIGTERM (%q)", b)
	}
	// network rm -f removes the containers on the network, also those
	// that joined it by connect (as podman 4.3 does).
	mustImg(t, root, "network", "rm", "-f", "stpb")
	if ps := mustImg(t, root, "ps", "-a", "--format", "{{.Names}}"); ps != "x\n" {
		t.Fatalf("after network rm -f stpb: %q", ps)
	}
}

// TestRootlessSeedCriteria: the seed's completion criteria as a user
// with subordinate ranges: two isolated containers at once (own PID
// namespace, hostname, files), each reached through slirp4netns, logs,
// and nothing left after rm.
func TestRootlessSeedCriteria(t *testing.T) {
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		t.Skip("slirp4netns not installed")
	}
	st, err := os.Stat("/dev/net/tun")
	if err != nil {
		t.Skip("no /dev/net/tun")
	}
	os.Chmod("/dev/net/tun", 0o666)
	defer os.Chmod("/dev/net/tun", st.Mode().Perm())
	u := newRLUser(t)
	u.AddSubIDs()
	bb := exec.Command(filepath.Join(repo, "contrib/images/busybox.sh"), "-r", filepath.Join(u.home, "store"))
	bb.Dir = u.home
	bb.Env = []string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MYIMG=" + filepath.Join(binDir, "myimg")}
	bb.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	if out, err := bb.CombinedOutput(); err != nil {
		t.Fatalf("busybox.sh: %v\n%s", err, out)
	}
	var made []inspected
	defer func() {
		for _, c := range made {
			u.img(nil, "rm", "-f", c.ID)
		}
		for _, c := range made {
			for _, p := range []int{c.Pid, c.MonitorPid, c.Network.SlirpPid, c.PausePid} {
				if p > 0 && !gone(p) {
					t.Errorf("process %d of %s left", p, c.ID[:12])
				}
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(u.home, "store", "containers")); len(ents) != 3 { // logs, names.lock, state
			t.Errorf("containers dir after rm: %v", ents)
		}
	}()
	ports := map[string]int{}
	for _, name := range []string{"one", "two"} {
		ports[name] = freeRunPort(t)
		out, stderr, err := u.img(nil, "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:80", ports[name]), "busybox", "sh", "-c",
			"echo "+name+" > /tmp/me; echo started "+name+"; exec httpd -f -p 80 -h /tmp")
		if err != nil {
			t.Fatalf("run %s: %v %s %s", name, err, out, stderr)
		}
		out, _, _ = u.img(nil, "inspect", "--type", "container", name)
		var c inspected
		json.Unmarshal([]byte(out), &c)
		made = append(made, c)
	}
	for name, port := range ports {
		if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/me", port)); got != name+"\n" {
			t.Fatalf("GET %s through slirp4netns: %q", name, got)
		}
		out, stderr, err := u.img(nil, "exec", name, "ps", "-o", "pid,args")
		if err != nil || strings.Count(out, "httpd") != 1 || !strings.Contains(out, "    1 httpd") {
			t.Fatalf("%s's processes (want its own httpd as pid 1 only): %v %q %s", name, err, out, stderr)
		}
		if out, _, _ := u.img(nil, "logs", name); out != "started "+name+"\n" {
			t.Fatalf("logs %s: %q", name, out)
		}
	}
	if made[0].Network.SlirpPid == made[1].Network.SlirpPid || made[0].PausePid == 0 {
		t.Fatalf("slirp4netns/pause of the two: %+v %+v", made[0].Network, made[1].Network)
	}
	// User networks are bridges: refused for a user, by name.
	if _, stderr, err := u.img(nil, "network", "create", "mine"); err == nil || !strings.Contains(stderr, "need root") {
		t.Errorf("rootless network create: %v %q", err, stderr)
	}
	// The monitor restarts a rootless container (pause process and
	// slirp4netns made again) and runs its healthcheck.
	out, stderr, err := u.img(nil, "run", "-d", "--name", "again", "--restart", "on-failure:1", "--health-cmd", "true", "--health-interval", "1s",
		"busybox", "sh", "-c", "ip -o link show tap0 >/dev/null && echo net; [ -f /ran ] && exec sleep 300; touch /ran; exit 1")
	if err != nil {
		t.Fatalf("rootless run --restart: %v %s %s", err, out, stderr)
	}
	out, _, _ = u.img(nil, "inspect", "--type", "container", "again")
	var again inspected
	json.Unmarshal([]byte(out), &again)
	made = append(made, again)
	waitFor(t, "rootless restart and healthy", func() bool {
		ps, _, _ := u.img(nil, "ps", "--format", "{{.Names}} {{.Status}}")
		logs, _, _ := u.img(nil, "logs", "again")
		return strings.Contains(ps, "again Up") && strings.Contains(ps, "(healthy)") && logs == "net\nnet\n"
	})
	out, _, _ = u.img(nil, "inspect", "--type", "container", "again")
	json.Unmarshal([]byte(out), &again)
	made = append(made, again) // the restarted run's pids
	// Rootless cgroups: nothing is delegated on a cgroup v1 host (this
	// one), so limits and stats are refused saying why, and the refused
	// run leaves nothing. (Delegated v2 limits are the VM lane's.)
	var fs unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Log("cgroup v2 host: the rootless refusals of limits and stats are not checked here")
		return
	}
	before, _ := os.ReadDir(filepath.Join(u.home, "store", "containers"))
	for _, lim := range [][]string{{"--memory", "64m"}, {"--cpus", "0.5"}, {"--pids-limit", "20"}} {
		_, stderr, err := u.img(nil, append(append([]string{"run", "--rm", "--net", "none"}, lim...), "busybox", "true")...)
		if err == nil || !strings.Contains(stderr, lim[0]) || !strings.Contains(stderr, "delegates") {
			t.Errorf("rootless %v: %v %q", lim, err, stderr)
		}
	}
	if after, _ := os.ReadDir(filepath.Join(u.home, "store", "containers")); len(after) != len(before) {
		t.Errorf("refused rootless runs left containers: %v -> %v", before, after)
	}
	if _, stderr, err := u.img(nil, "stats", "--no-stream", "one"); err == nil || !strings.Contains(stderr, "need a cgroup") {
		t.Errorf("rootless stats: %v %q", err, stderr)
	}
}

// TestPortInUseByContainer: a host port another container publishes
// (DNAT rules, no socket) is refused by name, and nothing is left.
func TestPortInUseByContainer(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	port := freeRunPort(t)
	mustImg(t, root, "run", "-d", "--name", "holder", "-p", fmt.Sprintf("%d:80", port), "busybox", "sleep", "300")
	made = append(made, inspectCtr(t, root, "holder"))
	before, _ := os.ReadDir(filepath.Join(root, "containers"))
	for _, p := range []string{fmt.Sprintf("%d:8080", port), fmt.Sprintf("127.0.0.1:%d:80", port), fmt.Sprintf("%d-%d:80-81", port-1, port)} {
		out, err := myimg(t, root, "run", "-d", "-p", p, "busybox", "true")
		if err == nil || !strings.Contains(out, "already in use by container holder") {
			t.Errorf("-p %s: %v %s", p, err, out)
		}
	}
	if after, _ := os.ReadDir(filepath.Join(root, "containers")); len(after) != len(before) {
		t.Errorf("refused runs left containers: %v -> %v", before, after)
	}
}

// TestRestartBackoffGivesUp: a container that never succeeds is
// restarted with a doubling delay (each gap at least the backoff: 100 ms,
// 200 ms, 400 ms, ...), then on-failure:N gives up saying so, and
// nothing of it is left after rm.
func TestRestartBackoffGivesUp(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	mustImg(t, root, "run", "-d", "--name", "never", "--net", "none", "--restart", "on-failure:4", "busybox", "sh", "-c", "echo run; exit 7")
	c := inspectCtr(t, root, "never")
	made = append(made, c)
	st := waitRestart(t, root, "never", func(s restartState) bool {
		// The monitor writes exited, then decides and records giving up:
		// wait for that record, not only for the exit.
		return s.Status == "exited" && s.RestartCount == 4 && s.Error != "" && (s.MonitorPid == 0 || gone(s.MonitorPid))
	})
	if st.ExitCode != 7 || !strings.Contains(st.Error, "gave up after 4 restarts") {
		t.Fatalf("on-failure:4: %+v", st)
	}
	var rec struct {
		LogPath string `json:"logPath"`
	}
	json.Unmarshal([]byte(mustImg(t, root, "inspect", "--type", "container", "never")), &rec)
	b, err := os.ReadFile(rec.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Time
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			Time time.Time `json:"time"`
			Log  string    `json:"log"`
		}
		if json.Unmarshal([]byte(l), &e) == nil && e.Log == "run\n" {
			starts = append(starts, e.Time)
		}
	}
	if len(starts) != 5 {
		t.Fatalf("want 5 runs in the log, got %d:\n%s", len(starts), b)
	}
	for k := 1; k < len(starts); k++ {
		if gap, min := starts[k].Sub(starts[k-1]), 100*time.Millisecond<<(k-1); gap < min {
			t.Errorf("run %d came %v after run %d: the backoff is %v", k+1, gap, k, min)
		}
	}
	if ps := mustImg(t, root, "ps", "--format", "{{.Names}}"); ps != "" {
		t.Fatalf("ps after giving up: %q", ps)
	}
}

// TestRootlessBuildCacheSecret: RUN --mount=type=cache and type=secret
// work for a user with subordinate ranges as for root: the cache
// persists between builds, the secret is readable in the step and not in
// the image.
func TestRootlessBuildCacheSecret(t *testing.T) {
	u := newRLUser(t)
	u.AddSubIDs()
	bb := exec.Command(filepath.Join(repo, "contrib/images/busybox.sh"), "-r", filepath.Join(u.home, "store"))
	bb.Dir = u.home
	bb.Env = []string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MYIMG=" + filepath.Join(binDir, "myimg")}
	bb.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	if out, err := bb.CombinedOutput(); err != nil {
		t.Fatalf("busybox.sh: %v\n%s", err, out)
	}
	ctx := filepath.Join(u.home, "ctx")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(`FROM busybox
RUN --mount=type=cache,id=rc,target=/cache sh -c 'n=$(cat /cache/n 2>/dev/null || echo 0); echo $((n+1)) > /cache/n; cp /cache/n /count'
RUN --mount=type=secret,id=tok sh -c 'wc -c < /run/secrets/tok > /secret-len'
`), 0o644)
	sec := filepath.Join(u.home, "tok")
	os.WriteFile(sec, []byte("sekrit"), 0o600)
	for _, p := range []string{ctx, filepath.Join(ctx, "Containerfile"), sec} {
		os.Chown(p, u.UID, u.GID)
	}
	for i := 0; i < 2; i++ {
		if out, stderr, err := u.img(nil, "build", "--no-cache", "--secret", "id=tok,src="+sec, "-t", "cs", ctx); err != nil {
			t.Fatalf("rootless build %d: %v\n%s%s", i+1, err, out, stderr)
		}
	}
	out, stderr, err := u.img(nil, "run", "--rm", "--net", "none", "cs", "sh", "-c", "cat /count /secret-len; ls /run/secrets 2>/dev/null | wc -l")
	if want := "2\n6\n0\n"; err != nil || out != want {
		t.Fatalf("built image: %v %q (want %q)\n%s", err, out, want, stderr)
	}
}
