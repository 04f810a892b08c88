package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// The name server of a user network: one process per network with
// members, listening on the bridge's addresses (port 53, UDP and TCP).
// It answers A and AAAA queries for the names of the containers on the
// networks the asking container is on (found by the query's source
// address), from the tables the store writes (DNSTable, one file per
// network), and passes every other query to the host's resolvers. The
// store starts it with a network's first member and stops it with the
// last (container/resolver.go); it also leaves by itself once its
// network's table is gone.

// DNSMember is a container on a network as its name server sees it.
type DNSMember struct {
	ID    string   `json:"id"`
	Names []string `json:"names"`
	IP    string   `json:"ip,omitempty"`
	IP6   string   `json:"ip6,omitempty"`
}

// DNSTable is the names of one network.
type DNSTable struct {
	Network  string      `json:"network"`
	Internal bool        `json:"internal,omitempty"`
	Members  []DNSMember `json:"members"`
}

// DNSTablePath is where network name's table is kept.
func DNSTablePath(ipamDir, name string) string {
	return filepath.Join(ipamDir, "dns", name+".json")
}

// WriteDNSTable replaces the table of t.Network atomically.
func WriteDNSTable(ipamDir string, t *DNSTable) error {
	p := DNSTablePath(ipamDir, t.Network)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(t, "", "\t")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// RemoveDNSTable drops network name's table; a missing one is fine.
func RemoveDNSTable(ipamDir, name string) error {
	err := os.Remove(DNSTablePath(ipamDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// dnsTTL is short: members come and go.
const dnsTTL = 5

type resolver struct {
	dir, network string
	upstreams    []string
	mu           sync.Mutex
	cache        map[string]cachedTable
}

type cachedTable struct {
	mtime time.Time
	t     *DNSTable
}

// tables returns every network's table, re-read when changed.
func (s *resolver) tables() map[string]*DNSTable {
	files, _ := filepath.Glob(filepath.Join(s.dir, "dns", "*.json"))
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*DNSTable{}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		c, ok := s.cache[f]
		if !ok || !c.mtime.Equal(st.ModTime()) {
			var t DNSTable
			b, err := os.ReadFile(f)
			if err != nil || json.Unmarshal(b, &t) != nil {
				continue
			}
			c = cachedTable{st.ModTime(), &t}
			s.cache[f] = c
		}
		out[c.t.Network] = c.t
	}
	return out
}

// lookup finds name for a query from src: on this network, then on the
// other networks the asking container is on. found is false if no
// member has the name.
func (s *resolver) lookup(name string, src net.IP) (ip4, ip6 []net.IP, found bool) {
	tabs := s.tables()
	own := tabs[s.network]
	if own == nil {
		return nil, nil, false
	}
	order := []*DNSTable{own}
	asker := ""
	for _, m := range own.Members {
		if src != nil && (src.Equal(net.ParseIP(m.IP)) || src.Equal(net.ParseIP(m.IP6))) {
			asker = m.ID
		}
	}
	for _, n := range slices.Sorted(maps.Keys(tabs)) {
		t := tabs[n]
		if t != own && asker != "" && slices.ContainsFunc(t.Members, func(m DNSMember) bool { return m.ID == asker }) {
			order = append(order, t)
		}
	}
	for _, t := range order {
		for _, m := range t.Members {
			if !slices.ContainsFunc(m.Names, func(n string) bool { return strings.EqualFold(n, name) }) {
				continue
			}
			if ip := net.ParseIP(m.IP); ip != nil {
				ip4 = append(ip4, ip)
			}
			if ip := net.ParseIP(m.IP6); ip != nil {
				ip6 = append(ip6, ip)
			}
			found = true
		}
		if found {
			return ip4, ip6, true
		}
	}
	return nil, nil, false
}

func (s *resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	var src net.IP
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		src = a.IP
	case *net.TCPAddr:
		src = a.IP
	}
	if len(req.Question) == 1 && req.Question[0].Qclass == dns.ClassINET {
		q := req.Question[0]
		name := strings.TrimSuffix(q.Name, ".")
		if ip4, ip6, ok := s.lookup(name, src); ok {
			w.WriteMsg(answer(req, q, ip4, ip6))
			return
		}
	}
	w.WriteMsg(s.forward(req, w.LocalAddr().Network()))
}

// answer is the reply for a member's name: its addresses of the asked
// type (none: an empty answer, the name exists).
func answer(req *dns.Msg, q dns.Question, ip4, ip6 []net.IP) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = true, true
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: dnsTTL}
	if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
		for _, ip := range ip4 {
			h := hdr
			h.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: h, A: ip.To4()})
		}
	}
	if q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY {
		for _, ip := range ip6 {
			h := hdr
			h.Rrtype = dns.TypeAAAA
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: h, AAAA: ip})
		}
	}
	return m
}

// forward asks the host's resolvers in turn; an internal network has
// none to ask (REFUSED).
func (s *resolver) forward(req *dns.Msg, proto string) *dns.Msg {
	fail := new(dns.Msg)
	fail.SetRcode(req, dns.RcodeServerFailure)
	if t := s.tables()[s.network]; t != nil && t.Internal {
		fail.Rcode = dns.RcodeRefused
		return fail
	}
	c := &dns.Client{Net: proto, Timeout: 3 * time.Second}
	if proto != "tcp" {
		c.Net = "udp"
	}
	for _, up := range s.upstreams {
		resp, _, err := c.Exchange(req, net.JoinHostPort(up, "53"))
		if err == nil && resp != nil {
			resp.Id = req.Id
			return resp
		}
	}
	return fail
}

// HostUpstreams are the nameservers of the host's resolv.conf (the
// resolver runs in the host's network namespace, so loopback ones work),
// else systemd-resolved's upstreams.
func HostUpstreams() []string {
	host, upstream := ReadHostResolv()
	ns, _ := parseResolv(host)
	if len(ns) == 0 {
		ns, _ = parseResolv(upstream)
	}
	return ns
}

// ServeNetworkDNS is the name server process of network name: it listens
// on addrs (port 53, UDP and TCP), writes "ok" (or why not) to ready and
// serves until SIGTERM or until the network's table is removed.
func ServeNetworkDNS(ipamDir, name string, addrs []string, ready *os.File) error {
	s := &resolver{dir: ipamDir, network: name, upstreams: HostUpstreams(), cache: map[string]cachedTable{}}
	var servers []*dns.Server
	stopAll := func() {
		for _, srv := range servers {
			srv.Shutdown()
		}
	}
	for _, a := range addrs {
		hp := net.JoinHostPort(a, "53")
		pc, err := net.ListenPacket("udp", hp)
		if err != nil {
			stopAll()
			fmt.Fprintf(ready, "listen udp %s: %v\n", hp, err)
			return err
		}
		l, err := net.Listen("tcp", hp)
		if err != nil {
			pc.Close()
			stopAll()
			fmt.Fprintf(ready, "listen tcp %s: %v\n", hp, err)
			return err
		}
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: s}, &dns.Server{Listener: l, Handler: s})
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.ActivateAndServe() }()
	}
	fmt.Fprintln(ready, "ok")
	ready.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-sig:
			stopAll()
			return nil
		case err := <-errc:
			stopAll()
			return err
		case <-tick.C:
			if _, err := os.Stat(DNSTablePath(ipamDir, name)); errors.Is(err, os.ErrNotExist) {
				stopAll()
				return nil
			}
		}
	}
}
