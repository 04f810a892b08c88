package network

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestResolverLookup(t *testing.T) {
	dir := t.TempDir()
	for _, tab := range []*DNSTable{
		{Network: "front", Members: []DNSMember{{ID: "a1", Names: []string{"a"}, IP: "10.1.0.2"}, {ID: "c1", Names: []string{"c"}, IP: "10.1.0.3"}}},
		{Network: "back", Members: []DNSMember{{ID: "a1", Names: []string{"a", "web"}, IP: "10.2.0.2", IP6: "fd00::2"}, {ID: "b1", Names: []string{"b"}, IP: "10.2.0.3"}}},
	} {
		if err := WriteDNSTable(dir, tab); err != nil {
			t.Fatal(err)
		}
	}
	s := &resolver{dir: dir, network: "front", cache: map[string]cachedTable{}}
	// a asks front's server for b: a is on back too, so b is answered.
	if ip4, _, ok := s.lookup("B", net.ParseIP("10.1.0.2")); !ok || len(ip4) != 1 || ip4[0].String() != "10.2.0.3" {
		t.Fatalf("b for a: %v %v", ip4, ok)
	}
	// c is only on front: b is not its business.
	if _, _, ok := s.lookup("b", net.ParseIP("10.1.0.3")); ok {
		t.Fatal("b answered to c")
	}
	// a on this network first: its front address, not its back one.
	if ip4, ip6, ok := s.lookup("a", net.ParseIP("10.1.0.3")); !ok || ip4[0].String() != "10.1.0.2" || len(ip6) != 0 {
		t.Fatalf("a for c: %v %v %v", ip4, ip6, ok)
	}
	// Changed tables are read again.
	time.Sleep(10 * time.Millisecond)
	WriteDNSTable(dir, &DNSTable{Network: "front", Members: []DNSMember{{ID: "c1", Names: []string{"c", "new"}, IP: "10.1.0.3"}}})
	os.Chtimes(DNSTablePath(dir, "front"), time.Now().Add(time.Second), time.Now().Add(time.Second))
	if _, _, ok := s.lookup("new", nil); !ok {
		t.Fatal("new name not seen")
	}
	if _, _, ok := s.lookup("a", nil); ok {
		t.Fatal("a still answered after it left front")
	}
	if err := RemoveDNSTable(dir, "front"); err != nil || RemoveDNSTable(dir, "front") != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.lookup("c", nil); ok {
		t.Fatal("answered without a table")
	}
}

func TestAnswerTypes(t *testing.T) {
	req := new(dns.Msg)
	req.SetQuestion("web.", dns.TypeAAAA)
	m := answer(req, req.Question[0], []net.IP{net.ParseIP("10.0.0.2")}, nil)
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 || !m.Authoritative {
		t.Fatalf("AAAA of a v4-only member: %v", m)
	}
	req.SetQuestion("web.", dns.TypeA)
	m = answer(req, req.Question[0], []net.IP{net.ParseIP("10.0.0.2")}, []net.IP{net.ParseIP("fd00::2")})
	if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "10.0.0.2" {
		t.Fatalf("A: %v", m.Answer)
	}
}

func TestServeNetworkDNS(t *testing.T) {
	dir := t.TempDir()
	WriteDNSTable(dir, &DNSTable{Network: "n", Internal: true, Members: []DNSMember{{ID: "a1", Names: []string{"srv"}, IP: "10.3.0.2"}}})
	// A loopback address of its own stands in for the bridge's (the
	// server always listens on port 53).
	addr := "127.0.83.1"
	r, w, _ := os.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeNetworkDNS(dir, "n", []string{addr}, w) }()
	buf := make([]byte, 200)
	n, _ := r.Read(buf)
	if got := strings.TrimSpace(string(buf[:n])); got != "ok" {
		if os.Geteuid() != 0 {
			t.Skipf("binding port 53 needs root: %s", got)
		}
		t.Fatalf("ready: %q", got)
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	q := new(dns.Msg)
	q.SetQuestion("srv.", dns.TypeA)
	resp, _, err := c.Exchange(q, addr+":53")
	if err != nil || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "10.3.0.2" {
		t.Fatalf("srv: %v %v", resp, err)
	}
	c.Net = "tcp"
	q.SetQuestion("example.org.", dns.TypeA)
	if resp, _, err = c.Exchange(q, addr+":53"); err != nil || resp.Rcode != dns.RcodeRefused {
		t.Fatalf("an internal network forwards nothing: %v %v", resp, err)
	}
	// Its table removed, the server leaves by itself.
	os.Remove(filepath.Join(dir, "dns", "n.json"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server still running 10s after its table went")
	}
}

func TestStaticAddresses(t *testing.T) {
	sn, _ := ParseSubnet("10.4.0.0/24")
	ipam, _ := NewIPAM(t.TempDir(), sn)
	if ip, err := ipam.AllocateStatic("a", net.ParseIP("10.4.0.9")); err != nil || ip.String() != "10.4.0.9" {
		t.Fatalf("static: %v %v", ip, err)
	}
	for _, bad := range []string{"10.4.0.9", "10.4.0.1", "10.4.0.255", "10.4.0.0", "10.5.0.2"} {
		if _, err := ipam.AllocateStatic("b", net.ParseIP(bad)); err == nil || !strings.Contains(err.Error(), "--ip") {
			t.Errorf("static %s for b: %v", bad, err)
		}
	}
	if ip, err := ipam.Allocate("b"); err != nil || ip.String() != "10.4.0.2" {
		t.Fatalf("dynamic after static: %v %v", ip, err)
	}
	if ip, err := IPv4AtOffsetOf("fd00:0:0:4::4d", "fd00:0:0:4::/64", sn); err != nil || ip.String() != "10.4.0.77" {
		t.Fatalf("offset: %v %v", ip, err)
	}
	for _, bad := range []string{"fd00:0:0:4::1", "fd00:0:0:4::1:4d", "fd00:0:0:5::4d", "10.4.0.3"} {
		if _, err := IPv4AtOffsetOf(bad, "fd00:0:0:4::/64", sn); err == nil {
			t.Errorf("offset of %s accepted", bad)
		}
	}
	if _, err := IPv4AtOffsetOf("fd00::4d", "", sn); err == nil {
		t.Error("no IPv6 subnet accepted")
	}
	for _, bad := range []string{"01:00:5e:00:00:01", "00:00:00:00:00:00", "02:00:00:00:00:00:00:01", "x"} {
		if _, err := ParseMAC(bad); err == nil {
			t.Errorf("MAC %s accepted", bad)
		}
	}
	if m, err := ParseMAC("02:AA:bb:00:00:01"); err != nil || m.String() != "02:aa:bb:00:00:01" {
		t.Fatalf("MAC: %v %v", m, err)
	}
}

func TestResolvConfVia(t *testing.T) {
	host := []byte("nameserver 192.0.2.1\nsearch example.org\n")
	got := string(ResolvConfVia(host, nil, "10.5.0.1", true))
	if !strings.Contains(got, "nameserver 10.5.0.1\nnameserver 192.0.2.1\n") || !strings.Contains(got, "search example.org") {
		t.Fatalf("via:\n%s", got)
	}
	got = string(ResolvConfVia(host, nil, "10.5.0.1", false))
	if strings.Count(got, "nameserver") != 1 || !strings.Contains(got, "nameserver 10.5.0.1\n") {
		t.Fatalf("internal:\n%s", got)
	}
	got = string(ResolvConfVia([]byte("nameserver 127.0.0.53\n"), nil, "10.5.0.1", true))
	if strings.Count(got, "nameserver") != 1 || !strings.Contains(got, "nameserver 10.5.0.1\n") {
		t.Fatalf("loopback-only host:\n%s", got)
	}
}
