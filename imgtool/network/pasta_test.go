package network

import (
	"strings"
	"testing"
)

func TestPastaArgs(t *testing.T) {
	got := strings.Join(pastaArgs(nil), " ")
	if !strings.Contains(got, "-t none") || !strings.Contains(got, "-u none") || !strings.Contains(got, "-T none -U none") {
		t.Fatalf("no ports: %s", got)
	}
	got = strings.Join(pastaArgs([]PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {HostPort: 53, ContainerPort: 5353, Proto: "udp"}}), " ")
	if !strings.Contains(got, "-t 127.0.0.1/8080:80") || !strings.Contains(got, "-u 53:5353") || strings.Contains(got, "-t none") || strings.Contains(got, "-u none") {
		t.Fatalf("ports: %s", got)
	}
}
