package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Net is a user bridge network (`myimg network create`), kept as
// <store>/network/networks/<name>.json. Its bridge and shared rules come
// with the first container on it and go with the last, as the default
// network's do.
type Net struct {
	Name      string            `json:"name"`
	ID        string            `json:"id"`
	Driver    string            `json:"driver"`
	Interface string            `json:"network_interface"`
	Subnet    string            `json:"subnet"`
	Gateway   string            `json:"gateway"`
	Created   time.Time         `json:"created"`
	Labels    map[string]string `json:"labels,omitempty"`
}

var netNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidNetName checks a network name; the --net modes are reserved.
func ValidNetName(n string) error {
	if !netNameRE.MatchString(n) || len(n) > 64 {
		return fmt.Errorf("network name %q: must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 64 characters)", n)
	}
	if IsMode(n) {
		return fmt.Errorf("network name %q: reserved for --net %s", n, n)
	}
	return nil
}

// IsMode reports whether s is a --net mode rather than a network name.
func IsMode(s string) bool { return ValidMode(s) == nil }

func netsDir(ipamDir string) string { return filepath.Join(ipamDir, "networks") }

// LoadNet reads network name.
func LoadNet(ipamDir, name string) (*Net, error) {
	if err := ValidNetName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(netsDir(ipamDir), name+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("network %s: no such network", name)
	}
	if err != nil {
		return nil, err
	}
	var n Net
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	return &n, nil
}

// ListNets returns the user networks by name.
func ListNets(ipamDir string) ([]*Net, error) {
	files, err := filepath.Glob(filepath.Join(netsDir(ipamDir), "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*Net
	for _, f := range files {
		n, err := LoadNet(ipamDir, strings.TrimSuffix(filepath.Base(f), ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LockNets serializes changes to the networks of a store.
func LockNets(ipamDir string) (func(), error) {
	if err := os.MkdirAll(ipamDir, 0o700); err != nil {
		return nil, err
	}
	return flockFile(filepath.Join(ipamDir, "networks.lock"))
}

// CreateNet makes network name (under LockNets). An empty subnet or
// iface is picked: the first 10.89.N.0/24 and myimgN (N from 1) that no
// other network, no host address or route and no link uses.
func CreateNet(ipamDir, name, subnet, iface, id string, labels map[string]string) (*Net, error) {
	if err := ValidNetName(name); err != nil {
		return nil, err
	}
	unlock, err := LockNets(ipamDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	nets, err := ListNets(ipamDir)
	if err != nil {
		return nil, err
	}
	var used []*net.IPNet
	if d, err := ParseSubnet(DefaultSubnet); err == nil {
		used = append(used, d)
	}
	names := map[string]bool{DefaultBridge: true}
	for _, n := range nets {
		if n.Name == name {
			return nil, fmt.Errorf("network %s: already exists", name)
		}
		if s, err := ParseSubnet(n.Subnet); err == nil {
			used = append(used, s)
		}
		names[n.Interface] = true
	}
	used = append(used, hostNets()...)
	var sn *net.IPNet
	if subnet != "" {
		if sn, err = ParseSubnet(subnet); err != nil {
			return nil, fmt.Errorf("--subnet: %w", err)
		}
		for _, u := range used {
			if u.Contains(sn.IP) || sn.Contains(u.IP) {
				return nil, fmt.Errorf("--subnet %s: overlaps %s, in use by another network or the host", sn, u)
			}
		}
	} else {
		for i := 1; i < 255 && sn == nil; i++ {
			c := &net.IPNet{IP: net.IPv4(10, 89, byte(i), 0).To4(), Mask: net.CIDRMask(24, 32)}
			free := true
			for _, u := range used {
				if u.Contains(c.IP) || c.Contains(u.IP) {
					free = false
					break
				}
			}
			if free {
				sn = c
			}
		}
		if sn == nil {
			return nil, fmt.Errorf("network %s: no free subnet in 10.89.1.0-10.89.254.0/24: give --subnet", name)
		}
	}
	if iface != "" {
		if err := ValidBridgeName(iface); err != nil {
			return nil, fmt.Errorf("--interface-name: %w", err)
		}
		if names[iface] {
			return nil, fmt.Errorf("--interface-name %s: used by another network", iface)
		}
		if LinkExists(iface) {
			return nil, fmt.Errorf("--interface-name %s: a link of that name exists on the host", iface)
		}
	} else {
		for i := 1; iface == ""; i++ {
			c := fmt.Sprintf("myimg%d", i)
			if !names[c] && !LinkExists(c) {
				iface = c
			}
		}
	}
	ipam, err := NewIPAM(ipamDir, sn)
	if err != nil {
		return nil, err
	}
	n := &Net{Name: name, ID: id, Driver: "bridge", Interface: iface, Subnet: sn.String(), Gateway: ipam.Gateway().String(),
		Created: time.Now().UTC(), Labels: labels}
	b, _ := json.MarshalIndent(n, "", "\t")
	if err := os.MkdirAll(netsDir(ipamDir), 0o700); err != nil {
		return nil, err
	}
	tmp := filepath.Join(netsDir(ipamDir), "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	return n, os.Rename(tmp, filepath.Join(netsDir(ipamDir), name+".json"))
}

// RemoveNet deletes a network that no container uses any more: its
// bridge and shared rules if still there, its leases file and record.
func RemoveNet(ipamDir string, n *Net) error {
	if err := RemoveBridgeIfUnused(ipamDir, n.Subnet, n.Interface); err != nil {
		return err
	}
	if LinkExists(n.Interface) {
		return fmt.Errorf("network %s: bridge %s still has ports or leases", n.Name, n.Interface)
	}
	sn, err := ParseSubnet(n.Subnet)
	if err != nil {
		return err
	}
	ipam, err := NewIPAM(ipamDir, sn)
	if err != nil {
		return err
	}
	if err := os.Remove(ipam.file()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Remove(filepath.Join(netsDir(ipamDir), n.Name+".json"))
}

// hostNets are the subnets of the host's addresses and routes (not the
// default route), which a new network must not overlap.
func hostNets() []*net.IPNet {
	var out []*net.IPNet
	if addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4); err == nil {
		for _, a := range addrs {
			if a.IPNet != nil && !a.IP.IsLoopback() {
				out = append(out, &net.IPNet{IP: a.IP.Mask(a.Mask), Mask: a.Mask})
			}
		}
	}
	if routes, err := netlink.RouteList(nil, netlink.FAMILY_V4); err == nil {
		for _, r := range routes {
			if r.Dst != nil {
				if ones, _ := r.Dst.Mask.Size(); ones > 0 {
					out = append(out, r.Dst)
				}
			}
		}
	}
	return out
}

func flockFile(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
