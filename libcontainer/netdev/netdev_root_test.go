//go:build integration

// Tests that move veths between network namespaces: root only, behind the
// integration tag (docs/CONVENTIONS.md); the unit tests are in netdev_test.go.

package netdev

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// newNetNS starts a process in a new network namespace and returns its
// pid; it is killed (by pid) at cleanup.
func newNetNS(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("unshare", "--net", "sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// unshare execs sleep once the namespace exists.
	self, _ := os.Readlink("/proc/self/ns/net")
	for {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)); ns != self && strings.HasSuffix(exe, "sleep") {
			return cmd.Process.Pid
		}
	}
}

// vethPair makes a veth pair on the host with an address on the first
// end, removed at cleanup wherever it went.
func vethPair(t *testing.T, a, b, addr string) {
	t.Helper()
	l := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b}
	if err := netlink.LinkAdd(l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(a); err == nil {
			netlink.LinkDel(l)
		}
	})
	ip, n, _ := net.ParseCIDR(addr)
	n.IP = ip
	link, _ := netlink.LinkByName(a)
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: n}); err != nil {
		t.Fatal(err)
	}
}

func inNS(t *testing.T, pid int) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func TestMoveRenameKeepAddressesAndReturn(t *testing.T) {
	a, b := fmt.Sprintf("mrtu%da", os.Getpid()%100000), fmt.Sprintf("mrtu%db", os.Getpid()%100000)
	vethPair(t, a, b, "10.79.0.1/24")
	pid := newNetNS(t)
	moved, err := Move(pid, map[string]rspec.LinuxNetDevice{a: {Name: "ctr0"}})
	if err != nil {
		t.Fatal(err)
	}
	h := inNS(t, pid)
	link, err := h.LinkByName("ctr0")
	if err != nil {
		t.Fatalf("not in the container as ctr0: %v", err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		t.Error("not up")
	}
	addrs, _ := h.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.79.0.1/24" {
		t.Errorf("addresses %v, want 10.79.0.1/24", addrs)
	}
	if _, err := netlink.LinkByName(a); err == nil {
		t.Error("still on the host")
	}
	if err := Return(pid, moved); err != nil {
		t.Fatal(err)
	}
	if l, err := netlink.LinkByName(a); err != nil {
		t.Errorf("not back on the host as %s: %v", a, err)
	} else if addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4); len(addrs) != 1 {
		t.Errorf("back on the host with addresses %v, want 10.79.0.1/24", addrs)
	}
}

// A name taken in the container is refused naming the field, and the
// devices moved before it come back.
func TestMoveClashUndoes(t *testing.T) {
	p := os.Getpid() % 100000
	a, b := fmt.Sprintf("mrtc%da", p), fmt.Sprintf("mrtc%db", p)
	vethPair(t, a, b, "10.79.1.1/24")
	pid := newNetNS(t)
	// Sorted: a moves first, then b asks for "lo".
	_, err := Move(pid, map[string]rspec.LinuxNetDevice{a: {}, b: {Name: "lo"}})
	if err == nil || !strings.Contains(err.Error(), "linux.netDevices."+b+".name") {
		t.Fatalf("clash: %v", err)
	}
	for _, n := range []string{a, b} {
		if _, err := netlink.LinkByName(n); err != nil {
			t.Errorf("%s not on the host after the failed move: %v", n, err)
		}
	}
	if _, err := inNS(t, pid).LinkByName(a); err == nil {
		t.Error("left in the container")
	}
}

// A "%d" name is a template: the kernel picks the number, and the device
// is found (and returned) by its index.
func TestMoveTemplateName(t *testing.T) {
	p := os.Getpid() % 100000
	a, b := fmt.Sprintf("mrtt%da", p), fmt.Sprintf("mrtt%db", p)
	vethPair(t, a, b, "10.79.2.1/24")
	pid := newNetNS(t)
	moved, err := Move(pid, map[string]rspec.LinuxNetDevice{a: {Name: "tpl%d"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inNS(t, pid).LinkByName("tpl0"); err != nil {
		t.Fatalf("not in the container as tpl0: %v", err)
	}
	if err := Return(pid, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(a); err != nil {
		t.Errorf("not back as %s: %v", a, err)
	}
}
