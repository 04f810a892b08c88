package network

import (
	"strconv"
)

// PortRules are the DNAT rules publishing p to the container at ip:
// PREROUTING for traffic from outside, OUTPUT for connections made on
// the host itself (including to 127.0.0.1, which route_localnet on the
// bridge and the bridge's LOCAL-source masquerade make work).
func PortRules(id, ip string, p PortMapping) []Rule {
	m := []string{"-p", p.Proto}
	if p.HostIP != "" {
		m = append(m, "-d", p.HostIP)
	}
	m = append(m, "-m", "addrtype", "--dst-type", "LOCAL",
		"--dport", strconv.Itoa(int(p.HostPort)),
		"-m", "comment", "--comment", Comment(id),
		"-j", "DNAT", "--to-destination", ip+":"+strconv.Itoa(int(p.ContainerPort)))
	return []Rule{
		{Table: "nat", Chain: "PREROUTING", Args: m},
		{Table: "nat", Chain: "OUTPUT", Args: m},
	}
}
