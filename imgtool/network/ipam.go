package network

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// IPAM hands out addresses of one IPv4 subnet. Leases live in a JSON file
// (ip -> container id) under dir, changed only under an flock, so several
// myimg processes can allocate at the same time.
type IPAM struct {
	dir    string
	path   string
	subnet *net.IPNet
}

// NewIPAM returns the allocator for subnet with its files in dir.
func NewIPAM(dir string, subnet *net.IPNet) (*IPAM, error) {
	if subnet.IP.To4() == nil {
		return nil, fmt.Errorf("subnet %s: only IPv4 is supported", subnet)
	}
	if ones, _ := subnet.Mask.Size(); ones > 30 {
		return nil, fmt.Errorf("subnet %s: too small (need at least /30)", subnet)
	}
	name := "ipam-" + strings.NewReplacer("/", "_", ".", "-").Replace(subnet.String()) + ".json"
	return &IPAM{dir: dir, path: filepath.Join(dir, name), subnet: subnet}, nil
}

func (a *IPAM) file() string { return a.path }

// ReleaseLeases drops the leases of id from every subnet's file in dir
// (for a cleanup that does not know which subnet id was on).
func ReleaseLeases(dir, id string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "ipam-*.json"))
	var errs []error
	for _, f := range files {
		a := &IPAM{dir: dir, path: f}
		errs = append(errs, a.Release(id))
	}
	return errors.Join(errs...)
}

// Gateway is the subnet's first address (the bridge's).
func (a *IPAM) Gateway() net.IP { return addIP(a.subnet.IP.Mask(a.subnet.Mask), 1) }

func (a *IPAM) locked(fn func(leases map[string]string) (bool, error)) error {
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return err
	}
	lf, err := os.OpenFile(filepath.Join(a.dir, "ipam.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	leases := map[string]string{}
	b, err := os.ReadFile(a.file())
	if err == nil {
		if err := json.Unmarshal(b, &leases); err != nil {
			return fmt.Errorf("%s: %w", a.file(), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	changed, err := fn(leases)
	if err != nil || !changed {
		return err
	}
	b, _ = json.MarshalIndent(leases, "", "\t")
	tmp := a.file() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, a.file())
}

// Allocate leases the lowest free address to id (the same one again if
// id already has a lease).
func (a *IPAM) Allocate(id string) (net.IP, error) {
	var got net.IP
	err := a.locked(func(leases map[string]string) (bool, error) {
		for ip, owner := range leases {
			if owner == id {
				got = net.ParseIP(ip).To4()
				return false, nil
			}
		}
		base := a.subnet.IP.Mask(a.subnet.Mask)
		ones, bits := a.subnet.Mask.Size()
		size := uint32(1) << (bits - ones)
		// .0 is the network, .1 the gateway, the last the broadcast.
		for off := uint32(2); off < size-1; off++ {
			ip := addIP(base, off)
			if _, used := leases[ip.String()]; !used {
				leases[ip.String()] = id
				got = ip
				return true, nil
			}
		}
		return false, fmt.Errorf("subnet %s: no free addresses", a.subnet)
	})
	return got, err
}

// Release drops every lease of id; no lease is not an error.
func (a *IPAM) Release(id string) error {
	return a.locked(func(leases map[string]string) (bool, error) {
		changed := false
		for ip, owner := range leases {
			if owner == id {
				delete(leases, ip)
				changed = true
			}
		}
		return changed, nil
	})
}

// Leases returns a copy of the lease table (ip -> id).
func (a *IPAM) Leases() (map[string]string, error) {
	var out map[string]string
	err := a.locked(func(l map[string]string) (bool, error) { out = l; return false, nil })
	return out, err
}

func addIP(ip net.IP, n uint32) net.IP {
	v := binary.BigEndian.Uint32(ip.To4()) + n
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, v)
	return out
}

// AllocateStatic leases ip to id (connect --ip): it must be a host
// address of the subnet other than the gateway, free or id's already.
func (a *IPAM) AllocateStatic(id string, ip net.IP) (net.IP, error) {
	if err := CheckStatic(ip, a.subnet); err != nil {
		return nil, err
	}
	ip4 := ip.To4()
	err := a.locked(func(leases map[string]string) (bool, error) {
		if owner, used := leases[ip4.String()]; used && owner != id {
			return false, fmt.Errorf("--ip %s: in use by container %s", ip4, owner[:min(12, len(owner))])
		}
		changed := false
		for l, owner := range leases {
			if owner == id && l != ip4.String() {
				delete(leases, l)
				changed = true
			}
		}
		if _, used := leases[ip4.String()]; !used {
			leases[ip4.String()] = id
			changed = true
		}
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	return ip4, nil
}

// CheckStatic checks a static address (connect --ip): a host address of
// subnet other than the gateway.
func CheckStatic(ip net.IP, subnet *net.IPNet) error {
	ip4 := ip.To4()
	if ip4 == nil || !subnet.Contains(ip4) {
		return fmt.Errorf("--ip %s: not an address of subnet %s", ip, subnet)
	}
	base := binary.BigEndian.Uint32(subnet.IP.Mask(subnet.Mask).To4())
	ones, bits := subnet.Mask.Size()
	off := binary.BigEndian.Uint32(ip4) - base
	if off < 2 || off >= uint32(1)<<(bits-ones)-1 {
		return fmt.Errorf("--ip %s: the network, gateway or broadcast address of %s", ip, subnet)
	}
	return nil
}
