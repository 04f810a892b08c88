package network

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestParsePort(t *testing.T) {
	good := map[string]PortMapping{
		"8080:80":              {HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"127.0.0.1:8080:80":    {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"0.0.0.0:53:53/udp":    {HostPort: 53, ContainerPort: 53, Proto: "udp"},
		"10.1.2.3:1:65535/tcp": {HostIP: "10.1.2.3", HostPort: 1, ContainerPort: 65535, Proto: "tcp"},
	}
	for in, want := range good {
		got, err := ParsePort(in)
		if err != nil || got != want {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"80":              "want [IP:]HOSTPORT",
		":80":             "host port: missing",
		"8080:80/sctp":    "protocol",
		"0:80":            "not a port number",
		"70000:80":        "not a port number",
		"80x:80":          "not a port number",
		"1.2.3:80:80":     "not an IPv4 address",
		"[::1]:80:80":     "IPv6",
		"1:2:3:4":         "want [IP:]HOSTPORT",
		"127.0.0.1:80:-1": "container port",
	}
	for in, want := range bad {
		_, err := ParsePort(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "-p ") {
			t.Errorf("ParsePort(%q) error = %v; want one naming -p and containing %q", in, err, want)
		}
	}
}

func TestConflicts(t *testing.T) {
	a := PortMapping{HostPort: 80, Proto: "tcp"}
	b := PortMapping{HostIP: "127.0.0.1", HostPort: 80, Proto: "tcp"}
	c := PortMapping{HostIP: "127.0.0.2", HostPort: 80, Proto: "tcp"}
	d := PortMapping{HostIP: "127.0.0.1", HostPort: 80, Proto: "udp"}
	if !Conflicts(a, b) || !Conflicts(b, b) || Conflicts(b, c) || Conflicts(b, d) {
		t.Fatal("wrong conflict rules")
	}
}

func TestCheckFree(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	p := PortMapping{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 80, Proto: "tcp"}
	if err := CheckFree(p); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("busy port: %v", err)
	}
	l.Close()
	if err := CheckFree(p); err != nil {
		t.Fatalf("free port: %v", err)
	}
}

func TestIPAM(t *testing.T) {
	_, n, _ := net.ParseCIDR("10.99.0.0/29") // .2 - .6 usable
	a, err := NewIPAM(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	if a.Gateway().String() != "10.99.0.1" {
		t.Fatalf("gateway %s", a.Gateway())
	}
	var got []string
	for i := 0; i < 5; i++ {
		ip, err := a.Allocate(fmt.Sprint("c", i))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip.String())
	}
	if want := []string{"10.99.0.2", "10.99.0.3", "10.99.0.4", "10.99.0.5", "10.99.0.6"}; !slices.Equal(got, want) {
		t.Fatalf("allocated %v want %v", got, want)
	}
	if _, err := a.Allocate("c9"); err == nil || !strings.Contains(err.Error(), "no free addresses") {
		t.Fatalf("exhausted subnet: %v", err)
	}
	if ip, _ := a.Allocate("c2"); ip.String() != "10.99.0.4" {
		t.Fatalf("same id got a new lease %s", ip)
	}
	if err := a.Release("c1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Release("c1"); err != nil { // idempotent
		t.Fatal(err)
	}
	if ip, _ := a.Allocate("c7"); ip.String() != "10.99.0.3" {
		t.Fatalf("released address not reused: %s", ip)
	}
	if err := ReleaseLeases(a.dir, "c7"); err != nil {
		t.Fatal(err)
	}
	l, _ := a.Leases()
	if len(l) != 4 {
		t.Fatalf("leases %v", l)
	}
}

func TestIPAMConcurrent(t *testing.T) {
	_, n, _ := net.ParseCIDR("10.98.0.0/24")
	dir := t.TempDir()
	var wg sync.WaitGroup
	ips := make([]string, 40)
	for i := range ips {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a, _ := NewIPAM(dir, n) // separate instances, shared file + flock
			ip, err := a.Allocate(fmt.Sprint("id", i))
			if err != nil {
				t.Error(err)
				return
			}
			ips[i] = ip.String()
		}(i)
	}
	wg.Wait()
	slices.Sort(ips)
	if len(slices.Compact(ips)) != 40 {
		t.Fatalf("duplicate leases: %v", ips)
	}
}

func TestParseSubnetAndBridgeName(t *testing.T) {
	if _, err := ParseSubnet("10.89.0.0/24"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"10.89.0.1/24", "fd00::/64", "10.0.0.0/31", "nope"} {
		if _, err := ParseSubnet(s); err == nil {
			t.Errorf("ParseSubnet(%q) accepted", s)
		}
	}
	for _, n := range []string{"", "a.b", "waytoolongbridgename", "a b"} {
		if ValidBridgeName(n) == nil {
			t.Errorf("bridge name %q accepted", n)
		}
	}
	if ValidMode("bridge") != nil || ValidMode("nat") == nil {
		t.Fatal("ValidMode")
	}
}

func TestResolvConf(t *testing.T) {
	host := []byte("# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.org\n")
	up := []byte("nameserver 192.0.2.1\nnameserver 127.0.0.1\nnameserver 192.0.2.2\n")
	got := string(ResolvConf(host, up, nil, false))
	if !strings.Contains(got, "nameserver 192.0.2.1\nnameserver 192.0.2.2\n") || strings.Contains(got, "127.0.0") ||
		!strings.Contains(got, "search example.org") || !strings.Contains(got, "options edns0 trust-ad") {
		t.Errorf("stub not replaced by upstreams:\n%s", got)
	}
	got = string(ResolvConf(host, nil, nil, false))
	if strings.Contains(got, "\nnameserver ") || !strings.Contains(got, "use --dns") {
		t.Errorf("loopback-only host:\n%s", got)
	}
	got = string(ResolvConf(host, up, []string{"198.51.100.7"}, false))
	if !strings.HasSuffix(got, "nameserver 198.51.100.7\n") || strings.Count(got, "nameserver") != 1 {
		t.Errorf("--dns:\n%s", got)
	}
	got = string(ResolvConf(host, up, nil, true))
	if !strings.Contains(got, "nameserver 127.0.0.53") {
		t.Errorf("host network keeps the stub:\n%s", got)
	}
	got = string(ResolvConf([]byte("nameserver 10.0.0.1\n"), up, nil, false))
	if !strings.Contains(got, "nameserver 10.0.0.1") || strings.Contains(got, "192.0.2.1") {
		t.Errorf("usable host nameserver replaced:\n%s", got)
	}
	if ValidDNS([]string{"1.1.1.1", "::1"}) != nil || ValidDNS([]string{"dns.example"}) == nil {
		t.Error("ValidDNS")
	}
}

func TestHosts(t *testing.T) {
	h := string(Hosts("web", "10.89.0.2"))
	if !strings.Contains(h, "127.0.0.1\tlocalhost\n") || !strings.Contains(h, "10.89.0.2\tweb\n") {
		t.Errorf("hosts:\n%s", h)
	}
	if !strings.Contains(string(Hosts("x", "")), "127.0.1.1\tx") {
		t.Error("no address: want 127.0.1.1")
	}
}

func TestRuleHelpers(t *testing.T) {
	line := `-A OUTPUT -d 127.0.0.1/32 -p tcp -m comment --comment "myimg:abc def" -j DNAT --to-destination 10.89.0.2:80`
	f := splitRuleLine(line)
	if !hasComment(f, "myimg:abc def") || f[len(f)-1] != "10.89.0.2:80" || hasComment(f, "myimg:abc") {
		t.Fatalf("split %q", f)
	}
	rs := PortRules("abc", "10.89.0.2", PortMapping{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"})
	if len(rs) != 2 || rs[0].Chain != "PREROUTING" || rs[1].Chain != "OUTPUT" {
		t.Fatalf("rules %+v", rs)
	}
	args := strings.Join(rs[1].Args, " ")
	for _, w := range []string{"-d 127.0.0.1", "--dport 8080", "--comment myimg:abc", "--to-destination 10.89.0.2:80", "-p tcp"} {
		if !strings.Contains(args, w) {
			t.Errorf("rule %q lacks %q", args, w)
		}
	}
	if args := strings.Join(PortRules("x", "10.0.0.2", PortMapping{HostPort: 1, ContainerPort: 2, Proto: "udp"})[0].Args, " "); strings.Contains(args, "-d ") {
		t.Errorf("0.0.0.0 mapping must not match a destination: %s", args)
	}
	if VethName("0123456789abcdef") != "myv0123456789ab" || len(VethName("0123456789abcdef")) > 15 {
		t.Error("VethName")
	}
}
