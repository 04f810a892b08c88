package network

import (
	"net"
	"testing"
)

func TestCreateNetPicksFreeSubnetAndName(t *testing.T) {
	dir := t.TempDir()
	a, err := CreateNet(dir, "a", "", "", "id-a", nil, false, "", false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := CreateNet(dir, "b", "", "", "id-b", nil, false, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subnet == b.Subnet || a.Interface == b.Interface || a.Subnet == DefaultSubnet {
		t.Fatalf("not distinct: %+v %+v", a, b)
	}
	if _, err := CreateNet(dir, "a", "", "", "x", nil, false, "", false); err == nil {
		t.Fatal("duplicate name accepted")
	}
	if _, err := CreateNet(dir, "c", a.Subnet, "", "x", nil, false, "", false); err == nil {
		t.Fatal("overlapping subnet accepted")
	}
	if _, err := CreateNet(dir, "c", "", b.Interface, "x", nil, false, "", false); err == nil {
		t.Fatal("interface of another network accepted")
	}
	for _, bad := range []string{"bridge", "host", "none", "pasta", "slirp4netns", "a/b", "", "-x"} {
		if _, err := CreateNet(dir, bad, "", "", "x", nil, false, "", false); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	got, err := ListNets(dir)
	if err != nil || len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Fatalf("ListNets: %v %+v", err, got)
	}
	if n, err := LoadNet(dir, "b"); err != nil || n.ID != "id-b" || n.Gateway == "" {
		t.Fatalf("LoadNet: %v %+v", err, n)
	}
}

func TestMACFor(t *testing.T) {
	if m := MACFor(net.ParseIP("10.89.0.3")).String(); m != "02:42:0a:59:00:03" {
		t.Fatal(m)
	}
}

func TestIPv6Subnets(t *testing.T) {
	_, s6, _ := net.ParseCIDR("fd89:0:0:7::/64")
	if a := Addr6(s6, 2).String(); a != "fd89:0:0:7::2" {
		t.Fatal(a)
	}
	if a := Addr6(s6, 0x1ff).String(); a != "fd89:0:0:7::1ff" {
		t.Fatal(a)
	}
	for _, bad := range []string{"10.0.0.0/24", "fd89::1/64", "fd89::/48", "fd89::/124", "x"} {
		if _, err := ParseSubnet6(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	dir := t.TempDir()
	a, err := CreateNet(dir, "a", "10.91.3.0/24", "", "id", nil, true, "", false)
	if err != nil || a.Subnet6 != "fd89:0:0:3::/64" || a.Gateway6 != "fd89:0:0:3::1" {
		t.Fatalf("default IPv6 subnet: %+v %v", a, err)
	}
	if _, err := CreateNet(dir, "b", "", "", "id", nil, false, "fd89:0:0:3::/80", false); err == nil {
		t.Fatal("overlapping IPv6 subnet accepted")
	}
	if b, err := CreateNet(dir, "c", "", "", "id", nil, false, "", false); err != nil || b.Subnet6 != "" {
		t.Fatalf("IPv4 only: %+v %v", b, err)
	}
}
