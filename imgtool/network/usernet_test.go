package network

import (
	"net"
	"testing"
)

func TestCreateNetPicksFreeSubnetAndName(t *testing.T) {
	dir := t.TempDir()
	a, err := CreateNet(dir, "a", "", "", "id-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := CreateNet(dir, "b", "", "", "id-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subnet == b.Subnet || a.Interface == b.Interface || a.Subnet == DefaultSubnet {
		t.Fatalf("not distinct: %+v %+v", a, b)
	}
	if _, err := CreateNet(dir, "a", "", "", "x", nil); err == nil {
		t.Fatal("duplicate name accepted")
	}
	if _, err := CreateNet(dir, "c", a.Subnet, "", "x", nil); err == nil {
		t.Fatal("overlapping subnet accepted")
	}
	if _, err := CreateNet(dir, "c", "", b.Interface, "x", nil); err == nil {
		t.Fatal("interface of another network accepted")
	}
	for _, bad := range []string{"bridge", "host", "none", "pasta", "slirp4netns", "a/b", "", "-x"} {
		if _, err := CreateNet(dir, bad, "", "", "x", nil); err == nil {
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
