package network

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// FuzzParsePort: a -p value parses to a usable mapping (ports 1-65535,
// tcp or udp, an IPv4 host address or none) or to an error that quotes it;
// the canonical form of a mapping parses back to the same mapping.
func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"8080:80", "127.0.0.1:8080:80/udp", "0.0.0.0:1:65535", ":80", "80", "1:2:3:4",
		"[::1]:80:80", "8080:80/sctp", "65536:1", "0:1", "+1:1", "-1:1", "1.2.3.4.5:1:1", "::ffff:1.2.3.4:1:1", "1:1/", "/tcp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		pm, err := ParsePort(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("-p %q: ", spec)) {
				t.Fatalf("error does not quote the value: %v", err)
			}
			return
		}
		if pm.HostPort == 0 || pm.ContainerPort == 0 {
			t.Fatalf("%q: zero port accepted: %+v", spec, pm)
		}
		if pm.Proto != "tcp" && pm.Proto != "udp" {
			t.Fatalf("%q: protocol %q", spec, pm.Proto)
		}
		if pm.HostIP != "" {
			ip := net.ParseIP(pm.HostIP)
			if ip == nil || ip.To4() == nil || ip.IsUnspecified() {
				t.Fatalf("%q: host IP %q", spec, pm.HostIP)
			}
		}
		canon := fmt.Sprintf("%d:%d/%s", pm.HostPort, pm.ContainerPort, pm.Proto)
		if pm.HostIP != "" {
			canon = pm.HostIP + ":" + canon
		}
		again, err := ParsePort(canon)
		if err != nil || again != pm {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", spec, pm, canon, again, err)
		}
		if !Conflicts(pm, again) {
			t.Fatalf("a mapping does not conflict with itself: %+v", pm)
		}
	})
}
