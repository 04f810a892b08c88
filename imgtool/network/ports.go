// Package network gives myimg containers their network: a bridge with a
// veth pair per container, IPAM on disk, iptables NAT and port
// forwarding, slirp4netns for rootless containers, and the resolv.conf,
// hosts and hostname files bind-mounted into them.
package network

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// PortMapping is one -p [IP:]HOST:CTR[/PROTO].
type PortMapping struct {
	HostIP        string `json:"hostIP,omitempty"`
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
	Proto         string `json:"proto"`
}

func (p PortMapping) String() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return fmt.Sprintf("%s:%d->%d/%s", ip, p.HostPort, p.ContainerPort, p.Proto)
}

// ParsePort parses a -p value: [IP:]HOSTPORT:CTRPORT[/tcp|udp].
func ParsePort(spec string) (PortMapping, error) {
	bad := func(f string, a ...any) (PortMapping, error) {
		return PortMapping{}, fmt.Errorf("-p %q: %s", spec, fmt.Sprintf(f, a...))
	}
	pm := PortMapping{Proto: "tcp"}
	rest := spec
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		pm.Proto = rest[i+1:]
		rest = rest[:i]
		if pm.Proto != "tcp" && pm.Proto != "udp" {
			return bad("protocol %q: want tcp or udp", pm.Proto)
		}
	}
	if strings.HasPrefix(rest, "[") {
		return bad("IPv6 host addresses are not supported")
	}
	parts := strings.Split(rest, ":")
	var host, ctr string
	switch len(parts) {
	case 2:
		host, ctr = parts[0], parts[1]
	case 3:
		pm.HostIP, host, ctr = parts[0], parts[1], parts[2]
		ip := net.ParseIP(pm.HostIP)
		if ip == nil || ip.To4() == nil {
			return bad("host IP %q is not an IPv4 address", pm.HostIP)
		}
		if ip.IsUnspecified() {
			pm.HostIP = ""
		}
	default:
		return bad("want [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]")
	}
	hp, err := parsePortNum(host)
	if err != nil {
		return bad("host port: %v", err)
	}
	cp, err := parsePortNum(ctr)
	if err != nil {
		return bad("container port: %v", err)
	}
	pm.HostPort, pm.ContainerPort = hp, cp
	return pm, nil
}

func parsePortNum(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("missing (a host port is required)")
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return uint16(n), nil
}

// CheckFree fails when the host address is already bound by someone. The
// socket is closed right away: forwarding is done by DNAT or slirp4netns.
func CheckFree(p PortMapping) error {
	addr := net.JoinHostPort(p.HostIP, strconv.Itoa(int(p.HostPort)))
	if p.Proto == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return fmt.Errorf("-p %s: port is already in use: %w", p, err)
		}
		return c.Close()
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return fmt.Errorf("-p %s: port is already in use: %w", p, err)
	}
	return l.Close()
}

// Conflicts reports whether a and b would claim the same host port.
func Conflicts(a, b PortMapping) bool {
	if a.Proto != b.Proto || a.HostPort != b.HostPort {
		return false
	}
	return a.HostIP == "" || b.HostIP == "" || a.HostIP == b.HostIP
}
