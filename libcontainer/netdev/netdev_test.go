package netdev

import (
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCheck(t *testing.T) {
	if err := Check(map[string]rspec.LinuxNetDevice{"lo": {}}); err != nil {
		t.Error(err)
	}
	err := Check(map[string]rspec.LinuxNetDevice{"mrt-nope0": {}})
	if err == nil || !strings.Contains(err.Error(), "linux.netDevices.mrt-nope0: no such network device") {
		t.Errorf("missing device: %v", err)
	}
}

func TestRelabel(t *testing.T) {
	for _, c := range [][4]string{{"", "eth0", "x", ""}, {"eth0", "eth0", "ctr0", "ctr0"}, {"eth0:1", "eth0", "ctr0", "ctr0:1"}, {"other", "eth0", "c", "c"}} {
		if got := relabel(c[0], c[1], c[2]); got != c[3] {
			t.Errorf("relabel(%q, %q, %q) = %q, want %q", c[0], c[1], c[2], got, c[3])
		}
	}
}
